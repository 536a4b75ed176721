//! Progress events are coalesced: a fast link never floods the frame loop,
//! a slow one still reports regularly.

mod common;
mod support;

use std::time::{Duration, Instant};

use common::*;
use netdl::Phase;
use support::Server;

/// Rule: at most about 10 progress events per second however fast the
/// link, and at most one queued per request while the host does not poll.
#[test]
fn fast_download_is_coalesced() {
    let server = Server::start();
    let t = TestClient::new();
    let id = t.download(&server.url("/bytes/20000000"), "big.bin", opts_progress());
    // Do not poll until it is over: only one progress event may be queued.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !t.docs("big.bin").exists() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5)); // the host's "frame"
    }
    let events = t.events_until_ended(id, Duration::from_secs(10));
    let progress = events.iter().filter(|e| e.phase == Phase::Progress).count();
    assert!(
        progress <= 1,
        "{progress} progress events queued while not polling"
    );
    assert_eq!(events.last().unwrap().bytes_transferred, 20_000_000);
}

/// Rule: while bytes flow, a polling host sees a progress event at least
/// every 500 ms and no more than ~10 per second.
#[test]
fn slow_download_reports_regularly() {
    let server = Server::start();
    let t = TestClient::new();
    // 40 chunks of 1000 bytes, one every 50 ms: about 2 s of transfer.
    let id = t.download(
        &server.url("/slow/40000?chunk=1000&ms=50"),
        "s.bin",
        opts_progress(),
    );
    let mut times = Vec::new();
    let start = Instant::now();
    loop {
        let events = t.client.wait(Duration::from_secs(5));
        assert!(!events.is_empty());
        for e in &events {
            assert_eq!(e.id, id);
            if e.phase == Phase::Progress {
                times.push(start.elapsed());
            }
        }
        if events.iter().any(|e| e.phase == Phase::Ended) {
            break;
        }
    }
    let total = start.elapsed().as_secs_f64();
    assert!(
        times.len() as f64 <= total * 10.0 + 2.0,
        "{} events in {total:.2} s",
        times.len()
    );
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] <= Duration::from_millis(500),
            "gap {:?}",
            pair[1] - pair[0]
        );
    }
    assert!(times.len() >= 3, "{times:?}");
}

/// Rule: bytes that arrive and are followed by a stall are reported
/// anyway: the count a progress event reports reaches what is on disk
/// within about one progress interval, without waiting for more data. A
/// raw server sends 300 kB, 30 ms later 300 kB more (inside the 100 ms
/// after the first progress event), then nothing.
#[test]
fn a_stall_does_not_hide_the_last_bytes() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/s.bin", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = conn.read(&mut buf).unwrap();
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n";
        conn.write_all(head.as_bytes()).unwrap();
        conn.write_all(&[1u8; 300_000]).unwrap();
        std::thread::sleep(Duration::from_millis(30)); // the link's pace
        conn.write_all(&[2u8; 300_000]).unwrap();
        let _ = stop_rx.recv(); // then silence until the test ends
    });
    let t = TestClient::new();
    let id = t.download(&url, "s.bin", opts_progress());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = 0;
    while seen < 600_000 {
        assert!(Instant::now() < deadline, "the count stayed at {seen}");
        for ev in t.client.wait(Duration::from_millis(50)) {
            assert_eq!((ev.id, ev.phase == Phase::Ended), (id, false));
            seen = seen.max(ev.bytes_transferred);
        }
    }
    assert_eq!(seen, 600_000);
    assert!(t.client.cancel(id));
    drop(stop_tx);
    server.join().unwrap();
}
