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
//!         attribution: None,
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
/// Longest text of an attribution field (a selector, a URL), in bytes; the page cuts
/// selectors at 100 characters and URLs at 200.
pub const MAX_ATTRIBUTION_TEXT: usize = 1024;

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
    /// What made the value (the browser module's attribution build; LCP, INP and CLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<VitalAttribution>,
}

/// A beacon's bounded copy of web-vitals' attribution: LCP's element, resource and four
/// sub-parts; INP's target, phases and longest script (long animation frames); CLS's
/// largest shift. Times in milliseconds; URLs without query or fragment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VitalAttribution {
    /// CSS selector of the LCP element, the INP target or the largest shift's source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// LCP: the resource's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// LCP: time to first byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_first_byte: Option<f64>,
    /// LCP: from the first byte to the resource's request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_load_delay: Option<f64>,
    /// LCP: the resource's load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_load_duration: Option<f64>,
    /// LCP: from the resource's end to the paint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element_render_delay: Option<f64>,
    /// INP: `pointer` or `keyboard`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interaction_type: Option<InteractionType>,
    /// INP: from the input to its handlers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_delay: Option<f64>,
    /// INP: the handlers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_duration: Option<f64>,
    /// INP: from the handlers to the next paint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presentation_delay: Option<f64>,
    /// INP and CLS: the document's state at the interaction or shift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_state: Option<LoadState>,
    /// INP: the longest script's source URL (long animation frames).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_url: Option<String>,
    /// INP: what invoked it (`BUTTON#buy.onclick`, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_invoker: Option<String>,
    /// INP: the phase it ran in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_subpart: Option<InpPart>,
    /// INP: its time within the interaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_duration: Option<f64>,
    /// CLS: when the largest shift happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub largest_shift_time: Option<f64>,
    /// CLS: its score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub largest_shift_value: Option<f64>,
}

/// web-vitals' `interactionType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InteractionType {
    /// Pointer (click, tap).
    Pointer,
    /// Keyboard.
    Keyboard,
}

/// web-vitals' `LoadState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadState {
    /// Before `domInteractive`.
    Loading,
    /// Before `DOMContentLoaded`.
    DomInteractive,
    /// Before the load completed.
    DomContentLoaded,
    /// Loaded.
    Complete,
}

/// The phases of an interaction (INP), web-vitals' spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InpPart {
    /// Before the handlers ran.
    InputDelay,
    /// The handlers.
    ProcessingDuration,
    /// After them, to the next paint.
    PresentationDelay,
}

impl InteractionType {
    /// web-vitals' spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pointer => "pointer",
            Self::Keyboard => "keyboard",
        }
    }
}

impl LoadState {
    /// web-vitals' spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Loading => "loading",
            Self::DomInteractive => "dom-interactive",
            Self::DomContentLoaded => "dom-content-loaded",
            Self::Complete => "complete",
        }
    }
}

impl InpPart {
    /// web-vitals' spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InputDelay => "input-delay",
            Self::ProcessingDuration => "processing-duration",
            Self::PresentationDelay => "presentation-delay",
        }
    }
}

/// A part of a vital's time: LCP's four sub-parts, INP's three phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VitalPart {
    /// LCP: time to first byte.
    TimeToFirstByte,
    /// LCP: resource load delay.
    ResourceLoadDelay,
    /// LCP: resource load duration.
    ResourceLoadDuration,
    /// LCP: element render delay.
    ElementRenderDelay,
    /// INP: input delay.
    InputDelay,
    /// INP: processing duration.
    ProcessingDuration,
    /// INP: presentation delay.
    PresentationDelay,
}

impl VitalPart {
    /// Label value (`browser.web_vital.part`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TimeToFirstByte => "time_to_first_byte",
            Self::ResourceLoadDelay => "resource_load_delay",
            Self::ResourceLoadDuration => "resource_load_duration",
            Self::ElementRenderDelay => "element_render_delay",
            Self::InputDelay => "input_delay",
            Self::ProcessingDuration => "processing_duration",
            Self::PresentationDelay => "presentation_delay",
        }
    }
}

impl VitalAttribution {
    /// The parts it carries with their times (ms): LCP's sub-parts or INP's phases, in
    /// order; the dominant one is the longest.
    pub fn parts(&self) -> Vec<(VitalPart, f64)> {
        [
            (VitalPart::TimeToFirstByte, self.time_to_first_byte),
            (VitalPart::ResourceLoadDelay, self.resource_load_delay),
            (VitalPart::ResourceLoadDuration, self.resource_load_duration),
            (VitalPart::ElementRenderDelay, self.element_render_delay),
            (VitalPart::InputDelay, self.input_delay),
            (VitalPart::ProcessingDuration, self.processing_duration),
            (VitalPart::PresentationDelay, self.presentation_delay),
        ]
        .into_iter()
        .filter_map(|(part, time)| time.map(|time| (part, time)))
        .collect()
    }

    /// The longest part.
    pub fn dominant_part(&self) -> Option<VitalPart> {
        self.parts()
            .into_iter()
            .fold(
                None,
                |best: Option<(VitalPart, f64)>, (part, time)| match best {
                    Some((_, longest)) if longest >= time => best,
                    _ => Some((part, time)),
                },
            )
            .map(|(part, _)| part)
    }

    /// Texts within [`MAX_ATTRIBUTION_TEXT`]; durations finite within ±[`MAX_TIMING_MS`]
    /// (a phase can come out slightly negative from the browser's rounding); the largest
    /// shift's time finite and not negative (a page may live for days); its score within
    /// [`MAX_CLS`].
    pub fn is_valid(&self) -> bool {
        let texts = [
            &self.target,
            &self.url,
            &self.script_url,
            &self.script_invoker,
        ];
        let times = [
            self.time_to_first_byte,
            self.resource_load_delay,
            self.resource_load_duration,
            self.element_render_delay,
            self.input_delay,
            self.processing_duration,
            self.presentation_delay,
            self.script_duration,
        ];
        texts
            .iter()
            .all(|t| t.as_ref().is_none_or(|t| t.len() <= MAX_ATTRIBUTION_TEXT))
            && times
                .iter()
                .flatten()
                .all(|t| t.is_finite() && t.abs() <= MAX_TIMING_MS)
            && self
                .largest_shift_value
                .is_none_or(|v| v.is_finite() && (0.0..=MAX_CLS).contains(&v))
            && self
                .largest_shift_time
                .is_none_or(|t| t.is_finite() && t >= 0.0)
    }
}

/// A URL without its query and fragment (where secrets travel): what the ingestion route
/// logs of a page's URLs.
pub fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or_default()
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
            && self
                .attribution
                .as_ref()
                .is_none_or(VitalAttribution::is_valid)
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
            attribution: None,
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
    fn attribution_is_optional_bounded_and_strict() {
        let body = |attribution: &str| {
            format!(
                r#"{{"service":"web","route":"/","vitals":[{{"name":"LCP","value":1800,"delta":1800,
                "id":"v6-1-1","rating":"good","navigationType":"navigate","attribution":{attribution}}}]}}"#
            )
        };
        let beacon = Beacon::parse(
            body(
                r##"{"target":"#hero","url":"https://shop.example/hero.png","timeToFirstByte":20,
            "resourceLoadDelay":100,"resourceLoadDuration":1500,"elementRenderDelay":180}"##,
            )
            .as_bytes(),
        )
        .expect("an LCP attribution");
        let attribution = beacon.vitals[0].attribution.as_ref().unwrap();
        assert_eq!(attribution.target.as_deref(), Some("#hero"));
        assert_eq!(
            attribution.dominant_part(),
            Some(VitalPart::ResourceLoadDuration)
        );
        assert_eq!(attribution.parts().len(), 4);
        let inp = Beacon::parse(
            body(r#"{"interactionType":"pointer","inputDelay":2,"processingDuration":150,
            "presentationDelay":9,"loadState":"complete","scriptUrl":"https://shop.example/app.js",
            "scriptInvoker":"BUTTON#buy.onclick","scriptSubpart":"processing-duration","scriptDuration":149}"#)
                .as_bytes(),
        )
        .expect("an INP attribution");
        let inp = inp.vitals[0].attribution.as_ref().unwrap();
        assert_eq!(inp.dominant_part(), Some(VitalPart::ProcessingDuration));
        assert_eq!(inp.script_subpart, Some(InpPart::ProcessingDuration));
        assert_eq!(inp.load_state, Some(LoadState::Complete));
        // The log's spellings are the wire's.
        for (text, value) in [
            (
                InpPart::ProcessingDuration.as_str(),
                serde_json::to_value(InpPart::ProcessingDuration),
            ),
            (
                LoadState::DomContentLoaded.as_str(),
                serde_json::to_value(LoadState::DomContentLoaded),
            ),
            (
                InteractionType::Keyboard.as_str(),
                serde_json::to_value(InteractionType::Keyboard),
            ),
        ] {
            assert_eq!(serde_json::Value::from(text), value.unwrap());
        }

        let long = format!(r#"{{"target":"{}"}}"#, "a".repeat(MAX_ATTRIBUTION_TEXT + 1));
        // A shift after 20 minutes on a long-lived page is a time, not a duration.
        let late = Beacon::parse(
            body(r#"{"largestShiftTime":1200000,"largestShiftValue":0.2}"#).as_bytes(),
        );
        assert!(late.is_ok(), "{late:?}");
        for (attribution, reason) in [
            (r#"{"selector":"x"}"#, Rejection::Malformed),
            (r#"{"largestShiftTime":-5}"#, Rejection::OutOfRange),
            (r#"{"loadState":"ready"}"#, Rejection::Malformed),
            (r#"{"inputDelay":1e300}"#, Rejection::OutOfRange),
            (r#"{"largestShiftValue":-1}"#, Rejection::OutOfRange),
            (long.as_str(), Rejection::OutOfRange),
        ] {
            assert_eq!(
                Beacon::parse(body(attribution).as_bytes()),
                Err(reason),
                "{attribution}"
            );
        }
        assert_eq!(
            without_query("https://shop.example/a.png?token=s3cret#x"),
            "https://shop.example/a.png"
        );
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
