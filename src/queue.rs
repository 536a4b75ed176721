//! Event queues: everything between the thread that makes an event (the
//! network thread, or a caller whose request was rejected) and the thread
//! that polls it.
//!
//! - [`EventTx`]: the network thread's outbox. Events are sealed (their C
//!   view built, `ffi::view::Sealed`) as they are sent and delivered once
//!   per turn of its loop, one lock per destination queue per turn.
//! - [`EventQueue`]: one queue (`net_queue` in C; the client's default
//!   queue is what `net_poll` drains). Double-buffered: senders append to
//!   `incoming`; a poll swaps all of it into `inbox.pending` in one step.
//!   The poll hands out only events of ids that are live *in this queue*
//!   (an `ended` event ends the id's life; `cancel` ends it too, under the
//!   same lock, so a cancel racing a poll has exactly one winner).
//! - Batches: the events one C poll handed out stay in the queue's `held`
//!   batch (the memory their views point into) until the queue's next
//!   poll, which sends them to the network thread to be freed there
//!   (`Recycle`) and takes an emptied batch back: after the first frames no
//!   poll allocates.
//! - [`Queues`]: the default queue and the ones created since, found by a
//!   small number that a queued request carries.
//! - The wake-up fd (`net_queue_event_fd`): an eventfd a queue makes when
//!   first asked, readable exactly while events wait. `deliver` writes it
//!   when events arrive and it is not signalled yet; a poll that leaves
//!   nothing behind reads it. Both happen under `incoming`'s lock, with the
//!   emptiness checked under it, so no wake-up is lost.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::event::{Event, Phase};
use crate::ffi::view::Sealed;
use crate::live::LiveIds;
use crate::lock;

/// The events one poll handed out, kept as they came until the queue's
/// next poll (boxed: moving an event through the queues moves one pointer,
/// not the 296-byte event).
#[allow(clippy::vec_box)]
pub type Batch = Vec<Box<Sealed>>;

/// Events on their way to a poll, in order.
type Pending = VecDeque<Box<Sealed>>;

/// Emptied batches kept for a queue's polls (two: one in use, one coming
/// back).
const SPARE_BATCHES: usize = 2;
/// Events a spare batch holds without growing (8 KiB of pointers).
const SPARE_CAPACITY: usize = 1024;
/// How far ahead of the event it looks at a poll prefetches: far enough to
/// hide a memory access, near enough to stay within the CPU's few
/// outstanding loads.
const PREFETCH_AHEAD: usize = 8;

/// The number of the default queue (requests that name no queue).
pub const DEFAULT_QUEUE: u32 = 0;

/// One event queue. Every method may be called from any thread; `poll_c`
/// and `wait_c` serialize on the queue's `held` batch.
#[derive(Debug)]
pub struct EventQueue {
    /// `DEFAULT_QUEUE`, or the number `Queues::create` gave it.
    pub number: u32,
    /// Set by `close`: events delivered from then on are dropped.
    closed: AtomicBool,
    /// Events delivered and not yet taken by a poll, and the wake-up fd.
    incoming: Mutex<Incoming>,
    /// Set when events arrive (a poll checks it without the lock).
    ready: AtomicBool,
    arrived: Condvar,
    /// Threads in `wait` (only then is `arrived` signalled: a signal is a
    /// system call).
    waiters: AtomicUsize,
    inbox: Mutex<Inbox>,
    /// `inbox.pending` is not empty (read without the lock by a poll).
    has_pending: AtomicBool,
    /// The wake-up fd holds 1 (is readable). Written only under
    /// `incoming`'s lock; a poll reads it without the lock as a hint
    /// (always false when no fd was asked for: that poll's only cost).
    signalled: AtomicBool,
    /// What the last C poll handed out: valid until the next one.
    held: Mutex<Batch>,
    spare_tx: Sender<Batch>,
    spare_rx: Receiver<Batch>,
}

/// What senders append to, under the lock that also guards the wake-up fd.
#[derive(Debug, Default)]
struct Incoming {
    events: Pending,
    /// Made by the first `event_fd` call; closed by `close`.
    wake: Option<WakeFd>,
}

/// What a poll and `cancel` decide under one lock.
#[derive(Debug, Default)]
struct Inbox {
    /// Ids of this queue whose `ended` event was not handed out and that
    /// were not cancelled.
    live: LiveIds,
    /// Events taken from `incoming` but not handed out yet (more than the
    /// caller's capacity).
    pending: Pending,
    /// Destroyed, or the client shut down: no id becomes live again.
    closed: bool,
}

impl EventQueue {
    fn new(number: u32) -> Arc<EventQueue> {
        let (spare_tx, spare_rx) = crossbeam_channel::bounded(SPARE_BATCHES);
        // Ready from the first frame: a first poll that has to grow its
        // batch pays for glibc's consolidation of small chunks (tens of µs).
        for _ in 0..SPARE_BATCHES {
            let _ = spare_tx.try_send(Batch::with_capacity(SPARE_CAPACITY));
        }
        Arc::new(EventQueue {
            number,
            closed: AtomicBool::new(false),
            incoming: Mutex::default(),
            ready: AtomicBool::new(false),
            arrived: Condvar::new(),
            waiters: AtomicUsize::new(0),
            inbox: Mutex::default(),
            has_pending: AtomicBool::new(false),
            signalled: AtomicBool::new(false),
            held: Mutex::default(),
            spare_tx,
            spare_rx,
        })
    }

    /// Marks `id` live in this queue; false once the queue is closed.
    pub fn admit(&self, id: u64) -> bool {
        let mut inbox = lock(&self.inbox);
        if inbox.closed {
            return false;
        }
        inbox.live.insert(id);
        true
    }

    /// Ends the life of `id` in this queue (a cancel): true when it was
    /// live. From then on none of its events is handed out.
    pub fn forget(&self, id: u64) -> bool {
        lock(&self.inbox).live.remove(id)
    }

    /// Whether `id` is live here (its `ended` event not handed out, not
    /// cancelled).
    pub fn is_live(&self, id: u64) -> bool {
        lock(&self.inbox).live.contains(id)
    }

    /// Closes the queue: no id becomes live again, every pending event is
    /// dropped; returns the ids that were live (to be stopped).
    pub fn close(&self) -> Vec<u64> {
        let ids = {
            let mut inbox = lock(&self.inbox);
            inbox.closed = true;
            self.closed.store(true, Ordering::Release);
            inbox.pending.clear();
            let ids = inbox.live.iter().collect();
            inbox.live.clear();
            ids
        };
        self.has_pending.store(false, Ordering::Release);
        // Dropped (the events, and the fd closed) after the lock: nobody
        // can reach them any more.
        let (_events, _wake) = {
            let mut incoming = lock(&self.incoming);
            self.ready.store(false, Ordering::Release);
            self.signalled.store(false, Ordering::Relaxed);
            (std::mem::take(&mut incoming.events), incoming.wake.take())
        };
        ids
    }

    /// The wake-up fd (made on the first call; the same one after): an
    /// eventfd readable exactly while events wait, owned by the queue
    /// until `close`. Fails after `close` (`ESHUTDOWN`) or when the
    /// eventfd cannot be made (its error; a later call tries again).
    pub fn event_fd(&self) -> io::Result<RawFd> {
        let inbox = lock(&self.inbox);
        if inbox.closed {
            return Err(io::Error::from_raw_os_error(libc::ESHUTDOWN));
        }
        let mut incoming = lock(&self.incoming);
        if let Some(wake) = &incoming.wake {
            return Ok(wake.raw());
        }
        let wake = incoming.wake.insert(WakeFd::new()?);
        let raw = wake.raw();
        if !inbox.pending.is_empty() || !incoming.events.is_empty() {
            self.signal(&incoming);
        }
        Ok(raw)
    }

    /// Makes the wake-up fd readable, if there is one and it is not yet
    /// (called with `incoming` locked, events in it).
    fn signal(&self, incoming: &Incoming) {
        if let Some(wake) = &incoming.wake {
            if !self.signalled.load(Ordering::Relaxed) {
                self.signalled.store(true, Ordering::Relaxed);
                wake.write_one();
            }
        }
    }

    /// Makes the wake-up fd unreadable (called with `incoming` locked and
    /// found empty, and nothing pending).
    fn unsignal(&self, incoming: &Incoming) {
        if let Some(wake) = &incoming.wake {
            if self.signalled.load(Ordering::Relaxed) {
                self.signalled.store(false, Ordering::Relaxed);
                wake.read_all();
            }
        }
    }

    /// Frees the events the last C poll handed out (their pointers die).
    pub fn release_held(&self) {
        *lock(&self.held) = Batch::new();
    }

    /// Appends events for the poller (any thread; the network thread once
    /// per turn) and signals the wake-up fd. A closed queue drops them.
    fn deliver(&self, events: impl Iterator<Item = Box<Sealed>>) {
        if self.closed.load(Ordering::Acquire) {
            // Dropped; the iterator is consumed all the same: it is this
            // queue's share of an outbox whose next share follows it.
            events.for_each(drop);
            return;
        }
        let mut incoming = lock(&self.incoming);
        incoming.events.extend(events);
        self.ready.store(true, Ordering::Release);
        self.signal(&incoming);
        drop(incoming);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.arrived.notify_all();
        }
    }

    /// Delivers one event at once (for events made on a caller's thread).
    pub fn send_now(&self, ev: Event) {
        self.deliver(std::iter::once(Sealed::new(ev)));
    }

    /// Swaps every delivered event into `into`, which must be empty.
    fn take_incoming(&self, into: &mut Pending) {
        let mut incoming = lock(&self.incoming);
        self.ready.store(false, Ordering::Release);
        std::mem::swap(&mut incoming.events, into);
    }

    /// Moves up to `max` events into `out` without blocking; returns how
    /// many were added. `deliver(i, ev)` sees each one as it is added (the
    /// `i`-th of this call), while it is still in cache: the C layer copies
    /// its view out there rather than in a second pass. When it leaves
    /// nothing behind, the wake-up fd is cleared.
    pub fn poll_into(
        &self,
        out: &mut Batch,
        max: usize,
        mut deliver: impl FnMut(usize, &Sealed),
    ) -> usize {
        if max == 0
            || (!self.ready.load(Ordering::Acquire)
                && !self.has_pending.load(Ordering::Acquire)
                && !self.signalled.load(Ordering::Relaxed))
        {
            return 0;
        }
        let mut guard = lock(&self.inbox);
        let inbox = &mut *guard;
        if inbox.pending.is_empty() {
            self.take_incoming(&mut inbox.pending);
        }
        let first = out.len();
        loop {
            hand_out(inbox, out, first, max, &mut deliver);
            // Without a signalled wake-up fd, that is all. With one, it is
            // cleared if nothing is left, as seen under the lock `deliver`
            // signals under; events that came meanwhile are taken while
            // there is room (so a poll returning less than `max` always
            // leaves it cleared: an edge-triggered loop sees the next
            // event's edge).
            if !inbox.pending.is_empty() || !self.signalled.load(Ordering::Relaxed) {
                break;
            }
            let mut incoming = lock(&self.incoming);
            if incoming.events.is_empty() {
                self.unsignal(&incoming);
                break;
            }
            if out.len() - first == max {
                break; // the fd stays readable: events wait
            }
            self.ready.store(false, Ordering::Release);
            std::mem::swap(&mut incoming.events, &mut inbox.pending);
        }
        if inbox.pending.is_empty() && inbox.pending.capacity() > 4096 {
            inbox.pending = Pending::new(); // after a burst
        }
        self.has_pending
            .store(!inbox.pending.is_empty(), Ordering::Release);
        out.len() - first
    }

    /// Like `poll_into`, but waits up to `timeout` for the first event.
    pub fn wait_into(
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
            self.waiters.fetch_add(1, Ordering::SeqCst);
            // Counted before the queue is checked: a sender that finds no
            // waiter appended before that check (see `deliver`).
            let incoming = lock(&self.incoming);
            let _ = self
                .arrived
                .wait_timeout_while(incoming, left, |q| q.events.is_empty());
            self.waiters.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// The C poll: ends the life of what the previous one handed out
    /// (`recycle` takes those events away to be freed off this thread),
    /// then moves up to `max` events into the held batch, `deliver` seeing
    /// each. With `timeout`, waits that long for the first event.
    pub fn poll_c(
        &self,
        max: usize,
        timeout: Option<Duration>,
        recycle: impl FnOnce(Batch),
        deliver: impl FnMut(usize, &Sealed),
    ) -> usize {
        let mut held = lock(&self.held);
        if !held.is_empty() {
            let next = self.spare_batch();
            recycle(std::mem::replace(&mut *held, next));
        } else if held.capacity() == 0 {
            // The first call: start with a spare that needs no growing.
            *held = self.spare_batch();
        }
        if held.capacity() > 4096 {
            *held = Batch::new(); // a burst grew the batch; give it back
        }
        match timeout {
            None => self.poll_into(&mut held, max, deliver),
            Some(t) => self.wait_into(&mut held, max, t, deliver),
        }
    }

    /// An empty batch to poll into: one handed back (no allocation), else
    /// a new one.
    fn spare_batch(&self) -> Batch {
        self.spare_rx.try_recv().unwrap_or_default()
    }

    /// Where an emptied batch of this queue goes back to.
    pub fn spare_home(&self) -> Sender<Batch> {
        self.spare_tx.clone()
    }
}

/// Frees a handed-out batch's events and gives the empty vector back to
/// its queue (on the network thread). Without it, every poll would
/// allocate a vector of a few kilobytes, and glibc serves such a request by
/// first merging every small free chunk of the arena: tens of
/// microseconds in a frame, with thousands of requests' worth of small
/// chunks freed.
pub fn free_batch(mut batch: Batch, home: &Sender<Batch>) {
    batch.clear();
    batch.reserve(SPARE_CAPACITY); // grown here, not in a frame
    let _ = home.try_send(batch); // full: enough are spare
}

/// Moves events from `inbox.pending` to `out` until this poll (whose
/// first event is `out[first]`) has handed out `max`, or nothing is
/// pending; `deliver` sees each one as it is handed out.
fn hand_out(
    inbox: &mut Inbox,
    out: &mut Batch,
    first: usize,
    max: usize,
    deliver: &mut impl FnMut(usize, &Sealed),
) {
    out.reserve((max - (out.len() - first)).min(inbox.pending.len()));
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
}

/// Decides whether an event is handed out: only for live ids; `ended`
/// ends the id's life; a progress event picks up the latest byte count.
fn accept(live: &mut LiveIds, ev: &mut Sealed) -> bool {
    // Only progress events are written to (the rest stay shared-clean in
    // the cache).
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

/// The default queue and every queue created since (and not destroyed).
#[derive(Debug)]
pub struct Queues {
    default: Arc<EventQueue>,
    others: Mutex<Vec<Arc<EventQueue>>>,
    next_number: AtomicU32,
}

impl Default for Queues {
    fn default() -> Queues {
        Queues::new()
    }
}

impl Queues {
    pub fn new() -> Queues {
        Queues {
            default: EventQueue::new(DEFAULT_QUEUE),
            others: Mutex::default(),
            next_number: AtomicU32::new(DEFAULT_QUEUE + 1),
        }
    }

    pub fn default_queue(&self) -> &Arc<EventQueue> {
        &self.default
    }

    /// A new queue (numbers are never reused, so a request of a destroyed
    /// queue never reaches a new one).
    pub fn create(&self) -> Arc<EventQueue> {
        let number = self.next_number.fetch_add(1, Ordering::Relaxed);
        let q = EventQueue::new(number);
        lock(&self.others).push(q.clone());
        q
    }

    /// Forgets `q`: requests naming it that have not started never will.
    pub fn remove(&self, q: &EventQueue) {
        lock(&self.others).retain(|o| o.number != q.number);
    }

    /// The queue numbered `number`, if it still exists.
    pub fn get(&self, number: u32) -> Option<Arc<EventQueue>> {
        if number == DEFAULT_QUEUE {
            return Some(self.default.clone());
        }
        lock(&self.others)
            .iter()
            .find(|q| q.number == number)
            .cloned()
    }

    /// Every queue, the default first.
    pub fn all(&self) -> Vec<Arc<EventQueue>> {
        let mut all = vec![self.default.clone()];
        all.extend(lock(&self.others).iter().cloned());
        all
    }

    /// Whether `f` is true for some queue, asked in turn, the default
    /// first (no allocation: `cancel` asks this for every id).
    pub fn any(&self, mut f: impl FnMut(&EventQueue) -> bool) -> bool {
        f(&self.default) || lock(&self.others).iter().any(|q| f(q))
    }
}

/// An event queue of a [`crate::Client`] (`net_queue` in C): the events of
/// the requests started with it in their `Options::queue` go to it, and
/// only to it. Cloning shares the queue.
#[derive(Clone, Debug)]
pub struct Queue(pub(crate) Arc<EventQueue>);

/// The network thread's sending end: events wait in an outbox shared by
/// every `EventTx` of the thread until `flush`, once per turn of its loop.
/// Each `EventTx` sends to one queue.
#[derive(Clone, Debug)]
pub struct EventTx {
    outbox: Arc<Mutex<Outbox>>,
    dest: Arc<EventQueue>,
}

#[derive(Debug, Default)]
struct Outbox {
    events: Batch,
    /// Runs of consecutive events with one destination: where each starts
    /// in `events`, and the queue.
    runs: Vec<(usize, Arc<EventQueue>)>,
}

impl EventTx {
    /// A new outbox whose events go to `dest`.
    pub fn new(dest: Arc<EventQueue>) -> EventTx {
        EventTx {
            outbox: Arc::default(),
            dest,
        }
    }

    /// The same outbox, sending to `dest`.
    pub fn to(&self, dest: &Arc<EventQueue>) -> EventTx {
        EventTx {
            outbox: self.outbox.clone(),
            dest: dest.clone(),
        }
    }

    /// Queues `ev` until the next `flush`.
    pub fn send(&self, ev: Event) {
        let sealed = Sealed::new(ev);
        let mut outbox = lock(&self.outbox);
        let Outbox { events, runs } = &mut *outbox;
        if runs.last().is_none_or(|(_, q)| !Arc::ptr_eq(q, &self.dest)) {
            runs.push((events.len(), self.dest.clone()));
        }
        events.push(sealed);
    }

    /// Delivers what `send` queued. The network thread calls it before it
    /// waits for anything.
    pub fn flush(&self) {
        let mut outbox = lock(&self.outbox);
        let Outbox { events, runs } = &mut *outbox;
        if events.is_empty() {
            return;
        }
        let total = events.len();
        let mut drain = events.drain(..);
        for (i, (start, dest)) in runs.iter().enumerate() {
            let end = runs.get(i + 1).map_or(total, |r| r.0);
            dest.deliver(drain.by_ref().take(end - start));
        }
        drop(drain);
        runs.clear();
    }
}

/// A queue's wake-up fd: an eventfd that holds 1 while it is signalled.
#[derive(Debug)]
struct WakeFd(OwnedFd);

impl WakeFd {
    fn new() -> io::Result<WakeFd> {
        // SAFETY: eventfd takes no pointer; it returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor that nothing else owns.
        Ok(WakeFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn raw(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// Adds 1 to the counter: the fd becomes readable. It cannot fail
    /// here (the counter is 0 or 1, far from overflowing).
    fn write_one(&self) {
        let one: u64 = 1;
        // SAFETY: writes the 8 bytes of `one`, which lives across the call.
        let _ = unsafe { libc::write(self.raw(), (&one as *const u64).cast(), 8) };
    }

    /// Resets the counter to 0: the fd is no longer readable. Nonblocking:
    /// a counter already at 0 gives EAGAIN, which is fine.
    fn read_all(&self) {
        let mut count: u64 = 0;
        // SAFETY: reads at most 8 bytes into `count`, which lives across
        // the call.
        let _ = unsafe { libc::read(self.raw(), (&mut count as *mut u64).cast(), 8) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::failed;

    fn ended(id: u64) -> Event {
        let err = crate::error::Error::invalid("x");
        failed(id, 0, crate::lossy_cstr(""), None, err)
    }

    fn ids(q: &EventQueue) -> Vec<u64> {
        let mut out = Batch::new();
        q.poll_into(&mut out, usize::MAX, |_, _| {});
        out.iter().map(|e| e.c().id).collect()
    }

    /// Rule: the outbox delivers each event to its own queue, in order,
    /// and a queue hands out only its own live ids, each `ended` once.
    #[test]
    fn events_reach_their_own_queue_once() {
        let queues = Queues::new();
        let (a, b) = (queues.default_queue().clone(), queues.create());
        for id in 1..=6 {
            assert!(if id % 2 == 0 { &b } else { &a }.admit(id));
        }
        let tx = EventTx::new(a.clone());
        let tx_b = tx.to(&b);
        for id in [1, 2, 4, 3, 5, 6, 6, 1] {
            if id % 2 == 0 { &tx_b } else { &tx }.send(ended(id));
        }
        assert_eq!(ids(&a), Vec::<u64>::new(), "nothing before the flush");
        tx.flush();
        assert_eq!(ids(&a), vec![1, 3, 5]);
        assert_eq!(ids(&b), vec![2, 4, 6]);
        // Events sent to a queue closed before the flush are dropped, and
        // only they: the runs after them still reach their queues.
        let c = queues.create();
        assert!(a.admit(20) && c.admit(21) && b.admit(22) && a.admit(23));
        for (id, tx) in [(20, &tx), (21, &tx.to(&c)), (22, &tx_b), (23, &tx)] {
            tx.send(ended(id));
        }
        assert_eq!(c.close(), vec![21]);
        tx.flush();
        assert_eq!(ids(&a), vec![20, 23]);
        assert_eq!(ids(&b), vec![22]);
        assert_eq!(ids(&c), Vec::<u64>::new());
        // Closing a queue drops its pending events and its live ids.
        assert!(b.admit(8));
        tx_b.send(ended(8));
        tx.flush();
        assert_eq!(b.close(), vec![8]);
        assert!(!b.admit(9), "a closed queue admits nothing");
        assert_eq!(ids(&b), Vec::<u64>::new());
        queues.remove(&b);
        assert!(queues.get(b.number).is_none());
        assert!(queues.get(DEFAULT_QUEUE).is_some());
    }

    /// Whether `fd` is readable right now.
    fn readable(fd: RawFd) -> bool {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, for the duration of the call.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        assert!(n >= 0, "poll: {}", io::Error::last_os_error());
        n == 1 && p.revents & libc::POLLIN != 0
    }

    /// Rule: the wake-up fd is readable exactly while events wait, also
    /// when events arrive in the middle of a poll: a poll with room takes
    /// them and leaves the fd cleared (so a poll returning less than its
    /// capacity always does), one without room leaves it readable. A fd
    /// asked for after events arrived is readable at once; a closed queue
    /// makes none.
    #[test]
    fn wake_fd_follows_the_queue_through_a_poll() {
        let queues = Queues::new();
        let q = queues.create();
        for id in 1..=10 {
            assert!(q.admit(id));
        }
        q.send_now(ended(1));
        let fd = q.event_fd().unwrap();
        assert_eq!(q.event_fd().unwrap(), fd, "the same fd every call");
        assert!(readable(fd), "asked for with an event waiting");
        // Event 2 arrives while the poll hands out event 1: taken too.
        let mut out = Batch::new();
        let n = q.poll_into(&mut out, 10, |i, _| {
            if i == 0 {
                q.send_now(ended(2));
            }
        });
        assert_eq!(n, 2);
        assert!(!readable(fd));
        // The same with no room left for it: it waits, and so does the fd.
        q.send_now(ended(3));
        let n = q.poll_into(&mut out, 1, |_, _| q.send_now(ended(4)));
        assert_eq!(n, 1);
        assert!(readable(fd));
        assert_eq!(q.poll_into(&mut out, 1, |_, _| {}), 1);
        assert!(!readable(fd), "the last event handed out clears it");
        assert_eq!(q.poll_into(&mut out, 1, |_, _| {}), 0);
        assert!(!readable(fd));
        // An event of a forgotten (cancelled) id keeps it readable until a
        // poll drops the event.
        q.send_now(ended(5));
        assert!(q.forget(5));
        assert!(readable(fd));
        assert_eq!(q.poll_into(&mut out, 1, |_, _| {}), 0);
        assert!(!readable(fd));
        q.close();
        let err = q.event_fd().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESHUTDOWN));
    }
}
