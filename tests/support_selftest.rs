//! The test support code itself, checked with requests written by hand over
//! std sockets (no netdl): the asset server's validators, ranges,
//! conditional requests, gzip, byte counts and every scripted fault; the
//! proxy's forwarding, CONNECT tunnel and loopback-only rule; nginx.

mod support;

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use support::{body, sha256_hex, Asset, Fault, Nginx, Proxy, Server};

/// How a response's body ended.
#[derive(Debug, PartialEq)]
enum End {
    Complete,
    /// The peer closed (FIN) before the body was complete.
    Eof,
    Reset,
    Timeout,
}

#[derive(Debug)]
struct Resp {
    /// 0 when the connection ended before a status line.
    status: u16,
    headers: Vec<(String, String)>,
    /// The body as it came (chunked framing removed).
    body: Vec<u8>,
    end: End,
    /// Every byte of the response as received.
    raw: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One client connection, reading responses by hand.
struct Client<S> {
    s: S,
    buf: Vec<u8>,
    raw: Vec<u8>,
}

fn connect(port: u16) -> Client<TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    Client::new(s)
}

impl<S: Read + Write> Client<S> {
    fn new(s: S) -> Client<S> {
        Client {
            s,
            buf: Vec::new(),
            raw: Vec::new(),
        }
    }

    /// Reads more into `buf`; how the stream ended otherwise.
    fn fill(&mut self) -> Result<(), End> {
        let mut chunk = [0u8; 65536];
        match self.s.read(&mut chunk) {
            Ok(0) => Err(End::Eof),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Err(End::Reset),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(End::Timeout)
            }
            Err(e) => panic!("read: {e}"),
        }
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        let out: Vec<u8> = self.buf.drain(..n).collect();
        self.raw.extend_from_slice(&out);
        out
    }

    fn line(&mut self) -> Result<String, End> {
        loop {
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let l = self.take(p + 2);
                return Ok(String::from_utf8(l[..p].to_vec()).unwrap());
            }
            self.fill()?;
        }
    }

    /// Sends `method target` with the extra header lines and the body.
    fn send(&mut self, method: &str, target: &str, extra: &[(&str, &str)], body: &[u8]) {
        let mut req = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (k, v) in extra {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        self.s.write_all(req.as_bytes()).unwrap();
        self.s.write_all(body).unwrap();
        self.s.flush().unwrap();
    }

    fn get(&mut self, target: &str, extra: &[(&str, &str)]) -> Resp {
        self.send("GET", target, extra, b"");
        self.response(false)
    }

    fn head(&mut self, target: &str, extra: &[(&str, &str)]) -> Resp {
        self.send("HEAD", target, extra, b"");
        self.response(true)
    }

    /// Reads one response (no body for HEAD, 204 and 304).
    fn response(&mut self, to_head: bool) -> Resp {
        self.raw.clear();
        let mut r = Resp {
            status: 0,
            headers: Vec::new(),
            body: Vec::new(),
            end: End::Complete,
            raw: Vec::new(),
        };
        if let Err(end) = self.read_response(&mut r, to_head) {
            r.end = end;
        }
        r.raw = std::mem::take(&mut self.raw);
        r
    }

    fn read_response(&mut self, r: &mut Resp, to_head: bool) -> Result<(), End> {
        let status_line = self.line()?;
        r.status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        loop {
            let l = self.line()?;
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').unwrap();
            r.headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        if to_head || matches!(r.status, 204 | 304) {
            return Ok(());
        }
        if r.header("transfer-encoding") == Some("chunked") {
            loop {
                let size = usize::from_str_radix(&self.line()?, 16).unwrap();
                while self.buf.len() < size + 2 {
                    self.fill()?;
                }
                let chunk = self.take(size + 2);
                r.body.extend_from_slice(&chunk[..size]);
                if size == 0 {
                    return Ok(());
                }
            }
        }
        let len: Option<usize> = r.header("content-length").map(|v| v.parse().unwrap());
        loop {
            let want = len.unwrap_or(usize::MAX) - r.body.len();
            let n = want.min(self.buf.len());
            let piece = self.take(n);
            r.body.extend_from_slice(&piece);
            if Some(r.body.len()) == len {
                return Ok(());
            }
            match (self.fill(), len) {
                (Err(End::Eof), None) => return Ok(()),
                (Err(end), _) => return Err(end),
                (Ok(()), _) => {}
            }
        }
    }
}

const LEN: usize = 200_000;

/// A server holding `body(LEN, 1)` at /a.bin.
fn asset_server() -> (Server, Vec<u8>) {
    let server = Server::start();
    let data = body(LEN, 1);
    server.put("/a.bin", Asset::new(data.clone()));
    (server, data)
}

fn content_range(r: &Resp) -> &str {
    r.header("content-range").unwrap_or("")
}

#[test]
fn asset_defaults() {
    let a = Asset::new(b"abc".to_vec());
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(a.etag.as_deref(), Some("\"ba7816bf8f01cfea\""));
    assert_eq!(
        a.last_modified.as_deref(),
        Some("Wed, 21 Oct 2015 07:28:00 GMT")
    );
    assert!(a.ranges && !a.gzip);
}

/// Rule: GET and HEAD of an asset carry its validators; HEAD has no body;
/// a query string is ignored; other methods get 405; keep-alive holds.
#[test]
fn get_and_head() {
    let (server, data) = asset_server();
    let etag = Asset::new(data.clone()).etag.unwrap();
    let mut c = connect(server.port());
    let r = c.get("/a.bin?cache=1", &[]);
    assert_eq!((r.status, &r.end), (200, &End::Complete));
    assert_eq!(r.body, data);
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(
        r.header("last-modified"),
        Some("Wed, 21 Oct 2015 07:28:00 GMT")
    );
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("content-length"), Some("200000"));
    assert_eq!(r.header("content-encoding"), None);

    let h = c.head("/a.bin", &[]);
    assert_eq!(h.status, 200);
    assert_eq!(h.headers, r.headers);
    c.send("POST", "/a.bin", &[], b"xyz");
    let p = c.response(false);
    assert_eq!((p.status, p.header("allow")), (405, Some("GET, HEAD")));
    // The HEAD sent no body: the connection still reads in step.
    let again = c.get("/a.bin", &[]);
    assert_eq!((again.status, again.body.len()), (200, LEN));

    assert_eq!(server.body_bytes_sent("/a.bin"), 2 * LEN as u64);
    let methods: Vec<String> = server
        .requests_to("/a.bin")
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        methods,
        [
            "GET /a.bin?cache=1",
            "HEAD /a.bin",
            "POST /a.bin",
            "GET /a.bin"
        ]
    );
    assert_eq!(server.body_bytes_sent("/other"), 0);
    assert!(server.requests_to("/other").is_empty());
    // Paths without an asset are the usual routes.
    assert_eq!(c.get("/text/3", &[]).body, b"abc");
}

/// Rule: one range per request: N-, N-M (M clamped), -S; N past the end is
/// 416 with `*/LEN`; several ranges, a malformed one, HEAD, or an asset
/// without ranges: 200 with everything. body_bytes_sent counts exactly.
#[test]
fn ranges() {
    let (server, data) = asset_server();
    let mut c = connect(server.port());
    let mut sent = 0u64;
    let mut check = |r: &Resp, status: u16, cr: &str, want: &[u8]| {
        assert_eq!(
            (r.status, content_range(r), &r.end),
            (status, cr, &End::Complete)
        );
        assert_eq!(r.body, want);
        sent += want.len() as u64;
        assert_eq!(server.body_bytes_sent("/a.bin"), sent);
    };
    let r = c.get("/a.bin", &[("Range", "bytes=150000-")]);
    check(&r, 206, "bytes 150000-199999/200000", &data[150_000..]);
    assert_eq!(r.header("content-length"), Some("50000"));
    let r = c.get("/a.bin", &[("Range", "bytes=10-19")]);
    check(&r, 206, "bytes 10-19/200000", &data[10..20]);
    let r = c.get("/a.bin", &[("Range", "bytes=199990-300000")]);
    check(&r, 206, "bytes 199990-199999/200000", &data[199_990..]);
    let r = c.get("/a.bin", &[("Range", "bytes=-5")]);
    check(&r, 206, "bytes 199995-199999/200000", &data[199_995..]);
    let r = c.get("/a.bin", &[("Range", "bytes=199999-")]);
    check(&r, 206, "bytes 199999-199999/200000", &data[199_999..]);
    let r = c.get("/a.bin", &[("Range", "bytes=200000-")]);
    check(&r, 416, "bytes */200000", b"");
    assert_eq!(r.header("content-length"), Some("0"));
    let r = c.get("/a.bin", &[("Range", "bytes=0-9,20-29")]);
    check(&r, 200, "", &data);
    let r = c.get("/a.bin", &[("Range", "bytes=20-10")]);
    check(&r, 200, "", &data);
    let r = c.get("/a.bin", &[("Range", "items=0-9")]);
    check(&r, 200, "", &data);
    let r = c.head("/a.bin", &[("Range", "bytes=10-")]);
    check(&r, 200, "", b"");

    let mut plain = Asset::new(data.clone());
    plain.ranges = false;
    server.put("/a.bin", plain);
    let r = c.get("/a.bin", &[("Range", "bytes=10-")]);
    check(&r, 200, "", &data);
    assert_eq!(r.header("accept-ranges"), None);
}

/// Rule: If-Range honours the range only for the current strong ETag or
/// the exact Last-Modified; a weak tag never matches.
#[test]
fn if_range() {
    let (server, data) = asset_server();
    let etag = Asset::new(data.clone()).etag.unwrap();
    let weak = format!("W/{etag}");
    let mut c = connect(server.port());
    let mut ask = |if_range: &str| {
        let r = c.get("/a.bin", &[("Range", "bytes=100-"), ("If-Range", if_range)]);
        assert_eq!(r.end, End::Complete);
        if r.status == 206 {
            assert_eq!(r.body, &data[100..]);
        } else {
            assert_eq!(r.body, data);
        }
        r.status
    };
    assert_eq!(ask(&etag), 206);
    assert_eq!(ask("\"other\""), 200);
    assert_eq!(ask(&weak), 200);
    assert_eq!(ask("Wed, 21 Oct 2015 07:28:00 GMT"), 206);
    assert_eq!(ask("Wed, 21 Oct 2015 07:28:01 GMT"), 200);

    // A weak ETag on the asset: even the same weak tag does not match.
    let mut a = Asset::new(data.clone());
    a.etag = Some("W/\"v1\"".into());
    server.put("/a.bin", a);
    assert_eq!(ask("W/\"v1\""), 200);
    assert_eq!(ask("\"v1\""), 200);
}

/// Rule: If-None-Match (weak comparison, lists, `*`) and, without it,
/// If-Modified-Since at or after Last-Modified answer 304 with the
/// validators and no body.
#[test]
fn conditional_requests() {
    let (server, data) = asset_server();
    let etag = Asset::new(data.clone()).etag.unwrap();
    let weak = format!("W/{etag}");
    let list = format!("\"a\", {weak}, \"b\"");
    let mut c = connect(server.port());
    let mut status = |h: &[(&str, &str)]| {
        let r = c.get("/a.bin", h);
        assert_eq!(r.end, End::Complete);
        match r.status {
            304 => {
                assert!(r.body.is_empty());
                assert_eq!(r.header("etag"), Some(etag.as_str()));
                assert_eq!(r.header("content-length"), None);
            }
            _ => assert_eq!(r.body, data),
        }
        r.status
    };
    assert_eq!(status(&[("If-None-Match", &etag)]), 304);
    assert_eq!(status(&[("If-None-Match", &weak)]), 304);
    assert_eq!(status(&[("If-None-Match", &list)]), 304);
    assert_eq!(status(&[("If-None-Match", "*")]), 304);
    assert_eq!(status(&[("If-None-Match", "\"nope\"")]), 200);
    let lm = "Wed, 21 Oct 2015 07:28:00 GMT";
    assert_eq!(status(&[("If-Modified-Since", lm)]), 304);
    let later = "Thu, 01 Jan 2026 00:00:00 GMT";
    assert_eq!(status(&[("If-Modified-Since", later)]), 304);
    let earlier = "Wed, 21 Oct 2015 07:27:59 GMT";
    assert_eq!(status(&[("If-Modified-Since", earlier)]), 200);
    // If-None-Match wins over If-Modified-Since.
    let both = [("If-None-Match", "\"nope\""), ("If-Modified-Since", lm)];
    assert_eq!(status(&both), 200);
    // A 304 wins over a Range.
    let ranged = [("If-None-Match", etag.as_str()), ("Range", "bytes=5-")];
    assert_eq!(status(&ranged), 304);
    assert_eq!(server.body_bytes_sent("/a.bin"), 3 * LEN as u64);
}

/// Rule: gzip only when asked for (and not refused with q=0), with the
/// encoded length and no ranges.
#[test]
fn gzip() {
    let server = Server::start();
    let data: Vec<u8> = (0..100_000u32).map(|i| b"netdl "[i as usize % 6]).collect();
    let mut a = Asset::new(data.clone());
    a.gzip = true;
    server.put("/t.txt", a);
    let mut c = connect(server.port());

    let r = c.get("/t.txt", &[("Range", "bytes=10-")]);
    assert_eq!((r.status, r.header("content-encoding")), (206, None));
    assert_eq!(r.body, &data[10..]);
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    let mut sent = (data.len() - 10) as u64;

    for ae in ["gzip", "deflate, gzip;q=0.5", "GZIP"] {
        let r = c.get("/t.txt", &[("Accept-Encoding", ae), ("Range", "bytes=10-")]);
        assert_eq!(
            (r.status, r.header("content-encoding")),
            (200, Some("gzip"))
        );
        assert_eq!(r.header("accept-ranges"), None);
        assert_eq!(r.header("content-length"), Some(&*r.body.len().to_string()));
        assert!(r.body.len() < data.len() / 10, "{}", r.body.len());
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&r.body[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, data);
        sent += r.body.len() as u64;
    }
    let r = c.get("/t.txt", &[("Accept-Encoding", "gzip;q=0, identity")]);
    assert_eq!((r.status, r.header("content-encoding")), (200, None));
    assert_eq!(r.body, data);
    sent += data.len() as u64;
    assert_eq!(server.body_bytes_sent("/t.txt"), sent);
}

/// Rule: CutAt sends the headers and the body up to the offset, then FIN;
/// counts exactly; the next request is served normally.
#[test]
fn fault_cut_at() {
    let (server, data) = asset_server();
    server.script("/a.bin", vec![Fault::CutAt(100_000), Fault::CutAt(150_000)]);
    let r = connect(server.port()).get("/a.bin", &[]);
    assert_eq!((r.status, &r.end), (200, &End::Eof));
    assert_eq!(r.header("content-length"), Some("200000"));
    assert_eq!(r.body, &data[..100_000]);
    assert_eq!(server.body_bytes_sent("/a.bin"), 100_000);
    let r = connect(server.port()).get("/a.bin", &[("Range", "bytes=100000-")]);
    assert_eq!((r.status, &r.end), (206, &End::Eof));
    assert_eq!(content_range(&r), "bytes 100000-199999/200000");
    assert_eq!(r.body, &data[100_000..150_000]);
    assert_eq!(server.body_bytes_sent("/a.bin"), 150_000);
    let r = connect(server.port()).get("/a.bin", &[]);
    assert_eq!((r.status, &r.end, r.body.len()), (200, &End::Complete, LEN));
    assert_eq!(server.body_bytes_sent("/a.bin"), 350_000);
}

/// Rule: the cut is exact in a large body too.
#[test]
fn fault_cut_at_large() {
    let server = Server::start();
    let data = body(8 << 20, 2);
    server.put("/big", Asset::new(data.clone()));
    server.script("/big", vec![Fault::CutAt(5_000_001)]);
    let r = connect(server.port()).get("/big", &[]);
    assert_eq!((r.status, &r.end), (200, &End::Eof));
    assert!(r.body == data[..5_000_001]);
    assert_eq!(server.body_bytes_sent("/big"), 5_000_001);
}

/// Rule: ResetAt ends the connection with RST after the offset.
#[test]
fn fault_reset_at() {
    let (server, data) = asset_server();
    server.script("/a.bin", vec![Fault::ResetAt(10_000)]);
    let r = connect(server.port()).get("/a.bin", &[]);
    assert_eq!((r.status, &r.end), (200, &End::Reset));
    assert_eq!(r.body, &data[..10_000]);
    assert_eq!(server.body_bytes_sent("/a.bin"), 10_000);
}

/// Rule: Status answers the status with Retry-After when given, on a
/// connection that stays usable; one fault per request, then normal.
#[test]
fn fault_status() {
    let (server, data) = asset_server();
    server.script(
        "/a.bin",
        vec![
            Fault::Status(503, Some("7".into())),
            Fault::Status(500, None),
            Fault::None,
            Fault::Status(429, Some("Wed, 21 Oct 2015 07:28:00 GMT".into())),
        ],
    );
    let mut c = connect(server.port());
    let r = c.get("/a.bin", &[]);
    assert_eq!((r.status, r.header("retry-after")), (503, Some("7")));
    assert_eq!(r.body, b"status 503\n");
    let r = c.get("/a.bin", &[]);
    assert_eq!((r.status, r.header("retry-after")), (500, None));
    assert_eq!(c.get("/a.bin", &[]).body, data);
    let r = c.head("/a.bin", &[]);
    assert_eq!(
        (r.status, r.header("retry-after")),
        (429, Some("Wed, 21 Oct 2015 07:28:00 GMT"))
    );
    assert_eq!(c.get("/a.bin", &[]).body, data);
    assert_eq!(server.requests_to("/a.bin").len(), 5);
}

/// Rule: Close reads the request and closes without a byte.
#[test]
fn fault_close() {
    let (server, _) = asset_server();
    server.script("/a.bin", vec![Fault::Close]);
    let r = connect(server.port()).get("/a.bin", &[]);
    assert_eq!((r.status, &r.end, r.raw.len()), (0, &End::Eof, 0));
    assert_eq!(server.requests_to("/a.bin").len(), 1);
    assert_eq!(connect(server.port()).get("/a.bin", &[]).status, 200);
}

/// Rule: StallAt sends up to the offset and then nothing, until the server
/// stops (which is then prompt).
#[test]
fn fault_stall_at() {
    let (server, data) = asset_server();
    server.script("/a.bin", vec![Fault::StallAt(1000)]);
    let mut c = connect(server.port());
    c.s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let r = c.get("/a.bin", &[]);
    assert_eq!((r.status, &r.end), (200, &End::Timeout));
    assert_eq!(r.body, &data[..1000]);
    let start = Instant::now();
    drop(server);
    assert!(start.elapsed() < Duration::from_secs(1));
}

/// Rule: IgnoreRange answers 200 with everything to a valid Range.
#[test]
fn fault_ignore_range() {
    let (server, data) = asset_server();
    server.script("/a.bin", vec![Fault::IgnoreRange]);
    let mut c = connect(server.port());
    let r = c.get("/a.bin", &[("Range", "bytes=100-")]);
    assert_eq!((r.status, content_range(&r)), (200, ""));
    assert_eq!(r.body, data);
    assert_eq!(c.get("/a.bin", &[("Range", "bytes=100-")]).status, 206);
}

/// Rule: ContentRangeOffset moves the start of the 206 (header and bytes).
#[test]
fn fault_content_range_offset() {
    let (server, data) = asset_server();
    server.script(
        "/a.bin",
        vec![
            Fault::ContentRangeOffset(-10),
            Fault::ContentRangeOffset(10),
            Fault::ContentRangeOffset(5),
        ],
    );
    let mut c = connect(server.port());
    let r = c.get("/a.bin", &[("Range", "bytes=1000-")]);
    assert_eq!(
        (r.status, content_range(&r)),
        (206, "bytes 990-199999/200000")
    );
    assert_eq!(r.body, &data[990..]);
    let r = c.get("/a.bin", &[("Range", "bytes=1000-1999")]);
    assert_eq!(
        (r.status, content_range(&r)),
        (206, "bytes 1010-1999/200000")
    );
    assert_eq!(r.body, &data[1010..2000]);
    let r = c.get("/a.bin", &[]);
    assert_eq!(
        (r.status, content_range(&r)),
        (206, "bytes 5-199999/200000")
    );
    assert_eq!(r.body, &data[5..]);
}

/// Rule: ContentRangeTotal lies about the total only.
#[test]
fn fault_content_range_total() {
    let (server, data) = asset_server();
    server.script("/a.bin", vec![Fault::ContentRangeTotal(999_999)]);
    let r = connect(server.port()).get("/a.bin", &[("Range", "bytes=1000-1999")]);
    assert_eq!(
        (r.status, content_range(&r)),
        (206, "bytes 1000-1999/999999")
    );
    assert_eq!(r.body, &data[1000..2000]);
}

/// Rule: Answer416 answers 416 `*/LEN` to any request.
#[test]
fn fault_answer_416() {
    let (server, _) = asset_server();
    server.script("/a.bin", vec![Fault::Answer416, Fault::Answer416]);
    let mut c = connect(server.port());
    for range in ["bytes=0-", "bytes=5-9"] {
        let r = c.get("/a.bin", &[("Range", range)]);
        assert_eq!((r.status, content_range(&r)), (416, "bytes */200000"));
        assert!(r.body.is_empty());
    }
    assert_eq!(server.body_bytes_sent("/a.bin"), 0);
}

/// Rule: Replace swaps data and validators for this request and the next.
#[test]
fn fault_replace() {
    let (server, data) = asset_server();
    let old_tag = Asset::new(data).etag.unwrap();
    let mut new = Asset::new(body(1234, 9));
    new.last_modified = Some("Thu, 01 Jan 2026 00:00:00 GMT".into());
    server.script("/a.bin", vec![Fault::Replace(new.clone())]);
    let mut c = connect(server.port());
    let r = c.get("/a.bin", &[("Range", "bytes=10-"), ("If-Range", &old_tag)]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, *new.data);
    assert_eq!(r.header("etag"), new.etag.as_deref());
    assert_eq!(
        r.header("last-modified"),
        Some("Thu, 01 Jan 2026 00:00:00 GMT")
    );
    assert_eq!(c.get("/a.bin", &[]).body, *new.data);
}

/// Rule: Delay waits, then serves normally.
#[test]
fn fault_delay() {
    let (server, data) = asset_server();
    server.script("/a.bin", vec![Fault::Delay(Duration::from_millis(300))]);
    let start = Instant::now();
    let r = connect(server.port()).get("/a.bin", &[]);
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!((r.status, r.body), (200, data));
}

/// Rule: the proxy forwards absolute-form requests in origin-form with
/// Via and without Proxy-* headers, relays responses byte for byte
/// (lengths, chunked, HEAD, 304, request bodies) on a kept-alive client
/// connection, and passes cuts on.
#[test]
fn proxy_forwards_http() {
    let (server, data) = asset_server();
    let proxy = Proxy::start();
    assert_eq!(proxy.url(), format!("http://127.0.0.1:{}", proxy.port()));
    let mut c = connect(proxy.port());

    let r = c.get(
        &server.url("/echo?x=1"),
        &[
            ("Proxy-Authorization", "Basic dTpw"),
            ("Proxy-Connection", "keep-alive"),
            ("X-Test", "1"),
        ],
    );
    let echo = String::from_utf8(r.body).unwrap();
    assert!(echo.starts_with("GET /echo?x=1\n"), "{echo}");
    for line in [
        "X-Test: 1",
        "Via: 1.1 netdl-test-proxy",
        "Connection: close",
    ] {
        assert!(echo.lines().any(|l| l == line), "{line} in {echo}");
    }
    assert!(!echo.to_ascii_lowercase().contains("proxy-"), "{echo}");

    let direct = connect(server.port()).get("/a.bin", &[]);
    let via = c.get(&server.url("/a.bin"), &[]);
    assert_eq!(via.end, End::Complete);
    assert!(via.raw == direct.raw, "relayed byte for byte");
    assert_eq!(via.body, data);
    let h = c.head(&server.url("/a.bin"), &[]);
    assert_eq!((h.status, h.raw.len()), (200, direct.raw.len() - LEN));
    let tag = direct.header("etag").unwrap();
    assert_eq!(
        c.get(&server.url("/a.bin"), &[("If-None-Match", tag)])
            .status,
        304
    );
    let chunked = c.get(&server.url("/chunked/20000"), &[]);
    assert_eq!(chunked.header("transfer-encoding"), Some("chunked"));
    assert_eq!(chunked.body, body(20000, 0));
    c.send("POST", &server.url("/echo"), &[], b"hello");
    assert!(c.response(false).body.ends_with(b"\n\nhello"));

    server.script("/a.bin", vec![Fault::CutAt(5000)]);
    let cut = c.get(&server.url("/a.bin"), &[]);
    assert_eq!((cut.status, &cut.end), (200, &End::Eof));
    assert_eq!(cut.body, &data[..5000]);

    let port = server.port();
    let lines: Vec<String> = [
        "GET http://127.0.0.1:{P}/echo?x=1",
        "GET http://127.0.0.1:{P}/a.bin",
        "HEAD http://127.0.0.1:{P}/a.bin",
        "GET http://127.0.0.1:{P}/a.bin",
        "GET http://127.0.0.1:{P}/chunked/20000",
        "POST http://127.0.0.1:{P}/echo",
        "GET http://127.0.0.1:{P}/a.bin",
    ]
    .iter()
    .map(|l| format!("{} HTTP/1.1", l.replace("{P}", &port.to_string())))
    .collect();
    assert_eq!(proxy.requests(), lines);
    // The origin saw origin-form requests.
    assert_eq!(server.requests_to("/a.bin")[1].path, "/a.bin");
}

/// Rule: CONNECT to a loopback port answers 200 and then carries a TLS
/// session to the HTTPS test server.
#[test]
fn proxy_connect_tunnels_tls() {
    use openssl::ssl::{SslConnector, SslMethod};
    let server = Server::start_tls();
    let data = body(100_000, 3);
    server.put("/s.bin", Asset::new(data.clone()));
    let proxy = Proxy::start();
    let mut s = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let target = format!("127.0.0.1:{}", server.port());
    write!(s, "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").unwrap();
    let want = b"HTTP/1.1 200 Connection established\r\n\r\n";
    let mut got = vec![0u8; want.len()];
    s.read_exact(&mut got).unwrap();
    assert_eq!(got, want);

    let mut b = SslConnector::builder(SslMethod::tls()).unwrap();
    b.set_ca_file(server.ca_pem_path().unwrap()).unwrap();
    let tls = b.build().connect("127.0.0.1", s).unwrap();
    let mut c = Client::new(tls);
    let r = c.get("/s.bin", &[("Range", "bytes=10-")]);
    assert_eq!((r.status, &r.end), (206, &End::Complete));
    assert_eq!(r.body, &data[10..]);
    assert_eq!(proxy.requests(), [format!("CONNECT {target} HTTP/1.1")]);
}

/// Rule: a target other than 127.0.0.1, ::1 or localhost gets a 403 and
/// no connection attempt (a listener on 127.0.0.2 sees none).
#[test]
fn proxy_refuses_other_hosts() {
    let other = TcpListener::bind("127.0.0.2:0").unwrap();
    other.set_nonblocking(true).unwrap();
    let addr = other.local_addr().unwrap();
    let proxy = Proxy::start();
    let r = connect(proxy.port()).get(&format!("http://{addr}/x"), &[]);
    assert_eq!(r.status, 403);
    let r = connect(proxy.port()).get("http://example.com/x", &[]);
    assert_eq!(r.status, 403);
    let mut c = connect(proxy.port());
    c.send("CONNECT", &addr.to_string(), &[], b"");
    assert_eq!(c.response(true).status, 403);
    assert_eq!(
        other.accept().unwrap_err().kind(),
        io::ErrorKind::WouldBlock,
        "no connection reached 127.0.0.2"
    );
    assert_eq!(proxy.requests().len(), 3);

    // localhost is allowed, and an origin that is not there gives 502.
    let refused = support::refused_url().replace("127.0.0.1", "localhost");
    assert_eq!(connect(proxy.port()).get(&refused, &[]).status, 502);
}

/// Rule: nginx serves a file with a strong ETag, answers If-None-Match with
/// 304, ranges with 206; limit_rate slows a transfer down.
#[test]
fn nginx_serves_files() {
    let root = tempfile::tempdir().unwrap();
    let data = body(150_000, 4);
    std::fs::write(root.path().join("n.bin"), &data).unwrap();
    let Some(nginx) = Nginx::start(root.path()) else {
        println!("SKIP nginx_serves_files: nginx is not installed");
        return;
    };
    assert_eq!(
        nginx.url("n.bin"),
        format!("http://127.0.0.1:{}/n.bin", nginx.port())
    );
    let mut c = connect(nginx.port());
    let r = c.get("/n.bin", &[]);
    assert_eq!((r.status, &r.end), (200, &End::Complete));
    assert_eq!(r.body, data);
    let etag = r.header("etag").unwrap().to_string();
    assert!(etag.starts_with('"'), "{etag}");
    assert!(r.header("last-modified").is_some());
    let r = c.get("/n.bin", &[("If-None-Match", &etag)]);
    assert_eq!((r.status, r.body.len()), (304, 0));
    let r = c.get("/n.bin", &[("Range", "bytes=100-"), ("If-Range", &etag)]);
    assert_eq!(
        (r.status, content_range(&r)),
        (206, "bytes 100-149999/150000")
    );
    assert_eq!(r.body, &data[100..]);

    // nginx lets `limit_rate` bytes through at once, then paces the rest:
    // 150 000 bytes at 75 000/s take about a second.
    let slow = Nginx::start_with(root.path(), Some(75_000)).unwrap();
    let start = Instant::now();
    let r = connect(slow.port()).get("/n.bin", &[]);
    assert_eq!(r.body, data);
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
}
