//! A local write error mid-download (the file-size limit, as a full disk
//! would) ends with NET_ERROR_IO and leaves no partial file. Alone in its
//! binary: the limit applies to the whole process.

mod common;
mod support;

use common::*;
use netdl::Options;
use support::Server;

/// Rule: a write error gives an I/O error event; the old file survives and
/// no temporary file remains.
#[test]
fn write_error_mid_download_is_io_error() {
    let server = Server::start();
    let t = TestClient::new();
    std::fs::create_dir_all(t.docs("")).unwrap();
    std::fs::write(t.docs("big.bin"), b"old").unwrap();
    // SAFETY: plain libc calls; SIGXFSZ ignored so write(2) fails with
    // EFBIG instead of killing the process.
    let old = unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let mut old = std::mem::zeroed::<libc::rlimit>();
        libc::getrlimit(libc::RLIMIT_FSIZE, &mut old);
        let lim = libc::rlimit {
            rlim_cur: 200_000,
            rlim_max: old.rlim_max,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
        old
    };
    let ev = t.ended(t.download(&server.url("/bytes/1000000"), "big.bin", Options::default()));
    // SAFETY: restores the previous limit.
    unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &old) };
    assert_eq!(error_name(&ev), "NET_ERROR_IO", "{:?}", ev.error);
    let msg = &ev.error.as_ref().unwrap().message;
    assert!(
        msg.contains("cannot write") && msg.contains("big.bin"),
        "{msg}"
    );
    assert_eq!(std::fs::read(t.docs("big.bin")).unwrap(), b"old");
    assert_eq!(t.files(), vec![t.docs("big.bin")]);
}
