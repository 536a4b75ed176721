//! Where a response body goes: memory, or a file that becomes the target
//! only when the transfer succeeded with a 2xx status.
//!
//! A download is written to a file with no name (`O_TMPFILE`) that is
//! linked in as the target once complete: a failed download, and even a
//! crash, leaves nothing behind. Where that is not possible (a file system
//! without `O_TMPFILE`, or a kernel before 6.10 that lets only privileged
//! processes link such a file in) it goes to a named temporary file beside
//! the target, `.NAME.netdl-ID.part`, renamed over it; a crash can leave
//! that one behind.
//!
//! The environment variable `NETDL_TEMP_FILE=named` (read once, with the
//! first download of the process) forces the named temporary file, so the
//! fallback can be tested where unnamed files work; `unnamed`, any other
//! value, or none keeps the choice above.
//!
//! The default `NET_DIR_TEMPORARY` folder is shared with other users'
//! files in `$TMPDIR`: it is checked before each download into it
//! (`dirs::check_private`), whatever the made-folders cache says.

use std::collections::HashSet;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};

use sha2::{Digest, Sha256};

use crate::dirs::{self, BaseDir};
use crate::error::{Error, ErrorKind};
use crate::request::{FilePath, ERROR_BODY_LIMIT};

#[derive(Debug)]
pub enum Sink {
    /// `request`: the body in memory, failing past `limit`.
    Memory { buf: Vec<u8>, limit: u64 },
    /// `download`: the body in a file that becomes `target` when complete.
    File(FileSink),
    /// A segment of a download (`segments`): written at its offset into
    /// the download's file (another descriptor of it), up to `end`.
    At { file: File, at: u64, end: u64 },
}

#[derive(Debug)]
pub struct FileSink {
    file: Option<File>,
    /// The named temporary file `file` is, if it has a name; None for an
    /// unnamed one (`O_TMPFILE`).
    temp: Option<PathBuf>,
    id: u64,
    target: FilePath,
    limit: Option<u64>,
    written: u64,
    /// Set once a non-2xx final response arrived: its body is kept here
    /// (truncated to ERROR_BODY_LIMIT) and the target is not touched.
    error_body: Option<Vec<u8>>,
    /// What the file must be, if the caller said (`net_options`).
    expect: Expect,
    /// The SHA-256 of the `written` bytes, when one is expected.
    hasher: Option<Box<Sha256>>,
}

/// What a downloaded file must be.
#[derive(Clone, Copy, Debug, Default)]
pub struct Expect {
    pub size: Option<u64>,
    pub sha256: Option<[u8; 32]>,
}

/// Whether this process may link an unnamed file in: not asked yet, yes, no.
static LINK_UNNAMED: AtomicU8 = AtomicU8::new(UNKNOWN);
const UNKNOWN: u8 = 0;
const YES: u8 = 1;
const NO: u8 = 2;

/// The environment variable that forces the named temporary file.
const TEMP_FILE_VAR: &str = "NETDL_TEMP_FILE";

/// Whether `NETDL_TEMP_FILE=named` is set (read once per process).
fn named_forced() -> bool {
    static NAMED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *NAMED.get_or_init(|| std::env::var_os(TEMP_FILE_VAR).is_some_and(|v| v == "named"))
}

/// Opens `path` for a body (`replace`: truncating any file there, else
/// only a new one), making the target's folders again (`remake`) when they
/// were removed since they were made.
fn open_body(
    path: &Path,
    replace: bool,
    remake: impl Fn() -> Result<(), Error>,
) -> Result<File, Error> {
    let open = || {
        let mut o = OpenOptions::new();
        o.read(true).write(true);
        match replace {
            true => o.create(true).truncate(true),
            false => o.create_new(true),
        };
        o.open(path)
    };
    let opened = match open() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            remake()?;
            open()
        }
        other => other,
    };
    opened.map_err(|e| Error::io(&format!("cannot create {}", path.display()), &e))
}

impl FileSink {
    /// Creates the base directory and the target's parent folders (unless
    /// `known` says they were made before), and the empty file the body
    /// goes to: unnamed, or a named temporary file beside the target
    /// (exclusive, so two requests never share one).
    /// Without unnamed files, a persisted download (`persist`) writes to
    /// its partial-data name `.NAME.netdl-partial` from the start (a file a
    /// later process can find), replacing any there (where that name
    /// cannot be had, to a temporary name: its data is never claimed);
    /// with them it gets that name when the journal first claims its data
    /// (`name_as`).
    pub fn create(
        target: &FilePath,
        id: u64,
        known: &mut HashSet<Vec<u8>>,
        persist: bool,
    ) -> Result<FileSink, Error> {
        let Some((parent, _)) = target.parent_and_name() else {
            return Err(Error::new(ErrorKind::Internal, "download without a path"));
        };
        let base = target.base();
        // Checked every time: the folder could have been removed (by a
        // cleaner of $TMPDIR) and planted again since it was made.
        let shared = target.dir == BaseDir::Temporary && dirs::is_shared_temporary(base);
        if shared {
            dirs::check_private(base)?;
        }
        // Keyed by bytes: hashing a Path walks its components.
        let parent_bytes = parent.as_os_str().as_bytes();
        if !known.contains(parent_bytes) {
            make_dirs(base, parent, shared)?;
            known.insert(parent_bytes.to_vec());
        }
        let mut sink = FileSink {
            file: None,
            temp: None,
            id,
            target: target.clone(),
            limit: None,
            written: 0,
            error_body: None,
            expect: Expect::default(),
            hasher: None,
        };
        if let Some(file) = sink.open_unnamed(parent) {
            sink.file = Some(file);
            return Ok(sink);
        }
        // A persisted download's partial-data name, replacing any file
        // there; where that name cannot be had (a folder is in the way),
        // the ordinary temporary name: the download runs all the same, only
        // the journal cannot claim its data (as when `name_as` fails).
        let partial = (target.path().filter(|_| persist)).map(super::partial::data_path);
        let remake = || make_dirs(base, parent, shared);
        let (temp, file) = match partial.map(|p| (open_body(&p, true, remake), p)) {
            Some((Ok(file), p)) => (p, file),
            _ => {
                let temp = sink.temp_name();
                let file = open_body(&temp, false, remake)?;
                (temp, file)
            }
        };
        sink.file = Some(file);
        sink.temp = Some(temp);
        Ok(sink)
    }

    /// Continues the kept partial data at `data` (`size` bytes) for
    /// `target`: the file is opened for appending and, when a SHA-256 is
    /// expected, its bytes are read once into the hash. Fails when it
    /// cannot be opened or read (the download then starts afresh).
    pub fn continue_from(
        target: &FilePath,
        id: u64,
        data: &Path,
        size: u64,
        expect: Expect,
    ) -> std::io::Result<FileSink> {
        let mut file = OpenOptions::new().read(true).write(true).open(data)?;
        let mut hasher = expect.sha256.map(|_| Box::new(Sha256::new()));
        if let Some(h) = &mut hasher {
            let mut buf = vec![0u8; 1 << 20];
            let mut left = size;
            while left > 0 {
                let n = std::io::Read::read(&mut file, &mut buf)?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                let n = n.min(left as usize);
                h.update(&buf[..n]);
                left -= n as u64;
            }
        }
        file.set_len(size)?;
        file.seek(std::io::SeekFrom::Start(size))?;
        Ok(FileSink {
            file: Some(file),
            temp: Some(data.to_path_buf()),
            id,
            target: target.clone(),
            limit: None,
            written: size,
            error_body: None,
            expect,
            hasher,
        })
    }

    /// Gives the file the name `name` (a persisted download's data, about
    /// to be claimed by the journal), replacing any file there; the sink
    /// keeps writing it and renames it over the target when complete.
    pub fn name_as(&mut self, name: &Path) -> Result<(), Error> {
        let Some(file) = &self.file else {
            return Err(Error::new(ErrorKind::Internal, "naming a closed file"));
        };
        let fail = |e| Error::io(&format!("cannot name the data {}", name.display()), &e);
        match &self.temp {
            Some(t) if t == name => return Ok(()),
            Some(t) => fs::rename(t, name).map_err(fail)?,
            None => {
                let _ = fs::remove_file(name);
                link_in(file, &c_path(name)).map_err(fail)?;
            }
        }
        self.temp = Some(name.to_path_buf());
        Ok(())
    }

    /// Keeps the data as `name` (flushed to disk first, then named): the
    /// sink lets go of it. Fails (and deletes it) when that is impossible.
    pub fn keep_as(&mut self, name: &Path) -> Result<(), Error> {
        let Some(file) = self.file.take() else {
            return Err(Error::new(ErrorKind::Internal, "kept twice"));
        };
        let temp = self.temp.take();
        let fail = |e: std::io::Error| {
            if let Some(t) = &temp {
                let _ = fs::remove_file(t);
            }
            Error::io(
                &format!("cannot keep the partial data {}", name.display()),
                &e,
            )
        };
        file.sync_data().map_err(fail)?;
        match &temp {
            Some(t) if t == name => Ok(()),
            Some(t) => fs::rename(t, name).map_err(fail),
            None => {
                // An unnamed file: linked in beside, then renamed over any
                // older partial data.
                let _ = fs::remove_file(name);
                link_in(&file, &c_path(name)).map_err(fail)
            }
        }
    }

    /// An unnamed file in `parent`, when the file system has them and this
    /// process may link one in (asked once, with the first download).
    fn open_unnamed(&self, parent: &Path) -> Option<File> {
        let open = || {
            OpenOptions::new()
                .read(true) // segments: hashed from disk once complete
                .write(true)
                .custom_flags(libc::O_TMPFILE)
                .open(parent)
                .ok()
        };
        match LINK_UNNAMED.load(Ordering::Relaxed) {
            YES => open(),
            NO => None,
            _ if named_forced() => {
                LINK_UNNAMED.store(NO, Ordering::Relaxed);
                None
            }
            _ => {
                // Linked in under the temporary name and removed again, a
                // file of its own (once linked and unlinked, a file cannot
                // be linked again).
                let probe = c_path(&self.temp_name());
                match link_in(&open()?, &probe) {
                    Ok(()) => {
                        let _ = fs::remove_file(Path::new(OsStr::from_bytes(probe.to_bytes())));
                        LINK_UNNAMED.store(YES, Ordering::Relaxed);
                        open()
                    }
                    // What a kernel before 6.10 answers an unprivileged caller.
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                        LINK_UNNAMED.store(NO, Ordering::Relaxed);
                        None
                    }
                    Err(_) => None, // undecided: asked again next time
                }
            }
        }
    }

    /// `parent/.NAME.netdl-ID.part`.
    fn temp_name(&self) -> PathBuf {
        let (parent, name) =
            (self.target.parent_and_name()).unwrap_or((Path::new(""), OsStr::new("")));
        let parent = parent.as_os_str().as_bytes();
        let mut temp = Vec::with_capacity(parent.len() + name.len() + 40);
        temp.extend_from_slice(parent);
        temp.extend_from_slice(b"/.");
        temp.extend_from_slice(name.as_bytes());
        let _ = write!(temp, ".netdl-{}.part", self.id); // into a Vec: cannot fail
        PathBuf::from(OsString::from_vec(temp))
    }

    pub fn with_limit(mut self, limit: Option<u64>) -> FileSink {
        self.limit = limit;
        self
    }

    /// What the complete file must be: checked by `Sink::finish`.
    pub fn with_expect(mut self, expect: Expect) -> FileSink {
        self.hasher = expect.sha256.map(|_| Box::new(Sha256::new()));
        self.expect = expect;
        self
    }

    /// Bytes in the file.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Another descriptor of the file, for a segment's helper.
    pub fn share_file(&self) -> std::io::Result<File> {
        match &self.file {
            Some(f) => f.try_clone(),
            None => Err(std::io::Error::other("the file is closed")),
        }
    }

    /// The segments wrote the file up to `total`: the hash reads what
    /// this sink did not write itself.
    pub fn assemble(&mut self, total: u64) -> Result<(), Error> {
        if let (Some(h), Some(file)) = (&mut self.hasher, &self.file) {
            use std::os::unix::fs::FileExt;
            let mut buf = vec![0u8; 1 << 20];
            let mut at = self.written;
            while at < total {
                let want = buf.len().min((total - at) as usize);
                let n = file
                    .read_at(&mut buf[..want], at)
                    .map_err(|e| Error::io("cannot read the download back", &e))?;
                if n == 0 {
                    return Err(Error::new(ErrorKind::Internal, "a segment is missing"));
                }
                h.update(&buf[..n]);
                at += n as u64;
            }
        }
        self.written = total;
        Ok(())
    }

    /// Cuts the file to its first `len` bytes (the data up to a gap).
    pub fn truncate_to(&mut self, len: u64) -> Result<(), Error> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| Error::new(ErrorKind::Internal, "truncate after the file was closed"))?;
        file.set_len(len)
            .and_then(|()| file.seek(std::io::SeekFrom::Start(len)).map(|_| ()))
            .map_err(|e| Error::io("cannot cut the download's file", &e))?;
        self.written = len;
        Ok(())
    }

    /// Empties the file to receive a response from its first byte again
    /// (the server did not continue where the data ended).
    pub fn restart(&mut self) -> Result<(), Error> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| Error::new(ErrorKind::Internal, "restart after the file was closed"))?;
        file.set_len(0)
            .and_then(|()| file.rewind())
            .map_err(|e| Error::io("cannot empty the download's file", &e))?;
        self.written = 0;
        self.error_body = None;
        self.hasher = self.expect.sha256.map(|_| Box::new(Sha256::new()));
        Ok(())
    }

    /// Fails when the server announces a file of another size than the
    /// one expected (before any of its body is stored).
    pub fn check_total(&self, total: u64) -> Result<(), Error> {
        match self.expect.size {
            Some(size) if size != total => Err(Error::new(
                ErrorKind::Integrity,
                format!("the server announced {total} bytes; the file should have {size}"),
            )),
            _ => Ok(()),
        }
    }

    /// Checks the complete file against what was expected (once: the
    /// hash is consumed).
    pub fn verify(&mut self) -> Result<(), Error> {
        if let Some(size) = self.expect.size {
            if self.written != size {
                return Err(Error::new(
                    ErrorKind::Integrity,
                    format!(
                        "received {} bytes; the file should have {size}",
                        self.written
                    ),
                ));
            }
        }
        if let (Some(want), Some(hasher)) = (self.expect.sha256, self.hasher.take()) {
            let got: [u8; 32] = hasher.finalize().into();
            if got != want {
                return Err(Error::new(
                    ErrorKind::Integrity,
                    format!(
                        "SHA-256 {} does not match {}",
                        super::record::hex(&got),
                        super::record::hex(&want)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The final response is not a success: keep its body in memory
    /// instead and leave the target alone.
    pub fn divert_to_error_body(&mut self) {
        self.error_body = Some(Vec::new());
    }

    /// The final response is a success after all (libcurl followed a
    /// redirect, or sent the request again, after a diverted response
    /// whose body it dropped): the body goes to the file.
    pub fn undivert(&mut self) {
        self.error_body = None;
    }

    /// Puts the complete file in place of the target: links an unnamed file
    /// in as the target, or (when a file is there already, or the file has
    /// a name) renames it over the target.
    /// A target that is a directory is found here, by rename(2) itself,
    /// rather than by a stat of every target when its transfer starts.
    fn commit(&mut self) -> Result<(), Error> {
        let Some(file) = self.file.take() else {
            return Err(Error::new(ErrorKind::Internal, "download committed twice"));
        };
        let target = self.target.path().unwrap_or(Path::new(""));
        let cannot_move = |e: &std::io::Error| {
            Error::io(
                &format!("cannot move the download to {}", target.display()),
                e,
            )
        };
        if self.temp.is_none() {
            let c_target = self.target.c_path().unwrap_or_default();
            match link_in(&file, c_target) {
                Ok(()) => return Ok(()),
                // Replacing a file: link in under the temporary name, then
                // rename over the target, which replaces it atomically.
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                    let temp = self.temp_name();
                    link_in(&file, &c_path(&temp)).map_err(|e| cannot_move(&e))?;
                    self.temp = Some(temp);
                }
                Err(e) => return Err(cannot_move(&e)),
            }
        }
        drop(file);
        let temp = self.temp.take().unwrap_or_default();
        fs::rename(&temp, target).map_err(|e| {
            let _ = fs::remove_file(&temp);
            if e.raw_os_error() == Some(libc::EISDIR) {
                Error::invalid(format!("{} is a directory, not a file", target.display()))
            } else {
                cannot_move(&e)
            }
        })
    }

    /// Deletes the file (idempotent): an unnamed one goes with its
    /// descriptor.
    fn discard(&mut self) {
        if self.file.take().is_some() {
            if let Some(temp) = self.temp.take() {
                let _ = fs::remove_file(temp);
            }
        }
    }
}

/// Gives the unnamed `file` the name `path` (`linkat` with
/// `AT_EMPTY_PATH`); fails if `path` exists.
fn link_in(file: &File, path: &CStr) -> std::io::Result<()> {
    // SAFETY: the descriptor is open for the whole call (`file` is
    // borrowed); both strings are NUL-terminated and outlive the call.
    let rc = unsafe {
        libc::linkat(
            file.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// `path` as a C string (paths here hold no NUL: filenames were checked).
fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap_or_default()
}

/// Creates the base directory (`shared`: the default temporary folder,
/// created private or checked) and the target's parent folders in it.
fn make_dirs(base: &Path, parent: &Path, shared: bool) -> Result<(), Error> {
    let create = |dir: &Path| {
        fs::create_dir_all(dir)
            .map_err(|e| Error::io(&format!("cannot create {}", dir.display()), &e))
    };
    if shared {
        dirs::check_private(base)?;
    } else {
        create(base)?;
    }
    create(parent)
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
                if let Some(h) = &mut f.hasher {
                    h.update(data);
                }
                file.write_all(data).map_err(|e| {
                    let path = f
                        .temp
                        .as_deref()
                        .or(f.target.path())
                        .unwrap_or(Path::new(""));
                    Error::io(&format!("cannot write {}", path.display()), &e)
                })?;
                f.written += data.len() as u64;
                Ok(())
            }
            Sink::At { file, at, end } => {
                use std::os::unix::fs::FileExt;
                if *at + data.len() as u64 > *end {
                    return Err(Error::new(
                        ErrorKind::Protocol,
                        "a segment's response is longer than its range",
                    ));
                }
                file.write_all_at(data, *at)
                    .map_err(|e| Error::io("cannot write a segment", &e))?;
                *at += data.len() as u64;
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
            Sink::File(_) | Sink::At { .. } => None,
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
            Sink::At { .. } => Ok(None),
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
