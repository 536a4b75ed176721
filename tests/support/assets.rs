//! Files the test server holds at fixed paths (`Server::put`), served the
//! way a real file server does: `HEAD` and `GET`, `ETag` and
//! `Last-Modified`, single byte ranges with `If-Range`, `If-None-Match`
//! and `If-Modified-Since`, optional gzip. Faults are scripted per request
//! (`Server::script`), and the server counts the body bytes it wrote and
//! records every request, per path.
//!
//! Rules, in the order they apply to one request:
//! 1. The next scripted fault is taken (GET and HEAD only; other methods
//!    get a 405 and take none). `Close` and `Status` answer at once;
//!    `Delay` waits, `Replace` swaps the asset, then serving goes on.
//!    `Answer416`, `ContentRangeOffset` and `ContentRangeTotal` answer
//!    their broken response whatever the request's preconditions.
//! 2. `If-None-Match` (weak comparison, a list or `*`) matching: 304.
//!    When it is absent, `If-Modified-Since` at or after `Last-Modified`:
//!    304. A 304 carries the validators and no body.
//! 3. A `Range` on a GET, when the asset honours ranges, the body is not
//!    gzip-encoded and the fault is not `IgnoreRange`: `If-Range` must
//!    match (a strong ETag equal to the current strong one, or the exact
//!    `Last-Modified` string) or the whole file is sent with a 200. One
//!    range `bytes=N-`, `bytes=N-M` or `bytes=-S`: 206 with
//!    `Content-Range: bytes N-M/LEN`; N at or past the end: 416 with
//!    `Content-Range: bytes */LEN` and an empty body. Several ranges or a
//!    malformed one: 200 with the whole file.
//! 4. Otherwise 200 with the whole file.
//!
//! `CutAt`, `ResetAt` and `StallAt` let the response above go out with its
//! normal headers, write its body up to the given offset of the
//! representation (exclusive; the gzip bytes when gzip-encoded), then
//! close, reset or stall, even when the body ended before the offset.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::http::{head, reset, Recorded};
use super::{Server, Shared};

/// The `Last-Modified` of `Asset::new`.
pub const LAST_MODIFIED: &str = "Wed, 21 Oct 2015 07:28:00 GMT";

/// Body bytes are written this many at a time.
const CHUNK: usize = 64 * 1024;

/// One file the server holds.
#[derive(Clone)]
pub struct Asset {
    pub data: Arc<Vec<u8>>,
    /// The full header value, quotes included; may be weak (`W/"..."`).
    pub etag: Option<String>,
    /// An HTTP date.
    pub last_modified: Option<String>,
    /// Honour `Range` (and say `Accept-Ranges: bytes`).
    pub ranges: bool,
    /// Send the body gzip-encoded when the request's `Accept-Encoding`
    /// names gzip (then with no ranges).
    pub gzip: bool,
    /// Send each response's body at most this many bytes per second.
    pub rate: Option<u64>,
}

impl Asset {
    /// A strong ETag made of the data's SHA-256, `LAST_MODIFIED`, ranges,
    /// no gzip.
    pub fn new(data: Vec<u8>) -> Asset {
        let etag = format!("\"{}\"", &sha256_hex(&data)[..16]);
        Asset {
            data: Arc::new(data),
            etag: Some(etag),
            last_modified: Some(LAST_MODIFIED.to_string()),
            ranges: true,
            gzip: false,
            rate: None,
        }
    }
}

impl fmt::Debug for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Asset")
            .field("len", &self.data.len())
            .field("etag", &self.etag)
            .field("last_modified", &self.last_modified)
            .field("ranges", &self.ranges)
            .field("gzip", &self.gzip)
            .finish()
    }
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    openssl::sha::sha256(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the server does with one request to an asset.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Serve normally.
    None,
    /// Normal headers, the body up to this offset (exclusive), then close
    /// the connection (FIN).
    CutAt(u64),
    /// The same, then reset the connection (RST).
    ResetAt(u64),
    /// Answer this status with a small text body, and `Retry-After: value`
    /// when given.
    Status(u16, Option<String>),
    /// Read the request and close without any response.
    Close,
    /// Normal headers, the body up to this offset, then no more bytes
    /// until the server stops.
    StallAt(u64),
    /// Answer as if no `Range` came (200 with the whole body).
    IgnoreRange,
    /// A 206 whose start (in `Content-Range` and in the bytes sent) is
    /// this many bytes off the one asked for (0 when no range was asked).
    ContentRangeOffset(i64),
    /// A 206 of the range asked for (the whole file when none) whose
    /// `Content-Range` total is this instead of the real length.
    ContentRangeTotal(u64),
    /// 416 with `Content-Range: bytes */LEN` whatever was asked.
    Answer416,
    /// Replace the asset (data and validators) for this request and the
    /// next ones, then serve normally.
    Replace(Asset),
    /// Wait (less if the server stops), then serve normally.
    Delay(Duration),
}

/// Per-path state, in `Shared`.
#[derive(Default)]
pub struct Assets {
    map: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    asset: Asset,
    /// The gzip encoding of `asset.data`, made on first use.
    gz: Option<Arc<Vec<u8>>>,
    script: VecDeque<Fault>,
    sent: Arc<AtomicU64>,
    requests: Vec<Recorded>,
}

impl Server {
    /// Serves `asset` at `path` (like "/a.bin"; a request's query string
    /// is ignored when matching). Putting at a path again replaces the
    /// asset and keeps its script, counters and recorded requests.
    pub fn put(&self, path: &str, asset: Asset) {
        let mut map = self.shared.assets.map.lock().unwrap();
        match map.get_mut(path) {
            Some(e) => {
                e.asset = asset;
                e.gz = None;
            }
            None => {
                let e = Entry {
                    asset,
                    gz: None,
                    script: VecDeque::new(),
                    sent: Arc::new(AtomicU64::new(0)),
                    requests: Vec::new(),
                };
                map.insert(path.to_string(), e);
            }
        }
    }

    /// The faults for the next GET or HEAD requests to `path`, one each,
    /// then `Fault::None`; replaces faults not yet used. `path` must hold
    /// an asset.
    pub fn script(&self, path: &str, faults: Vec<Fault>) {
        let mut map = self.shared.assets.map.lock().unwrap();
        let e = map
            .get_mut(path)
            .unwrap_or_else(|| panic!("script: no asset at {path}; put one first"));
        e.script = faults.into();
    }

    /// Body bytes written for `path` (accepted by the socket), all
    /// requests so far.
    pub fn body_bytes_sent(&self, path: &str) -> u64 {
        let map = self.shared.assets.map.lock().unwrap();
        map.get(path).map_or(0, |e| e.sent.load(Ordering::SeqCst))
    }

    /// Every request to `path` so far, in order of arrival.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        let map = self.shared.assets.map.lock().unwrap();
        map.get(path).map_or(Vec::new(), |e| e.requests.clone())
    }
}

/// Answers `req` when its path holds an asset; `None` otherwise. An error
/// ends the connection.
pub fn respond<W: Write>(
    shared: &Shared,
    req: &Recorded,
    io: &mut W,
    raw: &TcpStream,
) -> Option<io::Result<()>> {
    let is_get = req.method == "GET";
    let is_head = req.method == "HEAD";
    let (asset, gz, fault, sent) = {
        let mut map = shared.assets.map.lock().unwrap();
        let e = map.get_mut(req.route())?;
        e.requests.push(req.clone());
        let fault = match is_get || is_head {
            true => e.script.pop_front().unwrap_or(Fault::None),
            false => Fault::None,
        };
        if let Fault::Replace(a) = &fault {
            e.asset = a.clone();
            e.gz = None;
        }
        let gz = if e.asset.gzip && accepts_gzip(req) {
            let data = &e.asset.data;
            Some(e.gz.get_or_insert_with(|| Arc::new(gzip(data))).clone())
        } else {
            None
        };
        (e.asset.clone(), gz, fault, e.sent.clone())
    };
    if !is_get && !is_head {
        let h = [("Allow", "GET, HEAD".to_string())];
        return Some(head(io, 405, &h, Some(0)));
    }
    Some(serve(shared, req, io, raw, &asset, gz, fault, &sent))
}

#[allow(clippy::too_many_arguments)]
fn serve<W: Write>(
    shared: &Shared,
    req: &Recorded,
    io: &mut W,
    raw: &TcpStream,
    asset: &Asset,
    gz: Option<Arc<Vec<u8>>>,
    fault: Fault,
    sent: &AtomicU64,
) -> io::Result<()> {
    let is_get = req.method == "GET";
    match &fault {
        Fault::Close => {
            let _ = raw.shutdown(Shutdown::Both);
            return Err(closed());
        }
        Fault::Status(code, retry_after) => {
            let mut h = vec![("Content-Type", "text/plain".to_string())];
            if let Some(v) = retry_after {
                h.push(("Retry-After", v.clone()));
            }
            if matches!(code, 204 | 304) {
                return head(io, *code, &h, None);
            }
            let text = format!("status {code}\n").into_bytes();
            head(io, *code, &h, Some(text.len()))?;
            if !is_get {
                return Ok(());
            }
            return write_body(shared, io, &text, 0, text.len() as u64, sent, None);
        }
        Fault::Delay(d) if !shared.pause(*d) => return Err(closed()),
        _ => {}
    }

    let encoded = gz.is_some();
    let data = gz.unwrap_or_else(|| asset.data.clone());
    let len = data.len() as u64;
    let mut h = vec![("Content-Type", "application/octet-stream".to_string())];
    if let Some(t) = &asset.etag {
        h.push(("ETag", t.clone()));
    }
    if let Some(d) = &asset.last_modified {
        h.push(("Last-Modified", d.clone()));
    }
    if asset.ranges && !encoded {
        h.push(("Accept-Ranges", "bytes".to_string()));
    }
    if asset.gzip {
        h.push(("Vary", "Accept-Encoding".to_string()));
    }
    if encoded {
        h.push(("Content-Encoding", "gzip".to_string()));
    }

    // The status and the body's range [start, end) of `data`.
    let asked = || match req.header("range") {
        Some(r) => parse_range(r, len),
        None => Parsed::None,
    };
    let (status, start, end) = match fault {
        Fault::Answer416 => (416, 0, 0),
        Fault::ContentRangeOffset(off) => {
            let (s, e) = match asked() {
                Parsed::One(s, e) => (s, e),
                _ => (0, len),
            };
            let s = (s as i64 + off).clamp(0, len as i64) as u64;
            let e = e.max(s);
            h.push(("Content-Range", content_range(s, e, len)));
            (206, s, e)
        }
        Fault::ContentRangeTotal(total) => {
            let (s, e) = match asked() {
                Parsed::One(s, e) => (s, e),
                _ => (0, len),
            };
            h.push(("Content-Range", content_range(s, e, total)));
            (206, s, e)
        }
        _ if not_modified(req, asset) => (304, 0, 0),
        ref f => {
            let use_range = is_get_range(req, asset, encoded, f);
            match if use_range { asked() } else { Parsed::None } {
                Parsed::One(s, e) => {
                    h.push(("Content-Range", content_range(s, e, len)));
                    (206, s, e)
                }
                Parsed::Unsatisfiable => (416, 0, 0),
                Parsed::None => (200, 0, len),
            }
        }
    };
    if status == 416 {
        h.push(("Content-Range", format!("bytes */{len}")));
    }
    let clen = match status {
        304 => None,
        _ => Some((end - start) as usize),
    };
    head(io, status, &h, clen)?;

    let has_body = is_get && status != 304;
    let (limit, then) = match fault {
        Fault::CutAt(at) => (at, After::Cut),
        Fault::ResetAt(at) => (at, After::Reset),
        Fault::StallAt(at) => (at, After::Stall),
        _ => (u64::MAX, After::KeepOpen),
    };
    if has_body {
        let end = end.min(limit.max(start));
        write_body(shared, io, &data, start, end, sent, asset.rate)?;
    }
    match then {
        After::KeepOpen => Ok(()),
        After::Cut => {
            let _ = raw.shutdown(Shutdown::Both);
            Err(closed())
        }
        After::Reset => {
            reset(raw);
            Err(closed())
        }
        After::Stall => {
            shared.stall();
            Err(closed())
        }
    }
}

enum After {
    KeepOpen,
    Cut,
    Reset,
    Stall,
}

/// Writes `data[start..end]` in `CHUNK`s, counting every byte the socket
/// accepts (exact once the write returned, and never behind what the
/// client received); at most `rate` bytes per second when given.
fn write_body<W: Write>(
    shared: &Shared,
    io: &mut W,
    data: &[u8],
    start: u64,
    end: u64,
    sent: &AtomicU64,
    rate: Option<u64>,
) -> io::Result<()> {
    let began = std::time::Instant::now();
    let mut written = 0u64;
    for piece in data[start as usize..end as usize].chunks(CHUNK) {
        if shared.stopping.load(Ordering::SeqCst) {
            return Err(closed());
        }
        if let Some(rate) = rate {
            // Pacing, not synchronisation: the next chunk leaves when the
            // ones before it are due.
            let due = began + Duration::from_secs_f64(written as f64 / rate as f64);
            std::thread::sleep(due.saturating_duration_since(std::time::Instant::now()));
        }
        written += piece.len() as u64;
        let mut rest = piece;
        while !rest.is_empty() {
            // Counted before the write, so that a client holding the bytes
            // never reads a smaller count; what the socket did not take is
            // taken back.
            let want = rest.len() as u64;
            sent.fetch_add(want, Ordering::SeqCst);
            let n = io.write(rest).unwrap_or(0);
            sent.fetch_sub(want - n as u64, Ordering::SeqCst);
            if n == 0 {
                return Err(io::Error::other("write failed"));
            }
            rest = &rest[n..];
        }
    }
    io.flush()
}

fn closed() -> io::Error {
    io::Error::other("closed on purpose")
}

fn content_range(start: u64, end: u64, total: u64) -> String {
    // An empty range (possible only with the faults) still names a byte.
    format!("bytes {start}-{}/{total}", end.max(start + 1) - 1)
}

/// Whether the `Range` of this request is to be looked at.
fn is_get_range(req: &Recorded, asset: &Asset, encoded: bool, fault: &Fault) -> bool {
    if req.method != "GET" || !asset.ranges || encoded || matches!(fault, Fault::IgnoreRange) {
        return false;
    }
    match req.header("if-range") {
        None => true,
        Some(v) if v.starts_with('"') => asset
            .etag
            .as_deref()
            .is_some_and(|t| t.starts_with('"') && t == v),
        Some(v) if v.starts_with("W/") => false,
        Some(v) => asset.last_modified.as_deref() == Some(v),
    }
}

enum Parsed {
    /// No usable range: send everything.
    None,
    /// [start, end) of the file.
    One(u64, u64),
    Unsatisfiable,
}

/// One `bytes=` range of a file of `len` bytes.
fn parse_range(v: &str, len: u64) -> Parsed {
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return Parsed::None;
    };
    if spec.contains(',') {
        return Parsed::None;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Parsed::None;
    };
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        match !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) {
            true => s.parse().ok(),
            false => None,
        }
    };
    match (a.trim().is_empty(), num(a), num(b)) {
        // bytes=-S: the last S bytes.
        (true, _, Some(0)) => Parsed::Unsatisfiable,
        (true, _, Some(s)) => Parsed::One(len.saturating_sub(s), len),
        (false, Some(start), _) if start >= len => Parsed::Unsatisfiable,
        (false, Some(start), None) if b.trim().is_empty() => Parsed::One(start, len),
        (false, Some(start), Some(last)) if last >= start => Parsed::One(start, len.min(last + 1)),
        _ => Parsed::None,
    }
}

/// `If-None-Match` (weak comparison), else `If-Modified-Since`.
fn not_modified(req: &Recorded, asset: &Asset) -> bool {
    if let Some(list) = req.header("if-none-match") {
        let opaque = |t: &str| t.trim().trim_start_matches("W/").to_string();
        return list.split(',').any(|t| {
            t.trim() == "*"
                || asset
                    .etag
                    .as_deref()
                    .is_some_and(|e| opaque(e) == opaque(t))
        });
    }
    match (req.header("if-modified-since"), &asset.last_modified) {
        (Some(since), Some(lm)) => match (http_date(since), http_date(lm)) {
            (Some(s), Some(m)) => s >= m,
            _ => since.trim() == lm,
        },
        _ => false,
    }
}

/// Seconds since 1970 of an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT").
pub fn http_date(s: &str) -> Option<i64> {
    let f: Vec<&str> = s.split_whitespace().collect();
    if f.len() != 6 || f[5] != "GMT" {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let day: i64 = f[1].parse().ok()?;
    let month = MONTHS.iter().position(|m| *m == f[2])? as i64 + 1;
    let year: i64 = f[3].parse().ok()?;
    let hms: Vec<i64> = f[4]
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, sec] = hms[..] else { return None };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + m * 60 + sec)
}

fn accepts_gzip(req: &Recorded) -> bool {
    req.header("accept-encoding").is_some_and(|v| {
        v.split(',').any(|c| {
            let mut parts = c.split(';');
            let name = parts.next().unwrap_or("").trim();
            let q0 = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            name.eq_ignore_ascii_case("gzip") && !q0
        })
    })
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use flate2::{write::GzEncoder, Compression};
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}
