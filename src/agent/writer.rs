//! The writer thread: writes out small downloads (bodies up to
//! `SMALL_BODY`, kept in memory) once their transfer succeeded, and sends
//! their `ended` event. Creating, writing and renaming a file costs more
//! than receiving a small one; done here, it runs beside the network
//! thread instead of in its turn.
//!
//! It holds at most `MAX_PENDING` bytes of bodies; past that the network
//! thread writes the file itself. Stopping it writes what it holds.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use super::sink::WriteJob;
use crate::error::{Error, ErrorKind};
use crate::event::Event;
use crate::ffi::view::EventTx;

/// Most body bytes waiting to be written.
const MAX_PENDING: usize = 16 * 1024 * 1024;

#[derive(Debug)]
pub struct Writer {
    jobs: Option<Sender<(WriteJob, Event)>>,
    pending: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the thread; its events go out through its own outbox.
    pub fn spawn(events: EventTx) -> std::io::Result<Writer> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let pending = Arc::new(AtomicUsize::new(0));
        let counter = pending.clone();
        let thread = std::thread::Builder::new()
            .name("netdl-writer".into())
            .spawn(move || run(rx, events, counter))?;
        Ok(Writer {
            jobs: Some(tx),
            pending,
            thread: Some(thread),
        })
    }

    /// Hands `job` over with the `ended` event to send once it is written.
    /// Gives both back when too much is pending (or the thread is gone):
    /// the caller then writes the file itself.
    pub fn submit(&self, job: WriteJob, ev: Event) -> Option<(WriteJob, Event)> {
        let len = job.len();
        let Some(jobs) = &self.jobs else {
            return Some((job, ev));
        };
        if self.pending.fetch_add(len, Ordering::AcqRel) + len > MAX_PENDING {
            self.pending.fetch_sub(len, Ordering::AcqRel);
            return Some((job, ev));
        }
        let refused = jobs.send((job, ev)).err()?;
        self.pending.fetch_sub(len, Ordering::AcqRel);
        Some(refused.into_inner())
    }

    /// Writes what is pending, then ends the thread.
    pub fn stop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(jobs: Receiver<(WriteJob, Event)>, events: EventTx, pending: Arc<AtomicUsize>) {
    while let Ok(first) = jobs.recv() {
        // Everything queued now, then one message to the poller.
        for (job, ev) in std::iter::once(first).chain(jobs.try_iter()) {
            let len = job.len();
            events.send(write(job, ev));
            pending.fetch_sub(len, Ordering::AcqRel);
        }
        events.flush();
    }
}

/// Runs `job`; the event reports how it went.
pub fn write(job: WriteJob, mut ev: Event) -> Event {
    let result = catch_unwind(AssertUnwindSafe(|| job.run())).unwrap_or_else(|_| {
        Err(Error::new(
            ErrorKind::Internal,
            "netdl bug: writing a download panicked",
        ))
    });
    if let Err(e) = result {
        ev.error = Some(e);
    }
    ev
}
