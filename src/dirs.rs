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

use std::env;
use std::path::{Path, PathBuf};

use crate::error::Error;

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
                // SAFETY: getuid has no preconditions and cannot fail.
                let uid = unsafe { libc::getuid() };
                env::temp_dir().join(format!("{app}-{uid}"))
            }
            BaseDir::Resource => env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(Path::to_path_buf))
                .ok_or_else(|| Error::invalid("the executable's directory is unknown"))?,
        };
        Ok(path)
    }
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
