//! The C view of an event (`net_event`), built when the event is sent
//! (`queue::EventTx`, usually on the network thread), so that a poll only
//! copies 192 bytes per event into the caller's array: the game's frame
//! pays for no conversion, allocation or pointer chasing. Where events wait
//! and how their memory is recycled is `crate::queue`'s business.

use std::ffi::{c_char, CStr, CString};
use std::mem::{offset_of, size_of};
use std::ptr;
use std::sync::Arc;

use super::types::*;

use crate::error::{Error, ErrorKind};
use crate::event::{Event, Headers, Phase, ProgressSlot, ResponseType};
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
    /// `c.tag` points into it.
    tag: Option<Arc<CStr>>,
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
            attempt,
            flags,
            bytes_received,
            tag,
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
            attempt,
            flags,
            bytes_received,
            tag: opt_ptr(tag.as_deref()),
            reserved: [0; 5],
        };
        Box::new(Sealed {
            c,
            progress,
            url,
            headers,
            file,
            body,
            error,
            tag,
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
            attempt: c.attempt,
            flags: c.flags,
            bytes_received: c.bytes_received,
            tag: self.tag,
            progress: None,
        }
    }

    /// Asks the CPU to start loading what `poll` reads (the view, and the
    /// progress slot). A hint only; nothing off x86-64.
    pub fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let p: *const i8 = (self as *const Sealed).cast();
            // The 192-byte view (copied out whole) and the progress slot
            // after it: these addresses hit every cache line they touch,
            // whatever the allocation's alignment (layout asserted below).
            for offset in PREFETCH_OFFSETS {
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

/// The bytes `prefetch` touches: one in every 64 of the view, its last
/// byte, and the last byte of the progress slot that follows it.
const PREFETCH_OFFSETS: [usize; 5] = [0, 64, 128, VIEW_END - 1, SLOT_END - 1];
const VIEW_END: usize = size_of::<net_event>();
const SLOT_END: usize = offset_of!(Sealed, progress) + size_of::<Option<Arc<ProgressSlot>>>();

// The layout `prefetch` and `poll` assume: the view first, 192 bytes, the
// progress slot (one word: a niche-optimised Arc) right after it, and
// every prefetched byte inside the value.
const _: () = {
    assert!(offset_of!(Sealed, c) == 0);
    assert!(VIEW_END == 192);
    assert!(offset_of!(Sealed, progress) == VIEW_END);
    assert!(size_of::<Option<Arc<ProgressSlot>>>() == size_of::<usize>());
    assert!(SLOT_END <= size_of::<Sealed>());
    let mut i = 1;
    while i < PREFETCH_OFFSETS.len() {
        // Consecutive addresses at most 64 bytes apart hit every line.
        assert!(PREFETCH_OFFSETS[i] - PREFETCH_OFFSETS[i - 1] <= 64);
        i += 1;
    }
};
