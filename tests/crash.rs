//! A download cut short by the death of its process leaves nothing behind.

mod common;
mod support;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::files_in;
use netdl::{BaseDir, Client, Options, Phase};

/// Set in the child process: the URL to download, and the folder.
const CHILD_URL: &str = "NETDL_CRASH_CHILD_URL";
const CHILD_DIR: &str = "NETDL_CRASH_CHILD_DIR";
/// What the child prints once part of the body is in its file.
const WRITING: &str = "netdl-crash-child: writing";

/// Rule: a process killed in the middle of a download leaves neither the
/// target nor any temporary file: the body goes to a file with no name
/// (`O_TMPFILE`) until it is complete. Where the file system has no such
/// files, netdl falls back to a named temporary file, which a kill leaves
/// behind; then only the target's absence is checked.
#[test]
fn killed_mid_download_leaves_nothing() {
    if let (Some(url), Some(dir)) = (std::env::var_os(CHILD_URL), std::env::var_os(CHILD_DIR)) {
        return child(&url.to_string_lossy(), Path::new(&dir));
    }
    let server = support::Server::start();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "killed_mid_download_leaves_nothing",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_URL, server.url("/slow/10000000?chunk=4096&ms=20"))
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    // The test harness prints its own lines too; EOF means the child died.
    let writing = stdout
        .lines()
        .map_while(Result::ok)
        .any(|line| line == WRITING);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(writing, "the child never wrote part of the body");

    assert!(
        !dir.path().join("big.bin").exists(),
        "no partial file as the target"
    );
    let unnamed_files = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .open(dir.path())
        .is_ok();
    if unnamed_files {
        assert_eq!(files_in(dir.path()), Vec::<std::path::PathBuf>::new());
    } else {
        eprintln!("no O_TMPFILE on this file system: only the target was checked");
    }
}

/// Starts the download and reports once some of it was written; then waits
/// to be killed.
fn child(url: &str, dir: &Path) {
    let client = Client::new().unwrap();
    client.set_directory(BaseDir::Documents, dir).unwrap();
    let opts = Options {
        progress: true,
        ..Options::default()
    };
    client.download(url, "GET", opts, "big.bin", BaseDir::Documents);
    loop {
        for ev in client.wait(Duration::from_millis(100)) {
            assert_ne!(ev.phase, Phase::Ended, "ended too soon: {:?}", ev.error);
            if ev.phase == Phase::Progress && ev.bytes_transferred >= 8192 {
                println!("{WRITING}");
            }
        }
    }
}
