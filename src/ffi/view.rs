//! The C view of an event (`net_event`), built by the thread that sends
//! the event (usually the network thread), so that `net_poll` only copies
//! 192 bytes per event into the caller's array: the game's frame pays for
//! no conversion, allocation or pointer chasing.

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use crossbeam_channel::{Receiver, Sender};

use super::types::*;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::event::{Event, ProgressSlot};

/// An event and its C view. The view's pointers point into the heap data
/// the event owns (reference-counted strings, the header block, the body)
/// and into `error`; none of it is mutated or freed while the `Sealed`
/// lives, and moving the `Sealed` moves no heap data.
///
/// `poll` reads only the first cache lines: the view, then the progress
/// slot.
#[derive(Debug)]
#[repr(C)]
pub struct Sealed {
    c: net_event,
    /// A progress event's byte count, read when it is delivered.
    pub progress: Option<Arc<ProgressSlot>>,
    pub event: Event,
    /// The error message as a C string (`c.error` points into it).
    _error: Option<CString>,
}

// SAFETY: the raw pointers in `c` only point into data owned by this value
// (see above), which is immutable while it lives; every owned part is Send.
unsafe impl Send for Sealed {}

impl Sealed {
    pub fn new(mut event: Event) -> Box<Sealed> {
        let progress = event.progress.take();
        let ev = &event;
        let error = ev
            .error
            .as_ref()
            .map(|e| CString::new(e.message.replace('\0', " ")).unwrap_or_default());
        let (body, body_len) = match &ev.body {
            Some(b) if !b.is_empty() => (b.as_ptr().cast(), b.len()),
            _ => (ptr::null(), 0),
        };
        let headers = match ev.headers.as_c() {
            [] => ptr::null(),
            h => h.as_ptr(),
        };
        let c = net_event {
            id: ev.id,
            user_data: ev.user_data as *mut _,
            phase: ev.phase as net_phase,
            is_error: ev.error.is_some(),
            error_code: ev.error.as_ref().map_or(NET_ERROR_NONE, |e| e.kind.code()),
            error: error.as_deref().unwrap_or(c"").as_ptr(),
            status: ev.status,
            bytes_transferred: ev.bytes_transferred,
            bytes_estimated: ev.bytes_estimated,
            url: ev.url.as_ptr(),
            headers,
            header_count: ev.headers.len(),
            path: opt_ptr(ev.file.as_ref().and_then(|f| f.c_path())),
            body,
            body_len,
            response_type: ev.response_type as net_response_type,
            base_dir: ev.file.as_ref().map_or(0, |f| f.dir as net_dir),
            filename: opt_ptr(ev.file.as_ref().map(|f| f.filename())),
            reserved: [0; 8],
        };
        Box::new(Sealed {
            c,
            progress,
            event,
            _error: error,
        })
    }

    /// The C view; valid while `self` lives.
    pub fn c(&self) -> &net_event {
        &self.c
    }

    /// Sets the byte count (a progress event reports the latest one when
    /// it is delivered).
    pub fn set_transferred(&mut self, n: i64) {
        self.event.bytes_transferred = n;
        self.c.bytes_transferred = n;
    }
}

fn opt_ptr(s: Option<&CStr>) -> *const c_char {
    s.map_or(ptr::null(), |s| s.as_ptr())
}

/// The events one `net_poll` handed out, kept as they came through the
/// channel (a list of pointers: the events never move while C points into
/// them).
#[allow(clippy::vec_box)]
pub type Batch = Vec<Box<Sealed>>;

/// The receiving ends that go with an `EventTx`.
#[derive(Debug)]
pub struct EventRx {
    /// Events in batches: one message per turn of the network thread.
    pub events: Receiver<Batch>,
    /// Emptied batches, to be filled again without allocating.
    pub batches: Receiver<Batch>,
}

/// An event channel: sealed events one way, emptied batches back.
pub fn channel() -> (EventTx, EventRx) {
    let (events_tx, events) = crossbeam_channel::unbounded();
    let (batches_tx, batches) = crossbeam_channel::bounded(2);
    let tx = EventTx {
        events: events_tx,
        batches: batches_tx,
        outbox: Arc::default(),
    };
    (tx, EventRx { events, batches })
}

/// The sending end of the event channel; seals each event on the way.
///
/// The network thread `send`s into an outbox and `flush`es it once per
/// turn of its loop: the poller then takes a few hundred events from a
/// handful of messages instead of one channel operation each.
#[derive(Clone, Debug)]
pub struct EventTx {
    events: Sender<Batch>,
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
    /// waits for anything. If the receiving client is gone, it is shutting
    /// down and nobody wants the events: they are dropped.
    pub fn flush(&self) {
        let batch = std::mem::take(&mut *lock(&self.outbox));
        if !batch.is_empty() {
            let _ = self.events.send(batch);
        }
    }

    /// Delivers `ev` at once (for events made on a caller's thread).
    pub fn send_now(&self, ev: Event) {
        let _ = self.events.send(vec![Sealed::new(ev)]);
    }

    /// Frees a delivered batch's events and hands the empty vector back to
    /// the poller. Without it, every `net_poll` would allocate a vector of
    /// a few kilobytes, and glibc serves such a request by first merging
    /// every small free chunk of the arena: tens of microseconds in a
    /// frame, with thousands of requests' worth of small chunks freed.
    pub fn recycle(&self, mut batch: Batch) {
        batch.clear();
        let _ = self.batches.try_send(batch); // full: two are plenty
    }
}

fn lock(m: &Mutex<Batch>) -> MutexGuard<'_, Batch> {
    // A panic while pushing leaves a valid vector behind.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
