//! Requests waiting for a free transfer slot, packed.
//!
//! A game may queue 100,000 downloads in one go. Each waits here as one
//! record in a short list of byte blocks rather than as a `Request` with
//! two shared strings and a map entry (about 340 bytes): numbers are
//! varints, and the URL and path are front-coded against the record before
//! (asset URLs and paths share long prefixes), so a download from one
//! server costs tens of bytes. A record becomes a `Request` again only when
//! its transfer starts, a few at a time.
//!
//! Callers' threads push and cancel; the network thread pops. One small
//! lock guards it all; `poll` never takes it. The limits live under the
//! same lock, so a request pushed after `set_limits` returned starts under
//! the new limits.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::ffi::{CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::dirs::BaseDir;
use crate::live::LiveIds;
use crate::lock;
use crate::request::{Extra, FilePath, Request, Target, COMMON_METHODS};

/// Size of a block of records (a longer record gets a block of its own).
const BLOCK: usize = 16 * 1024;

/// How many requests run at once, and how many connections go to one host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub transfers: usize,
    pub per_host: usize,
}

/// The queue of requests not started yet.
#[derive(Debug)]
pub struct Backlog {
    state: Mutex<State>,
    /// Requests queued and not cancelled (read without the lock).
    len: AtomicUsize,
}

#[derive(Debug)]
struct State {
    /// Records in order; a record never spans two blocks.
    blocks: VecDeque<Vec<u8>>,
    /// Where the next record to pop starts in `blocks[0]`.
    read_at: usize,
    /// The URL and path of the record pushed last, and of the one popped
    /// last: the next record's strings are coded against them.
    pushed: Strings,
    popped: Strings,
    /// Ids with a record here that were not cancelled.
    queued: LiveIds,
    /// The rare parts of the requests that have them.
    extras: HashMap<u64, Box<Extra>>,
    /// A record being encoded (kept to save an allocation per push).
    scratch: Vec<u8>,
    limits: Limits,
    closed: bool,
}

#[derive(Debug, Default)]
struct Strings {
    url: Vec<u8>,
    path: Vec<u8>,
    ca_file: Vec<u8>,
}

// Record flags.
const PROGRESS: u8 = 1;
const FOLLOW: u8 = 2;
const FILE: u8 = 4;
const LIMIT: u8 = 8;
const CA_FILE: u8 = 16;
const QUEUE: u8 = 32;
const UPLOAD_PROGRESS: u8 = 64;
/// Method byte of a method not in `COMMON_METHODS` (its name follows).
const CUSTOM_METHOD: u8 = u8::MAX;

impl Backlog {
    pub fn new(limits: Limits) -> Backlog {
        Backlog {
            state: Mutex::new(State {
                blocks: VecDeque::new(),
                read_at: 0,
                pushed: Strings::default(),
                popped: Strings::default(),
                queued: LiveIds::default(),
                extras: HashMap::new(),
                scratch: Vec::new(),
                limits,
                closed: false,
            }),
            len: AtomicUsize::new(0),
        }
    }

    /// Queues `req`; gives it back once the backlog is closed.
    pub fn push(&self, mut req: Request) -> Result<(), Box<Request>> {
        let mut s = lock(&self.state);
        if s.closed {
            return Err(Box::new(req));
        }
        let s = &mut *s;
        // The CA file (the one extra that HTTPS requests to a private
        // server all set, to the same path) goes in the record; the rest,
        // rare, waits beside it.
        let mut extra = req.extra.take();
        let ca_file = extra.as_mut().and_then(|e| e.ca_file.take());
        if let Some(e) = extra.filter(|e| e.beyond_ca_file()) {
            s.extras.insert(req.id, e);
        }
        s.scratch.clear();
        encode(&mut s.scratch, &req, ca_file.as_deref(), &mut s.pushed);
        match s.blocks.back_mut() {
            Some(b) if b.capacity() - b.len() >= s.scratch.len() => b.extend_from_slice(&s.scratch),
            _ => {
                let mut b = Vec::with_capacity(BLOCK.max(s.scratch.len()));
                b.extend_from_slice(&s.scratch);
                s.blocks.push_back(b);
            }
        }
        s.queued.insert(req.id);
        self.len.store(s.queued.len(), Ordering::Release);
        Ok(())
    }

    /// Cancels a queued request: true when it was queued (it will never
    /// start), false when unknown, started or cancelled before.
    pub fn cancel(&self, id: u64) -> bool {
        let mut s = lock(&self.state);
        if !s.queued.remove(id) {
            return false;
        }
        s.extras.remove(&id); // an upload body is freed now
        s.clear_if_empty();
        self.len.store(s.queued.len(), Ordering::Release);
        true
    }

    /// Moves a queued request to `priority`: false when it is not queued.
    pub fn set_priority(&self, id: u64, priority: i32) -> bool {
        let _ = (id, priority);
        false // TODO(priorities)
    }

    /// Moves requests into `out`, oldest first, until `running` plus the
    /// ones moved reach the transfer limit; returns the limits.
    pub fn pop(&self, running: usize, out: &mut Vec<Request>) -> Limits {
        let mut s = lock(&self.state);
        let mut free = s.limits.transfers.saturating_sub(running);
        while free > 0 && s.queued.len() > 0 && !s.blocks.is_empty() {
            if let Some(req) = s.pop_one() {
                out.push(req);
                free -= 1;
            }
        }
        s.clear_if_empty();
        self.len.store(s.queued.len(), Ordering::Release);
        s.limits
    }

    /// Every queued request, oldest first, to report them failed after a
    /// panic of the network thread; and the ids of any whose record could
    /// not be read back (that panic may have come from reading it). The
    /// backlog is empty afterwards.
    pub fn take_all(&self) -> (Vec<Request>, Vec<u64>) {
        let mut s = lock(&self.state);
        let mut out = Vec::with_capacity(s.queued.len());
        let read = catch_unwind(AssertUnwindSafe(|| {
            while s.queued.len() > 0 && !s.blocks.is_empty() {
                out.extend(s.pop_one());
            }
        }));
        let lost = match read {
            Ok(()) => Vec::new(),
            Err(_) => s.queued.iter().collect(),
        };
        s.queued.clear();
        s.clear_if_empty();
        self.len.store(0, Ordering::Release);
        (out, lost)
    }

    /// Drops every queued request; later pushes fail.
    pub fn close(&self) {
        let mut s = lock(&self.state);
        s.closed = true;
        s.queued.clear();
        s.clear_if_empty();
        self.len.store(0, Ordering::Release);
    }

    /// Sets the limits; false once closed.
    pub fn set_limits(&self, limits: Limits) -> bool {
        let mut s = lock(&self.state);
        s.limits = limits;
        !s.closed
    }

    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the records take.
    #[cfg(test)]
    fn record_bytes(&self) -> usize {
        lock(&self.state).blocks.iter().map(Vec::capacity).sum()
    }
}

impl State {
    /// Decodes the next record: its request, or None when it was cancelled
    /// (or no record is left).
    fn pop_one(&mut self) -> Option<Request> {
        while self.blocks.front()?.len() <= self.read_at {
            self.blocks.pop_front();
            self.read_at = 0;
        }
        let mut r = Reader {
            buf: &self.blocks[0],
            at: self.read_at,
        };
        let req = decode(&mut r, &mut self.popped, |id| self.queued.remove(id));
        self.read_at = r.at;
        let (mut req, ca_file) = req?;
        req.extra = self.extras.remove(&req.id);
        if let Some(ca_file) = ca_file {
            req.extra.get_or_insert_with(Box::default).ca_file = Some(ca_file);
        }
        Some(req)
    }

    /// Once no request is queued, frees the records (cancelled ones too).
    fn clear_if_empty(&mut self) {
        if self.queued.len() == 0 {
            self.blocks = VecDeque::new();
            self.read_at = 0;
            self.pushed = Strings::default();
            self.popped = Strings::default();
            self.queued = LiveIds::default();
            self.extras = HashMap::new();
            self.scratch = Vec::new();
        }
    }
}

/// Appends `req` as one record, with `ca_file` (the rest of its `extra`
/// is kept elsewhere).
fn encode(out: &mut Vec<u8>, req: &Request, ca_file: Option<&Path>, last: &mut Strings) {
    let (file, limit) = match &req.target {
        Target::Memory { limit } => (None, Some(*limit)),
        Target::File { file, limit } => (Some(file), *limit),
    };
    let mut flags = 0;
    for (set, flag) in [
        (req.progress, PROGRESS),
        (req.follow_redirects, FOLLOW),
        (file.is_some(), FILE),
        (limit.is_some(), LIMIT),
        (ca_file.is_some(), CA_FILE),
        (req.queue != crate::queue::DEFAULT_QUEUE, QUEUE),
        (req.upload_progress, UPLOAD_PROGRESS),
    ] {
        if set {
            flags |= flag;
        }
    }
    put_varint(out, req.id);
    put_varint(out, req.user_data as u64);
    out.push(flags);
    match COMMON_METHODS.iter().position(|m| *m == req.method) {
        Some(i) => out.push(i as u8),
        None => {
            out.push(CUSTOM_METHOD);
            put_varint(out, req.method.len() as u64);
            out.extend_from_slice(req.method.as_bytes());
        }
    }
    // A timeout beyond 584 years is stored as 584 years.
    put_varint(
        out,
        u64::try_from(req.timeout.as_nanos()).unwrap_or(u64::MAX),
    );
    put_varint(out, req.max_redirects.into());
    if let Some(limit) = limit {
        put_varint(out, limit);
    }
    if req.queue != crate::queue::DEFAULT_QUEUE {
        put_varint(out, req.queue.into());
    }
    put_front_coded(out, req.url.to_bytes(), &mut last.url);
    if let Some(file) = file {
        let (text, name_at, dir) = file.parts();
        out.push(dir as u8);
        put_varint(out, name_at as u64);
        put_front_coded(out, text, &mut last.path);
    }
    if let Some(ca_file) = ca_file {
        put_front_coded(out, ca_file.as_os_str().as_bytes(), &mut last.ca_file);
    }
}

/// Reads one record; builds its request and CA file when `keep(id)` says
/// so (the strings are decoded either way: the next record is coded
/// against them).
fn decode(
    r: &mut Reader<'_>,
    last: &mut Strings,
    keep: impl FnOnce(u64) -> bool,
) -> Option<(Request, Option<PathBuf>)> {
    let id = r.varint();
    let user_data = r.varint() as usize;
    let flags = r.byte();
    let method = match r.byte() {
        CUSTOM_METHOD => {
            let n = r.varint() as usize;
            Cow::Owned(String::from_utf8_lossy(r.bytes(n)).into_owned())
        }
        i => Cow::Borrowed(COMMON_METHODS[usize::from(i)]),
    };
    let timeout = Duration::from_nanos(r.varint());
    let max_redirects = u32::try_from(r.varint()).unwrap_or(u32::MAX);
    let limit = (flags & LIMIT != 0).then(|| r.varint());
    let queue = match flags & QUEUE {
        0 => crate::queue::DEFAULT_QUEUE,
        _ => u32::try_from(r.varint()).unwrap_or(u32::MAX),
    };
    read_front_coded(r, &mut last.url);
    let file = (flags & FILE != 0).then(|| {
        let dir = BaseDir::ALL[usize::from(r.byte())];
        let name_at = r.varint() as usize;
        read_front_coded(r, &mut last.path);
        (dir, name_at)
    });
    let has_ca_file = flags & CA_FILE != 0;
    if has_ca_file {
        read_front_coded(r, &mut last.ca_file);
    }
    if !keep(id) {
        return None;
    }
    let ca_file = has_ca_file.then(|| PathBuf::from(OsStr::from_bytes(&last.ca_file)));
    let target = match file {
        Some((dir, name_at)) => Target::File {
            file: FilePath::from_parts(&c_str(&mut last.path), name_at, dir),
            limit,
        },
        None => Target::Memory {
            limit: limit.unwrap_or(u64::MAX),
        },
    };
    let req = Request {
        id,
        user_data,
        url: Arc::from(&*c_str(&mut last.url)),
        method,
        timeout,
        progress: flags & PROGRESS != 0,
        follow_redirects: flags & FOLLOW != 0,
        max_redirects,
        target,
        queue,
        upload_progress: flags & UPLOAD_PROGRESS != 0,
        extra: None,
    };
    Some((req, ca_file))
}

/// `bytes` (which hold no NUL: URLs and paths were checked) as a C
/// string, borrowing `bytes` with a NUL added for as long as it lives.
fn c_str(bytes: &mut Vec<u8>) -> NulAdded<'_> {
    bytes.push(0);
    NulAdded(bytes)
}

/// A byte buffer with a NUL pushed; the NUL is removed on drop.
struct NulAdded<'a>(&'a mut Vec<u8>);

impl std::ops::Deref for NulAdded<'_> {
    type Target = CStr;
    fn deref(&self) -> &CStr {
        CStr::from_bytes_until_nul(self.0).unwrap_or_default()
    }
}

impl Drop for NulAdded<'_> {
    fn drop(&mut self) {
        self.0.pop();
    }
}

/// `s` as: bytes shared with `last`, then the rest; `last` becomes `s`.
fn put_front_coded(out: &mut Vec<u8>, s: &[u8], last: &mut Vec<u8>) {
    let shared = s
        .iter()
        .zip(last.iter())
        .take_while(|(a, b)| a == b)
        .count();
    put_varint(out, shared as u64);
    put_varint(out, (s.len() - shared) as u64);
    out.extend_from_slice(&s[shared..]);
    last.truncate(shared);
    last.extend_from_slice(&s[shared..]);
}

fn read_front_coded(r: &mut Reader<'_>, last: &mut Vec<u8>) {
    let shared = r.varint() as usize;
    let n = r.varint() as usize;
    last.truncate(shared);
    last.extend_from_slice(r.bytes(n));
}

/// LEB128: seven bits per byte, low bits first.
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads records this module wrote; reading past them is a bug and panics
/// (the network thread's guard turns that into failed requests).
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> u8 {
        self.at += 1;
        self.buf[self.at - 1]
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        self.at += n;
        &self.buf[self.at - n..self.at]
    }

    fn varint(&mut self) -> u64 {
        let mut v = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte();
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dirs::Dirs;
    use crate::request::{Body, Options};

    const LIMITS: Limits = Limits {
        transfers: 64,
        per_host: 64,
    };

    /// A mix of requests: downloads and in-memory requests, common and
    /// custom methods, extras, limits, long and shared-prefix strings.
    fn request(id: u64, dirs: &Dirs) -> Request {
        let mut opts = Options {
            user_data: (id as usize).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            progress: id % 2 == 0,
            no_redirects: id % 3 == 0,
            ..Options::default()
        };
        if id % 5 == 0 {
            opts.headers = vec![("X-Id".into(), id.to_string())];
            opts.body = Some(Body::Bytes(vec![id as u8; 100]));
        }
        if id % 4 == 1 {
            opts.ca_file = Some(format!("/etc/game/ca-{}.pem", id % 8).into());
        }
        if id % 7 == 0 {
            opts.max_body = Some(id * 1000);
            opts.timeout = Some(Duration::from_millis(id * 37));
            opts.max_redirects = Some(id as u32);
        }
        let method = ["GET", "post", "PROPFIND", "HEAD"][id as usize % 4];
        let url = match id % 4 {
            0 => format!("http://127.0.0.1:8080/assets/{}/f{id}.bin", id / 10),
            1 => format!("https://cdn.example/very/long/{}?q={id}", "x".repeat(300)),
            2 => format!("http://[::1]:9/{id}"),
            _ => format!("http://127.0.0.1:8080/assets/{}/f{id}.bin#frag", id / 10),
        };
        let download = (id % 6 != 0).then(|| format!("dir{}/file-{id}.bin", id % 3));
        let dir = [BaseDir::Documents, BaseDir::Caches, BaseDir::Temporary][id as usize % 3];
        Request::build(
            id,
            &url,
            method,
            opts,
            download.as_deref().map(|f| (f, dir)),
            dirs,
        )
        .unwrap()
    }

    /// Rule: every field comes back as it went in, in order; cancelled
    /// requests never come back; the records free their memory once
    /// nothing is queued.
    #[test]
    fn requests_come_back_whole_and_in_order() {
        let dirs = Dirs::default();
        let backlog = Backlog::new(LIMITS);
        let ids: Vec<u64> = (1..=500).collect();
        for &id in &ids {
            backlog.push(request(id, &dirs)).unwrap();
        }
        assert_eq!(backlog.len(), 500);
        for id in (3..=500).step_by(3) {
            assert!(backlog.cancel(id));
            assert!(!backlog.cancel(id), "cancelled twice");
        }
        assert!(!backlog.cancel(9999));
        let mut out = Vec::new();
        while !backlog.is_empty() {
            let before = out.len();
            backlog.pop(60, &mut out);
            assert!(out.len() - before <= 4, "at most 64 - 60 per call");
        }
        let expected: Vec<String> = ids
            .iter()
            .filter(|id| *id % 3 != 0)
            .map(|&id| format!("{:?}", request(id, &dirs)))
            .collect();
        let got: Vec<String> = out.iter().map(|r| format!("{r:?}")).collect();
        assert_eq!(got, expected);
        assert!(
            !backlog.cancel(1),
            "started requests cannot be cancelled here"
        );
        assert_eq!(backlog.record_bytes(), 0);
    }

    /// Rule: cancelling every queued request frees the records at once.
    #[test]
    fn cancelling_all_frees_the_records() {
        let dirs = Dirs::default();
        let backlog = Backlog::new(LIMITS);
        for id in 1..=1000 {
            backlog.push(request(id, &dirs)).unwrap();
        }
        assert!(backlog.record_bytes() > 0);
        for id in (1..=1000).rev() {
            assert!(backlog.cancel(id));
        }
        assert_eq!((backlog.len(), backlog.record_bytes()), (0, 0));
        let mut out = Vec::new();
        backlog.pop(0, &mut out);
        assert!(out.is_empty());
    }

    /// Rule: 10,000 downloads from one server into one folder take under
    /// 48 bytes each while queued.
    #[test]
    fn queued_downloads_are_small() {
        let mut dirs = Dirs::default();
        dirs.set(
            BaseDir::Caches,
            std::path::Path::new("/var/cache/some-game/assets"),
        )
        .unwrap();
        let backlog = Backlog::new(LIMITS);
        let n = 10_000;
        for id in 1..=n {
            let url = format!(
                "https://cdn.example.com/some-game/v1.2.3/assets/g{:02}/f{id:05}.bin",
                id % 100
            );
            let name = format!("g{:02}/f{id:05}.bin", id % 100);
            let opts = Options {
                user_data: id as usize,
                ..Options::default()
            };
            let req = Request::build(id, &url, "GET", opts, Some((&name, BaseDir::Caches)), &dirs);
            backlog.push(req.unwrap()).unwrap();
        }
        let per_request = backlog.record_bytes() / n as usize;
        assert!(per_request < 48, "{per_request} bytes per queued download");
    }

    /// Rule: once closed, pushes give the request back and nothing is
    /// queued; limits set later are refused.
    #[test]
    fn closed_backlog_refuses_requests() {
        let dirs = Dirs::default();
        let backlog = Backlog::new(LIMITS);
        backlog.push(request(1, &dirs)).unwrap();
        backlog.close();
        assert!(backlog.is_empty());
        let back = backlog.push(request(2, &dirs)).unwrap_err();
        assert_eq!(back.id, 2);
        assert!(!backlog.set_limits(LIMITS));
    }

    /// Rule: a record that cannot be read back (a netdl bug) loses only
    /// the request data: `take_all` still names every queued id, so each
    /// can be reported failed, and the backlog is empty afterwards.
    #[test]
    fn unreadable_records_still_name_their_ids() {
        let dirs = Dirs::default();
        let backlog = Backlog::new(LIMITS);
        for id in 1..=3 {
            backlog.push(request(id, &dirs)).unwrap();
        }
        assert!(backlog.cancel(2));
        lock(&backlog.state).blocks[0].truncate(3); // inside record 1
        let (requests, lost) = backlog.take_all();
        assert!(requests.is_empty());
        assert_eq!(lost, vec![1, 3]);
        assert_eq!((backlog.len(), backlog.record_bytes()), (0, 0));
        backlog.push(request(4, &dirs)).unwrap();
        let mut out = Vec::new();
        backlog.pop(0, &mut out);
        assert_eq!(out.iter().map(|r| r.id).collect::<Vec<_>>(), vec![4]);
    }

    #[test]
    fn varints_round_trip() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX - 1, u64::MAX] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            let mut r = Reader { buf: &buf, at: 0 };
            assert_eq!(r.varint(), v);
            assert_eq!(r.at, buf.len());
        }
    }
}
