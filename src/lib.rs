//! netdl: HTTP(S) downloads and requests with `began` / `progress` /
//! `ended` events, behind a C ABI (`include/netdl.h`).
//!
//! One background thread per [`Client`] drives a libcurl multi handle;
//! callers queue requests in its `backlog` (packed: 100,000 queued
//! downloads take a few megabytes), send it cancels over a channel and
//! drain its events with [`Client::poll`] (or a [`Queue`] of their own),
//! typically once per frame. The C functions (`net_*`, in [`ffi`]) wrap one
//! global client created on first use.
//!
//! Layout: [`ffi`] is the C ABI: the exports, the types C sees, and the
//! C view of an event (`ffi::view`, built once when the event is sent, so
//! that a poll only copies it; [`event::Headers`] keeps a header block's
//! `net_header` array beside its bytes for the same reason). [`queue`]
//! owns everything between the threads: the event queues, the network
//! thread's outbox, the batches handed to C and their recycling. `agent`
//! is the network thread and dereferences no raw pointer; [`client`] sits
//! between the callers and it. `backlog` holds the requests not started
//! yet; `live` is a set of request ids (those whose `ended` event has not
//! been handed out, and those queued).

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_debug_implementations, rust_2018_idioms)]

mod agent;
mod backlog;
pub mod client;
pub mod dirs;
pub mod error;
pub mod event;
pub mod ffi;
mod journal;
mod live;
pub mod queue;
pub mod request;

pub use client::Client;
pub use dirs::BaseDir;
pub use error::{Error, ErrorKind};
pub use event::{Event, Headers, Phase, ResponseType};
pub use queue::Queue;
pub use request::{Body, BodyType, Fetch, FilePath, Options};

/// Locks `m`, also after a panic while it was held: every lock in the
/// crate guards plain data (ids, paths, queues of owned events) that stays
/// valid whatever line the panic interrupted.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `s` as a shared C string, NUL bytes dropped (for reporting what a
/// caller passed, even when it was rejected for holding one).
pub(crate) fn lossy_cstr(s: &str) -> std::sync::Arc<std::ffi::CStr> {
    let clean: Vec<u8> = s.bytes().filter(|&b| b != 0).collect();
    std::sync::Arc::from(std::ffi::CString::new(clean).unwrap_or_default())
}

/// A `&'static CStr` from a string literal ending in NUL (checked at
/// compile time when used in a const).
pub(crate) const fn cstr(s: &'static str) -> &'static std::ffi::CStr {
    match std::ffi::CStr::from_bytes_with_nul(s.as_bytes()) {
        Ok(c) => c,
        Err(_) => panic!("not a NUL-terminated string without inner NUL"),
    }
}
