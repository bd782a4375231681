"""App sources that more than one test file writes as a user would."""

FLASK_BLUEPRINT_APP = """
from flask import Blueprint, Flask

app = Flask(__name__)
pages = Blueprint("pages", __name__)

@pages.route("/about")
def about():
    return "about v1"

app.register_blueprint(pages, url_prefix="/pages")

@app.route("/items")
def items():
    return "items v1"
"""
