//! The journal of persisted downloads (`net_options.persist`): what a later
//! process needs to finish them after this one was killed.
//!
//! Layout, in `NET_DIR_APPLICATION_SUPPORT/netdl-journal/`:
//! - `OWNER.lock`: held (`flock`) by the live client that owns
//!   `OWNER.journal`; OWNER is `PID-NANOS`.
//! - `OWNER.journal`: one record per persisted download of that owner (the
//!   request, its options, and what its data on disk is; `agent::record`
//!   text records one after another), replaced atomically: temporary file,
//!   `fsync`, rename, `fsync` of the folder; deleted when it holds none.
//!   Data files are flushed (`fdatasync`) before the journal claims their
//!   bytes, as Android's DownloadManager does: after a crash the data
//!   holds at least what the journal says.
//! - `damaged/`: journals that could not be read whole, moved aside.
//!
//! The journal is written by a thread of its own (never the game's thread,
//! never the network thread, which sends a running download's record at
//! most every `EVERY`): at once for a record that claims more data and
//! when asked (`flush`: suspend, shutdown), otherwise at most every
//! `WRITE_EVERY`, so a download that ends soon after it was queued never
//! touches the disk. `adopt`
//! takes the journals of owners whose lock is free (their process is
//! gone), holding their locks until the downloads are in this owner's
//! journal (`retire`), so two processes never both take one.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender};

use crate::agent::{partial_data_path, record, Kept};
use crate::dirs::{BaseDir, Dirs};
use crate::lock;
use crate::request::{Fetch, Options, Request, Target};

/// The first line of a record of this version.
const MAGIC: &str = "netdl-journal 1";
/// The first line of a record of any version.
const FAMILY: &str = "netdl-journal ";
/// The journal's folder in the application-support folder.
const FOLDER: &str = "netdl-journal";
/// A running download's record is sent at most this often.
pub const EVERY: Duration = Duration::from_millis(250);
/// A journal whose records changed only by downloads that came and went
/// is rewritten at most this often: one that ends sooner after it was
/// queued never touches the disk. A record that claims more data is
/// written at once.
const WRITE_EVERY: Duration = Duration::from_millis(250);
/// With changes waiting, the journal thread looks for messages this often
/// (what a record claiming data or a `sync` may wait).
const LOOK_EVERY: Duration = Duration::from_millis(10);

/// This client's journal: its thread starts with the first persisted
/// download or `net_restore`.
#[derive(Debug)]
pub struct Journal {
    dirs: Arc<Mutex<Dirs>>,
    owner: OnceLock<Option<Owner>>,
}

/// The journal thread of this client, which makes its files and holds its
/// lock (so no file is touched on the caller's thread).
#[derive(Debug)]
struct Owner {
    tx: Sender<Msg>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// `netdl-journal/OWNER` (no extension) once the thread took its lock
    /// (None: it could not).
    name: OnceLock<Option<PathBuf>>,
    made: Receiver<Option<PathBuf>>,
}

enum Msg {
    /// The record `text` of download `id`, claiming the data in the file
    /// given (flushed before the journal is written).
    Put(u64, String, Option<PathBuf>),
    Remove(u64),
    /// Write now; answered once everything sent before is on disk.
    Sync(Option<Sender<()>>),
    /// Write what came before, then end.
    Stop,
}

/// A download `adopt` found: what `net_restore` queues again.
#[derive(Debug)]
pub struct Restored {
    pub url: String,
    pub method: String,
    pub opts: Options,
    pub filename: String,
    pub base_dir: BaseDir,
    /// Its data, as the journal claims it (checked by `usable`).
    pub kept: Option<Kept>,
}

/// Journals of gone owners being adopted: locked until `retire`.
#[derive(Debug, Default)]
pub struct Adopted {
    /// Each owner's lock (held) and its `OWNER` path.
    owners: Vec<(File, PathBuf)>,
}

impl Journal {
    pub fn new(dirs: Arc<Mutex<Dirs>>) -> Journal {
        Journal {
            dirs,
            owner: OnceLock::new(),
        }
    }

    /// The journal thread, started on first use; None when the folder is
    /// unknown or no thread can start (persisted downloads then run
    /// unrecorded).
    fn owner(&self) -> Option<&Owner> {
        self.owner
            .get_or_init(|| Owner::spawn(self.root()?).ok())
            .as_ref()
    }

    /// This client's `netdl-journal/OWNER` (waits for the thread to take
    /// its lock, the first time).
    fn own_name(&self) -> Option<&Path> {
        let o = self.owner()?;
        o.name
            .get_or_init(|| o.made.recv().ok().flatten())
            .as_deref()
    }

    fn root(&self) -> Option<PathBuf> {
        let support = lock(&self.dirs).path(BaseDir::ApplicationSupport).ok()?;
        Some(support.join(FOLDER))
    }

    /// Records download `id` (`kept`: its data so far; the data file is
    /// flushed before the journal is written). Returns at once.
    pub fn put(&self, id: u64, req: &Request, kept: Option<&Kept>) {
        if let Some(o) = self.owner() {
            let data = kept.map(|k| k.data.clone());
            let _ = o.tx.send(Msg::Put(id, encode(req, kept), data));
        }
    }

    /// Forgets download `id` (it ended). Returns at once.
    pub fn remove(&self, id: u64) {
        if let Some(Some(o)) = self.owner.get() {
            let _ = o.tx.send(Msg::Remove(id));
        }
    }

    /// Has what was sent written at once, without waiting for it.
    pub fn flush(&self) {
        if let Some(Some(o)) = self.owner.get() {
            let _ = o.tx.send(Msg::Sync(None));
        }
    }

    /// Waits until everything sent before is on disk.
    pub fn sync(&self) {
        if let Some(Some(o)) = self.owner.get() {
            let (tx, rx) = crossbeam_channel::bounded(1);
            if o.tx.send(Msg::Sync(Some(tx))).is_ok() {
                let _ = rx.recv();
            }
        }
    }

    /// Writes what is pending and stops the thread; the records stay for
    /// a later `net_restore`, and the lock goes with the thread.
    pub fn close(&self) {
        if let Some(Some(o)) = self.owner.get() {
            let _ = o.tx.send(Msg::Stop);
            if let Some(t) = lock(&o.thread).take() {
                let _ = t.join();
            }
        }
    }

    /// The downloads in the journals of owners no live process holds,
    /// one per target; journals that cannot be read whole are moved aside
    /// (with a line on stderr) after their readable records are taken.
    /// Their owners stay locked until `retire`.
    pub fn adopt(&self) -> (Vec<Restored>, Adopted) {
        let mut adopted = Adopted::default();
        let (Some(root), Some(ours)) = (self.root(), self.own_name().map(Path::to_path_buf)) else {
            return (Vec::new(), adopted);
        };
        let Ok(entries) = fs::read_dir(&root) else {
            return (Vec::new(), adopted);
        };
        let mut owners: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "lock"))
            .map(|p| p.with_extension(""))
            .filter(|p| *p != ours)
            .collect();
        owners.sort();
        // One download per target (base folder and filename): the last
        // record read wins, one with data over one without.
        let mut by_target: BTreeMap<Vec<u8>, Restored> = BTreeMap::new();
        for owner in owners {
            let Some(lock_file) = try_lock(&with_ext(&owner, "lock")) else {
                continue; // a live process owns it
            };
            // Being written when its process died: the journal before it
            // is the one that counts.
            let _ = fs::remove_file(with_ext(&owner, "journal.tmp"));
            let journal = with_ext(&owner, "journal");
            if let Ok(text) = fs::read(&journal) {
                let (found, damage) = read_journal(&text);
                if let Some(why) = damage {
                    set_aside(&root, &journal, &why);
                }
                for r in found {
                    let key = format!("{:?}/{}", r.base_dir, r.filename).into_bytes();
                    // A record with data beats one without.
                    if r.kept.is_some() || by_target.get(&key).is_none_or(|o| o.kept.is_none()) {
                        by_target.insert(key, r);
                    }
                }
            }
            adopted.owners.push((lock_file, owner));
        }
        (by_target.into_values().collect(), adopted)
    }

    /// Ends an adoption once its downloads were recorded in this owner's
    /// journal (`put`): that is made durable, then the adopted journals
    /// and locks are deleted.
    pub fn retire(&self, adopted: Adopted) {
        if adopted.owners.is_empty() {
            return;
        }
        self.sync();
        for (lock_file, owner) in adopted.owners {
            let _ = fs::remove_file(with_ext(&owner, "journal"));
            let _ = fs::remove_file(with_ext(&owner, "lock"));
            drop(lock_file);
        }
    }
}

/// `path` with `.ext` appended.
fn with_ext(path: &Path, ext: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".");
    p.push(ext);
    PathBuf::from(p)
}

impl Owner {
    fn spawn(root: PathBuf) -> std::io::Result<Owner> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let (made_tx, made) = crossbeam_channel::bounded(1);
        let thread = std::thread::Builder::new()
            .name("netdl-journal".into())
            .spawn(move || match make_owner(&root) {
                Ok((name, _lock)) => {
                    let _ = made_tx.send(Some(name.clone()));
                    write_loop(&with_ext(&name, "journal"), &rx); // the lock is held until it returns
                }
                Err(e) => {
                    eprintln!(
                        "netdl: cannot create the download journal in {}: {e}; \
                         persisted downloads will not survive this process",
                        root.display()
                    );
                    let _ = made_tx.send(None);
                    drain(&rx);
                }
            })?;
        Ok(Owner {
            tx,
            thread: Mutex::new(Some(thread)),
            name: OnceLock::new(),
            made,
        })
    }
}

/// Takes this owner's lock under `root`; returns `root/OWNER`.
fn make_owner(root: &Path) -> std::io::Result<(PathBuf, File)> {
    fs::create_dir_all(root)?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let name = root.join(format!("{}-{nanos}", std::process::id()));
    // Locked under another name, then named: an adopter never finds this
    // owner's lock file unlocked.
    let fresh = with_ext(&name, "lock.new");
    let lock = try_lock(&fresh)
        .ok_or_else(|| std::io::Error::other(format!("cannot lock {}", fresh.display())))?;
    fs::rename(&fresh, with_ext(&name, "lock"))?;
    Ok((name, lock))
}

/// Without a journal: answers syncs until stopped.
fn drain(rx: &Receiver<Msg>) {
    for msg in rx.iter() {
        match msg {
            Msg::Sync(Some(tx)) => {
                let _ = tx.send(());
            }
            Msg::Stop => return,
            Msg::Sync(None) | Msg::Put(..) | Msg::Remove(_) => {}
        }
    }
}

/// The lock file at `path` (created if missing), locked; None when another
/// open file holds it.
fn try_lock(path: &Path) -> Option<File> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .ok()?;
    // SAFETY: `f` is an open descriptor for the duration of the call.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    (rc == 0).then_some(f)
}

/// Moves a journal that cannot be read whole into `damaged/`, saying so.
fn set_aside(root: &Path, path: &Path, why: &str) {
    let to = root
        .join("damaged")
        .join(path.file_name().unwrap_or_default());
    let moved = fs::create_dir_all(root.join("damaged")).and_then(|()| fs::rename(path, &to));
    match moved {
        Ok(()) => eprintln!(
            "netdl: download journal {} is {why}; moved to {} (its readable records are restored)",
            path.display(),
            to.display()
        ),
        Err(e) => {
            let _ = fs::remove_file(path);
            eprintln!(
                "netdl: download journal {} is {why}; deleted (cannot move it aside: {e})",
                path.display()
            );
        }
    }
}

/// The journal thread: keeps every live download's record and rewrites
/// the journal when they changed: at once for a record claiming data (its
/// data file flushed first), for the end of a download the journal on disk
/// names, and when asked; otherwise at most every `WRITE_EVERY`.
fn write_loop(path: &Path, rx: &Receiver<Msg>) {
    // Each live download's record, and whether the journal on disk has
    // it claiming data.
    let mut records: BTreeMap<u64, (String, bool)> = BTreeMap::new();
    let mut claims: Vec<u64> = Vec::new();
    let mut data: Vec<PathBuf> = Vec::new();
    let mut waiting: Vec<Sender<()>> = Vec::new();
    let (mut dirty, mut now_please, mut stop) = (false, false, false);
    // Fresh records wait `WRITE_EVERY` from the start too.
    let mut written = Instant::now();
    while !stop {
        let due = written + WRITE_EVERY;
        let msgs: Vec<Msg> = if dirty {
            // Not woken by each message of a burst (one per download that
            // starts or ends): a look every `LOOK_EVERY` until due.
            let wait = due.saturating_duration_since(Instant::now());
            std::thread::sleep(wait.min(LOOK_EVERY));
            rx.try_iter().collect()
        } else {
            match rx.recv() {
                Ok(m) => std::iter::once(m).chain(rx.try_iter()).collect(),
                Err(_) => return, // the client is gone
            }
        };
        for msg in msgs {
            match msg {
                Msg::Put(id, text, file) => {
                    // Whether the journal on disk may claim its data.
                    let claimed = records.get(&id).is_some_and(|r| r.1);
                    records.insert(id, (text, claimed));
                    if file.is_some() {
                        claims.push(id); // claimed once written
                    }
                    // New data on disk is written at once: what a kill
                    // would cost again.
                    now_please |= file.is_some();
                    data.extend(file);
                    dirty = true;
                }
                Msg::Remove(id) => {
                    if let Some((_, claimed)) = records.remove(&id) {
                        // A download whose data the journal on disk
                        // claims has ended: a kill now must not start it
                        // again.
                        now_please |= claimed;
                        dirty = true;
                    }
                }
                Msg::Sync(tx) => {
                    waiting.extend(tx);
                    now_please = true;
                }
                Msg::Stop => (now_please, stop) = (true, true),
            }
        }
        if dirty && (now_please || Instant::now() >= due) {
            data.sort();
            data.dedup();
            for d in data.drain(..) {
                // Gone: the download ended meanwhile (its record goes too).
                let _ = File::open(&d).and_then(|f| f.sync_data());
            }
            if save(path, &records).is_ok() {
                for id in claims.drain(..) {
                    if let Some(r) = records.get_mut(&id) {
                        r.1 = true;
                    }
                }
            }
            (dirty, written) = (false, Instant::now());
        }
        if !dirty {
            now_please = false;
            for tx in waiting.drain(..) {
                let _ = tx.send(());
            }
        }
    }
}

/// Writes the journal atomically and durably (temporary file, `fsync`,
/// rename, `fsync` of the folder), or deletes it when there is no record.
fn save(path: &Path, records: &BTreeMap<u64, (String, bool)>) -> std::io::Result<()> {
    if records.is_empty() {
        match fs::remove_file(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            other => other?,
        }
    } else {
        let temp = with_ext(path, "tmp");
        let mut f = File::create(&temp)?;
        for (text, _) in records.values() {
            f.write_all(text.as_bytes())?;
        }
        f.sync_all()?;
        fs::rename(&temp, path)?;
    }
    File::open(path.parent().unwrap_or(Path::new(".")))?.sync_all()
}

/// The records of a journal, and why it cannot be read whole (None: it
/// can).
fn read_journal(text: &[u8]) -> (Vec<Restored>, Option<String>) {
    let mut found = Vec::new();
    let mut damage = None;
    let mut rest = text;
    while !rest.is_empty() {
        // A record ends with its `end` line.
        let end = rest
            .windows(5)
            .position(|w| w == b"\nend\n")
            .map_or(rest.len(), |i| i + 5);
        match decode(&rest[..end]) {
            Ok(r) => found.push(r),
            Err(why) => damage = damage.or(Some(why)),
        }
        rest = &rest[end..];
    }
    (found, damage)
}

/// `-` for none.
fn opt_bytes(v: Option<&[u8]>) -> String {
    v.map_or_else(|| "-".into(), record::hex)
}

fn opt_num(v: Option<u64>) -> String {
    v.map_or_else(|| "-".into(), |n| n.to_string())
}

/// A persisted download's record.
fn encode(req: &Request, kept: Option<&Kept>) -> String {
    let extra = req.extra();
    let f = &extra.fetch;
    let (file, limit) = match &req.target {
        Target::File { file, limit } => (Some(file), *limit),
        Target::Memory { .. } => (None, None),
    };
    let join = |v: &[String]| v.join("\n").into_bytes();
    let ms = |d: Option<Duration>| opt_num(d.map(|d| d.as_millis() as u64));
    record::Writer::new(MAGIC)
        .bytes("url", req.url.to_bytes())
        .text("method", &req.method)
        .bytes("headers", &join(&extra.headers))
        .bytes(
            "filename",
            file.map_or(&b""[..], |f| f.filename().to_bytes()),
        )
        .text("base_dir", &file.map_or(0, |f| f.dir as u32).to_string())
        .text("timeout_ms", &(req.timeout.as_millis() as u64).to_string())
        .text("progress", &u8::from(req.progress).to_string())
        .text("follow", &u8::from(req.follow_redirects).to_string())
        .text("max_redirects", &req.max_redirects.to_string())
        .text("max_body", &opt_num(limit))
        .text(
            "ca_file",
            &opt_bytes(extra.ca_file.as_ref().map(|p| p.as_os_str().as_bytes())),
        )
        .text("max_retries", &f.max_retries.to_string())
        .text("retry_delay_ms", &ms(f.retry_delay))
        .text("retry_max_delay_ms", &ms(f.retry_max_delay))
        .text("compress", &u8::from(f.compress).to_string())
        .text("keep_partial", &u8::from(f.keep_partial).to_string())
        .text("if_changed", &u8::from(f.if_changed).to_string())
        .text("expected_size", &opt_num(f.expected_size))
        .text("sha256", &opt_bytes(f.sha256.as_ref().map(|h| &h[..])))
        .bytes("mirrors", &join(&f.mirrors))
        .text("segments", &f.segments.to_string())
        .text("proxy", &opt_bytes(f.proxy.as_ref().map(|p| p.as_bytes())))
        .text("priority", &f.priority.to_string())
        .text("max_speed", &f.max_speed.to_string())
        .text("tag", &opt_bytes(f.tag.as_ref().map(|t| t.to_bytes())))
        .text(
            "data",
            &opt_bytes(kept.map(|k| k.data.as_os_str().as_bytes())),
        )
        .text(
            "target",
            &opt_bytes(kept.map(|k| k.target.as_os_str().as_bytes())),
        )
        .text("source", &opt_bytes(kept.map(|k| &k.url[..])))
        .text("validator", &opt_bytes(kept.map(|k| &k.validator[..])))
        .text("total", &opt_num(kept.and_then(|k| k.total)))
        .text("size", &opt_num(kept.map(|k| k.size)))
        .finish()
}

/// A record read back, or why it cannot be.
fn decode(text: &[u8]) -> Result<Restored, String> {
    let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
    if let Some(v) = first.strip_prefix(FAMILY.as_bytes()) {
        let v = std::str::from_utf8(v)
            .ok()
            .and_then(|v| v.parse::<u32>().ok());
        if v.is_some_and(|v| v > 1) {
            return Err("from a newer version of netdl".into());
        }
    }
    read(text).ok_or_else(|| "damaged (truncated or not a journal record)".into())
}

fn read(text: &[u8]) -> Option<Restored> {
    let mut r = record::Reader::new(text, MAGIC)?;
    let string = |b: Vec<u8>| String::from_utf8(b).ok();
    let lines = |b: Vec<u8>| -> Option<Vec<String>> {
        let s = String::from_utf8(b).ok()?;
        Some(
            s.split('\n')
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect(),
        )
    };
    let url = string(r.bytes("url")?)?;
    let method = r.text("method")?.to_string();
    let headers = lines(r.bytes("headers")?)?;
    let filename = string(r.bytes("filename")?)?;
    let base_dir = *BaseDir::ALL.get(r.parse::<usize>("base_dir")?)?;
    let timeout = Duration::from_millis(r.parse("timeout_ms")?);
    let flag = |r: &mut record::Reader<'_>, name: &str| r.parse::<u8>(name).map(|v| v != 0);
    let progress = flag(&mut r, "progress")?;
    let follow = flag(&mut r, "follow")?;
    let max_redirects = r.parse("max_redirects")?;
    let max_body = opt(r.text("max_body")?)?;
    let ca_file = opt_hex(r.text("ca_file")?)?.map(|b| PathBuf::from(OsString::from_vec(b)));
    let mut fetch = Fetch {
        max_retries: r.parse("max_retries")?,
        retry_delay: opt(r.text("retry_delay_ms")?)?.map(Duration::from_millis),
        retry_max_delay: opt(r.text("retry_max_delay_ms")?)?.map(Duration::from_millis),
        compress: flag(&mut r, "compress")?,
        keep_partial: flag(&mut r, "keep_partial")?,
        if_changed: flag(&mut r, "if_changed")?,
        expected_size: opt(r.text("expected_size")?)?,
        sha256: match opt_hex(r.text("sha256")?)? {
            Some(h) => Some(h.try_into().ok()?),
            None => None,
        },
        mirrors: lines(r.bytes("mirrors")?)?,
        segments: r.parse("segments")?,
        proxy: match opt_hex(r.text("proxy")?)? {
            Some(p) => Some(string(p)?),
            None => None,
        },
        priority: r.parse("priority")?,
        max_speed: r.parse("max_speed")?,
        persist: true,
        tag: None,
        restored: true,
    };
    if let Some(tag) = opt_hex(r.text("tag")?)? {
        fetch.tag = Some(crate::request::check_tag(&string(tag)?).ok()?);
    }
    let path = |b: Vec<u8>| PathBuf::from(OsString::from_vec(b));
    let data = opt_hex(r.text("data")?)?.map(path);
    let target = opt_hex(r.text("target")?)?.map(path);
    let source = opt_hex(r.text("source")?)?;
    let validator = opt_hex(r.text("validator")?)?;
    let total = opt(r.text("total")?)?;
    let size = opt(r.text("size")?)?;
    r.end()?;
    let kept = match (data, target, source, validator, size) {
        (Some(data), Some(target), Some(url), Some(validator), Some(size)) => Some(Kept {
            data,
            target,
            url,
            validator,
            total,
            size,
        }),
        _ => None,
    };
    let opts = Options {
        headers: (headers.iter())
            .map(|h| {
                h.split_once(": ")
                    .map(|(n, v)| (n.to_string(), v.to_string()))
            })
            .collect::<Option<_>>()?,
        timeout: Some(timeout),
        progress,
        no_redirects: !follow,
        max_redirects: Some(max_redirects),
        ca_file,
        max_body,
        fetch,
        ..Options::default()
    };
    Some(Restored {
        url,
        method,
        opts,
        filename,
        base_dir,
        kept,
    })
}

/// A number or `-`; None when neither.
fn opt(s: &str) -> Option<Option<u64>> {
    match s {
        "-" => Some(None),
        n => n.parse().ok().map(Some),
    }
}

/// Hexadecimal bytes or `-`; None when neither.
fn opt_hex(s: &str) -> Option<Option<Vec<u8>>> {
    match s {
        "-" => Some(None),
        h => record::unhex(h).map(Some),
    }
}

/// A restored download's data, checked against its record and the target
/// the request resolves to now: at least the recorded bytes must be there
/// (more are cut off by the download: only those were flushed before the
/// record said so); otherwise (None) it starts from its first byte.
pub fn usable(kept: Option<Kept>, target: Option<&Path>) -> Option<Kept> {
    let k = kept?;
    let on_disk = fs::symlink_metadata(&k.data)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    let ours = target == Some(k.target.as_path()) && k.data == partial_data_path(&k.target);
    if ours && on_disk.is_some_and(|n| n >= k.size) && k.size > 0 {
        return Some(k);
    }
    if ours && on_disk.is_some() {
        let _ = fs::remove_file(&k.data);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A persisted download using every option, its data, and the folder
    /// setting it was built with.
    fn sample() -> (Dirs, Options, Request, Kept) {
        let mut dirs = Dirs::default();
        dirs.set(BaseDir::Documents, Path::new("/games/x")).unwrap();
        let opts = Options {
            headers: vec![("X-Key".into(), "a: b".into())],
            timeout: Some(Duration::from_secs(7)),
            progress: true,
            no_redirects: true,
            max_redirects: Some(3),
            ca_file: Some(PathBuf::from("/etc/ca\n.pem")),
            max_body: Some(99),
            fetch: Fetch {
                max_retries: 4,
                retry_delay: Some(Duration::from_millis(20)),
                retry_max_delay: None,
                compress: false,
                keep_partial: true,
                if_changed: false,
                expected_size: Some(1234),
                sha256: Some([7; 32]),
                mirrors: vec!["http://m1/x".into(), "http://m2/x".into()],
                segments: 4,
                proxy: Some(String::new()),
                priority: -2,
                max_speed: 5000,
                persist: true,
                tag: Some(crate::request::check_tag("lvl\n1").unwrap()),
                restored: false,
            },
            ..Options::default()
        };
        let download = Some(("a/b.pak", BaseDir::Documents));
        let req =
            Request::build(9, "http://h/a.pak", "GET", opts.clone(), download, &dirs).unwrap();
        let kept = Kept {
            data: PathBuf::from("/games/x/a/.b.pak.netdl-partial"),
            target: PathBuf::from("/games/x/a/b.pak"),
            url: b"http://m1/x".to_vec(),
            validator: b"\"e1\"".to_vec(),
            total: Some(9000),
            size: 600,
        };
        (dirs, opts, req, kept)
    }

    /// Rule: a record gives back every option a persisted download had,
    /// its data, and nothing else; each way of cutting it short fails.
    #[test]
    fn records_round_trip() {
        let (_, opts, req, kept) = sample();
        let text = encode(&req, Some(&kept));
        let r = decode(text.as_bytes()).unwrap();
        assert_eq!(
            (r.url.as_str(), r.method.as_str()),
            ("http://h/a.pak", "GET")
        );
        assert_eq!(
            (r.filename.as_str(), r.base_dir),
            ("a/b.pak", BaseDir::Documents)
        );
        assert_eq!(r.kept, Some(kept));
        assert_eq!(r.opts.headers, opts.headers);
        assert_eq!(r.opts.timeout, opts.timeout);
        assert_eq!(r.opts.ca_file, opts.ca_file);
        assert_eq!(r.opts.max_body, opts.max_body);
        assert!(r.opts.progress && r.opts.no_redirects);
        assert_eq!(r.opts.max_redirects, Some(3));
        let want = Fetch {
            restored: true,
            ..opts.fetch.clone()
        };
        assert_eq!(r.opts.fetch, want);
        // Without data: the request only.
        let r = decode(encode(&req, None).as_bytes()).unwrap();
        assert_eq!(r.kept, None);
        for cut in 0..text.len() - 1 {
            assert!(decode(&text.as_bytes()[..cut]).is_err(), "{cut}");
        }
        let newer = text.replacen("netdl-journal 1", "netdl-journal 7", 1);
        assert_eq!(
            decode(newer.as_bytes()).unwrap_err(),
            "from a newer version of netdl"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 3000, ..Default::default()
        })]

        /// Rule: a journal altered anyhow on disk (bytes replaced, put in
        /// or taken out; digits and separators most likely, so that
        /// numbers and hex change while records still parse) is read
        /// without a panic, and every record it still gives either builds
        /// a request or is refused with an error, never a panic.
        #[test]
        fn altered_journals_are_read_safely(
            edits in proptest::collection::vec(
                (0usize..4096, proptest::sample::select(b"0123456789af-\n \xff".to_vec()), 0u8..3),
                1..6,
            )
        ) {
            let (dirs, _, req, kept) = sample();
            let mut text = format!("{}{}", encode(&req, Some(&kept)), encode(&req, None)).into_bytes();
            for (at, byte, how) in edits {
                let at = at % text.len();
                match how {
                    0 => text[at] = byte,
                    1 => text.insert(at, byte),
                    _ => drop(text.remove(at)),
                }
            }
            let (found, _) = read_journal(&text);
            for r in found {
                let download = Some((r.filename.as_str(), r.base_dir));
                let _ = Request::build(1, &r.url, &r.method, r.opts, download, &dirs);
            }
        }
    }
}
