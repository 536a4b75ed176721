//! HTTP statuses are reported, not turned into errors, and a non-2xx
//! response never lands where the asset should be.

mod common;
mod support;

use common::*;
use netdl::{BaseDir, Options};
use support::Server;

/// Rule: a 404 is `status = 404`, `is_error = false`; the target keeps its
/// previous contents and the error body arrives in `body`.
#[test]
fn not_found_is_a_status_and_keeps_the_old_file() {
    let server = Server::start();
    let t = TestClient::new();
    std::fs::create_dir_all(t.docs("")).unwrap();
    std::fs::write(t.docs("asset.bin"), b"good old asset").unwrap();
    let ev = t.ended(t.download(&server.url("/status/404"), "asset.bin", Options::default()));
    assert!(!ev.is_error());
    assert_eq!(ev.status, 404);
    assert_eq!(ev.body.as_deref(), Some(&b"status 404"[..]));
    assert_eq!(
        std::fs::read(t.docs("asset.bin")).unwrap(),
        b"good old asset"
    );
    assert!(no_temp_files(t.dir.path()));
}

/// Rule: a non-2xx download with no previous file leaves no file at all.
#[test]
fn server_error_creates_no_file() {
    let server = Server::start();
    let t = TestClient::new();
    let ev = t.ended(t.download(&server.url("/status/503"), "x.bin", Options::default()));
    assert_eq!((ev.is_error(), ev.status), (false, 503));
    assert!(!t.docs("x.bin").exists());
    assert!(no_temp_files(t.dir.path()));
}

/// Rule: 204 is a success with an empty body; 304 is not a 2xx and leaves
/// the target alone.
#[test]
fn no_content_and_not_modified() {
    let server = Server::start();
    let t = TestClient::new();
    let ev = t.ended(t.download(&server.url("/status/204"), "n.bin", Options::default()));
    assert_eq!(
        (ev.is_error(), ev.status, ev.bytes_estimated),
        (false, 204, 0)
    );
    assert_eq!(std::fs::read(t.docs("n.bin")).unwrap(), b"");

    std::fs::write(t.docs("m.bin"), b"cached").unwrap();
    let ev = t.ended(t.download(&server.url("/status/304"), "m.bin", Options::default()));
    assert_eq!((ev.is_error(), ev.status), (false, 304));
    assert_eq!(std::fs::read(t.docs("m.bin")).unwrap(), b"cached");
}

/// Rule: a request (in memory) reports any status with its body.
#[test]
fn request_reports_status_and_body() {
    let server = Server::start();
    let t = TestClient::new();
    let ev = t.ended(
        t.client
            .request(&server.url("/status/500"), "GET", Options::default()),
    );
    assert_eq!((ev.is_error(), ev.status), (false, 500));
    assert_eq!(ev.body.as_deref(), Some(&b"status 500"[..]));
    assert_eq!(ev.response_type, netdl::ResponseType::Text);
    assert!(ev.path().is_none());
}

/// Rule: HEAD has no body; its estimate is 0 and a HEAD download saves an
/// empty file.
#[test]
fn head_has_no_body() {
    let server = Server::start();
    let t = TestClient::new();
    let ev = t.ended(
        t.client
            .request(&server.url("/bytes/1234"), "head", Options::default()),
    );
    assert_eq!(
        (
            ev.is_error(),
            ev.status,
            ev.bytes_transferred,
            ev.bytes_estimated
        ),
        (false, 200, 0, 0)
    );
    assert_eq!(ev.header("content-length").as_deref(), Some("1234"));
    assert_eq!(server.last_request().unwrap().method, "HEAD");
    let _ = BaseDir::Documents;
}
