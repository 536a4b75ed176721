//! Base directories (`NET_DIR_*`) and where they live by default.
//!
//! Defaults follow the XDG base-directory convention, under an application
//! name the host can set (`net_set_app_name`, default `"netdl"`):
//!
//! | directory | default path |
//! |---|---|
//! | Documents | `$XDG_DATA_HOME/<app>/Documents` (`~/.local/share/<app>/Documents`) |
//! | Temporary | `$TMPDIR/<app>-<uid>` (`/tmp/<app>-<uid>`) |
//! | Caches | `$XDG_CACHE_HOME/<app>` (`~/.cache/<app>`) |
//! | ApplicationSupport | `$XDG_DATA_HOME/<app>/ApplicationSupport` |
//! | Resource | the directory holding the running executable (read-only) |
//!
//! Nothing is created here: the network thread creates a directory the
//! first time a download needs it.
//!
//! The default temporary folder sits in `$TMPDIR`, where every local user
//! may create entries, so another user could make `<app>-<uid>` first, or
//! plant a symbolic link there, and then read or replace downloads. The
//! network thread therefore checks that folder before each download into
//! it ([`check_private`]): it is created with mode 0700, and an existing
//! one is used only when it is a real directory (not a symbolic link)
//! owned by this process's uid and not writable by group or others. A
//! folder set with `net_set_directory` is the application's own choice and
//! is not checked (only created when missing, as the other folders are).

use std::env;
use std::fs::{self, DirBuilder};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, ErrorKind};

/// One of the five base directories (`net_dir` in C).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum BaseDir {
    Documents = 0,
    Temporary = 1,
    Caches = 2,
    ApplicationSupport = 3,
    Resource = 4,
}

impl BaseDir {
    pub const ALL: [BaseDir; 5] = [
        BaseDir::Documents,
        BaseDir::Temporary,
        BaseDir::Caches,
        BaseDir::ApplicationSupport,
        BaseDir::Resource,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BaseDir::Documents => "NET_DIR_DOCUMENTS",
            BaseDir::Temporary => "NET_DIR_TEMPORARY",
            BaseDir::Caches => "NET_DIR_CACHES",
            BaseDir::ApplicationSupport => "NET_DIR_APPLICATION_SUPPORT",
            BaseDir::Resource => "NET_DIR_RESOURCE",
        }
    }
}

impl TryFrom<u32> for BaseDir {
    type Error = Error;

    fn try_from(v: u32) -> Result<BaseDir, Error> {
        BaseDir::ALL
            .get(v as usize)
            .copied()
            .ok_or_else(|| Error::invalid(format!("base directory {v} is not one of NET_DIR_*")))
    }
}

/// The application name and any per-directory overrides.
#[derive(Clone, Debug)]
pub struct Dirs {
    app_name: String,
    overrides: [Option<PathBuf>; 5],
}

impl Default for Dirs {
    fn default() -> Dirs {
        Dirs {
            app_name: "netdl".to_string(),
            overrides: Default::default(),
        }
    }
}

impl Dirs {
    /// Sets the name the default paths are made of. It must be a single,
    /// non-empty path component.
    pub fn set_app_name(&mut self, name: &str) -> Result<(), Error> {
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
            return Err(Error::invalid(format!(
                "application name {name:?} must be one non-empty path component"
            )));
        }
        self.app_name = name.to_string();
        Ok(())
    }

    /// Overrides where `dir` lives. The path must be absolute; it is created
    /// on first use if missing.
    pub fn set(&mut self, dir: BaseDir, path: &Path) -> Result<(), Error> {
        if !path.is_absolute() {
            return Err(Error::invalid(format!(
                "directory {} must be an absolute path",
                path.display()
            )));
        }
        self.overrides[dir as usize] = Some(path.to_path_buf());
        Ok(())
    }

    /// Calls `f` with the directory's path, without copying an override.
    pub fn with_path<T>(&self, dir: BaseDir, f: impl FnOnce(&Path) -> T) -> Result<T, Error> {
        match &self.overrides[dir as usize] {
            Some(p) => Ok(f(p)),
            None => self.path(dir).map(|p| f(&p)),
        }
    }

    /// The directory's path: the override if set, else the default.
    pub fn path(&self, dir: BaseDir) -> Result<PathBuf, Error> {
        if let Some(p) = &self.overrides[dir as usize] {
            return Ok(p.clone());
        }
        let app = &self.app_name;
        let path = match dir {
            BaseDir::Documents => xdg("XDG_DATA_HOME", ".local/share")?
                .join(app)
                .join("Documents"),
            BaseDir::ApplicationSupport => xdg("XDG_DATA_HOME", ".local/share")?
                .join(app)
                .join("ApplicationSupport"),
            BaseDir::Caches => xdg("XDG_CACHE_HOME", ".cache")?.join(app),
            BaseDir::Temporary => {
                let shared = env::temp_dir().join(format!("{app}-{}", uid()));
                note_shared_temporary(&shared);
                shared
            }
            BaseDir::Resource => env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(Path::to_path_buf))
                .ok_or_else(|| Error::invalid("the executable's directory is unknown"))?,
        };
        Ok(path)
    }
}

/// The default temporary folders this process handed out (one per
/// `$TMPDIR` and application name seen, so a handful at most): the
/// folders [`check_private`] guards. Overrides are not in it.
static SHARED_TEMPORARY: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn note_shared_temporary(path: &Path) {
    let mut shared = crate::lock(&SHARED_TEMPORARY);
    if !shared.iter().any(|p| p == path) {
        shared.push(path.to_path_buf());
    }
}

/// Whether `path` is a default `NET_DIR_TEMPORARY` folder (in `$TMPDIR`,
/// shared with other users) rather than one the application chose.
pub(crate) fn is_shared_temporary(path: &Path) -> bool {
    crate::lock(&SHARED_TEMPORARY).iter().any(|p| p == path)
}

/// Makes sure `dir` is a folder only this process's user can write to:
/// creates it with mode 0700 when missing; an existing `dir` must be a
/// real directory (a symbolic link is not followed) owned by this uid and
/// not writable by group or others. Otherwise `NET_ERROR_IO`, naming the
/// folder and the reason. (The folders above `dir` are created as usual.)
pub(crate) fn check_private(dir: &Path) -> Result<(), Error> {
    let meta = match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(above) = dir.parent() {
                fs::create_dir_all(above)
                    .map_err(|e| Error::io(&format!("cannot create {}", above.display()), &e))?;
            }
            match DirBuilder::new().mode(0o700).create(dir) {
                // Made by someone else meanwhile: checked below like any other.
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                    return Err(Error::io(&format!("cannot create {}", dir.display()), &e));
                }
                _ => fs::symlink_metadata(dir),
            }
        }
        other => other,
    }
    .map_err(|e| Error::io(&format!("cannot inspect {}", dir.display()), &e))?;
    let uid = uid();
    let reason = if meta.file_type().is_symlink() {
        "is a symbolic link".to_string()
    } else if !meta.is_dir() {
        "is not a directory".to_string()
    } else if meta.uid() != uid {
        format!("is owned by uid {}, not {uid}", meta.uid())
    } else if meta.mode() & 0o022 != 0 {
        format!(
            "is writable by group or others (mode {:o})",
            meta.mode() & 0o7777
        )
    } else {
        return Ok(());
    };
    Err(Error::new(
        ErrorKind::Io,
        format!("{} {reason}; refusing to use it", dir.display()),
    ))
}

fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// `$VAR` if set to an absolute path (as XDG requires), else `$HOME/fallback`.
fn xdg(var: &str, fallback: &str) -> Result<PathBuf, Error> {
    if let Some(v) = env::var_os(var) {
        let p = PathBuf::from(v);
        if p.is_absolute() {
            return Ok(p);
        }
    }
    match env::var_os("HOME") {
        Some(home) if !home.is_empty() => Ok(PathBuf::from(home).join(fallback)),
        _ => Err(Error::invalid(format!(
            "neither ${var} nor $HOME is set; call net_set_directory first"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_dir_is_rejected() {
        assert_eq!(BaseDir::try_from(4).unwrap(), BaseDir::Resource);
        assert!(BaseDir::try_from(5).is_err());
        assert!(BaseDir::try_from(u32::MAX).is_err());
    }

    #[test]
    fn override_wins_and_must_be_absolute() {
        let mut d = Dirs::default();
        assert!(d.set(BaseDir::Caches, Path::new("rel/dir")).is_err());
        d.set(BaseDir::Caches, Path::new("/x/y")).unwrap();
        assert_eq!(d.path(BaseDir::Caches).unwrap(), PathBuf::from("/x/y"));
    }

    #[test]
    fn only_default_temporary_folders_are_shared() {
        let mut d = Dirs::default();
        d.set_app_name("shared-check").unwrap();
        let default = d.path(BaseDir::Temporary).unwrap();
        assert!(is_shared_temporary(&default));
        d.set(BaseDir::Temporary, Path::new("/x/chosen")).unwrap();
        assert_eq!(d.path(BaseDir::Temporary).unwrap(), Path::new("/x/chosen"));
        assert!(!is_shared_temporary(Path::new("/x/chosen")));
        assert!(!is_shared_temporary(&d.path(BaseDir::Caches).unwrap()));
    }

    /// Owned by another uid needs root to set up: tests/temp_dir.rs.
    #[test]
    fn private_folder_is_made_0700_and_checked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path();
        let fresh = tmp.join("a/fresh");
        check_private(&fresh).unwrap();
        let mode = fs::symlink_metadata(&fresh).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o700);
        check_private(&fresh).unwrap(); // and again, existing

        let open = tmp.join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let err = check_private(&open).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Io);
        let want = format!(
            "{} is writable by group or others (mode 777); refusing to use it",
            open.display()
        );
        assert_eq!(err.message, want);

        let link = tmp.join("link");
        std::os::unix::fs::symlink(&fresh, &link).unwrap();
        let err = check_private(&link).unwrap_err();
        let want = format!("{} is a symbolic link; refusing to use it", link.display());
        assert_eq!((err.kind, err.message), (ErrorKind::Io, want));

        let file = tmp.join("file");
        fs::write(&file, b"").unwrap();
        let err = check_private(&file).unwrap_err();
        let want = format!("{} is not a directory; refusing to use it", file.display());
        assert_eq!((err.kind, err.message), (ErrorKind::Io, want));
    }

    #[test]
    fn app_name_is_one_component() {
        let mut d = Dirs::default();
        for bad in ["", ".", "..", "a/b"] {
            assert!(d.set_app_name(bad).is_err(), "{bad:?}");
        }
        d.set_app_name("mygame").unwrap();
        assert!(d
            .path(BaseDir::Temporary)
            .unwrap()
            .to_string_lossy()
            .contains("mygame-"));
    }
}
