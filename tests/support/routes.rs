//! The routes. Well-behaved ones:
//! `/bytes/N?seed=S` (octet-stream, HEAD too), `/text/N`, `/status/CODE`,
//! `/redirect/N`, `/redirect-to?url=U`, `/echo` (method, path, headers,
//! blank line, body), `/chunked/N`, `/gzip/N`, `/empty`, `/delay/MS/N`,
//! `/slow/N?chunk=C&ms=D`, `/drip/N?ms=D`.
//! Faulty ones: `/silent`, `/stall-after-headers?len=N`,
//! `/close-mid-body/N`, `/reset-mid-body/N`, `/short/N`, `/chunked-cut/N`,
//! `/redirect-loop`, `/no-location/CODE`, `/huge-headers?size=B`,
//! `/bad-gzip`, `/huge-length`, `/malformed`.
//! Chunked trailers after a complete body of N bytes (`body(N, 0)`):
//! `/trailer-fake-200/N` (a 404 whose trailer is the line
//! `HTTP/1.1 200 OK: x`), `/trailer-fake-500/N` (a 200 whose trailer is
//! `HTTP/1.1 500 Oops: y`), `/trailer-field/N` (a 200 with the valid
//! trailer field `X-Checksum: abc`).
//! Header blocks libcurl takes more leniently than HTTP does:
//! `/headers-cut/CODE` (the connection closes before the block's blank
//! line), `/switching` (a 101 no one asked for, then bytes until the
//! connection closes), `/empty-location/CODE` (a 3xx whose `Location` is
//! empty, with a body), `/lenient-status` (`http/1.1 404 Not Found`, which
//! libcurl reads as a 200).

use std::io::{self, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::http::{full, head, reset, Recorded};
use super::{body, Shared};

const BIN: &str = "application/octet-stream";

/// Why a route ends the connection on purpose.
fn closed() -> io::Error {
    io::Error::other("closed on purpose")
}

fn num(s: Option<&str>) -> usize {
    s.and_then(|v| v.parse().ok()).unwrap_or(0)
}

pub fn respond<W: Write>(
    shared: &Shared,
    req: &Recorded,
    io: &mut W,
    raw: &TcpStream,
) -> io::Result<()> {
    let route = req.route().to_string();
    let parts: Vec<&str> = route.split('/').skip(1).collect();
    let arg = |i: usize| num(parts.get(i).copied());
    let q = |k: &str| req.query(k);
    let qn = |k: &str, d: usize| q(k).and_then(|v| v.parse().ok()).unwrap_or(d);
    match parts[0] {
        "bytes" => {
            let data = body(arg(1), qn("seed", 0) as u64);
            if req.method == "HEAD" {
                head(io, 200, &[("Content-Type", BIN.into())], Some(data.len()))
            } else {
                full(io, 200, BIN, &data)
            }
        }
        "text" => {
            let text: Vec<u8> = (0..arg(1)).map(|i| b'a' + (i % 26) as u8).collect();
            full(io, 200, "text/plain", &text)
        }
        "status" => {
            let code = arg(1) as u16;
            if code == 204 || code == 304 {
                head(io, code, &[], None)
            } else {
                full(io, code, "text/plain", format!("status {code}").as_bytes())
            }
        }
        "redirect" => match arg(1) {
            0 => full(io, 200, "text/plain", b"done"),
            n => redirect(io, &format!("/redirect/{}", n - 1)),
        },
        "redirect-to" => redirect(io, &q("url").unwrap_or_default()),
        "redirect-loop" => redirect(io, "/redirect-loop"),
        "no-location" => full(io, arg(1) as u16, "text/plain", b"no location"),
        "echo" => {
            let mut out = format!("{} {}\n", req.method, req.path).into_bytes();
            for (k, v) in &req.headers {
                out.extend_from_slice(format!("{k}: {v}\n").as_bytes());
            }
            out.push(b'\n');
            out.extend_from_slice(&req.body);
            full(io, 200, "text/plain", &out)
        }
        "chunked" => {
            head(io, 200, &[("Transfer-Encoding", "chunked".into())], None)?;
            for piece in body(arg(1), 0).chunks(7000) {
                write!(io, "{:x}\r\n", piece.len())?;
                io.write_all(piece)?;
                io.write_all(b"\r\n")?;
            }
            io.write_all(b"0\r\n\r\n")?;
            io.flush()
        }
        "gzip" => {
            let gz = gzip_stored(&body(arg(1), 0));
            let h = [
                ("Content-Type", BIN.into()),
                ("Content-Encoding", "gzip".into()),
            ];
            head(io, 200, &h, Some(gz.len()))?;
            io.write_all(&gz)?;
            io.flush()
        }
        "bad-gzip" => {
            let h = [
                ("Content-Type", BIN.into()),
                ("Content-Encoding", "gzip".into()),
            ];
            head(io, 200, &h, Some(64))?;
            io.write_all(&[0x5a; 64])?;
            io.flush()
        }
        "trailer-fake-200" => chunked_with_trailer(io, 404, &body(arg(1), 0), "HTTP/1.1 200 OK: x"),
        "trailer-fake-500" => {
            chunked_with_trailer(io, 200, &body(arg(1), 0), "HTTP/1.1 500 Oops: y")
        }
        "trailer-field" => chunked_with_trailer(io, 200, &body(arg(1), 0), "X-Checksum: abc"),
        "headers-cut" => {
            let head = format!("HTTP/1.1 {} Status\r\nContent-Length: 5\r\n", arg(1));
            io.write_all(head.as_bytes())?;
            io.flush()?;
            let _ = raw.shutdown(std::net::Shutdown::Both);
            Err(closed())
        }
        "switching" => {
            io.write_all(b"HTTP/1.1 101 Switching Protocols\r\n\r\nnot a file")?;
            io.flush()?;
            let _ = raw.shutdown(std::net::Shutdown::Both);
            Err(closed())
        }
        "empty-location" => {
            let h = [("Location", String::new())];
            head(io, arg(1) as u16, &h, Some(9))?;
            io.write_all(b"not moved")?;
            io.flush()
        }
        "lenient-status" => {
            io.write_all(b"http/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found")?;
            io.flush()
        }
        "empty" => full(io, 200, BIN, b""),
        "odd-headers" => {
            // Obsolete line folding and padding around a value.
            io.write_all(
                b"HTTP/1.1 200 OK\r\nX-Folded: first\r\n  second\r\n\
                  X-Padded:   value   \r\nContent-Length: 2\r\n\r\nok",
            )?;
            io.flush()
        }
        "nul-header" => {
            io.write_all(b"HTTP/1.1 200 OK\r\nX-Nul: a\0b\r\nContent-Length: 2\r\n\r\nok")?;
            io.flush()
        }
        "delay" => {
            shared.pause(Duration::from_millis(arg(1) as u64));
            full(io, 200, BIN, &body(arg(2), 0))
        }
        "slow" => {
            let (n, chunk, ms) = (arg(1), qn("chunk", 1024).max(1), qn("ms", 10) as u64);
            head(io, 200, &[("Content-Type", BIN.into())], Some(n))?;
            for piece in body(n, 0).chunks(chunk) {
                io.write_all(piece)?;
                io.flush()?;
                if !shared.pause(Duration::from_millis(ms)) {
                    return Err(closed());
                }
            }
            Ok(())
        }
        "drip" => {
            let (n, ms) = (arg(1), qn("ms", 100) as u64);
            head(io, 200, &[("Content-Type", BIN.into())], Some(n))?;
            for b in body(n, 0) {
                if !shared.pause(Duration::from_millis(ms)) {
                    return Err(closed());
                }
                io.write_all(&[b])?;
                io.flush()?;
            }
            Ok(())
        }
        "silent" => {
            shared.stall();
            Err(closed())
        }
        "stall-after-headers" => {
            head(
                io,
                200,
                &[("Content-Type", BIN.into())],
                Some(qn("len", 1000)),
            )?;
            shared.stall();
            Err(closed())
        }
        "close-mid-body" | "reset-mid-body" | "short" => {
            let n = arg(1);
            let data = body(n, 0);
            let sent = if parts[0] == "short" {
                n.saturating_sub(10)
            } else {
                n / 2
            };
            head(io, 200, &[("Content-Type", BIN.into())], Some(n))?;
            io.write_all(&data[..sent])?;
            io.flush()?;
            if parts[0] == "reset-mid-body" {
                reset(raw);
            } else {
                let _ = raw.shutdown(std::net::Shutdown::Both);
            }
            Err(closed())
        }
        "chunked-cut" => {
            head(io, 200, &[("Transfer-Encoding", "chunked".into())], None)?;
            let data = body(arg(1) / 2, 0);
            for piece in data.chunks(4000) {
                write!(io, "{:x}\r\n", piece.len())?;
                io.write_all(piece)?;
                io.write_all(b"\r\n")?;
            }
            io.flush()?;
            let _ = raw.shutdown(std::net::Shutdown::Both);
            Err(closed())
        }
        "huge-headers" => {
            let size = qn("size", 1 << 20);
            let mut h = Vec::new();
            let mut total = 0;
            let mut k = 0;
            while total < size {
                let v = "x".repeat(1000);
                total += 1000 + 12;
                h.push((format!("X-Fill-{k}"), v));
                k += 1;
            }
            let mut text = String::from("HTTP/1.1 200 OK\r\n");
            for (name, v) in &h {
                text.push_str(&format!("{name}: {v}\r\n"));
            }
            text.push_str("Content-Length: 2\r\n\r\nok");
            io.write_all(text.as_bytes())?;
            io.flush()
        }
        "huge-length" => {
            head(io, 200, &[("Content-Type", BIN.into())], Some(10 << 30))?;
            io.write_all(&body(1000, 0))?;
            io.flush()?;
            shared.stall();
            Err(closed())
        }
        "malformed" => {
            io.write_all(b"HELLO\r\n\r\n")?;
            io.flush()?;
            let _ = raw.shutdown(std::net::Shutdown::Both);
            Err(closed())
        }
        _ => full(io, 404, "text/plain", b"not found"),
    }
}

fn redirect<W: Write>(io: &mut W, location: &str) -> io::Result<()> {
    let h = [
        ("Location", location.to_string()),
        ("Content-Type", "text/plain".into()),
    ];
    head(io, 302, &h, Some(0))
}

/// A chunked response whose last chunk is followed by the trailer line
/// `trailer`.
fn chunked_with_trailer<W: Write>(
    io: &mut W,
    status: u16,
    data: &[u8],
    trailer: &str,
) -> io::Result<()> {
    let h = [
        ("Content-Type", BIN.into()),
        ("Transfer-Encoding", "chunked".into()),
    ];
    head(io, status, &h, None)?;
    for piece in data.chunks(7000) {
        write!(io, "{:x}\r\n", piece.len())?;
        io.write_all(piece)?;
        io.write_all(b"\r\n")?;
    }
    write!(io, "0\r\n{trailer}\r\n\r\n")?;
    io.flush()
}

/// gzip with stored (uncompressed) deflate blocks: valid, and simple.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let mut chunks = data.chunks(65535).peekable();
    if data.is_empty() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(c) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none()));
        let len = c.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
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
