//! Where a response body goes: memory, or a temporary file that is renamed
//! over the target only when the transfer succeeded with a 2xx status.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind};
use crate::request::{FilePath, ERROR_BODY_LIMIT};

#[derive(Debug)]
pub enum Sink {
    /// `request`: the body in memory, failing past `limit`.
    Memory { buf: Vec<u8>, limit: u64 },
    /// `download`: the body in `temp`, later renamed to `target`.
    File(FileSink),
}

#[derive(Debug)]
pub struct FileSink {
    file: Option<File>,
    temp: PathBuf,
    target: FilePath,
    limit: Option<u64>,
    written: u64,
    /// Set once a non-2xx final response arrived: its body is kept here
    /// (truncated to ERROR_BODY_LIMIT) and the target is not touched.
    error_body: Option<Vec<u8>>,
}

impl FileSink {
    /// Creates the base directory and the target's parent folders (unless
    /// `known` says they were made before), and an empty temporary file
    /// beside the target (exclusive, so two requests never share one).
    pub fn create(
        target: &FilePath,
        id: u64,
        known: &mut HashSet<Vec<u8>>,
    ) -> Result<FileSink, Error> {
        let Some((parent, name)) = target.parent_and_name() else {
            return Err(Error::new(ErrorKind::Internal, "download without a path"));
        };
        let base = target.base();
        // Keyed by bytes: hashing a Path walks its components.
        let parent_bytes = parent.as_os_str().as_bytes();
        if !known.contains(parent_bytes) {
            make_dirs(base, parent)?;
            known.insert(parent_bytes.to_vec());
        }
        // parent/.NAME.netdl-ID.part
        let mut temp = Vec::with_capacity(parent_bytes.len() + name.len() + 40);
        temp.extend_from_slice(parent_bytes);
        temp.extend_from_slice(b"/.");
        temp.extend_from_slice(name.as_bytes());
        let _ = write!(temp, ".netdl-{id}.part"); // into a Vec: cannot fail
        let temp = PathBuf::from(OsString::from_vec(temp));
        let open = || OpenOptions::new().write(true).create_new(true).open(&temp);
        let file = match open() {
            // The folder was removed since it was made: make it again.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                make_dirs(base, parent)?;
                open()
            }
            other => other,
        }
        .map_err(|e| Error::io(&format!("cannot create {}", temp.display()), &e))?;
        Ok(FileSink {
            file: Some(file),
            temp,
            target: target.clone(),
            limit: None,
            written: 0,
            error_body: None,
        })
    }

    pub fn with_limit(mut self, limit: Option<u64>) -> FileSink {
        self.limit = limit;
        self
    }

    /// The final response is not a success: keep its body in memory
    /// instead and leave the target alone.
    pub fn divert_to_error_body(&mut self) {
        self.error_body = Some(Vec::new());
    }

    /// Moves the complete file over the target.
    /// A target that is a directory is found here, by rename(2) itself,
    /// rather than by a stat of every target when its transfer starts.
    fn commit(&mut self) -> Result<(), Error> {
        drop(self.file.take());
        let target = self.target.path().unwrap_or(Path::new(""));
        fs::rename(&self.temp, target).map_err(|e| {
            let _ = fs::remove_file(&self.temp);
            if e.raw_os_error() == Some(libc::EISDIR) {
                Error::invalid(format!("{} is a directory, not a file", target.display()))
            } else {
                Error::io(
                    &format!("cannot move the download to {}", target.display()),
                    &e,
                )
            }
        })
    }

    /// Deletes the temporary file (idempotent).
    fn discard(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

fn make_dirs(base: &Path, parent: &Path) -> Result<(), Error> {
    for dir in [base, parent] {
        fs::create_dir_all(dir)
            .map_err(|e| Error::io(&format!("cannot create {}", dir.display()), &e))?;
    }
    Ok(())
}

impl Drop for FileSink {
    fn drop(&mut self) {
        self.discard();
    }
}

impl Sink {
    /// Appends a chunk of body. Fails on a write error or over the limit.
    pub fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        match self {
            Sink::Memory { buf, limit } => {
                if buf.len() as u64 + data.len() as u64 > *limit {
                    return Err(too_large(*limit));
                }
                buf.extend_from_slice(data);
                Ok(())
            }
            Sink::File(f) => {
                if let Some(body) = &mut f.error_body {
                    let room = (ERROR_BODY_LIMIT as usize).saturating_sub(body.len());
                    body.extend_from_slice(&data[..data.len().min(room)]);
                    return Ok(());
                }
                if let Some(limit) = f.limit {
                    if f.written + data.len() as u64 > limit {
                        return Err(too_large(limit));
                    }
                }
                let file = f.file.as_mut().ok_or_else(|| {
                    Error::new(ErrorKind::Internal, "write after the file was closed")
                })?;
                file.write_all(data)
                    .map_err(|e| Error::io(&format!("cannot write {}", f.temp.display()), &e))?;
                f.written += data.len() as u64;
                Ok(())
            }
        }
    }

    /// Checks an announced Content-Length against the limit before any
    /// byte is stored.
    pub fn check_announced(&self, len: u64) -> Result<(), Error> {
        let limit = match self {
            Sink::Memory { limit, .. } => Some(*limit),
            Sink::File(f) if f.error_body.is_none() => f.limit,
            Sink::File(_) => None,
        };
        match limit {
            Some(limit) if len > limit => Err(too_large(limit)),
            _ => Ok(()),
        }
    }

    /// Ends a successful transfer: returns the body to report (requests,
    /// or a download's error body); a 2xx download is renamed into place.
    pub fn finish(self) -> Result<Option<Vec<u8>>, Error> {
        match self {
            Sink::Memory { buf, .. } => Ok(Some(buf)),
            Sink::File(mut f) => match f.error_body.take() {
                Some(body) => {
                    f.discard();
                    Ok(Some(body))
                }
                None => f.commit().map(|()| None),
            },
        }
    }
}

fn too_large(limit: u64) -> Error {
    Error::new(
        ErrorKind::TooLarge,
        format!("response body is larger than the limit of {limit} bytes"),
    )
}
