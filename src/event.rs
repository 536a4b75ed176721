//! The owned event the network thread sends and `poll` hands out.
//!
//! Strings are kept NUL-terminated (`CStr`) so the C layer can point at
//! them without copying; pieces shared by several events of one request
//! (URL, headers, path) are reference-counted.

use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use crate::error::Error;
use crate::ffi::types::net_header;
use crate::request::FilePath;

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

/// The header block of one response, in one shared allocation: the C view
/// (`net_header` pointers) first, then every field's name and value as
/// NUL-terminated bytes (as received, without CR, LF or NUL) that the view
/// points into. Built once on the network thread, so handing an event to C
/// copies nothing; cloning shares it.
#[derive(Clone)]
pub struct Headers {
    /// Word 0: the number of fields, n. Words 1 to 2n: the `net_header`s
    /// (two pointers each). Then the text, zero-padded to a whole word.
    /// Nothing is written once built, and the words never move.
    block: Arc<[usize]>,
}

const WORD: usize = std::mem::size_of::<usize>();

// The words of a header block's view hold `net_header`s: two pointers,
// each of a word's size and alignment (`as_c` and `freeze` rely on it).
const _: () = assert!(
    std::mem::size_of::<net_header>() == 2 * WORD
        && std::mem::align_of::<net_header>() == std::mem::align_of::<usize>()
);

impl Headers {
    /// The empty header block (shared; cloning it allocates nothing).
    pub fn empty() -> Headers {
        static EMPTY: once_cell::sync::Lazy<Headers> =
            once_cell::sync::Lazy::new(|| HeaderBuf::default().freeze());
        EMPTY.clone()
    }
    pub fn len(&self) -> usize {
        self.block[0]
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Every field in the order received: (name, value).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let text = self.text();
        let base = text.as_ptr() as usize;
        self.as_c().iter().map(move |f| {
            let (n, v) = (f.name as usize - base, f.value as usize - base);
            (until_nul(&text[n..]), until_nul(&text[v..]))
        })
    }
    /// The first value of `name` (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }
    /// The C view: `len()` entries, valid while `self` lives.
    pub(crate) fn as_c(&self) -> &[net_header] {
        let view = &self.block[1..1 + 2 * self.len()];
        // SAFETY: `HeaderBuf::freeze` wrote `len()` `net_header`s (two
        // pointers: two words of pointer size and alignment) into these
        // words, which are never written again while `self` lives.
        unsafe { std::slice::from_raw_parts(view.as_ptr().cast(), self.len()) }
    }
    fn text(&self) -> &[u8] {
        let text = &self.block[1 + 2 * self.len()..];
        // SAFETY: initialised words may be read as bytes (u8 has no
        // alignment); the length covers exactly these words.
        unsafe { std::slice::from_raw_parts(text.as_ptr().cast(), text.len() * WORD) }
    }
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(n, v)| (String::from_utf8_lossy(n), String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

fn until_nul(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |end| &b[..end])
}

/// A header block being received: fields are appended to one buffer.
#[derive(Debug, Default)]
pub(crate) struct HeaderBuf {
    text: Vec<u8>,
    /// Offsets of each field's name and value in `text`.
    spans: Vec<(usize, usize)>,
}

impl HeaderBuf {
    pub fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
    }
    /// Appends a field. Neither part may hold a NUL byte (the header
    /// callback drops them): the C view would end the string there.
    pub fn push(&mut self, name: &[u8], value: &[u8]) {
        if self.text.capacity() == 0 {
            // A typical block fits: no regrowth.
            self.text.reserve(512);
            self.spans.reserve(16);
        }
        let n = self.text.len();
        self.push_str(name);
        let v = self.text.len();
        self.push_str(value);
        self.spans.push((n, v));
    }
    /// Obsolete line folding: appends " " and `more` to the last value.
    pub fn continue_last(&mut self, more: &[u8]) {
        if !self.spans.is_empty() {
            self.text.pop(); // the last value's NUL
            self.text.push(b' ');
            self.push_str(more);
        }
    }
    fn push_str(&mut self, s: &[u8]) {
        debug_assert!(!s.contains(&0), "header bytes hold no NUL");
        self.text.extend_from_slice(s);
        self.text.push(0);
    }
    /// The first value of `name` (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.spans
            .iter()
            .find(|&&(n, v)| self.text[n..v - 1].eq_ignore_ascii_case(name.as_bytes()))
            .map(|&(_, v)| until_nul(&self.text[v..]))
    }
    /// The finished block (one allocation); `self` keeps its buffers for
    /// the next response.
    pub fn freeze(&mut self) -> Headers {
        let n = self.spans.len();
        let text_words = self.text.len().div_ceil(WORD);
        // An exact-size iterator: the Arc is allocated once, at its size.
        let mut block: Arc<[usize]> = (0..1 + 2 * n + text_words).map(|_| 0).collect();
        let words = Arc::get_mut(&mut block).expect("a new Arc is not shared");
        words[0] = n;
        let (view, text) = words[1..].split_at_mut(2 * n);
        // SAFETY: the words are initialised and may be written as bytes;
        // the length covers exactly these words.
        let text: &mut [u8] =
            unsafe { std::slice::from_raw_parts_mut(text.as_mut_ptr().cast(), text.len() * WORD) };
        text[..self.text.len()].copy_from_slice(&self.text);
        let base = text.as_ptr();
        let view: *mut net_header = view.as_mut_ptr().cast();
        for (i, &(name, value)) in self.spans.iter().enumerate() {
            let field = net_header {
                name: base.wrapping_add(name).cast(),
                value: base.wrapping_add(value).cast(),
            };
            // SAFETY: `view` holds 2n words of pointer size and alignment:
            // room for n `net_header`s, written as such (so the pointers
            // keep their provenance).
            unsafe { view.add(i).write(field) };
        }
        self.clear();
        Headers { block }
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
    pub headers: Headers,
    /// Downloads: the filename as given, its base directory and (once
    /// the request was accepted) the full path of the target file.
    pub file: Option<FilePath>,
    /// Requests (and non-2xx downloads): the response body, on `Ended`.
    pub body: Option<Vec<u8>>,
    pub response_type: ResponseType,
    /// 1 for the first attempt, n + 1 for the n-th retry or mirror.
    pub attempt: u32,
    /// `NET_EVENT_*` bits (`Flags`).
    pub flags: u32,
    /// Body bytes that came from the network, over all attempts.
    pub bytes_received: i64,
    /// `net_options.tag` of the request.
    pub tag: Option<Arc<CStr>>,
    pub(crate) progress: Option<Arc<ProgressSlot>>,
}

/// Bits of `Event::flags` (`NET_EVENT_*` in C).
pub mod flags {
    /// A 304 to `if_changed`: the file on disk is current.
    pub const UNCHANGED: u32 = crate::ffi::types::NET_EVENT_UNCHANGED;
    /// The attempt continued data received earlier.
    pub const RESUMED: u32 = crate::ffi::types::NET_EVENT_RESUMED;
    /// Started by `net_restore`.
    pub const RESTORED: u32 = crate::ffi::types::NET_EVENT_RESTORED;
}

impl Event {
    pub fn is_error(&self) -> bool {
        self.error.is_some()
    }
    pub fn url(&self) -> String {
        self.url.to_string_lossy().into_owned()
    }
    /// Downloads: the full path of the target file.
    pub fn path(&self) -> Option<std::path::PathBuf> {
        self.file.as_ref()?.path().map(Into::into)
    }
    /// Downloads: the filename as given.
    pub fn filename(&self) -> Option<String> {
        Some(
            self.file
                .as_ref()?
                .filename()
                .to_string_lossy()
                .into_owned(),
        )
    }
    /// `net_options.tag` of the request.
    pub fn tag(&self) -> Option<String> {
        Some(self.tag.as_ref()?.to_string_lossy().into_owned())
    }
    /// The first header with this name (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

/// The `began` event `net_restore` queues for a download it restored:
/// before any response (status 0), with the data it continues.
pub(crate) fn restored(req: &crate::request::Request, kept: Option<&crate::agent::Kept>) -> Event {
    let err = Error::new(crate::error::ErrorKind::Internal, "");
    let mut ev = failed(req.id, 0, req.url.clone(), req.file().cloned(), err);
    ev.error = None;
    ev.phase = Phase::Began;
    ev.bytes_transferred = kept.map_or(0, |k| k.size as i64);
    ev.bytes_estimated = kept.and_then(|k| k.total).map_or(-1, |t| t as i64);
    ev.flags = flags::RESTORED;
    ev.tag = req.extra().fetch.tag.clone();
    ev
}

/// An `ended` event for a request that never started (or failed before a
/// response): no status, no headers.
pub(crate) fn failed(
    id: u64,
    user_data: usize,
    url: Arc<CStr>,
    file: Option<FilePath>,
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
        url,
        headers: Headers::empty(),
        file,
        body: None,
        response_type: ResponseType::Binary,
        attempt: 1,
        flags: 0,
        bytes_received: 0,
        tag: None,
        progress: None,
    }
}
