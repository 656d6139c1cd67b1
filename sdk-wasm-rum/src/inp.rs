//! Interaction to Next Paint: `event` entries (duration threshold 40 ms) and `first-input`
//! grouped by `interactionId`, keeping each interaction's longest duration and the ten
//! longest interactions; the reported value is the one at index
//! `min(len − 1, floor(interactionCount / 50))` of the list sorted longest first — the
//! approximate 98th percentile.

use alloc::vec::Vec;

/// Interactions kept.
pub const MAX_INTERACTIONS: usize = 10;

/// Longest interactions of a page view.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interactions {
    /// `(interactionId, duration ms)`, longest first.
    longest: Vec<(u64, f64)>,
}

impl Interactions {
    /// None yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entry; entries without an interaction id (0) are not interactions.
    pub fn add(&mut self, interaction_id: u64, duration: f64) {
        if interaction_id == 0 || !duration.is_finite() || duration < 0.0 {
            return;
        }
        let longest = &mut self.longest;
        let at = match longest.iter().position(|(id, _)| *id == interaction_id) {
            Some(at) if longest[at].1 >= duration => return,
            Some(at) => {
                longest.remove(at);
                at
            }
            None => longest.len(),
        };
        // Kept sorted longest first by insertion (at most ten entries; a general sort
        // would cost the browser bundle kilobytes).
        let mut to = at.min(longest.len());
        while to > 0 && longest[to - 1].1 < duration {
            to -= 1;
        }
        if to < MAX_INTERACTIONS {
            longest.insert(to, (interaction_id, duration));
            longest.truncate(MAX_INTERACTIONS);
        }
    }

    /// The INP for `interaction_count` interactions on the page (the browser's
    /// `performance.interactionCount`); `None` before any interaction.
    pub fn value(&self, interaction_count: u64) -> Option<f64> {
        let last = self.longest.len().checked_sub(1)?;
        let index = usize::try_from(interaction_count / 50)
            .unwrap_or(usize::MAX)
            .min(last);
        self.longest.get(index).map(|(_, duration)| *duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_duration_per_interaction_and_the_longest_overall() {
        let mut inp = Interactions::new();
        assert_eq!(inp.value(0), None);
        inp.add(1, 48.0);
        inp.add(1, 120.0); // keydown and keyup of one interaction: the longest counts
        inp.add(2, 64.0);
        inp.add(0, 999.0); // not an interaction
        assert_eq!(inp.value(2), Some(120.0));
    }

    #[test]
    fn p98_estimate_skips_one_outlier_per_fifty_interactions() {
        let mut inp = Interactions::new();
        for id in 1..=12u64 {
            inp.add(id, 10.0 * id as f64);
        }
        // Only the ten longest are kept: 120 … 30.
        assert_eq!(inp.longest.len(), MAX_INTERACTIONS);
        assert_eq!(inp.value(49), Some(120.0));
        assert_eq!(inp.value(50), Some(110.0));
        assert_eq!(inp.value(120), Some(100.0));
        // Never past the shortest kept.
        assert_eq!(inp.value(100_000), Some(30.0));
    }

    #[test]
    fn short_interactions_do_not_displace_long_ones() {
        let mut inp = Interactions::new();
        for id in 1..=10u64 {
            inp.add(id, 100.0);
        }
        inp.add(11, 50.0);
        assert!(inp.longest.iter().all(|(_, d)| *d == 100.0));
        inp.add(12, 200.0);
        assert_eq!(inp.value(1), Some(200.0));
    }
}
