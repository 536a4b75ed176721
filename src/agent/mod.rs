//! The network thread: one libcurl multi handle and the loop that drives
//! it, starting requests from the `Backlog` as transfer slots free up.
//!
//! The thread sleeps in `curl_multi_poll` and is woken by
//! `curl_multi_wakeup` when a command or request arrives; with nothing in
//! flight it has no timer at all. It never touches a lock that `poll`
//! takes; the backlog's lock, which submitting and cancelling take too, it
//! holds only to decode the few requests it starts at a time.
//!
//! It never trims the process heap (`malloc_trim`): that walks every
//! arena, the host's too, holding each one's lock meanwhile (tens of
//! milliseconds on a large fragmented heap, a visible hitch for a game
//! thread that allocates then). What glibc keeps after a burst (1.7 to
//! 1.9 MiB after 10,000 downloads in `bench/run`) a host can hand back
//! itself with `malloc_trim(0)`, at a moment it chooses.
//!
//! Its parts: `transfer` (one easy handle: its options and callbacks),
//! `headers` (the header callback's lines), `decode` (gzip and deflate),
//! `sink` (where a body goes), `attempt` (retries, resume and mirrors:
//! what happens between two attempts), `segments` (one download over
//! several connections), `partial` (data kept after a failure) and `saved`
//! (the validators of files saved with `if_changed`).

mod attempt;
mod decode;
mod headers;
mod pace;
mod partial;
pub(crate) mod record;
mod saved;
mod segments;
mod sink;
mod transfer;

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use curl::easy::Easy2;
use curl::multi::{Easy2Handle, Multi, MultiWaker};

pub(crate) use partial::{data_path as partial_data_path, Kept};

use crate::backlog::{Backlog, Limits};
use crate::dirs::{BaseDir, Dirs};
use crate::error::{Error, ErrorKind};
use crate::event::Phase;
use crate::journal::Journal;
use crate::lock;
use crate::queue::{Batch, EventTx, Queues};
use crate::request::FilePath;
use attempt::Step;
use sink::Sink;
use transfer::Transfer;

/// Default number of transfers running at once.
pub const DEFAULT_MAX_TRANSFERS: usize = 64;
/// Default number of connections to one host (HTTP/2 multiplexes many
/// transfers over one).
pub const DEFAULT_MAX_PER_HOST: usize = 64;
pub const DEFAULT_LIMITS: Limits = Limits {
    transfers: DEFAULT_MAX_TRANSFERS,
    per_host: DEFAULT_MAX_PER_HOST,
};
/// Longest sleep with nothing to do; only a command ends it earlier.
const IDLE_WAIT: Duration = Duration::from_secs(3600);
/// After the last transfer ended, how long the thread stays ready to free
/// the events `poll` hands back (without being woken for them) before it
/// sleeps for good.
const LINGER: Duration = Duration::from_millis(250);

/// What callers' threads ask of the network thread.
pub enum Command {
    /// Stop a request that left the backlog (running, or ended with its
    /// event not yet handed out).
    Cancel(u64),
    /// Events a C poll already handed out, to be freed here: this thread
    /// allocated them, and freeing them here keeps the host's `net_poll`
    /// short. The emptied batch goes back to its queue through the sender.
    Recycle(Batch, crossbeam_channel::Sender<Batch>),
    Shutdown,
    /// `net_suspend` (true) and `net_resume` (false).
    Suspend(bool),
    /// `net_set_max_speed`: bytes per second for all transfers (0: none).
    MaxSpeed(u64),
    /// `net_set_priority` of a request that left the backlog.
    Priority(u64, i32),
    /// Unit tests only: make the loop panic.
    #[cfg(test)]
    Panic,
}

/// Interrupts the network thread's sleep after a command was sent.
///
/// A burst of commands (10,000 `net_download` calls in a row) costs one
/// wake-up, not one system call each: a wake-up is only sent when none is
/// pending since the thread last looked at its commands.
pub struct Waker {
    multi: MultiWaker,
    flags: Arc<Flags>,
}

/// What the network thread and its callers share besides channels.
#[derive(Debug, Default)]
struct Flags {
    /// A wake-up was sent and the thread has not read its commands since.
    wake_pending: AtomicBool,
    /// The thread sleeps with nothing to do and no timer.
    asleep: AtomicBool,
}

impl Waker {
    /// Call after sending a command.
    pub fn wake(&self) {
        // Pairs with the swap in `Agent::run`: either the thread clears
        // the flag after our command was queued (and then sees it), or we
        // see the flag clear and wake it.
        if !self.flags.wake_pending.swap(true, Ordering::SeqCst) {
            // Fails only once the network thread has gone, when nobody waits.
            let _ = self.multi.wakeup();
        }
    }

    /// Call after sending a command that may wait for the thread's next
    /// turn (events to free): wakes it only when it sleeps for good, so
    /// `net_poll` makes no system call while the thread is busy or lingers.
    pub fn wake_if_asleep(&self) {
        // Pairs with the fence in `Agent::sleep`: either the thread sees
        // our command before sleeping, or we see it asleep.
        fence(Ordering::SeqCst);
        if self.flags.asleep.load(Ordering::SeqCst) {
            self.wake();
        }
    }
}

impl std::fmt::Debug for Waker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waker").finish_non_exhaustive()
    }
}

/// Starts the network thread; returns its handle and the waker that
/// interrupts its sleep.
pub fn spawn(
    commands: Receiver<Command>,
    shared: Shared,
) -> std::io::Result<(std::thread::JoinHandle<()>, Waker)> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let flags = Arc::new(Flags::default());
    let agent_flags = flags.clone();
    let thread = std::thread::Builder::new()
        .name("netdl-agent".into())
        .spawn(move || {
            let mut agent = Agent::new(commands, shared, agent_flags);
            let _ = tx.send(agent.multi.waker());
            drop(tx);
            agent.run_guarded();
        })?;
    let multi = rx
        .recv()
        .map_err(|_| std::io::Error::other("the network thread failed to start"))?;
    Ok((thread, Waker { multi, flags }))
}

/// What the network thread shares with the client.
pub struct Shared {
    /// Requests not started yet (callers push, the thread pops).
    pub backlog: Arc<Backlog>,
    /// Where requests' events go.
    pub queues: Arc<Queues>,
    /// The base directories (the caches folder, for kept partial data).
    pub dirs: Arc<Mutex<Dirs>>,
    /// Persisted downloads' records.
    pub journal: Arc<Journal>,
}

/// A request between two attempts (`Agent::waiting`).
struct Waiting {
    id: u64,
    /// When its next attempt may start.
    due: Instant,
    /// Configured for that attempt; its data stays in its sink.
    easy: Easy2<Transfer>,
}

struct Agent {
    multi: Multi,
    commands: Receiver<Command>,
    /// Shared with `Waker`.
    flags: Arc<Flags>,
    /// Where requests' events go, found by the number a request carries.
    queues: Arc<Queues>,
    /// The thread's outbox (sending to the default queue; `to` gives the
    /// same outbox for another queue).
    events: EventTx,
    /// Requests not started yet (callers push, this thread pops).
    backlog: Arc<Backlog>,
    running: HashMap<u64, Easy2Handle<Transfer>>,
    /// Requests between two attempts: each waits until its time, then for
    /// a free transfer slot (before any request of the backlog). They hold
    /// no slot and no connection meanwhile.
    waiting: Vec<Waiting>,
    /// Segmented downloads whose own transfer stopped while helpers fetch
    /// the other segments (`segments`), by request id.
    parked: HashMap<u64, Easy2<Transfer>>,
    /// The number in the next helper's token.
    next_helper: u64,
    /// Easy handles of ended transfers, reused by the next ones (at most
    /// the transfer limit; dropped once idle).
    spare: Vec<Easy2<Transfer>>,
    /// The limits last read from the backlog.
    limits: Limits,
    /// Work was done (or events came back) since the thread last went
    /// idle.
    busy: bool,
    /// Idle for less than `LINGER`: events may still come back to be freed.
    lingering: bool,
    /// Folders downloads already made (so each file costs no extra stat).
    known_dirs: HashSet<Vec<u8>>,
    /// Shutdown was asked for: after a panic, stop instead of carrying on.
    stopping: bool,
    /// The client's base directories (the caches folder, for `partials`).
    dirs: Arc<Mutex<Dirs>>,
    /// Partial data kept by failed downloads, found with the first one.
    partials: partial::Partials,
    /// Bandwidth caps.
    pace: pace::Pace,
    /// `net_suspend`: nothing runs.
    suspended: bool,
    /// Where persisted downloads are recorded.
    journal: Arc<Journal>,
}

impl Agent {
    fn new(commands: Receiver<Command>, shared: Shared, flags: Arc<Flags>) -> Agent {
        let Shared {
            backlog,
            queues,
            dirs,
            journal,
        } = shared;
        let events = EventTx::new(queues.default_queue().clone());
        let mut multi = Multi::new();
        let _ = multi.set_max_host_connections(DEFAULT_MAX_PER_HOST);
        let _ = multi.pipelining(false, true);
        Agent {
            multi,
            commands,
            flags,
            queues,
            events,
            backlog,
            running: HashMap::new(),
            waiting: Vec::new(),
            parked: HashMap::new(),
            next_helper: 0,
            spare: Vec::new(),
            limits: DEFAULT_LIMITS,
            known_dirs: HashSet::new(),
            busy: false,
            lingering: false,
            stopping: false,
            dirs,
            partials: partial::Partials::default(),
            pace: pace::Pace::default(),
            suspended: false,
            journal,
        }
    }

    /// Runs the loop; after a panic, ends every request it knew with an
    /// internal error and carries on with the same multi handle.
    fn run_guarded(&mut self) {
        loop {
            match catch_unwind(AssertUnwindSafe(|| self.run())) {
                Ok(()) => return,
                Err(_) => {
                    self.fail_all();
                    self.events.flush();
                    if self.stopping {
                        return;
                    }
                }
            }
        }
    }

    fn fail_all(&mut self) {
        let err = Error::new(
            ErrorKind::Internal,
            "netdl bug: the network thread panicked",
        );
        let ids: Vec<u64> = (self.running.keys().copied())
            .chain(self.waiting.iter().map(|w| w.id))
            .chain(self.parked.keys().copied())
            .filter(|&id| id & segments::HELPER == 0) // they go with their parent
            .collect();
        for id in ids {
            let _ = catch_unwind(AssertUnwindSafe(|| self.remove(id, Some(err.clone()))));
        }
        self.running.clear();
        self.waiting.clear();
        self.parked.clear();
        let (queued, lost) = self.backlog.take_all();
        for req in queued {
            let Some(dest) = self.queues.get(req.queue) else {
                continue; // its queue was destroyed: nobody listens
            };
            let file = req.file().cloned();
            let ev = crate::event::failed(req.id, req.user_data, req.url, file, err.clone());
            self.events.to(&dest).send(ev);
        }
        // Their queue is unknown: each goes to every queue, and only the
        // one where the id is live hands it out.
        for dest in self.queues.all() {
            for &id in &lost {
                let ev = crate::event::failed(id, 0, crate::lossy_cstr(""), None, err.clone());
                self.events.to(&dest).send(ev);
            }
        }
    }

    /// The loop. Returns on `Shutdown` or when every client is gone.
    fn run(&mut self) {
        loop {
            self.flags.wake_pending.swap(false, Ordering::SeqCst);
            loop {
                match self.commands.try_recv() {
                    Ok(Command::Shutdown) => return self.shutdown(),
                    Ok(cmd) => self.handle(cmd),
                    Err(crossbeam_channel::TryRecvError::Empty) => break,
                    Err(crossbeam_channel::TryRecvError::Disconnected) => return self.shutdown(),
                }
            }
            if !self.suspended {
                self.start_due(Instant::now());
                self.start_queued();
            }
            if !self.running.is_empty() {
                self.pace.tick(&mut self.running, &self.parked);
                if let Err(e) = self.multi.perform() {
                    // Only a libcurl bug or out-of-memory gets here.
                    panic!("curl_multi_perform failed: {e}");
                }
                self.collect_finished();
                self.expire_idle(Instant::now());
                self.start_helpers();
            }
            let idle = self.running.is_empty() && self.waiting.is_empty() && self.parked.is_empty();
            if idle && self.backlog.is_empty() {
                // Idle: drop the spare handles, then linger a while for
                // events still to be freed; a quiet linger ends in a deep
                // sleep. The heap is not trimmed (see the module doc).
                self.lingering = self.busy;
                if self.busy {
                    self.spare = Vec::new();
                    self.busy = false;
                }
            }
            // Everything this turn produced goes out before any wait.
            self.events.flush();
            // A zero wait means libcurl has work due now: perform at once.
            let wait = self.wait_time();
            if wait == IDLE_WAIT {
                self.sleep();
            } else if !wait.is_zero() {
                let _ = self.multi.poll(&mut [], wait);
            }
        }
    }

    /// Sleeps with no timer until a command arrives; `Waker::wake_if_asleep`
    /// knows it must wake the thread.
    fn sleep(&mut self) {
        self.flags.asleep.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.commands.is_empty() {
            let _ = self.multi.poll(&mut [], IDLE_WAIT);
        }
        self.flags.asleep.store(false, Ordering::SeqCst);
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Cancel(id) => self.remove(id, None),
            Command::Recycle(events, home) => {
                crate::queue::free_batch(events, &home);
                self.busy = true; // linger again once idle
            }
            Command::Shutdown => {}
            Command::Suspend(on) => self.suspend(on),
            Command::MaxSpeed(bps) => self.pace.set_max_speed(bps),
            Command::Priority(id, priority) => self.set_priority(id, priority),
            #[cfg(test)]
            Command::Panic => panic!("test: the network thread panics"),
        }
    }

    /// `net_set_priority` of a request that left the backlog.
    fn set_priority(&mut self, id: u64, priority: i32) {
        // Its own transfer's priority (its helpers follow it).
        let waiting = self.waiting.iter_mut().find(|w| w.id == id);
        let t = match self.running.get_mut(&id) {
            Some(h) => Some(h.get_mut()),
            None => (self.parked.get_mut(&id).map(Easy2::get_mut))
                .or_else(|| waiting.map(|w| w.easy.get_mut())),
        };
        if let Some(t) = t {
            self.pace.set_priority(&mut t.gate, priority);
        }
    }

    /// `net_suspend` (`on`) / `net_resume`. Suspending takes every
    /// running request off its connection (a segmented download whole,
    /// down to its data up to the first gap) and readies its next attempt,
    /// which waits with the retries; nothing starts until resumed. The
    /// attempt is not counted as a retry.
    fn suspend(&mut self, on: bool) {
        if on == self.suspended {
            return;
        }
        self.suspended = on;
        if !on {
            return; // the waiting attempts and the backlog start as usual
        }
        let ids: Vec<u64> = (self.running.keys().chain(self.parked.keys()))
            .copied()
            .filter(|&id| id & segments::HELPER == 0) // they go with their parent
            .collect();
        let now = Instant::now();
        for id in ids {
            let Some(mut easy) = self.take_parent(id) else {
                continue;
            };
            segments::unsplit(easy.get_mut());
            match Transfer::again_after_pause(&mut easy) {
                Ok(()) => self.waiting.push(Waiting { id, due: now, easy }),
                // Only local failures get here (the data cannot be read).
                Err(e) => self.conclude(id, easy, Some(e)),
            }
        }
        // A suspended app may be killed next: its downloads' records say
        // what is on disk now.
        for w in &mut self.waiting {
            record_due(&self.journal, w.easy.get_mut(), now, true);
        }
        self.journal.flush();
    }

    /// Starts requests from the backlog while slots are free; applies
    /// limits changed since the last call.
    fn start_queued(&mut self) {
        let mut starting = Vec::new();
        let limits = self.backlog.pop(self.running.len(), &mut starting);
        if limits.per_host != self.limits.per_host {
            let _ = self.multi.set_max_host_connections(limits.per_host);
        }
        self.limits = limits;
        for req in starting {
            let Some(dest) = self.queues.get(req.queue) else {
                continue; // its queue was destroyed: nobody listens
            };
            let events = self.events.to(&dest);
            let (id, user_data) = (req.id, req.user_data);
            let (url, file) = (req.url.clone(), req.file().cloned());
            let spare = self.spare.pop();
            let fetch = &req.extra().fetch;
            let (tag, persist, restored) = (fetch.tag.clone(), fetch.persist, fetch.restored);
            let mut req = req;
            let kept_data = req.extra.as_mut().and_then(|e| e.kept.take());
            let kept = kept_data.or_else(|| file.as_ref().and_then(|f| self.kept_partial(f)));
            let conditional = match (&file, req.extra().fetch.if_changed) {
                (Some(f), true) => self.conditional_headers(f),
                _ => Vec::new(),
            };
            let started = Transfer::start(
                req,
                events.clone(),
                &mut self.known_dirs,
                spare,
                kept,
                conditional,
            )
            .and_then(|easy| self.run_attempt(id, easy));
            if let Err(err) = started {
                let mut ev = crate::event::failed(id, user_data, url, file, err);
                ev.tag = tag;
                if restored {
                    ev.flags |= crate::event::flags::RESTORED;
                }
                if persist {
                    self.journal.remove(id);
                }
                events.send(ev);
            }
        }
    }

    /// The partial data an earlier download of `file` kept, if any (the
    /// first download loads the records: `partial::Partials::load`).
    fn kept_partial(&mut self, file: &FilePath) -> Option<partial::Kept> {
        let dirs = &self.dirs;
        if !self.partials.is_loaded() {
            self.partials.load(lock(dirs).path(BaseDir::Caches).ok());
        }
        self.partials.take(file.path()?)
    }

    /// `If-None-Match` / `If-Modified-Since` for `file`, when netdl saved
    /// the file that is there now.
    fn conditional_headers(&self, file: &FilePath) -> Vec<String> {
        let caches = lock(&self.dirs).path(BaseDir::Caches);
        match (caches, file.path()) {
            (Ok(caches), Some(path)) => saved::conditional_headers(&caches, path),
            _ => Vec::new(),
        }
    }

    /// Records the validators a download with `if_changed` was saved with
    /// (the file is where it belongs; failing to record costs only a full
    /// download next time).
    fn record_saved(&self, t: &Transfer) {
        let caches = lock(&self.dirs).path(BaseDir::Caches);
        if let (Ok(caches), Some(path)) = (caches, t.file.as_ref().and_then(|f| f.path())) {
            let (etag, date) = (t.final_header("etag"), t.final_header("last-modified"));
            let _ = saved::record(&caches, path, etag, date);
        }
    }

    /// Keeps the partial data of a download that ends without its file,
    /// when it has data to continue; otherwise its data goes with it.
    fn keep_partial(&mut self, t: &mut Transfer) {
        if let Some(Ok(kept)) = t.keep_partial() {
            if self.partials.keep(&kept).is_err() {
                let _ = std::fs::remove_file(&kept.data);
            }
        }
    }

    /// Hands a configured handle to libcurl: its attempt begins.
    fn run_attempt(&mut self, id: u64, mut easy: Easy2<Transfer>) -> Result<(), Error> {
        easy.get_mut().last_activity = Instant::now();
        self.pace.starting(easy.get_mut());
        let mut handle = self
            .multi
            .add2(easy)
            .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
        handle
            .set_token(id as usize)
            .map_err(|e| Error::from_curl(&e))?;
        self.running.insert(id, handle);
        self.busy = true;
        Ok(())
    }

    /// Starts the next attempts whose wait is over, while slots are free.
    fn start_due(&mut self, now: Instant) {
        while self.running.len() < self.limits.transfers {
            let Some(i) = self.waiting.iter().position(|w| w.due <= now) else {
                return;
            };
            let Waiting { id, easy, .. } = self.waiting.swap_remove(i);
            // Made beforehand: libcurl drops a handle it fails to take.
            let (mut ev, tx) = (easy.get_ref().event(Phase::Ended), easy.get_ref().sender());
            if let Err(err) = self.run_attempt(id, easy) {
                ev.error = Some(err);
                tx.send(ev);
            }
        }
    }

    fn collect_finished(&mut self) {
        let mut done = Vec::new();
        self.multi.messages(|msg| {
            let Ok(token) = msg.token() else { return };
            let id = token as u64;
            if let Some(handle) = self.running.get(&id) {
                if let Some(result) = msg.result_for2(handle) {
                    done.push((id, result));
                }
            }
        });
        for (id, result) in done {
            let err = result.err().map(|e| Error::from_curl(&e));
            self.finish(id, err);
        }
    }

    /// Ends an attempt libcurl reported done (or that timed out); `err` is
    /// the verdict. The request ends too, unless the attempt failed and
    /// another one is due (`attempt::next_step`).
    fn finish(&mut self, id: u64, err: Option<Error>) {
        let Some(handle) = self.running.remove(&id) else {
            return;
        };
        let Ok(mut easy) = self.multi.remove2(handle) else {
            // The handle is gone with its data; only a libcurl bug gets here.
            panic!("curl_multi_remove_handle failed for request {id}");
        };
        // The final URL differs from the request's only after a redirect.
        let redirected = easy.redirect_count().unwrap_or(0) > 0;
        let effective = redirected
            .then(|| {
                easy.effective_url_bytes()
                    .ok()
                    .flatten()
                    .map(<[u8]>::to_vec)
            })
            .flatten();
        let code = easy.response_code().unwrap_or(0) as i32;
        let t = easy.get_mut();
        if let Some(url) = effective {
            if let Ok(c) = std::ffi::CString::new(url) {
                t.url = c.into();
            }
        }
        if t.status == 0 {
            t.status = code;
        }
        self.conclude(id, easy, err);
    }

    /// What follows an attempt that stopped (`id`: its key among the
    /// running transfers): a segment's part, another attempt, or the end.
    fn conclude(&mut self, id: u64, mut easy: Easy2<Transfer>, err: Option<Error>) {
        let t = easy.get_mut();
        // A callback's reason beats libcurl's generic "write error".
        let mut err = (t.failure.take().or(err))
            .or_else(|| t.cut_off())
            .or_else(|| t.unfinished_body());
        if let Some(role) = t.seg.clone() {
            return self.segment_stopped(id, easy, role, err);
        }
        // A file that arrived whole is checked before it takes the
        // target's place (a 416 may find it complete on disk).
        let whole = err.is_none() && ((200..300).contains(&t.status) || t.complete);
        if whole {
            if let Some(Sink::File(f)) = &mut t.sink {
                err = f.verify().err();
                // Data of several responses: start over once before
                // blaming the source.
                t.restart |= err.is_some() && t.flags & crate::event::flags::RESUMED != 0;
            }
        }
        if err.is_some() || (t.status >= 400 && !t.complete) {
            let failed = attempt::Failed {
                kind: err.as_ref().map(|e| e.kind),
                status: t.status,
                restart: t.restart,
            };
            let (source, start_over, wait) =
                match attempt::next_step(failed, t.tries(), || t.backoff()) {
                    Step::GiveUp => (0, false, None),
                    Step::Retry(wait) => (t.source, false, Some(wait)),
                    Step::NextSource => (t.source + 1, false, Some(Duration::ZERO)),
                    Step::StartOver => (t.source, true, Some(Duration::ZERO)),
                };
            if let Some(wait) = wait {
                match Transfer::next_attempt(&mut easy, source, start_over) {
                    Ok(()) => {
                        let due = Instant::now() + wait;
                        self.waiting.push(Waiting { id, due, easy });
                        return;
                    }
                    Err(e) => err = Some(e),
                }
            }
        }
        let t = easy.get_mut();
        // A download completed from data on disk (by a 206, or found
        // complete by a 416) reports what the whole file got: a 200.
        if t.complete || (t.status == 206 && t.flags & crate::event::flags::RESUMED != 0) {
            t.status = 200;
        }
        // Data that is not the file (or too much of it) is not kept.
        let bad_data = matches!(
            err.as_ref().map(|e| e.kind),
            Some(ErrorKind::Integrity | ErrorKind::TooLarge)
        );
        if (err.is_some() || t.status >= 400 && !t.complete) && !bad_data {
            self.keep_partial(t);
        }
        let sink = t.sink.take();
        let mut ev = t.event(Phase::Ended);
        match (err, sink) {
            (None, Some(mut sink)) => {
                if let Sink::File(f) = &mut sink {
                    if t.complete {
                        f.undivert();
                    }
                }
                let saved = matches!(&sink, Sink::File(_)) && (200..300).contains(&t.status);
                match sink.finish() {
                    Ok(body) => ev.body = body,
                    Err(e) => ev.error = Some(e),
                }
                if saved && ev.error.is_none() && t.if_changed() {
                    self.record_saved(t);
                }
            }
            (None, None) => {
                ev.error = Some(Error::new(
                    ErrorKind::Internal,
                    "transfer ended without a sink",
                ))
            }
            (Some(e), _) => ev.error = Some(e), // dropping the sink deletes the temp file
        }
        if t.persisted() {
            self.journal.remove(id);
        }
        t.send(ev);
        self.keep_spare(easy);
    }

    /// Keeps an ended transfer's handle for reuse; its files are let go.
    fn keep_spare(&mut self, mut easy: Easy2<Transfer>) {
        easy.get_mut().release();
        if self.spare.len() < self.limits.transfers {
            self.spare.push(easy);
        }
    }

    /// Stops a request early (running or between attempts): with
    /// `Some(err)` its `ended` event reports `err` and its partial data is
    /// kept as for any failure; with `None` (a cancel) nothing is reported
    /// and its partial data is deleted, unless `keep_partial` was set.
    fn remove(&mut self, id: u64, err: Option<Error>) {
        let keep = err.is_some();
        self.drop_helpers(id);
        let easy = if let Some(easy) = self.parked.remove(&id) {
            if let Some(e) = err {
                let mut ev = easy.get_ref().event(Phase::Ended);
                ev.error = Some(e);
                easy.get_ref().send(ev);
            }
            Some(easy)
        } else if let Some(i) = self.waiting.iter().position(|w| w.id == id) {
            let w = self.waiting.swap_remove(i);
            if let Some(e) = err {
                let mut ev = w.easy.get_ref().event(Phase::Ended);
                ev.error = Some(e);
                w.easy.get_ref().send(ev);
            }
            Some(w.easy)
        } else if let Some(handle) = self.running.remove(&id) {
            if let Some(e) = err {
                let mut ev = handle.get_ref().event(Phase::Ended);
                ev.error = Some(e);
                handle.get_ref().send(ev);
            }
            self.multi.remove2(handle).ok()
        } else {
            None
        };
        if let Some(mut easy) = easy {
            if easy.get_ref().persisted() {
                self.journal.remove(id);
            }
            segments::unsplit(easy.get_mut());
            if keep || easy.get_ref().keeps_partial() {
                self.keep_partial(easy.get_mut());
            }
            // Releasing the transfer drops its sink, deleting its file.
            self.keep_spare(easy);
        }
    }

    /// Fails transfers that moved no byte for longer than their timeout,
    /// and sends the progress events owed since their last bytes.
    /// libcurl's low-speed check averages over its window and fires late,
    /// so the time of the last byte is tracked here instead.
    fn expire_idle(&mut self, now: Instant) {
        // One pass: owed progress is paid, stalled transfers are noted.
        let mut expired = Vec::new();
        for (id, h) in self.running.iter_mut() {
            let t = h.get_mut();
            if now.duration_since(t.last_activity) >= t.timeout {
                expired.push((*id, t.timeout));
            } else {
                t.pay_progress(now);
            }
            record_due(&self.journal, t, now, false);
        }
        for easy in self.parked.values_mut() {
            record_due(&self.journal, easy.get_mut(), now, false);
        }
        for (id, timeout) in expired {
            let msg = format!("no data received for {} s", timeout.as_secs_f64());
            // Ended as libcurl ends a transfer: it may be retried.
            self.finish(id, Some(Error::new(ErrorKind::Timeout, msg)));
        }
    }

    /// How long to sleep: until libcurl's next timer, the next inactivity
    /// deadline or owed progress event, whichever is first; not at all when
    /// queued requests can start (transfers that just ended freed their
    /// slots).
    fn wait_time(&self) -> Duration {
        // Suspended, nothing runs or is due: only a command wakes it.
        let free = self.running.len() < self.limits.transfers && !self.suspended;
        if free && !self.backlog.is_empty() {
            return Duration::ZERO;
        }
        let now = Instant::now();
        // The next retry due (only worth waking for with a slot free).
        let retry = (self.waiting.iter())
            .filter(|_| free)
            .map(|w| w.due.saturating_duration_since(now))
            .fold(IDLE_WAIT, Duration::min);
        if self.running.is_empty() && self.lingering {
            return LINGER.min(retry);
        }
        let curl = self.multi.get_timeout().ok().flatten().unwrap_or(IDLE_WAIT);
        self.running
            .values()
            .map(|h| {
                let t = h.get_ref();
                let idle = t.last_activity + t.timeout;
                let due = t.progress_deadline().map_or(idle, |p| p.min(idle));
                due.saturating_duration_since(now)
            })
            .fold(curl, Duration::min)
            .min(retry)
            .min(self.pace.wait(now, &self.running))
    }

    /// Removes every transfer (deleting its temporary file) before the
    /// multi handle goes: libcurl requires easy handles out first.
    fn shutdown(&mut self) {
        self.stopping = true;
        self.backlog.close();
        let mut stopped = Vec::new();
        for (_, handle) in self.running.drain() {
            stopped.extend(self.multi.remove2(handle).ok());
        }
        stopped.extend(self.waiting.drain(..).map(|w| w.easy));
        stopped.extend(self.parked.drain().map(|(_, easy)| easy));
        // Persisted downloads keep their data and records for a later
        // process; the others' temporary files go with their sinks.
        let now = Instant::now();
        for mut easy in stopped {
            let t = easy.get_mut();
            if t.persisted() && t.seg.as_ref().is_none_or(|r| r.parent) {
                segments::unsplit(t);
                // Data the journal claims (named by `record_due`) stays.
                let claimed = record_due(&self.journal, t, now, true);
                if let (Some(k), Some(Sink::File(f))) = (claimed, &mut t.sink) {
                    let _ = f.keep_as(&k.data);
                }
            }
        }
        self.journal.sync();
    }
}

/// Records a persisted download's progress in the journal, when its last
/// record (or its start: a download that ends sooner sends none) is
/// `journal::EVERY` old and its data grew since (`now_anyway`: whatever
/// the time). Returns the data it found claimable, if due.
fn record_due(journal: &Journal, t: &mut Transfer, now: Instant, now_anyway: bool) -> Option<Kept> {
    // A segment's helper speaks through its download.
    if !t.persisted() || t.seg.as_ref().is_some_and(|r| !r.parent) {
        return None;
    }
    let (at, claimed) = t.journaled;
    let due = now_anyway || now.duration_since(at) >= crate::journal::EVERY;
    if !due {
        return None;
    }
    let mut kept = t.kept_data();
    // Claimed data needs a name a later process finds.
    if let (Some(k), Some(Sink::File(f))) = (&kept, &mut t.sink) {
        if f.name_as(&k.data).is_err() {
            kept = None; // not claimed: a restore starts from the first byte
        }
    }
    let size = kept.as_ref().map_or(0, |k| k.size);
    if size != claimed || now_anyway {
        journal.put(t.id, &t.req, kept.as_ref());
        t.journaled = (now, size);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Options, Request};

    /// Rule: a panic on the network thread ends every live request (running
    /// or queued) with NET_ERROR_INTERNAL, and the thread keeps serving.
    #[test]
    fn panic_fails_every_live_request() {
        // Accepts connections (backlog) but never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", silent.local_addr().unwrap());
        let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded();
        let queues = Arc::new(Queues::new());
        let events = queues.default_queue().clone();
        let backlog = Arc::new(Backlog::new(Limits {
            transfers: 1,
            per_host: 1,
        }));
        let dirs = Arc::new(Mutex::new(Dirs::default()));
        let shared = Shared {
            backlog: backlog.clone(),
            queues: queues.clone(),
            journal: Arc::new(Journal::new(dirs.clone())),
            dirs,
        };
        let (thread, waker) = spawn(cmd_rx, shared).unwrap();
        let send = |c| {
            cmd_tx.send(c).unwrap();
            waker.wake();
        };
        let start = |req: Request| {
            assert!(events.admit(req.id));
            backlog.push(req).unwrap();
            waker.wake();
        };
        let dirs = Dirs::default();
        for id in [1, 2] {
            start(Request::build(id, &url, "GET", Options::default(), None, &dirs).unwrap());
        }
        send(Command::Panic);
        let mut received = std::collections::VecDeque::new();
        let mut next = || {
            let deadline = Instant::now() + Duration::from_secs(10);
            while received.is_empty() {
                assert!(Instant::now() < deadline, "no event in 10 s");
                let mut batch = Vec::new();
                events.wait_into(&mut batch, 1, Duration::from_millis(100), |_, _| {});
                received.extend(batch);
            }
            received.pop_front().unwrap().into_event()
        };
        let mut ended: Vec<(u64, ErrorKind)> = (0..2)
            .map(|_| {
                let ev = next();
                (ev.id, ev.error.unwrap().kind)
            })
            .collect();
        ended.sort_by_key(|e| e.0);
        assert_eq!(
            ended,
            vec![(1, ErrorKind::Internal), (2, ErrorKind::Internal)]
        );
        // Still alive: a new request is served (and fails to connect).
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let refused = format!("http://{}/", closed.local_addr().unwrap());
        drop(closed);
        start(Request::build(3, &refused, "GET", Options::default(), None, &dirs).unwrap());
        let ev = next();
        assert_eq!((ev.id, ev.error.unwrap().kind), (3, ErrorKind::Connect));
        send(Command::Shutdown);
        thread.join().unwrap();
    }
}
