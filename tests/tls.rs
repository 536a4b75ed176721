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
