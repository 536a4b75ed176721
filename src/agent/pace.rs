//! Bandwidth caps (`net_set_max_speed`, `net_options.max_speed`) and the
//! share of a cap each running transfer gets by its priority.

/// The caps the network thread applies.
#[derive(Debug, Default)]
pub struct Pace {
    /// Bytes per second for all transfers together; 0: none.
    max_speed: u64,
}

impl Pace {
    pub fn set_max_speed(&mut self, bytes_per_second: u64) {
        self.max_speed = bytes_per_second;
    }
}
