//! A local write error mid-download (the file-size limit, as a full disk
//! would) ends with NET_ERROR_IO and leaves no partial file, on both
//! temporary-file paths (the named one with `NETDL_TEMP_FILE=named`, in a
//! child process). Alone in its binary: the limit applies to the whole
//! process.

mod both_paths;
mod common;
mod support;

use std::sync::Mutex;

use common::*;
use netdl::Options;
use support::Server;

/// Held while the file-size limit is lowered, so that the child process of
/// `named_temp_file_path_runs_every_case` does not inherit it.
static LIMIT: Mutex<()> = Mutex::new(());

/// Rule: a write error gives an I/O error event; the old file survives and
/// no temporary file remains.
#[test]
fn write_error_mid_download_is_io_error() {
    let server = Server::start();
    let t = TestClient::new();
    std::fs::create_dir_all(t.docs("")).unwrap();
    std::fs::write(t.docs("big.bin"), b"old").unwrap();
    let limit = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
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
    let id = t.download(&server.url("/bytes/1000000"), "big.bin", Options::default());
    let ev = t.ended(id);
    // SAFETY: restores the previous limit.
    unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &old) };
    drop(limit);
    assert_eq!(error_name(&ev), "NET_ERROR_IO", "{:?}", ev.error);
    // The file written: the `.part` file on the named path, the target's
    // own name (an unnamed file has none) on the other.
    let written = both_paths::temp_files_while_writing(&t.docs("big.bin"), id)
        .pop()
        .unwrap_or(t.docs("big.bin"));
    let msg = &ev.error.as_ref().unwrap().message;
    let want = format!("cannot write {}: ", written.display());
    assert!(msg.starts_with(&want), "{msg:?} should start with {want:?}");
    assert_eq!(std::fs::read(t.docs("big.bin")).unwrap(), b"old");
    assert_eq!(t.files(), vec![t.docs("big.bin")]);
}

/// The case above again, on the named temporary file.
#[test]
fn named_temp_file_path_runs_every_case() {
    let _limit = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    both_paths::rerun_named("named_temp_file_path_runs_every_case");
}
