//! A small HTTP proxy on 127.0.0.1 (ephemeral port) for loopback origins
//! only: absolute-form requests are forwarded in origin-form over a new
//! origin connection each (`Connection: close` to the origin, `Proxy-*`
//! headers dropped, `Via: 1.1 netdl-test-proxy` added) and the response is
//! relayed byte for byte; `CONNECT host:port` opens a byte tunnel. Any
//! target but 127.0.0.1, ::1 or localhost gets a 403 and no connection.
//! The client connection stays open between requests when the response
//! has a framing (Content-Length, chunked, or none by definition).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A running proxy; stops on drop (closing every connection).
pub struct Proxy {
    port: u16,
    shared: Arc<ProxyShared>,
    accept: Option<JoinHandle<()>>,
}

struct ProxyShared {
    stopping: AtomicBool,
    requests: Mutex<Vec<String>>,
    /// Every open socket (client and origin sides), to shut them on drop.
    streams: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
}

impl ProxyShared {
    /// Keeps a handle on `s` until the returned guard drops; the guard
    /// shuts the socket.
    fn track(&self, s: &TcpStream) -> Tracked<'_> {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let clone = s.try_clone().unwrap();
        self.streams.lock().unwrap().insert(id, clone);
        if self.stopping.load(Ordering::SeqCst) {
            let _ = s.shutdown(Shutdown::Both);
        }
        Tracked { shared: self, id }
    }
}

struct Tracked<'a> {
    shared: &'a ProxyShared,
    id: u64,
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.shared.streams.lock().unwrap().remove(&self.id) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Proxy {
    pub fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(ProxyShared {
            stopping: AtomicBool::new(false),
            requests: Mutex::new(Vec::new()),
            streams: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        });
        let s = shared.clone();
        let accept = std::thread::spawn(move || {
            let mut workers = Vec::new();
            for stream in listener.incoming() {
                if s.stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let s2 = s.clone();
                workers.push(std::thread::spawn(move || {
                    let _guard = s2.track(&stream);
                    let _ = stream.set_nodelay(true);
                    client(&s2, stream);
                }));
                workers.retain(|w| !w.is_finished());
            }
            for w in workers {
                let _ = w.join();
            }
        });
        Proxy {
            port,
            shared,
            accept: Some(accept),
        }
    }

    /// "http://127.0.0.1:PORT"
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Each request line received, in order ("GET http://h:p/x HTTP/1.1",
    /// "CONNECT h:p HTTP/1.1").
    pub fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        for s in self.shared.streams.lock().unwrap().values() {
            let _ = s.shutdown(Shutdown::Both);
        }
        // Unblock accept().
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// A socket with the bytes read from it but not used yet.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Reads more; Err at end of stream.
    fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 16384];
        match self.s.read(&mut chunk)? {
            0 => Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
        }
    }

    /// A header block, blank line included.
    fn head(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                return Ok(self.buf.drain(..p + 4).collect());
            }
            if self.buf.len() > 1 << 20 {
                return Err(io::Error::other("header block too large"));
            }
            self.fill()?;
        }
    }

    /// One line, CRLF included.
    fn line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                return Ok(self.buf.drain(..p + 2).collect());
            }
            self.fill()?;
        }
    }

    /// Copies `n` bytes to `out`.
    fn copy_exact(&mut self, mut n: u64, out: &mut TcpStream) -> io::Result<()> {
        while n > 0 {
            if self.buf.is_empty() {
                self.fill()?;
            }
            let take = self.buf.len().min(n.try_into().unwrap_or(usize::MAX));
            out.write_all(&self.buf[..take])?;
            self.buf.drain(..take);
            n -= take as u64;
        }
        Ok(())
    }

    /// Copies a chunked body, framing and trailers included, to `out`.
    fn copy_chunked(&mut self, out: &mut TcpStream) -> io::Result<()> {
        loop {
            let line = self.line()?;
            out.write_all(&line)?;
            let text = String::from_utf8_lossy(&line);
            let size = text.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size, 16).map_err(io::Error::other)?;
            if size == 0 {
                loop {
                    let trailer = self.line()?;
                    out.write_all(&trailer)?;
                    if trailer == b"\r\n" {
                        return Ok(());
                    }
                }
            }
            self.copy_exact(size + 2, out)?;
        }
    }

    /// Copies everything until the peer closes.
    fn copy_to_end(&mut self, out: &mut TcpStream) -> io::Result<()> {
        out.write_all(&self.buf)?;
        self.buf.clear();
        io::copy(&mut self.s, out)?;
        Ok(())
    }
}

/// A header block split into its first line and fields.
struct Head {
    line: String,
    fields: Vec<(String, String)>,
}

impl Head {
    fn parse(raw: &[u8]) -> Head {
        let text = String::from_utf8_lossy(raw);
        let mut lines = text.split("\r\n");
        let line = lines.next().unwrap_or("").to_string();
        let fields = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Head { line, fields }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn has_token(&self, name: &str, token: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }
}

/// How a message's body is delimited.
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

fn request_framing(h: &Head) -> Framing {
    if h.has_token("transfer-encoding", "chunked") {
        Framing::Chunked
    } else {
        match h.get("content-length").and_then(|v| v.parse().ok()) {
            Some(n) => Framing::Length(n),
            None => Framing::Empty,
        }
    }
}

fn response_framing(h: &Head, method: &str, status: u16) -> Framing {
    if method == "HEAD" || status == 204 || status == 304 {
        Framing::Empty
    } else if h.has_token("transfer-encoding", "chunked") {
        Framing::Chunked
    } else {
        match h.get("content-length").and_then(|v| v.parse().ok()) {
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        }
    }
}

fn copy_body(from: &mut Conn, framing: &Framing, out: &mut TcpStream) -> io::Result<()> {
    match framing {
        Framing::Empty => Ok(()),
        Framing::Length(n) => from.copy_exact(*n, out),
        Framing::Chunked => from.copy_chunked(out),
        Framing::UntilClose => from.copy_to_end(out),
    }
}

/// Serves one client connection until it closes or a response cannot be
/// followed by another.
fn client(shared: &ProxyShared, stream: TcpStream) {
    let mut out = stream.try_clone().unwrap();
    let mut conn = Conn {
        s: stream,
        buf: Vec::new(),
    };
    while !shared.stopping.load(Ordering::SeqCst) {
        let Ok(raw) = conn.head() else { return };
        let head = Head::parse(&raw);
        shared.requests.lock().unwrap().push(head.line.clone());
        let mut parts = head.line.split(' ');
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if method == "CONNECT" {
            tunnel(shared, conn, out, target);
            return;
        }
        match forward(shared, &mut conn, &mut out, &head) {
            Ok(true) => {}
            Ok(false) | Err(_) => return,
        }
    }
}

/// Whether the proxy may connect to `host`.
fn is_loopback(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "::1" | "[::1]" | "localhost")
}

/// Splits "host:port" / "[v6]:port" (port `default` when absent).
fn host_port(authority: &str, default: Option<u16>) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default?,
    };
    Some((host.to_string(), port))
}

/// Writes a short error response that closes the connection.
fn refuse(out: &mut TcpStream, status: u16, reason: &str) {
    let text = format!("{reason}\n");
    let _ = write!(
        out,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

/// Connects to a loopback origin, or answers 400/403/502 and returns None.
fn connect(out: &mut TcpStream, host: Option<(String, u16)>) -> Option<TcpStream> {
    let Some((host, port)) = host else {
        refuse(out, 400, "Bad Request");
        return None;
    };
    if !is_loopback(&host) {
        refuse(out, 403, "Forbidden");
        return None;
    }
    match TcpStream::connect((host.trim_matches(['[', ']']), port)) {
        Ok(s) => {
            let _ = s.set_nodelay(true);
            Some(s)
        }
        Err(_) => {
            refuse(out, 502, "Bad Gateway");
            None
        }
    }
}

/// Forwards one absolute-form request and relays its response; true when
/// the client connection can carry another request.
fn forward(
    shared: &ProxyShared,
    conn: &mut Conn,
    out: &mut TcpStream,
    head: &Head,
) -> io::Result<bool> {
    let mut parts = head.line.split(' ');
    let (method, target, version) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or("HTTP/1.1"),
    );
    let rest = target
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case("http://"))
        .map(|_| &target[7..]);
    let (authority, path) = match rest {
        Some(r) => match r.find(['/', '?']) {
            Some(i) => (&r[..i], r[i..].to_string()),
            None => (r, "/".to_string()),
        },
        None => ("", String::new()),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path
    };
    let host = if rest.is_some() {
        host_port(authority, Some(80))
    } else {
        None
    };
    let Some(origin) = connect(out, host) else {
        return Ok(false);
    };
    let _guard = shared.track(&origin);
    let mut to_origin = origin.try_clone()?;

    if head.has_token("expect", "100-continue") {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let mut req = format!("{method} {path} {version}\r\n");
    for (k, v) in &head.fields {
        let k_lower = k.to_ascii_lowercase();
        if k_lower.starts_with("proxy-")
            || matches!(k_lower.as_str(), "connection" | "keep-alive" | "expect")
        {
            continue;
        }
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Via: 1.1 netdl-test-proxy\r\nConnection: close\r\n\r\n");
    to_origin.write_all(req.as_bytes())?;
    copy_body(conn, &request_framing(head), &mut to_origin)?;

    let mut from_origin = Conn {
        s: origin,
        buf: Vec::new(),
    };
    loop {
        let raw = from_origin.head()?;
        out.write_all(&raw)?;
        let resp = Head::parse(&raw);
        let status: u16 = resp
            .line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        let framing = match status {
            101 => Framing::UntilClose,
            _ => response_framing(&resp, method, status),
        };
        copy_body(&mut from_origin, &framing, out)?;
        out.flush()?;
        let again = !matches!(framing, Framing::UntilClose)
            && !resp.has_token("connection", "close")
            && !head.has_token("connection", "close");
        return Ok(again);
    }
}

/// `CONNECT`: a byte pipe both ways until both sides are done.
fn tunnel(shared: &ProxyShared, mut conn: Conn, mut out: TcpStream, target: &str) {
    let Some(origin) = connect(&mut out, host_port(target, None)) else {
        return;
    };
    let _guard = shared.track(&origin);
    if out
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .is_err()
    {
        return;
    }
    let mut to_origin = origin.try_clone().unwrap();
    let mut from_origin = origin;
    let mut to_client = out;
    let back = std::thread::spawn(move || {
        let _ = io::copy(&mut from_origin, &mut to_client);
        let _ = to_client.shutdown(Shutdown::Write);
    });
    let early = std::mem::take(&mut conn.buf);
    if to_origin.write_all(&early).is_ok() {
        let _ = io::copy(&mut conn.s, &mut to_origin);
    }
    let _ = to_origin.shutdown(Shutdown::Write);
    let _ = back.join();
}
