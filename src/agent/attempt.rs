//! What carries a request from one attempt to the next: where a download
//! resumes (`Resume`), which response may continue its data, and whether
//! and when a failed attempt is tried again (`next_step`).
//!
//! The rules, as `net_options` documents them:
//! - A download's data may be continued only with the strong validator of
//!   the response that sent its first byte (an `ETag` that is not weak, or
//!   `Last-Modified`), and only when that response was not compressed.
//! - The next attempt asks for `Range: bytes=N-` with `If-Range: <validator>`
//!   (no `If-Range` on another source when a SHA-256 will check the result).
//!   A `206` continues the data only when its `Content-Range` is
//!   `N-(T-1)/T` with the same total T; a `200` starts over; a `416` means
//!   complete only when its total is N. Anything else starts over once.
//! - Transient failures are retried with exponential backoff and full
//!   jitter, or after what `Retry-After` asks; then the next source.
//!
//! The rules are free functions (unit-tested below); `impl Transfer` at the
//! end applies them to a transfer between two attempts.

use std::ffi::CStr;
use std::io::Seek;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use curl::easy::Easy2;

use super::headers::Lines;
use super::partial::Kept;
use super::sink::{Expect, FileSink, Sink};
use super::transfer::{configure, Transfer};
use crate::error::{Error, ErrorKind};
use crate::event::{flags, Headers, ResponseType};
use crate::request::Request;

/// Longest wait a `Retry-After` may ask for.
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(300);

/// The continuity of a download's data across attempts.
#[derive(Debug, Default)]
pub struct Resume {
    /// The strong validator of the data in the file, as received (an ETag
    /// with its quotes, or an HTTP date); None: the data cannot continue.
    pub validator: Option<Vec<u8>>,
    /// The file's full length, as the response that began the data said.
    pub total: Option<u64>,
    /// The source (0: the URL, n: mirror n) that began the data.
    pub source: usize,
    /// Where this attempt's body starts in the file (the `Range` it sent;
    /// 0 when it asked for the whole file).
    pub offset: u64,
    /// This attempt sent `If-Range`.
    pub if_range: bool,
}

impl Resume {
    /// Plans the next attempt of a download with `written` bytes on disk,
    /// from `source`: returns the request headers it adds (none when it
    /// asks for the whole file, and then the data must be emptied).
    /// `checked`: a SHA-256 will check the result.
    pub fn plan(&mut self, written: u64, source: usize, checked: bool) -> Vec<String> {
        self.offset = 0;
        self.if_range = false;
        let Some(validator) = &self.validator else {
            return Vec::new();
        };
        if written == 0 {
            return Vec::new();
        }
        self.offset = written;
        let mut headers = vec![format!("Range: bytes={written}-")];
        // On another source, a SHA-256 that will check the result lets the
        // data continue whatever that source's validator is; otherwise
        // `If-Range` makes a source whose validator differs send it all.
        if source == self.source || !checked {
            self.if_range = true;
            headers.push(format!("If-Range: {}", String::from_utf8_lossy(validator)));
        }
        headers
    }

    /// Forgets the data (it starts over from the first byte).
    pub fn reset(&mut self) {
        *self = Resume::default();
    }
}

/// The validator that lets data continue: a strong ETag (`"..."`), else a
/// Last-Modified date libcurl can read; None when neither is there. A weak
/// ETag says the bytes may differ (no resume at all); a malformed one or a
/// date that is not one is nothing to rely on.
pub fn strong_validator(etag: Option<&[u8]>, last_modified: Option<&[u8]>) -> Option<Vec<u8>> {
    // Sent back in `If-Range`: no control byte may ride along.
    let clean = |v: &&[u8]| !v.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f);
    let (etag, last_modified) = (etag.filter(clean), last_modified.filter(clean));
    match etag {
        Some(e) if e.len() >= 2 && e.starts_with(b"\"") && e.ends_with(b"\"") => Some(e.to_vec()),
        Some(e) if e.starts_with(b"W/") => None,
        _ => last_modified
            .filter(|d| is_http_date(d))
            .map(<[u8]>::to_vec),
    }
}

/// A date `curl_getdate` reads.
fn is_http_date(d: &[u8]) -> bool {
    let Ok(c) = std::ffi::CString::new(d) else {
        return false;
    };
    // SAFETY: `c` is a NUL-terminated string alive for the call; NULL for
    // "now" is allowed. curl_getdate only reads its arguments.
    unsafe { curl_getdate(c.as_ptr(), std::ptr::null()) >= 0 }
}

/// `Content-Range: bytes A-B/T` as (A, B, T); `bytes */T` as (None, T).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentRange {
    Range {
        first: u64,
        last: u64,
        total: Option<u64>,
    },
    Unsatisfied {
        total: u64,
    },
}

pub fn content_range(value: &[u8]) -> Option<ContentRange> {
    let v = std::str::from_utf8(value).ok()?.trim();
    let rest = v.strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    // At most i64::MAX, as a Content-Length (events report sizes as i64).
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok().map(|n| n as u64))
            .flatten()
    };
    let total = match total.trim() {
        "*" => None,
        t => Some(num(t)?),
    };
    if range.trim() == "*" {
        return Some(ContentRange::Unsatisfied { total: total? });
    }
    let (first, last) = range.split_once('-')?;
    let (first, last) = (num(first)?, num(last)?);
    if last < first || total.is_some_and(|t| last >= t) {
        return None;
    }
    Some(ContentRange::Range { first, last, total })
}

/// Why a `206` does not continue the data at `resume.offset`, if it
/// does not. `etag`: the 206's ETag.
pub fn check_partial(
    resume: &Resume,
    range: Option<&[u8]>,
    etag: Option<&[u8]>,
) -> Result<u64, Error> {
    let offset = resume.offset;
    let bad = |why: String| Error::new(ErrorKind::Protocol, why);
    let Some(range) = range.and_then(content_range) else {
        return Err(bad(format!(
            "a 206 to Range: bytes={offset}- without a valid Content-Range"
        )));
    };
    let ContentRange::Range {
        first,
        last,
        total: Some(total),
    } = range
    else {
        return Err(bad(format!(
            "a 206 to Range: bytes={offset}- with Content-Range {range:?}"
        )));
    };
    if first != offset || last + 1 != total || resume.total.is_some_and(|t| t != total) {
        return Err(bad(format!(
            "Content-Range bytes {first}-{last}/{total} does not continue {offset} bytes of {}",
            resume.total.map_or("?".into(), |t| t.to_string())
        )));
    }
    if resume.if_range {
        if let (Some(ours), Some(theirs)) = (&resume.validator, etag) {
            if ours.first() == Some(&b'"') && theirs != &ours[..] {
                return Err(bad("the 206's ETag is not the data's".into()));
            }
        }
    }
    Ok(total)
}

/// Whether a `416` says the data on disk is already the whole file.
pub fn complete_416(resume: &Resume, range: Option<&[u8]>, etag: Option<&[u8]>) -> bool {
    let Some(ContentRange::Unsatisfied { total }) = range.and_then(content_range) else {
        return false;
    };
    let same = match (&resume.validator, etag) {
        (Some(ours), Some(theirs)) if ours.first() == Some(&b'"') => theirs == &ours[..],
        _ => true,
    };
    total == resume.offset && resume.total.is_none_or(|t| t == total) && same
}

/// HTTP statuses worth another try.
pub fn is_transient_status(status: i32) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Failures worth another try.
pub fn is_transient(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Dns | ErrorKind::Connect | ErrorKind::Timeout | ErrorKind::Network
    )
}

/// Failures of this machine, which another source would not fix.
pub fn is_local(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::InvalidArgument | ErrorKind::Io | ErrorKind::Internal | ErrorKind::TooLarge
    )
}

/// How a failed attempt ended, as `next_step` needs it.
#[derive(Clone, Copy, Debug)]
pub struct Failed {
    /// The error, or None for a response with a status that is not a
    /// success.
    pub kind: Option<ErrorKind>,
    pub status: i32,
    /// The response could not continue the data: start over.
    pub restart: bool,
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Report the failure.
    GiveUp,
    /// Try the same source again after this wait.
    Retry(Duration),
    /// Try the next source at once.
    NextSource,
    /// Try the same source again at once, from the first byte.
    StartOver,
}

/// The attempt counters `next_step` reads.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tries {
    /// Retries made on the current source.
    pub here: u32,
    /// Retries allowed per source.
    pub max: u32,
    /// Sources after the current one.
    pub sources_left: usize,
    /// A start-over was made already (one is free).
    pub started_over: bool,
}

pub fn next_step(f: Failed, tries: Tries, backoff: impl FnOnce() -> Duration) -> Step {
    if f.restart && !tries.started_over {
        return Step::StartOver;
    }
    let transient = match f.kind {
        Some(k) => is_transient(k),
        None => is_transient_status(f.status),
    };
    if transient && tries.here < tries.max {
        return Step::Retry(backoff());
    }
    if tries.sources_left > 0 && !f.kind.is_some_and(is_local) {
        return Step::NextSource;
    }
    Step::GiveUp
}

/// Full-jitter exponential backoff before retry `n` (1-based): a random
/// time in `[0, min(cap, base * 2^(n-1))]`.
pub fn backoff(n: u32, base: Duration, cap: Duration, random: u64) -> Duration {
    let ceiling = base
        .checked_mul(1u32 << (n.saturating_sub(1)).min(30))
        .unwrap_or(cap)
        .min(cap);
    let ms = ceiling.as_millis() as u64;
    Duration::from_millis(if ms == 0 { 0 } else { random % (ms + 1) })
}

/// A `Retry-After` value: seconds, or an HTTP date (read by libcurl's
/// `curl_getdate`), as a wait from `now`, at most `RETRY_AFTER_MAX`.
pub fn retry_after(value: &[u8], now: SystemTime) -> Option<Duration> {
    let v = std::str::from_utf8(value).ok()?.trim();
    let wait = if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX).min(1 << 32))
    } else {
        let c = std::ffi::CString::new(v).ok()?;
        // SAFETY: `c` is a NUL-terminated string alive for the call; NULL
        // for "now" is allowed. curl_getdate only reads its arguments.
        let t = unsafe { curl_getdate(c.as_ptr(), std::ptr::null()) };
        if t < 0 {
            return None;
        }
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(t as u64);
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(RETRY_AFTER_MAX))
}

extern "C" {
    /// libcurl's HTTP date parser (in the statically linked libcurl).
    fn curl_getdate(datestring: *const libc::c_char, now: *const libc::time_t) -> libc::time_t;
}

/// A cheap pseudo-random number for jitter (xorshift of a per-thread
/// state seeded from the clock); not for anything secret.
pub fn jitter_random() -> u64 {
    use std::cell::Cell;
    thread_local!(static STATE: Cell<u64> = Cell::new(seed()));
    fn seed() -> u64 {
        let t = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        t | 1
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    })
}

/// The attempts of one transfer: readying the next one, and deciding
/// whether a response continues the data on disk.
impl Transfer {
    /// Readies a handle whose attempt failed for the next one, from
    /// `source` (`start_over`: from the first byte): resets its response
    /// state, plans the resume and sets every option again.
    pub fn next_attempt(
        easy: &mut Easy2<Transfer>,
        source: usize,
        start_over: bool,
    ) -> Result<(), Error> {
        let t = easy.get_mut();
        t.attempt += 1;
        if let Some(Sink::File(f)) = &mut t.sink {
            f.undivert(); // an error body of the last attempt
        }
        if start_over {
            t.started_over = true;
            t.resume.reset();
        }
        if source != t.source {
            t.source = source;
            t.tries_here = 0;
        } else if !start_over {
            t.tries_here += 1;
        }
        let url = t.source_url();
        t.url = url.clone();
        t.status = 0;
        t.headers.clear();
        t.lines = Lines::Between;
        t.began_sent = false;
        t.final_headers = Headers::empty();
        t.estimated = -1;
        t.response_type = ResponseType::Binary;
        t.decoder = None;
        t.failure = None;
        t.restart = false;
        t.complete = false;
        t.flags = 0;
        t.received_here = 0;
        t.recorded = 0;
        t.last_progress = None;
        t.uploaded = 0;
        if let Some(file) = t.upload.as_mut() {
            file.rewind()
                .map_err(|e| Error::io("cannot read the body file again", &e))?;
        }
        let checked = t.req.extra().fetch.sha256.is_some();
        let (range, written) = match &mut t.sink {
            Some(Sink::File(f)) => {
                let mut range = t.resume.plan(f.written(), source, checked);
                if range.is_empty() && f.written() > 0 {
                    f.restart()?;
                    t.resume.reset();
                }
                if range.is_empty() {
                    range.clone_from(&t.conditional);
                }
                (range, f.written())
            }
            Some(Sink::Memory { buf, .. }) => {
                buf.clear();
                (Vec::new(), 0)
            }
            Some(Sink::At { .. }) | None => {
                return Err(Error::new(ErrorKind::Internal, "retry without a sink"))
            }
        };
        t.transferred = written;
        let req = t.req.clone();
        easy.reset();
        let mirror = (source > 0).then_some(url);
        configure(easy, &req, true, mirror.as_deref(), &range).map_err(|e| Error::from_curl(&e))
    }

    /// Readies a handle taken off its connection (`net_suspend`) to go on
    /// from where its data ends: the next attempt from the same source,
    /// which counts as neither a retry nor a new attempt, and sends no
    /// second `began`.
    pub fn again_after_pause(easy: &mut Easy2<Transfer>) -> Result<(), Error> {
        let t = easy.get_ref();
        let (attempt, tries, began, source) = (t.attempt, t.tries_here, t.began_sent, t.source);
        Transfer::next_attempt(easy, source, false)?;
        let t = easy.get_mut();
        t.attempt = attempt;
        t.tries_here = tries;
        t.began_sent = began;
        Ok(())
    }

    /// Names this download's partial data to be continued later, when it
    /// has some with a validator, and returns its record; otherwise the
    /// data is deleted with the sink.
    pub fn keep_partial(&mut self) -> Option<Result<Kept, Error>> {
        let kept = self.kept_data().filter(|k| k.size > 0)?;
        let Some(Sink::File(f)) = &mut self.sink else {
            return None;
        };
        Some(f.keep_as(&kept.data).map(|()| kept))
    }

    /// The URL of the current source.
    pub(super) fn source_url(&self) -> Arc<CStr> {
        self.source_url_of(self.source)
    }

    pub(super) fn source_url_of(&self, source: usize) -> Arc<CStr> {
        match source {
            0 => self.req.url.clone(),
            n => {
                let mirror = &self.req.extra().fetch.mirrors[n - 1];
                Arc::from(std::ffi::CString::new(mirror.as_str()).unwrap_or_default())
            }
        }
    }

    /// How many sources come after the current one.
    pub fn sources_left(&self) -> usize {
        self.req.extra().fetch.mirrors.len() - self.source
    }

    /// The retry policy's view of this request.
    pub fn tries(&self) -> Tries {
        Tries {
            here: self.tries_here,
            max: self.req.extra().fetch.max_retries,
            sources_left: self.sources_left(),
            started_over: self.started_over,
        }
    }

    /// The backoff before the next retry on this source.
    pub fn backoff(&self) -> Duration {
        let fetch = &self.req.extra().fetch;
        let base = fetch
            .retry_delay
            .unwrap_or(crate::request::DEFAULT_RETRY_DELAY);
        let cap = fetch
            .retry_max_delay
            .unwrap_or(crate::request::DEFAULT_RETRY_MAX_DELAY);
        let retry_after = self
            .final_headers
            .get("retry-after")
            .and_then(|v| retry_after(v, std::time::SystemTime::now()));
        retry_after.unwrap_or_else(|| backoff(self.tries_here + 1, base, cap, jitter_random()))
    }

    /// A download's final response against the data already on disk:
    /// continues it (a valid 206), finds it complete (a valid 416), or
    /// empties it to start over (any other 2xx); remembers the validator
    /// and length of a response that sends the file from its first byte.
    /// `length`: the Content-Length; `encoded`: a compressed response,
    /// whose bytes are not the file's (it cannot continue data, nor be
    /// continued).
    pub(super) fn check_continuity(
        &mut self,
        length: Option<i64>,
        encoded: bool,
    ) -> Result<(), Error> {
        if let Some(role) = self.seg.clone().filter(|r| !r.parent) {
            return self.check_segment(&role, encoded);
        }
        if !self.resumable_target() {
            return Ok(());
        }
        let Some(Sink::File(f)) = &mut self.sink else {
            return Ok(());
        };
        let status = self.status;
        let offset = self.resume.offset;
        let range = self.final_headers.get("content-range");
        let etag = self.final_headers.get("etag");
        if offset > 0 && status == 206 {
            let checked = match encoded {
                true => Err(Error::new(ErrorKind::Protocol, "a compressed 206")),
                false => check_partial(&self.resume, range, etag),
            };
            let total = checked.inspect_err(|_| self.restart = true)?;
            f.check_total(total)?;
            self.estimated = total as i64;
            self.transferred = offset;
            self.flags |= flags::RESUMED;
            self.maybe_split(encoded);
            return Ok(());
        }
        if offset > 0 && status == 416 {
            if complete_416(&self.resume, range, etag) {
                self.complete = true;
                self.estimated = offset as i64;
                self.transferred = offset;
                self.flags |= flags::RESUMED;
                return Ok(());
            }
            self.restart = true;
            return Err(Error::new(
                ErrorKind::Protocol,
                format!("a 416 to Range: bytes={offset}- that does not say the file is complete"),
            ));
        }
        if !(200..300).contains(&status) {
            return Ok(()); // kept for the next attempt
        }
        if status == 206 {
            return Err(Error::new(
                ErrorKind::Protocol,
                "a 206 Partial Content to a request for the whole file",
            ));
        }
        if f.written() > 0 {
            f.restart()?;
            self.transferred = 0;
        }
        let total = length
            .filter(|_| !encoded)
            .and_then(|l| u64::try_from(l).ok());
        let validator = strong_validator(etag, self.final_headers.get("last-modified"));
        self.resume = Resume {
            validator: validator.filter(|_| !encoded),
            total,
            source: self.source,
            offset: 0,
            if_range: false,
        };
        if let Some(total) = total {
            f.check_total(total)?;
        }
        self.maybe_split(encoded);
        Ok(())
    }

    /// A download whose response bodies are bytes of its file (not one
    /// that asked for a range of its own).
    pub(super) fn resumable_target(&self) -> bool {
        matches!(self.sink, Some(Sink::File(_)))
            && !self
                .req
                .extra()
                .headers
                .iter()
                .any(|h| h.get(..6).is_some_and(|n| n.eq_ignore_ascii_case("range:")))
    }
}

/// Kept partial data a request continues.
pub(super) struct Continued {
    /// Its file (taken when the sink is made).
    pub(super) sink: Option<FileSink>,
    pub(super) size: u64,
    pub(super) resume: Resume,
    /// The source whose URL sent the data.
    pub(super) resume_source: usize,
}

/// Opens kept partial data for `req` when it came from one of its URLs;
/// otherwise (or when it cannot be opened) deletes it.
pub(super) fn continue_kept(req: &Request, kept: Kept) -> Option<Continued> {
    let fetch = &req.extra().fetch;
    let urls =
        std::iter::once(req.url.to_bytes()).chain(fetch.mirrors.iter().map(|m| m.as_bytes()));
    let source = urls.clone().position(|u| u == kept.url);
    let file = req.file()?;
    let expect = Expect {
        size: fetch.expected_size,
        sha256: fetch.sha256,
    };
    // Read from disk: a validator the response check would not have kept
    // (a damaged or altered record) is not sent.
    let v = &kept.validator[..];
    let valid =
        strong_validator(Some(v), None).or(strong_validator(None, Some(v))) == Some(v.to_vec());
    let sink = (source.filter(|_| valid))
        .and_then(|_| FileSink::continue_from(file, req.id, &kept.data, kept.size, expect).ok());
    let (Some(sink), Some(source)) = (sink, source) else {
        let _ = std::fs::remove_file(&kept.data);
        return None;
    };
    Some(Continued {
        sink: Some(sink),
        size: kept.size,
        resume: Resume {
            validator: Some(kept.validator),
            total: kept.total,
            source,
            offset: 0,
            if_range: false,
        },
        resume_source: source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators() {
        assert_eq!(
            strong_validator(Some(b"\"a\""), Some(b"d")),
            Some(b"\"a\"".to_vec())
        );
        assert_eq!(strong_validator(Some(b"W/\"a\""), Some(b"d")), None);
        let date = b"Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(strong_validator(None, Some(date)), Some(date.to_vec()));
        // Malformed: nothing to rely on.
        assert_eq!(strong_validator(Some(b"A"), None), None);
        assert_eq!(strong_validator(Some(b"\""), None), None);
        assert_eq!(
            strong_validator(Some(b"A"), Some(date)),
            Some(date.to_vec())
        );
        assert_eq!(strong_validator(None, Some(b"not a date")), None);
        assert_eq!(strong_validator(None, None), None);
        // A control byte (it would go back in If-Range): malformed.
        assert_eq!(strong_validator(Some(b"\"a\r\nX: y\""), None), None);
        assert_eq!(
            strong_validator(Some(b"\"a\x01\""), Some(date)),
            Some(date.to_vec())
        );
        assert_eq!(
            strong_validator(Some(b"\"a\tb\""), None),
            Some(b"\"a\tb\"".to_vec())
        );
    }

    #[test]
    fn content_ranges() {
        use ContentRange::*;
        let r = |s: &[u8]| content_range(s);
        assert_eq!(
            r(b"bytes 10-99/100"),
            Some(Range {
                first: 10,
                last: 99,
                total: Some(100)
            })
        );
        assert_eq!(
            r(b"bytes 0-0/*"),
            Some(Range {
                first: 0,
                last: 0,
                total: None
            })
        );
        assert_eq!(r(b"bytes */100"), Some(Unsatisfied { total: 100 }));
        for bad in [
            &b"bytes 10-9/100"[..],
            b"bytes 10-100/100",
            b"bytes -1-5/10",
            b"bytes */*",
            b"items 0-1/2",
            b"bytes 0-1",
            b"bytes +0-1/2",
            b"bytes 0-1/9223372036854775808",
            b"bytes */18446744073709551615",
        ] {
            assert_eq!(r(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    fn resume(offset: u64, total: u64) -> Resume {
        Resume {
            validator: Some(b"\"v1\"".to_vec()),
            total: Some(total),
            source: 0,
            offset,
            if_range: true,
        }
    }

    #[test]
    fn partials() {
        let r = resume(30, 100);
        assert_eq!(
            check_partial(&r, Some(b"bytes 30-99/100"), Some(b"\"v1\"")).unwrap(),
            100
        );
        for bad in [
            &b"bytes 31-99/100"[..],
            b"bytes 30-98/100",
            b"bytes 30-100/101",
            b"bytes 30-99/*",
        ] {
            assert!(check_partial(&r, Some(bad), None).is_err());
        }
        assert!(check_partial(&r, None, None).is_err());
        assert!(check_partial(&r, Some(b"bytes 30-99/100"), Some(b"\"v2\"")).is_err());
        assert!(complete_416(&resume(100, 100), Some(b"bytes */100"), None));
        assert!(!complete_416(&resume(50, 100), Some(b"bytes */100"), None));
        assert!(!complete_416(
            &resume(100, 100),
            Some(b"bytes */100"),
            Some(b"\"v2\"")
        ));
        assert!(!complete_416(&resume(100, 100), None, None));
    }

    #[test]
    fn plans() {
        let mut r = resume(0, 100);
        assert_eq!(
            r.plan(40, 0, false),
            vec!["Range: bytes=40-".to_string(), "If-Range: \"v1\"".into()]
        );
        assert!(r.if_range);
        // Another source with a hash to check: no If-Range.
        assert_eq!(r.plan(40, 1, true), vec!["Range: bytes=40-".to_string()]);
        assert!(!r.if_range && r.offset == 40);
        assert!(r.plan(0, 0, false).is_empty());
        r.validator = None;
        assert!(r.plan(40, 0, false).is_empty());
        assert_eq!(r.offset, 0);
    }

    #[test]
    fn steps() {
        let tries = Tries {
            here: 0,
            max: 2,
            sources_left: 1,
            started_over: false,
        };
        let wait = || Duration::from_millis(5);
        let failed = |kind, status| Failed {
            kind,
            status,
            restart: false,
        };
        let step = |f, t| next_step(f, t, wait);
        // The classification table.
        for k in [
            ErrorKind::Dns,
            ErrorKind::Connect,
            ErrorKind::Timeout,
            ErrorKind::Network,
        ] {
            assert_eq!(
                step(failed(Some(k), 0), tries),
                Step::Retry(wait()),
                "{k:?}"
            );
        }
        for s in [408, 429, 500, 502, 503, 504] {
            assert_eq!(step(failed(None, s), tries), Step::Retry(wait()), "{s}");
        }
        for s in [400, 401, 403, 404, 410, 501] {
            assert_eq!(step(failed(None, s), tries), Step::NextSource, "{s}");
        }
        for k in [ErrorKind::Tls, ErrorKind::Protocol, ErrorKind::Integrity] {
            assert_eq!(step(failed(Some(k), 0), tries), Step::NextSource, "{k:?}");
        }
        for k in [
            ErrorKind::Io,
            ErrorKind::InvalidArgument,
            ErrorKind::Internal,
        ] {
            assert_eq!(step(failed(Some(k), 0), tries), Step::GiveUp, "{k:?}");
        }
        let last = Tries {
            sources_left: 0,
            ..tries
        };
        assert_eq!(step(failed(None, 404), last), Step::GiveUp);
        assert_eq!(step(failed(Some(ErrorKind::Tls), 0), last), Step::GiveUp);
        let spent = Tries { here: 2, ..last };
        assert_eq!(step(failed(None, 503), spent), Step::GiveUp);
        let restart = Failed {
            restart: true,
            ..failed(Some(ErrorKind::Protocol), 206)
        };
        assert_eq!(step(restart, last), Step::StartOver);
        let again = Tries {
            started_over: true,
            ..last
        };
        assert_eq!(step(restart, again), Step::GiveUp);
    }

    #[test]
    fn backoffs() {
        let (base, cap) = (Duration::from_secs(1), Duration::from_secs(30));
        assert_eq!(backoff(1, base, cap, 1000), Duration::from_millis(1000));
        assert_eq!(backoff(1, base, cap, 1001), Duration::ZERO);
        assert_eq!(backoff(3, base, cap, 4000), Duration::from_millis(4000));
        assert_eq!(backoff(3, base, cap, 4001), Duration::ZERO);
        assert_eq!(backoff(10, base, cap, 30_000), cap);
        assert_eq!(backoff(99, base, cap, 30_000), cap);
        assert!(backoff(99, base, cap, 12345) <= cap);
    }

    #[test]
    fn retry_afters() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(retry_after(b"2", now), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(b" 0 ", now), Some(Duration::ZERO));
        assert_eq!(retry_after(b"99999", now), Some(RETRY_AFTER_MAX));
        // 2001-09-09T01:46:40Z is 1_000_000_000.
        assert_eq!(
            retry_after(b"Sun, 09 Sep 2001 01:46:50 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after(b"Sun, 09 Sep 2001 01:46:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(b"soon", now), None);
        assert_eq!(retry_after(b"-5", now), None);
    }
}
