//! `request`: bodies, headers and methods go out as given; the response
//! body comes back in memory, within a limit.

mod common;
mod support;

use std::io::Write;

use common::*;
use netdl::{BaseDir, Body, BodyType, Options, ResponseType};
use support::Server;

/// Splits the /echo response into (request line, headers, body).
fn echo(ev: &netdl::Event) -> (String, Vec<(String, String)>, Vec<u8>) {
    let raw = ev.body.clone().expect("body");
    let split = raw
        .windows(2)
        .position(|w| w == b"\n\n")
        .expect("blank line")
        + 2;
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.lines();
    let first = lines.next().unwrap().to_string();
    let headers = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once(": ").unwrap();
            (k.to_ascii_lowercase(), v.to_string())
        })
        .collect();
    (first, headers, raw[split..].to_vec())
}

fn get<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Rule: method (upper-cased), headers and body reach the server exactly;
/// a text body without Content-Type is sent as a form, as the reference does.
#[test]
fn post_sends_headers_and_body() {
    let server = Server::start();
    let t = TestClient::new();
    let opts = Options {
        headers: vec![("X-Game".into(), "level 3".into())],
        body: Some(Body::Bytes(b"a=1&b=2".to_vec())),
        ..Options::default()
    };
    let ev = t.ended(t.client.request(&server.url("/echo"), "post", opts));
    assert!(!ev.is_error(), "{:?}", ev.error);
    assert_eq!(ev.status, 200);
    assert_eq!(ev.response_type, ResponseType::Text);
    let (line, headers, body) = echo(&ev);
    assert_eq!(line, "POST /echo");
    assert_eq!(get(&headers, "x-game"), Some("level 3"));
    assert_eq!(
        get(&headers, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(body, b"a=1&b=2");
}

/// Rule: PUT, PATCH, DELETE and custom token verbs are sent as given; a
/// binary body is labelled application/octet-stream; a caller's
/// Content-Type wins.
#[test]
fn other_methods_and_body_types() {
    let server = Server::start();
    let t = TestClient::new();
    for method in ["PUT", "PATCH", "DELETE", "PROPFIND"] {
        let opts = Options {
            body: Some(Body::Bytes(vec![0, 1, 2, 255])),
            body_type: Some(BodyType::Binary),
            ..Options::default()
        };
        let ev = t.ended(t.client.request(&server.url("/echo"), method, opts));
        let (line, headers, body) = echo(&ev);
        assert_eq!(line, format!("{method} /echo"));
        assert_eq!(
            get(&headers, "content-type"),
            Some("application/octet-stream")
        );
        assert_eq!(body, vec![0, 1, 2, 255]);
    }
    let opts = Options {
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: Some(Body::Bytes(b"{}".to_vec())),
        ..Options::default()
    };
    let (_, headers, _) = echo(&t.ended(t.client.request(&server.url("/echo"), "POST", opts)));
    assert_eq!(get(&headers, "content-type"), Some("application/json"));
}

/// Rule: a body file is streamed from its base directory.
#[test]
fn body_from_file() {
    let server = Server::start();
    let t = TestClient::new();
    let dir = t.client.directory(BaseDir::ApplicationSupport).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    let data = support::body(300_000, 3);
    std::fs::File::create(dir.join("up.bin"))
        .unwrap()
        .write_all(&data)
        .unwrap();
    let opts = Options {
        body: Some(Body::File {
            filename: "up.bin".into(),
            base_dir: BaseDir::ApplicationSupport,
        }),
        ..Options::default()
    };
    let ev = t.ended(t.client.request(&server.url("/echo"), "PUT", opts));
    assert!(!ev.is_error(), "{:?}", ev.error);
    let (_, headers, body) = echo(&ev);
    assert_eq!(
        get(&headers, "content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(body, data);

    let missing = Options {
        body: Some(Body::File {
            filename: "nope.bin".into(),
            base_dir: BaseDir::ApplicationSupport,
        }),
        ..Options::default()
    };
    let ev = t.ended(t.client.request(&server.url("/echo"), "PUT", missing));
    assert_eq!(error_name(&ev), "NET_ERROR_IO");
}

/// Rule: the in-memory body has a limit; an announced or actual body over
/// it is NET_ERROR_TOO_LARGE (a hostile server cannot exhaust memory).
#[test]
fn body_limit() {
    let server = Server::start();
    let t = TestClient::new();
    let small = || Options {
        max_body: Some(1000),
        ..Options::default()
    };
    let ev = t.ended(t.client.request(&server.url("/bytes/1000"), "GET", small()));
    assert_eq!(ev.body.as_deref().map(<[u8]>::len), Some(1000));
    let ev = t.ended(t.client.request(&server.url("/bytes/1001"), "GET", small()));
    assert_eq!(error_name(&ev), "NET_ERROR_TOO_LARGE");
    let ev = t.ended(
        t.client
            .request(&server.url("/chunked/5000"), "GET", small()),
    );
    assert_eq!(error_name(&ev), "NET_ERROR_TOO_LARGE");
    // The default limit (64 MiB) rejects a 10 GiB announcement at once.
    let ev = t.ended(
        t.client
            .request(&server.url("/huge-length"), "GET", Options::default()),
    );
    assert_eq!(error_name(&ev), "NET_ERROR_TOO_LARGE");
    // Downloads honour the limit too, leaving no file.
    let ev = t.ended(t.download(&server.url("/bytes/5000"), "big.bin", small()));
    assert_eq!(error_name(&ev), "NET_ERROR_TOO_LARGE");
    assert!(!t.docs("big.bin").exists());
    assert!(no_temp_files(t.dir.path()));
}

/// Rule: a libcurl handle reused from an earlier request carries none of
/// its options. All requests are queued at once with one transfer at a
/// time, so each one starts on the handle the one before just left: a GET
/// after a POST with body and header sends neither, a GET after a HEAD
/// gets its body, a custom method after a GET is still that method.
#[test]
fn reused_handles_carry_no_options_over() {
    let server = Server::start();
    let t = TestClient::new();
    t.client.set_limits(1, 1).unwrap();
    let echo_url = server.url("/echo");
    let bytes = server.url("/bytes/300");
    let post = Options {
        headers: vec![("X-Only-Once".into(), "yes".into())],
        body: Some(Body::Bytes(b"payload".to_vec())),
        ..Options::default()
    };
    let ids = [
        t.client.request(&echo_url, "POST", post),
        t.client.request(&echo_url, "GET", Options::default()),
        t.client.request(&bytes, "HEAD", Options::default()),
        t.client.request(&bytes, "GET", Options::default()),
        t.client.request(&echo_url, "PROPFIND", Options::default()),
        t.client.request(&echo_url, "GET", Options::default()),
    ];
    let ev: Vec<netdl::Event> = ids.iter().map(|&id| t.ended(id)).collect();
    for e in &ev {
        assert!(!e.is_error(), "{:?}", e.error);
    }
    let lines = [&ev[0], &ev[1], &ev[4], &ev[5]].map(echo);
    assert_eq!(lines[0].0, "POST /echo");
    assert_eq!(lines[0].2, b"payload");
    assert_eq!(lines[1].0, "GET /echo");
    assert_eq!(get(&lines[1].1, "x-only-once"), None);
    assert_eq!(get(&lines[1].1, "content-type"), None);
    assert!(lines[1].2.is_empty(), "{:?}", lines[1].2);
    assert_eq!(
        (ev[2].status, ev[2].body.as_deref().unwrap_or(&[]).len()),
        (200, 0)
    );
    assert_eq!(ev[3].body.as_deref(), Some(&support::body(300, 0)[..]));
    assert_eq!(lines[2].0, "PROPFIND /echo");
    assert_eq!(lines[3].0, "GET /echo");
}

/// Rule: response headers arrive in order as received, values trimmed and
/// a folded line joined to its value with one space; a NUL byte in a
/// header is a protocol error (libcurl refuses the response).
#[test]
fn response_headers_as_received() {
    let server = Server::start();
    let t = TestClient::new();
    let ev = t.ended(
        t.client
            .request(&server.url("/odd-headers"), "GET", Options::default()),
    );
    assert!(!ev.is_error(), "{:?}", ev.error);
    let fields: Vec<(String, String)> = ev
        .headers
        .iter()
        .map(|(n, v)| {
            (
                String::from_utf8_lossy(n).into(),
                String::from_utf8_lossy(v).into(),
            )
        })
        .collect();
    let expected = [
        ("X-Folded", "first second"),
        ("X-Padded", "value"),
        ("Content-Length", "2"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    assert_eq!(fields, expected);
    assert_eq!(ev.body.as_deref(), Some(&b"ok"[..]));

    let ev = t.ended(
        t.client
            .request(&server.url("/nul-header"), "GET", Options::default()),
    );
    let err = ev.error.expect("a NUL in a header fails the request");
    assert_eq!(err.kind, netdl::ErrorKind::Protocol, "{}", err.message);
}
