//! Segmented downloads (`net_options.segments`): one large file fetched
//! over several ranged connections at once, as aria2's `-s` and Chromium's
//! parallel downloads do.
//!
//! The download's own transfer (the parent) starts as any other. When its
//! response announces the file's length, accepts ranges (`Accept-Ranges:
//! bytes`), has a strong validator and is not compressed, and the rest of
//! the file is at least two `MIN_SEGMENT`s, the rest is split into up to
//! `segments` ranges: the parent keeps the first and stops at its end;
//! helper transfers fetch the others with `Range: bytes=A-B` and
//! `If-Range`, each writing at its own offset into the parent's one
//! unnamed (or temporary) file. A helper's `206` must be exactly its range
//! of the same file; anything else (a `200`: the file changed) makes the
//! download start over on one connection.
//!
//! A segment whose connection fails is fetched again from where its data
//! ends, by a new helper (after a backoff), up to `max_retries` + the
//! number of segments times in all; beyond, the download fails, keeping
//! the data up to the first gap for a later resume. Progress reports the
//! sum of all segments. When every segment is complete the parent's file
//! is checked (the SHA-256 reads the parts the parent did not write) and
//! takes the target's place as any download's.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use curl::easy::Easy2;

use std::fs::File;

use super::attempt::{self, Resume};
use super::headers::{trim_blanks, Lines};
use super::sink::Sink;
use super::transfer::{configure, Transfer};
use super::{Agent, Waiting};
use crate::error::{Error, ErrorKind};
use crate::event::Headers;
use crate::lock;

/// The smallest segment: a file is split only into parts of at least this.
pub const MIN_SEGMENT: u64 = 4 * 1024 * 1024;
/// The most segments.
pub const MAX_SEGMENTS: u32 = 16;

/// `[start, end)` ranges covering `offset..total` in at most `wanted`
/// parts of at least `MIN_SEGMENT`; empty when fewer than two fit.
pub fn split(offset: u64, total: u64, wanted: u32) -> Vec<(u64, u64)> {
    let rest = total.saturating_sub(offset);
    let n = u64::from(wanted.min(MAX_SEGMENTS)).min(rest / MIN_SEGMENT);
    if n < 2 {
        return Vec::new();
    }
    // In u128: an announced length may be near u64::MAX.
    let at = |i: u64| offset + (u128::from(rest) * u128::from(i) / u128::from(n)) as u64;
    (0..n).map(|i| (at(i), at(i + 1))).collect()
}

/// What the parent and its helpers share.
pub type Shared = Arc<Mutex<State>>;

#[derive(Debug)]
pub struct State {
    /// The file's length.
    pub total: u64,
    /// Bytes before the first segment (kept or resumed data).
    pub base: u64,
    pub segs: Vec<Seg>,
    /// Failed segment attempts so far, and how many are allowed.
    pub failures: u32,
    pub budget: u32,
    /// A helper's response showed another file: start over unsegmented.
    pub changed: bool,
    /// Tokens of the helpers running or waiting.
    pub helpers: Vec<u64>,
    /// Body bytes the helpers received from the network.
    pub received: u64,
}

/// One range of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seg {
    pub start: u64,
    pub end: u64,
    /// Bytes written from `start` on.
    pub done: u64,
}

impl State {
    pub fn new(base: u64, total: u64, ranges: &[(u64, u64)], budget: u32) -> State {
        State {
            total,
            base,
            segs: (ranges.iter())
                .map(|&(start, end)| Seg {
                    start,
                    end,
                    done: 0,
                })
                .collect(),
            failures: 0,
            budget,
            changed: false,
            helpers: Vec::new(),
            received: 0,
        }
    }

    /// Bytes of the file on disk.
    pub fn transferred(&self) -> u64 {
        self.base + self.segs.iter().map(|s| s.done).sum::<u64>()
    }

    pub fn complete(&self) -> bool {
        self.segs.iter().all(|s| s.start + s.done == s.end)
    }

    /// Bytes from the file's start up to the first gap.
    pub fn contiguous(&self) -> u64 {
        let mut upto = self.base;
        for s in &self.segs {
            upto = s.start + s.done;
            if upto < s.end {
                break;
            }
        }
        upto
    }
}

/// A transfer's part in a segmented download.
#[derive(Clone, Debug)]
pub struct Role {
    pub shared: Shared,
    /// Its segment in `State::segs`.
    pub index: usize,
    /// The download's own transfer (segment 0), not a helper.
    pub parent: bool,
}

impl Role {
    /// Bytes left in the segment for a transfer at file position `at`.
    pub fn room(&self, at: u64) -> u64 {
        let s = lock(&self.shared);
        s.segs[self.index].end.saturating_sub(at)
    }

    /// The transfer wrote up to file position `at`, after `received` more
    /// bytes from the network: returns the bytes of the whole file on disk.
    pub fn record(&self, at: u64, received: u64) -> u64 {
        let mut s = lock(&self.shared);
        if !self.parent {
            s.received += received; // the parent counts its own
        }
        let seg = &mut s.segs[self.index];
        seg.done = at.saturating_sub(seg.start).min(seg.end - seg.start);
        s.transferred()
    }

    /// The segment's range still to fetch: `[from, end)`.
    pub fn remaining(&self) -> (u64, u64) {
        let s = lock(&self.shared);
        let seg = s.segs[self.index];
        (seg.start + seg.done, seg.end)
    }
}

thread_local! {
    /// Downloads whose parent just split its file: the network thread
    /// starts their helpers after this turn's callbacks.
    static SPLIT: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Called by a parent (on the network thread) that split its file.
pub fn request_helpers(id: u64) {
    SPLIT.with(|s| s.borrow_mut().push(id));
}

/// The downloads that split since the last call.
pub fn take_requests() -> Vec<u64> {
    SPLIT.with(|s| std::mem::take(&mut *s.borrow_mut()))
}

/// The bit that marks a helper's token (request ids never reach it).
pub const HELPER: u64 = 1 << 63;

/// Ends `t`'s segmented download, if it is one: the file keeps its data up
/// to the first gap (what a later resume can continue).
pub fn unsplit(t: &mut Transfer) {
    let Some(role) = t.seg.take() else { return };
    let (upto, received) = {
        let s = lock(&role.shared);
        (s.contiguous(), s.received)
    };
    t.add_received(received);
    if let Some(Sink::File(f)) = &mut t.sink {
        if f.truncate_to(upto).is_err() {
            t.sink = None; // its file goes: nothing to keep
        }
    }
    t.transferred = upto;
    t.segment_done = false;
}

/// A transfer's side of a segmented download.
impl Transfer {
    /// A helper of this (parent) transfer for the segment `role` names,
    /// writing into `file` (the parent's file, another descriptor): it asks
    /// for the segment's remaining range with `If-Range`. `spare`: an
    /// ended transfer's handle to reuse (reset here).
    pub fn helper(
        &self,
        role: Role,
        file: File,
        spare: Option<Easy2<Transfer>>,
    ) -> Result<Easy2<Transfer>, Error> {
        let (from, end) = role.remaining();
        let sink = Sink::At {
            file,
            at: from,
            end,
        };
        let transfer = Transfer {
            attempt: self.attempt,
            source: self.source,
            started_over: true, // a helper never starts over alone
            resume: Resume {
                validator: self.resume.validator.clone(),
                total: self.resume.total,
                source: self.source,
                offset: from,
                if_range: true,
            },
            seg: Some(role),
            shown: Some(Box::new((
                self.status,
                self.final_headers.clone(),
                self.flags,
            ))),
            progress: self.progress.clone(),
            url: self.source_url(),
            began_sent: true, // the parent's `began` speaks for it
            transferred: from,
            ..Transfer::new(self.req.clone(), self.events.clone(), sink)
        };
        let mut easy = match spare {
            Some(mut easy) => {
                easy.reset();
                *easy.get_mut() = transfer;
                easy
            }
            None => Easy2::new(transfer),
        };
        Transfer::configure_helper(&mut easy)?;
        Ok(easy)
    }

    /// Readies a helper whose connection failed to fetch the rest of its
    /// segment.
    pub fn next_helper_attempt(easy: &mut Easy2<Transfer>) -> Result<(), Error> {
        let t = easy.get_mut();
        let role = t
            .seg
            .clone()
            .ok_or_else(|| Error::new(ErrorKind::Internal, "not a helper"))?;
        let (from, end) = role.remaining();
        t.tries_here += 1;
        t.status = 0;
        t.headers.clear();
        t.lines = Lines::Between;
        t.final_headers = Headers::empty();
        t.decoder = None;
        t.failure = None;
        t.received_here = 0;
        t.recorded = 0;
        t.transferred = from;
        t.resume.offset = from;
        if let Some(Sink::At { at, end: e, .. }) = &mut t.sink {
            (*at, *e) = (from, end);
        }
        easy.reset();
        Transfer::configure_helper(easy)
    }

    pub(super) fn configure_helper(easy: &mut Easy2<Transfer>) -> Result<(), Error> {
        let t = easy.get_ref();
        let (from, end) = t.seg.as_ref().map_or((0, 0), Role::remaining);
        let mut headers = vec![format!("Range: bytes={from}-{}", end.saturating_sub(1))];
        if let Some(v) = &t.resume.validator {
            headers.push(format!("If-Range: {}", String::from_utf8_lossy(v)));
        }
        let (req, url) = (t.req.clone(), t.url.clone());
        configure(easy, &req, true, Some(&url), &headers).map_err(|e| Error::from_curl(&e))
    }

    /// The helper's checks of its response: a `206` of exactly its range
    /// of the same file. A `200` or another validator means the file
    /// changed: the whole download starts over.
    pub(super) fn check_segment(&mut self, role: &Role, encoded: bool) -> Result<(), Error> {
        let (from, end) = (self.transferred, role.remaining().1);
        let total = crate::lock(&role.shared).total;
        let range = self
            .final_headers
            .get("content-range")
            .and_then(attempt::content_range);
        let etag = self.final_headers.get("etag");
        let same_file = match (&self.resume.validator, etag) {
            (Some(ours), Some(theirs)) if ours.first() == Some(&b'"') => theirs == &ours[..],
            _ => true,
        };
        let exact = Some(attempt::ContentRange::Range {
            first: from,
            last: end - 1,
            total: Some(total),
        });
        if self.status == 206 && range == exact && same_file && !encoded {
            self.estimated = total as i64;
            return Ok(());
        }
        if (200..300).contains(&self.status) || !same_file {
            crate::lock(&role.shared).changed = true;
        }
        Err(Error::new(
            ErrorKind::Protocol,
            format!(
                "a segment's response (status {}) is not bytes {from}-{} of the file",
                self.status,
                end - 1
            ),
        ))
    }

    /// After the parent's response was accepted: splits the rest of the
    /// file into segments when `segments` asks and the response allows.
    pub(super) fn maybe_split(&mut self, encoded: bool) {
        let wanted = self.req.extra().fetch.segments;
        if wanted < 2 || self.segments_off || self.seg.is_some() || encoded {
            return;
        }
        let (Some(total), Some(_)) = (self.resume.total, &self.resume.validator) else {
            return;
        };
        let ranges_ok = self
            .final_headers
            .get("accept-ranges")
            .is_some_and(|v| trim_blanks(v).eq_ignore_ascii_case(b"bytes"));
        if !ranges_ok || self.req.method != "GET" || self.req.extra().body.is_some() {
            return;
        }
        let ranges = split(self.transferred, total, wanted);
        if ranges.is_empty() {
            return;
        }
        let budget = self.req.extra().fetch.max_retries + ranges.len() as u32;
        let shared = Arc::new(std::sync::Mutex::new(State::new(
            self.transferred,
            total,
            &ranges,
            budget,
        )));
        self.seg = Some(Role {
            shared,
            index: 0,
            parent: true,
        });
        request_helpers(self.id);
    }
}

/// The network thread's side: helpers started, stopped, retried; the
/// download finished, failed or started over.
impl Agent {
    /// Starts the helpers of the downloads whose transfer split its file
    /// during this turn.
    pub(super) fn start_helpers(&mut self) {
        for id in take_requests() {
            // The parent may have completed its own segment already.
            let role = match self.running.get(&id) {
                Some(h) => h.get_ref().seg.clone(),
                None => self.parked.get(&id).and_then(|e| e.get_ref().seg.clone()),
            };
            let Some(role) = role else {
                continue; // it failed or was cancelled meanwhile
            };
            let n = lock(&role.shared).segs.len();
            for index in 1..n {
                if let Err(e) = self.spawn_helper(id, index, Duration::ZERO) {
                    self.fail_segmented(id, e);
                    break;
                }
            }
        }
    }

    /// Starts (after `wait`) a helper for segment `index` of download `id`.
    fn spawn_helper(&mut self, id: u64, index: usize, wait: Duration) -> Result<(), Error> {
        let spare = self.spare.pop();
        let parent =
            match self.running.get(&id) {
                Some(h) => h.get_ref(),
                None => self.parked.get(&id).map(|e| e.get_ref()).ok_or_else(|| {
                    Error::new(ErrorKind::Internal, "a segment without its download")
                })?,
            };
        let shared = parent
            .seg
            .as_ref()
            .map(|r| r.shared.clone())
            .ok_or_else(|| Error::new(ErrorKind::Internal, "a helper of an unsplit download"))?;
        let file = match &parent.sink {
            Some(Sink::File(f)) => f.share_file(),
            _ => Err(std::io::Error::other("no file")),
        }
        .map_err(|e| Error::io("cannot share the download's file", &e))?;
        let role = Role {
            shared: shared.clone(),
            index,
            parent: false,
        };
        let easy = parent.helper(role, file, spare)?;
        self.next_helper += 1;
        let token = HELPER | self.next_helper;
        lock(&shared).helpers.push(token);
        if wait.is_zero() {
            self.run_attempt(token, easy)
        } else {
            let due = Instant::now() + wait;
            self.waiting.push(Waiting {
                id: token,
                due,
                easy,
            });
            Ok(())
        }
    }

    /// A transfer of a segmented download stopped (`key`: its token):
    /// its segment is complete, or it failed.
    pub(super) fn segment_stopped(
        &mut self,
        key: u64,
        mut easy: Easy2<Transfer>,
        role: Role,
        err: Option<Error>,
    ) {
        let id = easy.get_mut().id;
        let (done, changed) = {
            let s = lock(&role.shared);
            let seg = s.segs[role.index];
            (seg.start + seg.done == seg.end, s.changed)
        };
        let failure = (!done).then(|| {
            err.unwrap_or_else(|| {
                Error::new(ErrorKind::Network, "a segment's response ended early")
            })
        });
        // The parent waits for the others; a helper is done or tries again.
        let mut retry = None;
        if role.parent {
            self.parked.insert(id, easy);
        } else {
            lock(&role.shared).helpers.retain(|&h| h != key);
            if failure.is_some() && !changed {
                retry = Some(easy);
            } else {
                self.keep_spare(easy);
            }
        }
        if changed {
            return self.restart_unsegmented(id);
        }
        let Some(err) = failure else {
            return self.finish_if_complete(id);
        };
        let over = {
            let mut s = lock(&role.shared);
            s.failures += 1;
            s.failures > s.budget
        };
        if over {
            if let Some(easy) = retry {
                self.keep_spare(easy);
            }
            return self.fail_segmented(id, err);
        }
        // Fetched again from where its data ends, after a backoff.
        let again = match retry {
            None => {
                let wait = self
                    .parked
                    .get(&id)
                    .map_or(Duration::ZERO, |e| e.get_ref().backoff());
                self.spawn_helper(id, role.index, wait)
            }
            Some(mut easy) => Transfer::next_helper_attempt(&mut easy).map(|()| {
                let due = Instant::now() + easy.get_ref().backoff();
                lock(&role.shared).helpers.push(key);
                self.waiting.push(Waiting { id: key, due, easy });
            }),
        };
        if let Err(e) = again {
            self.fail_segmented(id, e);
        }
    }

    /// Ends download `id` when every segment is complete.
    fn finish_if_complete(&mut self, id: u64) {
        let Some(easy) = self.parked.get(&id) else {
            return;
        };
        let Some(role) = easy.get_ref().seg.clone() else {
            return;
        };
        let (total, received) = {
            let s = lock(&role.shared);
            if !s.complete() || !s.helpers.is_empty() {
                return;
            }
            (s.total, s.received)
        };
        let Some(mut easy) = self.parked.remove(&id) else {
            return;
        };
        let t = easy.get_mut();
        t.seg = None;
        t.segment_done = false;
        t.add_received(received);
        t.transferred = total;
        t.estimated = total as i64;
        let err = match &mut t.sink {
            Some(Sink::File(f)) => f.assemble(total).err(),
            _ => Some(Error::new(
                ErrorKind::Internal,
                "a segmented download without its file",
            )),
        };
        self.conclude(id, easy, err);
    }

    /// Stops every helper of download `id`, and its split.
    pub(super) fn drop_helpers(&mut self, id: u64) {
        let role = match self.running.get(&id) {
            Some(h) => h.get_ref().seg.clone(),
            None => self.parked.get(&id).and_then(|e| e.get_ref().seg.clone()),
        };
        let Some(role) = role else { return };
        let tokens = std::mem::take(&mut lock(&role.shared).helpers);
        for token in tokens {
            if let Some(handle) = self.running.remove(&token) {
                if let Ok(easy) = self.multi.remove2(handle) {
                    self.keep_spare(easy);
                }
            } else if let Some(i) = self.waiting.iter().position(|w| w.id == token) {
                let w = self.waiting.swap_remove(i);
                self.keep_spare(w.easy);
            }
        }
    }

    /// Stops download `id`'s helpers and takes its own transfer, parked or
    /// running, out of the multi handle.
    pub(super) fn take_parent(&mut self, id: u64) -> Option<Easy2<Transfer>> {
        self.drop_helpers(id);
        match self.parked.remove(&id) {
            Some(easy) => Some(easy),
            None => (self.running.remove(&id)).and_then(|h| self.multi.remove2(h).ok()),
        }
    }

    /// The download failed in a segment beyond what it may: it ends (or
    /// is retried whole, by its own policy) with the data up to the first
    /// gap.
    fn fail_segmented(&mut self, id: u64, err: Error) {
        let easy = self.take_parent(id);
        if let Some(mut easy) = easy {
            unsplit(easy.get_mut());
            self.conclude(id, easy, Some(err));
        }
    }

    /// A segment saw another file: the download starts over on one
    /// connection.
    fn restart_unsegmented(&mut self, id: u64) {
        let easy = self.take_parent(id);
        let Some(mut easy) = easy else { return };
        let t = easy.get_mut();
        if let Some(role) = t.seg.take() {
            t.add_received(lock(&role.shared).received);
        }
        t.segment_done = false;
        t.segments_off = true;
        let source = t.source;
        match Transfer::next_attempt(&mut easy, source, true) {
            Ok(()) => self.waiting.push(Waiting {
                id,
                due: Instant::now(),
                easy,
            }),
            Err(e) => self.conclude(id, easy, Some(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits() {
        const M: u64 = MIN_SEGMENT;
        assert!(split(0, 2 * M - 1, 8).is_empty());
        assert!(split(0, 100 * M, 1).is_empty());
        assert!(split(0, 100 * M, 0).is_empty());
        assert_eq!(split(0, 2 * M, 8), vec![(0, M), (M, 2 * M)]);
        // At most `wanted`, at most 16, at least MIN_SEGMENT each.
        assert_eq!(split(0, 100 * M, 8).len(), 8);
        assert_eq!(split(0, 100 * M, 99).len(), 16);
        assert_eq!(split(0, 5 * M + 7, 8).len(), 5);
        // Contiguous, from the offset to the end.
        let r = split(3, 9 * M + 5, 4);
        assert_eq!(r.first().unwrap().0, 3);
        assert_eq!(r.last().unwrap().1, 9 * M + 5);
        assert!(r.windows(2).all(|w| w[0].1 == w[1].0));
        assert!(r.iter().all(|(a, b)| b - a >= M));
        // A hostile length does not overflow.
        let r = split(0, u64::MAX, 16);
        assert_eq!((r.len(), r[15].1), (16, u64::MAX));
        assert!(r.windows(2).all(|w| w[0].1 == w[1].0 && w[0].0 < w[0].1));
    }

    #[test]
    fn state() {
        let mut s = State::new(10, 40, &[(10, 20), (20, 30), (30, 40)], 3);
        assert_eq!(
            (s.transferred(), s.contiguous(), s.complete()),
            (10, 10, false)
        );
        s.segs[0].done = 10;
        s.segs[1].done = 4;
        s.segs[2].done = 10;
        assert_eq!(
            (s.transferred(), s.contiguous(), s.complete()),
            (34, 24, false)
        );
        s.segs[1].done = 10;
        assert_eq!(
            (s.transferred(), s.contiguous(), s.complete()),
            (40, 40, true)
        );
    }
}
