//! Building and running C test programs against the current libnetdl.so
//! (target/debug): `-std=c11 -pedantic -Wall -Wextra -Werror` (or C++17),
//! with a header folder of the caller's choice.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding a fresh libnetdl.so (target/debug), with the
/// `libnetdl.so.0` name its SONAME asks for at run time. `cargo test` does
/// not link the cdylib, so this builds it once (cargo serializes builds).
pub fn lib_dir() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let status = Command::new(env!("CARGO"))
                .args(["build", "--lib", "--quiet", "--manifest-path"])
                .arg(root().join("Cargo.toml"))
                .status()
                .expect("cargo runs");
            assert!(status.success(), "cargo build --lib failed");
            let exe = std::env::current_exe().unwrap();
            let dir = exe.parent().unwrap().parent().unwrap().to_path_buf(); // target/debug/deps/..
            let soname = dir.join("libnetdl.so.0");
            if std::fs::read_link(&soname).ok() != Some(PathBuf::from("libnetdl.so")) {
                let _ = std::fs::remove_file(&soname);
                std::os::unix::fs::symlink("libnetdl.so", &soname).unwrap();
            }
            dir
        })
        .clone()
}

/// Compiles the C `sources` into `out` against the headers in `include`,
/// linked to libnetdl.
pub fn compile(sources: &[&Path], include: &Path, out: &Path) {
    build(sources, include, out, false);
}

/// As `compile`, as C++17 (`-x c++`).
pub fn compile_cxx(sources: &[&Path], include: &Path, out: &Path) {
    build(sources, include, out, true);
}

fn build(sources: &[&Path], include: &Path, out: &Path, cxx: bool) {
    let lib = lib_dir();
    let mut cmd = Command::new(if cxx { "g++" } else { "cc" });
    if cxx {
        cmd.args(["-std=c++17", "-x", "c++"]);
    } else {
        cmd.args(["-std=c11", "-pedantic"]);
    }
    let status = cmd
        .args(["-Wall", "-Wextra", "-Werror", "-o"])
        .arg(out)
        .arg("-I")
        .arg(include)
        .args(sources)
        .arg("-L")
        .arg(&lib)
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lnetdl")
        .status()
        .expect("C compiler runs");
    assert!(status.success(), "compiling {sources:?} failed");
}

/// Whether the C programs run under valgrind (`NETDL_VALGRIND=1`, set by
/// scripts/valgrind.sh).
pub fn valgrind() -> bool {
    std::env::var_os("NETDL_VALGRIND").is_some_and(|v| v == "1")
}

/// Runs a compiled C program, under valgrind's memcheck when
/// `NETDL_VALGRIND=1`: any memory error or definite
/// leak fails the run.
pub fn run(exe: &Path) -> Command {
    if valgrind() {
        let mut cmd = Command::new("valgrind");
        cmd.args([
            "--quiet",
            // No gdbserver FIFOs in /tmp: a program the tests kill
            // (persist.c) would leave them behind.
            "--vgdb=no",
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite",
        ])
        .arg(exe);
        cmd
    } else {
        Command::new(exe)
    }
}

/// Compiles the C `source` into the shared object `out`, for `LD_PRELOAD`
/// (a test shim standing between a process and the C library).
pub fn compile_preload(source: &Path, out: &Path) {
    let status = Command::new("cc")
        .args([
            "-std=c11", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", "-o",
        ])
        .arg(out)
        .arg(source)
        .arg("-ldl")
        .status()
        .expect("C compiler runs");
    assert!(status.success(), "compiling {source:?} failed");
}
