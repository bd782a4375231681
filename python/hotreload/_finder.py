"""(being written)"""


class ReloadFinder:
    pass


def install() -> None:
    raise NotImplementedError


def uninstall() -> None:
    raise NotImplementedError
