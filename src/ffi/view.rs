//! The C view of an event (`net_event`), built by the thread that sends
//! the event (usually the network thread), so that `net_poll` only copies
//! 192 bytes per event into the caller's array: the game's frame pays for
//! no conversion, allocation or pointer chasing.

use std::collections::VecDeque;
use std::ffi::{c_char, CStr, CString};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use super::types::*;

use crate::error::{Error, ErrorKind};
use crate::event::{Event, Headers, Phase, ProgressSlot, ResponseType};
use crate::lock;
use crate::request::FilePath;

/// An event as its C view plus the heap data the view points into
/// (reference-counted strings, the header block, the body, the error
/// message); none of it is mutated or freed while the `Sealed` lives, and
/// moving the `Sealed` moves no heap data. The Rust `Event` is rebuilt from
/// the two (`into_event`): one copy of each field, as thousands may wait
/// between two frames.
///
/// `poll` reads only the first cache lines: the view, then the progress
/// slot.
#[derive(Debug)]
#[repr(C)]
pub struct Sealed {
    c: net_event,
    /// A progress event's byte count, read when it is delivered.
    pub progress: Option<Arc<ProgressSlot>>,
    url: Arc<CStr>,
    headers: Headers,
    file: Option<FilePath>,
    body: Option<Vec<u8>>,
    /// The error message (`c.error` points into it; the kind is in
    /// `c.error_code`); boxed, as errors are rare and the box is one word.
    error: Option<Box<CString>>,
}

// SAFETY: the raw pointers in `c` only point into data owned by this value
// (see above), which is immutable while it lives; every owned part is Send.
unsafe impl Send for Sealed {}

impl Sealed {
    pub fn new(event: Event) -> Box<Sealed> {
        let Event {
            id,
            user_data,
            phase,
            error,
            status,
            bytes_transferred,
            bytes_estimated,
            url,
            headers,
            file,
            body,
            response_type,
            progress,
        } = event;
        let code = error.as_ref().map_or(NET_ERROR_NONE, |e| e.kind.code());
        let error = error.map(|e| {
            let message = CString::new(e.message.replace('\0', " ")).unwrap_or_default();
            Box::new(message)
        });
        let (body_ptr, body_len) = match &body {
            Some(b) if !b.is_empty() => (b.as_ptr().cast(), b.len()),
            _ => (ptr::null(), 0),
        };
        let header_ptr = match headers.as_c() {
            [] => ptr::null(),
            h => h.as_ptr(),
        };
        let c = net_event {
            id,
            user_data: user_data as *mut _,
            phase: phase as net_phase,
            is_error: error.is_some(),
            error_code: code,
            error: error.as_deref().map_or(c"", CString::as_c_str).as_ptr(),
            status,
            bytes_transferred,
            bytes_estimated,
            url: url.as_ptr(),
            headers: header_ptr,
            header_count: headers.len(),
            path: opt_ptr(file.as_ref().and_then(|f| f.c_path())),
            body: body_ptr,
            body_len,
            response_type: response_type as net_response_type,
            base_dir: file.as_ref().map_or(0, |f| f.dir as net_dir),
            filename: opt_ptr(file.as_ref().map(|f| f.filename())),
            reserved: [0; 8],
        };
        Box::new(Sealed {
            c,
            progress,
            url,
            headers,
            file,
            body,
            error,
        })
    }

    /// The event for Rust callers.
    pub fn into_event(self) -> Event {
        let c = &self.c;
        let phase = [Phase::Began, Phase::Progress]
            .into_iter()
            .find(|&p| p as net_phase == c.phase)
            .unwrap_or(Phase::Ended);
        let response_type = if c.response_type == ResponseType::Text as net_response_type {
            ResponseType::Text
        } else {
            ResponseType::Binary
        };
        let error = self.error.map(|message| Error {
            kind: ErrorKind::from_code(c.error_code).unwrap_or(ErrorKind::Internal),
            message: message.to_string_lossy().into_owned(),
        });
        Event {
            id: c.id,
            user_data: c.user_data as usize,
            phase,
            error,
            status: c.status,
            bytes_transferred: c.bytes_transferred,
            bytes_estimated: c.bytes_estimated,
            url: self.url,
            headers: self.headers,
            file: self.file,
            body: self.body,
            response_type,
            progress: None,
        }
    }

    /// Asks the CPU to start loading what `poll` reads (the view, and the
    /// progress slot). A hint only; nothing off
    /// x86-64.
    pub fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let p: *const i8 = (self as *const Sealed).cast();
            // The 192-byte view (copied out whole) and the progress slot
            // after it: these addresses hit every cache line they touch,
            // whatever the allocation's alignment.
            for offset in [0, 64, 128, 191, 199] {
                // SAFETY: a prefetch never faults and changes no state; every
                // address lies inside `self` (the view starts it, the
                // 8-byte progress slot follows it). SSE is part of every
                // x86-64 CPU.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(offset)) };
            }
        }
    }

    /// The C view; valid while `self` lives.
    pub fn c(&self) -> &net_event {
        &self.c
    }

    /// Sets the byte count (a progress event reports the latest one when
    /// it is delivered).
    pub fn set_transferred(&mut self, n: i64) {
        self.c.bytes_transferred = n;
    }
}

fn opt_ptr(s: Option<&CStr>) -> *const c_char {
    s.map_or(ptr::null(), |s| s.as_ptr())
}

/// The events one `net_poll` handed out, kept as they came until the next
/// call (boxed: moving an event through the queues moves one pointer, not
/// the 296-byte event).
#[allow(clippy::vec_box)]
pub type Batch = Vec<Box<Sealed>>;

/// Events on their way to `poll`, in order.
pub type Queue = VecDeque<Box<Sealed>>;

/// The queue between the threads that make events and the one that polls.
///
/// Double-buffered: senders append their events to `queue` once per turn;
/// `poll` swaps the whole queue for its own empty one. Each side touches
/// the lock once per turn, whatever the number of events, and after the
/// first bursts neither allocates.
#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// Set when events arrive (`poll` checks it without the lock).
    ready: AtomicBool,
    arrived: Condvar,
    /// Threads in `EventRx::wait` (only then is `arrived` signalled: a
    /// signal is a system call).
    waiters: AtomicUsize,
}

/// The receiving side of an event channel.
#[derive(Debug)]
pub struct EventRx {
    shared: Arc<Shared>,
    /// Emptied batches, to be filled again without allocating.
    batches: Receiver<Batch>,
}

impl EventRx {
    /// Whether events may be waiting.
    pub fn ready(&self) -> bool {
        self.shared.ready.load(Ordering::Acquire)
    }

    /// Swaps every waiting event into `into`, which must be empty.
    pub fn take(&self, into: &mut Queue) {
        let mut queue = lock(&self.shared.queue);
        self.shared.ready.store(false, Ordering::Release);
        std::mem::swap(&mut *queue, into);
    }

    /// Waits until events arrive or `timeout` passes.
    pub fn wait(&self, timeout: Duration) {
        // Counted before the queue is checked: a sender that finds no
        // waiter appended before that check (see `deliver`).
        self.shared.waiters.fetch_add(1, Ordering::SeqCst);
        let queue = lock(&self.shared.queue);
        let _ = self
            .shared
            .arrived
            .wait_timeout_while(queue, timeout, |q| q.is_empty());
        self.shared.waiters.fetch_sub(1, Ordering::SeqCst);
    }

    /// An empty batch for `poll` to fill: one handed back (no allocation),
    /// else a new one.
    pub fn spare_batch(&self) -> Batch {
        self.batches.try_recv().unwrap_or_default()
    }
}

/// Emptied batches kept for `poll` (two: one in use, one coming back).
const SPARE_BATCHES: usize = 2;
/// Events a spare batch holds without growing (8 KiB of pointers).
const SPARE_CAPACITY: usize = 1024;

/// An event channel: sealed events one way, emptied batches back.
pub fn channel() -> (EventTx, EventRx) {
    let shared = Arc::new(Shared::default());
    let (batches_tx, batches) = crossbeam_channel::bounded(SPARE_BATCHES);
    // Ready from the first frame: a first poll that has to grow its batch
    // pays for glibc's consolidation of small chunks (tens of µs).
    for _ in 0..SPARE_BATCHES {
        let _ = batches_tx.try_send(Batch::with_capacity(SPARE_CAPACITY));
    }
    let tx = EventTx {
        shared: shared.clone(),
        batches: batches_tx,
        outbox: Arc::default(),
    };
    (tx, EventRx { shared, batches })
}

/// The sending end of the event channel; seals each event on the way.
///
/// The network thread `send`s into an outbox and `flush`es it once per
/// turn of its loop.
#[derive(Clone, Debug)]
pub struct EventTx {
    shared: Arc<Shared>,
    batches: Sender<Batch>,
    /// Only the network thread (and the transfers it drives) use it.
    outbox: Arc<Mutex<Batch>>,
}

impl EventTx {
    /// Queues `ev` until the next `flush` (network thread only).
    pub fn send(&self, ev: Event) {
        lock(&self.outbox).push(Sealed::new(ev));
    }

    /// Delivers what `send` queued. The network thread calls it before it
    /// waits for anything.
    pub fn flush(&self) {
        let mut outbox = lock(&self.outbox);
        if !outbox.is_empty() {
            self.deliver(outbox.drain(..));
        }
    }

    /// Delivers `ev` at once (for events made on a caller's thread).
    pub fn send_now(&self, ev: Event) {
        self.deliver(std::iter::once(Sealed::new(ev)));
    }

    fn deliver(&self, events: impl Iterator<Item = Box<Sealed>>) {
        let mut queue = lock(&self.shared.queue);
        queue.extend(events);
        self.shared.ready.store(true, Ordering::Release);
        drop(queue);
        if self.shared.waiters.load(Ordering::SeqCst) > 0 {
            self.shared.arrived.notify_all();
        }
    }

    /// Frees a delivered batch's events and hands the empty vector back to
    /// the poller. Without it, every `net_poll` would allocate a vector of
    /// a few kilobytes, and glibc serves such a request by first merging
    /// every small free chunk of the arena: tens of microseconds in a
    /// frame, with thousands of requests' worth of small chunks freed.
    pub fn recycle(&self, mut batch: Batch) {
        batch.clear();
        batch.reserve(SPARE_CAPACITY); // grown here, not in a frame
        let _ = self.batches.try_send(batch); // full: enough are spare
    }
}
