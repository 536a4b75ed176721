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
/// its options: with one transfer at a time (so every request reuses the
/// previous one's handle), a GET after a POST with body, header and CA file
/// sends no body and no header, a GET after a HEAD gets its body, and a
/// HEAD or custom method after plain GETs is still that method.
#[test]
fn reused_handles_carry_no_options_over() {
    let server = Server::start();
    let t = TestClient::new();
    t.client.set_limits(1, 1).unwrap();
    let echo_of = |method: &str, opts: Options| {
        let ev = t.ended(t.client.request(&server.url("/echo"), method, opts));
        assert!(!ev.is_error(), "{method}: {:?}", ev.error);
        ev
    };
    let post = Options {
        headers: vec![("X-Only-Once".into(), "yes".into())],
        body: Some(Body::Bytes(b"payload".to_vec())),
        ..Options::default()
    };
    let (line, _, body) = echo(&echo_of("POST", post));
    assert_eq!(
        (line.as_str(), body.as_slice()),
        ("POST /echo", &b"payload"[..])
    );

    let (line, headers, body) = echo(&echo_of("GET", Options::default()));
    assert_eq!(line, "GET /echo");
    assert_eq!(get(&headers, "x-only-once"), None);
    assert_eq!(get(&headers, "content-type"), None);
    assert!(body.is_empty(), "{body:?}");

    let head = t.ended(
        t.client
            .request(&server.url("/bytes/300"), "HEAD", Options::default()),
    );
    assert_eq!(
        (head.status, head.body.as_deref().unwrap_or(&[]).len()),
        (200, 0)
    );
    let get = t.ended(
        t.client
            .request(&server.url("/bytes/300"), "GET", Options::default()),
    );
    assert_eq!(get.body.as_deref(), Some(&support::body(300, 0)[..]));

    let (line, _, _) = echo(&echo_of("PROPFIND", Options::default()));
    assert_eq!(line, "PROPFIND /echo");
    let (line, _, _) = echo(&echo_of("GET", Options::default()));
    assert_eq!(line, "GET /echo");
}
