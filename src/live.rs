//! The set of live request ids.
//!
//! Ids are handed out in increasing order and most requests end roughly in
//! the order they started, so the set is a window of bits from the oldest
//! live id to the newest: 100,000 queued requests take 12.5 KB, and `poll`
//! checks an id with one access into a small array that stays in cache.
//! A request that stays live while many later ones come and go keeps the
//! window open: one bit per id handed out since it started.

use std::collections::VecDeque;

#[derive(Debug, Default)]
pub struct LiveIds {
    /// The id of bit 0 of `words[0]`.
    base: u64,
    words: VecDeque<u64>,
    len: usize,
}

impl LiveIds {
    /// Adds `id`. Ids added roughly in increasing order keep the window
    /// small; an id below the window widens it at the front.
    pub fn insert(&mut self, id: u64) {
        // The window starts at a multiple of 64, so it can grow both ways.
        let start = id & !63;
        if self.words.is_empty() {
            self.base = start;
        }
        while self.base > start {
            self.words.push_front(0);
            self.base -= 64;
        }
        let word = usize::try_from((id - self.base) / 64).expect("window fits in memory");
        if self.words.len() <= word {
            self.words.resize(word + 1, 0);
        }
        let bit = 1u64 << ((id - self.base) % 64);
        if self.words[word] & bit == 0 {
            self.words[word] |= bit;
            self.len += 1;
        }
    }

    pub fn contains(&self, id: u64) -> bool {
        self.locate(id)
            .is_some_and(|(word, bit)| self.words[word] & bit != 0)
    }

    /// Removes `id`; true when it was in the set.
    pub fn remove(&mut self, id: u64) -> bool {
        let Some((word, bit)) = self.locate(id) else {
            return false;
        };
        if self.words[word] & bit == 0 {
            return false;
        }
        self.words[word] &= !bit;
        self.len -= 1;
        // Slide the window past ids that all ended.
        while self.words.front() == Some(&0) {
            self.words.pop_front();
            self.base += 64;
        }
        if self.words.capacity() > 1024 && self.words.len() < self.words.capacity() / 8 {
            self.words.shrink_to_fit(); // after a burst, give the memory back
        }
        true
    }

    /// Every id in the set, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.words.iter().zip(0u64..).flat_map(move |(&word, i)| {
            (0..64u64)
                .filter(move |bit| word & (1 << bit) != 0)
                .map(move |bit| self.base + i * 64 + bit)
        })
    }

    pub fn clear(&mut self) {
        *self = LiveIds::default();
    }

    pub fn len(&self) -> usize {
        self.len
    }

    fn locate(&self, id: u64) -> Option<(usize, u64)> {
        let offset = id.checked_sub(self.base)?;
        let word = usize::try_from(offset / 64).ok()?;
        (word < self.words.len()).then_some((word, 1u64 << (offset % 64)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Rule: behaves as a set of ids added in roughly increasing order
    /// (sometimes one below the window), removed in any order, and shrinks
    /// back to nothing once all are removed.
    #[test]
    fn matches_a_hash_set() {
        let mut live = LiveIds::default();
        let mut model = HashSet::new();
        let mut next = 1u64;
        // A deterministic mix: bursts of inserts, removals in scattered order.
        let mut x = 12345u64;
        for step in 0..20_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if step % 3 != 2 {
                // Gaps, as rejected ids leave none but cancels do; now and
                // then an id from before the window (two threads submitting
                // at once).
                next += 1 + (x >> 60);
                let id = if step % 97 == 0 {
                    next - next.min(300)
                } else {
                    next
                };
                live.insert(id);
                model.insert(id);
            } else if let Some(&id) = model.iter().nth((x >> 33) as usize % model.len().max(1)) {
                assert!(live.remove(id));
                model.remove(&id);
                assert!(!live.remove(id), "removed twice");
            }
            let probe = (x >> 20) % (next + 2);
            assert_eq!(live.contains(probe), model.contains(&probe), "{probe}");
            assert_eq!(live.len(), model.len());
            if step % 1000 == 0 {
                let mut sorted: Vec<u64> = model.iter().copied().collect();
                sorted.sort_unstable();
                assert_eq!(live.iter().collect::<Vec<_>>(), sorted);
            }
        }
        for id in model.drain() {
            assert!(live.remove(id));
        }
        assert_eq!(live.len(), 0);
        assert_eq!(
            live.words.len(),
            0,
            "the window closes when nothing is live"
        );
        assert!(!live.contains(0) && !live.remove(u64::MAX));
    }
}
