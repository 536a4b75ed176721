//! The error, directory and phase tables are written in several places:
//! the Rust enums (`ErrorKind` with its `c_name`, `BaseDir` with its
//! `name`, `Phase`), the C constants in `src/ffi/types.rs` (`NET_ERROR_*`,
//! `NET_DIR_*`, `NET_PHASE_*`), the generated header, `net_error_name`,
//! and the README's error table. This walks every value through all of
//! them, and through C (tests/c/tables.c): the header's constants against
//! `net_error_name` (by stringized macro name) and against what Rust says.

mod cbuild;

use std::collections::BTreeMap;
use std::ffi::CStr;

use netdl::ffi::*;
use netdl::{BaseDir, ErrorKind, Phase};

/// `[(name, value)]` of C constants, the name as written.
macro_rules! named {
    ($($c:ident),* $(,)?) => { [$((stringify!($c), $c as u64)),*] };
}

const ERRORS: [(&str, u64); 14] = named![
    NET_ERROR_NONE,
    NET_ERROR_INVALID_ARGUMENT,
    NET_ERROR_UNSUPPORTED_SCHEME,
    NET_ERROR_DNS,
    NET_ERROR_CONNECT,
    NET_ERROR_TLS,
    NET_ERROR_TIMEOUT,
    NET_ERROR_NETWORK,
    NET_ERROR_PROTOCOL,
    NET_ERROR_TOO_MANY_REDIRECTS,
    NET_ERROR_TOO_LARGE,
    NET_ERROR_IO,
    NET_ERROR_INTERNAL,
    NET_ERROR_INTEGRITY,
];

const DIRS: [(&str, u64); 5] = named![
    NET_DIR_DOCUMENTS,
    NET_DIR_TEMPORARY,
    NET_DIR_CACHES,
    NET_DIR_APPLICATION_SUPPORT,
    NET_DIR_RESOURCE,
];

const PHASES: [(&str, u64); 3] = named![NET_PHASE_BEGAN, NET_PHASE_PROGRESS, NET_PHASE_ENDED];

/// Every phase; the match makes a new variant fail to compile here.
const ALL_PHASES: [Phase; 3] = [Phase::Began, Phase::Progress, Phase::Ended];
fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Began => "NET_PHASE_BEGAN",
        Phase::Progress => "NET_PHASE_PROGRESS",
        Phase::Ended => "NET_PHASE_ENDED",
    }
}

/// What Rust says, as (name, value): every error kind and
/// `NET_ERROR_NONE`, every base directory, every phase.
fn rust_tables() -> Vec<(String, u64)> {
    let mut v = vec![("NET_ERROR_NONE".to_string(), 0)];
    v.extend(ErrorKind::ALL.map(|k| (k.name().to_string(), k.code().into())));
    v.extend(BaseDir::ALL.map(|d| (d.name().to_string(), d as u64)));
    v.extend(ALL_PHASES.map(|p| (phase_name(p).to_string(), p as u64)));
    v
}

/// `#define NET_<prefix>_X N` lines of include/netdl.h, as name -> value.
fn header_defines(prefix: &str) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(cbuild::root().join("include/netdl.h")).unwrap();
    text.lines()
        .filter_map(|l| {
            let mut w = l.strip_prefix("#define ")?.split_whitespace();
            let (name, value) = (w.next()?, w.next()?);
            name.starts_with(prefix)
                .then(|| (name.to_string(), value.parse().unwrap()))
        })
        .collect()
}

fn map(list: &[(&str, u64)]) -> BTreeMap<String, u64> {
    list.iter().map(|(n, v)| (n.to_string(), *v)).collect()
}

fn error_name(code: u32) -> String {
    let p = net_error_name(code);
    assert!(!p.is_null());
    // SAFETY: net_error_name returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_string()
}

/// Rule: each error kind has one name and one code everywhere: ErrorKind
/// (`name`, `c_name`, `code`, `from_code`), its NET_ERROR_* constant, the
/// header, `net_error_name`; the codes run 1..=N without a gap, 0 is
/// NET_ERROR_NONE and anything else NET_ERROR_UNKNOWN.
#[test]
fn error_table_is_one_table() {
    assert_eq!(
        header_defines("NET_ERROR_"),
        map(&ERRORS),
        "include/netdl.h and src/ffi/types.rs (list the constants here too)"
    );
    assert_eq!(ErrorKind::ALL.len() + 1, ERRORS.len());
    for (i, kind) in ErrorKind::ALL.into_iter().enumerate() {
        let code = kind.code();
        assert_eq!(code, i as u32 + 1, "{kind:?}: codes in order, no gap");
        assert_eq!(kind.c_name().to_str().unwrap(), kind.name());
        assert!(
            ERRORS.contains(&(kind.name(), code.into())),
            "{kind:?}: no constant {} = {code}",
            kind.name()
        );
        assert_eq!(ErrorKind::from_code(code), Some(kind));
        assert_eq!(error_name(code), kind.name());
    }
    for (name, value) in ERRORS {
        assert_eq!(error_name(value as u32), name);
        let kind = ErrorKind::from_code(value as u32);
        assert_eq!(kind.map(ErrorKind::name), (value != 0).then_some(name));
    }
    for unknown in [ERRORS.len() as u32, 1000, u32::MAX] {
        assert_eq!(error_name(unknown), "NET_ERROR_UNKNOWN");
        assert_eq!(ErrorKind::from_code(unknown), None);
    }
}

/// Rule: the README's error table lists every code with its value.
#[test]
fn readme_error_table_matches() {
    let readme = std::fs::read_to_string(cbuild::root().join("README.md")).unwrap();
    let rows: BTreeMap<String, u64> = readme
        .lines()
        .filter_map(|l| {
            let mut cells = l.strip_prefix("| `NET_ERROR_")?.split('|');
            let name = format!("NET_ERROR_{}", cells.next()?.trim().trim_end_matches('`'));
            Some((name, cells.next()?.trim().parse().ok()?))
        })
        .collect();
    assert_eq!(rows, map(&ERRORS), "README.md ### Error codes");
}

/// Rule: each base directory has one name and one value: BaseDir (`name`,
/// `as u32`, `try_from`), its NET_DIR_* constant and the header.
#[test]
fn directory_table_is_one_table() {
    assert_eq!(header_defines("NET_DIR_"), map(&DIRS));
    assert_eq!(BaseDir::ALL.len(), DIRS.len());
    for (i, dir) in BaseDir::ALL.into_iter().enumerate() {
        assert_eq!(dir as usize, i, "{dir:?}: values in order, no gap");
        assert!(DIRS.contains(&(dir.name(), dir as u64)), "{dir:?}");
        assert_eq!(BaseDir::try_from(dir as u32).unwrap(), dir);
    }
    assert!(BaseDir::try_from(DIRS.len() as u32).is_err());
}

/// Rule: each phase has one name and one value: Phase, its NET_PHASE_*
/// constant and the header.
#[test]
fn phase_table_is_one_table() {
    assert_eq!(header_defines("NET_PHASE_"), map(&PHASES));
    for (i, phase) in ALL_PHASES.into_iter().enumerate() {
        assert_eq!(phase as usize, i, "{phase:?}: values in order, no gap");
        assert!(PHASES.contains(&(phase_name(phase), phase as u64)));
    }
}

/// Rule: from C, every NET_ERROR_* constant's `net_error_name` is its own
/// macro name, and every NET_ERROR_*, NET_DIR_* and NET_PHASE_* value is
/// what Rust says (tests/c/tables.c, given Rust's tables on its command
/// line).
#[test]
fn c_sees_the_same_tables() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("tables");
    let root = cbuild::root();
    cbuild::compile(
        &[&root.join("tests/c/tables.c")],
        &root.join("include"),
        &exe,
    );
    let args: Vec<String> = rust_tables()
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    let out = cbuild::run(&exe).args(&args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(
        stdout.trim(),
        format!("{} constants checked, 0 failures", args.len())
    );
}
