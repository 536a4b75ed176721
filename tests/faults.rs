//! Every fault the test server can inject, through a download over a file
//! that already holds a good old version: the exact `ended` event, the
//! old file intact (or the complete new one), no temporary file, and how
//! long it took.

mod common;
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use netdl::{BaseDir, Body, Event, Options};
use support::Server;

const OLD: &[u8] = b"previous good contents";

struct Case {
    path: &'static str,
    error: &'static str,
    status: i32,
    /// The new body when the download must succeed.
    new_body: Option<Vec<u8>>,
    max_secs: f64,
}

fn case(path: &'static str, error: &'static str, status: i32) -> Case {
    Case {
        path,
        error,
        status,
        new_body: None,
        max_secs: 3.0,
    }
}

/// Runs one case on a fresh client with a 1 s inactivity timeout; returns
/// its `ended` event.
fn run(server: &Server, c: &Case) -> Event {
    let t = TestClient::new();
    std::fs::create_dir_all(t.docs("")).unwrap();
    std::fs::write(t.docs("target.bin"), OLD).unwrap();
    let opts = Options {
        timeout: Some(Duration::from_secs(1)),
        ..Options::default()
    };
    let start = Instant::now();
    let ev = t.ended(t.download(&server.url(c.path), "target.bin", opts));
    let took = start.elapsed().as_secs_f64();
    let ctx = format!(
        "{}: {:?} status {} after {took:.2}s",
        c.path, ev.error, ev.status
    );
    assert_eq!(error_name(&ev), c.error, "{ctx}");
    assert_eq!(ev.is_error(), c.error != "NET_ERROR_NONE", "{ctx}");
    assert_eq!(ev.status, c.status, "{ctx}");
    assert!(took <= c.max_secs, "{ctx}");
    let now = std::fs::read(t.docs("target.bin")).unwrap();
    match &c.new_body {
        Some(body) => assert_eq!(&now, body, "{ctx}"),
        None => assert_eq!(now, OLD, "the old file survives: {ctx}"),
    }
    assert_eq!(
        t.files(),
        vec![t.docs("target.bin")],
        "no temporary file: {ctx}"
    );
    ev
}

/// Rule: transport failures are errors with the right code; the old file
/// is untouched.
#[test]
fn connection_faults() {
    let server = Server::start();
    for c in [
        case("/close-mid-body/100000", "NET_ERROR_NETWORK", 200),
        case("/reset-mid-body/100000", "NET_ERROR_NETWORK", 200),
        case("/short/100000", "NET_ERROR_NETWORK", 200),
        case("/chunked-cut/100000", "NET_ERROR_NETWORK", 200),
        case("/malformed", "NET_ERROR_PROTOCOL", 0),
        case("/bad-gzip", "NET_ERROR_PROTOCOL", 200),
        case("/huge-headers?size=1048576", "NET_ERROR_TOO_LARGE", 200),
    ] {
        run(&server, &c);
    }
}

/// Rule: a refused connection is NET_ERROR_CONNECT, at once.
#[test]
fn refused() {
    let t = TestClient::new();
    let start = Instant::now();
    let ev = t.ended(t.download(&support::refused_url(), "x.bin", Options::default()));
    assert_eq!((error_name(&ev), ev.status), ("NET_ERROR_CONNECT", 0));
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(t.files().is_empty());
}

/// Rule: silence times out within 1–3 s of a 1 s limit, wherever it
/// happens: before the response, after the headers, or after 1000 bytes
/// of a 10 GiB announcement.
#[test]
fn stalls_time_out() {
    let server = Server::start();
    for path in ["/silent", "/stall-after-headers?len=5000", "/huge-length"] {
        let status = if path == "/silent" { 0 } else { 200 };
        let start = Instant::now();
        run(&server, &case(path, "NET_ERROR_TIMEOUT", status));
        assert!(start.elapsed() >= Duration::from_millis(950), "{path}");
    }
}

/// Rule: redirect faults: loops, other schemes, no Location.
#[test]
fn redirect_faults() {
    let server = Server::start();
    run(
        &server,
        &case("/redirect-loop", "NET_ERROR_TOO_MANY_REDIRECTS", 302),
    );
    run(
        &server,
        &case(
            "/redirect-to?url=file%3A%2F%2F%2Fetc%2Fpasswd",
            "NET_ERROR_UNSUPPORTED_SCHEME",
            302,
        ),
    );
    run(
        &server,
        &case(
            "/redirect-to?url=gopher%3A%2F%2F127.0.0.1%2F",
            "NET_ERROR_UNSUPPORTED_SCHEME",
            302,
        ),
    );
    run(&server, &case("/no-location/302", "NET_ERROR_NONE", 302));
}

/// Rule: odd but valid responses: gzip is decoded; an empty 200 and a 204
/// replace the file with an empty one; a 304 keeps it; HEAD saves nothing
/// but an empty file.
#[test]
fn odd_but_valid_responses() {
    let server = Server::start();
    let mut gz = case("/gzip/100000", "NET_ERROR_NONE", 200);
    gz.new_body = Some(support::body(100_000, 0));
    run(&server, &gz);
    let mut empty = case("/empty", "NET_ERROR_NONE", 200);
    empty.new_body = Some(Vec::new());
    run(&server, &empty);
    let mut no_content = case("/status/204", "NET_ERROR_NONE", 204);
    no_content.new_body = Some(Vec::new());
    run(&server, &no_content);
    run(&server, &case("/status/304", "NET_ERROR_NONE", 304));
}

/// Rule: a self-signed TLS endpoint is NET_ERROR_TLS.
#[test]
fn self_signed_tls() {
    let server = Server::start_tls();
    run(&server, &case("/bytes/1000", "NET_ERROR_TLS", 0));
}

/// Rule: a download that keeps receiving (one byte every 300 ms for 3 s)
/// is never cut off by a 1 s inactivity limit.
#[test]
fn drip_is_not_killed() {
    let server = Server::start();
    let mut drip = case("/drip/10?ms=300", "NET_ERROR_NONE", 200);
    drip.new_body = Some(support::body(10, 0));
    drip.max_secs = 6.0;
    run(&server, &drip);
}

/// Rule: after the final header block nothing the server sends changes the
/// status, the headers or where the body goes. A 404 whose chunked
/// trailer looks like a status line (`HTTP/1.1 200 OK: x`) stays a 404
/// (not an error) and leaves the old file alone.
#[test]
fn trailer_cannot_turn_404_into_200() {
    let server = Server::start();
    let ev = run(
        &server,
        &case("/trailer-fake-200/20000", "NET_ERROR_NONE", 404),
    );
    assert_eq!(ev.header("transfer-encoding").as_deref(), Some("chunked"));
}

/// Rule: a 200 whose trailer is `HTTP/1.1 500 Oops: y` is saved byte for
/// byte and reported as the 200 it was.
#[test]
fn trailer_cannot_turn_200_into_500() {
    let server = Server::start();
    let mut ok = case("/trailer-fake-500/20000", "NET_ERROR_NONE", 200);
    ok.new_body = Some(support::body(20_000, 0));
    let ev = run(&server, &ok);
    assert_eq!(ev.header("transfer-encoding").as_deref(), Some("chunked"));
}

/// Rule: a valid trailer field (`X-Checksum: abc`) does not join the
/// headers: they are the final response's header block.
#[test]
fn trailer_field_is_not_a_header() {
    let server = Server::start();
    let mut field = case("/trailer-field/20000", "NET_ERROR_NONE", 200);
    field.new_body = Some(support::body(20_000, 0));
    let ev = run(&server, &field);
    let names: Vec<&[u8]> = ev.headers.iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [&b"Content-Type"[..], b"Transfer-Encoding"],
        "{ev:?}"
    );
}

/// Rule: what libcurl reads more leniently than HTTP cannot replace the
/// file either: a connection closed inside the header block is a network
/// error (libcurl ends it without one, as a response with no body); a 101
/// no one asked for is a final non-2xx response; a 3xx with an empty
/// `Location` is not followed and is final; a status line libcurl reads
/// as a 200 only by leniency (`http/1.1 404`) is a protocol error (its
/// status is libcurl's reading).
#[test]
fn lenient_header_blocks_keep_the_old_file() {
    let server = Server::start();
    for c in [
        case("/headers-cut/404", "NET_ERROR_NETWORK", 404),
        case("/headers-cut/200", "NET_ERROR_NETWORK", 200),
        case("/switching", "NET_ERROR_NONE", 101),
        case("/empty-location/302", "NET_ERROR_NONE", 302),
        case("/empty-location/301", "NET_ERROR_NONE", 301),
        case("/lenient-status", "NET_ERROR_PROTOCOL", 200),
    ] {
        run(&server, &c);
    }
}

/// Reads a request's head (up to the blank line), lower-cased; empty when
/// the connection ended first.
fn read_head(reader: &mut BufReader<TcpStream>) -> String {
    let mut head = String::new();
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
        head.push_str(&line.to_ascii_lowercase());
        line.clear();
    }
    head
}

/// Rule: a response libcurl starts after a final one because it sent the
/// request again is the response. A POST with a body over 1 MiB goes out
/// with `Expect: 100-continue`; the server answers 417 (chunked, with a
/// trailer shaped like a status line), libcurl sends the request again
/// without it, and the 201 to that is saved and reported.
#[test]
fn expect_417_retry_is_the_response() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/upload", listener.local_addr().unwrap());
    let sent = support::body(2 << 20, 7);
    let reply = support::body(5000, 8);
    let server = {
        let (sent, reply) = (sent.clone(), reply.clone());
        std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            assert!(read_head(&mut reader).contains("expect: 100-continue"));
            (&conn)
                .write_all(
                    b"HTTP/1.1 417 Expectation Failed\r\nTransfer-Encoding: chunked\r\n\r\n\
                      5\r\nnope!\r\n0\r\nHTTP/1.1 200 OK: x\r\n\r\n",
                )
                .unwrap();
            // The request again, on this connection or a new one.
            let mut head = read_head(&mut reader);
            let mut conn = conn;
            if head.is_empty() {
                conn = listener.accept().unwrap().0;
                reader = BufReader::new(conn.try_clone().unwrap());
                head = read_head(&mut reader);
            }
            assert!(!head.contains("expect:"), "{head}");
            let mut got = vec![0; sent.len()];
            reader.read_exact(&mut got).unwrap();
            assert!(got == sent, "the body sent again");
            let answer = format!(
                "HTTP/1.1 201 Created\r\nContent-Length: {}\r\n\r\n",
                reply.len()
            );
            conn.write_all(answer.as_bytes()).unwrap();
            conn.write_all(&reply).unwrap();
        })
    };
    let t = TestClient::new();
    std::fs::create_dir_all(t.docs("")).unwrap();
    std::fs::write(t.docs("target.bin"), OLD).unwrap();
    let opts = Options {
        body: Some(Body::Bytes(sent)),
        timeout: Some(Duration::from_secs(5)),
        ..Options::default()
    };
    let id = t
        .client
        .download(&url, "POST", opts, "target.bin", BaseDir::Documents);
    let ev = t.ended(id);
    server.join().unwrap();
    assert_eq!(
        (error_name(&ev), ev.status),
        ("NET_ERROR_NONE", 201),
        "{ev:?}"
    );
    assert_eq!(ev.header("content-length"), Some(reply.len().to_string()));
    assert!(std::fs::read(t.docs("target.bin")).unwrap() == reply);
    assert_eq!(t.files(), vec![t.docs("target.bin")]);
}
