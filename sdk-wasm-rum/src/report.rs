//! What a page reports: vitals (the latest value per metric id), errors (truncated, at most
//! [`MAX_ERRORS`] per beacon, the rest counted), the backend trace id read from
//! `Server-Timing: traceparent;desc="…"` or `<meta name="traceparent">`, the route, and
//! what a beacon carries, handed out item by item: the driver writes the JSON with the
//! browser's own `JSON.stringify` (exact numbers, and measured smaller than a JSON writer
//! compiled into the module: ADR 0005).

use crate::vocab::{
    MAX_CLS, MAX_ERROR_MESSAGE, MAX_ERRORS, MAX_FIELD_LEN, MAX_TIMING_MS, MAX_VITALS,
    NavigationType, Rating, Vital,
};

/// Copies `from` into `to` (equal lengths; a loop that cannot panic, where
/// `copy_from_slice` would carry a panic message into the browser build).
pub(crate) fn copy(to: &mut [u8], from: &[u8]) {
    for (to, from) in to.iter_mut().zip(from) {
        *to = *from;
    }
}

/// The trace id (32 lower-case hex digits) of a `traceparent` value.
pub fn trace_id_of_traceparent(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let mut parts = value.split(|b| *b == b'-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let span_id = parts.next()?;
    let flags = parts.next()?;
    let hex = |s: &[u8], len: usize| {
        s.len() == len && s.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let valid = hex(version, 2)
        && version != b"ff"
        && hex(trace_id, 32)
        && trace_id.iter().any(|b| *b != b'0')
        && hex(span_id, 16)
        && hex(flags, 2);
    valid.then_some(trace_id)
}

/// Whether a page view is sampled at `rate` (0..=1), given a uniform `random` in 0..1.
pub fn sampled(rate: f64, random: f64) -> bool {
    rate.is_finite() && random < rate.clamp(0.0, 1.0)
}

/// A metric instance's id: web-vitals' `v6-<Date.now()>-<random 13 digits>`, kept as its
/// two numbers (JavaScript builds the same text from them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricId {
    /// `Date.now()` when the metric started.
    pub epoch_ms: u64,
    /// A random number of 13 digits.
    pub random: u64,
}

impl MetricId {
    /// No metric (an empty slot).
    pub const NONE: Self = Self {
        epoch_ms: 0,
        random: 0,
    };

    /// The id from `Date.now()` and a uniform `Math.random()` (web-vitals'
    /// `generateUniqueID`).
    pub fn new(epoch_ms: f64, random: f64) -> Self {
        Self {
            epoch_ms: epoch_ms.max(0.0) as u64,
            random: (random.clamp(0.0, 1.0) * (9e12 - 1.0)) as u64 + 1_000_000_000_000,
        }
    }
}

/// One report of a metric, as web-vitals' callbacks receive it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Report {
    /// The vital.
    pub vital: Vital,
    /// Its current value.
    pub value: f64,
    /// The change since the last report of this id.
    pub delta: f64,
    /// The metric instance.
    pub id: MetricId,
    /// The value's rating.
    pub rating: Rating,
    /// How the page (or this part of it) was reached.
    pub navigation_type: NavigationType,
    /// Which entries made the value (with feature `attribution`).
    pub entries: Entries,
}

/// Which performance entries made a value, for the attribution build's `entries` and
/// `attribution`: the driver's sequence numbers of the first and last (0: none); for INP
/// the interaction's id. Without feature `attribution` it holds nothing (the default
/// bundle does not carry it).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Entries {
    #[cfg(feature = "attribution")]
    range: [f64; 2],
}

impl Entries {
    /// No entries.
    pub const NONE: Self = Self::new(0.0, 0.0);

    /// The entries numbered `first` to `last`.
    #[allow(unused_variables)]
    pub const fn new(first: f64, last: f64) -> Self {
        Self {
            #[cfg(feature = "attribution")]
            range: [first, last],
        }
    }

    /// The one entry numbered `seq`.
    pub const fn one(seq: f64) -> Self {
        Self::new(seq, seq)
    }

    /// The first entry's number (`NaN` without feature `attribution`).
    pub const fn first(self) -> f64 {
        #[cfg(feature = "attribution")]
        return self.range[0];
        #[cfg(not(feature = "attribution"))]
        f64::NAN
    }

    /// The last entry's number (`NaN` without feature `attribution`).
    pub const fn last(self) -> f64 {
        #[cfg(feature = "attribution")]
        return self.range[1];
        #[cfg(not(feature = "attribution"))]
        f64::NAN
    }
}

impl Report {
    /// An empty slot.
    pub const EMPTY: Self = Self {
        vital: Vital::Lcp,
        value: 0.0,
        delta: 0.0,
        id: MetricId::NONE,
        rating: Rating::Good,
        navigation_type: NavigationType::Navigate,
        entries: Entries::NONE,
    };

    /// Whether the server accepts the value (finite, not negative, under its bound).
    pub fn in_range(&self) -> bool {
        let max = if self.vital.is_timing() {
            MAX_TIMING_MS
        } else {
            MAX_CLS
        };
        self.value.is_finite() && (0.0..=max).contains(&self.value) && self.delta.is_finite()
    }
}

/// What kind of page error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// An uncaught error.
    Error,
    /// A promise rejected without a handler.
    UnhandledRejection,
}

impl ErrorKind {
    /// Its name in beacons.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::UnhandledRejection => "unhandled-rejection",
        }
    }
}

/// One item of a beacon.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Item<'a> {
    /// A web-vital report.
    Vital(Report),
    /// A page error and its message (UTF-8, at most [`MAX_ERROR_MESSAGE`] bytes).
    Error(ErrorKind, &'a [u8]),
}

/// Bounded UTF-8 text in a fixed buffer (the browser build has no allocator).
#[derive(Debug, Clone, Copy)]
pub struct Text<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Default for Text<N> {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl<const N: usize> Text<N> {
    /// No text.
    pub const EMPTY: Self = Self {
        bytes: [0; N],
        len: 0,
    };

    /// Replaces the text with `text`; `false` (and unchanged) when it is longer than `N`
    /// bytes.
    pub fn set(&mut self, text: &[u8]) -> bool {
        let Some(slot) = self.bytes.get_mut(..text.len()) else {
            return false;
        };
        copy(slot, text);
        self.len = text.len();
        true
    }

    /// Replaces the text with `text` cut to at most `N` bytes, at a character boundary.
    pub fn set_truncated(&mut self, text: &[u8]) {
        let mut end = text.len().min(N);
        // Not inside a UTF-8 sequence: back to the start of the character cut.
        while text.get(end).is_some_and(|b| b & 0xc0 == 0x80) {
            end -= 1;
        }
        self.set(text.get(..end).unwrap_or_default());
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// Sent metric ids remembered, so that no metric is recorded twice by the server.
pub const MAX_SENT_IDS: usize = 256;

/// Reports waiting for the next beacon, in fixed arrays bounded by the server's limits.
#[derive(Debug, Clone)]
pub struct Collector {
    route: Text<MAX_FIELD_LEN>,
    trace_id: Text<MAX_FIELD_LEN>,
    vitals: [Report; MAX_VITALS],
    vitals_len: usize,
    errors: [(ErrorKind, Text<MAX_ERROR_MESSAGE>); MAX_ERRORS],
    errors_len: usize,
    dropped_errors: u32,
    /// Ids already sent (a ring of the last [`MAX_SENT_IDS`]).
    sent: [MetricId; MAX_SENT_IDS],
    sent_count: usize,
}

impl Collector {
    /// Nothing recorded, route `""`.
    pub const EMPTY: Self = Self {
        route: Text::EMPTY,
        trace_id: Text::EMPTY,
        vitals: [Report::EMPTY; MAX_VITALS],
        vitals_len: 0,
        errors: [(ErrorKind::Error, Text::EMPTY); MAX_ERRORS],
        errors_len: 0,
        dropped_errors: 0,
        sent: [MetricId::NONE; MAX_SENT_IDS],
        sent_count: 0,
    };

    /// The backend trace this page view belongs to (32 hex digits, else none).
    pub fn set_trace_id(&mut self, trace_id: Option<&[u8]>) {
        self.trace_id.set(trace_id.unwrap_or_default());
    }

    /// The backend trace id (empty: none).
    pub fn trace_id(&self) -> &[u8] {
        self.trace_id.as_bytes()
    }

    /// The route template values are collected under (cut to the server's field length);
    /// after a single-page navigation, call after taking the beacon of the old one.
    pub fn set_route(&mut self, route: &[u8]) {
        self.route.set_truncated(route);
    }

    /// The route template values are collected under.
    pub fn route(&self) -> &[u8] {
        self.route.as_bytes()
    }

    fn was_sent(&self, id: MetricId) -> bool {
        self.sent
            .get(..self.sent_count.min(MAX_SENT_IDS))
            .is_some_and(|sent| sent.contains(&id))
    }

    /// Keeps `report`, replacing an earlier report of the same metric id; reports of an id
    /// already sent are dropped (the first send of a metric is its recorded value).
    pub fn record_vital(&mut self, report: Report) {
        // A value the server would reject (a restore measured hours later in a background
        // tab, say) would cost the whole beacon: it is left out.
        if self.was_sent(report.id) || !report.in_range() {
            return;
        }
        let kept = self.vitals.get_mut(..self.vitals_len).unwrap_or_default();
        if let Some(existing) = kept.iter_mut().find(|v| v.id == report.id) {
            *existing = report;
        } else if let Some(slot) = self.vitals.get_mut(self.vitals_len) {
            *slot = report;
            self.vitals_len += 1;
        }
    }

    /// Keeps an error, its message cut at [`MAX_ERROR_MESSAGE`] bytes; beyond
    /// [`MAX_ERRORS`] per beacon errors are only counted.
    pub fn record_error(&mut self, kind: ErrorKind, message: &[u8]) {
        match self.errors.get_mut(self.errors_len) {
            Some((slot_kind, slot_message)) => {
                *slot_kind = kind;
                slot_message.set_truncated(message);
                self.errors_len += 1;
            }
            None => self.dropped_errors = self.dropped_errors.saturating_add(1),
        }
    }

    /// Errors waiting (dropped ones not included).
    pub fn error_count(&self) -> usize {
        self.errors_len
    }

    /// The beacon of everything recorded since the last one: each item to `item`, then
    /// the count of errors dropped; `None` (and no item) when there is nothing to send.
    /// With `errors_only`, the vitals stay for the page's final beacon. What was taken is
    /// cleared.
    pub fn take_beacon(
        &mut self,
        errors_only: bool,
        mut item: impl FnMut(Item<'_>),
    ) -> Option<u32> {
        let vitals = if errors_only { 0 } else { self.vitals_len };
        if vitals == 0 && self.errors_len == 0 && self.dropped_errors == 0 {
            return None;
        }
        for report in self.vitals.iter().take(vitals) {
            item(Item::Vital(*report));
            if let Some(slot) = self.sent.get_mut(self.sent_count % MAX_SENT_IDS) {
                *slot = report.id;
            }
            self.sent_count += 1;
        }
        for (kind, message) in self.errors.iter().take(self.errors_len) {
            item(Item::Error(*kind, message.as_bytes()));
        }
        if !errors_only {
            self.vitals_len = 0;
        }
        self.errors_len = 0;
        Some(core::mem::take(&mut self.dropped_errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn trace_ids_from_traceparent_values() {
        assert_eq!(
            trace_id_of_traceparent(TP.as_bytes()),
            Some(&b"4bf92f3577b34da6a3ce929d0e0e4736"[..])
        );
        assert_eq!(
            trace_id_of_traceparent(b"00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(
            trace_id_of_traceparent(b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(trace_id_of_traceparent(b"garbage"), None);
    }

    #[test]
    fn sampling_rate_bounds() {
        assert!(sampled(1.0, 0.999));
        assert!(!sampled(0.0, 0.0));
        assert!(sampled(0.5, 0.49));
        assert!(!sampled(0.5, 0.5));
        assert!(!sampled(f64::NAN, 0.0));
        assert!(sampled(7.0, 0.99));
    }

    fn id(n: u64) -> MetricId {
        MetricId {
            epoch_ms: 1_700_000_000_000,
            random: 1_000_000_000_000 + n,
        }
    }

    fn report(n: u64, vital: Vital, value: f64) -> Report {
        Report {
            vital,
            value,
            delta: value,
            id: id(n),
            rating: vital.rate(value),
            navigation_type: NavigationType::BackForwardCache,
            entries: Entries::NONE,
        }
    }

    /// The items of the next beacon (vitals, errors as text) and its dropped count.
    fn take(
        collector: &mut Collector,
        errors_only: bool,
    ) -> Option<(Vec<Report>, Vec<String>, u32)> {
        let (mut vitals, mut errors) = (Vec::new(), Vec::new());
        let dropped = collector.take_beacon(errors_only, |item| match item {
            Item::Vital(report) => vitals.push(report),
            Item::Error(kind, message) => errors.push(format!(
                "{}: {}",
                kind.as_str(),
                String::from_utf8(message.to_vec()).unwrap()
            )),
        })?;
        Some((vitals, errors, dropped))
    }

    #[test]
    fn metric_ids_are_web_vitals_ids() {
        let id = MetricId::new(1_733_000_000_123.0, 0.5);
        assert_eq!(
            (id.epoch_ms, id.random),
            (1_733_000_000_123, 5_499_999_999_999)
        );
        assert_eq!(MetricId::new(0.0, 0.0).random, 1_000_000_000_000);
        assert!(MetricId::new(0.0, 0.999_999_999).random < 10_000_000_000_000);
    }

    #[test]
    fn beacons_keep_the_latest_value_per_id_and_bounded_errors() {
        let mut collector = Box::new(Collector::EMPTY);
        collector.set_route(b"/products/{id}");
        assert!(take(&mut collector, false).is_none());
        collector.set_trace_id(trace_id_of_traceparent(TP.as_bytes()));
        assert_eq!(collector.trace_id(), b"4bf92f3577b34da6a3ce929d0e0e4736");
        collector.record_vital(report(1, Vital::Cls, 0.05));
        collector.record_vital(report(1, Vital::Cls, 0.31));
        collector.record_vital(report(2, Vital::Lcp, 1_523.400_000_095_367_4));
        collector.record_error(ErrorKind::Error, "é".repeat(400).as_bytes());
        for _ in 0..MAX_ERRORS + 3 {
            collector.record_error(ErrorKind::UnhandledRejection, b"no\npe");
        }
        let (vitals, errors, dropped) = take(&mut collector, false).unwrap();
        assert_eq!(vitals.len(), 2);
        assert_eq!(vitals[0].value, 0.31);
        assert_eq!(vitals[1].value, 1_523.400_000_095_367_4);
        assert_eq!(errors.len(), MAX_ERRORS);
        // Cut at a character boundary: 128 two-byte characters.
        assert_eq!(errors[0], format!("error: {}", "é".repeat(128)));
        assert_eq!(errors[1], "unhandled-rejection: no\npe");
        assert_eq!(dropped, 4);
        assert!(
            take(&mut collector, false).is_none(),
            "taken reports are cleared"
        );
        collector.record_vital(report(1, Vital::Cls, 0.4));
        assert!(
            take(&mut collector, false).is_none(),
            "a metric id is sent once: the server records each metric once"
        );
        collector.record_vital(report(3, Vital::Cls, 0.0));
        collector.record_vital(report(4, Vital::Lcp, 7_200_000.0));
        collector.record_error(ErrorKind::Error, b"boom");
        let (vitals, errors, _) = take(&mut collector, true).unwrap();
        assert!(vitals.is_empty() && errors == ["error: boom"]);
        let (vitals, errors, _) = take(&mut collector, false).unwrap();
        assert_eq!(vitals.len(), 1, "out-of-range LCP left out: {vitals:?}");
        assert_eq!(vitals[0].id, id(3));
        assert!(errors.is_empty());
    }

    #[test]
    fn sent_ids_are_remembered_in_a_bounded_ring() {
        let mut collector = Box::new(Collector::EMPTY);
        for n in 0..(MAX_SENT_IDS as u64 + 10) {
            collector.record_vital(report(n, Vital::Fcp, 100.0));
            assert!(take(&mut collector, false).is_some());
        }
        // The oldest ids were forgotten, the newest are remembered.
        collector.record_vital(report(0, Vital::Fcp, 100.0));
        assert!(take(&mut collector, false).is_some());
        collector.record_vital(report(MAX_SENT_IDS as u64 + 9, Vital::Fcp, 100.0));
        assert!(take(&mut collector, false).is_none());
        let long = "/x".repeat(MAX_FIELD_LEN);
        collector.set_route(long.as_bytes());
        assert_eq!(collector.route().len(), MAX_FIELD_LEN);
    }
}
