//! The committed header is exactly what cbindgen generates from `src/ffi/`,
//! and both C structs keep their pinned sizes.

use std::mem::size_of;

use netdl::ffi::{net_event, net_params};

/// Rule: `include/netdl.h` matches the generated header byte for byte.
#[test]
fn committed_header_matches_generated() {
    let generated = std::fs::read(env!("NETDL_GENERATED_HEADER")).expect("generated header");
    let committed_path = concat!(env!("CARGO_MANIFEST_DIR"), "/include/netdl.h");
    let committed = std::fs::read(committed_path).unwrap_or_default();
    if generated != committed {
        if std::env::var_os("NETDL_BLESS").is_some() {
            std::fs::write(committed_path, &generated).expect("write include/netdl.h");
            return;
        }
        panic!(
            "include/netdl.h differs from the header cbindgen generates.\n\
             Regenerate it with:  NETDL_BLESS=1 cargo test --test header\n\
             (or: cp {} include/netdl.h)",
            env!("NETDL_GENERATED_HEADER")
        );
    }
}

/// Rule: the structs C allocates never change size (new fields come out of `reserved`).
#[test]
fn struct_sizes_are_pinned() {
    assert_eq!(size_of::<net_params>(), 160);
    assert_eq!(size_of::<net_event>(), 192);
}
