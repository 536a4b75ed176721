//! The owned event the network thread sends and `poll` hands out.
//!
//! Strings are kept NUL-terminated (`CStr`) so the C layer can point at
//! them without copying; pieces shared by several events of one request
//! (URL, headers, path) are reference-counted.

use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use crate::dirs::BaseDir;
use crate::error::Error;

/// The phase of a request an event reports (`net_phase` in C).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Phase {
    Began = 0,
    Progress = 1,
    Ended = 2,
}

/// Whether a body looks like text (`net_response_type` in C).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ResponseType {
    Text = 0,
    Binary = 1,
}

/// One response header, bytes as received (no CR, LF or NUL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: Box<CStr>,
    pub value: Box<CStr>,
}

impl Header {
    pub fn name(&self) -> &str {
        self.name.to_str().unwrap_or("")
    }
    pub fn value_lossy(&self) -> String {
        self.value.to_string_lossy().into_owned()
    }
}

/// The latest byte count of a running request, shared between the network
/// thread and `poll`, so at most one progress event per request is ever
/// queued and it reports the newest count when it is delivered.
#[derive(Debug, Default)]
pub struct ProgressSlot {
    pub(crate) transferred: AtomicI64,
    pub(crate) queued: AtomicBool,
}

impl ProgressSlot {
    /// Called by the network thread: true when a progress event may be sent.
    pub(crate) fn claim(&self) -> bool {
        !self.queued.swap(true, Ordering::AcqRel)
    }
    /// Called by `poll` when it delivers (or drops) the queued event.
    pub(crate) fn release(&self) -> i64 {
        self.queued.store(false, Ordering::Release);
        self.transferred.load(Ordering::Acquire)
    }
}

/// An event about one request.
#[derive(Clone, Debug)]
pub struct Event {
    pub id: u64,
    pub user_data: usize,
    pub phase: Phase,
    /// Set when the request failed (only on `Ended`).
    pub error: Option<Error>,
    /// HTTP status of the final response; 0 when none arrived.
    pub status: i32,
    pub bytes_transferred: i64,
    /// Content-Length of the final response, or -1 when unknown.
    pub bytes_estimated: i64,
    /// The final URL after redirects (the request URL until it is known).
    pub url: Arc<CStr>,
    /// Response headers of the final response (empty before `Began`).
    pub headers: Arc<[Header]>,
    /// Downloads: the full path of the target file.
    pub path: Option<Arc<CStr>>,
    /// Downloads: the filename as given, and its base directory.
    pub filename: Option<(Arc<CStr>, BaseDir)>,
    /// Requests (and non-2xx downloads): the response body, on `Ended`.
    pub body: Option<Vec<u8>>,
    pub response_type: ResponseType,
    pub(crate) progress: Option<Arc<ProgressSlot>>,
}

impl Event {
    pub fn is_error(&self) -> bool {
        self.error.is_some()
    }
    pub fn url(&self) -> String {
        self.url.to_string_lossy().into_owned()
    }
    pub fn path(&self) -> Option<std::path::PathBuf> {
        use std::os::unix::ffi::OsStrExt;
        self.path
            .as_ref()
            .map(|p| std::ffi::OsStr::from_bytes(p.to_bytes()).into())
    }
    /// The first header with this name (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|h| h.name().eq_ignore_ascii_case(name))
            .map(Header::value_lossy)
    }
}

/// An `ended` event for a request that never started (or failed before a
/// response): no status, no headers.
pub(crate) fn failed(
    id: u64,
    user_data: usize,
    url: &str,
    filename: Option<(Arc<CStr>, BaseDir)>,
    err: Error,
) -> Event {
    Event {
        id,
        user_data,
        phase: Phase::Ended,
        error: Some(err),
        status: 0,
        bytes_transferred: 0,
        bytes_estimated: -1,
        url: Arc::from(std::ffi::CString::new(url).unwrap_or_default()),
        headers: Arc::from(Vec::new()),
        path: None,
        filename,
        body: None,
        response_type: ResponseType::Binary,
        progress: None,
    }
}
