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

use super::attempt::{continue_kept, Resume};
use super::decode::{self, Decoder};
use super::headers::{content_length, is_interim, Lines};
use super::partial::Kept;
use super::segments::Role;
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
    pub(super) req: Arc<Request>,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The URL being tried: 0 the request's, n its mirror n.
    pub source: usize,
    /// Retries made on this source.
    pub tries_here: u32,
    /// A start-over (its one free attempt) was made.
    pub started_over: bool,
    /// Where a download's data continues from.
    pub(super) resume: Resume,
    /// This attempt's response cannot continue the data: start over.
    pub restart: bool,
    /// This attempt's 416 says the data on disk is the whole file.
    pub complete: bool,
    /// `NET_EVENT_*` of this attempt.
    pub flags: u32,
    /// `If-None-Match` / `If-Modified-Since` lines sent with every attempt
    /// that asks for the whole file (`if_changed`).
    pub(super) conditional: Vec<String>,
    /// Body bytes from the network, all attempts.
    pub(super) received: u64,
    /// Body bytes from the network, this attempt.
    pub(super) received_here: u64,
    /// Of those, how many a segment's shared count has.
    pub(super) recorded: u64,
    /// Its part in a segmented download (`segments`), once split.
    pub seg: Option<Role>,
    /// Its segment is complete: the transfer stopped there.
    pub segment_done: bool,
    /// Splitting is off: a segment saw another file, so the download
    /// started over on one connection.
    pub segments_off: bool,
    /// A progress event is owed (`progress_deadline`).
    pub(super) progress_owed: bool,
    /// A helper's events show its download's response, not its own.
    pub(super) shown: Option<Box<(i32, Headers, u32)>>,
    pub(super) events: EventTx,
    pub(super) progress: Option<Arc<ProgressSlot>>,
    /// `began`/`progress` report the request body being sent, of
    /// `upload_size` bytes (-1: unknown), instead of the response.
    pub(super) upload_progress: bool,
    pub(super) upload_size: i64,
    /// Body bytes sent so far (upload progress only).
    pub(super) uploaded: i64,
    pub url: Arc<CStr>,
    pub file: Option<FilePath>,
    pub(super) follow_redirects: bool,
    pub(super) is_head: bool,
    pub timeout: Duration,
    /// When a byte last moved in either direction (or the transfer began).
    pub last_activity: Instant,
    pub(super) last_progress: Option<Instant>,
    /// The response being received: status, headers, and whether its
    /// header block is complete (the final response, not a 1xx/redirect).
    pub status: i32,
    pub(super) headers: HeaderBuf,
    /// Where the header callback is: in a header block or between blocks.
    pub(super) lines: Lines,
    pub(super) began_sent: bool,
    pub final_headers: Headers,
    pub estimated: i64,
    pub response_type: ResponseType,
    pub transferred: u64,
    pub sink: Option<Sink>,
    /// The final response's content decoding, if it is encoded, and the
    /// buffer its output goes through.
    pub(super) decoder: Option<Decoder>,
    pub(super) decoded: Vec<u8>,
    pub(super) upload: Option<File>,
    /// Why a callback stopped the transfer; wins over libcurl's error.
    pub failure: Option<Error>,
    /// `Some(key)` for a GET with no option beyond the per-request ones
    /// `configure` always sets and what the key names: its handle can
    /// serve the next such GET with the same key without a reset.
    pub(super) plain: Option<Plain>,
    /// Bandwidth caps: this transfer's token bucket (`pace`).
    pub(super) gate: super::pace::Gate,
    /// A persisted download's last journal record (at first: when it
    /// started): when, and the bytes it claimed.
    pub(super) journaled: (Instant, u64),
}

/// What a plain GET's handle keeps set: the CA file, and whether it asks
/// for the file itself (a download) or for compression (a request).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Plain {
    ca_file: Option<PathBuf>,
    identity: bool,
}

impl Transfer {
    /// A transfer of `req` into `sink` with everything else as at its
    /// start: no attempt made, no response yet.
    pub(super) fn new(req: Arc<Request>, events: EventTx, sink: Sink) -> Transfer {
        Transfer {
            id: req.id,
            user_data: req.user_data,
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
            progress_owed: false,
            shown: None,
            events,
            progress: req.progress.then(Arc::default),
            upload_progress: false,
            upload_size: 0,
            uploaded: 0,
            url: req.url.clone(),
            file: req.file().cloned(),
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
            upload: None,
            failure: None,
            plain: None,
            gate: super::pace::Gate::new(req.extra().fetch.priority),
            journaled: (Instant::now(), 0),
            req,
        }
    }

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
        let sink = match &req.target {
            Target::Memory { limit } => Sink::Memory {
                buf: Vec::new(),
                limit: *limit,
            },
            Target::File { file, limit } => {
                let fetch = &req.extra().fetch;
                let expect = Expect {
                    size: fetch.expected_size,
                    sha256: fetch.sha256,
                };
                let sink = match continued.as_mut().and_then(|c| c.sink.take()) {
                    Some(sink) => sink.with_limit(*limit),
                    None => FileSink::create(file, req.id, known_dirs, fetch.persist)?
                        .with_limit(*limit)
                        .with_expect(expect),
                };
                Sink::File(sink)
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
            upload_progress: req.upload_progress,
            upload_size,
            upload,
            plain: plain_get(&req),
            ..Transfer::new(req.clone(), events, sink)
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
        // `net_restore` sent its first `began` already.
        transfer.began_sent = req.extra().fetch.restored;
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

    /// The response's validators are recorded with the file
    /// (`if_changed`).
    pub fn if_changed(&self) -> bool {
        self.req.extra().fetch.if_changed
    }

    /// The final response's header `name`.
    pub fn final_header(&self, name: &str) -> Option<&[u8]> {
        self.final_headers.get(name)
    }

    /// A cancel keeps the partial data (`keep_partial`).
    pub fn keeps_partial(&self) -> bool {
        self.req.extra().fetch.keep_partial
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
            flags: flags | self.restored_flag(),
            bytes_received: self.received as i64,
            tag: self.req.extra().fetch.tag.clone(),
            progress: None,
        }
    }

    /// A download recorded in the journal (`persist`).
    pub fn persisted(&self) -> bool {
        self.req.extra().fetch.persist
    }

    /// This download's data as a later download can continue it (kept
    /// after a failure, or claimed by the journal): the bytes up to the
    /// first gap of a segmented one, when its response had a validator;
    /// None otherwise.
    pub fn kept_data(&self) -> Option<Kept> {
        let validator = self.resume.validator.clone()?;
        let Some(Sink::File(f)) = &self.sink else {
            return None;
        };
        let size = match &self.seg {
            Some(role) => crate::lock(&role.shared).contiguous(),
            None => f.written(),
        };
        let target = self.file.as_ref()?.path()?.to_path_buf();
        Some(Kept {
            data: super::partial::data_path(&target),
            target,
            url: self.source_url_of(self.resume.source).to_bytes().to_vec(),
            validator,
            total: self.resume.total,
            size,
        })
    }

    /// `NET_EVENT_RESTORED` for a request `net_restore` started.
    fn restored_flag(&self) -> u32 {
        match self.req.extra().fetch.restored {
            true => flags::RESTORED,
            false => 0,
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

    /// Why a transfer libcurl ended without an error is incomplete: its
    /// compressed body stopped before its compressed stream did.
    pub fn unfinished_body(&self) -> Option<Error> {
        self.decoder.as_ref().and_then(|d| d.finish().err())
    }

    /// The end of a header block. If it is the final response, fixes the
    /// status, headers and estimate, chooses where the body goes and sends
    /// `began`.
    pub(super) fn on_headers_complete(&mut self) -> Result<(), Error> {
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

    /// Whether libcurl follows this response to another, as it decides: a
    /// 3xx (304 too) with a `Location` that is not empty.
    pub(super) fn follows_redirect(&self) -> bool {
        self.follow_redirects
            && (300..400).contains(&self.status)
            && self.find_header("Location").is_some_and(|v| !v.is_empty())
    }

    pub(super) fn find_header(&self, name: &str) -> Option<&[u8]> {
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
        if !due {
            // Sent when due (`pay_progress`) if no byte comes before.
            self.progress_owed = true;
        } else if slot.claim() {
            self.last_progress = Some(now);
            self.progress_owed = false;
            let mut ev = self.progress_event(Phase::Progress);
            ev.progress = Some(slot.clone());
            self.send(ev);
        } else {
            self.progress_owed = false; // the queued event reports the newest count
        }
    }

    /// When a progress event is owed: bytes arrived after the last one
    /// within its interval, and none since (a stall must not leave the
    /// last count unreported).
    pub fn progress_deadline(&self) -> Option<Instant> {
        let last = self.last_progress.filter(|_| self.progress_owed)?;
        Some(last + PROGRESS_INTERVAL)
    }

    /// Sends the owed progress event once its interval has passed.
    pub fn pay_progress(&mut self, now: Instant) {
        if self.progress_deadline().is_some_and(|d| d <= now) {
            if let Some(slot) = &self.progress {
                let n = slot.transferred.load(Ordering::Acquire);
                self.report_progress(now, n, false);
            }
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
        if !self.gate.admit(data.len()) {
            return Err(WriteError::Pause); // paced: libcurl hands it again
        }
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
pub(super) fn configure(
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
