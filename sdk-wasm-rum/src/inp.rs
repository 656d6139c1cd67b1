//! Interaction to Next Paint: `event` entries (duration threshold 40 ms) and `first-input`
//! grouped by `interactionId`, keeping each interaction's longest duration and the ten
//! longest interactions; the reported value is the one at index
//! `min(len − 1, floor(interactionCount / 50))` of the list sorted longest first — the
//! approximate 98th percentile.

/// Interactions kept.
pub const MAX_INTERACTIONS: usize = 10;

/// Longest interactions of a page view, longest first, by interaction id (a fixed array:
/// the browser build has no allocator).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interactions {
    longest: [(u64, f64); MAX_INTERACTIONS],
    len: usize,
}

impl Default for Interactions {
    fn default() -> Self {
        Self::new()
    }
}

impl Interactions {
    /// No interactions yet.
    pub const fn new() -> Self {
        Self {
            longest: [(0, 0.0); MAX_INTERACTIONS],
            len: 0,
        }
    }

    /// The interactions kept, longest first.
    pub fn kept(&self) -> &[(u64, f64)] {
        self.longest.get(..self.len).unwrap_or_default()
    }

    /// An `event` or `first-input` entry: `interaction_id` 0 is not an interaction. Keeps
    /// the longest duration per interaction and the ten longest interactions.
    pub fn add(&mut self, interaction_id: u64, duration: f64) {
        if interaction_id == 0 || !duration.is_finite() || duration < 0.0 {
            return;
        }
        // Where the interaction is (its longer entry wins), or past the end.
        let mut at = self.len;
        for (i, (id, longest)) in self.kept().iter().enumerate() {
            if *id == interaction_id {
                if *longest >= duration {
                    return;
                }
                at = i;
            }
        }
        if at == self.len {
            if self.len < MAX_INTERACTIONS {
                self.len += 1;
            } else if self
                .longest
                .get(MAX_INTERACTIONS - 1)
                .is_some_and(|s| s.1 < duration)
            {
                // The shortest kept makes room only for a longer one.
                at = MAX_INTERACTIONS - 1;
            } else {
                return;
            }
        }
        let Some(slot) = self.longest.get_mut(at) else {
            return;
        };
        *slot = (interaction_id, duration);
        // Moved up past the shorter ones (kept sorted by insertion: a general sort would
        // cost the browser bundle kilobytes).
        let kept = self.longest.get_mut(..=at).unwrap_or_default();
        for i in (1..kept.len()).rev() {
            match (kept.get(i - 1), kept.get(i)) {
                (Some(before), Some(this)) if before.1 < this.1 => kept.swap(i - 1, i),
                _ => break,
            }
        }
    }

    /// The INP for `interaction_count` interactions on the page (the browser's
    /// `performance.interactionCount`) and the interaction that makes it: `(interaction
    /// id, latency)`; `None` before any interaction.
    pub fn value(&self, interaction_count: u64) -> Option<(u64, f64)> {
        let last = self.len.checked_sub(1)?;
        let index = usize::try_from(interaction_count / 50)
            .unwrap_or(usize::MAX)
            .min(last);
        self.kept().get(index).copied()
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
        assert_eq!(inp.value(2), Some((1, 120.0)));
    }

    #[test]
    fn p98_estimate_skips_one_outlier_per_fifty_interactions() {
        let mut inp = Interactions::new();
        for id in 1..=12u64 {
            inp.add(id, 10.0 * id as f64);
        }
        // Only the ten longest are kept: 120 … 30.
        assert_eq!(inp.kept().len(), MAX_INTERACTIONS);
        assert_eq!(inp.value(49).map(|(_, latency)| latency), Some(120.0));
        assert_eq!(inp.value(50).map(|(_, latency)| latency), Some(110.0));
        assert_eq!(inp.value(120).map(|(_, latency)| latency), Some(100.0));
        // Never past the shortest kept.
        assert_eq!(inp.value(100_000).map(|(_, latency)| latency), Some(30.0));
    }

    #[test]
    fn short_interactions_do_not_displace_long_ones() {
        let mut inp = Interactions::new();
        for id in 1..=10u64 {
            inp.add(id, 100.0);
        }
        inp.add(11, 50.0);
        assert!(inp.kept().iter().all(|(_, d)| *d == 100.0));
        inp.add(12, 200.0);
        assert_eq!(inp.value(1).map(|(_, latency)| latency), Some(200.0));
        // A kept interaction grows (a longer entry of it) and moves up.
        inp.add(5, 300.0);
        assert_eq!(inp.kept()[0], (5, 300.0));
        assert_eq!(inp.kept()[1], (12, 200.0));
        assert_eq!(inp.kept().len(), MAX_INTERACTIONS);
    }
}
