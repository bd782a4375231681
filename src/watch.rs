//! File events for `hotreload.watch`, from the `notify` crate (inotify on Linux).
//!
//! `notify` runs its own event-loop thread and hands every event to [`Sink`],
//! which only records the changed paths in [`Shared`] and wakes the consumer:
//! no Python object and no GIL is ever touched on that thread. The Python side
//! calls [`FileWatcher::next_batch`] on its watcher thread; it sleeps on a
//! condition variable with the GIL released, so an idle watcher costs no CPU,
//! and returns a batch once the paths have been quiet for the debounce window,
//! which folds an editor's save (write a temporary file then rename, delete
//! then recreate, several writes) into one batch. [`FileWatcher::stop`] wakes
//! it at once and waits until `notify`'s thread has let go of everything.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{Event, EventHandler, RecommendedWatcher, RecursiveMode, Watcher};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

/// How long `stop()` waits for `notify`'s thread to drop its handler.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// What `next_batch` returns: changed paths (in the order first seen),
/// error messages from the watcher, and whether events were lost (the kernel
/// queue overflowed, so any watched file may have changed unseen).
type Batch = (Vec<OsString>, Vec<String>, bool);

#[derive(Default)]
struct State {
    paths: Vec<PathBuf>,
    seen: HashSet<PathBuf>,
    errors: Vec<String>,
    rescan: bool,
    /// When the oldest and the newest undelivered event arrived.
    first: Option<Instant>,
    last: Option<Instant>,
    stopped: bool,
    /// `notify`'s thread has dropped the [`Sink`]: nothing refers to us any more.
    sink_dropped: bool,
}

impl State {
    fn touch(&mut self, now: Instant) {
        self.first.get_or_insert(now);
        self.last = Some(now);
    }

    fn has_news(&self) -> bool {
        !self.paths.is_empty() || !self.errors.is_empty() || self.rescan
    }

    fn take(&mut self) -> Batch {
        self.seen.clear();
        self.first = None;
        self.last = None;
        let paths = std::mem::take(&mut self.paths)
            .into_iter()
            .map(PathBuf::into_os_string)
            .collect();
        (
            paths,
            std::mem::take(&mut self.errors),
            std::mem::take(&mut self.rescan),
        )
    }
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// File-name endings worth a batch (".py"): writes to logs, caches or
    /// bytecode in a watched tree never wake the Python side.
    suffixes: Vec<String>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` inconsistent in
        // a way that matters (it only holds queued paths), so poisoning is ignored.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sleeps until woken or `timeout` passes (`None`: until woken).
    fn wait<'a>(
        &self,
        state: MutexGuard<'a, State>,
        timeout: Option<Duration>,
    ) -> MutexGuard<'a, State> {
        match timeout {
            Some(timeout) => match self.wake.wait_timeout(state, timeout) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            },
            None => self
                .wake
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        }
    }

    fn wanted(&self, path: &Path) -> bool {
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
            return false;
        };
        // Emacs lock files (".#name.py") end in ".py" but are not sources.
        if name.starts_with(".#") || path.components().any(|c| c.as_os_str() == "__pycache__") {
            return false;
        }
        self.suffixes
            .iter()
            .any(|suffix| name.ends_with(suffix.as_str()))
    }
}

/// Whether an event can mean that a file's content changed. Opening, reading
/// and closing without writing are not: the reload itself opens the file.
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// The handler `notify` calls on its own thread.
struct Sink {
    shared: Arc<Shared>,
}

impl EventHandler for Sink {
    fn handle_event(&mut self, event: notify::Result<Event>) {
        let now = Instant::now();
        let mut state = self.shared.lock();
        if state.stopped {
            return;
        }
        match event {
            Ok(event) => {
                if event.need_rescan() {
                    state.rescan = true;
                    state.touch(now);
                }
                if !is_change(&event.kind) {
                    return;
                }
                let mut any = false;
                for path in event.paths {
                    if self.shared.wanted(&path) {
                        any = true;
                        if state.seen.insert(path.clone()) {
                            state.paths.push(path);
                        }
                    }
                }
                if !any {
                    return;
                }
                state.touch(now);
            }
            Err(error) => {
                state.errors.push(error.to_string());
                state.touch(now);
            }
        }
        drop(state);
        self.shared.wake.notify_all();
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.shared.lock().sink_dropped = true;
        self.shared.wake.notify_all();
    }
}

/// Watches directories (or files) and delivers debounced batches of changed paths.
///
/// `FileWatcher(debounce=0.03, max_delay=1.0, suffixes=(".py",))`: a batch is
/// ready once no event arrived for `debounce` seconds, or `max_delay` seconds
/// after its first event even if events keep coming.
#[pyclass(module = "hotreload._hotreload", frozen)]
pub struct FileWatcher {
    shared: Arc<Shared>,
    watcher: Mutex<Option<RecommendedWatcher>>,
    debounce: Duration,
    max_delay: Duration,
}

fn seconds(value: f64, what: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        PyValueError::new_err(format!(
            "{what} must be a non-negative number of seconds, not {value}"
        ))
    })
}

impl FileWatcher {
    fn with_watcher<T>(
        &self,
        py: Python<'_>,
        what: String,
        action: impl FnOnce(&mut RecommendedWatcher) -> notify::Result<T> + Send,
    ) -> PyResult<T>
    where
        T: Send,
    {
        // Adding a recursive watch walks the tree and waits for notify's
        // thread: let other Python threads run meanwhile.
        let result = py.detach(|| {
            let mut guard = self
                .watcher
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            guard.as_mut().map(action)
        });
        match result {
            None => Err(PyRuntimeError::new_err("the watcher is stopped")),
            Some(Ok(value)) => Ok(value),
            Some(Err(error)) => Err(PyOSError::new_err(format!("{what}: {error}"))),
        }
    }

    /// Waits (GIL released) for a ready batch, the deadline, or stop.
    fn wait_batch(&self, deadline: Option<Instant>) -> Option<Batch> {
        let mut state = self.shared.lock();
        loop {
            if state.stopped {
                return None;
            }
            let now = Instant::now();
            let ready_at = match (state.first, state.last) {
                (Some(first), Some(last)) if state.has_news() => {
                    Some((last + self.debounce).min(first + self.max_delay))
                }
                _ => None,
            };
            if ready_at.is_some_and(|at| now >= at) {
                return Some(state.take());
            }
            if deadline.is_some_and(|at| now >= at) {
                return Some((Vec::new(), Vec::new(), false));
            }
            let wake_at = match (ready_at, deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            state = self.shared.wait(state, wake_at.map(|at| at - now));
        }
    }
}

#[pymethods]
impl FileWatcher {
    #[new]
    #[pyo3(signature = (debounce = 0.03, max_delay = 1.0, suffixes = None))]
    fn new(debounce: f64, max_delay: f64, suffixes: Option<Vec<String>>) -> PyResult<Self> {
        let debounce = seconds(debounce, "debounce")?;
        let max_delay = seconds(max_delay, "max_delay")?.max(debounce);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            suffixes: suffixes.unwrap_or_else(|| vec![".py".to_owned()]),
        });
        let sink = Sink {
            shared: Arc::clone(&shared),
        };
        let watcher = RecommendedWatcher::new(sink, notify::Config::default())
            .map_err(|error| PyOSError::new_err(format!("cannot start a file watcher: {error}")))?;
        Ok(FileWatcher {
            shared,
            watcher: Mutex::new(Some(watcher)),
            debounce,
            max_delay,
        })
    }

    /// Starts watching `path`: a directory (with its subdirectories if
    /// `recursive`) or a single file. Raises OSError if it cannot be watched.
    #[pyo3(signature = (path, recursive = true))]
    fn watch(&self, py: Python<'_>, path: PathBuf, recursive: bool) -> PyResult<()> {
        let mode = if recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        let what = format!("cannot watch {}", path.display());
        self.with_watcher(py, what, |watcher| watcher.watch(&path, mode))
    }

    /// Stops watching `path` (as given to `watch`).
    fn unwatch(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let what = format!("cannot unwatch {}", path.display());
        self.with_watcher(py, what, |watcher| watcher.unwatch(&path))
    }

    /// Blocks, without holding the GIL, until a batch is ready and returns
    /// `(paths, errors, rescan)`; returns an empty batch when `timeout`
    /// seconds pass first (`None`: wait as long as it takes), and `None` once
    /// the watcher is stopped.
    #[pyo3(signature = (timeout = None))]
    fn next_batch(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Batch>> {
        let deadline = match timeout {
            Some(value) => Some(Instant::now() + seconds(value, "timeout")?),
            None => None,
        };
        Ok(py.detach(|| self.wait_batch(deadline)))
    }

    /// Stops watching: wakes `next_batch` (which returns `None`), closes the
    /// inotify handle and waits until `notify`'s thread has released its
    /// handler. Idempotent; callable from any thread.
    fn stop(&self, py: Python<'_>) {
        py.detach(|| {
            self.shared.lock().stopped = true;
            self.shared.wake.notify_all();
            let watcher = self
                .watcher
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take();
            // Dropping the watcher tells notify's thread to close inotify and exit.
            drop(watcher);
            let give_up = Instant::now() + STOP_GRACE;
            let mut state = self.shared.lock();
            while !state.sink_dropped {
                let now = Instant::now();
                if now >= give_up {
                    break;
                }
                state = self.shared.wait(state, Some(give_up - now));
            }
        });
    }

    /// True once `stop()` was called.
    #[getter]
    fn stopped(&self) -> bool {
        self.shared.lock().stopped
    }

    /// The debounce window, in seconds.
    #[getter]
    fn debounce(&self) -> f64 {
        self.debounce.as_secs_f64()
    }
}

impl Drop for FileWatcher {
    fn drop(&mut self) {
        // A watcher dropped without stop(): make notify's thread exit too.
        self.shared.lock().stopped = true;
        self.shared.wake.notify_all();
        if let Ok(mut watcher) = self.watcher.lock() {
            watcher.take();
        }
    }
}
