//! The storage behind the pointers of delivered events: the owned events
//! of the last `net_poll` / `net_wait`, kept until the next call.

use std::ffi::{c_char, CString};
use std::ptr;

use super::types::*;
use crate::client::Client;
use crate::event::Event;

/// Owns what the last batch of `net_event`s points into.
#[derive(Debug, Default)]
pub struct Arena {
    pub events: Vec<Event>,
    /// Every header array of the batch, back to back. Sized before it is
    /// filled, so it never moves while events point into it.
    headers: Vec<net_header>,
    errors: Vec<CString>,
}

// SAFETY: the raw pointers in `headers` point into `events` (reference-
// counted, immutable header strings) owned by this same arena; they are
// never dereferenced by Rust and move with the arena between threads.
unsafe impl Send for Arena {}

impl Arena {
    /// Ends the life of the previous batch's pointers. Its events go back
    /// to the network thread of `client` to be freed there (when there is
    /// one), so the host's frame does not pay for the frees.
    pub fn reset(&mut self, client: Option<&Client>) {
        match client {
            Some(c) if !self.events.is_empty() => {
                let next = Vec::with_capacity(self.events.len());
                c.recycle(std::mem::replace(&mut self.events, next));
            }
            _ => self.events.clear(),
        }
        self.headers.clear();
        self.errors.clear();
        if self.headers.capacity() > 65536 {
            // A burst grew the batch; give the memory back.
            *self = Arena::default();
        }
    }

    /// Writes the C view of `self.events` into `out`.
    ///
    /// # Safety
    /// `out` must be valid for writing `self.events.len()` events.
    pub unsafe fn fill(&mut self, out: *mut net_event) {
        let total: usize = self.events.iter().map(|e| e.headers.len()).sum();
        self.headers.reserve_exact(total);
        for (i, ev) in self.events.iter().enumerate() {
            let start = self.headers.len();
            self.headers.extend(ev.headers.iter().map(|h| net_header {
                name: h.name.as_ptr(),
                value: h.value.as_ptr(),
            }));
            let headers = if ev.headers.is_empty() {
                ptr::null()
            } else {
                // In bounds: `start` entries were pushed before these.
                self.headers[start..].as_ptr()
            };
            let (is_error, error_code, error) = match &ev.error {
                None => (false, NET_ERROR_NONE, c"".as_ptr()),
                Some(e) => {
                    let msg = CString::new(e.message.replace('\0', " ")).unwrap_or_default();
                    let p = msg.as_ptr();
                    self.errors.push(msg); // moving a CString keeps its heap buffer
                    (true, e.kind.code(), p)
                }
            };
            let (body, body_len) = match &ev.body {
                Some(b) if !b.is_empty() => (b.as_ptr().cast(), b.len()),
                _ => (ptr::null(), 0),
            };
            let c = net_event {
                id: ev.id,
                user_data: ev.user_data as *mut _,
                phase: ev.phase as net_phase,
                is_error,
                error_code,
                error,
                status: ev.status,
                bytes_transferred: ev.bytes_transferred,
                bytes_estimated: ev.bytes_estimated,
                url: ev.url.as_ptr(),
                headers,
                header_count: ev.headers.len(),
                path: opt_ptr(ev.path.as_deref()),
                body,
                body_len,
                response_type: ev.response_type as net_response_type,
                base_dir: ev.filename.as_ref().map_or(0, |(_, d)| *d as net_dir),
                filename: opt_ptr(ev.filename.as_ref().map(|(f, _)| &**f)),
                reserved: [0; 8],
            };
            // SAFETY: the caller guarantees room for every event; `i` is
            // below `self.events.len()`.
            unsafe { out.add(i).write(c) };
        }
    }
}

fn opt_ptr(s: Option<&std::ffi::CStr>) -> *const c_char {
    s.map_or(ptr::null(), |s| s.as_ptr())
}
