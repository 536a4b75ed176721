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
    /// Error messages of the batch as C strings.
    errors: Vec<CString>,
}

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
        self.errors.clear();
        if self.events.capacity() > 4096 {
            // A burst grew the batch; give the memory back.
            *self = Arena::default();
        }
    }

    /// Writes the C view of `self.events` into `out`.
    ///
    /// # Safety
    /// `out` must be valid for writing `self.events.len()` events.
    pub unsafe fn fill(&mut self, out: *mut net_event) {
        for (i, ev) in self.events.iter().enumerate() {
            // Built by the network thread; lives as long as the event.
            let headers = match ev.headers.as_c() {
                [] => ptr::null(),
                h => h.as_ptr(),
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
                path: opt_ptr(ev.file.as_ref().and_then(|f| f.c_path())),
                body,
                body_len,
                response_type: ev.response_type as net_response_type,
                base_dir: ev.file.as_ref().map_or(0, |f| f.dir as net_dir),
                filename: opt_ptr(ev.file.as_ref().map(|f| f.filename())),
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
