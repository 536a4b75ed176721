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

/// Rule: a request body sent from memory that keeps moving is activity:
/// an upload that takes several times the 1 s limit, because the server
/// reads it slowly, is not cut off (before, only the response counted).
#[test]
fn slow_upload_from_memory_is_not_killed() {
    use std::io::{Read, Write};
    const BODY: usize = 32 << 20;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // A small receive buffer (inherited by the accepted socket), so the
    // client waits on the server's pace rather than filling kernel buffers.
    let size: libc::c_int = 64 * 1024;
    // SAFETY: a valid socket descriptor and a c_int option of its size.
    let rc = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&listener),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let start = Instant::now();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        // libcurl asks before sending a body over 1 MiB.
        if String::from_utf8_lossy(&head)
            .to_ascii_lowercase()
            .contains("expect: 100-continue")
        {
            s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap();
        }
        // 256 KiB every 30 ms: 32 MiB take about 4 s. Fast enough that
        // what waits in the client's socket buffer (4 MiB at most with
        // Linux's default tcp_wmem) drains well within the limit once
        // libcurl has handed over the whole body.
        let mut got = 0;
        let mut buf = vec![0u8; 256 * 1024];
        while got < BODY {
            let want = buf.len().min(BODY - got);
            s.read_exact(&mut buf[..want]).unwrap();
            got += want;
            std::thread::sleep(Duration::from_millis(30)); // the slow reader itself
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
        start.elapsed()
    });
    let t = TestClient::new();
    let opts = Options {
        body: Some(netdl::Body::Bytes(vec![7; BODY])),
        ..one_second()
    };
    let id = t
        .client
        .request(&format!("http://127.0.0.1:{port}/up"), "POST", opts);
    let ev = t.ended(id);
    assert!(!ev.is_error(), "{ev:?}");
    assert_eq!((ev.status, ev.body.as_deref()), (200, Some(&b"ok"[..])));
    let took = server.join().unwrap();
    assert!(
        took > Duration::from_secs(2),
        "the upload was slow: {took:?}"
    );
}
