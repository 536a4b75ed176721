//! `Client`: one network thread and the caller-side state around it.
//!
//! Callers' threads validate and copy a request, mark its id live in the
//! request's event queue and queue it in the backlog the network thread
//! starts requests from. Polls and cancels meet in the queue
//! (`crate::queue`): a poll hands out only events of ids live there, an
//! `ended` event ends the id's life, and a cancel ends it too, under the
//! queue's small lock that the network thread never takes, so a cancel
//! racing a poll has exactly one winner.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Sender;

use crate::agent::{self, Command};
use crate::backlog::{Backlog, Limits};
use crate::dirs::{BaseDir, Dirs};
use crate::error::{Error, ErrorKind};
use crate::event::{failed, Event};
use crate::ffi::view::Sealed;
use crate::journal::Journal;
use crate::queue::{Batch, EventQueue, Queue, Queues};
use crate::request::{FilePath, Options, Request};
use crate::{lock, lossy_cstr};

/// An HTTP client with its own network thread. Every method may be called
/// from any thread.
pub struct Client {
    commands: Sender<Command>,
    /// Requests not started yet, shared with the network thread.
    backlog: Arc<Backlog>,
    waker: agent::Waker,
    /// The default event queue and those made with `create_queue`.
    queues: Arc<Queues>,
    next_id: AtomicU64,
    /// Shared with the network thread (it reads the caches folder).
    dirs: Arc<Mutex<Dirs>>,
    /// Persisted downloads (shared with the network thread).
    journal: Arc<Journal>,
    thread: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
}

impl Client {
    /// Starts a client and its network thread.
    pub fn new() -> Result<Client, Error> {
        let (commands, command_rx) = crossbeam_channel::unbounded();
        let queues = Arc::new(Queues::new());
        let backlog = Arc::new(Backlog::new(agent::DEFAULT_LIMITS));
        let dirs = Arc::new(Mutex::new(Dirs::default()));
        let journal = Arc::new(Journal::new(dirs.clone()));
        let shared = agent::Shared {
            backlog: backlog.clone(),
            queues: queues.clone(),
            dirs: dirs.clone(),
            journal: journal.clone(),
        };
        let (thread, waker) = agent::spawn(command_rx, shared).map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("cannot start the network thread: {e}"),
            )
        })?;
        Ok(Client {
            commands,
            backlog,
            waker,
            queues,
            next_id: AtomicU64::new(1),
            dirs,
            journal,
            thread: Mutex::new(Some(thread)),
            closed: AtomicBool::new(false),
        })
    }

    /// Starts a download of `url` into `filename` inside `base_dir`.
    /// Returns its id (never 0), or 0 after `shutdown` or when
    /// `opts.queue` was destroyed.
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
    /// Returns its id (never 0), or 0 as `download`.
    pub fn request(&self, url: &str, method: &str, opts: Options) -> u64 {
        self.submit(url, method, opts, None)
    }

    /// Allocates the id, then starts the request; whatever happens after
    /// the id exists (a panic too) ends in its one `ended` event.
    fn submit(
        &self,
        url: &str,
        method: &str,
        opts: Options,
        download: Option<(&str, BaseDir)>,
    ) -> u64 {
        let queue = self.queue_of(&opts);
        let user_data = opts.user_data;
        let Some(id) = self.new_id(&queue) else {
            return 0;
        };
        let started = catch_unwind(AssertUnwindSafe(|| {
            self.start(id, &queue, url, method, opts, download)
        }));
        if started.is_err() {
            let err = Error::new(
                ErrorKind::Internal,
                "netdl bug: a panic while starting the request",
            );
            let file = download.map(|(f, d)| FilePath::unresolved(f, d));
            queue.send_now(failed(id, user_data, lossy_cstr(url), file, err));
        }
        id
    }

    fn start(
        &self,
        id: u64,
        queue: &EventQueue,
        url: &str,
        method: &str,
        opts: Options,
        download: Option<(&str, BaseDir)>,
    ) {
        #[cfg(test)]
        if url.contains("netdl-test-panic-in-submit") {
            panic!("test: a panic while starting a request");
        }
        let user_data = opts.user_data;
        let built = {
            let dirs = lock(&self.dirs);
            Request::build(id, url, method, opts, download, &dirs)
        };
        match built {
            Ok(req) => {
                if req.extra().fetch.persist {
                    self.journal.put(id, &req, None);
                }
                self.enqueue(queue, req)
            }
            Err(err) => {
                let file = download.map(|(f, d)| FilePath::unresolved(f, d));
                queue.send_now(failed(id, user_data, lossy_cstr(url), file, err));
            }
        }
    }

    /// Queues a built request for the network thread.
    fn enqueue(&self, queue: &EventQueue, req: Request) {
        let (id, user_data, persist) = (req.id, req.user_data, req.extra().fetch.persist);
        match self.backlog.push(req) {
            Ok(()) => self.wake(),
            // The request comes back: report it.
            Err(req) => {
                if persist {
                    self.journal.remove(id);
                }
                let err = Error::new(ErrorKind::Internal, "the network thread has stopped");
                let file = req.file().cloned();
                queue.send_now(failed(id, user_data, req.url, file, err));
            }
        }
    }

    /// Reports a request that could not even be described (a NULL or
    /// non-UTF-8 argument from C): returns its id; its only event is an
    /// `ended` error, in `queue` (None: the default queue).
    pub fn reject(&self, queue: Option<&Queue>, user_data: usize, err: Error) -> u64 {
        let queue = queue.map_or(self.queues.default_queue(), |q| &q.0);
        let Some(id) = self.new_id(queue) else {
            return 0;
        };
        queue.send_now(failed(id, user_data, lossy_cstr(""), None, err));
        id
    }

    /// The queue a request's events go to.
    fn queue_of(&self, opts: &Options) -> Arc<EventQueue> {
        match &opts.queue {
            Some(q) => q.0.clone(),
            None => self.queues.default_queue().clone(),
        }
    }

    /// Allocates an id and marks it live in `queue`, unless the client is
    /// shut down or the queue destroyed.
    fn new_id(&self, queue: &EventQueue) -> Option<u64> {
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // A shutdown closes every queue after setting `closed`: an id
        // admitted before that is forgotten by it, and none after.
        queue.admit(id).then_some(id)
    }

    fn wake(&self) {
        self.waker.wake();
    }

    /// Cancels a request. True when it was still live (its `ended` event
    /// not yet handed out); from then on no event of `id` is delivered.
    /// False for unknown, finished or already cancelled ids.
    pub fn cancel(&self, id: u64) -> bool {
        let was_live = self.queues.any(|q| q.forget(id));
        if was_live {
            self.stop(id);
            self.wake();
        }
        was_live
    }

    /// Stops a request whose id is no longer live: a queued one is simply
    /// dropped from the backlog; one that left it is the network thread's
    /// to stop (the caller wakes it).
    fn stop(&self, id: u64) {
        if self.backlog.cancel(id) {
            self.journal.remove(id); // if it was persisted
        } else {
            let _ = self.commands.send(Command::Cancel(id));
        }
    }

    /// A new event queue; None after `shutdown`.
    pub fn create_queue(&self) -> Option<Queue> {
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        Some(Queue(self.queues.create()))
    }

    /// Destroys `queue`: its live requests are cancelled without an
    /// event, its pending events dropped, and the events its last C poll
    /// handed out freed. Requests started with it later get id 0. Other
    /// queues are not touched. The default queue cannot be destroyed.
    pub fn destroy_queue(&self, queue: &Queue) {
        let q = &queue.0;
        if Arc::ptr_eq(q, self.queues.default_queue()) {
            return;
        }
        self.queues.remove(q);
        let live = q.close();
        if !live.is_empty() {
            for id in live {
                self.stop(id);
            }
            self.wake();
        }
        q.release_held();
    }

    /// The wake-up fd of `queue` (None: the default queue): readable
    /// exactly while events wait in it, cleared by the poll that leaves it
    /// empty (`net_queue_event_fd`). Made on the first call, the same fd
    /// after; owned by the queue, closed by `destroy_queue` or `shutdown`.
    /// Fails after `shutdown` (`ESHUTDOWN`) or when the eventfd cannot be
    /// made.
    pub fn event_fd(&self, queue: Option<&Queue>) -> std::io::Result<std::os::fd::RawFd> {
        if self.closed.load(Ordering::Acquire) {
            return Err(std::io::Error::from_raw_os_error(libc::ESHUTDOWN));
        }
        queue
            .map_or(self.queues.default_queue(), |q| &q.0)
            .event_fd()
    }

    /// The C poll of `queue` (None: the default queue): see
    /// `EventQueue::poll_c`. The events the previous call handed out go
    /// back to the network thread to be freed there.
    pub(crate) fn poll_c(
        &self,
        queue: Option<&Queue>,
        max: usize,
        timeout: Option<Duration>,
        deliver: impl FnMut(usize, &Sealed),
    ) -> usize {
        let q = queue.map_or(self.queues.default_queue(), |q| &q.0);
        let recycle = |batch: Batch| {
            // If the thread is gone, the events are simply dropped here.
            if self
                .commands
                .send(Command::Recycle(batch, q.spare_home()))
                .is_ok()
            {
                self.waker.wake_if_asleep();
            }
        };
        q.poll_c(max, timeout, recycle, deliver)
    }

    /// Convenience for Rust callers: every pending event of the default
    /// queue.
    pub fn poll(&self) -> Vec<Event> {
        self.poll_queue(None)
    }

    /// Convenience for Rust callers: waits up to `timeout` for events of
    /// the default queue.
    pub fn wait(&self, timeout: Duration) -> Vec<Event> {
        self.wait_queue(None, timeout)
    }

    /// Every pending event of `queue` (None: the default queue).
    pub fn poll_queue(&self, queue: Option<&Queue>) -> Vec<Event> {
        self.wait_queue(queue, Duration::ZERO)
    }

    /// Waits up to `timeout` for events of `queue` (None: the default).
    pub fn wait_queue(&self, queue: Option<&Queue>, timeout: Duration) -> Vec<Event> {
        let q = queue.map_or(self.queues.default_queue(), |q| &q.0);
        let mut out = Vec::new();
        q.wait_into(&mut out, usize::MAX, timeout, |_, _| {});
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

    /// Pauses every transfer (`net_suspend`).
    pub fn suspend(&self) {
        self.send(Command::Suspend(true));
    }

    /// Ends `suspend` (`net_resume`).
    pub fn resume(&self) {
        self.send(Command::Suspend(false));
    }

    /// Caps all transfers together at `bytes_per_second` (0: no cap).
    pub fn set_max_speed(&self, bytes_per_second: u64) {
        self.send(Command::MaxSpeed(bytes_per_second));
    }

    /// Changes a queued or running request's priority: false when `id` is
    /// neither.
    pub fn set_priority(&self, id: u64, priority: i32) -> bool {
        if self.backlog.set_priority(id, priority) {
            return true;
        }
        if !self.queues.any(|q| q.is_live(id)) {
            return false;
        }
        self.send(Command::Priority(id, priority));
        true
    }

    /// Starts again the downloads of the journal no live process runs;
    /// returns how many (`net_restore`). Each one is recorded in this
    /// client's journal under its new id before the journal it came from
    /// is deleted; its first event, a `began`, is queued at once.
    pub fn restore(&self) -> usize {
        self.restore_to(None)
    }

    /// `restore` with the events going to `queue` (None: the default
    /// queue), `net_queue_restore`.
    pub fn restore_to(&self, queue: Option<&Queue>) -> usize {
        let queue = queue.map_or(self.queues.default_queue(), |q| &q.0).clone();
        let mut started = 0;
        let (found, adopted) = self.journal.adopt();
        for mut r in found {
            let Some(id) = self.new_id(&queue) else {
                // Shut down, or the queue destroyed: the journals stay for
                // a later restore.
                return started;
            };
            let kept = r.kept.take();
            r.opts.queue = Some(Queue(queue.clone()));
            let tag = r.opts.fetch.tag.clone();
            let built = {
                let dirs = lock(&self.dirs);
                let download = Some((r.filename.as_str(), r.base_dir));
                Request::build(id, &r.url, &r.method, r.opts, download, &dirs)
            };
            let mut req = match built {
                Ok(req) => req,
                Err(err) => {
                    // A record this netdl wrote is valid: only a changed
                    // folder setting (or an altered journal) gets here.
                    // Its `began` and `ended` carry the flag and tag, so
                    // the app can tell which download failed; its data
                    // (a path read from the record) is left alone.
                    let file = Some(FilePath::unresolved(&r.filename, r.base_dir));
                    let mut end = failed(id, 0, lossy_cstr(&r.url), file, err);
                    (end.flags, end.tag) = (crate::event::flags::RESTORED, tag);
                    let began = Event {
                        phase: crate::event::Phase::Began,
                        error: None,
                        ..end.clone()
                    };
                    queue.send_now(began);
                    queue.send_now(end);
                    started += 1;
                    continue;
                }
            };
            let kept = crate::journal::usable(kept, req.file().and_then(|f| f.path()));
            // In this client's journal before the adopted one goes.
            self.journal.put(id, &req, kept.as_ref());
            queue.send_now(crate::event::restored(&req, kept.as_ref()));
            if let Some(extra) = req.extra.as_mut() {
                extra.kept = kept;
            }
            self.enqueue(&queue, req);
            started += 1;
        }
        self.journal.retire(adopted);
        started
    }

    /// Sends a command to the network thread and wakes it.
    fn send(&self, cmd: Command) {
        if !self.is_shut_down() {
            let _ = self.commands.send(cmd);
            self.wake();
        }
    }

    pub fn is_shut_down(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Stops every transfer (deleting temporary files), joins the network
    /// thread and drops every pending event and every event a C poll
    /// handed out. Later calls return 0/false.
    pub fn shutdown(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        for q in self.queues.all() {
            q.close();
        }
        let _ = self.commands.send(Command::Shutdown);
        self.wake();
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
        // The network thread recorded the persisted downloads it stopped.
        self.journal.close();
        for q in self.queues.all() {
            q.close(); // what the thread sent before it stopped
            q.release_held();
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("queues", &self.queues.all().len())
            .field("closed", &self.is_shut_down())
            .finish_non_exhaustive()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Phase;

    /// Rule: a panic while starting a request, after its id was allocated,
    /// still returns the id, which ends with NET_ERROR_INTERNAL (in the
    /// request's own queue) and is not live afterwards.
    #[test]
    fn panic_after_the_id_ends_it_with_internal() {
        let client = Client::new().unwrap();
        let q = client.create_queue().unwrap();
        let opts = Options {
            queue: Some(q.clone()),
            ..Options::default()
        };
        let id = client.request("http://127.0.0.1:9/netdl-test-panic-in-submit", "GET", opts);
        assert_ne!(id, 0);
        let evs = client.wait_queue(Some(&q), Duration::from_secs(5));
        assert_eq!(evs.len(), 1, "{evs:?}");
        assert_eq!((evs[0].id, evs[0].phase), (id, Phase::Ended));
        assert_eq!(evs[0].error.as_ref().unwrap().kind, ErrorKind::Internal);
        assert!(!client.cancel(id), "the id is over");
        assert!(client.poll().is_empty());
    }
}
