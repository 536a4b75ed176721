//! One running request: the libcurl easy handle's configuration and its
//! callbacks (headers, body, upload), which parse the response, feed the
//! sink and emit `began`/`progress` events.
//!
//! Every callback catches its own panics and turns them into an internal
//! error for this transfer only. curl-rust's own catch would stash the
//! panic and re-raise it from `Multi::perform`, taking every other
//! transfer down with it.

use std::collections::HashSet;
use std::ffi::CStr;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use curl::easy::{Easy2, Handler, List, ReadError, SeekResult, WriteError};

use super::attempt::{self, Resume};
use super::decode::{self, Decoder};
use super::partial::Kept;
use super::segments::{self, Role};
use super::sink::{Expect, FileSink, Sink};
use crate::error::{Error, ErrorKind};
use crate::event::{flags, Event, HeaderBuf, Headers, Phase, ProgressSlot, ResponseType};
use crate::queue::EventTx;
use crate::request::{BodyType, FilePath, Request, ResolvedBody, Target};

/// Minimum time between two progress events of one request.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);
/// libcurl's receive buffer. Bigger chunks mean fewer write(2) calls; since
/// curl 8.7 the buffer belongs to the multi handle, not to each transfer.
const BUFFER_SIZE: usize = 512 * 1024;

// Option numbers curl-sys does not name (CURLOPTTYPE_STRINGPOINT + n).
const CURLOPT_PROTOCOLS_STR: curl_sys::CURLoption = 10_000 + 318;
const CURLOPT_REDIR_PROTOCOLS_STR: curl_sys::CURLoption = 10_000 + 319;
// CURLOPTTYPE_LONG + 265: keep a proxy's CONNECT response out of the
// header callback, so the only header blocks are the server's.
const CURLOPT_SUPPRESS_CONNECT_HEADERS: curl_sys::CURLoption = 265;

/// The libcurl handler of one request, over all its attempts.
pub struct Transfer {
    pub id: u64,
    pub user_data: usize,
    /// The request, kept for its later attempts.
    req: Arc<Request>,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The URL being tried: 0 the request's, n its mirror n.
    pub source: usize,
    /// Retries made on this source.
    pub tries_here: u32,
    /// A start-over (its one free attempt) was made.
    pub started_over: bool,
    /// Where a download's data continues from.
    resume: Resume,
    /// This attempt's response cannot continue the data: start over.
    pub restart: bool,
    /// This attempt's 416 says the data on disk is the whole file.
    pub complete: bool,
    /// `NET_EVENT_*` of this attempt.
    pub flags: u32,
    /// `If-None-Match` / `If-Modified-Since` lines sent with every attempt
    /// that asks for the whole file (`if_changed`).
    conditional: Vec<String>,
    /// Body bytes from the network, all attempts.
    received: u64,
    /// Body bytes from the network, this attempt.
    received_here: u64,
    /// Of those, how many a segment's shared count has.
    recorded: u64,
    /// Its part in a segmented download (`segments`), once split.
    pub seg: Option<Role>,
    /// Its segment is complete: the transfer stopped there.
    pub segment_done: bool,
    /// Splitting is off: a segment saw another file, so the download
    /// started over on one connection.
    pub segments_off: bool,
    /// A helper's events show its download's response, not its own.
    shown: Option<Box<(i32, Headers, u32)>>,
    events: EventTx,
    progress: Option<Arc<ProgressSlot>>,
    /// `began`/`progress` report the request body being sent, of
    /// `upload_size` bytes (-1: unknown), instead of the response.
    upload_progress: bool,
    upload_size: i64,
    /// Body bytes sent so far (upload progress only).
    uploaded: i64,
    pub url: Arc<CStr>,
    pub file: Option<FilePath>,
    follow_redirects: bool,
    is_head: bool,
    pub timeout: Duration,
    /// When a byte last moved in either direction (or the transfer began).
    pub last_activity: Instant,
    last_progress: Option<Instant>,
    /// The response being received: status, headers, and whether its
    /// header block is complete (the final response, not a 1xx/redirect).
    pub status: i32,
    headers: HeaderBuf,
    /// Where the header callback is: in a header block or between blocks.
    lines: Lines,
    began_sent: bool,
    pub final_headers: Headers,
    pub estimated: i64,
    pub response_type: ResponseType,
    pub transferred: u64,
    pub sink: Option<Sink>,
    /// The final response's content decoding, if it is encoded, and the
    /// buffer its output goes through.
    decoder: Option<Decoder>,
    decoded: Vec<u8>,
    upload: Option<File>,
    /// Why a callback stopped the transfer; wins over libcurl's error.
    pub failure: Option<Error>,
    /// `Some(key)` for a GET with no option beyond the per-request ones
    /// `configure` always sets and what the key names: its handle can
    /// serve the next such GET with the same key without a reset.
    plain: Option<Plain>,
}

/// What a plain GET's handle keeps set: the CA file, and whether it asks
/// for the file itself (a download) or for compression (a request).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Plain {
    ca_file: Option<PathBuf>,
    identity: bool,
}

impl Transfer {
    /// Builds the easy handle for `req`; creates directories and the
    /// temporary file of a download.
    /// `known_dirs`: folders already made, so they are not made again.
    /// `spare`: a handle of an ended transfer to reuse, which saves
    /// allocating and initialising a new one (reset here unless both it
    /// and `req` are plain GETs with the same CA file).
    /// `kept`: partial data of the target kept by an earlier download,
    /// continued when its URL is this request's or a mirror's;
    /// `conditional`: the header lines that ask whether the file on disk
    /// changed (`if_changed`), sent when the whole file is asked for.
    pub fn start(
        req: Request,
        events: EventTx,
        known_dirs: &mut HashSet<Vec<u8>>,
        spare: Option<Easy2<Transfer>>,
        kept: Option<Kept>,
        conditional: Vec<String>,
    ) -> Result<Easy2<Transfer>, Error> {
        let mut continued = kept.and_then(|k| continue_kept(&req, k));
        let (sink, file) = match &req.target {
            Target::Memory { limit } => (
                Sink::Memory {
                    buf: Vec::new(),
                    limit: *limit,
                },
                None,
            ),
            Target::File { file, limit } => {
                let fetch = &req.extra().fetch;
                let expect = Expect {
                    size: fetch.expected_size,
                    sha256: fetch.sha256,
                };
                let sink = match continued.as_mut().and_then(|c| c.sink.take()) {
                    Some(sink) => sink.with_limit(*limit),
                    None => FileSink::create(file, req.id, known_dirs)?
                        .with_limit(*limit)
                        .with_expect(expect),
                };
                (Sink::File(sink), Some(file.clone()))
            }
        };
        let upload = match &req.extra().body {
            Some(ResolvedBody::File(p)) => Some(File::open(p).map_err(|e| {
                Error::io(&format!("cannot read the body file {}", p.display()), &e)
            })?),
            _ => None,
        };
        let upload_size = match &req.extra().body {
            Some(ResolvedBody::Bytes(b)) => b.len() as i64,
            Some(ResolvedBody::File(_)) => upload
                .as_ref()
                .and_then(|f| f.metadata().ok())
                .map_or(-1, |m| m.len() as i64),
            None => 0,
        };
        let req = Arc::new(req);
        let mut transfer = Transfer {
            id: req.id,
            user_data: req.user_data,
            req: req.clone(),
            attempt: 1,
            source: 0,
            tries_here: 0,
            started_over: false,
            resume: Resume::default(),
            restart: false,
            complete: false,
            flags: 0,
            conditional: Vec::new(),
            received: 0,
            received_here: 0,
            recorded: 0,
            seg: None,
            segment_done: false,
            segments_off: false,
            shown: None,
            events,
            progress: req.progress.then(Arc::default),
            upload_progress: req.upload_progress,
            upload_size,
            uploaded: 0,
            url: req.url.clone(),
            file,
            follow_redirects: req.follow_redirects,
            is_head: req.method == "HEAD",
            timeout: req.timeout,
            last_activity: Instant::now(),
            last_progress: None,
            status: 0,
            headers: HeaderBuf::default(),
            lines: Lines::Between,
            began_sent: false,
            final_headers: Headers::empty(),
            estimated: -1,
            response_type: ResponseType::Binary,
            transferred: 0,
            sink: Some(sink),
            decoder: None,
            decoded: Vec::new(),
            upload,
            failure: None,
            plain: plain_get(&req),
        };
        // The request asks for the rest of kept data.
        let mut range = Vec::new();
        if let Some(c) = continued {
            transfer.resume = c.resume;
            transfer.source = c.resume_source;
            transfer.url = transfer.source_url();
            let checked = req.extra().fetch.sha256.is_some();
            range = transfer.resume.plan(c.size, c.resume_source, checked);
            transfer.transferred = c.size;
        }
        if range.is_empty() {
            range.clone_from(&conditional);
        }
        transfer.conditional = conditional;
        if !range.is_empty() {
            transfer.plain = None; // it sets headers
        }
        // A plain GET after a plain GET with the same CA file only changes
        // the per-request options (the usual way to reuse a libcurl
        // handle); anything else starts from a reset handle.
        let (mut easy, fresh) = match spare {
            Some(mut easy) => {
                let fresh = transfer.plain.is_none() || easy.get_ref().plain != transfer.plain;
                if fresh {
                    easy.reset(); // every option back to its default
                }
                let mut transfer = transfer;
                // The header buffer keeps its capacity for this response.
                transfer.headers = std::mem::take(&mut easy.get_mut().headers);
                transfer.headers.clear();
                *easy.get_mut() = transfer;
                (easy, fresh)
            }
            None => (Easy2::new(transfer), true),
        };
        let url = (easy.get_ref().source > 0).then(|| easy.get_ref().url.clone());
        configure(&mut easy, &req, fresh, url.as_deref(), &range)
            .map_err(|e| Error::from_curl(&e))?;
        Ok(easy)
    }

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
        let mut req_url = None;
        if source > 0 {
            req_url = Some(url);
        }
        configure(easy, &req, true, req_url.as_deref(), &range).map_err(|e| Error::from_curl(&e))
    }

    /// Names this download's partial data to be continued later, when it
    /// has some with a validator, and returns its record; otherwise the
    /// data is deleted with the sink.
    pub fn keep_partial(&mut self) -> Option<Result<Kept, Error>> {
        let validator = self.resume.validator.clone()?;
        let url = self.source_url_of(self.resume.source).to_bytes().to_vec();
        let Some(Sink::File(f)) = &mut self.sink else {
            return None;
        };
        let size = f.written();
        let target = self.file.as_ref()?.path()?.to_path_buf();
        if size == 0 {
            return None;
        }
        let data = super::partial::data_path(&target);
        let kept = Kept {
            data,
            target,
            url,
            validator,
            total: self.resume.total,
            size,
        };
        Some(f.keep_as(&kept.data).map(|()| kept))
    }

    /// The response's validators are recorded with the file
    /// (`if_changed`).
    pub fn if_changed(&self) -> bool {
        self.req.extra().fetch.if_changed
    }

    /// The final response's header `name`.
    pub fn final_header(&self, name: &str) -> Option<&[u8]> {
        self.final_headers.get(name)
    }

    /// A helper of this (parent) transfer for segment `index` of `role`'s
    /// download, writing into `file` (the parent's, another descriptor):
    /// asks for the segment's remaining range with `If-Range`. `token`:
    /// its key among the running transfers.
    pub fn helper(
        &self,
        role: Role,
        file: File,
        spare: Option<Easy2<Transfer>>,
    ) -> Result<Easy2<Transfer>, Error> {
        let (from, end) = role.remaining();
        let transfer = Transfer {
            id: self.id,
            user_data: self.user_data,
            req: self.req.clone(),
            attempt: self.attempt,
            source: self.source,
            tries_here: 0,
            started_over: true, // a helper never starts over alone
            resume: Resume {
                validator: self.resume.validator.clone(),
                total: self.resume.total,
                source: self.source,
                offset: from,
                if_range: true,
            },
            restart: false,
            complete: false,
            flags: 0,
            conditional: Vec::new(),
            received: 0,
            received_here: 0,
            recorded: 0,
            seg: Some(role),
            segment_done: false,
            segments_off: false,
            shown: Some(Box::new((
                self.status,
                self.final_headers.clone(),
                self.flags,
            ))),
            events: self.events.clone(),
            progress: self.progress.clone(),
            upload_progress: false,
            upload_size: 0,
            uploaded: 0,
            url: self.source_url(),
            file: self.file.clone(),
            follow_redirects: self.follow_redirects,
            is_head: false,
            timeout: self.timeout,
            last_activity: Instant::now(),
            last_progress: None,
            status: 0,
            headers: HeaderBuf::default(),
            lines: Lines::Between,
            began_sent: true, // the parent's `began` speaks for it
            final_headers: Headers::empty(),
            estimated: -1,
            response_type: ResponseType::Binary,
            transferred: from,
            sink: Some(Sink::At {
                file,
                at: from,
                end,
            }),
            decoder: None,
            decoded: Vec::new(),
            upload: None,
            failure: None,
            plain: None,
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

    fn configure_helper(easy: &mut Easy2<Transfer>) -> Result<(), Error> {
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
    fn check_segment(&mut self, role: &Role, encoded: bool) -> Result<(), Error> {
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
    fn maybe_split(&mut self, encoded: bool) {
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
        let ranges = segments::split(self.transferred, total, wanted);
        if ranges.is_empty() {
            return;
        }
        let budget = self.req.extra().fetch.max_retries + ranges.len() as u32;
        let shared = Arc::new(std::sync::Mutex::new(segments::State::new(
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
        segments::request_helpers(self.id);
    }

    /// A cancel keeps the partial data (`keep_partial`).
    pub fn keeps_partial(&self) -> bool {
        self.req.extra().fetch.keep_partial
    }

    /// The URL of the current source.
    fn source_url(&self) -> Arc<CStr> {
        self.source_url_of(self.source)
    }

    fn source_url_of(&self, source: usize) -> Arc<CStr> {
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
    pub fn tries(&self) -> attempt::Tries {
        attempt::Tries {
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
            .and_then(|v| attempt::retry_after(v, std::time::SystemTime::now()));
        retry_after.unwrap_or_else(|| {
            attempt::backoff(self.tries_here + 1, base, cap, attempt::jitter_random())
        })
    }

    /// An event of this request with the fields every phase shares.
    pub fn event(&self, phase: Phase) -> Event {
        let (status, headers, flags) = match self.shown.as_deref() {
            Some((status, headers, flags)) => (*status, headers.clone(), *flags),
            None => (self.status, self.final_headers.clone(), self.flags),
        };
        Event {
            id: self.id,
            user_data: self.user_data,
            phase,
            error: None,
            status,
            bytes_transferred: self.transferred as i64,
            bytes_estimated: self.estimated,
            url: self.url.clone(),
            headers,
            file: self.file.clone(),
            body: None,
            response_type: self.response_type,
            attempt: self.attempt,
            flags,
            bytes_received: self.received as i64,
            progress: None,
        }
    }

    /// Counts body bytes other transfers received for this download.
    pub fn add_received(&mut self, n: u64) {
        self.received += n;
    }

    /// Ends the transfer's use of files: deletes the temporary file (unless
    /// the sink was already finished) and closes the body file. What is
    /// left is plain memory, fit to sit in the pool of spare handles.
    pub fn release(&mut self) {
        self.sink = None;
        self.upload = None;
    }

    /// Runs a callback body; a panic becomes this transfer's failure.
    fn guarded<T>(&mut self, on_panic: T, f: impl FnOnce(&mut Self) -> T) -> T {
        match catch_unwind(AssertUnwindSafe(|| f(self))) {
            Ok(v) => v,
            Err(_) => {
                self.failure = Some(Error::new(
                    ErrorKind::Internal,
                    "netdl bug: a libcurl callback panicked",
                ));
                on_panic
            }
        }
    }

    /// One line from libcurl's header callback: each response's header
    /// block (a status line, fields, and a line starting with CR or LF
    /// that ends it) and, after a chunked body, trailer fields, which no
    /// such line ends. Trailers change nothing: after the final block the
    /// status, the headers and where the body goes stay as they are.
    ///
    /// Unless libcurl starts another response itself, as it does after a
    /// final block when it sends the request again (a 417 answer to
    /// `Expect: 100-continue`, which it sends with request bodies over
    /// 1 MiB on HTTP/1.1 or when the caller adds it; authentication rounds
    /// need options netdl never sets) or follows a redirect we took for
    /// final (a `Location` after an empty one). Such a status line may
    /// look like a trailer (`HTTP/1.1 200 OK: x`), so a status-shaped line
    /// with a colon or a leading blank after a chunked response opens a
    /// `Lines::MaybeBlock`: a response only if a line ending a block
    /// follows. One with neither is surely a status line (libcurl rejects
    /// trailers without a colon). Two in a row (trailers shaped like status
    /// lines then a status line with a colon, or such a status line and
    /// then a field shaped like one) cannot be told apart: the response
    /// fails.
    fn on_header_line(&mut self, line: &[u8]) -> Result<(), Error> {
        self.last_activity = Instant::now();
        if line.first().is_some_and(|&b| b == b'\r' || b == b'\n') {
            // How libcurl recognises the end of a block (even "\rX\n").
            return self.on_block_end();
        }
        // NUL is never valid in HTTP: dropped here, once per line.
        let without_nul: Vec<u8>;
        let line = if line.contains(&0) {
            without_nul = line.iter().copied().filter(|&b| b != 0).collect();
            &without_nul
        } else {
            line
        };
        let line = trim_crlf(line);
        let colon = line.iter().position(|&b| b == b':');
        let folded = line.first().is_some_and(|&b| b == b' ' || b == b'\t');
        // Neither a field nor a trailer: libcurl rejects those without a
        // colon unless they start with a blank.
        let surely_status = colon.is_none() && !folded;
        if let Some(code) = parse_status(line) {
            match self.lines {
                // In a block, a line with a colon is a field, even one
                // named `HTTP/1.1 200 OK`.
                Lines::Block if !surely_status => {}
                Lines::After(after @ After { chunked: true, .. }) if !surely_status => {
                    self.headers.clear();
                    self.lines = Lines::MaybeBlock(Some(code), after);
                    return Ok(());
                }
                // A second one: which is the status line (a trailer, then
                // the status line; or the status line, then a field) cannot
                // be told, and no server has a reason to send either.
                Lines::MaybeBlock(_, after) if !surely_status => {
                    self.lines = Lines::MaybeBlock(None, after);
                    return Ok(());
                }
                _ => {
                    self.headers.clear();
                    return self.start_response(code);
                }
            }
        }
        // libcurl takes a line starting with `HTTP/`, in any case, that it
        // cannot read as a status line for a 200 (`http/1.1 404`).
        let lenient = line
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"HTTP/"));
        match self.lines {
            Lines::MaybeBlock(..) if lenient && surely_status => return Err(malformed_status()),
            // A trailer, a field, or the status line libcurl read by
            // leniency: which cannot be told.
            Lines::MaybeBlock(_, after) if lenient => {
                self.lines = Lines::MaybeBlock(None, after);
                return Ok(());
            }
            Lines::Block | Lines::MaybeBlock(..) => {}
            // Where no trailer can be, the first line of a response.
            Lines::Between => return Err(malformed_status()),
            Lines::After(After { chunked, .. }) if lenient && (!chunked || surely_status) => {
                return Err(malformed_status())
            }
            // A trailer (or, after a chunked body, a status line with a
            // colon that libcurl read by leniency: its block's end fails).
            Lines::After(_) => return Ok(()),
        }
        if folded {
            // Obsolete line folding: continue the previous value.
            self.headers.continue_last(trim_blanks(line));
        } else if let Some(colon) = colon {
            // Names as libcurl matches them: `Location :` is not Location.
            self.headers
                .push(&line[..colon], trim_blanks(&line[colon + 1..]));
        }
        Ok(())
    }

    /// Why a transfer libcurl ended without an error did not succeed: it
    /// ended before the header block of a final response was complete
    /// (libcurl takes a connection closed there for the end of a response
    /// with an empty body).
    pub fn cut_off(&self) -> Option<Error> {
        let complete = match self.lines {
            Lines::After(after) | Lines::MaybeBlock(_, after) => after.last,
            Lines::Between | Lines::Block => false,
        };
        (!complete).then(|| {
            Error::new(
                ErrorKind::Network,
                "the connection ended before the response's header block did",
            )
        })
    }

    /// Why a transfer libcurl ended without an error is incomplete: its
    /// compressed body stopped before its compressed stream did.
    pub fn unfinished_body(&self) -> Option<Error> {
        self.decoder.as_ref().and_then(|d| d.finish().err())
    }

    /// The status line of a response: a header block begins.
    fn start_response(&mut self, code: i32) -> Result<(), Error> {
        // libcurl sends a request again only after a response whose body
        // it dropped (a redirect it follows, a 417, an authentication
        // round). Body bytes already stored would mix two bodies (an
        // HTTP/2 stream reset with HTTP_1_1_REQUIRED after data is
        // retried so): fail rather than store them.
        if self.received_here > 0 {
            return Err(Error::new(
                ErrorKind::Protocol,
                "the server began another response after a body",
            ));
        }
        self.status = code;
        self.lines = Lines::Block;
        Ok(())
    }

    /// The line that ends a header block (never sent after trailers).
    fn on_block_end(&mut self) -> Result<(), Error> {
        match self.lines {
            Lines::Block => {}
            Lines::MaybeBlock(Some(code), _) => self.start_response(code)?, // a response
            Lines::MaybeBlock(None, _) => {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    "a response after trailers shaped like status lines",
                ))
            }
            // A block whose first line libcurl took for a status line by
            // leniency.
            Lines::Between | Lines::After(_) => return Err(malformed_status()),
        }
        self.lines = if is_interim(self.status) {
            Lines::Between
        } else {
            Lines::After(After {
                // Trailers shaped like a status line can only follow a
                // chunked HTTP/1.1 body (an HTTP/2 field name has no '/').
                chunked: self.find_header("transfer-encoding").is_some(),
                last: !self.follows_redirect(),
            })
        };
        self.on_headers_complete()
    }

    /// The end of a header block. If it is the final response, fixes the
    /// status, headers and estimate, chooses where the body goes and sends
    /// `began`.
    fn on_headers_complete(&mut self) -> Result<(), Error> {
        let status = self.status;
        if is_interim(status) {
            return Ok(());
        }
        if self.follows_redirect() {
            // libcurl drops the body of a redirect it follows; should it
            // not follow after all, that body is not the target's either.
            if let Some(Sink::File(f)) = &mut self.sink {
                f.divert_to_error_body();
            }
            return Ok(());
        }
        // A response without a body has nothing to decode, whatever
        // encoding it names (a 304 of a `br` resource).
        let bodyless = self.is_head || status == 204 || status == 304;
        if status == 304 && !self.conditional.is_empty() && self.resume.offset == 0 {
            self.flags |= flags::UNCHANGED; // the file on disk is current
        }
        self.decoder = match self.find_header("content-encoding") {
            Some(v) if !bodyless => Decoder::for_encoding(v)?,
            _ => None,
        };
        let encoded = self.decoder.is_some();
        let length = self.find_header("content-length").and_then(content_length);
        self.estimated = if bodyless {
            0
        } else if encoded {
            -1 // Content-Length counts encoded bytes; we count decoded ones.
        } else {
            length.unwrap_or(-1)
        };
        let is_file = matches!(self.sink, Some(Sink::File(_)));
        self.response_type =
            if !is_file && self.find_header("content-type").is_some_and(is_text_type) {
                ResponseType::Text
            } else {
                ResponseType::Binary
            };
        self.final_headers = self.headers.freeze();
        self.check_continuity(length, encoded)?;
        if let Some(sink) = &mut self.sink {
            if let Sink::File(f) = sink {
                // A 2xx may follow a redirect or a resent request whose
                // response was diverted.
                if (200..300).contains(&status) {
                    f.undivert();
                } else {
                    f.divert_to_error_body();
                }
            }
            if self.estimated > 0 {
                sink.check_announced(self.estimated as u64)?;
            }
        }
        if self.progress.is_some() && !self.began_sent && !self.upload_progress {
            self.began_sent = true;
            self.send(self.event(Phase::Began));
        }
        Ok(())
    }

    /// A download's final response against the data already on disk:
    /// continues it (a valid 206), finds it complete (a valid 416), or
    /// empties it to start over (any other 2xx); remembers the validator
    /// and length of a response that sends the file from its first byte.
    /// `length`: the Content-Length; `encoded`: a compressed response,
    /// whose bytes are not the file's (it cannot continue data, nor be
    /// continued).
    fn check_continuity(&mut self, length: Option<i64>, encoded: bool) -> Result<(), Error> {
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
                false => attempt::check_partial(&self.resume, range, etag),
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
            if attempt::complete_416(&self.resume, range, etag) {
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
        let validator = attempt::strong_validator(etag, self.final_headers.get("last-modified"));
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
    fn resumable_target(&self) -> bool {
        matches!(self.sink, Some(Sink::File(_)))
            && !self
                .req
                .extra()
                .headers
                .iter()
                .any(|h| h.get(..6).is_some_and(|n| n.eq_ignore_ascii_case("range:")))
    }

    /// Whether libcurl follows this response to another, as it decides: a
    /// 3xx (304 too) with a `Location` that is not empty.
    fn follows_redirect(&self) -> bool {
        self.follow_redirects
            && (300..400).contains(&self.status)
            && self.find_header("Location").is_some_and(|v| !v.is_empty())
    }

    fn find_header(&self, name: &str) -> Option<&[u8]> {
        self.headers.get(name)
    }

    fn on_body(&mut self, data: &[u8]) -> Result<(), Error> {
        let now = Instant::now();
        self.last_activity = now;
        self.received += data.len() as u64;
        self.received_here += data.len() as u64;
        let sink = self
            .sink
            .as_mut()
            .ok_or_else(|| Error::new(ErrorKind::Internal, "body after the sink was closed"))?;
        let data = match &mut self.decoder {
            Some(d) => {
                self.decoded.clear();
                d.feed(data, &mut self.decoded)?;
                &self.decoded[..]
            }
            None => data,
        };
        // A segment stops at its range's end.
        // A helper's response ends with its range (more is an error of the
        // sink); the parent's goes on to the file's end, so it stops there.
        let room = self
            .seg
            .as_ref()
            .map(|r| (r.room(self.transferred), r.parent));
        let data = match room {
            Some((room, parent))
                if data.len() as u64 > room || parent && data.len() as u64 == room =>
            {
                self.segment_done = true;
                &data[..(room as usize).min(data.len())]
            }
            _ => data,
        };
        sink.write(data)?;
        self.transferred += data.len() as u64;
        let on_disk = match &self.seg {
            Some(role) => role.record(self.transferred, self.received_here - self.recorded),
            None => self.transferred,
        };
        self.recorded = self.received_here;
        if !self.upload_progress {
            self.report_progress(now, on_disk as i64, false);
        }
        if self.segment_done {
            // Stops the transfer; `Agent::finish` knows why.
            return Err(Error::new(ErrorKind::Internal, "segment complete"));
        }
        Ok(())
    }

    /// Publishes the latest byte count of what progress events report;
    /// sends a progress event when one is due (`force`: the last one, at
    /// any interval) and none of this request is queued.
    fn report_progress(&mut self, now: Instant, transferred: i64, force: bool) {
        let Some(slot) = &self.progress else { return };
        slot.transferred.store(transferred, Ordering::Release);
        let due = force
            || self
                .last_progress
                .is_none_or(|t| now.duration_since(t) >= PROGRESS_INTERVAL);
        if due && slot.claim() {
            self.last_progress = Some(now);
            let mut ev = self.progress_event(Phase::Progress);
            ev.progress = Some(slot.clone());
            self.send(ev);
        }
    }

    /// A `began` or `progress` event: of the response, or of the request
    /// body with upload progress.
    fn progress_event(&self, phase: Phase) -> Event {
        let mut ev = self.event(phase);
        if self.upload_progress {
            ev.bytes_transferred = self.uploaded;
            ev.bytes_estimated = self.upload_size;
        }
        ev
    }

    /// libcurl's progress callback (on only for requests with a body):
    /// body bytes going out are activity (one sent from memory passes no
    /// other callback). With upload progress: `began` on its first call,
    /// when the transfer starts, then progress as body bytes go out, the
    /// last one (the whole body) always.
    fn on_upload_progress(&mut self, sent: i64) {
        let now = Instant::now();
        if self.upload_progress && !self.began_sent {
            self.began_sent = true;
            self.send(self.progress_event(Phase::Began));
        }
        if sent > self.uploaded {
            self.uploaded = sent;
            self.last_activity = now;
            if self.upload_progress {
                let done = sent == self.upload_size;
                self.report_progress(now, sent, done);
            }
        }
    }

    /// Where this request's events go.
    pub fn sender(&self) -> EventTx {
        self.events.clone()
    }

    /// Sends an event of this request to its queue (at the network
    /// thread's next flush).
    pub fn send(&self, ev: Event) {
        self.events.send(ev);
    }
}

impl Handler for Transfer {
    fn progress(&mut self, _dltotal: f64, _dlnow: f64, _ultotal: f64, ulnow: f64) -> bool {
        // A panic fails the transfer (false aborts it).
        self.guarded(false, |t| {
            t.on_upload_progress(ulnow as i64);
            true
        })
    }

    fn header(&mut self, data: &[u8]) -> bool {
        self.guarded(false, |t| match t.on_header_line(data) {
            Ok(()) => true,
            Err(e) => {
                t.failure = Some(e);
                false
            }
        })
    }

    fn write(&mut self, data: &[u8]) -> Result<usize, WriteError> {
        Ok(self.guarded(0, |t| match t.on_body(data) {
            Ok(()) => data.len(),
            Err(e) => {
                t.failure = Some(e);
                0 // fewer bytes than given: libcurl aborts with a write error
            }
        }))
    }

    fn read(&mut self, data: &mut [u8]) -> Result<usize, ReadError> {
        self.guarded(Err(ReadError::Abort), |t| {
            let Some(file) = t.upload.as_mut() else {
                return Ok(0);
            };
            match file.read(data) {
                Ok(n) => {
                    t.last_activity = Instant::now();
                    Ok(n)
                }
                Err(e) => {
                    t.failure = Some(Error::io("cannot read the body file", &e));
                    Err(ReadError::Abort)
                }
            }
        })
    }

    fn seek(&mut self, whence: SeekFrom) -> SeekResult {
        // libcurl rewinds the body to resend it after a 307/308 redirect.
        self.guarded(SeekResult::Fail, |t| {
            match t.upload.as_mut().map(|f| f.seek(whence)) {
                Some(Ok(_)) => SeekResult::Ok,
                _ => SeekResult::CantSeek,
            }
        })
    }
}

/// Kept partial data a request continues.
struct Continued {
    /// Its file (taken when the sink is made).
    sink: Option<FileSink>,
    size: u64,
    resume: Resume,
    /// The source whose URL sent the data.
    resume_source: usize,
}

/// Opens kept partial data for `req` when it came from one of its URLs;
/// otherwise (or when it cannot be opened) deletes it.
fn continue_kept(req: &Request, kept: Kept) -> Option<Continued> {
    let fetch = &req.extra().fetch;
    let urls =
        std::iter::once(req.url.to_bytes()).chain(fetch.mirrors.iter().map(|m| m.as_bytes()));
    let source = urls.clone().position(|u| u == kept.url);
    let file = req.file()?;
    let expect = Expect {
        size: fetch.expected_size,
        sha256: fetch.sha256,
    };
    let sink = source
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

/// The key of a GET that sets no option beyond the per-request ones
/// `configure` always sets, and maybe a CA file; None otherwise.
fn plain_get(req: &Request) -> Option<Plain> {
    if req.method != "GET" || req.upload_progress {
        return None;
    }
    let ca_file = match req.extra.as_deref() {
        None => None,
        Some(e) if !e.beyond_ca_file() => e.ca_file.clone(),
        Some(_) => return None,
    };
    Some(Plain {
        ca_file,
        identity: asks_identity(req),
    })
}

/// A download asks for the file itself unless `compress` is set.
fn asks_identity(req: &Request) -> bool {
    req.file().is_some() && !req.extra().fetch.compress
}

/// Sets every libcurl option of a request. Fixed strings are passed as C
/// strings directly (libcurl copies them), so a plain GET allocates nothing
/// here.
///
/// `fresh`: the handle is new or reset, so the options every request
/// shares are set too; otherwise it served a plain GET and still has them.
/// `url`: a mirror's URL instead of the request's; `more`: header lines of
/// this attempt (`Range`, `If-Range`).
fn configure(
    easy: &mut Easy2<Transfer>,
    req: &Request,
    fresh: bool,
    url: Option<&CStr>,
    more: &[String],
) -> Result<(), curl::Error> {
    if fresh {
        set_str(easy, CURLOPT_PROTOCOLS_STR, c"http,https")?;
        set_str(easy, CURLOPT_REDIR_PROTOCOLS_STR, c"http,https")?;
        set_long(easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1)?;
        set_str(easy, curl_sys::CURLOPT_USERAGENT, USER_AGENT)?;
        // A download asks for the file itself, so that its length and
        // ranges are the file's (as Android's DownloadManager does);
        // otherwise the encodings `Decoder` decodes. libcurl passes bodies
        // through as they come (see decode.rs for why).
        let accept = if asks_identity(req) {
            c"identity"
        } else {
            decode::ACCEPTED
        };
        set_str(easy, curl_sys::CURLOPT_ACCEPT_ENCODING, accept)?;
        easy.http_content_decoding(false)?;
        easy.buffer_size(BUFFER_SIZE)?;
        // The option replaces the environment: its proxy for every host
        // (no `no_proxy`), or none at all for "".
        if let Some(proxy) = &req.extra().fetch.proxy {
            easy.proxy(proxy)?;
            easy.noproxy("")?;
        }
    }
    set_str(easy, curl_sys::CURLOPT_URL, url.unwrap_or(&req.url))?;
    easy.follow_location(req.follow_redirects)?;
    easy.max_redirections(req.max_redirects)?;
    easy.connect_timeout(req.timeout)?;
    // Over TLS, wait for an HTTP/2 connection to multiplex on rather than
    // opening another. Plain http is HTTP/1.1 only (no h2c), where waiting
    // would only serialize transfers behind the first response.
    let https = req
        .url
        .to_bytes()
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case(b"https://"));
    easy.pipewait(https)?;
    let extra = req.extra();
    if req.upload_progress || extra.body.is_some() {
        easy.progress(true)?; // the progress callback; off again after a reset
    }
    if let Some(ca) = &extra.ca_file {
        easy.cainfo(ca)?;
    }

    let mut headers = List::new();
    for h in extra.headers.iter().chain(more) {
        headers.append(h)?;
    }
    match &extra.body {
        None if req.method == "HEAD" => easy.nobody(true)?,
        None if req.method == "GET" => easy.get(true)?,
        None if req.method == "POST" => {
            easy.post(true)?;
            easy.post_field_size(0)?;
        }
        None => easy.custom_request(&req.method)?,
        Some(body) => {
            easy.post(true)?;
            match body {
                ResolvedBody::Bytes(b) => easy.post_fields_copy(b)?,
                ResolvedBody::File(_) => {
                    let size = easy
                        .get_ref()
                        .upload
                        .as_ref()
                        .and_then(|f| f.metadata().ok());
                    easy.post_field_size(size.map_or(0, |m| m.len()))?;
                }
            }
            if req.method != "POST" {
                easy.custom_request(&req.method)?;
            }
            if !extra.has_content_type {
                headers.append(match extra.body_type {
                    BodyType::Text => "Content-Type: application/x-www-form-urlencoded",
                    BodyType::Binary => "Content-Type: application/octet-stream",
                })?;
            }
        }
    }
    if !extra.headers.is_empty() || extra.body.is_some() || !more.is_empty() {
        easy.http_headers(headers)?;
    }
    Ok(())
}

/// `netdl/VERSION`, sent as the User-Agent.
const USER_AGENT: &CStr = crate::cstr(concat!("netdl/", env!("CARGO_PKG_VERSION"), "\0"));

/// Sets a string option. libcurl copies it before returning.
fn set_str(
    easy: &mut Easy2<Transfer>,
    opt: curl_sys::CURLoption,
    value: &CStr,
) -> Result<(), curl::Error> {
    // SAFETY: `easy.raw()` is a live easy handle owned by `easy`; `value`
    // is a valid C string for the call, and libcurl copies string options
    // before curl_easy_setopt returns.
    check(unsafe { curl_sys::curl_easy_setopt(easy.raw(), opt, value.as_ptr()) })
}

/// Sets a long option curl-rust has no method for.
fn set_long(
    easy: &mut Easy2<Transfer>,
    opt: curl_sys::CURLoption,
    value: libc::c_long,
) -> Result<(), curl::Error> {
    // SAFETY: a live easy handle owned by `easy`; the option takes a long.
    check(unsafe { curl_sys::curl_easy_setopt(easy.raw(), opt, value) })
}

fn check(rc: curl_sys::CURLcode) -> Result<(), curl::Error> {
    match rc {
        curl_sys::CURLE_OK => Ok(()),
        rc => Err(curl::Error::new(rc)),
    }
}

/// Where the header callback is among the lines libcurl hands it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lines {
    /// Before a response's header block: at the start, or after a 1xx.
    Between,
    /// In a header block, whose status is `Transfer::status`.
    Block,
    /// After the header block of a response: a line is a trailer, or the
    /// status line of a response libcurl started.
    After(After),
    /// After a line that is either a trailer shaped like a status line or
    /// the status line, with this code, of a response libcurl started:
    /// the latter only if a line ending a block follows. None after two
    /// such lines: a block they are in fails.
    MaybeBlock(Option<i32>, After),
}

/// What the last complete header block was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct After {
    /// It announced a chunked body, so trailers may follow.
    chunked: bool,
    /// The final response (not a redirect libcurl follows).
    last: bool,
}

fn malformed_status() -> Error {
    Error::new(ErrorKind::Protocol, "malformed status line")
}

/// A 1xx that another response follows. libcurl takes a 101 it did not
/// ask for (netdl never asks for an upgrade) as the final response.
fn is_interim(status: i32) -> bool {
    (100..200).contains(&status) && status != 101
}

/// The status code of a status line: after blanks, `HTTP/1.0` or
/// `HTTP/1.1`, a blank and three digits (whatever follows, as libcurl
/// reads it: `HTTP/1.1 2000` is a 200), or `HTTP/2` or `HTTP/3`, a blank,
/// three digits and a blank. None for any other line, including those
/// libcurl takes for a 200 by leniency (`http/1.1 404`, `HTTP/2 404`
/// without the blank).
fn parse_status(line: &[u8]) -> Option<i32> {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = line.iter().position(|b| !blank(b)).unwrap_or(line.len());
    let digits = match line[start..].strip_prefix(b"HTTP/")? {
        [b'1', b'.', b'0' | b'1', sep, rest @ ..] if blank(sep) => rest.get(..3)?,
        [b'2' | b'3', sep, rest @ ..] if blank(sep) && rest.get(3).is_some_and(blank) => &rest[..3],
        _ => return None,
    };
    digits.iter().try_fold(0, |code, &d| {
        d.is_ascii_digit().then(|| code * 10 + i32::from(d - b'0'))
    })
}

/// A Content-Length value as libcurl reads it: digits, or a list of the
/// same digits separated by commas, within blanks. None for anything else
/// (libcurl fails on it) and for a length over `i64::MAX` (libcurl reads
/// the body to the connection's end).
fn content_length(value: &[u8]) -> Option<i64> {
    let mut lengths = value.split(|&b| b == b',').map(|n| {
        let n = trim_blanks(n);
        if n.is_empty() || !n.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(n).ok()?.parse::<i64>().ok()
    });
    let first = lengths.next()??;
    lengths.all(|n| n == Some(first)).then_some(first)
}

fn trim_crlf(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Without leading and trailing spaces and tabs (what libcurl trims).
fn trim_blanks(s: &[u8]) -> &[u8] {
    let is_blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = s.iter().position(|b| !is_blank(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !is_blank(b))
        .map_or(start, |i| i + 1);
    &s[start..end]
}

/// Text is what a script would want as a string: `text/*`, JSON, XML,
/// JavaScript and form data.
fn is_text_type(content_type: &[u8]) -> bool {
    let ct = String::from_utf8_lossy(content_type).to_ascii_lowercase();
    let mime = ct.split(';').next().unwrap_or("").trim();
    mime.starts_with("text/")
        || mime.ends_with("/json")
        || mime.ends_with("+json")
        || mime.ends_with("/xml")
        || mime.ends_with("+xml")
        || mime.ends_with("/javascript")
        || mime == "application/x-www-form-urlencoded"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 404 Not Found"), Some(404));
        assert_eq!(parse_status(b"HTTP/2 404 "), Some(404));
        assert_eq!(parse_status(b"HTTP/1.1\t404 OK"), Some(404));
        assert_eq!(parse_status(b"  HTTP/1.0 302"), Some(302));
        // libcurl reads three digits, whatever follows.
        assert_eq!(parse_status(b"HTTP/1.1 4040 OK"), Some(404));
        assert_eq!(parse_status(b"HTTP/1.1 404OK"), Some(404));
        // Lines libcurl refuses.
        assert_eq!(parse_status(b"HTTP/1.1"), None);
        assert_eq!(parse_status(b"HTTP/1.1 40"), None);
        assert_eq!(parse_status(b"HTTP/1.2 404"), None);
        assert_eq!(parse_status(b" http/1.1 404"), None);
        assert_eq!(parse_status(b"X-HTTP/1.1 404"), None);
        assert_eq!(parse_status(b"HTTP/x: y"), None);
        // Lines libcurl takes for a 200 by leniency.
        assert_eq!(parse_status(b"HTTP/2 404"), None);
        assert_eq!(parse_status(b"http/1.1 404 Not Found"), None);
        assert_eq!(parse_status(b"HTTP/3 40x "), None);
    }

    #[test]
    fn content_lengths() {
        assert_eq!(content_length(b"42"), Some(42));
        assert_eq!(content_length(b" 42 \t"), Some(42));
        assert_eq!(content_length(b"42, 42,42"), Some(42));
        assert_eq!(content_length(b"42, 43"), None);
        assert_eq!(content_length(b"+42"), None);
        assert_eq!(content_length(b""), None);
        assert_eq!(content_length(b"4 2"), None);
        assert_eq!(content_length(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(content_length(b"9223372036854775808"), None);
        assert_eq!(content_length(b"18446744073709551615"), None);
    }

    #[test]
    fn blanks() {
        assert_eq!(trim_blanks(b" \t a b\t "), b"a b");
        assert_eq!(trim_blanks(b"  "), b"");
        assert_eq!(trim_blanks(b"\x0ca"), b"\x0ca");
    }

    #[test]
    fn text_types() {
        assert!(is_text_type(b"text/plain; charset=utf-8"));
        assert!(is_text_type(b"application/JSON"));
        assert!(is_text_type(b"application/vnd.api+json"));
        assert!(!is_text_type(b"application/octet-stream"));
        assert!(!is_text_type(b"image/png"));
    }
}

#[cfg(test)]
mod panic_tests {
    use super::*;
    use crate::request::{Options, Request};

    /// Rule: a panic inside a libcurl callback fails only that transfer,
    /// with an internal error, and does not unwind into libcurl.
    #[test]
    fn callback_panic_becomes_internal_error() {
        let queues = crate::queue::Queues::new();
        let tx = EventTx::new(queues.default_queue().clone());
        let dirs = crate::dirs::Dirs::default();
        let req = Request::build(
            1,
            "http://127.0.0.1:9/",
            "GET",
            Options::default(),
            None,
            &dirs,
        )
        .unwrap();
        let mut easy =
            Transfer::start(req, tx, &mut HashSet::new(), None, None, Vec::new()).unwrap();
        let t = easy.get_mut();
        let accepted = t.guarded(false, |_| panic!("boom"));
        assert!(!accepted);
        assert_eq!(t.failure.as_ref().unwrap().kind, ErrorKind::Internal);
        // The handler keeps working for the next callback.
        assert!(Handler::header(t, b"HTTP/1.1 200 OK\r\n"));
    }
}

#[cfg(test)]
mod header_lines_tests {
    use super::*;
    use crate::request::{Options, Request};

    /// A request's handler fed `lines` as libcurl's header callback, and
    /// `body` bytes after the line at index `body_at` (if any).
    fn feed(lines: &[&str], body_at: Option<usize>) -> Easy2<Transfer> {
        let queues = crate::queue::Queues::new();
        let tx = EventTx::new(queues.default_queue().clone());
        let dirs = crate::dirs::Dirs::default();
        let url = "http://127.0.0.1:9/";
        let req = Request::build(1, url, "GET", Options::default(), None, &dirs).unwrap();
        let mut easy =
            Transfer::start(req, tx, &mut HashSet::new(), None, None, Vec::new()).unwrap();
        let t = easy.get_mut();
        for (i, line) in lines.iter().enumerate() {
            if !Handler::header(t, line.as_bytes()) {
                break;
            }
            if body_at == Some(i) {
                Handler::write(t, b"body").unwrap();
            }
        }
        easy
    }

    fn names(t: &Transfer) -> Vec<String> {
        let names = t.final_headers.iter().map(|(n, _)| n.to_vec());
        names.map(|n| String::from_utf8(n).unwrap()).collect()
    }

    /// Rule: after the final block, trailers (even shaped like a status
    /// line) change neither the status nor the headers.
    #[test]
    fn trailers_change_nothing() {
        let mut easy = feed(
            &[
                "HTTP/1.1 404 Not Found\r\n",
                "Transfer-Encoding: chunked\r\n",
                "\r\n",
                "HTTP/1.1 200 OK: x\r\n",
                "X-Checksum: abc\r\n",
                " HTTP/1.1 200 OK\r\n",
            ],
            Some(2),
        );
        let t = easy.get_mut();
        assert_eq!(t.status, 404);
        assert_eq!(names(t), ["Transfer-Encoding"]);
        assert!(t.failure.is_none());
    }

    /// Rule: a block that a status-shaped line opened and a line ending a
    /// block closes is a response libcurl started (a request sent again
    /// after a 417): it replaces the final one, whose body libcurl dropped.
    #[test]
    fn a_response_libcurl_started_replaces_the_final_one() {
        let mut easy = feed(
            &[
                "HTTP/1.1 417 Expectation Failed\r\n",
                "Transfer-Encoding: chunked\r\n",
                "\r\n",
                "HTTP/1.1 200 OK: trailer\r\n",
                "HTTP/1.1 201 Created: y\r\n",
                "HTTP/1.1 500 Oops: a field\r\n",
                "Content-Length: 4\r\n",
                "\r\n",
            ],
            None,
        );
        let t = easy.get_mut();
        // Which is the status line cannot be told.
        assert_eq!(t.failure.as_ref().unwrap().kind, ErrorKind::Protocol);
        assert_eq!(t.status, 417);
        let mut easy = feed(
            &[
                "HTTP/1.1 417 Expectation Failed\r\n",
                "Transfer-Encoding: chunked\r\n",
                "\r\n",
                "X-Trailer: x\r\n",
                "HTTP/1.1 201 Created: y\r\n",
                "Content-Length: 4\r\n",
                "\r\n",
            ],
            None,
        );
        let t = easy.get_mut();
        assert_eq!(t.status, 201);
        assert_eq!(names(t), ["Content-Length"]);
        let mut easy = feed(
            &[
                "HTTP/1.1 417 Expectation Failed\r\n",
                "Content-Length: 0\r\n",
                "\r\n",
                "HTTP/1.1 200 OK\r\n",
                "HTTP/1.1 404 Not Found: a field\r\n",
                "\r\n",
            ],
            None,
        );
        let t = easy.get_mut();
        assert_eq!(t.status, 200);
        assert_eq!(names(t), ["HTTP/1.1 404 Not Found"]);
        assert_eq!(t.estimated, -1);
        // After a response without a chunked body no trailer can come: a
        // status line with a colon is one, and its fields are fields.
        let mut easy = feed(
            &[
                "HTTP/1.1 302 Found\r\n",
                "Location: /next\r\n",
                "Content-Length: 0\r\n",
                "\r\n",
                "HTTP/1.1 200 OK: fine\r\n",
                "HTTP/1.1 404 Not Found: a field\r\n",
                "\r\n",
            ],
            None,
        );
        let t = easy.get_mut();
        assert_eq!(t.status, 200);
        assert_eq!(names(t), ["HTTP/1.1 404 Not Found"]);
    }

    /// Rule: a block whose first line libcurl took for a status line by
    /// leniency (it reads `http/1.1 404` as a 200) fails the transfer.
    #[test]
    fn a_malformed_status_line_fails() {
        for first in ["http/1.1 404 Not Found\r\n", "HTTP/2 404\r\n"] {
            let mut easy = feed(&[first, "HTTP/1.1 200 OK: a field\r\n", "\r\n"], None);
            let t = easy.get_mut();
            assert_eq!(t.failure.as_ref().unwrap().kind, ErrorKind::Protocol);
        }
        // After a trailer shaped like a status line, one with a colon.
        let mut easy = feed(
            &[
                "HTTP/1.1 301 Moved\r\n",
                "Location: /next\r\n",
                "Transfer-Encoding: chunked\r\n",
                "\r\n",
                "HTTP/1.1 500 Oops: a trailer\r\n",
                "http/1.1 200 Not: Found\r\n",
                "\r\n",
            ],
            None,
        );
        let t = easy.get_mut();
        assert_eq!(t.failure.as_ref().unwrap().kind, ErrorKind::Protocol);
    }

    /// Rule: a transfer libcurl ends without an error has failed unless a
    /// final response's header block was complete (libcurl takes a
    /// connection closed inside a block for the end of the response).
    #[test]
    fn a_transfer_ends_after_a_final_block() {
        let cut = |lines: &[&str]| feed(lines, None).get_ref().cut_off().is_some();
        assert!(cut(&[]));
        assert!(cut(&["HTTP/1.1 404 Not Found\r\n", "X: y\r\n"]));
        assert!(cut(&["HTTP/1.1 100 Continue\r\n", "\r\n"]));
        let redirect = ["HTTP/1.1 302 Found\r\n", "Location: /x\r\n", "\r\n"];
        assert!(cut(&redirect));
        assert!(cut(&[&redirect[..], &["HTTP/1.1 200 OK: y\r\n"]].concat()));
        let chunked = [
            "HTTP/1.1 302 Found\r\n",
            "Location: /x\r\n",
            "Transfer-Encoding: chunked\r\n",
            "\r\n",
            "HTTP/1.1 200 OK: y\r\n",
        ];
        assert!(cut(&chunked));
        let done = [
            "HTTP/1.1 200 OK\r\n",
            "Transfer-Encoding: chunked\r\n",
            "\r\n",
        ];
        assert!(!cut(&done));
        assert!(!cut(
            &[&done[..], &["HTTP/1.1 200 OK: trailer\r\n"]].concat()
        ));
    }

    /// Rule: a response after body bytes were stored fails the transfer:
    /// two bodies would mix.
    #[test]
    fn a_second_response_after_a_body_fails() {
        let mut easy = feed(
            &["HTTP/1.1 200 OK\r\n", "\r\n", "HTTP/1.1 200 OK\r\n"],
            Some(1),
        );
        let t = easy.get_mut();
        assert_eq!(t.failure.as_ref().unwrap().kind, ErrorKind::Protocol);
    }

    /// Rule: header blocks as libcurl delimits them: interim 1xx blocks
    /// are skipped (a 101 is final), a line starting with CR ends a block,
    /// fields keep their names as sent and blank-trimmed values, folded
    /// lines continue the last value, a field may be named `HTTP/...`.
    #[test]
    fn blocks_as_libcurl_sees_them() {
        let mut easy = feed(
            &[
                "HTTP/1.1 100 Continue\r\n",
                "\r\n",
                "HTTP/1.1 103 Early Hints\r\n",
                "Link: </a>\r\n",
                "\r\n",
                "HTTP/1.1 404 Not: Found\r\n",
                "HTTP/1.1 200 OK: x\r\n",
                "Location :  /elsewhere \t\r\n",
                "X-Folded: a\r\n",
                " b\r\n",
                "Transfer-Encoding: chunked\r\n",
                "\rX\n",
                "HTTP/1.1 200 OK: trailer\r\n",
            ],
            None,
        );
        let t = easy.get_mut();
        assert_eq!(t.status, 404);
        let fields: Vec<(String, String)> = t
            .final_headers
            .iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into(),
                    String::from_utf8_lossy(v).into(),
                )
            })
            .collect();
        let want = [
            ("HTTP/1.1 200 OK", "x"),
            ("Location ", "/elsewhere"),
            ("X-Folded", "a b"),
            ("Transfer-Encoding", "chunked"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(fields, want);
        // A 101 libcurl did not ask for is the final response.
        let mut easy = feed(
            &["HTTP/1.1 101 Switching\r\n", "Upgrade: x\r\n", "\r\n"],
            None,
        );
        let t = easy.get_mut();
        assert_eq!((t.status, names(t)), (101, vec!["Upgrade".to_string()]));
    }
}
