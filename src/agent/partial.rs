//! Partial data kept after a download failed (or was cancelled with
//! `keep_partial`), so that a later download of the same URL to the same
//! file continues it.
//!
//! The data stays beside the target as `.NAME.netdl-partial` (the same
//! file system, so the finished file is renamed into place); what it is
//! lives in the caches folder, `CACHES/partial/KEY` (KEY: a hash of the
//! target's path): the data's path, the target, the URL, the validator,
//! the file's total length and the size of the data. A record is written
//! only after the data is flushed to disk, and replaced atomically.
//!
//! Cleanup: records (and their data) older than `MAX_AGE` are deleted when
//! the process first looks for partial data (its first download); a
//! record is taken (deleted) when a download continues it, and one that
//! does not match its data any more (its data vanished, shrank or grew,
//! or another URL is downloaded to the target) is deleted with its data.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::record;

/// Kept partial data older than this is deleted.
pub const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// The first line of a record.
const MAGIC: &str = "netdl-partial 1";

/// What a record says about a file's partial data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    /// `.NAME.netdl-partial` beside the target.
    pub data: PathBuf,
    pub target: PathBuf,
    /// The URL that sent the data's first byte.
    pub url: Vec<u8>,
    /// Its strong validator (`If-Range`).
    pub validator: Vec<u8>,
    /// The file's full length, when announced.
    pub total: Option<u64>,
    /// Bytes of data.
    pub size: u64,
}

/// The records of this process's caches folder.
#[derive(Debug, Default)]
pub struct Partials {
    /// `CACHES/partial`; None until the first look (or when the caches
    /// folder is unknown).
    dir: Option<PathBuf>,
    /// Keys of the records there.
    keys: HashSet<String>,
    loaded: bool,
}

/// `.NAME.netdl-partial` beside `target`.
pub fn data_path(target: &Path) -> PathBuf {
    let parent = target.parent().unwrap_or(Path::new(""));
    let mut name = OsString::from(".");
    name.push(target.file_name().unwrap_or(OsStr::new("")));
    name.push(".netdl-partial");
    parent.join(name)
}

impl Partials {
    pub fn is_loaded(&self) -> bool {
        self.loaded
    }

    /// Loads the records of `caches` once, deleting those older than
    /// `MAX_AGE` with their data. `caches` None: no partial data is kept.
    pub fn load(&mut self, caches: Option<PathBuf>) {
        if self.loaded {
            return;
        }
        self.loaded = true;
        let Some(dir) = caches.map(|c| c.join("partial")) else {
            return;
        };
        if let Ok(entries) = fs::read_dir(&dir) {
            let now = SystemTime::now();
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let old = e.metadata().and_then(|m| m.modified()).map_or(true, |t| {
                    now.duration_since(t).unwrap_or_default() > MAX_AGE
                });
                if name.ends_with(".tmp") {
                    let _ = fs::remove_file(e.path()); // a record being written when a process died
                } else if old {
                    if let Some(kept) = read(&e.path()) {
                        let _ = fs::remove_file(&kept.data);
                    }
                    let _ = fs::remove_file(e.path());
                } else {
                    self.keys.insert(name);
                }
            }
        }
        self.dir = Some(dir);
    }

    /// Takes the record of `target`, if one is there: deletes it (the
    /// download that continues the data keeps it again if it fails) and
    /// returns it when its data is still what it says; otherwise deletes
    /// the data too.
    pub fn take(&mut self, target: &Path) -> Option<Kept> {
        if self.keys.is_empty() {
            return None; // the usual case: no lookup at all
        }
        let record = record::path_for(self.dir.as_ref()?, target);
        let key = record.file_name()?.to_string_lossy().into_owned();
        if !self.keys.remove(&key) {
            return None;
        }
        let kept = read(&record);
        let _ = fs::remove_file(&record);
        let kept = kept?;
        let size = fs::symlink_metadata(&kept.data)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        if kept.target != target || size != Some(kept.size) {
            let _ = fs::remove_file(&kept.data);
            return None;
        }
        Some(kept)
    }

    /// Records `kept` (its data already flushed and named).
    pub fn keep(&mut self, kept: &Kept) -> std::io::Result<()> {
        let Some(dir) = &self.dir else {
            return Err(std::io::Error::other("no caches folder"));
        };
        let path = record::path_for(dir, &kept.target);
        encode(kept).save(&path)?;
        if let Some(key) = path.file_name() {
            self.keys.insert(key.to_string_lossy().into_owned());
        }
        Ok(())
    }
}

fn encode(k: &Kept) -> record::Writer {
    let total = k.total.map_or("-".to_string(), |t| t.to_string());
    record::Writer::new(MAGIC)
        .bytes("data", k.data.as_os_str().as_bytes())
        .bytes("target", k.target.as_os_str().as_bytes())
        .bytes("url", &k.url)
        .bytes("validator", &k.validator)
        .text("total", &total)
        .text("size", &k.size.to_string())
}

/// A record, or None for anything damaged or of another version.
fn read(path: &Path) -> Option<Kept> {
    decode(&fs::read(path).ok()?)
}

fn decode(text: &[u8]) -> Option<Kept> {
    let mut r = record::Reader::new(text, MAGIC)?;
    let path = |b: Vec<u8>| PathBuf::from(OsString::from_vec(b));
    let kept = Kept {
        data: path(r.bytes("data")?),
        target: path(r.bytes("target")?),
        url: r.bytes("url")?,
        validator: r.bytes("validator")?,
        total: match r.text("total")? {
            "-" => None,
            t => Some(t.parse().ok()?),
        },
        size: r.parse("size")?,
    };
    r.end().map(|()| kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(dir: &Path) -> Kept {
        let target = dir.join("a b\nc.bin");
        Kept {
            data: data_path(&target),
            target,
            url: b"http://h/x".to_vec(),
            validator: b"\"v1\"".to_vec(),
            total: Some(100),
            size: 40,
        }
    }

    #[test]
    fn records_round_trip() {
        let k = kept(Path::new("/tmp"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r");
        for k in [k.clone(), Kept { total: None, ..k }] {
            encode(&k).save(&path).unwrap();
            assert_eq!(read(&path), Some(k));
        }
        assert_eq!(decode(b"netdl-partial 2\nend\n"), None);
    }

    #[test]
    fn data_paths() {
        assert_eq!(
            data_path(Path::new("/d/sub/f.pak")),
            PathBuf::from("/d/sub/.f.pak.netdl-partial")
        );
    }

    #[test]
    fn keep_take_and_age() {
        let dir = tempfile::tempdir().unwrap();
        let caches = dir.path().join("caches");
        let mut p = Partials::default();
        p.load(Some(caches.clone()));
        let k = kept(dir.path());
        fs::write(&k.data, [7u8; 40]).unwrap();
        p.keep(&k).unwrap();
        // A new process finds it.
        let mut q = Partials::default();
        q.load(Some(caches.clone()));
        assert_eq!(q.take(&k.target), Some(k.clone()));
        assert_eq!(q.take(&k.target), None); // taken
                                             // Data that grew is not continued, and is deleted.
        p.keep(&k).unwrap();
        fs::write(&k.data, [7u8; 41]).unwrap();
        let mut q = Partials::default();
        q.load(Some(caches.clone()));
        assert_eq!(q.take(&k.target), None);
        assert!(!k.data.exists());
        // Older than MAX_AGE: deleted at load, with its data.
        fs::write(&k.data, [7u8; 40]).unwrap();
        p.keep(&k).unwrap();
        let record = record::path_for(&caches.join("partial"), &k.target);
        let old = SystemTime::now() - MAX_AGE - Duration::from_secs(60);
        fs::File::options()
            .write(true)
            .open(&record)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let mut q = Partials::default();
        q.load(Some(caches));
        assert_eq!(q.take(&k.target), None);
        assert!(!k.data.exists() && !record.exists());
    }
}
