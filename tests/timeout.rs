//! `timeout` is an inactivity limit: it fires soon after bytes stop, and
//! never cuts off a transfer that keeps receiving.

mod common;
mod support;

use std::time::{Duration, Instant};

use common::*;
use netdl::Options;
use support::Server;

fn one_second() -> Options {
    Options {
        timeout: Some(Duration::from_secs(1)),
        ..Options::default()
    }
}

/// Rule: a server that accepts and never answers fails with
/// NET_ERROR_TIMEOUT within 1–3 s of a 1 s limit.
#[test]
fn silent_server_times_out_on_time() {
    let server = Server::start();
    let t = TestClient::new();
    let start = Instant::now();
    let ev = t.ended(t.download(&server.url("/silent"), "s.bin", one_second()));
    let took = start.elapsed();
    assert_eq!(error_name(&ev), "NET_ERROR_TIMEOUT");
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(!t.docs("s.bin").exists());
    assert!(no_temp_files(t.dir.path()));
}

/// Rule: headers followed by silence time out the same way, and the status
/// that did arrive is reported.
#[test]
fn stall_after_headers_times_out() {
    let server = Server::start();
    let t = TestClient::new();
    let start = Instant::now();
    let ev = t.ended(t.download(
        &server.url("/stall-after-headers?len=1000"),
        "s.bin",
        one_second(),
    ));
    let took = start.elapsed();
    assert_eq!(error_name(&ev), "NET_ERROR_TIMEOUT");
    assert_eq!(ev.status, 200);
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(no_temp_files(t.dir.path()));
}

/// Rule: a body dripping one byte every 200 ms for ~2.4 s is not cut off
/// by a 1 s inactivity limit.
#[test]
fn slow_but_steady_download_is_not_killed() {
    let server = Server::start();
    let t = TestClient::new();
    let start = Instant::now();
    let ev = t.ended(t.download(&server.url("/drip/12?ms=200"), "d.bin", one_second()));
    assert!(!ev.is_error(), "{:?}", ev.error);
    assert!(start.elapsed() > Duration::from_secs(2));
    assert_eq!(
        std::fs::read(t.docs("d.bin")).unwrap(),
        support::body(12, 0)
    );
}
