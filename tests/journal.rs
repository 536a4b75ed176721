//! Persisted downloads (`net_options.persist`) survive their process: a
//! journal in the application-support folder, `net_restore` in the next
//! process, and what happens to records that cannot be trusted.

mod both_paths;
mod cbuild;
mod common;
mod support;

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::{files_in, TestClient};
use netdl::{BaseDir, Client, Event, Fetch, Options, Phase};
use support::Asset;
use support::Server;

const MIB: usize = 1024 * 1024;

/// Set in a child process: the folder of its directories, the server's
/// port, and what to do (`start` the downloads, or `restore` them).
const CHILD_DIR: &str = "NETDL_JOURNAL_CHILD_DIR";
const CHILD_PORT: &str = "NETDL_JOURNAL_CHILD_PORT";
const CHILD_DO: &str = "NETDL_JOURNAL_CHILD_DO";
/// How many files the child downloads (20 unless set).
const CHILD_FILES: &str = "NETDL_JOURNAL_CHILD_FILES";

/// The files of the kill test: 20, of 16 to 64 MiB.
fn sizes() -> Vec<usize> {
    (0..20).map(|i| (16 + (i * 48) / 19) * MIB).collect()
}

fn persisted(tag: &str) -> Options {
    Options {
        fetch: Fetch {
            persist: true,
            max_retries: 3,
            retry_delay: Some(Duration::from_millis(50)),
            tag: Some(netdl::request::check_tag(tag).unwrap()),
            ..Fetch::default()
        },
        ..Options::default()
    }
}

/// The journal files (not locks, nor damaged journals set aside).
fn records(dir: &Path) -> Vec<PathBuf> {
    let journal = dir.join("ApplicationSupport").join("netdl-journal");
    files_in(&journal)
        .into_iter()
        .filter(|p| p.extension().is_none_or(|e| e != "lock"))
        .filter(|p| !p.starts_with(journal.join("damaged")))
        .collect()
}

/// Rule (issue 14, kill test): 20 persisted downloads of 16-64 MiB from a
/// slow server survive three SIGKILLs of the processes running them (the
/// first process starts them, the next two restore and are killed too):
/// the last process restores 20 downloads with the right tags and the
/// RESTORED flag, every file is byte-exact, the server sent at most 1.1x
/// the files' total size, no partial or temporary file is left, and the
/// journal is empty. While a process runs the downloads, another one
/// restores nothing (its lock).
#[test]
fn downloads_survive_kills() {
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        return child(Path::new(&dir));
    }
    let server = Server::start();
    let sizes = sizes();
    let mut files = Vec::new();
    for (i, &len) in sizes.iter().enumerate() {
        let data = support::body(len, 100 + i as u64);
        // Each file takes 10 s at its pace: all are unfinished at the
        // last kill.
        let asset = Asset {
            rate: Some(len as u64 / 10),
            ..Asset::new(data.clone())
        };
        server.put(&format!("/f{i}.bin"), asset);
        files.push(data);
    }
    let total: u64 = sizes.iter().map(|&n| n as u64).sum();
    let sent = || -> u64 {
        (0..20)
            .map(|i| server.body_bytes_sent(&format!("/f{i}.bin")))
            .sum()
    };
    let dir = tempfile::tempdir().unwrap();

    // Killed at three points of the whole: each process runs until the
    // server has sent that much, then dies without warning.
    for (n, fraction) in [0.15, 0.40, 0.65].into_iter().enumerate() {
        let action = if n == 0 { "start" } else { "restore" };
        let mut child = spawn_child(dir.path(), server.port(), action);
        let goal = (total as f64 * fraction) as u64;
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut checked_lock = n > 0;
        while sent() < goal {
            assert!(
                Instant::now() < deadline,
                "{action}: stuck at {} bytes",
                sent()
            );
            assert!(
                child.try_wait().unwrap().is_none(),
                "the child ended by itself"
            );
            if !checked_lock && !records(dir.path()).is_empty() {
                // A live process holds its downloads: nothing to restore.
                let other = Client::new().unwrap();
                set_dirs(&other, dir.path());
                assert_eq!(other.restore(), 0, "restored what a live process runs");
                other.shutdown();
                checked_lock = true;
            }
            std::thread::sleep(Duration::from_millis(20)); // polling the server's count
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    assert!(
        !records(dir.path()).is_empty(),
        "the journal holds the downloads"
    );

    // The last process restores and finishes them.
    let t = TestClient::in_dir(dir);
    assert_eq!(t.client.restore(), 20);
    assert_eq!(
        t.client.restore(),
        0,
        "restoring twice starts nothing twice"
    );
    let mut began = BTreeSet::new();
    let mut ended: Vec<Event> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while ended.len() < 20 {
        assert!(Instant::now() < deadline, "{} of 20 ended", ended.len());
        for ev in t.client.wait(Duration::from_millis(200)) {
            assert_ne!(ev.flags & netdl::event::flags::RESTORED, 0, "{ev:?}");
            let tag = ev.tag().expect("a tag");
            match ev.phase {
                Phase::Began => assert!(began.insert((ev.id, tag)), "one began each"),
                Phase::Ended => {
                    assert!(began.contains(&(ev.id, tag)), "began came first");
                    ended.push(ev);
                }
                Phase::Progress => {}
            }
        }
    }
    let tags: BTreeSet<String> = began.iter().map(|(_, t)| t.clone()).collect();
    let want: BTreeSet<String> = (0..20).map(|i| format!("file-{i}")).collect();
    assert_eq!(tags, want);
    for ev in &ended {
        assert!(ev.error.is_none(), "{:?} {:?}", ev.tag(), ev.error);
        assert_eq!(ev.status, 200);
        let i: usize = ev.tag().unwrap()["file-".len()..].parse().unwrap();
        let got = std::fs::read(t.docs(&format!("f{i}.bin"))).unwrap();
        assert!(got == files[i], "f{i}.bin differs");
    }
    let ratio = sent() as f64 / total as f64;
    eprintln!("the server sent {ratio:.4}x the files' total size");
    assert!(ratio <= 1.1, "the server sent {ratio:.3}x the files");
    t.client.shutdown();
    assert_clean(&t, "");
}

/// After the downloads `f*.bin` of `t` ended: no other file is left
/// (partial data, temporary files) and no record.
fn assert_clean(t: &TestClient, what: &str) {
    let left: Vec<PathBuf> = files_in(&t.dir.path().join("Documents"))
        .into_iter()
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('f'))
        .collect();
    assert!(left.is_empty(), "{what}: left behind: {left:?}");
    assert_eq!(records(t.dir.path()), Vec::<PathBuf>::new(), "{what}");
}

fn spawn_child(dir: &Path, port: u16, action: &str) -> Child {
    child_command("downloads_survive_kills", dir, port, action)
        .spawn()
        .unwrap()
}

/// This test binary, running only `test` as a child in `dir`.
fn child_command(test: &str, dir: &Path, port: u16, action: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .env(CHILD_PORT, port.to_string())
        .env(CHILD_DO, action);
    cmd
}

fn set_dirs(client: &Client, dir: &Path) {
    for d in BaseDir::ALL {
        client
            .set_directory(d, &dir.join(format!("{d:?}")))
            .unwrap();
    }
}

/// Starts (or restores) the downloads, then runs them until killed.
fn child(dir: &Path) {
    let port: u16 = std::env::var(CHILD_PORT).unwrap().parse().unwrap();
    let client = Client::new().unwrap();
    set_dirs(&client, dir);
    let files: usize = std::env::var(CHILD_FILES).map_or(20, |n| n.parse().unwrap());
    if std::env::var(CHILD_DO).unwrap() == "start" {
        for i in 0..files {
            let url = format!("http://127.0.0.1:{port}/f{i}.bin");
            let opts = persisted(&format!("file-{i}"));
            client.download(&url, "GET", opts, &format!("f{i}.bin"), BaseDir::Documents);
        }
    } else {
        assert_eq!(client.restore(), files);
    }
    loop {
        for ev in client.wait(Duration::from_secs(1)) {
            assert!(ev.error.is_none(), "{:?}", ev.error);
        }
    }
}

/// Rule (issue 14, kill test "including during a journal write"): a
/// process killed at an exact point of a journal write -- half-way through
/// writing the temporary file, or with it whole but not yet renamed into
/// place -- loses nothing the journal on disk claims: the next process
/// restores every download, continues each from exactly the bytes that
/// journal claims (its first request's `Range`), finishes them
/// byte-exact, and leaves no temporary file, partial data or record. The
/// kill comes from tests/c/kill_in_journal.c, preloaded into the child.
#[test]
fn killed_during_a_journal_write() {
    const TEST: &str = "killed_during_a_journal_write";
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        return child(Path::new(&dir));
    }
    let shim_dir = tempfile::tempdir().unwrap();
    let shim = shim_dir.path().join("kill_in_journal.so");
    cbuild::compile_preload(&cbuild::root().join("tests/c/kill_in_journal.c"), &shim);
    // The 7th journal's second record, and the 8th journal's rename: by
    // then records claim data (one is written as each claim comes).
    for point in ["write 26", "rename 8"] {
        let server = Server::start();
        let files: Vec<Vec<u8>> = (0..4).map(|i| support::body(4 * MIB, 40 + i)).collect();
        for (i, data) in files.iter().enumerate() {
            let asset = Asset {
                rate: Some(MIB as u64), // 4 s each: unfinished at the kill
                ..Asset::new(data.clone())
            };
            server.put(&format!("/f{i}.bin"), asset);
        }
        let dir = tempfile::tempdir().unwrap();
        let mut child = child_command(TEST, dir.path(), server.port(), "start")
            .env(CHILD_FILES, "4")
            .env("NETDL_TEST_KILL", point)
            .env("LD_PRELOAD", &shim)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                child.kill().unwrap();
                panic!("{point}: the shim never killed the child");
            }
            std::thread::sleep(Duration::from_millis(20)); // polling its exit
        };
        assert_eq!(status.signal(), Some(9), "{point}: {status:?}");

        // What the kill left: the journal before it, and the one being
        // written.
        let left = records(dir.path());
        let name = |p: &PathBuf| p.file_name().unwrap().to_string_lossy().into_owned();
        let journal = left.iter().find(|p| name(p).ends_with(".journal"));
        let temp = left.iter().find(|p| name(p).ends_with(".journal.tmp"));
        let (Some(journal), Some(temp), 2) = (journal, temp, left.len()) else {
            panic!("{point}: left {left:?}");
        };
        let claimed = claims(&std::fs::read_to_string(journal).unwrap());
        assert_eq!(claimed.len(), 4, "{point}: {claimed:?}");
        assert!(
            claimed.values().any(|c| c.is_some()),
            "{point}: no claim yet"
        );
        let temp_text = std::fs::read(temp).unwrap();
        if point.starts_with("rename") {
            // Whole, and newer than the journal it was to replace.
            let whole = claims(&String::from_utf8(temp_text).unwrap());
            assert_eq!(whole.len(), 4, "{point}");
        }

        let t = TestClient::in_dir(dir);
        let asked: Vec<usize> = (0..4)
            .map(|i| server.requests_to(&format!("/f{i}.bin")).len())
            .collect();
        assert_eq!(t.client.restore(), 4, "{point}");
        let mut ended = 0;
        let deadline = Instant::now() + Duration::from_secs(30);
        while ended < 4 {
            assert!(Instant::now() < deadline, "{point}: {ended} of 4 ended");
            for ev in t.client.wait(Duration::from_millis(200)) {
                assert!(ev.error.is_none(), "{point}: {ev:?}");
                ended += usize::from(ev.phase == Phase::Ended);
            }
        }
        for (i, data) in files.iter().enumerate() {
            let path = format!("/f{i}.bin");
            assert!(
                std::fs::read(t.docs(&format!("f{i}.bin"))).unwrap() == *data,
                "{point}: f{i}.bin differs"
            );
            let first = &server.requests_to(&path)[asked[i]];
            let claim = claimed[&format!("file-{i}")];
            assert_eq!(
                first.header("range").map(String::from),
                claim.map(|n| format!("bytes={n}-")),
                "{point}: f{i}.bin continued from what the journal claimed"
            );
        }
        t.client.shutdown();
        assert_clean(&t, point);
        let damaged = t
            .dir
            .path()
            .join("ApplicationSupport/netdl-journal/damaged");
        assert!(!damaged.exists(), "{point}: a journal was set aside");
    }
}

/// The data each record of a journal's `text` claims, by tag (None: none).
fn claims(text: &str) -> std::collections::BTreeMap<String, Option<u64>> {
    let mut out = std::collections::BTreeMap::new();
    let mut tag = None;
    for line in text.lines() {
        if let Some(hex) = line.strip_prefix("tag ") {
            let bytes: Vec<u8> = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            tag = Some(String::from_utf8(bytes).unwrap());
        } else if let Some(size) = line.strip_prefix("size ") {
            let claim = size.parse().ok().filter(|&n| n > 0);
            out.insert(tag.take().expect("a tag first"), claim);
        }
    }
    out
}

/// A persisted download of `path` left half done by a client that shut
/// down: the folder (for the next client), its record and the size the
/// record claims.
fn left_behind(server: &Server, path: &str, file: &[u8]) -> (TestClient, PathBuf, u64) {
    let (t, record, size) = left_behind_after(server, path, file, |_| ());
    (t, record, size.expect("the record claims data"))
}

/// As `left_behind`, with `plant` run in the client's folder first; the
/// size the record claims, if any.
fn left_behind_after(
    server: &Server,
    path: &str,
    file: &[u8],
    plant: impl FnOnce(&TestClient),
) -> (TestClient, PathBuf, Option<u64>) {
    let asset = Asset {
        rate: Some(4 * MIB as u64),
        ..Asset::new(file.to_vec())
    };
    server.put(path, asset);
    let t = TestClient::new();
    plant(&t);
    let opts = Options {
        progress: true,
        ..persisted("left")
    };
    let id = t.download(&server.url(path), "p.bin", opts);
    t.wait_for_bytes(id, MIB as i64);
    let t = t.restarted(); // the shutdown records what is on disk
    let record = records(t.dir.path()).pop().expect("a record");
    let text = std::fs::read_to_string(&record).unwrap();
    let size = text
        .lines()
        .find_map(|l| l.strip_prefix("size "))
        .and_then(|s| s.parse().ok());
    (t, record, size)
}

/// Restores the one download of `t` and checks it ends with `file`;
/// returns the `Range` its first request asked for.
fn restore_one(t: &TestClient, server: &Server, path: &str, file: &[u8]) -> Option<String> {
    let asked = server.requests_to(path).len();
    assert_eq!(t.client.restore(), 1);
    let began = t.client.wait(Duration::from_secs(5)).remove(0);
    assert_eq!(began.phase, Phase::Began);
    assert_eq!(began.tag().as_deref(), Some("left"));
    let end = t.ended(began.id);
    assert!(end.error.is_none(), "{:?}", end.error);
    assert!(
        std::fs::read(t.docs("p.bin")).unwrap() == file,
        "byte-exact"
    );
    server.requests_to(path)[asked]
        .header("range")
        .map(String::from)
}

/// Rule: journals that cannot be read whole (a record cut short, random
/// bytes, written by a newer netdl) are moved into `damaged/`, their
/// readable records restored; a journal being written when its process
/// died (`.tmp`) is dropped; new downloads work as usual.
#[test]
fn damaged_journals_are_set_aside() {
    let server = Server::start();
    let file = support::body(8 * MIB, 21);
    let (t, journal, claimed) = left_behind(&server, "/d.bin", &file);
    let text = std::fs::read(&journal).unwrap();
    let root = journal.parent().unwrap();
    // Gone owners (their lock files are not held): each journal damaged.
    let owner = |name: &str, journal: &[u8]| {
        std::fs::write(root.join(format!("{name}.lock")), b"").unwrap();
        std::fs::write(root.join(format!("{name}.journal")), journal).unwrap();
    };
    let mut cut = text.clone(); // the good record, then half of another
    cut.extend_from_slice(&text[..text.len() / 2]);
    owner("1-1", &cut);
    owner("2-2", &support::body(700, 3));
    let newer = String::from_utf8(text.clone()).unwrap();
    owner(
        "3-3",
        newer
            .replacen("netdl-journal 1", "netdl-journal 2", 1)
            .as_bytes(),
    );
    std::fs::write(root.join("4-4.lock"), b"").unwrap();
    std::fs::write(root.join("4-4.journal.tmp"), &text[..10]).unwrap();
    // The good record twice (its own journal and 1-1's): one download.
    let range = restore_one(&t, &server, "/d.bin", &file);
    assert_eq!(range, Some(format!("bytes={claimed}-")));
    let damaged = root.join("damaged");
    let aside: Vec<String> = (files_in(&damaged).iter())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(aside, ["1-1.journal", "2-2.journal", "3-3.journal"]);
    // The journal does not get in the way of what comes next.
    server.put("/n.bin", Asset::new(support::body(1000, 4)));
    let id = t.download(&server.url("/n.bin"), "n.bin", persisted("next"));
    assert!(t.ended(id).error.is_none());
    t.client.shutdown(); // the journal's last writes are done
    assert_eq!(
        records(t.dir.path()),
        Vec::<PathBuf>::new(),
        "the records went"
    );
    // Adopted owners are gone, locks and all; only the last client's lock.
    let left: Vec<PathBuf> = (std::fs::read_dir(root).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

/// Rule: a record whose data vanished restarts from the first byte; data
/// that grew past what the record claims (bytes never flushed for it) is
/// cut back and continued from the claim; data shorter than the claim is
/// not trusted (from the first byte), nor is a validator with control
/// bytes in it (it would go back to the server in `If-Range`).
#[test]
fn records_whose_data_changed() {
    let server = Server::start();
    let file = support::body(8 * MIB, 22);
    let data = |t: &TestClient| t.docs(".p.bin.netdl-partial");

    let gone = |t: TestClient| {
        t.client.shutdown(); // the journal's last writes are done
        assert_eq!(
            records(t.dir.path()),
            Vec::<PathBuf>::new(),
            "the record went"
        );
    };
    let (t, _, _) = left_behind(&server, "/v.bin", &file);
    std::fs::remove_file(data(&t)).unwrap();
    assert_eq!(restore_one(&t, &server, "/v.bin", &file), None);
    gone(t);

    let (t, _, claimed) = left_behind(&server, "/g.bin", &file);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(data(&t))
        .unwrap();
    std::io::Write::write_all(&mut f, &[0xAB; 4096]).unwrap();
    drop(f);
    let range = restore_one(&t, &server, "/g.bin", &file);
    assert_eq!(range, Some(format!("bytes={claimed}-")));
    gone(t);

    let (t, _, claimed) = left_behind(&server, "/s.bin", &file);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(data(&t))
        .unwrap();
    f.set_len(claimed / 2).unwrap();
    drop(f);
    assert_eq!(restore_one(&t, &server, "/s.bin", &file), None);
    gone(t);

    // A validator altered on disk to smuggle a header line is not sent:
    // the download starts from the first byte.
    let (t, journal, _) = left_behind(&server, "/i.bin", &file);
    alter(&journal, "validator", b"\"v\"\r\nX-Injected: 1");
    assert_eq!(restore_one(&t, &server, "/i.bin", &file), None);
    let last = server.requests_to("/i.bin").pop().unwrap();
    assert_eq!(last.header("x-injected"), None);
    gone(t);
}

/// Rule: where a persisted download's partial-data name cannot be had (a
/// folder is in the way), the download runs all the same; its record
/// claims no data, so the next process restores it from the first byte.
/// The folder is left alone. (On both paths: the unnamed file cannot be
/// linked in under that name, the named one cannot be created there.)
#[test]
fn partial_name_taken_restores_from_the_first_byte() {
    let server = Server::start();
    let file = support::body(8 * MIB, 24);
    let folder = |t: &TestClient| t.docs(".p.bin.netdl-partial");
    let plant = |t: &TestClient| {
        std::fs::create_dir_all(folder(t)).unwrap();
        std::fs::write(folder(t).join("mine"), b"x").unwrap();
    };
    let (t, _, claimed) = left_behind_after(&server, "/t.bin", &file, plant);
    assert_eq!(claimed, None, "the record claims no data");
    assert_eq!(restore_one(&t, &server, "/t.bin", &file), None);
    assert_eq!(std::fs::read(folder(&t).join("mine")).unwrap(), b"x");
    t.client.shutdown();
    let left: Vec<PathBuf> = files_in(&t.dir.path().join("Documents"));
    assert_eq!(left, [folder(&t).join("mine"), t.docs("p.bin")]);
    assert_eq!(records(t.dir.path()), Vec::<PathBuf>::new());
}

/// Sets the field `name` of every record in `journal` to `value`.
fn alter(journal: &Path, name: &str, value: &[u8]) {
    let text = std::fs::read_to_string(journal).unwrap();
    let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
    let altered: String = (text.lines())
        .map(|l| match l.split_once(' ') {
            Some((n, _)) if n == name => format!("{name} {hex}\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    assert_ne!(altered, text, "no field {name}");
    std::fs::write(journal, altered).unwrap();
}

/// Rule: a record that no longer makes a request (here altered on disk to
/// a filename outside its base folder) is restored as a failure the app
/// can map: a `began` and an `ended` with InvalidArgument, both with the
/// RESTORED flag and the record's tag; nothing is asked of the server or
/// written outside the folder, and the record is gone for the next
/// restore.
#[test]
fn records_that_cannot_be_built() {
    let server = Server::start();
    let file = support::body(4 * MIB, 25);
    let (t, journal, _) = left_behind(&server, "/b.bin", &file);
    alter(&journal, "filename", b"../escape.bin");
    let asked = server.requests_to("/b.bin").len();
    assert_eq!(t.client.restore(), 1);
    // Both queued by the call itself.
    let evs = t.client.poll();
    assert_eq!(evs.len(), 2, "{evs:?}");
    let restored = netdl::event::flags::RESTORED;
    assert_eq!((evs[0].phase, evs[0].is_error()), (Phase::Began, false));
    assert_eq!((evs[1].phase, evs[1].id), (Phase::Ended, evs[0].id));
    let err = evs[1].error.as_ref().unwrap();
    assert_eq!(err.kind, netdl::ErrorKind::InvalidArgument, "{err:?}");
    for ev in &evs {
        assert_eq!(ev.flags, restored);
        assert_eq!(ev.tag().as_deref(), Some("left"));
    }
    let t = t.restarted();
    assert_eq!(t.client.restore(), 0, "the record went");
    assert_eq!(server.requests_to("/b.bin").len(), asked);
    assert!(!t.dir.path().join("escape.bin").exists());
}

/// Rule: `net_queue_restore` sends the restored downloads' events to the
/// queue it names (a binding's own), none to the default queue.
#[test]
fn restore_into_a_queue() {
    let server = Server::start();
    let file = support::body(4 * MIB, 23);
    let (t, _, _) = left_behind(&server, "/q.bin", &file);
    let q = t.client.create_queue().unwrap();
    assert_eq!(t.client.restore_to(Some(&q)), 1);
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.last().is_none_or(|e: &Event| e.phase != Phase::Ended) {
        assert!(Instant::now() < deadline, "{got:?}");
        got.extend(t.client.wait_queue(Some(&q), Duration::from_millis(100)));
    }
    assert_eq!(got[0].phase, Phase::Began);
    assert_eq!(got[0].tag().as_deref(), Some("left"));
    assert!(got.last().unwrap().error.is_none());
    assert!(t.client.poll().is_empty(), "nothing in the default queue");
    assert!(std::fs::read(t.docs("p.bin")).unwrap() == file);
}

/// The cases above again on the named temporary file (`NETDL_TEMP_FILE=named`,
/// netdl's fallback where unnamed files cannot be linked in): there a
/// persisted download writes `.NAME.netdl-partial` from its first byte.
/// All but the kill test, whose 1.1x bound assumes the CPU it gets alone
/// (two of it at once on two cores leave more bytes in socket buffers at
/// each kill); the others kill nothing but cover the same named data.
#[test]
fn named_temp_file_path_runs_every_case() {
    both_paths::rerun_named_skipping(
        "named_temp_file_path_runs_every_case",
        &["downloads_survive_kills"],
    );
}

/// Rule: when the journal cannot be made (the application-support folder
/// is under a file, not a folder), persisted downloads still run and
/// finish, and `net_restore` finds nothing, without a crash or a hang.
#[test]
fn no_journal_folder_persist_still_downloads() {
    let server = Server::start();
    let data = support::body(100_000, 31);
    server.put("/nf.bin", Asset::new(data.clone()));
    let t = TestClient::new();
    let blocker = t.dir.path().join("a-file");
    std::fs::write(&blocker, b"x").unwrap();
    (t.client)
        .set_directory(BaseDir::ApplicationSupport, &blocker.join("support"))
        .unwrap();
    let id = t.download(&server.url("/nf.bin"), "nf.bin", persisted("nf"));
    let end = t.ended(id);
    assert!(end.error.is_none(), "{:?}", end.error);
    assert_eq!(end.tag().as_deref(), Some("nf"));
    assert!(std::fs::read(t.docs("nf.bin")).unwrap() == data);
    assert_eq!(t.client.restore(), 0);
    t.client.shutdown();
}
