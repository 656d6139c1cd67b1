//! Cumulative Layout Shift: shifts without recent input are grouped into session windows —
//! a shift joins the current window when it comes less than 1 s after the previous shift
//! and less than 5 s after the window's first — and CLS is the largest window's sum.

use crate::report::Entries;

/// Gap after the previous shift that closes a window, in milliseconds.
pub const MAX_GAP_MS: f64 = 1000.0;
/// Longest window, from its first shift, in milliseconds.
pub const MAX_WINDOW_MS: f64 = 5000.0;

/// Layout shifts seen so far and the CLS they make.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LayoutShifts {
    window_sum: f64,
    window_first: f64,
    window_last: f64,
    in_window: bool,
    largest: f64,
    /// The current window's shifts (the driver's numbers of the first and last).
    window_entries: Entries,
    /// The largest window's.
    largest_entries: Entries,
}

impl LayoutShifts {
    /// No shifts yet: CLS 0.
    pub const fn new() -> Self {
        Self {
            window_sum: 0.0,
            window_first: 0.0,
            window_last: 0.0,
            in_window: false,
            largest: 0.0,
            window_entries: Entries::NONE,
            largest_entries: Entries::NONE,
        }
    }

    /// Adds a `layout-shift` entry (`value`, `startTime` in ms, `hadRecentInput`); returns
    /// the new CLS when it grew.
    /// Adds a shift (`seq`: the driver's sequence number of its entry); returns the new
    /// largest window's sum when it grew.
    pub fn add(
        &mut self,
        value: f64,
        start_time: f64,
        had_recent_input: bool,
        seq: f64,
    ) -> Option<f64> {
        if had_recent_input || !value.is_finite() || value < 0.0 {
            return None;
        }
        let joins = self.in_window
            && start_time - self.window_last < MAX_GAP_MS
            && start_time - self.window_first < MAX_WINDOW_MS;
        if joins {
            self.window_sum += value;
        } else {
            self.window_sum = value;
            self.window_first = start_time;
            self.in_window = true;
            self.window_entries = Entries::one(seq);
        }
        self.window_last = start_time;
        self.window_entries = Entries::new(self.window_entries.first(), seq);
        if self.window_sum > self.largest {
            self.largest = self.window_sum;
            self.largest_entries = self.window_entries;
            Some(self.largest)
        } else {
            None
        }
    }

    /// The CLS: the largest session window's sum.
    pub fn value(&self) -> f64 {
        self.largest
    }

    /// The largest window's shifts.
    pub fn entries(&self) -> Entries {
        self.largest_entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_window_sums_its_shifts() {
        let mut cls = LayoutShifts::new();
        assert_eq!(cls.add(0.1, 100.0, false, 0.0), Some(0.1));
        assert_eq!(cls.add(0.05, 900.0, false, 0.0), Some(0.15000000000000002));
        assert!((cls.value() - 0.15).abs() < 1e-12);
    }

    #[test]
    fn a_gap_of_one_second_starts_a_new_window() {
        let mut cls = LayoutShifts::new();
        cls.add(0.1, 0.0, false, 0.0);
        cls.add(0.1, 500.0, false, 0.0);
        // 1000 ms after the previous shift: new window (not < 1 s).
        assert_eq!(cls.add(0.05, 1500.0, false, 0.0), None);
        assert!((cls.value() - 0.2).abs() < 1e-12);
        // The new window grows past the old one.
        assert_eq!(cls.add(0.2, 2000.0, false, 0.0), Some(0.25));
    }

    #[test]
    fn windows_end_five_seconds_after_their_first_shift() {
        let mut cls = LayoutShifts::new();
        // Shifts every 900 ms: each joins, until 5 s after the first.
        for i in 0..6 {
            cls.add(0.01, f64::from(i) * 900.0, false, 0.0);
        }
        // 0, 900, …, 4500 ms: six shifts in the first window.
        assert!((cls.value() - 0.06).abs() < 1e-12);
        // 5400 ms is < 1 s after 4500 but ≥ 5 s after 0: a new window.
        cls.add(0.01, 5400.0, false, 0.0);
        assert!((cls.value() - 0.06).abs() < 1e-12);
    }

    #[test]
    #[cfg(feature = "attribution")]
    fn the_largest_window_keeps_its_first_and_last_entries() {
        let mut cls = LayoutShifts::new();
        cls.add(0.1, 0.0, false, 1.0);
        cls.add(0.1, 500.0, false, 2.0);
        cls.add(0.3, 600.0, true, 3.0); // after input: not in any window
        cls.add(0.1, 700.0, false, 4.0);
        assert_eq!(cls.entries(), Entries::new(1.0, 4.0));
        cls.add(0.05, 2000.0, false, 5.0); // a smaller window
        assert_eq!(cls.entries(), Entries::new(1.0, 4.0));
        cls.add(0.5, 2100.0, false, 6.0); // it grows past the first
        assert_eq!(cls.entries(), Entries::new(5.0, 6.0));
    }

    #[test]
    fn shifts_after_input_do_not_count() {
        let mut cls = LayoutShifts::new();
        assert_eq!(cls.add(0.5, 100.0, true, 0.0), None);
        assert_eq!(cls.value(), 0.0);
        assert_eq!(cls.add(f64::NAN, 200.0, false, 0.0), None);
        assert_eq!(cls.add(-1.0, 300.0, false, 0.0), None);
        assert_eq!(cls.value(), 0.0);
    }
}
