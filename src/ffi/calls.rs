//! The exported functions. Each one: catch panics, check and copy the
//! arguments, call the global client, return.
//!
//! Ownership vocabulary used in every doc comment (and so in the header):
//! - "Copied before return": netdl keeps no pointer to the argument.
//! - "Borrowed; valid until the next net_poll": owned by netdl; valid until
//!   the next poll or wait of the same queue (`net_poll` / `net_wait` for
//!   the default queue, `net_queue_poll` / `net_queue_wait` for another),
//!   that queue's `net_queue_destroy`, or `net_shutdown`; never freed by
//!   the caller.
//! - "Static": valid for the life of the process.
//! - "Thread-safety: any thread": may be called from any thread at once.

use std::ffi::{c_char, c_int, CStr};
use std::path::Path;
use std::time::Duration;

use super::params::{options, queue, str_arg, user_data};
use super::types::*;
use super::view::Sealed;
use super::{client, guard, shutdown};
use crate::client::Client;
use crate::dirs::BaseDir;
use crate::error::{Error, ErrorKind};
use crate::queue::Queue;
use crate::request::Options;

/// Starts downloading `url` into the file `filename` inside `base_dir`.
///
/// Returns the request's id (never 0). Every problem — a NULL or malformed
/// URL, an unsupported scheme, a bad method, header or filename,
/// `NET_DIR_RESOURCE`, an unwritable directory, any network failure — is
/// reported by the request's one `NET_PHASE_ENDED` event with `is_error`
/// set, never by the return value. Returns 0 only after `net_shutdown`.
///
/// The body goes to a file with no name in the target's folder
/// (`O_TMPFILE`; where the file system has none, a hidden temporary file
/// beside the target), which becomes the target only when the transfer
/// succeeds with a 2xx status; otherwise the target is left as it was, and
/// even a crash leaves no partial file under the target's name. Missing
/// directories are created.
///
/// - `url`: http:// or https://, percent-encoded ASCII. Copied before return.
/// - `method`: "GET", "POST", "HEAD", "PUT", "DELETE", "PATCH" or any other
///   HTTP token; upper-cased. NULL is allowed and means "GET". Copied before
///   return.
/// - `params`: NULL is allowed and means all defaults. Copied before return.
/// - `filename`: a relative path inside `base_dir`; no "..", not absolute.
///   Copied before return.
/// - `base_dir`: one of `NET_DIR_*` except `NET_DIR_RESOURCE`.
///
/// Thread-safety: any thread.
///
/// # Safety
/// Each pointer is NULL or valid as described, for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn net_download(
    url: *const c_char,
    method: *const c_char,
    params: *const net_params,
    filename: *const c_char,
    base_dir: net_dir,
) -> net_id {
    // SAFETY: the caller guarantees every pointer is NULL or valid for
    // this call; `submit` and the closure read them only during it.
    unsafe {
        submit(url, method, params, |client, url, method, opts| {
            let filename = str_arg(filename, "filename")?;
            let dir = BaseDir::try_from(base_dir)?;
            Ok(client.download(url, method, opts, filename, dir))
        })
    }
}

/// Starts a request whose response body is delivered in memory, in the
/// `body` of its `NET_PHASE_ENDED` event (up to `net_params.max_body`,
/// default 64 MiB). Arguments, return value and error reporting as
/// `net_download`.
///
/// Thread-safety: any thread.
///
/// # Safety
/// Each pointer is NULL or valid as described, for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn net_request(
    url: *const c_char,
    method: *const c_char,
    params: *const net_params,
) -> net_id {
    // SAFETY: the caller guarantees every pointer is NULL or valid for
    // this call.
    unsafe {
        submit(url, method, params, |client, url, method, opts| {
            Ok(client.request(url, method, opts))
        })
    }
}

/// The common part of `net_download` and `net_request`: reads the URL,
/// method and params, then lets `start` read the rest and submit. Any
/// failure, a panic included, is still an id whose `ended` event reports
/// it (with the params' `user_data`, in the params' queue).
///
/// # Safety
/// `url`, `method` and `params` are NULL or valid for this call, and so is
/// whatever `start` reads.
unsafe fn submit(
    url: *const c_char,
    method: *const c_char,
    params: *const net_params,
    start: impl FnOnce(&Client, &str, &str, Options) -> Result<net_id, Error>,
) -> net_id {
    guard!(0, {
        let Some(client) = client() else { return 0 };
        // SAFETY (this block): forwarded contract.
        let user_data = unsafe { user_data(params) };
        let queue = unsafe { queue(params) };
        // `Client::download` / `request` end their own id after a panic;
        // this catches one before an id exists.
        let started = guard!(Err(internal_panic()), {
            let url = unsafe { str_arg(url, "url") }?;
            let method = unsafe { method_arg(method) }?;
            let opts = unsafe { options(params) }?;
            #[cfg(test)]
            if url.contains("netdl-test-panic-in-params") {
                panic!("test: a panic while reading the arguments");
            }
            start(client, url, method, opts)
        });
        started.unwrap_or_else(|e| client.reject(queue.as_ref(), user_data, e))
    })
}

fn internal_panic() -> Error {
    Error::new(
        ErrorKind::Internal,
        "netdl bug: a panic while reading the arguments",
    )
}

/// # Safety
/// `method` is NULL or a valid C string.
unsafe fn method_arg<'a>(method: *const c_char) -> Result<&'a str, Error> {
    if method.is_null() {
        Ok("GET")
    } else {
        // SAFETY: forwarded contract.
        unsafe { str_arg(method, "method") }
    }
}

/// Cancels a request. Returns true when it was still live: its
/// `NET_PHASE_ENDED` event had not been handed out yet. From the moment
/// this returns, no event of `id` is delivered (not even one already
/// queued), so the object behind its `user_data` may be freed right away.
/// Never blocks: the network thread stops the transfer and deletes its
/// temporary file right after. A download that had already completed keeps
/// its finished file. Returns false for 0, unknown, finished or
/// already cancelled ids, and after `net_shutdown`.
///
/// Thread-safety: any thread (also from inside an event handler).
#[no_mangle]
pub extern "C" fn net_cancel(id: net_id) -> bool {
    guard!(false, { client().is_some_and(|c| c.cancel(id)) })
}

/// Copies up to `capacity` pending events of the default queue into `out`
/// and returns how many. Never blocks: returns 0 at once when nothing is
/// pending (also for a NULL `out`, a `capacity` of 0, and after
/// `net_shutdown`).
///
/// The pointers inside the events are Borrowed; valid until the next
/// net_poll (or `net_wait`, or `net_shutdown`) call. Events not fitting in
/// `capacity` stay queued for the next call.
///
/// Call it once per frame from one thread (the game's main thread), or when
/// `net_event_fd` is readable; every event is delivered through it, never
/// from a netdl thread. A call with nothing pending costs about 15 ns; no
/// call allocates or makes a system call while transfers run (except, once
/// `net_event_fd` was asked for, the read that clears it when a call
/// leaves the queue empty). Each event delivered is a copy of its
/// prebuilt view: about 25 ns, up to 100 ns when other threads keep the
/// caches busy. `capacity` bounds the time one call takes.
///
/// Thread-safety: any thread; calls on one queue are serialized (and each
/// ends the life of the events the previous one handed out), so poll each
/// queue from one thread at a time.
///
/// # Safety
/// `out` is NULL or valid for writing `capacity` events.
#[no_mangle]
pub unsafe extern "C" fn net_poll(out: *mut net_event, capacity: usize) -> usize {
    // SAFETY: forwarded contract; NULL is the default queue.
    unsafe { poll(std::ptr::null_mut(), out, capacity, None) }
}

/// Like `net_poll`, but when nothing is pending waits up to `timeout_ms`
/// milliseconds for the first event. For tools and tests; a game loop
/// should use `net_poll`.
///
/// Thread-safety: as `net_poll`.
///
/// # Safety
/// `out` is NULL or valid for writing `capacity` events.
#[no_mangle]
pub unsafe extern "C" fn net_wait(out: *mut net_event, capacity: usize, timeout_ms: u32) -> usize {
    let timeout = Duration::from_millis(timeout_ms.into());
    // SAFETY: forwarded contract; NULL is the default queue.
    unsafe { poll(std::ptr::null_mut(), out, capacity, Some(timeout)) }
}

/// Creates an event queue. Requests started with `net_params.queue` set to
/// it deliver their events to it, and only to it; drain it with
/// `net_queue_poll` (never blocks) or `net_queue_wait`. Its event memory
/// stays valid until its own next poll or wait, whatever other queues do.
/// Returns NULL only after `net_shutdown`.
///
/// Owned by the caller: free it with `net_queue_destroy` (before or after
/// `net_shutdown`).
///
/// Thread-safety: any thread.
#[no_mangle]
pub extern "C" fn net_queue_create() -> *mut net_queue {
    guard!(std::ptr::null_mut(), {
        match client().and_then(Client::create_queue) {
            Some(queue) => Box::into_raw(Box::new(net_queue { queue })),
            None => std::ptr::null_mut(),
        }
    })
}

/// Destroys a queue made by `net_queue_create`: cancels its live requests
/// silently (as `net_cancel`), drops its pending events, frees the events
/// its last poll handed out and closes its `net_queue_event_fd`. Other
/// queues, and requests of other queues, are not touched. NULL is allowed
/// and does nothing.
///
/// Thread-safety: any thread, but no other call may use `q` at the same
/// time or afterwards (nor a `net_params` naming it).
///
/// # Safety
/// `q` is NULL or a queue from `net_queue_create` not destroyed before.
#[no_mangle]
pub unsafe extern "C" fn net_queue_destroy(q: *mut net_queue) {
    if q.is_null() {
        return;
    }
    // SAFETY: `q` came from `Box::into_raw` in `net_queue_create` and is
    // destroyed once (caller's contract); nobody else uses it now.
    let q = unsafe { Box::from_raw(q) };
    guard!((), {
        match client() {
            Some(c) => c.destroy_queue(&q.queue),
            // After shutdown the queue is closed already: free its events.
            None => q.queue.0.release_held(),
        }
    })
}

/// `net_poll` for the queue `q` (NULL: the default queue, as `net_poll`).
///
/// Thread-safety: any thread; calls on one queue are serialized; two
/// threads may each poll their own queue at once.
///
/// # Safety
/// `q` is NULL or a live queue from `net_queue_create`; `out` is NULL or
/// valid for writing `capacity` events.
#[no_mangle]
pub unsafe extern "C" fn net_queue_poll(
    q: *mut net_queue,
    out: *mut net_event,
    capacity: usize,
) -> usize {
    // SAFETY: forwarded contract.
    unsafe { poll(q, out, capacity, None) }
}

/// `net_wait` for the queue `q` (NULL: the default queue, as `net_wait`).
///
/// Thread-safety: as `net_queue_poll`.
///
/// # Safety
/// As `net_queue_poll`.
#[no_mangle]
pub unsafe extern "C" fn net_queue_wait(
    q: *mut net_queue,
    out: *mut net_event,
    capacity: usize,
    timeout_ms: u32,
) -> usize {
    let timeout = Duration::from_millis(timeout_ms.into());
    // SAFETY: forwarded contract.
    unsafe { poll(q, out, capacity, Some(timeout)) }
}

/// A file descriptor that is readable exactly while the default queue has
/// events waiting, for hosts built on `poll` / `epoll` / `select` loops
/// (libuv, asyncio, a server's event loop, a tool) instead of frames.
/// Watch it for reading; when it is readable, drain with `net_poll` (or
/// `net_wait`). `net_queue_event_fd` gives the same for another queue.
///
/// Level-style, as the host sees it:
/// - Events arriving make it readable (one write by the network thread when
///   the fd is not readable already, not one per event).
/// - A poll or wait that leaves the queue empty makes it unreadable (it
///   reads the fd, nonblocking), whatever its capacity; one that leaves
///   events behind (it filled `capacity`) leaves it readable.
/// - So a level-triggered loop may poll once per wake-up, with any
///   capacity: whatever it leaves wakes it again. Edge-triggered
///   (`EPOLLET`): after each wake-up, poll until a call returns less than
///   its capacity; such a call always leaves the fd unreadable, so the next
///   event makes a new edge.
/// - Races only add wake-ups, never lose one: events that arrive between
///   the wake-up and the poll are handed out by that poll, and events that
///   arrive just after it emptied the queue make the fd readable again.
///   A poll after a wake-up returns 0 only when another call polled the
///   queue since, or every event waiting was of a request cancelled
///   meanwhile (`net_cancel`): a loop that polls only on wake-ups and
///   cancels nothing never wakes up for nothing.
///
/// Owned by netdl: never read, write or close it (reading it yourself
/// would lose a wake-up). Made on the first call (an `eventfd(2)` with
/// `EFD_NONBLOCK | EFD_CLOEXEC`; a program that never asks pays nothing);
/// every later call returns the same descriptor. Valid until
/// `net_shutdown`, which closes it: take it out of your loop before.
///
/// Returns -1 when there is no fd, with `errno` set: `ESHUTDOWN` after
/// `net_shutdown`; `EMFILE`, `ENFILE` or `ENOMEM` when `eventfd(2)` fails
/// (a later call tries again).
///
/// Thread-safety: any thread.
#[no_mangle]
pub extern "C" fn net_event_fd() -> c_int {
    guard!(-1, { event_fd(None) })
}

/// `net_event_fd` for the queue `q` (NULL: the default queue, as
/// `net_event_fd`): readable exactly while `q` has events waiting, cleared
/// by the `net_queue_poll` / `net_queue_wait` that leaves `q` empty. Each
/// queue has its own fd, independent of the others. Valid until
/// `net_queue_destroy(q)` or `net_shutdown`, which close it. Returns -1
/// as `net_event_fd`.
///
/// Thread-safety: any thread.
///
/// # Safety
/// `q` is NULL or a live queue from `net_queue_create`.
#[no_mangle]
pub unsafe extern "C" fn net_queue_event_fd(q: *mut net_queue) -> c_int {
    // SAFETY: NULL or a live queue (caller's contract).
    let queue = unsafe { q.as_ref() }.map(|q| &q.queue);
    guard!(-1, { event_fd(queue) })
}

/// The wake-up fd of `queue` (None: the default queue), or -1 with
/// `errno` set.
fn event_fd(queue: Option<&Queue>) -> c_int {
    let made = match client() {
        Some(client) => client.event_fd(queue),
        None => Err(std::io::Error::from_raw_os_error(libc::ESHUTDOWN)),
    };
    made.unwrap_or_else(|e| {
        let code = e.raw_os_error().unwrap_or(libc::EIO);
        // SAFETY: `__errno_location` returns this thread's errno, valid
        // for writing for the life of the thread.
        unsafe { *libc::__errno_location() = code };
        -1
    })
}

/// The four polls: ends the life of the events the queue's previous poll
/// handed out, then copies up to `capacity` events into `out`, waiting up
/// to `timeout` for the first when it is given.
///
/// # Safety
/// `q` is NULL or a live queue; `out` is NULL or valid for writing
/// `capacity` events.
unsafe fn poll(
    q: *mut net_queue,
    out: *mut net_event,
    capacity: usize,
    timeout: Option<Duration>,
) -> usize {
    guard!(0, {
        let Some(client) = client() else { return 0 };
        // SAFETY: NULL or a live queue (caller's contract).
        let queue: Option<&Queue> = unsafe { q.as_ref() }.map(|q| &q.queue);
        // A NULL `out` still ends the previous batch's life (as a poll
        // with room for nothing).
        let capacity = if out.is_null() { 0 } else { capacity };
        // SAFETY: `out` has room for `capacity` events (caller's contract),
        // and nothing is written when `capacity` is 0.
        let copy = unsafe { copy_to(out) };
        client.poll_c(queue, capacity, timeout, copy)
    })
}

/// Copies each delivered event's C view to `out[i]`. The events stay in
/// their queue (which owns what the views point into) until its next poll.
///
/// # Safety
/// `out` must be valid for writing as many events as the poll may deliver
/// (its `capacity`): the caller of `net_poll` / `net_wait` guarantees it.
unsafe fn copy_to(out: *mut net_event) -> impl FnMut(usize, &Sealed) {
    // SAFETY: `i` is below the number of events delivered by this call,
    // at most `capacity`, for which `out` has room (see above).
    move |i, ev| unsafe { out.add(i).write(*ev.c()) }
}

/// Sets where `dir` lives for requests started from now on. `path` must be
/// absolute; it is created on first use. Returns false for an unknown
/// `dir`, a NULL, relative or non-UTF-8 `path`, or after `net_shutdown`.
/// `NET_DIR_RESOURCE` may be set too (as a source of body files).
///
/// `path`: Copied before return. Thread-safety: any thread.
///
/// # Safety
/// `path` is NULL or a valid C string.
#[no_mangle]
pub unsafe extern "C" fn net_set_directory(dir: net_dir, path: *const c_char) -> bool {
    guard!(false, {
        let Some(client) = client() else { return false };
        // SAFETY: the caller guarantees `path` is NULL or a valid C string.
        let path = unsafe { str_arg(path, "path") };
        match (BaseDir::try_from(dir), path) {
            (Ok(dir), Ok(path)) => client.set_directory(dir, Path::new(path)).is_ok(),
            _ => false,
        }
    })
}

/// Writes the path `dir` currently resolves to into `buf` (NUL-terminated)
/// when it fits in `capacity` bytes. Returns the path's length without the
/// NUL (call again with a larger buffer if it is >= `capacity`), or 0 for
/// an unknown `dir` or after `net_shutdown`. Nothing is created.
///
/// Thread-safety: any thread.
///
/// # Safety
/// `buf` is NULL or valid for writing `capacity` bytes.
#[no_mangle]
pub unsafe extern "C" fn net_get_directory(
    dir: net_dir,
    buf: *mut c_char,
    capacity: usize,
) -> usize {
    guard!(0, {
        let Some(client) = client() else { return 0 };
        let Ok(path) = BaseDir::try_from(dir).and_then(|d| client.directory(d)) else {
            return 0;
        };
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        if !buf.is_null() && bytes.len() < capacity {
            // SAFETY: `buf` has room for `capacity` > len bytes (caller's
            // contract); the source is a distinct Rust allocation.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), bytes.len());
                *buf.add(bytes.len()) = 0;
            }
        }
        bytes.len()
    })
}

/// Sets the application name the default directories are made of (see
/// `net_dir`), for requests started from now on. It must be one non-empty
/// path component. Returns false otherwise, or after `net_shutdown`.
///
/// `name`: Copied before return. Thread-safety: any thread.
///
/// # Safety
/// `name` is NULL or a valid C string.
#[no_mangle]
pub unsafe extern "C" fn net_set_app_name(name: *const c_char) -> bool {
    guard!(false, {
        let Some(client) = client() else { return false };
        // SAFETY: the caller guarantees `name` is NULL or a valid C string.
        unsafe { str_arg(name, "name") }.is_ok_and(|n| client.set_app_name(n).is_ok())
    })
}

/// Sets how many requests run at once (default 64; the rest wait in a
/// queue that holds no socket) and how many connections may go to one
/// host (default 64; HTTP/2 multiplexes many requests over one). Both must
/// be at least 1. Returns false otherwise, or after `net_shutdown`.
///
/// Thread-safety: any thread.
#[no_mangle]
pub extern "C" fn net_set_limits(max_transfers: u32, max_per_host: u32) -> bool {
    guard!(false, {
        client().is_some_and(|c| {
            c.set_limits(max_transfers as usize, max_per_host as usize)
                .is_ok()
        })
    })
}

/// Pauses every transfer at once, for an application going to the
/// background: from the moment the network thread sees it (within
/// microseconds) no byte moves; running transfers are taken off their
/// connections (the sockets may be closed) and keep their data; queued
/// requests and retries do not start; inactivity timeouts do not run.
/// No event is produced while suspended, except the `ended` events of
/// requests cancelled (none, as always) or failing for local reasons. New
/// requests may be started; they wait. Idempotent; never blocks.
///
/// Thread-safety: any thread.
#[no_mangle]
pub extern "C" fn net_suspend() {
    guard!((), {
        if let Some(c) = client() {
            c.suspend()
        }
    })
}

/// Ends `net_suspend`: every download continues where its data ends (by a
/// `Range` request when its connection was closed, as a retry would, but
/// without counting as one), in-memory requests that were interrupted start
/// again from the beginning, and queued requests start. Idempotent; never
/// blocks.
///
/// Thread-safety: any thread.
#[no_mangle]
pub extern "C" fn net_resume() {
    guard!((), {
        if let Some(c) = client() {
            c.resume()
        }
    })
}

/// Starts again every download of the journal (`net_options.persist`)
/// that an earlier process left unfinished (it was killed, crashed or
/// called `net_shutdown`), continuing from its data on disk, and returns
/// how many it started. Each gets a new id; every one of its events has
/// `NET_EVENT_RESTORED` in `flags` and its `tag`, and the first is a
/// `NET_PHASE_BEGAN` even when `progress` is off, so the application
/// learns the id (events go to the default queue; `user_data` is NULL).
/// A download another live process is running is left to it; calling it
/// twice starts nothing twice. A journal that cannot be read whole
/// (truncated, damaged, written by a newer netdl) is moved aside into
/// `netdl-journal/damaged/` with a line on stderr after its readable
/// records are taken, and never stops the others. A record that no longer
/// makes a valid request (its base directory's setting changed, or the
/// journal was altered) is counted too: its `began` is followed at once by
/// an `ended` with the error (e.g. `NET_ERROR_INVALID_ARGUMENT`), both with
/// the flag and tag, and the record is dropped. Call it after
/// `net_set_app_name` / `net_set_directory`: the journal is in
/// `NET_DIR_APPLICATION_SUPPORT`. Reads the journal on the
/// calling thread (a few small files). Returns 0 after `net_shutdown`.
///
/// Thread-safety: any thread.
#[no_mangle]
pub extern "C" fn net_restore() -> usize {
    guard!(0, { client().map_or(0, |c| c.restore()) })
}

/// `net_restore` with the restored downloads' events going to `q` (a
/// queue from `net_queue_create`; NULL: the default queue), for a
/// consumer polling its own queue (a binding, a plugin). Returns 0 after
/// `net_shutdown` or for a destroyed queue.
///
/// Thread-safety: any thread.
///
/// # Safety
/// `q` is NULL or a live queue from `net_queue_create`.
#[no_mangle]
pub unsafe extern "C" fn net_queue_restore(q: *mut net_queue) -> usize {
    // SAFETY: NULL or a live queue (caller's contract).
    let queue = unsafe { q.as_ref() }.map(|q| &q.queue);
    guard!(0, { client().map_or(0, |c| c.restore_to(queue)) })
}

/// Changes the priority of a request (`net_options.priority`): a queued
/// one moves to its new place (after the requests already queued with that
/// priority); for a running one it changes only its share of a bandwidth
/// cap. Returns true when the request is queued or running, false for
/// unknown, finished or cancelled ids and after `net_shutdown`. A queued
/// request is found by walking the queue: O(queued requests).
///
/// Thread-safety: any thread.
#[no_mangle]
pub extern "C" fn net_set_priority(id: net_id, priority: i32) -> bool {
    guard!(false, {
        client().is_some_and(|c| c.set_priority(id, priority))
    })
}

/// Caps the receive rate of all transfers together, in bytes per second
/// (0: no cap, the default). Over any 10 s the average stays within 5 % of
/// the cap; running transfers share it by priority (see the README,
/// "Priorities and bandwidth caps"), each also within its own `net_options.max_speed`. A
/// change applies within a second, to running transfers too.
///
/// Thread-safety: any thread.
#[no_mangle]
pub extern "C" fn net_set_max_speed(bytes_per_second: u64) {
    guard!((), {
        if let Some(c) = client() {
            c.set_max_speed(bytes_per_second)
        }
    })
}

/// Stops every transfer, deletes their temporary files, joins the network
/// thread (promptly, even with slow transfers in flight) and frees all
/// memory, including the last polled events of every queue, and closes
/// every queue's `net_queue_event_fd` (`net_event_fd` too). No event is
/// delivered after it; every later call returns 0 / false / NULL, except
/// `net_queue_destroy`, which still frees its queue. Calling it again
/// does nothing.
///
/// Thread-safety: any thread; do not use events from the last poll after it.
#[no_mangle]
pub extern "C" fn net_shutdown() {
    guard!((), { shutdown() })
}

/// The library's version, e.g. "0.1.0". Static.
///
/// Thread-safety: any thread.
#[no_mangle]
pub extern "C" fn net_version() -> *const c_char {
    const VERSION: &CStr = crate::cstr(concat!(env!("CARGO_PKG_VERSION"), "\0"));
    VERSION.as_ptr()
}

/// The name of an error code, e.g. "NET_ERROR_TIMEOUT" for
/// `NET_ERROR_TIMEOUT`; "NET_ERROR_UNKNOWN" for values this version does
/// not know. Static; never NULL.
///
/// Thread-safety: any thread.
#[no_mangle]
pub extern "C" fn net_error_name(code: net_error) -> *const c_char {
    let name: &CStr = match ErrorKind::from_code(code) {
        Some(kind) => kind.c_name(),
        None if code == NET_ERROR_NONE => c"NET_ERROR_NONE",
        None => c"NET_ERROR_UNKNOWN",
    };
    name.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rule: a panic inside `net_request` while reading its arguments
    /// (before an id exists) or while starting the request (after) returns
    /// an id, which ends with NET_ERROR_INTERNAL in the params' queue.
    #[test]
    fn panics_inside_net_request_end_their_id() {
        let q = net_queue_create();
        assert!(!q.is_null());
        for url in [
            c"http://127.0.0.1:9/netdl-test-panic-in-params",
            c"http://127.0.0.1:9/netdl-test-panic-in-submit",
        ] {
            let params = net_params {
                queue: q,
                // SAFETY: every field of net_params is an integer or a raw
                // pointer: all zero is a valid value.
                ..unsafe { std::mem::zeroed() }
            };
            // SAFETY: valid C strings and params for the call.
            let id = unsafe { net_request(url.as_ptr(), std::ptr::null(), &params) };
            assert_ne!(id, 0);
            // SAFETY: `ev` has room for 4 events; `q` is live.
            let mut ev: [net_event; 4] = unsafe { std::mem::zeroed() };
            let n = unsafe { net_queue_wait(q, ev.as_mut_ptr(), 4, 5000) };
            assert_eq!(n, 1);
            assert_eq!((ev[0].id, ev[0].phase), (id, NET_PHASE_ENDED));
            assert_eq!(ev[0].error_code, NET_ERROR_INTERNAL);
            assert!(!net_cancel(id));
        }
        // SAFETY: created above, destroyed once.
        unsafe { net_queue_destroy(q) };
    }
}
