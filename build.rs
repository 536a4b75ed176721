//! Generates the C header from `src/ffi/` into `OUT_DIR/netdl.h`.
//!
//! The committed `include/netdl.h` is never written by the build: the test
//! `tests/header.rs` compares the two and says how to update it.

use std::env;
use std::path::PathBuf;

fn main() {
    // The shared library's SONAME carries the major version (installed as
    // libnetdl.so.0.x.y with libnetdl.so.0 and libnetdl.so links).
    let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnetdl.so.{major}");
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("netdl.h");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    // Only the C-facing files: the rest of the crate is not C's business.
    cbindgen::Builder::new()
        .with_src(crate_dir.join("src/ffi/types.rs"))
        .with_src(crate_dir.join("src/ffi/calls.rs"))
        .with_config(config)
        .generate()
        .expect("cbindgen can read src/ffi")
        .write_to_file(&out);
    println!("cargo:rustc-env=NETDL_GENERATED_HEADER={}", out.display());
}
