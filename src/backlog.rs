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
//! Priorities: each priority in use has its own lane of records, and
//! requests start from the highest lane first, oldest first within a lane.
//! Requests of priority 0 (the default, with no extras) all go in lane 0
//! and cost what they did before lanes existed. `set_priority` moves a
//! queued request by appending a copy of its record to its new lane; the
//! record left behind is skipped when its lane reaches it.
//!
//! Callers' threads push and cancel; the network thread pops. One small
//! lock guards it all; `poll` never takes it. The limits live under the
//! same lock, so a request pushed after `set_limits` returned starts under
//! the new limits.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
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
    /// The records of each priority in use; popped from the highest.
    lanes: BTreeMap<i32, Lane>,
    /// Ids with a record here that were not cancelled.
    queued: LiveIds,
    /// Requests `set_priority` moved: the lane and index of the record
    /// that is theirs now. Their older records are skipped.
    moved: HashMap<u64, (i32, u64)>,
    /// The rare parts of the requests that have them.
    extras: HashMap<u64, Box<Extra>>,
    /// A record being encoded (kept to save an allocation per push).
    scratch: Vec<u8>,
    limits: Limits,
    closed: bool,
}

/// The records of one priority, oldest first.
#[derive(Debug, Default)]
struct Lane {
    /// Records in order; a record never spans two blocks.
    blocks: VecDeque<Vec<u8>>,
    /// Where the next record to pop starts in `blocks[0]`.
    read_at: usize,
    /// The URL and path of the record pushed last, and of the one popped
    /// last: the next record's strings are coded against them.
    pushed: Strings,
    popped: Strings,
    /// Records appended and read so far: the index of a record is the
    /// value of `pushes` when it was appended.
    pushes: u64,
    reads: u64,
}

#[derive(Clone, Debug, Default)]
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
                lanes: BTreeMap::new(),
                queued: LiveIds::default(),
                moved: HashMap::new(),
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
        let priority = req.extra().fetch.priority;
        // The CA file (the one extra that HTTPS requests to a private
        // server all set, to the same path) goes in the record; the rest,
        // rare, waits beside it.
        let mut extra = req.extra.take();
        let ca_file = extra.as_mut().and_then(|e| e.ca_file.take());
        if let Some(e) = extra.filter(|e| e.beyond_ca_file()) {
            s.extras.insert(req.id, e);
        }
        let lane = s.lanes.entry(priority).or_default();
        lane.append(&req, ca_file.as_deref(), &mut s.scratch);
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
        s.moved.remove(&id);
        s.extras.remove(&id); // an upload body is freed now
        s.clear_if_empty();
        self.len.store(s.queued.len(), Ordering::Release);
        true
    }

    /// Moves a queued request to `priority`, behind the requests queued
    /// with that priority (to the same priority: it keeps its place); false
    /// when it is not queued. Finds its record by reading its lane from the
    /// front: O(requests queued before it). The new record is a copy; the
    /// old one (tens of bytes) stays until its lane reaches it.
    pub fn set_priority(&self, id: u64, priority: i32) -> bool {
        let mut s = lock(&self.state);
        if !s.queued.contains(id) {
            return false;
        }
        let s = &mut *s;
        let from = s.extras.get(&id).map_or(0, |e| e.fetch.priority);
        if from == priority {
            return true;
        }
        let index = s.moved.get(&id).map(|&(_, index)| index);
        let Some((req, ca_file)) = s.lanes.get(&from).and_then(|l| l.find(id, index)) else {
            return false; // not found: only a netdl bug gets here
        };
        // Its extras carry its priority: the lane it is in, and its share
        // of a bandwidth cap once it runs (no extras: priority 0).
        let extra = s.extras.entry(id).or_default();
        extra.fetch.priority = priority;
        if !extra.beyond_ca_file() {
            s.extras.remove(&id);
        }
        let lane = s.lanes.entry(priority).or_default();
        s.moved.insert(id, (priority, lane.pushes));
        lane.append(&req, ca_file.as_deref(), &mut s.scratch);
        true
    }

    /// Moves requests into `out`, highest priority first and oldest first
    /// within a priority, until `running` plus the ones moved reach the
    /// transfer limit; returns the limits.
    pub fn pop(&self, running: usize, out: &mut Vec<Request>) -> Limits {
        let mut s = lock(&self.state);
        let mut free = s.limits.transfers.saturating_sub(running);
        while free > 0 && s.queued.len() > 0 && !s.lanes.is_empty() {
            if let Some(req) = s.pop_one() {
                out.push(req);
                free -= 1;
            }
        }
        s.clear_if_empty();
        self.len.store(s.queued.len(), Ordering::Release);
        s.limits
    }

    /// Every queued request, in the order they would start, to report them
    /// failed after a
    /// panic of the network thread; and the ids of any whose record could
    /// not be read back (that panic may have come from reading it). The
    /// backlog is empty afterwards.
    pub fn take_all(&self) -> (Vec<Request>, Vec<u64>) {
        let mut s = lock(&self.state);
        let mut out = Vec::with_capacity(s.queued.len());
        let read = catch_unwind(AssertUnwindSafe(|| {
            while s.queued.len() > 0 && !s.lanes.is_empty() {
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
        let s = lock(&self.state);
        let blocks = s.lanes.values().flat_map(|l| l.blocks.iter());
        blocks.map(Vec::capacity).sum()
    }
}

impl State {
    /// Decodes the next record of the highest lane: its request, or None
    /// when it was cancelled or left behind by `set_priority` (or the lane
    /// had no record left: the lane goes).
    fn pop_one(&mut self) -> Option<Request> {
        let mut lane = self.lanes.last_entry()?;
        let at = (*lane.key(), lane.get().reads);
        let (queued, moved) = (&mut self.queued, &mut self.moved);
        // The record is the request's (it starts) unless cancelled or
        // moved elsewhere since.
        let take = |id| match moved.get(&id) {
            Some(&now) if now != at => false,
            Some(_) => {
                moved.remove(&id);
                queued.remove(id)
            }
            None => queued.remove(id),
        };
        let Some(read) = lane.get_mut().read(take) else {
            lane.remove();
            return None;
        };
        let (mut req, ca_file) = read?;
        req.extra = self.extras.remove(&req.id);
        if let Some(ca_file) = ca_file {
            req.extra.get_or_insert_with(Box::default).ca_file = Some(ca_file);
        }
        Some(req)
    }

    /// Once no request is queued, frees the records (cancelled ones too).
    fn clear_if_empty(&mut self) {
        if self.queued.len() == 0 {
            self.lanes = BTreeMap::new();
            self.queued = LiveIds::default();
            self.moved = HashMap::new();
            self.extras = HashMap::new();
            self.scratch = Vec::new();
        }
    }
}

impl Lane {
    /// Appends `req` as one record (encoded in `scratch`).
    fn append(&mut self, req: &Request, ca_file: Option<&Path>, scratch: &mut Vec<u8>) {
        scratch.clear();
        encode(scratch, req, ca_file, &mut self.pushed);
        match self.blocks.back_mut() {
            Some(b) if b.capacity() - b.len() >= scratch.len() => b.extend_from_slice(scratch),
            _ => {
                let mut b = Vec::with_capacity(BLOCK.max(scratch.len()));
                b.extend_from_slice(scratch);
                self.blocks.push_back(b);
            }
        }
        self.pushes += 1;
    }

    /// Reads the next record (`decode`); None when none is left.
    fn read(&mut self, keep: impl FnOnce(u64) -> bool) -> Option<Option<Decoded>> {
        while self.blocks.front()?.len() <= self.read_at {
            self.blocks.pop_front();
            self.read_at = 0;
        }
        let mut r = Reader {
            buf: &self.blocks[0],
            at: self.read_at,
        };
        let read = decode(&mut r, &mut self.popped, keep);
        self.read_at = r.at;
        self.reads += 1;
        Some(read)
    }

    /// The request of `id`'s record not read yet (the one at `index` when
    /// given), with its CA file; the lane is left as it was.
    fn find(&self, id: u64, index: Option<u64>) -> Option<Decoded> {
        let mut strings = self.popped.clone();
        let (mut block, mut at, mut n) = (0, self.read_at, self.reads);
        loop {
            let buf = self.blocks.get(block)?;
            if at >= buf.len() {
                (block, at) = (block + 1, 0);
                continue;
            }
            let mut r = Reader { buf, at };
            let this = n;
            let keep = |rid| rid == id && index.is_none_or(|i| i == this);
            if let Some(found) = decode(&mut r, &mut strings, keep) {
                return Some(found);
            }
            (at, n) = (r.at, n + 1);
        }
    }
}

/// A request read back from its record, and its CA file.
type Decoded = (Request, Option<PathBuf>);

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
) -> Option<Decoded> {
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
        request_at(id, 0, dirs)
    }

    /// `request(id)` with `priority`.
    fn request_at(id: u64, priority: i32, dirs: &Dirs) -> Request {
        let mut opts = Options {
            user_data: (id as usize).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            progress: id % 2 == 0,
            no_redirects: id % 3 == 0,
            ..Options::default()
        };
        opts.fetch.priority = priority;
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
        let mut s = lock(&backlog.state);
        s.lanes.get_mut(&0).unwrap().blocks[0].truncate(3); // inside record 1
        drop(s);
        let (requests, lost) = backlog.take_all();
        assert!(requests.is_empty());
        assert_eq!(lost, vec![1, 3]);
        assert_eq!((backlog.len(), backlog.record_bytes()), (0, 0));
        backlog.push(request(4, &dirs)).unwrap();
        let mut out = Vec::new();
        backlog.pop(0, &mut out);
        assert_eq!(out.iter().map(|r| r.id).collect::<Vec<_>>(), vec![4]);
    }

    /// Pops every queued request one at a time; returns them.
    fn pop_all(backlog: &Backlog) -> Vec<Request> {
        let mut out = Vec::new();
        while !backlog.is_empty() {
            backlog.pop(LIMITS.transfers - 1, &mut out);
        }
        out
    }

    /// Rule: requests start highest priority first, in submission order
    /// within a priority, and come back whole (their priority included).
    #[test]
    fn highest_priority_first_then_submission_order() {
        let dirs = Dirs::default();
        let backlog = Backlog::new(LIMITS);
        let priority = |id: u64| [0, 3, -2, 0, 7, i32::MAX, i32::MIN][id as usize % 7];
        for id in 1..=300 {
            backlog.push(request_at(id, priority(id), &dirs)).unwrap();
        }
        assert!(backlog.cancel(12));
        let got: Vec<String> = pop_all(&backlog).iter().map(|r| format!("{r:?}")).collect();
        let mut ids: Vec<u64> = (1..=300).filter(|&id| id != 12).collect();
        ids.sort_by_key(|&id| (std::cmp::Reverse(priority(id)), id));
        let expected: Vec<String> = ids
            .iter()
            .map(|&id| format!("{:?}", request_at(id, priority(id), &dirs)))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(backlog.record_bytes(), 0);
    }

    /// Rule: `set_priority` moves a queued request behind the ones queued
    /// with its new priority, and it starts with that priority; to the
    /// same priority it keeps its place; it is false for ids not queued
    /// (unknown, cancelled, started). A request moved away and back goes
    /// to the back of its lane; the records left behind never start.
    #[test]
    fn set_priority_moves_a_queued_request() {
        let dirs = Dirs::default();
        let backlog = Backlog::new(LIMITS);
        for id in 1..=10 {
            backlog.push(request(id, &dirs)).unwrap();
        }
        assert!(backlog.set_priority(7, 5));
        assert!(backlog.set_priority(3, -1));
        assert!(backlog.set_priority(7, 5), "same priority: stays");
        assert!(backlog.set_priority(9, 5)); // behind 7
        assert!(backlog.set_priority(5, 2));
        assert!(backlog.set_priority(5, 0)); // back of lane 0
        assert!(backlog.cancel(4));
        assert!(!backlog.set_priority(4, 1), "cancelled");
        assert!(!backlog.set_priority(99, 1), "unknown");
        assert!(backlog.set_priority(2, 1));
        assert!(backlog.cancel(2), "a moved request can be cancelled");
        assert_eq!(backlog.len(), 8);
        let mut out = Vec::new();
        backlog.pop(LIMITS.transfers - 1, &mut out);
        assert!(!backlog.set_priority(7, 0), "started");
        out.extend(pop_all(&backlog));
        let got: Vec<(u64, i32)> = out
            .iter()
            .map(|r| (r.id, r.extra().fetch.priority))
            .collect();
        let want = [
            (7, 5),
            (9, 5),
            (1, 0),
            (6, 0),
            (8, 0),
            (10, 0),
            (5, 0),
            (3, -1),
        ];
        assert_eq!(got, want);
        // Whole: the same request as one submitted with that priority.
        for r in &out {
            let p = r.extra().fetch.priority;
            assert_eq!(
                format!("{r:?}"),
                format!("{:?}", request_at(r.id, p, &dirs))
            );
        }
        assert_eq!((backlog.len(), backlog.record_bytes()), (0, 0));
    }

    /// Rule: after any mix of pushes, moves, cancels and pops, the backlog
    /// starts what a plain list sorted by (priority, time of the last move)
    /// would, each queued request exactly once; `take_all` too.
    #[test]
    fn priorities_match_a_simple_model() {
        let dirs = Dirs::default();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut rand = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for round in 0..20 {
            let backlog = Backlog::new(LIMITS);
            // (priority, order of arrival in its lane, id)
            let mut model: Vec<(i32, u64, u64)> = Vec::new();
            let (mut next_id, mut clock) = (1, 0);
            let mut started = Vec::new();
            for _ in 0..400 {
                clock += 1;
                match rand(10) {
                    0..=4 => {
                        let p = rand(4) as i32 - 1;
                        backlog.push(request_at(next_id, p, &dirs)).unwrap();
                        model.push((p, clock, next_id));
                        next_id += 1;
                    }
                    5..=6 => {
                        let id = rand(next_id + 2);
                        let p = rand(4) as i32 - 1;
                        let found = model.iter_mut().find(|m| m.2 == id);
                        assert_eq!(backlog.set_priority(id, p), found.is_some());
                        if let Some(m) = found.filter(|m| m.0 != p) {
                            (m.0, m.1) = (p, clock);
                        }
                    }
                    7 => {
                        let id = rand(next_id + 2);
                        let i = model.iter().position(|m| m.2 == id);
                        assert_eq!(backlog.cancel(id), i.is_some());
                        if let Some(i) = i {
                            model.remove(i);
                        }
                    }
                    _ => {
                        let mut out = Vec::new();
                        backlog.pop(LIMITS.transfers - 1 - rand(2) as usize, &mut out);
                        model.sort_by_key(|m| (std::cmp::Reverse(m.0), m.1));
                        let want: Vec<u64> = model.drain(..out.len()).map(|m| m.2).collect();
                        let got: Vec<u64> = out.iter().map(|r| r.id).collect();
                        assert_eq!(got, want, "round {round}");
                        started.extend(out);
                    }
                }
                assert_eq!(backlog.len(), model.len());
            }
            model.sort_by_key(|m| (std::cmp::Reverse(m.0), m.1));
            let rest = if round % 2 == 0 {
                pop_all(&backlog)
            } else {
                backlog.take_all().0
            };
            let got: Vec<u64> = rest.iter().map(|r| r.id).collect();
            assert_eq!(got, model.iter().map(|m| m.2).collect::<Vec<_>>());
            for r in started.iter().chain(&rest) {
                let p = r.extra().fetch.priority;
                assert_eq!(
                    format!("{r:?}"),
                    format!("{:?}", request_at(r.id, p, &dirs))
                );
            }
            assert_eq!(backlog.record_bytes(), 0);
        }
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
