//! The storage behind the pointers of delivered events: the sealed events
//! of the last `net_poll` / `net_wait`, kept until the next call.

use super::view::Batch;
use crate::client::Client;

/// Owns what the last batch of `net_event`s points into.
#[derive(Debug, Default)]
pub struct Arena {
    pub events: Batch,
}

impl Arena {
    /// Ends the life of the previous batch's pointers. Its events go back
    /// to the network thread of `client` to be freed there (when there is
    /// one), so the host's frame does not pay for the frees.
    pub fn reset(&mut self, client: Option<&Client>) {
        match client {
            Some(c) if !self.events.is_empty() => {
                let next = c.spare_batch();
                c.recycle(std::mem::replace(&mut self.events, next));
            }
            // The first call: start with a spare that needs no growing.
            Some(c) if self.events.capacity() == 0 => self.events = c.spare_batch(),
            _ => self.events.clear(),
        }
        if self.events.capacity() > 4096 {
            // A burst grew the batch; give the memory back.
            self.events = Vec::new();
        }
    }
}
