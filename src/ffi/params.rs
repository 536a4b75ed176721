//! Reading what C passes in: strings and `net_params`, copied into owned
//! Rust values, with a specific error for each way they can be wrong.

use std::ffi::{c_char, CStr};
use std::path::PathBuf;
use std::time::Duration;

use super::types::*;
use crate::dirs::BaseDir;
use crate::error::Error;
use crate::queue::Queue;
use crate::request::{Body, BodyType, Fetch, Options};

/// Borrows a C string as UTF-8.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid and
/// unchanged while the returned `&str` is used.
pub unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(Error::invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated per this function's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map_err(|_| Error::invalid(format!("{what} is not valid UTF-8")))
}

/// `p` as a string, NULL allowed.
///
/// # Safety
/// As [`str_arg`].
unsafe fn opt_str_arg<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>, Error> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { str_arg(p, what) }.map(Some)
    }
}

/// The `user_data` of `params`, read first so that even a request with bad
/// params reports its failure with the right `user_data`.
///
/// # Safety
/// `params` is NULL or points to a readable `net_params`.
pub unsafe fn user_data(params: *const net_params) -> usize {
    // SAFETY: per the contract; `as_ref` handles NULL.
    unsafe { params.as_ref() }.map_or(0, |p| p.user_data as usize)
}

/// The queue `params` names (None: the default queue), read first for the
/// same reason as `user_data`.
///
/// # Safety
/// `params` is NULL or points to a readable `net_params` whose `queue` is
/// NULL or a queue from `net_queue_create` not yet destroyed.
pub unsafe fn queue(params: *const net_params) -> Option<Queue> {
    // SAFETY: per the contract; `as_ref` handles NULL, and a non-NULL
    // `queue` points to a live `net_queue`.
    let q = unsafe { params.as_ref()?.queue.as_ref()? };
    Some(q.queue.clone())
}

/// Copies `params` into `Options`. NULL means every default.
///
/// # Safety
/// `params` is NULL or points to a readable `net_params` whose pointers
/// satisfy the rules documented on each field.
pub unsafe fn options(params: *const net_params) -> Result<Options, Error> {
    // SAFETY: per the contract; `as_ref` handles NULL. Every field of
    // `net_params` is an integer or a raw pointer, so any bytes C put in
    // it are a valid value (booleans are `net_bool` bytes, not `bool`).
    let Some(p) = (unsafe { params.as_ref() }) else {
        return Ok(Options::default());
    };
    if p.reserved.iter().any(|&r| r != 0) || p.reserved32 != 0 {
        return Err(Error::invalid(
            "net_params.reserved must be zero (zero-fill the struct before setting fields)",
        ));
    }
    let upload_progress = match p.progress_of {
        NET_PROGRESS_DOWNLOAD => false,
        NET_PROGRESS_UPLOAD => true,
        other => {
            return Err(Error::invalid(format!(
                "net_params.progress_of {other} is not one of NET_PROGRESS_*"
            )))
        }
    };
    let mut opts = Options {
        progress: p.progress != 0 || upload_progress,
        upload_progress,
        // SAFETY: forwarded contract.
        queue: unsafe { queue(params) },
        user_data: p.user_data as usize,
        no_redirects: p.no_redirects != 0,
        timeout: (p.timeout != 0).then(|| Duration::from_secs(p.timeout.into())),
        max_redirects: (p.max_redirects != 0).then_some(p.max_redirects),
        max_body: (p.max_body != 0).then_some(p.max_body),
        ..Options::default()
    };
    if p.header_count > 0 {
        if p.headers.is_null() {
            return Err(Error::invalid(
                "net_params.headers is NULL but header_count is not 0",
            ));
        }
        // SAFETY: non-NULL, and the caller promises `header_count` entries.
        let headers = unsafe { std::slice::from_raw_parts(p.headers, p.header_count) };
        for (i, h) in headers.iter().enumerate() {
            // SAFETY: each entry's strings follow the `net_header` rules.
            let name = unsafe { str_arg(h.name, &format!("header {i} name")) }?;
            let value = unsafe { str_arg(h.value, &format!("header {i} value")) }?;
            opts.headers.push((name.to_string(), value.to_string()));
        }
    }
    // SAFETY: `body_file` follows the string rules of `net_params`.
    if let Some(file) = unsafe { opt_str_arg(p.body_file, "net_params.body_file") }? {
        opts.body = Some(Body::File {
            filename: file.to_string(),
            base_dir: BaseDir::try_from(p.body_file_dir)?,
        });
    } else if p.body_len > 0 {
        if p.body.is_null() {
            return Err(Error::invalid(
                "net_params.body is NULL but body_len is not 0",
            ));
        }
        // SAFETY: non-NULL, and the caller promises `body_len` bytes.
        let body = unsafe { std::slice::from_raw_parts(p.body.cast::<u8>(), p.body_len) };
        opts.body = Some(Body::Bytes(body.to_vec()));
    }
    opts.body_type = match p.body_type {
        NET_BODY_AUTO => None,
        NET_BODY_TEXT => Some(BodyType::Text),
        NET_BODY_BINARY => Some(BodyType::Binary),
        other => {
            return Err(Error::invalid(format!(
                "net_params.body_type {other} is not one of NET_BODY_*"
            )))
        }
    };
    // SAFETY: `ca_file` follows the string rules of `net_params`.
    if let Some(ca) = unsafe { opt_str_arg(p.ca_file, "net_params.ca_file") }? {
        opts.ca_file = Some(PathBuf::from(ca));
    }
    // SAFETY: `options` follows the rules of `net_params.options`.
    opts.fetch = unsafe { fetch(p.options) }?;
    Ok(opts)
}

/// The sizes of earlier `net_options` versions, which later fields extend:
/// 0.2's (64 bytes: up to `segments`).
const OLDER_OPTIONS_SIZES: [usize; 1] = [64];

/// Copies a `net_options` (NULL: every default) by its extension rule:
/// only the `size` bytes the caller has are read; bytes of a newer,
/// larger struct must be zero.
///
/// # Safety
/// `o` is NULL or points to at least `o->size` readable bytes, starting
/// with a `net_options` as far as `size` reaches, whose pointers satisfy
/// the rules documented on each field.
unsafe fn fetch(o: *const net_options) -> Result<Fetch, Error> {
    if o.is_null() {
        return Ok(Fetch::default());
    }
    // SAFETY: `size` is the first field, and any caller's struct has it.
    let size = unsafe { o.cast::<u32>().read_unaligned() } as usize;
    let known = std::mem::size_of::<net_options>();
    // A smaller struct is read only when it is a whole older version (a
    // size between two would cut a field in half). This is the first.
    if size < known && !OLDER_OPTIONS_SIZES.contains(&size) {
        return Err(Error::invalid(format!(
            "net_options.size {size} is not the size of any net_options ({known} here); \
             set it to sizeof(net_options) (net_options_init())"
        )));
    }
    if size > known {
        // SAFETY: the caller promises `size` readable bytes.
        let newer = unsafe { std::slice::from_raw_parts(o.cast::<u8>().add(known), size - known) };
        if newer.iter().any(|&b| b != 0) {
            return Err(Error::invalid(format!(
                "net_options has fields this netdl ({}) does not know (size {size}, known {known})",
                env!("CARGO_PKG_VERSION")
            )));
        }
    }
    // A zeroed struct is every default (all fields are integers or raw
    // pointers), overwritten by the bytes the caller has.
    // SAFETY: zero is a valid value of each field.
    let mut n: net_options = unsafe { std::mem::zeroed() };
    // SAFETY: `min(size, known)` bytes are readable at `o` and fit in `n`;
    // the two do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(
            o.cast::<u8>(),
            (&mut n as *mut net_options).cast::<u8>(),
            size.min(known),
        )
    };
    if n.reserved8 != 0 || n.reserved24 != [0; 3] {
        return Err(Error::invalid(
            "net_options.reserved8 and reserved24 must be zero",
        ));
    }
    let ms = |v: u32| (v != 0).then(|| Duration::from_millis(v.into()));
    let mut f = Fetch {
        max_retries: n.max_retries,
        retry_delay: ms(n.retry_delay_ms),
        retry_max_delay: ms(n.retry_max_delay_ms),
        compress: n.compress != 0,
        keep_partial: n.keep_partial != 0,
        if_changed: n.if_changed != 0,
        expected_size: (n.expected_size != 0).then_some(n.expected_size),
        segments: n.segments,
        priority: n.priority,
        persist: n.persist != 0,
        max_speed: n.max_speed,
        ..Fetch::default()
    };
    // SAFETY: `tag` follows the string rules of `net_options`.
    if let Some(tag) = unsafe { opt_str_arg(n.tag, "net_options.tag") }? {
        f.tag = Some(crate::request::check_tag(tag)?);
    }
    // SAFETY: `sha256` and `proxy` follow the string rules of `net_options`.
    if let Some(hex) = unsafe { opt_str_arg(n.sha256, "net_options.sha256") }? {
        f.sha256 = Some(crate::request::parse_sha256(hex)?);
    }
    // SAFETY: as above.
    if let Some(proxy) = unsafe { opt_str_arg(n.proxy, "net_options.proxy") }? {
        f.proxy = Some(proxy.to_string());
    }
    if n.mirror_count > 0 {
        if n.mirrors.is_null() {
            return Err(Error::invalid(
                "net_options.mirrors is NULL but mirror_count is not 0",
            ));
        }
        if n.mirror_count > crate::request::MAX_MIRRORS {
            return Err(Error::invalid(format!(
                "net_options.mirror_count {} is more than {}",
                n.mirror_count,
                crate::request::MAX_MIRRORS
            )));
        }
        // SAFETY: non-NULL, and the caller promises `mirror_count` entries.
        let urls = unsafe { std::slice::from_raw_parts(n.mirrors, n.mirror_count) };
        for (i, &url) in urls.iter().enumerate() {
            // SAFETY: each entry follows the string rules.
            let url = unsafe { str_arg(url, &format!("net_options.mirrors[{i}]")) }?;
            f.mirrors.push(url.to_string());
        }
    }
    Ok(f)
}
