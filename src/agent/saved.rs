//! What netdl knows about files it saved with `if_changed`: the validators
//! of the response each came from, so that the next download of it asks
//! the server whether it changed (`If-None-Match` / `If-Modified-Since`).
//!
//! One small record per target in the caches folder, `CACHES/saved/KEY`
//! (KEY: a hash of the target's path), replaced atomically. A record is
//! trusted only while the file is the one netdl saved: same inode, size
//! and modification time (a file replaced or changed by anyone else is
//! downloaded again; the inode tells files apart that were written within
//! one tick of the file system's coarse clock).

use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::record;

const MAGIC: &str = "netdl-saved 1";

fn record_path(caches: &Path, target: &Path) -> PathBuf {
    record::path_for(&caches.join("saved"), target)
}

/// The file's inode, size and modification time (nanoseconds), as a
/// record holds them.
fn stamp(target: &Path) -> Option<(u64, u64, i128)> {
    let m = fs::symlink_metadata(target).ok().filter(|m| m.is_file())?;
    let mtime = i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec());
    Some((m.ino(), m.len(), mtime))
}

/// The conditional headers for a new download of `target`: none unless a
/// record says netdl saved the file that is there now.
pub fn conditional_headers(caches: &Path, target: &Path) -> Vec<String> {
    let Ok(text) = fs::read(record_path(caches, target)) else {
        return Vec::new();
    };
    let Some(rec) = decode(&text) else {
        return Vec::new();
    };
    if rec.target.as_os_str().as_bytes() != target.as_os_str().as_bytes()
        || stamp(target) != Some((rec.ino, rec.size, rec.mtime))
    {
        return Vec::new();
    }
    let mut headers = Vec::new();
    if let Some(etag) = rec.etag {
        headers.push(format!("If-None-Match: {etag}"));
    }
    if let Some(date) = rec.last_modified {
        headers.push(format!("If-Modified-Since: {date}"));
    }
    headers
}

/// Records the validators of the response `target` was just saved from;
/// with neither, forgets any record of it.
pub fn record(
    caches: &Path,
    target: &Path,
    etag: Option<&[u8]>,
    last_modified: Option<&[u8]>,
) -> std::io::Result<()> {
    let path = record_path(caches, target);
    let text = |v: Option<&[u8]>| {
        v.and_then(|v| std::str::from_utf8(v).ok())
            .filter(|v| !v.is_empty() && !v.contains(['\r', '\n']))
            .map(str::to_string)
    };
    let (etag, last_modified) = (text(etag), text(last_modified));
    let stamp = stamp(target);
    let (Some((ino, size, mtime)), true) = (stamp, etag.is_some() || last_modified.is_some())
    else {
        let _ = fs::remove_file(&path);
        return Ok(());
    };
    let rec = Record {
        target: target.to_path_buf(),
        etag,
        last_modified,
        ino,
        size,
        mtime,
    };
    encode(&rec).save(&path)
}

#[derive(Debug, PartialEq, Eq)]
struct Record {
    target: PathBuf,
    etag: Option<String>,
    last_modified: Option<String>,
    ino: u64,
    size: u64,
    mtime: i128,
}

fn encode(r: &Record) -> record::Writer {
    let opt = |v: &Option<String>| {
        v.as_deref()
            .map_or("-".to_string(), |v| record::hex(v.as_bytes()))
    };
    record::Writer::new(MAGIC)
        .bytes("target", r.target.as_os_str().as_bytes())
        .text("etag", &opt(&r.etag))
        .text("last-modified", &opt(&r.last_modified))
        .text("inode", &r.ino.to_string())
        .text("size", &r.size.to_string())
        .text("mtime", &r.mtime.to_string())
}

fn decode(text: &[u8]) -> Option<Record> {
    let mut r = record::Reader::new(text, MAGIC)?;
    let opt = |s: &str| -> Option<Option<String>> {
        match s {
            "-" => Some(None),
            v => String::from_utf8(record::unhex(v)?).ok().map(Some),
        }
    };
    let rec = Record {
        target: PathBuf::from(std::ffi::OsString::from_vec(r.bytes("target")?)),
        etag: opt(r.text("etag")?)?,
        last_modified: opt(r.text("last-modified")?)?,
        ino: r.parse("inode")?,
        size: r.parse("size")?,
        mtime: r.parse("mtime")?,
    };
    r.end().map(|()| rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records() {
        let dir = tempfile::tempdir().unwrap();
        let caches = dir.path().join("caches");
        let target = dir.path().join("f.bin");
        fs::write(&target, b"v1").unwrap();
        assert!(conditional_headers(&caches, &target).is_empty());
        record(
            &caches,
            &target,
            Some(b"\"e1\""),
            Some(b"Wed, 21 Oct 2015 07:28:00 GMT"),
        )
        .unwrap();
        assert_eq!(
            conditional_headers(&caches, &target),
            vec![
                "If-None-Match: \"e1\"".to_string(),
                "If-Modified-Since: Wed, 21 Oct 2015 07:28:00 GMT".into()
            ]
        );
        // A file changed by someone else is not the one saved.
        fs::write(&target, b"v2!").unwrap();
        assert!(conditional_headers(&caches, &target).is_empty());
        // No validator: the record goes.
        record(&caches, &target, None, None).unwrap();
        assert!(!record_path(&caches, &target).exists());
        // Damaged records are ignored.
        let rec = Record {
            target: target.clone(),
            etag: None,
            last_modified: Some("d".into()),
            ino: 9,
            size: 3,
            mtime: 5,
        };
        let path = dir.path().join("r");
        encode(&rec).save(&path).unwrap();
        assert_eq!(decode(&fs::read(&path).unwrap()), Some(rec));
    }
}
