//! A download cut short by the death of its process leaves nothing behind
//! on the unnamed temporary file, and only its `.part` file on the named
//! one (`NETDL_TEMP_FILE=named`: this binary runs again in a child process
//! with it set).

mod both_paths;
mod common;
mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::files_in;
use netdl::{BaseDir, Client, Options, Phase};

/// Set in the child process: the URL to download, and the folder.
const CHILD_URL: &str = "NETDL_CRASH_CHILD_URL";
const CHILD_DIR: &str = "NETDL_CRASH_CHILD_DIR";
/// What the child prints, followed by the request's id, once part of the
/// body is in its file.
const WRITING: &str = "netdl-crash-child: writing";

/// Rule: a process killed in the middle of a download leaves neither the
/// target nor any temporary file: the body goes to a file with no name
/// (`O_TMPFILE`) until it is complete. On the named temporary file (forced
/// here with `NETDL_TEMP_FILE=named`, and netdl's fallback where unnamed
/// files cannot be linked in) the kill leaves exactly that file,
/// `.big.bin.netdl-ID.part`, as the README says; never the target.
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
    let id: Option<u64> = stdout.lines().map_while(Result::ok).find_map(|line| {
        // The harness may print `test NAME ... ` on the same line first.
        line.split_once(WRITING)
            .map(|(_, id)| id)
            .and_then(|id| id.trim().parse().ok())
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let id = id.expect("the child never wrote part of the body");

    let target = dir.path().join("big.bin");
    assert!(!target.exists(), "no partial file as the target");
    let left = both_paths::temp_files_while_writing(&target, id);
    assert_eq!(files_in(dir.path()), left);
}

/// The case above again, on the named temporary file.
#[test]
fn named_temp_file_path_runs_every_case() {
    both_paths::rerun_named("named_temp_file_path_runs_every_case");
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
    let id = client.download(url, "GET", opts, "big.bin", BaseDir::Documents);
    loop {
        for ev in client.wait(Duration::from_millis(100)) {
            assert_ne!(ev.phase, Phase::Ended, "ended too soon: {:?}", ev.error);
            if ev.phase == Phase::Progress && ev.bytes_transferred >= 8192 {
                println!("{WRITING} {id}");
            }
        }
    }
}
