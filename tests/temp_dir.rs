//! The default `NET_DIR_TEMPORARY` folder, `$TMPDIR/<app>-<uid>`, lies
//! where every local user may create entries. netdl creates it with mode
//! 0700 and uses an existing one only when it is a real directory owned by
//! this uid and not writable by group or others; otherwise the download
//! ends with `NET_ERROR_IO` naming the folder, and nothing is written.
//!
//! Each case runs in a child process of this test binary whose `TMPDIR` is
//! a fresh private folder (the environment is set before the child starts:
//! setting it in this multi-threaded process could race with libcurl's own
//! reads of the environment). The child downloads into `NET_DIR_TEMPORARY`
//! and prints each `ended` event; this process plants the folder first and
//! checks the files afterwards. The tests run as root (`chown`).

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use netdl::{BaseDir, Client, Options, Phase};

/// Set in the child: the URL to download.
const CHILD_URL: &str = "NETDL_TEMP_DIR_CHILD_URL";
/// Set in the child: `NET_DIR_TEMPORARY` is overridden with this folder.
const CHILD_OVERRIDE: &str = "NETDL_TEMP_DIR_CHILD_OVERRIDE";
/// Set in the child: download twice, and hand the folder to `nobody` in
/// between (as if it had been removed and planted again).
const CHILD_CHOWN_BETWEEN: &str = "NETDL_TEMP_DIR_CHILD_CHOWN_BETWEEN";
/// How the child reports an `ended` event: `PREFIX error|message|status`.
const PREFIX: &str = "netdl-temp-dir-child:";
const NOBODY: u32 = 65534;

/// What the child saw of one download.
#[derive(Debug, PartialEq, Eq)]
struct Ended {
    error: String,
    message: String,
    status: i32,
}

impl Ended {
    fn ok() -> Ended {
        Ended {
            error: "NET_ERROR_NONE".into(),
            message: String::new(),
            status: 200,
        }
    }
    fn refused(folder: &Path, reason: &str) -> Ended {
        Ended {
            error: "NET_ERROR_IO".into(),
            message: format!("{} {reason}; refusing to use it", folder.display()),
            status: 0,
        }
    }
}

/// A private `TMPDIR` for one child, and the default temporary folder
/// netdl derives from it.
struct Tmp {
    dir: tempfile::TempDir,
}

impl Tmp {
    fn new() -> Tmp {
        Tmp {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    /// `$TMPDIR/netdl-<uid>`.
    fn folder(&self) -> PathBuf {
        self.dir.path().join(format!("netdl-{}", uid()))
    }
}

fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Runs the test `name` alone in a child process with `TMPDIR` set to
/// `tmp`; returns the `ended` events it printed, in order.
fn run_child(name: &str, tmp: &Tmp, url: &str, extra: &[(&str, &Path)]) -> Vec<Ended> {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("TMPDIR", tmp.dir.path())
        .env(CHILD_URL, url);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        // The harness may print `test NAME ... ` on the same line first.
        .filter_map(|l| l.split_once(PREFIX).map(|(_, rest)| rest))
        .map(|l| {
            let mut f = l.trim().splitn(3, '|');
            let (error, status, message) = (f.next(), f.next(), f.next());
            Ended {
                error: error.unwrap().into(),
                status: status.unwrap().parse().unwrap(),
                message: message.unwrap_or("").into(),
            }
        })
        .collect()
}

/// The child's side: downloads into `NET_DIR_TEMPORARY` (default path,
/// unless overridden) and prints the `ended` event.
fn child(url: &str) {
    // SAFETY: umask has no preconditions. The usual mask, so that a folder
    // made without an explicit mode would come out 0755.
    unsafe { libc::umask(0o022) };
    let client = Client::new().unwrap();
    if let Some(dir) = std::env::var_os(CHILD_OVERRIDE) {
        client
            .set_directory(BaseDir::Temporary, Path::new(&dir))
            .unwrap();
    }
    let base = client.directory(BaseDir::Temporary).unwrap();
    download_and_print(&client, url, "x.bin");
    if std::env::var_os(CHILD_CHOWN_BETWEEN).is_some() {
        std::os::unix::fs::chown(&base, Some(NOBODY), Some(NOBODY)).unwrap();
        download_and_print(&client, url, "y.bin");
    }
}

fn download_and_print(client: &Client, url: &str, filename: &str) {
    let id = client.download(url, "GET", Options::default(), filename, BaseDir::Temporary);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        for ev in client.wait(Duration::from_millis(200)) {
            if ev.id == id && ev.phase == Phase::Ended {
                let (name, message) = match &ev.error {
                    Some(e) => (e.kind.name(), e.message.as_str()),
                    None => ("NET_ERROR_NONE", ""),
                };
                println!("{PREFIX} {name}|{}|{message}", ev.status);
                return;
            }
        }
    }
    panic!("no ended event for {id}");
}

fn child_mode() -> Option<String> {
    std::env::var(CHILD_URL).ok()
}

/// Every entry of `dir` (none expected in a refused folder).
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

/// Rule: a fresh default temporary folder is created with mode 0700 (the
/// umask would give 0755) and the download lands in it byte for byte.
#[test]
fn fresh_folder_is_created_0700() {
    if let Some(url) = child_mode() {
        return child(&url);
    }
    let server = support::Server::start();
    let tmp = Tmp::new();
    let got = run_child(
        "fresh_folder_is_created_0700",
        &tmp,
        &server.url("/bytes/30000?seed=3"),
        &[],
    );
    assert_eq!(got, vec![Ended::ok()]);
    let folder = tmp.folder();
    assert!(std::fs::symlink_metadata(&folder).unwrap().is_dir());
    assert_eq!(mode(&folder), 0o700);
    assert_eq!(std::fs::metadata(&folder).unwrap().uid(), uid());
    assert_eq!(
        std::fs::read(folder.join("x.bin")).unwrap(),
        support::body(30_000, 3)
    );
    assert_eq!(entries(&folder), vec![folder.join("x.bin")]);
}

/// Rule: a folder planted by another user (owned by `nobody`) is refused:
/// `NET_ERROR_IO` naming the folder and its owner; nothing is written.
#[test]
fn folder_owned_by_another_user_is_refused() {
    if let Some(url) = child_mode() {
        return child(&url);
    }
    if !is_root() {
        eprintln!("not root: cannot hand a folder to another user; skipped");
        return;
    }
    let server = support::Server::start();
    let tmp = Tmp::new();
    let folder = tmp.folder();
    std::fs::create_dir(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&folder, Some(NOBODY), Some(NOBODY)).unwrap();
    let got = run_child(
        "folder_owned_by_another_user_is_refused",
        &tmp,
        &server.url("/bytes/30000"),
        &[],
    );
    let reason = format!("is owned by uid {NOBODY}, not {}", uid());
    assert_eq!(got, vec![Ended::refused(&folder, &reason)]);
    assert_eq!(entries(&folder), Vec::<PathBuf>::new());
    assert_eq!(server.requests(), 0, "refused before connecting");
}

/// Rule: a symbolic link planted in the folder's place is not followed,
/// even when it points to a folder of this user.
#[test]
fn symlink_in_place_of_the_folder_is_refused() {
    if let Some(url) = child_mode() {
        return child(&url);
    }
    let server = support::Server::start();
    let tmp = Tmp::new();
    let folder = tmp.folder();
    let target = tmp.dir.path().join("elsewhere");
    std::fs::create_dir(&target).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&target, &folder).unwrap();
    let got = run_child(
        "symlink_in_place_of_the_folder_is_refused",
        &tmp,
        &server.url("/bytes/30000"),
        &[],
    );
    assert_eq!(got, vec![Ended::refused(&folder, "is a symbolic link")]);
    assert_eq!(entries(&target), Vec::<PathBuf>::new());
    assert!(std::fs::symlink_metadata(&folder).unwrap().is_symlink());
}

/// Rule: a folder others may write to (0777) is refused.
#[test]
fn world_writable_folder_is_refused() {
    if let Some(url) = child_mode() {
        return child(&url);
    }
    let server = support::Server::start();
    let tmp = Tmp::new();
    let folder = tmp.folder();
    std::fs::create_dir(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o777)).unwrap();
    let got = run_child(
        "world_writable_folder_is_refused",
        &tmp,
        &server.url("/bytes/30000"),
        &[],
    );
    let reason = "is writable by group or others (mode 777)";
    assert_eq!(got, vec![Ended::refused(&folder, reason)]);
    assert_eq!(entries(&folder), Vec::<PathBuf>::new());
    assert_eq!(mode(&folder), 0o777, "left as it was");
}

/// Rule: the check runs before every download into the folder, not only
/// the first time netdl makes it: a folder that changed hands since is
/// refused.
#[test]
fn folder_that_changed_hands_is_refused_next_time() {
    if let Some(url) = child_mode() {
        return child(&url);
    }
    if !is_root() {
        eprintln!("not root: cannot hand a folder to another user; skipped");
        return;
    }
    let server = support::Server::start();
    let tmp = Tmp::new();
    let folder = tmp.folder();
    let got = run_child(
        "folder_that_changed_hands_is_refused_next_time",
        &tmp,
        &server.url("/bytes/1000"),
        &[(CHILD_CHOWN_BETWEEN, Path::new("1"))],
    );
    let reason = format!("is owned by uid {NOBODY}, not {}", uid());
    assert_eq!(got, vec![Ended::ok(), Ended::refused(&folder, &reason)]);
    assert_eq!(entries(&folder), vec![folder.join("x.bin")]);
}

/// Rule: a folder the application chose with `net_set_directory` is its
/// own business and is not checked (here: 0777, used as it is).
#[test]
fn overridden_temporary_folder_is_trusted() {
    if let Some(url) = child_mode() {
        return child(&url);
    }
    let server = support::Server::start();
    let tmp = Tmp::new();
    let chosen = tmp.dir.path().join("chosen");
    std::fs::create_dir(&chosen).unwrap();
    std::fs::set_permissions(&chosen, std::fs::Permissions::from_mode(0o777)).unwrap();
    let got = run_child(
        "overridden_temporary_folder_is_trusted",
        &tmp,
        &server.url("/bytes/2000?seed=9"),
        &[(CHILD_OVERRIDE, &chosen)],
    );
    assert_eq!(got, vec![Ended::ok()]);
    assert_eq!(
        std::fs::read(chosen.join("x.bin")).unwrap(),
        support::body(2000, 9)
    );
    assert!(!tmp.folder().exists(), "the default folder is not made");
}
