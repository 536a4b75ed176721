//! The C ABI: every exported function and every type C can see.
//!
//! Raw pointers are made and read only here: by the exports, by `view`
//! (each event's C view, built on the thread that sends the event) and by
//! `event::Headers` (a header block laid out as its C view). The rest of
//! the crate's unsafe code is calls into libcurl and libc (options,
//! `linkat`, `malloc_trim`, `getuid`). Each export catches
//! panics (no unwinding across the boundary, and no abort), checks its
//! pointers, copies what it needs and hands over to the global [`Client`].

#![allow(non_camel_case_types)]

mod arena;
mod calls;
mod params;
pub mod types;
pub(crate) mod view;

pub use calls::*;
pub use types::*;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use once_cell::sync::{Lazy, OnceCell};

use crate::client::Client;
use arena::Arena;

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
/// The events handed out by the last `net_poll` / `net_wait`.
static ARENA: Lazy<Mutex<Arena>> = Lazy::new(Mutex::default);

/// The global client, started on first use; `None` after `net_shutdown`
/// (or if the network thread could not start).
fn client() -> Option<&'static Client> {
    if SHUT_DOWN.load(Ordering::Acquire) {
        return None;
    }
    CLIENT.get_or_init(|| Client::new().ok()).as_ref()
}

fn arena() -> MutexGuard<'static, Arena> {
    crate::lock(&ARENA)
}

fn shutdown() {
    SHUT_DOWN.store(true, Ordering::Release);
    if let Some(Some(c)) = CLIENT.get() {
        c.shutdown();
    }
    arena().reset(None);
}
