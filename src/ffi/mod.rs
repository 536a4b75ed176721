//! The C ABI: every exported function and every type C can see.
//!
//! Raw pointers are made and read only here: by the exports, by `view`
//! (each event's C view, built when the event is sent) and by
//! `event::Headers` (a header block laid out as its C view). The rest of
//! the crate's unsafe code is calls into libcurl and libc (options,
//! `linkat`, `getuid`). Each export catches panics (no unwinding across
//! the boundary, and no abort), checks its pointers, copies what it needs
//! and hands over to the global [`Client`]. Where events wait, and the
//! memory behind the events a poll hands out, is `crate::queue`'s.

#![allow(non_camel_case_types)]

mod calls;
mod params;
pub mod types;
pub(crate) mod view;

pub use calls::*;
pub use types::*;

use std::sync::atomic::{AtomicBool, Ordering};

use once_cell::sync::OnceCell;

use crate::client::Client;

/// Runs an export's body; a panic returns `$default` instead of unwinding
/// into C.
macro_rules! guard {
    ($default:expr, $body:block) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(v) => v,
            Err(_) => $default,
        }
    };
}
pub(crate) use guard;

static CLIENT: OnceCell<Option<Client>> = OnceCell::new();
static SHUT_DOWN: AtomicBool = AtomicBool::new(false);

/// The global client, started on first use; `None` after `net_shutdown`
/// (or if the network thread could not start).
fn client() -> Option<&'static Client> {
    if SHUT_DOWN.load(Ordering::Acquire) {
        return None;
    }
    CLIENT.get_or_init(|| Client::new().ok()).as_ref()
}

/// Ends the global client (it frees every queue's events).
fn shutdown() {
    SHUT_DOWN.store(true, Ordering::Release);
    if let Some(Some(c)) = CLIENT.get() {
        c.shutdown();
    }
}
