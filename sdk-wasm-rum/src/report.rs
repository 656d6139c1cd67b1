//! What a page reports: vitals (the latest value per metric id), errors (truncated, at most
//! [`MAX_ERRORS`] per beacon, the rest counted), the backend trace id read from
//! `Server-Timing: traceparent;desc="…"` or `<meta name="traceparent">`, and the beacon
//! built from them for the ingestion route (JSON written directly, no serializer), and the
//! same values as OTLP/HTTP JSON log events.

use crate::json::{Json, copy};
use crate::vocab::{
    MAX_CLS, MAX_ERROR_MESSAGE, MAX_ERRORS, MAX_FIELD_LEN, MAX_TIMING_MS, MAX_VITALS,
    NavigationType, Rating, Vital,
};

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

/// The trace id in a `Server-Timing` header value (`traceparent;desc="00-…-01"`, possibly
/// among other metrics).
pub fn trace_id_of_server_timing(header: &str) -> Option<&[u8]> {
    header.split(',').find_map(|metric| {
        let mut params = metric.split(';').map(str::trim);
        if !params.next()?.eq_ignore_ascii_case("traceparent") {
            return None;
        }
        params.find_map(|param| {
            let (key, value) = param.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case("desc")
                .then(|| trace_id_of_traceparent(value.trim().trim_matches('"').as_bytes()))
                .flatten()
        })
    })
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

    fn write(self, json: &mut Json<'_>) {
        json.raw("\"v6-")
            .integer(self.epoch_ms)
            .raw("-")
            .integer(self.random)
            .raw("\"");
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

    fn write(&self, json: &mut Json<'_>) {
        json.raw("{\"name\":\"")
            .raw(self.vital.as_str())
            .raw("\",\"value\":")
            .number(self.value)
            .raw(",\"delta\":")
            .number(self.delta)
            .raw(",\"id\":");
        self.id.write(json);
        json.raw(",\"rating\":\"")
            .raw(self.rating.as_str())
            .raw("\",\"navigationType\":\"")
            .raw(self.navigation_type.as_str())
            .raw("\"}");
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
    const fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::UnhandledRejection => "unhandled-rejection",
        }
    }
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

    /// Replaces the text with `head` then `tail`; `false` (and empty) when longer than
    /// `N` bytes.
    pub fn set_concat(&mut self, head: &[u8], tail: &[u8]) -> bool {
        self.len = 0;
        let end = head.len() + tail.len();
        let Some(slot) = self.bytes.get_mut(..end) else {
            return false;
        };
        copy(slot, head);
        copy(slot.get_mut(head.len()..).unwrap_or_default(), tail);
        self.len = end;
        true
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    /// The text, or `None` when empty.
    pub fn get(&self) -> Option<&[u8]> {
        (self.len > 0).then(|| self.as_bytes())
    }
}

/// Sent metric ids remembered, so that no metric is recorded twice by the server.
pub const MAX_SENT_IDS: usize = 256;

/// Reports waiting for the next beacon. Text fields are UTF-8 bytes; everything is in
/// fixed arrays bounded by the server's limits.
#[derive(Debug, Clone)]
pub struct Collector {
    service: Text<MAX_FIELD_LEN>,
    version: Text<MAX_FIELD_LEN>,
    env: Text<MAX_FIELD_LEN>,
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
    /// No identity, nothing recorded.
    pub const EMPTY: Self = Self {
        service: Text::EMPTY,
        version: Text::EMPTY,
        env: Text::EMPTY,
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

    /// Reports for `service` on the page whose route template is `route`, with the
    /// deployed `version` and `env` (empty: none); `false` when a field is longer than the
    /// server accepts.
    pub fn set_identity(
        &mut self,
        service: &[u8],
        route: &[u8],
        version: &[u8],
        env: &[u8],
    ) -> bool {
        self.service.set(service)
            && self.route.set(route)
            && self.version.set(version)
            && self.env.set(env)
    }

    /// The backend trace this page view belongs to (32 hex digits, else none).
    pub fn set_trace_id(&mut self, trace_id: Option<&[u8]>) {
        self.trace_id.set(trace_id.unwrap_or_default());
    }

    /// A new route (single-page navigation); call after taking the beacon of the old one.
    pub fn set_route(&mut self, route: &[u8]) {
        self.route.set_truncated(route);
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

    /// A beacon of the errors only (vitals stay for the page's final beacon), written into
    /// `out`; its length, or `None` when there is nothing to send.
    pub fn take_errors(&mut self, out: &mut [u8]) -> Option<usize> {
        let vitals = core::mem::take(&mut self.vitals_len);
        let beacon = self.take_beacon(out);
        self.vitals_len = vitals;
        beacon
    }

    /// Errors waiting (dropped ones not included).
    pub fn error_count(&self) -> usize {
        self.errors_len
    }

    /// The route template values are collected under.
    pub fn route(&self) -> &[u8] {
        self.route.as_bytes()
    }

    fn write_beacon(&self, json: &mut Json<'_>, with_errors: bool) {
        json.raw("{");
        self.identity_fields(json);
        json.raw(",\"vitals\":[");
        for (i, report) in self.vitals.iter().take(self.vitals_len).enumerate() {
            if i > 0 {
                json.raw(",");
            }
            report.write(json);
        }
        json.raw("],\"errors\":[");
        let errors = if with_errors { self.errors_len } else { 0 };
        for (i, (kind, message)) in self.errors.iter().take(errors).enumerate() {
            if i > 0 {
                json.raw(",");
            }
            json.raw("{\"kind\":\"")
                .raw(kind.as_str())
                .raw("\",\"message\":")
                .string(message.as_bytes())
                .raw("}");
        }
        let dropped = if with_errors {
            self.dropped_errors
        } else {
            self.dropped_errors.saturating_add(self.errors_len as u32)
        };
        json.raw("],\"droppedErrors\":")
            .integer(u64::from(dropped))
            .raw("}");
    }

    /// The beacon (JSON, at most `out.len()` bytes) of everything recorded since the last
    /// one, written into `out`; its length, or `None` when there is nothing to send. What
    /// was taken is cleared. Errors that would not fit are sent as a count only.
    pub fn take_beacon(&mut self, out: &mut [u8]) -> Option<usize> {
        if self.vitals_len == 0 && self.errors_len == 0 && self.dropped_errors == 0 {
            return None;
        }
        let mut json = Json::new(out);
        self.write_beacon(&mut json, true);
        let mut len = json.finish();
        if len.is_none() {
            let mut json = Json::new(out);
            self.write_beacon(&mut json, false);
            len = json.finish();
        }
        for report in self.vitals.iter().take(self.vitals_len) {
            if let Some(slot) = self.sent.get_mut(self.sent_count % MAX_SENT_IDS) {
                *slot = report.id;
            }
            self.sent_count += 1;
        }
        self.vitals_len = 0;
        self.errors_len = 0;
        self.dropped_errors = 0;
        len
    }

    fn identity_fields(&self, json: &mut Json<'_>) {
        json.key("service").string(self.service.as_bytes());
        for (key, value) in [
            ("version", &self.version),
            ("env", &self.env),
            ("traceId", &self.trace_id),
        ] {
            if let Some(value) = value.get() {
                json.raw(",").key(key).string(value);
            }
        }
        json.raw(",").key("route").string(self.route.as_bytes());
    }

    /// An OTLP/HTTP JSON `ExportLogsServiceRequest` with one `browser.web_vital` event per
    /// report (attribute names of `sdk_core::semconv::browser`), stamped `epoch_ms`,
    /// written into `out`; its length, or `None` without reports or room.
    pub fn otlp_logs(&self, reports: &[Report], epoch_ms: f64, out: &mut [u8]) -> Option<usize> {
        if reports.is_empty() {
            return None;
        }
        let mut json = Json::new(out);
        json.raw("{\"resourceLogs\":[{\"resource\":{\"attributes\":[");
        string_attribute(&mut json, "service.name", self.service.as_bytes());
        for (key, value) in [
            ("service.version", &self.version),
            ("deployment.environment.name", &self.env),
        ] {
            if let Some(value) = value.get() {
                json.raw(",");
                string_attribute(&mut json, key, value);
            }
        }
        json.raw("]},\"scopeLogs\":[{\"scope\":{\"name\":\"sdk-wasm-rum\"},\"logRecords\":[");
        for (i, report) in reports.iter().enumerate() {
            if i > 0 {
                json.raw(",");
            }
            json.raw("{\"timeUnixNano\":\"")
                .integer(epoch_ms.max(0.0) as u64)
                .raw("000000\",\"eventName\":\"browser.web_vital\",");
            if let Some(trace_id) = self.trace_id.get() {
                json.key("traceId").string(trace_id).raw(",");
            }
            json.raw("\"attributes\":[");
            string_attribute(
                &mut json,
                "browser.web_vital.name",
                report.vital.as_str().as_bytes(),
            );
            json.raw(",{\"key\":\"browser.web_vital.value\",\"value\":{\"doubleValue\":")
                .number(report.value)
                .raw("}},{\"key\":\"browser.web_vital.delta\",\"value\":{\"doubleValue\":")
                .number(report.delta)
                .raw("}},{\"key\":\"browser.web_vital.id\",\"value\":{\"stringValue\":");
            report.id.write(&mut json);
            json.raw("}},");
            string_attribute(
                &mut json,
                "browser.web_vital.rating",
                report.rating.as_str().as_bytes(),
            );
            json.raw(",");
            string_attribute(
                &mut json,
                "browser.web_vital.navigation_type",
                report.navigation_type.as_str().as_bytes(),
            );
            json.raw(",");
            string_attribute(&mut json, "url.template", self.route.as_bytes());
            json.raw("]}");
        }
        json.raw("]}]}]}");
        json.finish()
    }
}

fn string_attribute(json: &mut Json<'_>, key: &str, value: &[u8]) {
    json.raw("{\"key\":\"")
        .raw(key)
        .raw("\",\"value\":{\"stringValue\":")
        .string(value)
        .raw("}}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::MAX_BEACON_BYTES;
    use sdk_core::rum::Beacon;
    use sdk_core::semconv::browser;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn trace_ids_from_headers_and_meta() {
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
        assert_eq!(
            trace_id_of_server_timing(&format!("db;dur=53, traceparent;desc=\"{TP}\"")),
            Some(&b"4bf92f3577b34da6a3ce929d0e0e4736"[..])
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
        }
    }

    fn new_collector(
        service: &[u8],
        route: &[u8],
        version: &[u8],
        env: &[u8],
    ) -> Option<Box<Collector>> {
        let mut collector = Box::new(Collector::EMPTY);
        collector
            .set_identity(service, route, version, env)
            .then_some(collector)
    }

    fn take(collector: &mut Collector) -> Option<Vec<u8>> {
        let mut buffer = vec![0; MAX_BEACON_BYTES];
        let len = collector.take_beacon(&mut buffer)?;
        buffer.truncate(len);
        Some(buffer)
    }

    fn parse(bytes: &[u8]) -> Beacon {
        let beacon = Beacon::parse(bytes).unwrap_or_else(|e| {
            panic!("{e:?}: {}", String::from_utf8_lossy(bytes));
        });
        assert_eq!(beacon.validate(), Ok(()));
        beacon
    }

    #[test]
    fn metric_ids_are_web_vitals_ids() {
        let id = MetricId::new(1_733_000_000_123.0, 0.5);
        let mut buffer = [0; 64];
        let mut json = Json::new(&mut buffer);
        id.write(&mut json);
        let len = json.finish().unwrap();
        let text = String::from_utf8(buffer[..len].to_vec()).unwrap();
        assert_eq!(text, "\"v6-1733000000123-5499999999999\"");
        assert_eq!(MetricId::new(0.0, 0.0).random, 1_000_000_000_000);
        assert!(MetricId::new(0.0, 0.999_999_999).random < 10_000_000_000_000);
    }

    #[test]
    fn beacons_keep_the_latest_value_per_id_and_pass_server_validation() {
        let mut collector =
            new_collector(b"shop-web", b"/products/{id}", b"1.0", b"pr\"od").unwrap();
        assert!(take(&mut collector).is_none());
        collector.set_trace_id(trace_id_of_traceparent(TP.as_bytes()));
        collector.record_vital(report(1, Vital::Cls, 0.05));
        collector.record_vital(report(1, Vital::Cls, 0.31));
        collector.record_vital(report(2, Vital::Lcp, 1_523.400_000_095_367_4));
        collector.record_error(ErrorKind::Error, "é".repeat(400).as_bytes());
        for _ in 0..MAX_ERRORS + 3 {
            collector.record_error(ErrorKind::UnhandledRejection, b"no\npe");
        }
        let beacon = parse(&take(&mut collector).unwrap());
        assert_eq!(beacon.service, "shop-web");
        assert_eq!(beacon.env.as_deref(), Some("pr\"od"));
        assert_eq!(beacon.route, "/products/{id}");
        assert_eq!(
            beacon.trace_id.as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(beacon.vitals.len(), 2);
        assert_eq!(beacon.vitals[0].value, 0.31);
        assert_eq!(beacon.vitals[0].id, "v6-1700000000000-1000000000001");
        assert_eq!(beacon.vitals[0].rating.as_str(), "poor");
        assert_eq!(
            beacon.vitals[1].navigation_type.as_str(),
            "back-forward-cache"
        );
        assert!((beacon.vitals[1].value - 1_523.400_000_095_367_4).abs() < 1e-9);
        assert_eq!(beacon.errors.len(), MAX_ERRORS);
        assert!(beacon.errors[0].message.len() <= MAX_ERROR_MESSAGE);
        assert_eq!(beacon.errors[1].message, "no\npe");
        assert_eq!(beacon.dropped_errors, 4);
        assert!(take(&mut collector).is_none(), "taken reports are cleared");
        collector.record_vital(report(1, Vital::Cls, 0.4));
        assert!(
            take(&mut collector).is_none(),
            "a metric id is sent once: the server records each metric once"
        );
        collector.record_vital(report(3, Vital::Cls, 0.0));
        collector.record_vital(report(4, Vital::Lcp, 7_200_000.0));
        collector.record_error(ErrorKind::Error, b"boom");
        let mut buffer = vec![0; MAX_BEACON_BYTES];
        let len = collector.take_errors(&mut buffer).unwrap();
        let errors = parse(&buffer[..len]);
        assert!(errors.vitals.is_empty() && errors.errors.len() == 1);
        let beacon = parse(&take(&mut collector).unwrap());
        assert_eq!(
            beacon.vitals.len(),
            1,
            "out-of-range LCP left out: {beacon:?}"
        );
        assert_eq!(beacon.vitals[0].id, "v6-1700000000000-1000000000003");
    }

    #[test]
    fn otlp_log_events_carry_the_semantic_convention_keys() {
        let mut collector = new_collector(b"web", b"/", b"", b"").unwrap();
        collector.set_trace_id(trace_id_of_traceparent(TP.as_bytes()));
        let mut buffer = vec![0; MAX_BEACON_BYTES];
        assert!(collector.otlp_logs(&[], 1.0, &mut buffer).is_none());
        let len = collector
            .otlp_logs(
                &[report(7, Vital::Inp, 312.0)],
                1_700_000_000_123.0,
                &mut buffer,
            )
            .unwrap();
        let body = &buffer[..len];
        let json: serde_json::Value = serde_json::from_slice(body).unwrap();
        let record = &json["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
        assert_eq!(record["timeUnixNano"], "1700000000123000000");
        assert_eq!(record["eventName"], browser::WEB_VITAL_EVENT);
        assert_eq!(record["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
        let keys: Vec<&str> = record["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["key"].as_str().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                browser::WEB_VITAL_NAME,
                browser::WEB_VITAL_VALUE,
                browser::WEB_VITAL_DELTA,
                browser::WEB_VITAL_ID,
                browser::WEB_VITAL_RATING,
                browser::WEB_VITAL_NAVIGATION_TYPE,
                sdk_core::semconv::url::TEMPLATE,
            ]
        );
        assert_eq!(record["attributes"][1]["value"]["doubleValue"], 312.0);
        assert_eq!(
            json["resourceLogs"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "web"
        );
    }

    #[test]
    fn a_beacon_too_large_for_its_buffer_sends_its_errors_as_a_count() {
        let mut collector = new_collector(b"web", b"/", b"", b"").unwrap();
        collector.record_vital(report(1, Vital::Lcp, 1200.0));
        for _ in 0..MAX_ERRORS {
            collector.record_error(ErrorKind::Error, &[b'\x01'; MAX_ERROR_MESSAGE]);
        }
        let mut buffer = vec![0; 4096];
        let len = collector.take_beacon(&mut buffer).unwrap();
        let beacon = parse(&buffer[..len]);
        assert_eq!(beacon.vitals.len(), 1);
        assert!(beacon.errors.is_empty());
        assert_eq!(beacon.dropped_errors as usize, MAX_ERRORS);
        assert!(new_collector(&[b'a'; MAX_FIELD_LEN + 1], b"/", b"", b"").is_none());
    }
}
