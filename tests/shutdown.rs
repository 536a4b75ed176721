//! `shutdown` stops everything promptly, cleans up, and is final.

mod common;
mod support;

use std::time::{Duration, Instant};

use common::*;
use netdl::Options;
use support::Server;

/// Rule: shutdown with slow transfers in flight joins the thread well
/// under a second, removes temporary files and delivers nothing after.
#[test]
fn shutdown_with_transfers_in_flight() {
    let server = Server::start();
    let t = TestClient::new();
    for i in 0..20 {
        t.download(
            &server.url("/stall-after-headers?len=100000"),
            &format!("{i}.bin"),
            opts_progress(),
        );
    }
    for i in 0..5 {
        t.download(
            &server.url("/drip/100000?ms=50"),
            &format!("d{i}.bin"),
            Options::default(),
        );
    }
    // Let every transfer start: 20 `began` events from the stalled ones.
    let mut began = 0;
    while began < 20 {
        began += t.client.wait(Duration::from_secs(10)).len();
    }
    let start = Instant::now();
    t.client.shutdown();
    assert!(
        start.elapsed() < Duration::from_millis(1000),
        "{:?}",
        start.elapsed()
    );
    assert!(t.client.poll().is_empty());
    assert!(t.client.wait(Duration::from_millis(10)).is_empty());
    assert!(no_temp_files(t.dir.path()));
    assert_eq!(t.files(), Vec::<std::path::PathBuf>::new());
    // Final: calls after shutdown return 0 / false.
    assert_eq!(
        t.download(&server.url("/bytes/1"), "late.bin", Options::default()),
        0
    );
    assert_eq!(
        t.client
            .request(&server.url("/bytes/1"), "GET", Options::default()),
        0
    );
    assert!(!t.client.cancel(1));
    t.client.shutdown(); // twice is harmless
}
