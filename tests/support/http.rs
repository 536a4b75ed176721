//! Just enough HTTP/1.1 to read requests (Content-Length and chunked
//! bodies, `Expect: 100-continue`) and write responses by hand.

use std::io::{self, Read, Write};

/// One request as the server received it.
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    pub method: String,
    /// Path with query, as sent.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key` in the query string.
    pub fn query(&self, key: &str) -> Option<String> {
        let q = self.path.split_once('?')?.1;
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| percent_decode(v))
    }

    /// The path without the query.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Buffers bytes between requests on one connection.
#[derive(Default)]
pub struct Reader {
    buf: Vec<u8>,
}

impl Reader {
    fn fill<S: Read>(&mut self, io: &mut S) -> Option<()> {
        let mut chunk = [0u8; 16384];
        match io.read(&mut chunk) {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Some(())
            }
        }
    }

    fn line<S: Read>(&mut self, io: &mut S) -> Option<String> {
        loop {
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..p]).into_owned();
                self.buf.drain(..p + 2);
                return Some(line);
            }
            self.fill(io)?;
        }
    }

    fn exact<S: Read>(&mut self, io: &mut S, n: usize) -> Option<Vec<u8>> {
        while self.buf.len() < n {
            self.fill(io)?;
        }
        Some(self.buf.drain(..n).collect())
    }

    /// Reads the next request; `None` when the connection ends.
    pub fn read_request<S: Read + Write>(&mut self, io: &mut S) -> Option<Recorded> {
        let first = self.line(io)?;
        let mut parts = first.split(' ');
        let method = parts.next()?.to_string();
        let path = parts.next()?.to_string();
        let mut headers = Vec::new();
        loop {
            let l = self.line(io)?;
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':')?;
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let mut req = Recorded {
            method,
            path,
            headers,
            body: Vec::new(),
        };
        if req
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
        {
            io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok()?;
        }
        if req
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let size =
                    usize::from_str_radix(self.line(io)?.split(';').next()?.trim(), 16).ok()?;
                if size == 0 {
                    while !self.line(io)?.is_empty() {}
                    break;
                }
                let data = self.exact(io, size)?;
                req.body.extend_from_slice(&data);
                self.line(io)?;
            }
        } else if let Some(len) = req.header("content-length") {
            let len: usize = len.parse().ok()?;
            req.body = self.exact(io, len)?;
        }
        Some(req)
    }
}

/// Writes a status line and headers (Content-Length when `len` is Some).
pub fn head<W: Write>(
    io: &mut W,
    status: u16,
    headers: &[(&str, String)],
    len: Option<usize>,
) -> io::Result<()> {
    let mut h = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(n) = len {
        h.push_str(&format!("Content-Length: {n}\r\n"));
    }
    h.push_str("\r\n");
    io.write_all(h.as_bytes())?;
    io.flush()
}

/// A complete response with a body.
pub fn full<W: Write>(io: &mut W, status: u16, ctype: &str, body: &[u8]) -> io::Result<()> {
    head(
        io,
        status,
        &[("Content-Type", ctype.to_string())],
        Some(body.len()),
    )?;
    io.write_all(body)?;
    io.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Resets the connection (RST): SO_LINGER 0, then a disconnect. The socket
/// has other handles (the server's list), so closing this one would not
/// send the RST; connect() with AF_UNSPEC disconnects at once.
pub fn reset(raw: &std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: an all-zero sockaddr is valid plain data; AF_UNSPEC is set below.
    let mut unspec: libc::sockaddr = unsafe { std::mem::zeroed() };
    unspec.sa_family = libc::AF_UNSPEC as libc::sa_family_t;
    // SAFETY: a valid socket, and option/address values of the sizes given.
    unsafe {
        libc::setsockopt(
            raw.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
        libc::connect(
            raw.as_raw_fd(),
            &unspec,
            std::mem::size_of::<libc::sockaddr>() as libc::socklen_t,
        );
    }
    let _ = raw.shutdown(std::net::Shutdown::Both);
}
