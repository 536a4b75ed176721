//! Runs a test binary's cases on both ways netdl writes a download: into
//! an unnamed file (`O_TMPFILE`, linked in when complete; what this
//! machine uses) and into the named temporary file `.NAME.netdl-ID.part`
//! it falls back to elsewhere. `NETDL_TEMP_FILE=named` forces the second;
//! [`rerun_named`] runs the binary again in a child process with it set.
#![allow(dead_code)]

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The variable netdl reads (once per process).
pub const VAR: &str = "NETDL_TEMP_FILE";

/// True when this process runs with `NETDL_TEMP_FILE=named`.
pub fn named() -> bool {
    std::env::var_os(VAR).is_some_and(|v| v == "named")
}

/// Runs every test of this binary except `runner` (the test calling this)
/// in a child process with `NETDL_TEMP_FILE=named`, and fails with the
/// child's output unless all of them pass. In that child, or when this
/// process already runs named, there is nothing to add: returns at once.
pub fn rerun_named(runner: &str) {
    rerun_named_skipping(runner, &[]);
}

/// [`rerun_named`], also skipping the tests `also` names (exactly).
pub fn rerun_named_skipping(runner: &str, also: &[&str]) {
    if named() {
        return;
    }
    let skips = also.iter().flat_map(|t| ["--skip", t]);
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "--skip", runner])
        .args(skips)
        .env(VAR, "named")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "with {VAR}=named:\n{stdout}\n{stderr}"
    );
    let passed: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("test result: ok. "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed > 0, "no test ran with {VAR}=named:\n{stdout}");
}

/// `DIR/.NAME.netdl-ID.part` for the target `DIR/NAME`.
pub fn part_file(target: &Path, id: u64) -> PathBuf {
    let name = target.file_name().unwrap().to_string_lossy();
    target.with_file_name(format!(".{name}.netdl-{id}.part"))
}

/// The files netdl has beside `target` while request `id` writes its
/// body: the `.part` file on the named path (forced, or where unnamed
/// files cannot be linked in), nothing on the unnamed one.
pub fn temp_files_while_writing(target: &Path, id: u64) -> Vec<PathBuf> {
    if named() || !unnamed_files_work(target.parent().unwrap()) {
        vec![part_file(target, id)]
    } else {
        Vec::new()
    }
}

/// Whether an unnamed file can be made in `dir` and linked in, as netdl
/// asks before its first download.
pub fn unnamed_files_work(dir: &Path) -> bool {
    let Ok(file) = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .open(dir)
    else {
        return false;
    };
    let probe = dir.join(format!(".netdl-probe-{}", std::process::id()));
    let c_probe = CString::new(probe.as_os_str().as_bytes()).unwrap();
    // SAFETY: the descriptor is open for the whole call; both strings are
    // NUL-terminated and outlive it.
    let rc = unsafe {
        libc::linkat(
            file.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            c_probe.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    let _ = std::fs::remove_file(&probe);
    rc == 0
}
