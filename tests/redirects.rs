//! Redirects: followed by default up to a limit, reported when turned off,
//! and never to a scheme other than http(s).

mod common;
mod support;

use common::*;
use netdl::Options;
use support::Server;

/// Rule: redirects are followed; `url` is the final URL.
#[test]
fn follows_redirects_and_reports_final_url() {
    let server = Server::start();
    let t = TestClient::new();
    let ev = t.ended(t.download(&server.url("/redirect/3"), "r.txt", Options::default()));
    assert!(!ev.is_error(), "{:?}", ev.error);
    assert_eq!(ev.status, 200);
    assert_eq!(ev.url(), server.url("/redirect/0"));
    assert_eq!(std::fs::read(t.docs("r.txt")).unwrap(), b"done");
}

/// Rule: with redirects off, the 3xx itself is the final response (not
/// saved, not an error).
#[test]
fn no_redirects_reports_the_3xx() {
    let server = Server::start();
    let t = TestClient::new();
    let opts = Options {
        no_redirects: true,
        ..Options::default()
    };
    let ev = t.ended(t.download(&server.url("/redirect/2"), "r.txt", opts));
    assert_eq!((ev.is_error(), ev.status), (false, 302));
    assert_eq!(ev.header("location").as_deref(), Some("/redirect/1"));
    assert!(!t.docs("r.txt").exists());
}

/// Rule: more redirects than allowed is NET_ERROR_TOO_MANY_REDIRECTS; a
/// loop ends the same way.
#[test]
fn too_many_redirects() {
    let server = Server::start();
    let t = TestClient::new();
    let opts = Options {
        max_redirects: Some(2),
        ..Options::default()
    };
    let ev = t.ended(t.download(&server.url("/redirect/3"), "r.txt", opts));
    assert_eq!(error_name(&ev), "NET_ERROR_TOO_MANY_REDIRECTS");
    let ev = t.ended(t.download(&server.url("/redirect-loop"), "r.txt", Options::default()));
    assert_eq!(error_name(&ev), "NET_ERROR_TOO_MANY_REDIRECTS");
    assert!(!t.docs("r.txt").exists());
    assert!(no_temp_files(t.dir.path()));
}

/// Rule: a redirect to file:// or ftp:// is NET_ERROR_UNSUPPORTED_SCHEME.
#[test]
fn redirect_to_other_scheme_is_refused() {
    let server = Server::start();
    let t = TestClient::new();
    for target in ["file:///etc/passwd", "ftp://127.0.0.1/x"] {
        let url = server.url(&format!(
            "/redirect-to?url={}",
            target.replace(':', "%3A").replace('/', "%2F")
        ));
        let ev = t.ended(t.download(&url, "r.txt", Options::default()));
        assert_eq!(
            error_name(&ev),
            "NET_ERROR_UNSUPPORTED_SCHEME",
            "{target}: {:?}",
            ev.error
        );
        assert!(!t.docs("r.txt").exists());
    }
}

/// Rule: a 30x without Location is just a status.
#[test]
fn redirect_without_location_is_a_status() {
    let server = Server::start();
    let t = TestClient::new();
    let ev = t.ended(t.download(&server.url("/no-location/301"), "r.txt", Options::default()));
    assert_eq!((ev.is_error(), ev.status), (false, 301));
    assert_eq!(ev.body.as_deref(), Some(&b"no location"[..]));
    assert!(!t.docs("r.txt").exists());
}
