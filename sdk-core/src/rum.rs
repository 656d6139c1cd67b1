//! The real-user-monitoring beacon: what a page sends and what the ingestion route accepts.
//! One definition, used by the browser module (serialization) and the server (strict
//! parsing and validation).
//!
//! ```
//! # #[cfg(feature = "rum")] {
//! use sdk_core::rum::{Beacon, NavigationType, Rating, VitalName, VitalReport};
//! let beacon = Beacon {
//!     service: "shop-web".into(),
//!     route: "/products/{id}".into(),
//!     trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
//!     vitals: vec![VitalReport {
//!         name: VitalName::Lcp,
//!         value: 1830.0,
//!         delta: 1830.0,
//!         id: "v6-1700000000000-1".into(),
//!         rating: Rating::Good,
//!         navigation_type: NavigationType::Navigate,
//!     }],
//!     ..Beacon::default()
//! };
//! let json = serde_json::to_string(&beacon).unwrap();
//! assert_eq!(Beacon::parse(json.as_bytes()), Ok(beacon));
//! # }
//! ```

use serde::{Deserialize, Serialize};

/// The route of a page whose path matches no configured template.
pub const OTHER_ROUTE: &str = "other";

/// Largest accepted beacon body, in bytes.
pub const MAX_BEACON_BYTES: usize = 64 * 1024;
/// Most web-vital reports per beacon.
pub const MAX_VITALS: usize = 64;
/// Most errors per beacon.
pub const MAX_ERRORS: usize = 32;
/// Longest error message kept by the browser module, in bytes.
pub const MAX_ERROR_MESSAGE: usize = 256;
/// Longest service, version, environment, route or id, in bytes.
pub const MAX_FIELD_LEN: usize = 128;
/// Largest timing accepted, in milliseconds (ten minutes).
pub const MAX_TIMING_MS: f64 = 600_000.0;
/// Largest cumulative layout shift accepted.
pub const MAX_CLS: f64 = 100.0;

/// A web vital.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum VitalName {
    /// Largest Contentful Paint (ms).
    Lcp,
    /// Interaction to Next Paint (ms).
    Inp,
    /// Cumulative Layout Shift (unitless).
    Cls,
    /// First Contentful Paint (ms).
    Fcp,
    /// Time to First Byte (ms).
    Ttfb,
    /// First Input Delay (ms).
    Fid,
}

impl VitalName {
    /// Every vital.
    pub const ALL: [Self; 6] = [
        Self::Lcp,
        Self::Inp,
        Self::Cls,
        Self::Fcp,
        Self::Ttfb,
        Self::Fid,
    ];

    /// `LCP`, `INP`…, as web-vitals names them.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Lcp => "LCP",
            Self::Inp => "INP",
            Self::Cls => "CLS",
            Self::Fcp => "FCP",
            Self::Ttfb => "TTFB",
            Self::Fid => "FID",
        }
    }

    /// The good / needs-improvement limits (web-vitals 6 thresholds).
    pub const fn thresholds(self) -> (f64, f64) {
        match self {
            Self::Lcp => (2500.0, 4000.0),
            Self::Inp => (200.0, 500.0),
            Self::Cls => (0.1, 0.25),
            Self::Fcp => (1800.0, 3000.0),
            Self::Ttfb => (800.0, 1800.0),
            Self::Fid => (100.0, 300.0),
        }
    }

    /// The rating of `value`: good up to the first threshold, needs-improvement up to the
    /// second, poor above.
    pub fn rate(self, value: f64) -> Rating {
        let (good, poor) = self.thresholds();
        if value <= good {
            Rating::Good
        } else if value <= poor {
            Rating::NeedsImprovement
        } else {
            Rating::Poor
        }
    }

    /// Whether the value is a time in milliseconds (all but CLS).
    pub const fn is_timing(self) -> bool {
        !matches!(self, Self::Cls)
    }
}

/// A rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rating {
    /// Within the first threshold.
    Good,
    /// Between the thresholds.
    NeedsImprovement,
    /// Beyond the second threshold.
    Poor,
}

impl Rating {
    /// `good`, `needs-improvement`, `poor`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Good => "good",
            Self::NeedsImprovement => "needs-improvement",
            Self::Poor => "poor",
        }
    }
}

/// How the page view the value belongs to started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NavigationType {
    /// A normal navigation.
    Navigate,
    /// A reload.
    Reload,
    /// Back/forward without the bfcache.
    BackForward,
    /// Restored from the back/forward cache.
    BackForwardCache,
    /// Prerendered, then activated.
    Prerender,
    /// Restored after being discarded.
    Restore,
    /// A single-page-app route change (`routeChanged()` in the browser module) after which
    /// new values were measured.
    SoftNavigation,
}

impl NavigationType {
    /// The web-vitals spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Navigate => "navigate",
            Self::Reload => "reload",
            Self::BackForward => "back-forward",
            Self::BackForwardCache => "back-forward-cache",
            Self::Prerender => "prerender",
            Self::Restore => "restore",
            Self::SoftNavigation => "soft-navigation",
        }
    }
}

/// One web-vital report, as web-vitals' `onX` callbacks give it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VitalReport {
    /// Which vital.
    pub name: VitalName,
    /// Current value (ms, or unitless for CLS).
    pub value: f64,
    /// Change since this id's previous report.
    pub delta: f64,
    /// Unique per metric instance and page view.
    pub id: String,
    /// Rating by the standard thresholds.
    pub rating: Rating,
    /// How the page view started.
    pub navigation_type: NavigationType,
}

impl VitalReport {
    /// Value and delta finite and within the metric's range (timings up to
    /// [`MAX_TIMING_MS`], CLS up to [`MAX_CLS`]), rating matching the value; the server
    /// rejects beacons with any report that is not.
    pub fn in_range(&self) -> bool {
        let max = if self.name.is_timing() {
            MAX_TIMING_MS
        } else {
            MAX_CLS
        };
        self.value.is_finite()
            && (0.0..=max).contains(&self.value)
            && self.delta.is_finite()
            && self.delta.abs() <= max
            && self.rating == self.name.rate(self.value)
    }
}

/// What kind of uncaught problem a page reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BrowserErrorKind {
    /// An uncaught error (`error` event).
    Error,
    /// An unhandled promise rejection.
    UnhandledRejection,
}

impl BrowserErrorKind {
    /// `error` or `unhandled-rejection`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::UnhandledRejection => "unhandled-rejection",
        }
    }
}

/// An uncaught error or unhandled rejection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowserError {
    /// Kind.
    pub kind: BrowserErrorKind,
    /// Message, cut at [`MAX_ERROR_MESSAGE`] bytes by the page.
    pub message: String,
}

/// One beacon: the page's identity, its route template, the backend trace it belongs to,
/// and what it measured since the previous beacon.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Beacon {
    /// The frontend's service name.
    pub service: String,
    /// Its version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Its environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// The page's route template (`/products/{id}`), never the raw path; [`OTHER_ROUTE`]
    /// for a path that matches no template.
    pub route: String,
    /// The backend trace id (32 hex digits) from `Server-Timing: traceparent` or
    /// `<meta name="traceparent">`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Web-vital reports.
    #[serde(default)]
    pub vitals: Vec<VitalReport>,
    /// Uncaught errors and rejections.
    #[serde(default)]
    pub errors: Vec<BrowserError>,
    /// Errors the page dropped because a beacon holds at most [`MAX_ERRORS`].
    #[serde(default)]
    pub dropped_errors: u32,
}

/// Why a beacon was refused; [`as_str`](Self::as_str) is the `sdk.reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// Larger than [`MAX_BEACON_BYTES`].
    TooLarge,
    /// Not JSON of the beacon's shape (unknown fields and names included).
    Malformed,
    /// Too many vitals or errors, or a field too long.
    TooMany,
    /// A value out of range, not finite, or a rating that does not match the value.
    OutOfRange,
    /// A trace id that is not 32 lower-case hex digits.
    BadTraceId,
}

impl Rejection {
    /// Label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Malformed => "malformed",
            Self::TooMany => "too_many",
            Self::OutOfRange => "out_of_range",
            Self::BadTraceId => "bad_trace_id",
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Beacon {
    /// Parses and validates a beacon body.
    #[cfg(feature = "rum")]
    pub fn parse(body: &[u8]) -> Result<Self, Rejection> {
        if body.len() > MAX_BEACON_BYTES {
            return Err(Rejection::TooLarge);
        }
        let beacon: Self = serde_json::from_slice(body).map_err(|_| Rejection::Malformed)?;
        beacon.validate()?;
        Ok(beacon)
    }

    /// Checks counts, lengths, ranges, ratings and the trace id.
    pub fn validate(&self) -> Result<(), Rejection> {
        if self.vitals.len() > MAX_VITALS || self.errors.len() > MAX_ERRORS {
            return Err(Rejection::TooMany);
        }
        let fields = [
            Some(self.service.as_str()),
            self.version.as_deref(),
            self.env.as_deref(),
            Some(self.route.as_str()),
        ];
        if fields.iter().flatten().any(|f| f.len() > MAX_FIELD_LEN)
            || self.vitals.iter().any(|v| v.id.len() > MAX_FIELD_LEN)
            || self
                .errors
                .iter()
                .any(|e| e.message.len() > MAX_ERROR_MESSAGE)
        {
            return Err(Rejection::TooMany);
        }
        if self.service.is_empty() || !(self.route.starts_with('/') || self.route == OTHER_ROUTE) {
            return Err(Rejection::Malformed);
        }
        if let Some(trace_id) = &self.trace_id
            && (trace_id.len() != 32
                || !trace_id
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                || trace_id.bytes().all(|b| b == b'0'))
        {
            return Err(Rejection::BadTraceId);
        }
        if self.vitals.iter().any(|vital| !vital.in_range()) {
            return Err(Rejection::OutOfRange);
        }
        Ok(())
    }
}

#[cfg(all(test, feature = "rum"))]
mod tests {
    use super::*;

    fn vital(name: VitalName, value: f64) -> VitalReport {
        VitalReport {
            name,
            value,
            delta: value,
            id: "v6-1-1".into(),
            rating: name.rate(value),
            navigation_type: NavigationType::Navigate,
        }
    }

    fn beacon() -> Beacon {
        Beacon {
            service: "web".into(),
            route: "/".into(),
            vitals: VitalName::ALL.iter().map(|n| vital(*n, 0.05)).collect(),
            ..Beacon::default()
        }
    }

    #[test]
    fn ratings_follow_the_thresholds_inclusively() {
        assert_eq!(VitalName::Lcp.rate(2500.0), Rating::Good);
        assert_eq!(VitalName::Lcp.rate(2500.1), Rating::NeedsImprovement);
        assert_eq!(VitalName::Lcp.rate(4000.0), Rating::NeedsImprovement);
        assert_eq!(VitalName::Lcp.rate(4000.1), Rating::Poor);
        assert_eq!(VitalName::Cls.rate(0.1), Rating::Good);
        assert_eq!(VitalName::Cls.rate(0.25), Rating::NeedsImprovement);
        assert_eq!(VitalName::Cls.rate(0.26), Rating::Poor);
        assert_eq!(VitalName::Inp.rate(200.0), Rating::Good);
        assert_eq!(VitalName::Ttfb.rate(1800.0), Rating::NeedsImprovement);
        assert_eq!(VitalName::Fid.rate(300.1), Rating::Poor);
        assert_eq!(VitalName::Fcp.rate(1800.0), Rating::Good);
    }

    #[test]
    fn wire_names_match_web_vitals() {
        let json = serde_json::to_value(vital(VitalName::Cls, 0.3)).unwrap();
        assert_eq!(json["name"], "CLS");
        assert_eq!(json["rating"], "poor");
        assert_eq!(json["navigationType"], "navigate");
        let mut report = vital(VitalName::Inp, 250.0);
        report.navigation_type = NavigationType::BackForwardCache;
        let json = serde_json::to_value(report).unwrap();
        assert_eq!(json["rating"], "needs-improvement");
        assert_eq!(json["navigationType"], "back-forward-cache");
    }

    #[test]
    fn valid_beacons_round_trip() {
        let beacon = beacon();
        let json = serde_json::to_vec(&beacon).unwrap();
        assert_eq!(Beacon::parse(&json), Ok(beacon));
    }

    #[test]
    fn hostile_beacons_are_rejected_with_a_reason() {
        let reject = |b: Beacon| b.validate().unwrap_err();
        let mut b = beacon();
        b.vitals[0].value = f64::NAN;
        assert_eq!(reject(b), Rejection::OutOfRange);
        let mut b = beacon();
        b.vitals[0].value = -1.0;
        assert_eq!(reject(b), Rejection::OutOfRange);
        let mut b = beacon();
        b.vitals[0] = vital(VitalName::Lcp, 1e9);
        assert_eq!(reject(b), Rejection::OutOfRange);
        let mut b = beacon();
        b.vitals[0] = vital(VitalName::Cls, 0.5);
        b.vitals[0].rating = Rating::Good;
        assert_eq!(reject(b), Rejection::OutOfRange);
        let mut b = beacon();
        b.trace_id = Some("XYZ".into());
        assert_eq!(reject(b), Rejection::BadTraceId);
        let mut b = beacon();
        b.trace_id = Some("0".repeat(32));
        assert_eq!(reject(b), Rejection::BadTraceId);
        let mut b = beacon();
        b.vitals = (0..=MAX_VITALS)
            .map(|_| vital(VitalName::Fid, 1.0))
            .collect();
        assert_eq!(reject(b), Rejection::TooMany);
        let mut b = beacon();
        b.route = "x".repeat(MAX_FIELD_LEN + 1);
        assert_eq!(reject(b), Rejection::TooMany);
        let mut b = beacon();
        b.route = "no-slash".into();
        assert_eq!(reject(b), Rejection::Malformed);
        let mut b = beacon();
        b.route = OTHER_ROUTE.into();
        assert_eq!(b.validate(), Ok(()), "unmatched pages are `other`");

        assert_eq!(Beacon::parse(b"not json"), Err(Rejection::Malformed));
        assert_eq!(
            Beacon::parse(br#"{"service":"w","route":"/","vitals":[{"name":"XYZ","value":1,"delta":1,"id":"a","rating":"good","navigationType":"navigate"}]}"#),
            Err(Rejection::Malformed),
            "unknown vital names are rejected"
        );
        assert_eq!(
            Beacon::parse(br#"{"service":"w","route":"/","extra":1}"#),
            Err(Rejection::Malformed),
            "unknown fields are rejected"
        );
        assert_eq!(
            Beacon::parse(&vec![b' '; MAX_BEACON_BYTES + 1]),
            Err(Rejection::TooLarge)
        );
    }
}
