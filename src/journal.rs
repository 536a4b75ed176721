//! The journal of persisted downloads (`net_options.persist`).

use std::path::Path;

use crate::dirs::BaseDir;
use crate::request::Options;

/// What `net_restore` starts again: url, method, options, filename, base.
pub type Restored = (String, String, Options, String, BaseDir);

/// Takes the records of dead processes under `support`.
pub fn adopt(support: &Path) -> Vec<Restored> {
    let _ = support;
    Vec::new() // TODO
}
