//! What a page reports: vitals (the latest value per metric id), errors (truncated, at most
//! [`MAX_ERRORS`] per beacon, the rest counted), the backend trace id read from
//! `Server-Timing: traceparent;desc="…"` or `<meta name="traceparent">`, and the beacon
//! built from them for the ingestion route.

use sdk_core::rum::{
    Beacon, BrowserError, BrowserErrorKind, MAX_ERROR_MESSAGE, MAX_ERRORS, MAX_VITALS, VitalReport,
};

/// The trace id (32 lower-case hex digits) of a `traceparent` value.
pub fn trace_id_of_traceparent(value: &str) -> Option<String> {
    let mut parts = value.trim().split('-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let span_id = parts.next()?;
    let flags = parts.next()?;
    let hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let valid = hex(version, 2)
        && version != "ff"
        && hex(trace_id, 32)
        && trace_id.bytes().any(|b| b != b'0')
        && hex(span_id, 16)
        && hex(flags, 2);
    valid.then(|| trace_id.to_owned())
}

/// The trace id in a `Server-Timing` header value (`traceparent;desc="00-…-01"`, possibly
/// among other metrics).
pub fn trace_id_of_server_timing(header: &str) -> Option<String> {
    header.split(',').find_map(|metric| {
        let mut params = metric.split(';').map(str::trim);
        if !params.next()?.eq_ignore_ascii_case("traceparent") {
            return None;
        }
        params.find_map(|param| {
            let (key, value) = param.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case("desc")
                .then(|| trace_id_of_traceparent(value.trim().trim_matches('"')))
                .flatten()
        })
    })
}

/// Whether a page view is sampled at `rate` (0..=1), given a uniform `random` in 0..1.
pub fn sampled(rate: f64, random: f64) -> bool {
    rate.is_finite() && random < rate.clamp(0.0, 1.0)
}

/// Reports waiting for the next beacon.
#[derive(Debug, Clone, Default)]
pub struct Collector {
    service: String,
    version: Option<String>,
    env: Option<String>,
    route: String,
    trace_id: Option<String>,
    vitals: Vec<VitalReport>,
    errors: Vec<BrowserError>,
    dropped_errors: u32,
    /// Ids already sent, newest last (bounded by [`MAX_SENT_IDS`]).
    sent: Vec<String>,
}

/// Sent metric ids remembered, so that no metric is recorded twice by the server.
pub const MAX_SENT_IDS: usize = 256;

impl Collector {
    /// Reports for `service` on the page whose route template is `route`.
    pub fn new(service: impl Into<String>, route: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            route: route.into(),
            ..Self::default()
        }
    }

    /// Version and environment carried by every beacon.
    pub fn identity(mut self, version: Option<String>, env: Option<String>) -> Self {
        self.version = version;
        self.env = env;
        self
    }

    /// The backend trace this page view belongs to.
    pub fn set_trace_id(&mut self, trace_id: Option<String>) {
        self.trace_id = trace_id;
    }

    /// A new route (single-page navigation); call after taking the beacon of the old one.
    pub fn set_route(&mut self, route: impl Into<String>) {
        self.route = route.into();
    }

    /// Keeps `report`, replacing an earlier report of the same metric id; reports of an id
    /// already sent are dropped (the first send of a metric is its recorded value).
    pub fn record_vital(&mut self, report: VitalReport) {
        // A value the server would reject (a restore measured hours later in a background
        // tab, say) would cost the whole beacon: it is left out.
        if self.sent.contains(&report.id) || !report.in_range() {
            return;
        }
        if let Some(existing) = self.vitals.iter_mut().find(|v| v.id == report.id) {
            *existing = report;
        } else if self.vitals.len() < MAX_VITALS {
            self.vitals.push(report);
        }
    }

    /// Keeps an error, its message cut at [`MAX_ERROR_MESSAGE`] bytes; beyond
    /// [`MAX_ERRORS`] per beacon errors are only counted.
    pub fn record_error(&mut self, kind: BrowserErrorKind, message: &str) {
        if self.errors.len() >= MAX_ERRORS {
            self.dropped_errors = self.dropped_errors.saturating_add(1);
            return;
        }
        let mut end = message.len().min(MAX_ERROR_MESSAGE);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        self.errors.push(BrowserError {
            kind,
            message: message.get(..end).unwrap_or_default().to_owned(),
        });
    }

    /// A beacon of the errors only (vitals stay for the page's final beacon), or `None`.
    pub fn take_errors(&mut self) -> Option<Beacon> {
        let vitals = std::mem::take(&mut self.vitals);
        let beacon = self.take_beacon();
        self.vitals = vitals;
        beacon
    }

    /// Errors waiting (dropped ones not included).
    pub fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// The `service` of the beacons.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The `version` of the beacons.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The `env` of the beacons.
    pub fn env(&self) -> Option<&str> {
        self.env.as_deref()
    }

    /// The route template values are collected under.
    pub fn route(&self) -> &str {
        &self.route
    }

    /// The backend trace id, when the page carried one.
    pub fn trace_id(&self) -> Option<&str> {
        self.trace_id.as_deref()
    }

    /// The beacon of everything recorded since the last one, or `None` when there is
    /// nothing to send; what was taken is cleared.
    pub fn take_beacon(&mut self) -> Option<Beacon> {
        if self.vitals.is_empty() && self.errors.is_empty() && self.dropped_errors == 0 {
            return None;
        }
        Some(Beacon {
            service: self.service.clone(),
            version: self.version.clone(),
            env: self.env.clone(),
            route: self.route.clone(),
            trace_id: self.trace_id.clone(),
            vitals: {
                let vitals = std::mem::take(&mut self.vitals);
                let overflow = (self.sent.len() + vitals.len()).saturating_sub(MAX_SENT_IDS);
                self.sent.drain(..overflow.min(self.sent.len()));
                self.sent.extend(vitals.iter().map(|v| v.id.clone()));
                vitals
            },
            errors: std::mem::take(&mut self.errors),
            dropped_errors: std::mem::take(&mut self.dropped_errors),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sdk_core::rum::{NavigationType, VitalName};

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn trace_ids_from_headers_and_meta() {
        assert_eq!(
            trace_id_of_traceparent(TP).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            trace_id_of_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(
            trace_id_of_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(trace_id_of_traceparent("garbage"), None);
        assert_eq!(
            trace_id_of_server_timing(&format!("db;dur=53, traceparent;desc=\"{TP}\"")).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(trace_id_of_server_timing("cache;desc=\"hit\""), None);
        assert_eq!(trace_id_of_server_timing("traceparent;desc=\"bad\""), None);
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

    fn report(id: &str, name: VitalName, value: f64) -> VitalReport {
        VitalReport {
            name,
            value,
            delta: value,
            id: id.into(),
            rating: name.rate(value),
            navigation_type: NavigationType::Navigate,
        }
    }

    #[test]
    fn beacons_keep_the_latest_value_per_id_and_pass_server_validation() {
        let mut collector = Collector::new("shop-web", "/products/{id}")
            .identity(Some("1.0".into()), Some("prod".into()));
        assert!(collector.take_beacon().is_none());
        collector.set_trace_id(trace_id_of_traceparent(TP));
        collector.record_vital(report("v6-1", VitalName::Cls, 0.05));
        collector.record_vital(report("v6-1", VitalName::Cls, 0.31));
        collector.record_vital(report("v6-2", VitalName::Lcp, 1800.0));
        collector.record_error(BrowserErrorKind::Error, &"é".repeat(400));
        for _ in 0..MAX_ERRORS + 3 {
            collector.record_error(BrowserErrorKind::UnhandledRejection, "nope");
        }
        let beacon = collector.take_beacon().unwrap();
        assert_eq!(beacon.vitals.len(), 2);
        assert_eq!(beacon.vitals[0].value, 0.31);
        assert_eq!(beacon.errors.len(), MAX_ERRORS);
        assert!(beacon.errors[0].message.len() <= MAX_ERROR_MESSAGE);
        assert_eq!(beacon.dropped_errors, 4);
        assert_eq!(beacon.validate(), Ok(()));
        let json = serde_json::to_vec(&beacon).unwrap();
        assert_eq!(Beacon::parse(&json), Ok(beacon));
        assert!(
            collector.take_beacon().is_none(),
            "taken reports are cleared"
        );
        collector.record_vital(report("v6-1", VitalName::Cls, 0.4));
        assert!(
            collector.take_beacon().is_none(),
            "a metric id is sent once: the server records each metric once"
        );
        collector.record_vital(report("v6-3", VitalName::Cls, 0.0));
        collector.record_vital(report("v6-4", VitalName::Lcp, 7_200_000.0));
        collector.record_error(BrowserErrorKind::Error, "boom");
        let errors = collector.take_errors().unwrap();
        assert!(errors.vitals.is_empty() && errors.errors.len() == 1);
        let beacon = collector.take_beacon().unwrap();
        assert_eq!(
            beacon.vitals.len(),
            1,
            "out-of-range LCP left out: {beacon:?}"
        );
        assert_eq!(beacon.vitals[0].id, "v6-3");
        assert_eq!(beacon.validate(), Ok(()));
    }
}
