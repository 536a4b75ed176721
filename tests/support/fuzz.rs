//! The response fuzzer's server and generator (`tests/fuzz_responses.rs`).
//!
//! [`RawServer`] answers each request on 127.0.0.1 with bytes a case
//! scripted, then keeps the connection for the next request (after a
//! message that ends where its bytes do), closes it (FIN), resets it
//! (RST) or stalls.
//! [`case`] is the proptest strategy of hostile HTTP/1.x answers: a chain
//! of 0–2 redirects and a last response, each with odd status lines,
//! header fields (odd bytes, NUL, huge, empty, repeated, folded), framing
//! (Content-Lengths that lie, chunk sizes, close-delimited), content
//! encodings, chunked trailers and an ending (complete, cut, reset,
//! stall). [`render`] turns a case into the server's scripts and what the
//! client must make of it: a sure outcome where HTTP and libcurl leave no
//! doubt, otherwise only the body a success must have saved.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;

// ---------------------------------------------------------------- server

/// What the server does with one request.
#[derive(Clone, Debug)]
pub struct Script {
    /// Written as they are (already cut where the case cuts).
    pub bytes: Vec<u8>,
    pub end: End,
}

/// How the server ends a connection after `Script::bytes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Waits for the next request on the connection (sent only after a
    /// response whose framing ends exactly where its bytes do).
    KeepAlive,
    /// FIN.
    Close,
    /// RST (SO_LINGER 0).
    Reset,
    /// Sends nothing more until the client hangs up.
    Stall,
}

type Scripts = Arc<Mutex<HashMap<u64, Arc<Vec<Script>>>>>;

/// One connection per request: reads a GET for `/c/ID/HOP`, answers with
/// case ID's script HOP, and ends the connection as the script says.
pub struct RawServer {
    port: u16,
    scripts: Scripts,
    stopping: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl RawServer {
    pub fn start() -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let scripts: Scripts = Arc::default();
        let stopping = Arc::new(AtomicBool::new(false));
        let (s, stop) = (scripts.clone(), stopping.clone());
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || serve(conn, &s));
            }
        });
        RawServer {
            port,
            scripts,
            stopping,
            accept: Some(accept),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves `scripts` for case `id` (script i at `/c/ID/i`).
    pub fn add(&self, id: u64, scripts: Vec<Script>) {
        self.scripts.lock().unwrap().insert(id, Arc::new(scripts));
    }

    pub fn remove(&self, id: u64) {
        self.scripts.lock().unwrap().remove(&id);
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // unblocks accept
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// The path of case `id`'s script `hop`.
pub fn path(id: u64, hop: usize) -> String {
    format!("/c/{id}/{hop}")
}

/// One request per script; a `KeepAlive` script lets the next request
/// come on the same connection (libcurl reuses it), any other ends it.
fn serve(mut conn: TcpStream, scripts: &Scripts) {
    let _ = conn.set_nodelay(true);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = conn.set_write_timeout(Some(Duration::from_secs(5)));
    let mut script = Script {
        bytes: Vec::new(),
        end: End::KeepAlive,
    };
    while script.end == End::KeepAlive {
        let Some(target) = read_request_target(&mut conn) else {
            return;
        };
        script = lookup(scripts, &target).unwrap_or_else(|| Script {
            bytes: b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
            end: End::KeepAlive,
        });
        if conn.write_all(&script.bytes).is_err() {
            return;
        }
    }
    match script.end {
        End::KeepAlive => {}
        End::Close => {
            let _ = conn.shutdown(Shutdown::Write);
            // Read what the client may still send so that closing sends no
            // RST; the client closes first, or this gives up.
            drain(&mut conn, Duration::from_secs(1));
        }
        End::Reset => reset(&conn),
        End::Stall => drain(&mut conn, Duration::from_secs(10)),
    }
}

fn lookup(scripts: &Scripts, target: &str) -> Option<Script> {
    let path = target.split('?').next()?;
    let mut parts = path.strip_prefix("/c/")?.split('/');
    let id: u64 = parts.next()?.parse().ok()?;
    let hop: usize = parts.next()?.parse().ok()?;
    let case = scripts.lock().unwrap().get(&id)?.clone();
    case.get(hop).cloned()
}

/// The request target of the request head read from `conn` (a GET: no
/// body follows).
fn read_request_target(conn: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut buf).ok()?;
        if n == 0 || head.len() > 65536 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let first = head.split(|&b| b == b'\r').next()?;
    let target = String::from_utf8_lossy(first)
        .split(' ')
        .nth(1)?
        .to_string();
    Some(target)
}

/// Reads until the peer closes, an error, or `limit`.
fn drain(conn: &mut TcpStream, limit: Duration) {
    let _ = conn.set_read_timeout(Some(limit));
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Closes with RST instead of FIN: SO_LINGER with a zero timeout.
fn reset(conn: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

// ------------------------------------------------------------- the cases

/// A chain of responses: every one but the last redirects to the next.
#[derive(Clone, Debug)]
pub struct Case {
    pub redirects: Vec<Response>,
    pub last: Response,
}

#[derive(Clone, Debug)]
pub struct Response {
    /// 1xx blocks before the response (100, 102, 103).
    pub interims: Vec<u16>,
    pub version: Version,
    pub code: Code,
    pub reason: Reason,
    /// Lines of the header block end with LF alone.
    pub lf_only: bool,
    pub fields: Vec<Field>,
    pub location: Option<Location>,
    pub encoding: Encoding,
    pub body_len: usize,
    pub body_seed: u64,
    pub framing: Framing,
    pub trailers: Vec<Trailer>,
    pub ending: Ending,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Http11,
    Http10,
    /// Written as is, where `HTTP/1.1` goes.
    Odd(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    Num(u16),
    /// Written as is, where the three digits go.
    Odd(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// `HTTP/1.1 200 OK`.
    Usual,
    /// `HTTP/1.1 200`.
    Missing,
    /// `HTTP/1.1 200 `.
    Empty,
    /// `HTTP/1.1 200 Not: Found`, shaped like a trailer.
    Colon,
    /// Bytes 0x80-0xff and a tab.
    Odd,
    /// 3000 bytes.
    Long,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    /// A field whose name is from `NAMES`.
    Plain(usize, Value),
    /// The same field twice.
    Repeated(usize, Value),
    /// A name of printable and high bytes (no colon).
    OddName(Vec<u8>, Value),
    /// `X-Folded: a` continued on 1–3 lines starting with a space or tab.
    Folded(Vec<Value>, bool),
    /// `HTTP/1.1 200 OK: x`, a field named like a status line.
    StatusShaped,
    /// `X-Spaced : v` (whitespace before the colon).
    SpaceBeforeColon,
    /// `: v`.
    EmptyName,
    Connection(bool),
    /// `X-Nul: a<NUL>b`: libcurl rejects it.
    Nul,
    /// `X-Cr: a<CR>b`: libcurl rejects it.
    BareCr,
    /// A line without a colon: libcurl rejects it.
    NoColon,
    /// One field of this many bytes (up to 400 KiB: over libcurl's limit
    /// of 300 KiB for a response's headers).
    Huge(usize),
}

pub const NAMES: &[&str] = &[
    "X-Fuzz",
    "x-lower",
    "X-UPPER",
    "Cache-Control",
    "Set-Cookie",
    "ETag",
    "Link",
    "Server",
    "Vary",
    "Retry-After",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Ascii(String),
    /// Bytes 0x80-0xff.
    High(Vec<u8>),
    /// Control bytes other than tab, CR, LF and NUL.
    Controls(Vec<u8>),
    Empty,
    /// Only spaces and tabs.
    Blanks,
    /// This many bytes.
    Long(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// The next response of the chain (only on redirects).
    Next { absolute: bool },
    /// This same response again: a loop.
    Itself,
    /// A URL of another scheme.
    Scheme(&'static str),
    /// `Location:` with nothing.
    Empty,
    /// `Location:` with only blanks.
    Blanks,
}

pub const SCHEMES: &[&str] = &[
    "file:///etc/passwd",
    "gopher://127.0.0.1/",
    "ftp://127.0.0.1/x",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    None,
    Identity,
    Gzip,
    XGzip,
    Deflate,
    /// `gzip, deflate`: gzip first, then deflate over it.
    GzipThenDeflate,
    /// gzip with a wrong CRC.
    BadCrc,
    /// gzip without its last 6 bytes.
    Truncated,
    /// A zlib header over garbage.
    BadDeflate,
    Unknown(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    Length(Length),
    /// No Content-Length, not chunked: the body ends with the connection.
    Close,
    Chunked(Chunks, usize),
    /// Chunked and a Content-Length.
    ChunkedWithLength,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Length {
    Exact,
    /// Announces this many bytes fewer than sent (at most the body).
    Shorter(usize),
    /// Announces this many bytes more than sent.
    Longer(usize),
    /// Two Content-Length fields with the same value.
    TwoSame,
    /// `Content-Length: N, N`.
    ListSame,
    /// Two Content-Length fields, N and N+1.
    TwoDifferent,
    Garbage(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunks {
    Lower,
    Upper,
    LeadingZeros,
    /// `;name=value` extensions.
    Extension,
    /// LF alone after sizes and data.
    LfOnly,
    /// A first size of 17 hex digits.
    Huge,
    Negative,
    /// A first size that is not hex.
    Garbage,
    /// No last (zero) chunk.
    NoLast,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trailer {
    Field,
    /// `HTTP/1.1 200 OK: x` or `HTTP/1.1 500 Oops: y`.
    StatusShaped(bool),
    /// ` HTTP/1.1 200 OK: x`: a blank first.
    BlankStatus,
    /// No colon (`no colon`, ` HTTP/1.1 200 OK`): libcurl rejects it.
    NoColon(bool),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Complete,
    /// FIN after this many permille of the response's bytes.
    Cut(u16),
    /// RST after this many permille.
    Reset(u16),
    /// Nothing more after this many permille, until the client hangs up.
    Stall(u16),
}

// ------------------------------------------------------------ strategies

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => "[ -~]{0,40}".prop_map(Value::Ascii),
        2 => vec(0x80u8..=0xff, 1..20).prop_map(Value::High),
        1 => vec(prop_oneof![0x01u8..=0x08, 0x0bu8..=0x0c, 0x0eu8..=0x1f, Just(0x7f)], 1..10)
            .prop_map(Value::Controls),
        1 => Just(Value::Empty),
        1 => Just(Value::Blanks),
        1 => (100usize..8000).prop_map(Value::Long),
    ]
}

fn field() -> impl Strategy<Value = Field> {
    let name = 0..NAMES.len();
    prop_oneof![
        60 => (name.clone(), value()).prop_map(|(n, v)| Field::Plain(n, v)),
        3 => (vec(prop_oneof![0x21u8..=0x39, 0x3bu8..=0x7e, 0x80u8..=0xff], 1..20), value())
            .prop_map(|(n, v)| Field::OddName(n, v)),
        3 => (name, value()).prop_map(|(n, v)| Field::Repeated(n, v)),
        3 => (vec(value(), 1..4), any::<bool>()).prop_map(|(v, tab)| Field::Folded(v, tab)),
        2 => Just(Field::StatusShaped),
        1 => Just(Field::SpaceBeforeColon),
        1 => Just(Field::EmptyName),
        1 => any::<bool>().prop_map(Field::Connection),
        1 => Just(Field::Nul),
        1 => Just(Field::BareCr),
        1 => Just(Field::NoColon),
        1 => (100_000usize..400_000).prop_map(Field::Huge),
    ]
}

fn version() -> impl Strategy<Value = Version> {
    prop_oneof![
        40 => Just(Version::Http11),
        6 => Just(Version::Http10),
        3 => prop::sample::select(vec![
            "HTTP/1.2", "HTTP/2", "HTTP/0.9", "http/1.1", "HTTP/1.1 ", "", "ICY", "HTTP/",
            "HTTP/1.1\t",
        ])
        .prop_map(Version::Odd),
    ]
}

/// Final statuses worth trying (2xx weighted up).
const CODES: &[u16] = &[
    200, 200, 200, 200, 201, 202, 203, 204, 206, 299, 101, 300, 301, 302, 303, 304, 307, 308, 400,
    401, 403, 404, 404, 407, 410, 417, 418, 500, 503, 599, 600, 999, 100, 103, 199,
];

fn code() -> impl Strategy<Value = Code> {
    prop_oneof![
        30 => prop::sample::select(CODES).prop_map(Code::Num),
        3 => (100u16..=999).prop_map(Code::Num),
        1 => prop::sample::select(vec!["20", "2000", "abc", "099", "000", "-200", "2 0"])
            .prop_map(Code::Odd),
    ]
}

fn reason() -> impl Strategy<Value = Reason> {
    prop_oneof![
        10 => Just(Reason::Usual),
        2 => Just(Reason::Missing),
        1 => Just(Reason::Empty),
        2 => Just(Reason::Colon),
        1 => Just(Reason::Odd),
        1 => Just(Reason::Long),
    ]
}

fn encoding() -> impl Strategy<Value = Encoding> {
    prop_oneof![
        30 => Just(Encoding::None),
        2 => Just(Encoding::Identity),
        5 => Just(Encoding::Gzip),
        1 => Just(Encoding::XGzip),
        3 => Just(Encoding::Deflate),
        1 => Just(Encoding::GzipThenDeflate),
        1 => Just(Encoding::BadCrc),
        1 => Just(Encoding::Truncated),
        1 => Just(Encoding::BadDeflate),
        1 => prop::sample::select(vec!["br", "zstd", "compress", "x-fuzz"]).prop_map(Encoding::Unknown),
    ]
}

fn framing() -> impl Strategy<Value = Framing> {
    let length = prop_oneof![
        20 => Just(Length::Exact),
        2 => (1usize..100).prop_map(Length::Shorter),
        3 => (1usize..100).prop_map(Length::Longer),
        1 => Just(Length::TwoSame),
        1 => Just(Length::ListSame),
        1 => Just(Length::TwoDifferent),
        2 => prop::sample::select(vec![
            "abc", "-1", "1e3", "+5", "0x10", "", "99999999999999999999", "18446744073709551615",
        ])
        .prop_map(Length::Garbage),
    ];
    let chunks = prop_oneof![
        10 => Just(Chunks::Lower),
        2 => Just(Chunks::Upper),
        2 => Just(Chunks::LeadingZeros),
        2 => Just(Chunks::Extension),
        2 => Just(Chunks::LfOnly),
        1 => Just(Chunks::Huge),
        1 => Just(Chunks::Negative),
        1 => Just(Chunks::Garbage),
        2 => Just(Chunks::NoLast),
    ];
    prop_oneof![
        12 => length.prop_map(Framing::Length),
        4 => Just(Framing::Close),
        6 => (chunks, 1usize..9000).prop_map(|(c, p)| Framing::Chunked(c, p)),
        1 => Just(Framing::ChunkedWithLength),
    ]
}

fn trailer() -> impl Strategy<Value = Trailer> {
    prop_oneof![
        3 => Just(Trailer::Field),
        3 => any::<bool>().prop_map(Trailer::StatusShaped),
        1 => Just(Trailer::BlankStatus),
        1 => any::<bool>().prop_map(Trailer::NoColon),
    ]
}

/// Stalls cost the client's 1 s timeout each: keep them rare.
fn ending() -> impl Strategy<Value = Ending> {
    prop_oneof![
        180 => Just(Ending::Complete),
        12 => (0u16..1000).prop_map(Ending::Cut),
        6 => (0u16..1000).prop_map(Ending::Reset),
        1 => (0u16..1000).prop_map(Ending::Stall),
    ]
}

fn body_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        2 => Just(0usize),
        6 => 1usize..200,
        6 => 200usize..20_000,
        2 => 20_000usize..300_000,
    ]
}

fn interims() -> impl Strategy<Value = Vec<u16>> {
    prop_oneof![
        8 => Just(Vec::new()),
        1 => vec(prop::sample::select(vec![100u16, 102, 103]), 1..3),
    ]
}

fn location() -> impl Strategy<Value = Option<Location>> {
    prop_oneof![
        12 => Just(None),
        1 => Just(Some(Location::Itself)),
        1 => prop::sample::select(SCHEMES).prop_map(|s| Some(Location::Scheme(s))),
        1 => Just(Some(Location::Empty)),
        1 => Just(Some(Location::Blanks)),
    ]
}

/// The last response of a chain.
fn last() -> impl Strategy<Value = Response> {
    let head = (interims(), version(), code(), reason(), any::<bool>());
    let content = (
        vec(field(), 0..5),
        location(),
        encoding(),
        body_len(),
        any::<u64>(),
        framing(),
        vec(trailer(), 0..3),
        ending(),
    );
    (head, content).prop_map(
        |(
            (interims, version, code, reason, lf_only),
            (fields, location, encoding, body_len, body_seed, framing, trailers, ending),
        )| Response {
            interims,
            version,
            code,
            reason,
            lf_only,
            fields,
            location,
            encoding,
            body_len,
            body_seed,
            framing,
            trailers,
            ending,
        },
    )
}

/// A redirect to the next response: mostly well-formed, with hostile
/// fields and trailers now and then.
fn redirect() -> impl Strategy<Value = Response> {
    let head = (
        prop::sample::select(vec![301u16, 302, 303, 307, 308]),
        reason(),
        any::<bool>(),
        any::<bool>(),
    );
    let framing = prop_oneof![
        3 => Just(Framing::Length(Length::Exact)),
        1 => Just(Framing::Close),
        2 => (Just(Chunks::Lower), 1usize..50).prop_map(|(c, p)| Framing::Chunked(c, p)),
    ];
    let trailers = vec(
        prop_oneof![
            Just(Trailer::Field),
            any::<bool>().prop_map(Trailer::StatusShaped)
        ],
        0..2,
    );
    (head, vec(field(), 0..3), 0usize..100, framing, trailers).prop_map(
        |((code, reason, lf_only, absolute), fields, body_len, framing, trailers)| Response {
            interims: Vec::new(),
            version: Version::Http11,
            code: Code::Num(code),
            reason,
            lf_only,
            fields,
            location: Some(Location::Next { absolute }),
            encoding: Encoding::None,
            body_len,
            body_seed: 1,
            framing,
            trailers,
            ending: Ending::Complete,
        },
    )
}

pub fn case() -> impl Strategy<Value = Case> {
    let redirects = prop_oneof![
        6 => Just(Vec::new()),
        2 => vec(redirect(), 1..=1),
        1 => vec(redirect(), 2..=2),
    ];
    (redirects, last()).prop_map(|(redirects, last)| Case { redirects, last })
}

// ------------------------------------------------------------- rendering

/// What the client must make of a case, when that is sure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Want {
    /// No error, this 2xx status, the target replaced by `Rendered::body`.
    Saved(u16),
    /// No error, this status, the target untouched.
    Kept(u16),
    /// This error (with this status when Some), the target untouched.
    Error(&'static str, Option<u16>),
    /// Some error, the target untouched.
    AnyError,
    /// Not sure: only consistency is checked.
    Unsure,
}

/// A case made concrete for one server and case id.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub scripts: Vec<Script>,
    pub want: Want,
    /// What a success must have saved: the last response's body as its
    /// framing and encoding mean it.
    pub body: Vec<u8>,
    /// The last response's header fields as the client must report them
    /// (checked when the outcome is sure and not an error).
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
    /// The `bytes_estimated` a sure success reports: the Content-Length of
    /// an unencoded body, 0 after a 204, -1 when unknown.
    pub estimate: i64,
    /// Whether the run waits for the client's timeout.
    pub stalls: bool,
    /// A response is a 3xx to a URL of another scheme: nothing else may
    /// end with NET_ERROR_UNSUPPORTED_SCHEME.
    pub other_scheme: bool,
}

/// The scripts of case `id` on port `port`, and what the client must
/// make of them.
pub fn render(case: &Case, id: u64, port: u16) -> Rendered {
    let responses: Vec<&Response> = case.redirects.iter().chain([&case.last]).collect();
    let last_hop = responses.len() - 1;
    let ones: Vec<One> = responses
        .iter()
        .enumerate()
        .map(|(hop, r)| render_one(r, id, hop, (hop + 1).min(last_hop), port))
        .collect();
    let mut want = None;
    let mut chain_sure = true;
    for (hop, one) in ones.iter().enumerate() {
        // After a chunked response, a status line with a colon is told from
        // a trailer only by the end of its block, and two such lines (a
        // trailer and the status line, or the status line and a field)
        // cannot be told apart: netdl fails the response.
        if hop > 0 && ambiguous(responses[hop - 1], &ones[hop - 1], responses[hop]) {
            let sure = chain_sure && one.sure;
            want = Some(if sure {
                Want::Error("NET_ERROR_PROTOCOL", None)
            } else {
                Want::Unsure
            });
            break;
        }
        if hop < last_hop {
            chain_sure &= one.sure;
        }
    }
    let last = &ones[last_hop];
    // A redirect to itself follows itself.
    let looping = matches!(case.last.code, Code::Num(300..=399))
        && case.last.location == Some(Location::Itself);
    if want.is_none() && looping && ambiguous(&case.last, last, &case.last) {
        want = Some(if chain_sure && last.sure {
            Want::Error("NET_ERROR_PROTOCOL", None)
        } else {
            Want::Unsure
        });
    }
    let want = want.unwrap_or(if chain_sure {
        last.want.clone()
    } else {
        Want::Unsure
    });
    let stalls = last.script.end == End::Stall;
    Rendered {
        scripts: ones.iter().map(|o| o.script.clone()).collect(),
        want,
        body: last.body.clone(),
        fields: last.fields.clone(),
        estimate: last.estimate,
        stalls,
        other_scheme: ones.iter().any(|o| o.other_scheme),
    }
}

/// Whether libcurl reads the body to the connection's end: without a
/// length, or with one over `i64::MAX`.
fn close_delimited(framing: Framing) -> bool {
    match framing {
        Framing::Close => true,
        Framing::Length(Length::Garbage(g)) => {
            g.len() > 18 && g.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// Whether `r`, after `before` (rendered as `sent`), has a status line
/// netdl cannot tell from `before`'s trailers or `r`'s fields (see
/// `render`).
fn ambiguous(before: &Response, sent: &One, r: &Response) -> bool {
    let chunked = matches!(
        before.framing,
        Framing::Chunked(..) | Framing::ChunkedWithLength
    );
    // libcurl reads no body (nor trailers) of a redirect on a connection
    // that closes.
    let status_trailer = sent.script.end == End::KeepAlive
        && before.trailers.iter().any(|t| {
            matches!(
                t,
                Trailer::StatusShaped(_) | Trailer::BlankStatus | Trailer::NoColon(true)
            )
        });
    // A 1xx (whose status line has no colon) comes first, or not.
    chunked
        && r.interims.is_empty()
        && matches!(status_of(r.version, r.code), Status::Code(_))
        && r.reason == Reason::Colon
        && (status_trailer || r.fields.contains(&Field::StatusShaped))
}

struct One {
    script: Script,
    /// See `Rendered::other_scheme`.
    other_scheme: bool,
    /// Everything in this response has a sure meaning.
    sure: bool,
    want: Want,
    body: Vec<u8>,
    fields: Vec<(Vec<u8>, Vec<u8>)>,
    estimate: i64,
}

fn render_one(r: &Response, id: u64, hop: usize, next: usize, port: u16) -> One {
    let nl: &[u8] = if r.lf_only { b"\n" } else { b"\r\n" };
    let mut sure = true;
    let mut out = Vec::new();
    for &code in &r.interims {
        out.extend_from_slice(format!("HTTP/1.1 {code} Interim").as_bytes());
        out.extend_from_slice(nl);
        if code == 103 {
            out.extend_from_slice(b"Link: </style.css>; rel=preload");
            out.extend_from_slice(nl);
        }
        out.extend_from_slice(nl);
    }

    // The status line, and what libcurl and netdl make of it.
    let version = match r.version {
        Version::Http11 => "HTTP/1.1",
        Version::Http10 => "HTTP/1.0",
        Version::Odd(v) => v,
    };
    let code_text = match r.code {
        Code::Num(c) => c.to_string(),
        Code::Odd(c) => c.to_string(),
    };
    let status = status_of(r.version, r.code);
    let code = match status {
        Status::Code(c) => Some(c),
        Status::Refused | Status::Malformed => None,
    };
    let sep = if version.ends_with('\t') { "" } else { " " };
    out.extend_from_slice(format!("{version}{sep}{code_text}").as_bytes());
    match r.reason {
        Reason::Usual => out.extend_from_slice(b" Status"),
        Reason::Missing => {}
        Reason::Empty => out.push(b' '),
        Reason::Colon => out.extend_from_slice(b" Not: Found"),
        Reason::Odd => out.extend_from_slice(b" \x80\xfe\tok\xff"),
        Reason::Long => {
            out.push(b' ');
            out.extend(std::iter::repeat_n(b'r', 3000));
        }
    }
    out.extend_from_slice(nl);

    // The body as sent, and as a success must save it.
    let content = body(r.body_len, r.body_seed);
    let (encoded, content_encoding, decodes) = encode(&content, r.encoding);
    // netdl refuses an encoding it does not know when the headers end, and
    // a broken stream when its bytes come.
    let unknown_coding = matches!(r.encoding, Encoding::Unknown(_));
    let mut broken_coding = !decodes && !unknown_coding;
    // The body's framing ends it inside a compressed stream.
    let mut truncated_stream = false;

    // The header fields, and the same as the client must report them.
    let mut head = Head::default();
    head.field(b"Content-Type", b"application/octet-stream");
    let mut header_bytes = 0;
    for f in &r.fields {
        match f {
            Field::Plain(n, v) => head.field(NAMES[*n].as_bytes(), &value_bytes(v)),
            Field::OddName(n, v) => head.field(n, &value_bytes(v)),
            Field::Repeated(n, v) => {
                head.field(NAMES[*n].as_bytes(), &value_bytes(v));
                head.field(NAMES[*n].as_bytes(), &value_bytes(v));
            }
            Field::Folded(more, tab) => {
                let mut line = b"X-Folded: a".to_vec();
                let mut value = b"a".to_vec();
                for v in more {
                    let v = value_bytes(v);
                    line.extend_from_slice(nl);
                    line.push(if *tab { b'\t' } else { b' ' });
                    line.extend_from_slice(&v);
                    // libcurl joins the lines with one space; a line of
                    // blanks adds nothing but that space.
                    let v = trim_blanks(&v);
                    value.push(b' ');
                    value.extend_from_slice(v);
                }
                head.lines.push(line);
                head.fields
                    .push((b"X-Folded".to_vec(), trim_blanks(&value).to_vec()));
                // What a fold of blanks alone becomes is libcurl's detail.
                sure &= more
                    .iter()
                    .all(|v| !trim_blanks(&value_bytes(v)).is_empty());
            }
            Field::StatusShaped => head.field(b"HTTP/1.1 200 OK", b"x"),
            Field::SpaceBeforeColon => {
                head.lines.push(b"X-Spaced : v".to_vec());
                head.fields.push((b"X-Spaced ".to_vec(), b"v".to_vec()));
            }
            Field::EmptyName => head.field(b"", b"v"),
            Field::Connection(close) => {
                let v: &[u8] = if *close { b"close" } else { b"keep-alive" };
                head.field(b"Connection", v);
            }
            Field::Nul => {
                head.lines.push(b"X-Nul: a\0b".to_vec());
                sure = false;
            }
            Field::BareCr => {
                head.lines.push(b"X-Cr: a\rb".to_vec());
                sure = false;
            }
            Field::NoColon => {
                head.lines.push(b"no colon here".to_vec());
                sure = false;
            }
            Field::Huge(n) => {
                let mut l = b"X-Huge: ".to_vec();
                l.extend(std::iter::repeat_n(b'h', *n));
                head.lines.push(l);
                sure = false;
            }
        }
    }
    match r.location {
        None => {}
        Some(Location::Next { absolute }) => {
            let p = path(id, next);
            let url = if absolute {
                format!("http://127.0.0.1:{port}{p}")
            } else {
                p
            };
            head.field(b"Location", url.as_bytes());
        }
        Some(Location::Itself) => head.field(b"Location", path(id, hop).as_bytes()),
        Some(Location::Scheme(s)) => head.field(b"Location", s.as_bytes()),
        Some(Location::Empty) => head.field(b"Location", b""),
        Some(Location::Blanks) => head.field(b"Location", b" \t "),
    }
    if let Some(ce) = content_encoding {
        head.field(b"Content-Encoding", ce.as_bytes());
    }

    // Framing: its fields, the bytes after the header block, and the body
    // a success must save.
    let chunked = matches!(r.framing, Framing::Chunked(..) | Framing::ChunkedWithLength);
    let mut saved = content.clone();
    let mut cut_short = false; // the framing promises more than is sent
    let mut payload = encoded.clone();
    let mut estimate = -1; // unknown
    match r.framing {
        Framing::Length(l) => {
            let n = encoded.len();
            if matches!(l, Length::Exact | Length::TwoSame | Length::ListSame) {
                estimate = n as i64;
            }
            match l {
                Length::Exact => head.field(b"Content-Length", n.to_string().as_bytes()),
                Length::Shorter(k) => {
                    let declared = n.saturating_sub(k);
                    estimate = declared as i64;
                    head.field(b"Content-Length", declared.to_string().as_bytes());
                    // The body is what the length says; the rest is excess.
                    if r.encoding == Encoding::None || r.encoding == Encoding::Identity {
                        saved.truncate(declared);
                    } else if declared == 0 {
                        saved.clear();
                        broken_coding = false; // no byte of it is the body
                    } else {
                        truncated_stream = true;
                    }
                }
                Length::Longer(k) => {
                    head.field(b"Content-Length", (n + k).to_string().as_bytes());
                    cut_short = true;
                }
                Length::TwoSame => {
                    head.field(b"Content-Length", n.to_string().as_bytes());
                    head.field(b"Content-Length", n.to_string().as_bytes());
                }
                Length::ListSame => head.field(b"Content-Length", format!("{n}, {n}").as_bytes()),
                Length::TwoDifferent => {
                    head.field(b"Content-Length", n.to_string().as_bytes());
                    head.field(b"Content-Length", (n + 1).to_string().as_bytes());
                    sure = false;
                }
                Length::Garbage(g) => {
                    head.field(b"Content-Length", g.as_bytes());
                    sure = false;
                }
            }
        }
        Framing::Close => {}
        Framing::Chunked(style, piece) => {
            head.field(b"Transfer-Encoding", b"chunked");
            payload = chunk(&encoded, style, piece, &r.trailers);
            sure &= !matches!(style, Chunks::Huge | Chunks::Negative | Chunks::Garbage);
            cut_short = style == Chunks::NoLast;
            // HTTP/1.0 has no chunked encoding.
            sure &= r.version != Version::Http10;
        }
        Framing::ChunkedWithLength => {
            head.field(b"Transfer-Encoding", b"chunked");
            head.field(b"Content-Length", encoded.len().to_string().as_bytes());
            payload = chunk(&encoded, Chunks::Lower, 1000, &r.trailers);
            sure = false;
        }
    }
    // libcurl refuses a trailer without a colon (after the body).
    let bad_trailer =
        chunked && !cut_short && r.trailers.iter().any(|t| matches!(t, Trailer::NoColon(_)));
    header_bytes += head.lines.iter().map(|l| l.len() + nl.len()).sum::<usize>();
    sure &= header_bytes < 100_000;

    // A message that ends exactly where its bytes do leaves the connection
    // fit for the next request (libcurl reuses it). Any other says
    // `Connection: close`: libcurl checks a pooled connection at most once
    // a second, so bytes past what it read as the end (a Content-Length
    // that is too short, a body after a 204) would be the next case's
    // response.
    let clean_framing = match r.framing {
        Framing::Length(l) => matches!(l, Length::Exact | Length::TwoSame | Length::ListSame),
        Framing::Chunked(style, _) => !matches!(
            style,
            Chunks::Huge | Chunks::Negative | Chunks::Garbage | Chunks::NoLast
        ),
        Framing::Close | Framing::ChunkedWithLength => false,
    };
    let closes = r.fields.iter().any(|f| matches!(f, Field::Connection(_)));
    let clean = sure
        && clean_framing
        && !closes
        && r.ending == Ending::Complete
        && r.version == Version::Http11
        && matches!(code, Some(c) if c >= 200 && c != 204 && c != 304);
    if !clean {
        head.field(b"Connection", b"close");
    }
    for l in &head.lines {
        out.extend_from_slice(l);
        out.extend_from_slice(nl);
    }
    out.extend_from_slice(nl);
    let header_end = out.len();
    out.extend_from_slice(&payload);
    let total = out.len();

    // Where the response ends.
    let at = |permille: u16| (total * usize::from(permille) / 1000).min(total.saturating_sub(1));
    let (end, cut) = match r.ending {
        Ending::Complete if clean => (End::KeepAlive, total),
        Ending::Complete => (End::Close, total),
        Ending::Cut(p) => (End::Close, at(p)),
        Ending::Reset(p) => (End::Reset, at(p)),
        Ending::Stall(p) => (End::Stall, at(p)),
    };
    out.truncate(cut);

    // What the client must make of it.
    let identity = matches!(r.encoding, Encoding::None | Encoding::Identity);
    // libcurl reads no body after a 204 (nor a 304).
    if code == Some(204) {
        saved.clear();
        estimate = 0;
    } else if !identity {
        estimate = -1; // a Content-Length counts encoded bytes
    }
    let bodyless = matches!(code, Some(204 | 304));
    // libcurl reads a body to the connection's end without a length, or
    // with one over i64::MAX.
    if close_delimited(r.framing) && end != End::Stall {
        // The connection's end is the body's end (or, after a CR, the
        // header block's, for libcurl).
        let sent = if cut + 1 == header_end && !r.lf_only {
            0
        } else {
            cut.saturating_sub(header_end)
        };
        if identity {
            saved.truncate(sent);
        } else if sent == 0 {
            saved.clear();
        } else if cut < total {
            truncated_stream = true;
        }
    }
    let exact = r.framing == Framing::Length(Length::Exact);
    let shorter = matches!(r.framing, Framing::Length(Length::Shorter(_)));
    let want = match status {
        _ if !sure => Want::Unsure,
        Status::Malformed if r.ending == Ending::Complete => {
            Want::Error("NET_ERROR_PROTOCOL", None)
        }
        Status::Refused if r.ending == Ending::Complete => Want::Error("NET_ERROR_PROTOCOL", None),
        Status::Malformed | Status::Refused => Want::Unsure,
        // A 1xx other than 101 waits for a final response that never comes.
        Status::Code(c) if c < 200 && c != 101 => Want::Unsure,
        Status::Code(c) => {
            let follows = (300..400).contains(&c)
                && matches!(r.location, Some(Location::Itself | Location::Scheme(_)));
            let complete = r.ending == Ending::Complete;
            // libcurl reads no body after a 204 or 304, a 101's as it
            // comes, and none of a redirect it follows on a connection
            // that closes.
            let trailers_read = !bodyless && c != 101 && (!follows || end == End::KeepAlive);
            match r.ending {
                _ if bad_trailer && trailers_read && complete => {
                    Want::Error("NET_ERROR_PROTOCOL", Some(c))
                }
                _ if bad_trailer && trailers_read => Want::Unsure,
                // Encodings count only for the final response, and only
                // when it has a body (a 304 of a `br` resource is fine).
                _ if unknown_coding && !follows && !bodyless && complete => {
                    Want::Error("NET_ERROR_PROTOCOL", Some(c))
                }
                _ if unknown_coding && !follows && !bodyless => Want::Unsure,
                Ending::Complete
                    if (broken_coding || truncated_stream) && !follows && !bodyless && c != 101 =>
                {
                    if cut_short {
                        Want::AnyError // which of the two libcurl or netdl sees first
                    } else {
                        Want::Error("NET_ERROR_PROTOCOL", Some(c))
                    }
                }
                _ if follows && (!complete || cut_short) => Want::Unsure,
                _ if follows && r.location == Some(Location::Itself) => {
                    Want::Error("NET_ERROR_TOO_MANY_REDIRECTS", Some(c))
                }
                _ if follows => Want::Error("NET_ERROR_UNSUPPORTED_SCHEME", Some(c)),
                // libcurl takes a 101 it did not ask for as a final
                // response of its own kind.
                _ if c == 101 => Want::Unsure,
                // A 206 to a request for the whole file is not the file:
                // refused once its header block is in.
                _ if c == 206 && cut >= header_end => Want::Error("NET_ERROR_PROTOCOL", Some(c)),
                Ending::Complete if cut_short && !bodyless => {
                    Want::Error("NET_ERROR_NETWORK", Some(c))
                }
                Ending::Complete if cut_short => Want::Unsure,
                Ending::Complete if (200..300).contains(&c) => Want::Saved(c),
                Ending::Complete => Want::Kept(c),
                Ending::Stall(_) if cut < header_end => Want::Error("NET_ERROR_TIMEOUT", None),
                // libcurl takes a CR and the connection's end for the end
                // of the block.
                _ if cut + 1 == header_end && !r.lf_only => Want::Unsure,
                _ if cut < header_end => Want::AnyError,
                _ if bodyless || c == 101 => Want::Unsure,
                Ending::Cut(_) if truncated_stream && close_delimited(r.framing) && !follows => {
                    Want::Error("NET_ERROR_PROTOCOL", Some(c))
                }
                _ if broken_coding || truncated_stream => Want::Unsure,
                // Short of what the framing promises: the client waits.
                Ending::Stall(_) if !shorter => Want::Error("NET_ERROR_TIMEOUT", Some(c)),
                Ending::Cut(_) | Ending::Reset(_) if exact => {
                    Want::Error("NET_ERROR_NETWORK", Some(c))
                }
                Ending::Cut(_) if close_delimited(r.framing) => {
                    if (200..300).contains(&c) {
                        Want::Saved(c)
                    } else {
                        Want::Kept(c)
                    }
                }
                _ => Want::Unsure,
            }
        }
    };
    // A redirect of the chain is sure when it is followed as such.
    let sure_hop = sure && r.ending == Ending::Complete && !cut_short;
    let other_scheme = matches!(r.location, Some(Location::Scheme(_)))
        && code.is_some_and(|c| (300..400).contains(&c));
    One {
        script: Script { bytes: out, end },
        other_scheme,
        sure: sure_hop,
        want,
        body: saved,
        fields: head.fields,
        estimate,
    }
}

/// A header block being written, and its fields as the client must
/// report them.
#[derive(Default)]
struct Head {
    lines: Vec<Vec<u8>>,
    fields: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Head {
    /// `name: value`, reported with the value's blanks trimmed.
    fn field(&mut self, name: &[u8], value: &[u8]) {
        let mut l = name.to_vec();
        l.extend_from_slice(b": ");
        l.extend_from_slice(value);
        self.lines.push(l);
        self.fields
            .push((name.to_vec(), trim_blanks(value).to_vec()));
    }
}

/// What libcurl and netdl make of a status line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Code(u16),
    /// libcurl refuses it as an unsupported HTTP version or status code:
    /// NET_ERROR_PROTOCOL.
    Refused,
    /// Not a status line, or one libcurl reads as a 200 by leniency
    /// (`http/1.1 404`): NET_ERROR_PROTOCOL.
    Malformed,
}

fn status_of(version: Version, code: Code) -> Status {
    match version {
        Version::Http11 | Version::Http10 | Version::Odd("HTTP/1.1\t") => match code {
            Code::Num(c) => Status::Code(c),
            // libcurl reads three digits and what follows is the reason.
            Code::Odd("2000") => Status::Code(200),
            Code::Odd(_) => Status::Refused,
        },
        Version::Odd("HTTP/1.2" | "HTTP/0.9" | "HTTP/1.1 " | "HTTP/") => Status::Refused,
        Version::Odd(_) => Status::Malformed,
    }
}

fn value_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::Ascii(s) => s.as_bytes().to_vec(),
        Value::High(b) | Value::Controls(b) => b.clone(),
        Value::Empty => Vec::new(),
        Value::Blanks => b" \t  ".to_vec(),
        Value::Long(n) => (0..*n).map(|i| b'a' + (i % 26) as u8).collect(),
    }
}

/// Without leading and trailing spaces and tabs.
pub fn trim_blanks(s: &[u8]) -> &[u8] {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = s.iter().position(|b| !blank(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !blank(b)).map_or(start, |i| i + 1);
    &s[start..end]
}

/// Deterministic pseudo-random bytes (xorshift64*).
pub fn body(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The bytes sent for `content` under `encoding`, the Content-Encoding
/// value, and whether a client must decode them back to `content`.
fn encode(content: &[u8], encoding: Encoding) -> (Vec<u8>, Option<&'static str>, bool) {
    match encoding {
        Encoding::None => (content.to_vec(), None, true),
        Encoding::Identity => (content.to_vec(), Some("identity"), true),
        Encoding::Gzip => (gzip(content), Some("gzip"), true),
        Encoding::XGzip => (gzip(content), Some("x-gzip"), true),
        Encoding::Deflate => (zlib(content), Some("deflate"), true),
        Encoding::GzipThenDeflate => (zlib(&gzip(content)), Some("gzip, deflate"), true),
        Encoding::BadCrc => {
            let mut g = gzip(content);
            let crc = g.len() - 8;
            g[crc] ^= 0x55;
            (g, Some("gzip"), false)
        }
        Encoding::Truncated => {
            let mut g = gzip(content);
            g.truncate(g.len() - 6);
            (g, Some("gzip"), false)
        }
        Encoding::BadDeflate => {
            let mut z = vec![0x78, 0x9c];
            z.extend_from_slice(&body(content.len().max(16), 99));
            (z, Some("deflate"), false)
        }
        Encoding::Unknown(name) => (content.to_vec(), Some(name), false),
    }
}

/// `data` in chunks of `piece` bytes written in `style`, the last chunk
/// and `trailers`.
fn chunk(data: &[u8], style: Chunks, piece: usize, trailers: &[Trailer]) -> Vec<u8> {
    let nl: &[u8] = if style == Chunks::LfOnly {
        b"\n"
    } else {
        b"\r\n"
    };
    let mut out = Vec::new();
    match style {
        Chunks::Huge => out.extend_from_slice(b"1ffffffffffffffff\r\n"),
        Chunks::Negative => out.extend_from_slice(b"-5\r\n"),
        Chunks::Garbage => out.extend_from_slice(b"zz\r\n"),
        _ => {}
    }
    for p in data.chunks(piece.max(1)) {
        let size = match style {
            Chunks::Upper => format!("{:X}", p.len()),
            Chunks::LeadingZeros => format!("000{:x}", p.len()),
            Chunks::Extension => format!("{:x};name=value;q=\"a b\"", p.len()),
            _ => format!("{:x}", p.len()),
        };
        out.extend_from_slice(size.as_bytes());
        out.extend_from_slice(nl);
        out.extend_from_slice(p);
        out.extend_from_slice(nl);
    }
    if style == Chunks::NoLast {
        return out;
    }
    out.push(b'0');
    out.extend_from_slice(nl);
    for t in trailers {
        let line: &[u8] = match t {
            Trailer::Field => b"X-Checksum: abc",
            Trailer::StatusShaped(true) => b"HTTP/1.1 200 OK: x",
            Trailer::StatusShaped(false) => b"HTTP/1.1 500 Oops: y",
            Trailer::BlankStatus => b" HTTP/1.1 200 OK: x",
            Trailer::NoColon(false) => b"no colon",
            Trailer::NoColon(true) => b" HTTP/1.1 200 OK",
        };
        out.extend_from_slice(line);
        out.extend_from_slice(nl);
    }
    out.extend_from_slice(nl);
    out
}

/// gzip (RFC 1952) of `data` in stored deflate blocks.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    out.extend_from_slice(&stored_deflate(data));
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// zlib (RFC 1950) of `data` in stored deflate blocks.
pub fn zlib(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    out.extend_from_slice(&stored_deflate(data));
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

/// Deflate (RFC 1951) with stored blocks only: valid, and simple.
fn stored_deflate(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 65535 * 5 + 5);
    if data.is_empty() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    let mut blocks = data.chunks(65535).peekable();
    while let Some(b) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        let len = b.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(b);
    }
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}
