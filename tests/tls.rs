//! TLS peers are verified by default; a CA file can be configured.

mod common;
mod support;

use common::*;
use netdl::Options;
use support::Server;

/// Rule: a self-signed certificate fails with NET_ERROR_TLS and no file.
#[test]
fn self_signed_is_rejected() {
    let server = Server::start_tls();
    let t = TestClient::new();
    let ev = t.ended(t.download(&server.url("/bytes/1000"), "t.bin", Options::default()));
    assert_eq!(error_name(&ev), "NET_ERROR_TLS", "{:?}", ev.error);
    assert!(!t.docs("t.bin").exists());
    assert!(no_temp_files(t.dir.path()));
}

/// Rule: with `ca_file` trusting that certificate, the download succeeds.
#[test]
fn ca_file_makes_it_trusted() {
    let server = Server::start_tls();
    let t = TestClient::new();
    let opts = Options {
        ca_file: server.ca_pem_path(),
        ..Options::default()
    };
    let ev = t.ended(t.download(&server.url("/bytes/100000?seed=9"), "t.bin", opts));
    assert!(!ev.is_error(), "{:?}", ev.error);
    assert_eq!(
        std::fs::read(t.docs("t.bin")).unwrap(),
        support::body(100_000, 9)
    );
}

/// Rule: a libcurl handle reused from a request with a CA file keeps no
/// trust in it: with one transfer at a time, requests with, without and
/// again with the CA file each start on the handle the one before left;
/// the one without fails verification.
#[test]
fn reused_handles_do_not_keep_a_ca_file() {
    let server = Server::start_tls();
    let t = TestClient::new();
    t.client.set_limits(1, 1).unwrap();
    let with_ca = || Options {
        ca_file: server.ca_pem_path(),
        ..Options::default()
    };
    let url = server.url("/bytes/1000");
    let ids = [
        t.client.request(&url, "GET", with_ca()),
        t.client.request(&url, "GET", with_ca()),
        t.client.request(&url, "GET", Options::default()),
        t.client.request(&url, "GET", with_ca()),
    ];
    let names: Vec<&str> = ids.iter().map(|&id| error_name(&t.ended(id))).collect();
    assert_eq!(
        names,
        [
            "NET_ERROR_NONE",
            "NET_ERROR_NONE",
            "NET_ERROR_TLS",
            "NET_ERROR_NONE"
        ]
    );
}
