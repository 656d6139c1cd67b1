//! LCP, FCP and TTFB from performance-entry times (milliseconds since time origin), as
//! web-vitals computes them: relative to the prerender activation, never negative, and only
//! for paints before the page was first hidden.

/// LCP or FCP from an entry's `startTime`: `max(start − activationStart, 0)`, or `None`
/// when the paint happened after the page was first hidden.
pub fn paint(start_time: f64, activation_start: f64, first_hidden: f64) -> Option<f64> {
    if !start_time.is_finite() || start_time >= first_hidden {
        return None;
    }
    Some((start_time - activation_start.max(0.0)).max(0.0))
}

/// TTFB from the navigation entry: `max(responseStart − activationStart, 0)`, ignored
/// unless `0 < responseStart < now`.
pub fn ttfb(response_start: f64, activation_start: f64, now: f64) -> Option<f64> {
    if !(response_start > 0.0 && response_start < now) {
        return None;
    }
    Some((response_start - activation_start.max(0.0)).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paints_are_relative_to_activation_and_stop_at_hidden() {
        assert_eq!(paint(1200.0, 0.0, f64::INFINITY), Some(1200.0));
        assert_eq!(paint(1200.0, 1000.0, f64::INFINITY), Some(200.0));
        assert_eq!(paint(500.0, 1000.0, f64::INFINITY), Some(0.0));
        assert_eq!(paint(1200.0, 0.0, 1000.0), None);
        assert_eq!(paint(1200.0, 0.0, 1200.0), None);
        // A page hidden from the start (first hidden at 0) reports nothing.
        assert_eq!(paint(10.0, 0.0, 0.0), None);
    }

    #[test]
    fn ttfb_needs_a_plausible_response_start() {
        assert_eq!(ttfb(120.0, 0.0, 5000.0), Some(120.0));
        assert_eq!(ttfb(120.0, 100.0, 5000.0), Some(20.0));
        assert_eq!(ttfb(0.0, 0.0, 5000.0), None);
        assert_eq!(ttfb(6000.0, 0.0, 5000.0), None);
        assert_eq!(ttfb(f64::NAN, 0.0, 5000.0), None);
    }
}
