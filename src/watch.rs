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
//!
//! A watched directory that is deleted (or moved away) and created again
//! (`git checkout`, `rsync --delete`, some editors) takes its inotify watch
//! with it. The sink notices, and while a directory is missing the waiting
//! thread looks for it again every [`RETRY`] (the only time it polls); once it
//! is back it is watched again and every source file in it is reported as
//! changed, since saves made in between raised no event. A directory still
//! missing after [`LOST_GRACE`], or one that cannot be watched again, is
//! reported in the batch's errors. New directories inside a watched tree are
//! scanned the same way: a file saved into one before `notify` has added its
//! watch is reported too.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind, RenameMode};
use notify::{Event, EventHandler, RecommendedWatcher, RecursiveMode, Watcher};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

/// How long `stop()` waits for `notify`'s thread to drop its handler.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// How often a deleted watched directory is looked for, at first and later.
const RETRY: Duration = Duration::from_millis(50);
const SLOW_RETRY: Duration = Duration::from_millis(500);
/// How long a watched directory may be missing before it is reported.
const LOST_GRACE: Duration = Duration::from_secs(1);
/// At most this many directories are read when scanning a recreated tree.
const SCAN_LIMIT: usize = 10_000;

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
    /// What `watch()` was asked to watch: (path, recursive).
    roots: Vec<(PathBuf, bool)>,
    /// Roots whose watch went away with the directory, to be watched again.
    lost: Vec<Lost>,
    /// Directories whose source files are all to be reported: (path, recursive).
    scans: Vec<(PathBuf, bool)>,
}

/// A watched root that disappeared.
#[derive(Clone)]
struct Lost {
    path: PathBuf,
    recursive: bool,
    since: Instant,
    /// When to look for it next.
    retry_at: Instant,
    /// The last problem reported for it, so that each is reported once.
    reported: Option<String>,
}

impl State {
    fn touch(&mut self, now: Instant) {
        self.first.get_or_insert(now);
        self.last = Some(now);
    }

    fn has_news(&self) -> bool {
        !self.paths.is_empty() || !self.errors.is_empty() || self.rescan || !self.scans.is_empty()
    }

    fn add_path(&mut self, path: PathBuf) {
        if self.seen.insert(path.clone()) {
            self.paths.push(path);
        }
    }

    /// Notes that the watch of `path` went away with it, if it is a root.
    fn root_gone(&mut self, path: &Path, now: Instant) -> bool {
        let Some(&(_, recursive)) = self.roots.iter().find(|(root, _)| root == path) else {
            return false;
        };
        if self.lost.iter().all(|lost| lost.path != path) {
            self.lost.push(Lost {
                path: path.to_owned(),
                recursive,
                since: now,
                retry_at: now,
                reported: None,
            });
        }
        true
    }

    /// Notes a directory that appeared inside a recursive root: its files are reported.
    fn dir_appeared(&mut self, path: &Path) -> bool {
        let inside = self
            .roots
            .iter()
            .any(|(root, recursive)| *recursive && path.starts_with(root) && path != root);
        if inside && path.is_dir() {
            self.scans.push((path.to_owned(), true));
        }
        inside
    }

    /// The ready batch, and the directories whose files are still to be added to it.
    fn take(&mut self) -> (Batch, Vec<(PathBuf, bool)>) {
        self.seen.clear();
        self.first = None;
        self.last = None;
        let paths = std::mem::take(&mut self.paths)
            .into_iter()
            .map(PathBuf::into_os_string)
            .collect();
        let batch = (
            paths,
            std::mem::take(&mut self.errors),
            std::mem::take(&mut self.rescan),
        );
        (batch, std::mem::take(&mut self.scans))
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

    /// The wanted files under each of `dirs` (read without the lock held).
    fn scan(&self, dirs: Vec<(PathBuf, bool)>) -> Vec<OsString> {
        let mut found = Vec::new();
        let mut pending = dirs;
        let mut budget = SCAN_LIMIT;
        while let Some((dir, recursive)) = pending.pop() {
            if budget == 0 {
                break;
            }
            budget -= 1;
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                // Not through symbolic links: a link back up would loop.
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    if recursive {
                        pending.push((path, true));
                    }
                } else if self.wanted(&path) {
                    found.push(path.into_os_string());
                }
            }
        }
        found
    }
}

/// Whether an event can mean that a directory went away: deleted, or renamed.
fn is_gone(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Remove(_)
            | EventKind::Modify(ModifyKind::Name(RenameMode::From | RenameMode::Any))
    )
}

/// Whether an event can mean that a directory appeared: created, or renamed into place.
fn is_arrival(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Create(_)
            | EventKind::Modify(ModifyKind::Name(
                RenameMode::To | RenameMode::Both | RenameMode::Any
            ))
    )
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
                let gone = is_gone(&event.kind);
                let arrival = is_arrival(&event.kind);
                let mut any = false;
                for path in event.paths {
                    if self.shared.wanted(&path) {
                        any = true;
                        state.add_path(path);
                    } else if (gone && state.root_gone(&path, now))
                        || (arrival && state.dir_appeared(&path))
                    {
                        any = true;
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
            if state.lost.iter().any(|lost| now >= lost.retry_at) {
                drop(state);
                self.look_for_lost_roots(now);
                state = self.shared.lock();
                continue;
            }
            let ready_at = match (state.first, state.last) {
                (Some(first), Some(last)) if state.has_news() => {
                    Some((last + self.debounce).min(first + self.max_delay))
                }
                _ => None,
            };
            if ready_at.is_some_and(|at| now >= at) {
                let ((mut paths, errors, rescan), scans) = state.take();
                drop(state);
                // Files in a directory that (re)appeared: saved before its watch existed.
                for path in self.shared.scan(scans) {
                    if !paths.contains(&path) {
                        paths.push(path);
                    }
                }
                return Some((paths, errors, rescan));
            }
            if deadline.is_some_and(|at| now >= at) {
                return Some((Vec::new(), Vec::new(), false));
            }
            let retry_at = state.lost.iter().map(|lost| lost.retry_at).min();
            let wake_at = [ready_at, deadline, retry_at].into_iter().flatten().min();
            state = self.shared.wait(state, wake_at.map(|at| at - now));
        }
    }

    /// Watches again each lost root that exists again; reports one still missing
    /// after the grace period, or one that cannot be watched. Called without the
    /// state lock: `notify`'s thread may need it to answer.
    fn look_for_lost_roots(&self, now: Instant) {
        let due: Vec<Lost> = self
            .shared
            .lock()
            .lost
            .iter()
            .filter(|lost| now >= lost.retry_at)
            .cloned()
            .collect();
        let mut outcomes = Vec::with_capacity(due.len());
        {
            let mut guard = self
                .watcher
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let Some(watcher) = guard.as_mut() else {
                return; // stopped meanwhile
            };
            for lost in &due {
                // A root moved away is still watched under its old name: drop that.
                let _ = watcher.unwatch(&lost.path);
                let outcome = if lost.path.is_dir() {
                    watcher
                        .watch(&lost.path, mode(lost.recursive))
                        .map_err(|error| {
                            format!("cannot watch {} again: {error}", lost.path.display())
                        })
                } else if now.duration_since(lost.since) >= LOST_GRACE {
                    Err(format!(
                        "{} was deleted or moved: its files are not watched until it is back",
                        lost.path.display()
                    ))
                } else {
                    Err(String::new()) // missing, within the grace period: quietly look again
                };
                outcomes.push(outcome);
            }
        }
        let mut state = self.shared.lock();
        let mut news = false;
        for (lost, outcome) in due.into_iter().zip(outcomes) {
            let Some(index) = state.lost.iter().position(|l| l.path == lost.path) else {
                continue;
            };
            match outcome {
                Ok(()) => {
                    state.lost.remove(index);
                    state.scans.push((lost.path, lost.recursive));
                    news = true;
                }
                Err(problem) => {
                    let entry = &mut state.lost[index];
                    let slow = now.duration_since(entry.since) >= 2 * LOST_GRACE;
                    entry.retry_at = now + if slow { SLOW_RETRY } else { RETRY };
                    if !problem.is_empty() && entry.reported.as_deref() != Some(problem.as_str()) {
                        entry.reported = Some(problem.clone());
                        state.errors.push(problem);
                        news = true;
                    }
                }
            }
        }
        if news {
            state.touch(now);
        }
    }
}

fn mode(recursive: bool) -> RecursiveMode {
    if recursive {
        RecursiveMode::Recursive
    } else {
        RecursiveMode::NonRecursive
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
        let what = format!("cannot watch {}", path.display());
        let watched = path.clone();
        self.with_watcher(py, what, move |watcher| {
            watcher.watch(&watched, mode(recursive))
        })?;
        let mut state = self.shared.lock();
        state.roots.retain(|(root, _)| *root != path);
        state.roots.push((path, recursive));
        Ok(())
    }

    /// Stops watching `path` (as given to `watch`).
    fn unwatch(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        {
            let mut state = self.shared.lock();
            state.roots.retain(|(root, _)| *root != path);
            state.lost.retain(|lost| lost.path != path);
        }
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
