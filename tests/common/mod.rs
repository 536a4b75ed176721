//! Client-side helpers shared by the integration tests: an isolated client
//! whose directories live in a fresh temporary folder, and waiting for the
//! events of one request.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use netdl::{BaseDir, Client, Event, Options, Phase};

/// A client whose every base directory is inside `dir`.
pub struct TestClient {
    pub client: Client,
    pub dir: tempfile::TempDir,
    /// Events polled while waiting for another id, kept for later.
    stash: std::sync::Mutex<Vec<Event>>,
}

impl TestClient {
    pub fn new() -> TestClient {
        TestClient::in_dir(tempfile::tempdir().expect("temp dir"))
    }

    /// A new client on the same directories, as after a restart of the
    /// process: this one shuts down first.
    pub fn restarted(self) -> TestClient {
        self.client.shutdown();
        TestClient::in_dir(self.dir)
    }

    pub fn in_dir(dir: tempfile::TempDir) -> TestClient {
        let client = Client::new().expect("client starts");
        for d in BaseDir::ALL {
            let path = dir.path().join(format!("{d:?}"));
            client.set_directory(d, &path).unwrap();
        }
        TestClient {
            client,
            dir,
            stash: Default::default(),
        }
    }

    /// Where `filename` lands in `NET_DIR_DOCUMENTS`.
    pub fn docs(&self, filename: &str) -> PathBuf {
        self.dir.path().join("Documents").join(filename)
    }

    pub fn download(&self, url: &str, filename: &str, opts: Options) -> u64 {
        self.client
            .download(url, "GET", opts, filename, BaseDir::Documents)
    }

    /// Every event of `id` until (and including) its `ended`, in order.
    /// Fails the test after `limit`.
    pub fn events_until_ended(&self, id: u64, limit: Duration) -> Vec<Event> {
        let deadline = Instant::now() + limit;
        let mut got = Vec::new();
        let mut pending = std::mem::take(&mut *self.stash.lock().unwrap());
        loop {
            let mut rest = Vec::new();
            let mut done = false;
            for ev in pending {
                if ev.id == id && !done {
                    done = ev.phase == Phase::Ended;
                    got.push(ev);
                } else {
                    rest.push(ev);
                }
            }
            self.stash.lock().unwrap().extend(rest);
            if done {
                return got;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no ended event for {id} within {limit:?}; got {got:?}"
            );
            pending = self.client.wait(left);
        }
    }

    /// Waits until an event of `id` reports at least `bytes` transferred
    /// (events polled meanwhile are dropped); fails the test after 20 s.
    pub fn wait_for_bytes(&self, id: u64, bytes: i64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            assert!(
                Instant::now() < deadline,
                "{id}: {bytes} bytes never reported"
            );
            let events = self.client.wait(Duration::from_millis(20));
            if events
                .iter()
                .any(|e| e.id == id && e.bytes_transferred >= bytes)
            {
                return;
            }
        }
    }

    /// The `ended` event of `id` (other events of `id` are skipped).
    pub fn ended(&self, id: u64) -> Event {
        self.events_until_ended(id, Duration::from_secs(20))
            .pop()
            .unwrap()
    }

    /// Every file left in any base directory (to spot temporary files).
    pub fn files(&self) -> Vec<PathBuf> {
        files_in(self.dir.path())
    }
}

/// Every regular file under `dir`, sorted.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// True when no temporary (`.part`) file remains under `dir`.
pub fn no_temp_files(dir: &Path) -> bool {
    files_in(dir)
        .iter()
        .all(|f| !f.to_string_lossy().ends_with(".part"))
}

pub fn opts_progress() -> Options {
    Options {
        progress: true,
        ..Options::default()
    }
}

pub fn error_name(ev: &Event) -> &'static str {
    ev.error
        .as_ref()
        .map_or("NET_ERROR_NONE", |e| e.kind.name())
}
