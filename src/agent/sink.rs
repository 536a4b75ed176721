//! Where a response body goes: memory, or a temporary file that is renamed
//! over the target only when the transfer succeeded with a 2xx status.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
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

/// Bodies up to this size are kept in memory and written out in one go
/// when the transfer succeeds (by the writer thread, see `writer`): the
/// network thread then makes no file system call for them. Larger bodies
/// go to their temporary file as they arrive.
pub const SMALL_BODY: usize = 64 * 1024;

#[derive(Debug)]
pub struct FileSink {
    /// The temporary file, once the body outgrew `SMALL_BODY`.
    file: Option<File>,
    /// The body while it is small.
    small: Vec<u8>,
    temp: PathBuf,
    target: FilePath,
    limit: Option<u64>,
    written: u64,
    /// Set once a non-2xx final response arrived: its body is kept here
    /// (truncated to ERROR_BODY_LIMIT) and the target is not touched.
    error_body: Option<Vec<u8>>,
}

/// A complete small download to write: temporary file, then rename.
#[derive(Debug)]
pub struct WriteJob {
    temp: PathBuf,
    target: FilePath,
    body: Vec<u8>,
}

impl WriteJob {
    pub fn len(&self) -> usize {
        self.body.len()
    }

    /// Writes the body to the temporary file and renames it over the
    /// target; on failure nothing is left behind.
    pub fn run(self) -> Result<(), Error> {
        let mut file = open_temp(&self.temp, &self.target)?;
        if let Err(e) = file.write_all(&self.body) {
            drop(file);
            let _ = fs::remove_file(&self.temp);
            return Err(Error::io(
                &format!("cannot write {}", self.temp.display()),
                &e,
            ));
        }
        drop(file);
        rename_into(&self.temp, &self.target)
    }
}

impl FileSink {
    /// Creates the base directory and the target's parent folders (unless
    /// `known` says they were made before). No file yet: the temporary
    /// file beside the target is made when the body needs it.
    pub fn create(
        target: &FilePath,
        id: u64,
        known: &mut HashSet<PathBuf>,
    ) -> Result<FileSink, Error> {
        let Some((parent, name)) = target.parent_and_name() else {
            return Err(Error::new(ErrorKind::Internal, "download without a path"));
        };
        if !known.contains(parent) {
            make_dirs(target.base(), parent)?;
            known.insert(parent.to_path_buf());
        }
        // parent/.NAME.netdl-ID.part
        let mut temp = OsString::with_capacity(parent.as_os_str().len() + name.len() + 40);
        temp.push(parent);
        temp.push("/.");
        temp.push(name);
        temp.push(format_args!(".netdl-{id}.part").to_string());
        Ok(FileSink {
            file: None,
            small: Vec::new(),
            temp: PathBuf::from(temp),
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

    /// From now on the body goes to the temporary file (exclusive, so two
    /// requests never share one), starting with what was kept in memory.
    fn spill(&mut self) -> Result<&mut File, Error> {
        if self.file.is_none() {
            let file = open_temp(&self.temp, &self.target)?;
            // Owned from here: a failure below deletes the temporary file.
            let file = self.file.insert(file);
            let small = std::mem::take(&mut self.small);
            if let Err(e) = file.write_all(&small) {
                return Err(Error::io(
                    &format!("cannot write {}", self.temp.display()),
                    &e,
                ));
            }
        }
        Ok(self.file.as_mut().expect("made above"))
    }

    fn write_error(&self, e: &std::io::Error) -> Error {
        Error::io(&format!("cannot write {}", self.temp.display()), e)
    }

    /// Deletes the temporary file, if there is one (idempotent).
    fn discard(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Creates `temp` exclusively; makes the folders again if they were
/// removed since the transfer started.
fn open_temp(temp: &Path, target: &FilePath) -> Result<File, Error> {
    let open = || OpenOptions::new().write(true).create_new(true).open(temp);
    match open() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some((parent, _)) = target.parent_and_name() {
                make_dirs(target.base(), parent)?;
            }
            open()
        }
        other => other,
    }
    .map_err(|e| Error::io(&format!("cannot create {}", temp.display()), &e))
}

/// Moves the complete temporary file over the target (deleting it if that
/// fails). A target that is a directory is found here, by rename(2)
/// itself, rather than by a stat of every target when its transfer starts.
fn rename_into(temp: &Path, target: &FilePath) -> Result<(), Error> {
    let path = target.path().unwrap_or(Path::new(""));
    fs::rename(temp, path).map_err(|e| {
        let _ = fs::remove_file(temp);
        if e.raw_os_error() == Some(libc::EISDIR) {
            Error::invalid(format!("{} is a directory, not a file", path.display()))
        } else {
            Error::io(
                &format!("cannot move the download to {}", path.display()),
                &e,
            )
        }
    })
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

/// How a successful transfer's sink ended.
#[derive(Debug)]
pub enum Finished {
    /// Done; the body to report, if any (requests, or a download's error
    /// body).
    Body(Option<Vec<u8>>),
    /// A small download whose file is still to be written.
    Write(WriteJob),
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
                if f.file.is_none() && f.small.len() + data.len() <= SMALL_BODY {
                    f.small.extend_from_slice(data);
                } else {
                    let written = f.spill()?.write_all(data);
                    written.map_err(|e| f.write_error(&e))?;
                }
                f.written += data.len() as u64;
                Ok(())
            }
        }
    }

    /// Checks an announced Content-Length against the limit before any
    /// byte is stored; a download announced larger than `SMALL_BODY` goes
    /// straight to its file.
    pub fn announce(&mut self, len: u64) -> Result<(), Error> {
        let limit = match self {
            Sink::Memory { limit, .. } => Some(*limit),
            Sink::File(f) if f.error_body.is_none() => f.limit,
            Sink::File(_) => None,
        };
        if let Some(limit) = limit.filter(|&limit| len > limit) {
            return Err(too_large(limit));
        }
        match self {
            Sink::File(f) if f.error_body.is_none() && len > SMALL_BODY as u64 => {
                f.spill().map(|_| ())
            }
            _ => Ok(()),
        }
    }

    /// Ends a successful transfer. A 2xx download already in its file is
    /// renamed into place here; a small one is returned to be written.
    pub fn finish(self) -> Result<Finished, Error> {
        match self {
            Sink::Memory { buf, .. } => Ok(Finished::Body(Some(buf))),
            Sink::File(mut f) => match f.error_body.take() {
                Some(body) => {
                    f.discard();
                    Ok(Finished::Body(Some(body)))
                }
                None => match f.file.take() {
                    Some(file) => {
                        drop(file); // closed before the rename
                        rename_into(&f.temp, &f.target).map(|()| Finished::Body(None))
                    }
                    None => Ok(Finished::Write(WriteJob {
                        temp: std::mem::take(&mut f.temp),
                        target: f.target.clone(),
                        body: std::mem::take(&mut f.small),
                    })),
                },
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
