//! `Client`: one network thread and the caller-side state around it.
//!
//! Callers' threads validate and copy a request, mark its id live and queue
//! it in the backlog the network thread starts requests from. `poll`
//! drains the event channel and hands out only events of live ids; an
//! `ended` event ends the id's life. `cancel` ends it too. Both decide
//! under one small lock (`inbox`) that the network thread never takes, so
//! a cancel racing a poll has exactly one winner.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::agent::{self, Command};
use crate::backlog::{Backlog, Limits};
use crate::dirs::{BaseDir, Dirs};
use crate::error::{Error, ErrorKind};
use crate::event::{Event, Phase};
use crate::ffi::view::{Batch, EventRx, EventTx, Queue, Sealed};
use crate::live::LiveIds;
use crate::request::{FilePath, Options, Request};
use crate::{lock, lossy_cstr};

/// An HTTP client with its own network thread. Every method may be called
/// from any thread.
pub struct Client {
    commands: Sender<Command>,
    /// Requests not started yet, shared with the network thread.
    backlog: Arc<Backlog>,
    waker: agent::Waker,
    events: EventRx,
    /// For events of requests rejected before reaching the network thread.
    event_tx: EventTx,
    inbox: Mutex<Inbox>,
    /// `inbox.pending` is not empty (read without the lock by `poll`).
    has_pending: AtomicBool,
    next_id: AtomicU64,
    dirs: Mutex<Dirs>,
    thread: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
}

impl Client {
    /// Starts a client and its network thread.
    pub fn new() -> Result<Client, Error> {
        let (commands, command_rx) = crossbeam_channel::unbounded();
        let (event_tx, event_rx) = crate::ffi::view::channel();
        let backlog = Arc::new(Backlog::new(agent::DEFAULT_LIMITS));
        let (thread, waker) =
            agent::spawn(command_rx, backlog.clone(), event_tx.clone()).map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("cannot start the network thread: {e}"),
                )
            })?;
        Ok(Client {
            commands,
            backlog,
            waker,
            events: event_rx,
            event_tx,
            inbox: Mutex::default(),
            has_pending: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
            dirs: Mutex::new(Dirs::default()),
            thread: Mutex::new(Some(thread)),
            closed: AtomicBool::new(false),
        })
    }

    /// Starts a download of `url` into `filename` inside `base_dir`.
    /// Returns its id (never 0), or 0 after `shutdown`.
    pub fn download(
        &self,
        url: &str,
        method: &str,
        opts: Options,
        filename: &str,
        base_dir: BaseDir,
    ) -> u64 {
        self.submit(url, method, opts, Some((filename, base_dir)))
    }

    /// Starts a request whose response body is kept in memory.
    /// Returns its id (never 0), or 0 after `shutdown`.
    pub fn request(&self, url: &str, method: &str, opts: Options) -> u64 {
        self.submit(url, method, opts, None)
    }

    fn submit(
        &self,
        url: &str,
        method: &str,
        opts: Options,
        download: Option<(&str, BaseDir)>,
    ) -> u64 {
        let user_data = opts.user_data;
        let Some(id) = self.new_id() else { return 0 };
        let built = {
            let dirs = lock(&self.dirs);
            Request::build(id, url, method, opts, download, &dirs)
        };
        match built {
            Ok(req) => match self.backlog.push(req) {
                Ok(()) => self.wake(),
                // The request comes back: report it.
                Err(req) => {
                    let err = Error::new(ErrorKind::Internal, "the network thread has stopped");
                    let file = req.file().cloned();
                    self.send_event(crate::event::failed(id, user_data, req.url, file, err));
                }
            },
            Err(err) => {
                let file = download.map(|(f, d)| FilePath::unresolved(f, d));
                let ev = crate::event::failed(id, user_data, lossy_cstr(url), file, err);
                self.send_event(ev);
            }
        }
        id
    }

    /// Reports a request that could not even be described (a NULL or
    /// non-UTF-8 argument from C): returns its id; its only event is an
    /// `ended` error.
    pub fn reject(&self, user_data: usize, err: Error) -> u64 {
        let Some(id) = self.new_id() else { return 0 };
        self.send_event(crate::event::failed(
            id,
            user_data,
            lossy_cstr(""),
            None,
            err,
        ));
        id
    }

    /// Allocates an id and marks it live, unless the client is shut down.
    fn new_id(&self) -> Option<u64> {
        let mut inbox = lock(&self.inbox);
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        inbox.live.insert(id);
        Some(id)
    }

    fn send_event(&self, ev: Event) {
        self.event_tx.send_now(ev);
    }

    fn wake(&self) {
        self.waker.wake();
    }

    /// Cancels a request. True when it was still live (its `ended` event
    /// not yet handed out); from then on no event of `id` is delivered.
    /// False for unknown, finished or already cancelled ids.
    pub fn cancel(&self, id: u64) -> bool {
        let was_live = { lock(&self.inbox).live.remove(id) };
        // A queued request is simply dropped from the backlog; one that left
        // it is the network thread's to stop.
        if was_live && !self.backlog.cancel(id) && self.commands.send(Command::Cancel(id)).is_ok() {
            self.wake();
        }
        was_live
    }

    /// Moves up to `max` events into `out` without blocking; returns how
    /// many were added. `deliver(i, ev)` sees each one as it is added (the
    /// `i`-th of this call), while it is still in cache: the C layer copies
    /// its view out there rather than in a second pass.
    pub(crate) fn poll_into(
        &self,
        out: &mut Batch,
        max: usize,
        mut deliver: impl FnMut(usize, &Sealed),
    ) -> usize {
        if max == 0 || (!self.events.ready() && !self.has_pending.load(Ordering::Acquire)) {
            return 0;
        }
        let mut guard = lock(&self.inbox);
        let inbox = &mut *guard;
        if inbox.pending.is_empty() {
            self.events.take(&mut inbox.pending);
        }
        let first = out.len();
        out.reserve(max.min(inbox.pending.len()));
        while out.len() - first < max {
            // Start loading an event a few places ahead: the one written
            // last on another core is rarely in this core's cache.
            if let Some(ahead) = inbox.pending.get(PREFETCH_AHEAD) {
                ahead.prefetch();
            }
            let Some(mut ev) = inbox.pending.pop_front() else {
                break;
            };
            if accept(&mut inbox.live, &mut ev) {
                deliver(out.len() - first, &ev);
                out.push(ev);
            }
        }
        if inbox.pending.is_empty() && inbox.pending.capacity() > 4096 {
            inbox.pending = Queue::new(); // after a burst
        }
        self.has_pending
            .store(!inbox.pending.is_empty(), Ordering::Release);
        out.len() - first
    }

    /// Like `poll_into`, but waits up to `timeout` for the first event.
    pub(crate) fn wait_into(
        &self,
        out: &mut Batch,
        max: usize,
        timeout: Duration,
        mut deliver: impl FnMut(usize, &Sealed),
    ) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let n = self.poll_into(out, max, &mut deliver);
            let left = deadline.saturating_duration_since(Instant::now());
            if n > 0 || max == 0 || left.is_zero() {
                return n;
            }
            // Waits without holding `inbox`: a cancel must never wait on us.
            self.events.wait(left);
        }
    }

    /// Hands delivered events back to the network thread, which frees them
    /// (off the caller's thread, which is the game's) and, once idle, gives
    /// the memory back to the system.
    pub(crate) fn recycle(&self, events: Batch) {
        if !events.is_empty() {
            // If the thread is gone, the events are simply dropped here.
            if self.commands.send(Command::Recycle(events)).is_ok() {
                self.waker.wake_if_asleep();
            }
        }
    }

    /// An empty batch to poll into: one the network thread handed back
    /// (no allocation), else a new one.
    pub(crate) fn spare_batch(&self) -> Batch {
        self.events.spare_batch()
    }

    /// Convenience for Rust callers: every pending event.
    pub fn poll(&self) -> Vec<Event> {
        let mut out = Vec::new();
        self.poll_into(&mut out, usize::MAX, |_, _| {});
        out.into_iter().map(|s| s.into_event()).collect()
    }

    /// Convenience for Rust callers: waits up to `timeout` for events.
    pub fn wait(&self, timeout: Duration) -> Vec<Event> {
        let mut out = Vec::new();
        self.wait_into(&mut out, usize::MAX, timeout, |_, _| {});
        out.into_iter().map(|s| s.into_event()).collect()
    }

    pub fn set_directory(&self, dir: BaseDir, path: &Path) -> Result<(), Error> {
        lock(&self.dirs).set(dir, path)
    }

    pub fn set_app_name(&self, name: &str) -> Result<(), Error> {
        lock(&self.dirs).set_app_name(name)
    }

    /// Where `dir` currently resolves to.
    pub fn directory(&self, dir: BaseDir) -> Result<std::path::PathBuf, Error> {
        lock(&self.dirs).path(dir)
    }

    /// At most `transfers` requests run at once (the rest wait in the
    /// queue) and at most `per_host` connections go to one host.
    pub fn set_limits(&self, transfers: usize, per_host: usize) -> Result<(), Error> {
        if transfers == 0 || per_host == 0 {
            return Err(Error::invalid("limits must be at least 1"));
        }
        if !self.backlog.set_limits(Limits {
            transfers,
            per_host,
        }) {
            return Err(Error::new(
                ErrorKind::Internal,
                "the network thread has stopped",
            ));
        }
        self.wake();
        Ok(())
    }

    pub fn is_shut_down(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Stops every transfer (deleting temporary files), joins the network
    /// thread and drops every pending event. Later calls return 0/false.
    pub fn shutdown(&self) {
        {
            let mut inbox = lock(&self.inbox);
            if self.closed.swap(true, Ordering::AcqRel) {
                return;
            }
            inbox.live.clear();
            inbox.pending.clear();
        }
        let _ = self.commands.send(Command::Shutdown);
        self.wake();
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
        self.events.take(&mut Queue::new());
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("live", &lock(&self.inbox).live.len())
            .field("closed", &self.is_shut_down())
            .finish_non_exhaustive()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// How far ahead of the event it looks at `poll` prefetches: far enough
/// to hide a memory access, near enough to stay within the CPU's few
/// outstanding loads.
const PREFETCH_AHEAD: usize = 8;

/// What `poll` and `cancel` decide under one lock.
#[derive(Debug, Default)]
struct Inbox {
    live: LiveIds,
    /// Events taken from the channel but not handed out yet (more than
    /// the caller's capacity).
    pending: Queue,
}

/// Decides whether an event is delivered: only for live ids; `ended`
/// ends the id's life; a progress event picks up the latest byte count.
fn accept(live: &mut LiveIds, ev: &mut Sealed) -> bool {
    // Only progress events are written to (the rest stay shared-clean
    // in the cache).
    if ev.progress.is_some() {
        if let Some(slot) = ev.progress.take() {
            ev.set_transferred(slot.release());
        }
    }
    // Read from the C view: the first cache lines of the event.
    let (id, phase) = (ev.c().id, ev.c().phase);
    if phase == Phase::Ended as u32 {
        live.remove(id)
    } else {
        live.contains(id)
    }
}
