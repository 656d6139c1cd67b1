//! The SLO spec file: what a service promises and when to wake someone.

use super::OpsError;
use serde::Deserialize;
use std::collections::BTreeMap;

/// A duration as Prometheus writes it (`10s`, `5m`, `1h`, `30d`, `1w`), kept as written
/// for rule names (`slo:sli_error:ratio_rate5m`) and as seconds for arithmetic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    text: String,
    seconds: u64,
}

impl Window {
    /// Parses `<n><unit>` with unit `s`, `m`, `h`, `d` or `w`.
    pub fn parse(text: &str) -> Result<Self, OpsError> {
        let bad = || {
            OpsError::Spec(format!(
                "`{text}` is not a duration such as 30s, 5m, 1h, 30d or 1w"
            ))
        };
        let unit_at = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (number, unit) = text.split_at(unit_at);
        let n: u64 = number.parse().map_err(|_| bad())?;
        let scale = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return Err(bad()),
        };
        if n == 0 {
            return Err(bad());
        }
        Ok(Self {
            text: text.to_owned(),
            seconds: n * scale,
        })
    }

    /// As written in the spec.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Length in seconds.
    pub fn seconds(&self) -> u64 {
        self.seconds
    }

    pub(crate) fn from_seconds(seconds: u64) -> Self {
        let text = [(604_800, "w"), (86_400, "d"), (3600, "h"), (60, "m")]
            .iter()
            .find(|(scale, _)| seconds.is_multiple_of(*scale))
            .map_or_else(
                || format!("{seconds}s"),
                |(scale, unit)| format!("{}{unit}", seconds / scale),
            );
        Self { text, seconds }
    }
}

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The spec file (YAML); see the [module](super) documentation for an example.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Service name, as in `OTEL_SERVICE_NAME`; prefixes alert names and rule groups.
    pub service: String,
    /// Exact label matchers that select the service's series (default: `job: <service>`).
    #[serde(default)]
    pub selector: BTreeMap<String, String>,
    /// Base URL of the runbook (where the generated `<service>.runbook.md` is published);
    /// each alert links to `<runbook_url>#<alert-name-lowercase>`, its section there.
    pub runbook_url: String,
    /// Labels added to every alert (team, tier…).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The SLO period (default 30d).
    #[serde(default = "default_period")]
    pub period: Window,
    /// The rate window of the per-route recordings and the symptom alerts (default 5m;
    /// named in the recordings, as in `http_route:http_server_requests:rate5m`).
    #[serde(default = "default_rate_window")]
    pub rate_window: Window,
    /// Burn-rate alert windows; default: the SRE workbook's table.
    #[serde(default)]
    pub burn_rate: BurnRateWindows,
    /// The service level objectives.
    #[serde(default)]
    pub slos: Vec<Slo>,
    /// Thresholds of the symptom alerts.
    #[serde(default)]
    pub alerts: Thresholds,
    /// Anomaly bands.
    #[serde(default)]
    pub anomaly: Anomaly,
}

fn default_period() -> Window {
    Window::from_seconds(30 * 86_400)
}

fn default_rate_window() -> Window {
    Window::from_seconds(300)
}

/// The page and ticket windows of the multiwindow, multi-burn-rate alerts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurnRateWindows {
    /// Pairs that page (severity critical).
    pub page: Vec<BurnRateWindow>,
    /// Pairs that open a ticket (severity warning).
    pub ticket: Vec<BurnRateWindow>,
}

impl Default for BurnRateWindows {
    /// The SRE workbook's table for a 30-day SLO, as sloth generates it: page at 14.4×
    /// over 1 h and 5 m or 6× over 6 h and 30 m; ticket at 3× over 1 d and 2 h or 1× over
    /// 3 d and 6 h.
    fn default() -> Self {
        let pair = |long: u64, short: u64, factor: f64| BurnRateWindow {
            long: Window::from_seconds(long),
            short: Window::from_seconds(short),
            factor,
        };
        Self {
            page: vec![pair(3600, 300, 14.4), pair(6 * 3600, 1800, 6.0)],
            ticket: vec![pair(86_400, 7200, 3.0), pair(3 * 86_400, 6 * 3600, 1.0)],
        }
    }
}

/// One window pair: the alert fires when both windows burn faster than `factor`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurnRateWindow {
    /// The long window (how much budget was spent).
    pub long: Window,
    /// The short window (is it still burning; it resets the alert quickly).
    pub short: Window,
    /// The burn rate, in multiples of the rate that spends the budget in exactly the period.
    pub factor: f64,
}

/// One service level objective.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// Lower-case name with dashes (`requests-availability`).
    pub name: String,
    /// What the objective means to a user.
    pub description: String,
    /// Target in percent of good events (`99.9`).
    pub objective: f64,
    /// How good and bad events are counted.
    pub sli: Sli,
}

/// The indicator of an SLO.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Sli {
    /// Requests answered without a server error (5xx), optionally on some routes.
    Availability {
        /// Routes (`http.route` values); empty = all.
        #[serde(default)]
        routes: Vec<String>,
    },
    /// Requests answered within `threshold` seconds, read from that exact bucket of
    /// `http.server.request.duration` ("p95 < 250 ms" = objective 95 with threshold 0.25).
    Latency {
        /// Seconds; must be one of the histogram's bucket boundaries.
        threshold: f64,
        /// Routes (`http.route` values); empty = all.
        #[serde(default)]
        routes: Vec<String>,
    },
    /// Cache lookups that hit.
    CacheHitRatio {
        /// Restricts to one `cache.key_prefix`.
        #[serde(default)]
        key_prefix: Option<String>,
    },
    /// Page loads whose web vital is rated "good" (LCP ≤ 2.5 s, INP ≤ 200 ms, CLS ≤ 0.1,
    /// FCP ≤ 1.8 s, TTFB ≤ 800 ms, FID ≤ 100 ms); objective 75 = "p75 is good".
    WebVital {
        /// `LCP`, `INP`, `CLS`, `FCP`, `TTFB` or `FID`.
        name: String,
    },
}

/// Thresholds of the symptom alerts; each one can be switched off with `null`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// How long a condition must hold before a symptom alert fires.
    #[serde(rename = "for")]
    pub for_: Window,
    /// p95 request latency per route, seconds.
    pub latency_p95: Option<f64>,
    /// Ratio of 5xx responses per route.
    pub error_ratio: Option<f64>,
    /// Minimum cache hit ratio per key prefix.
    pub cache_hit_ratio: Option<f64>,
    /// Slow queries per second per operation and table.
    pub slow_queries_per_second: Option<f64>,
    /// Ratio of "poor" web-vital ratings per route and vital.
    pub rum_poor_ratio: Option<f64>,
    /// Used over maximum memory of a Redis server above which its evictions alert.
    pub redis_memory_ratio: Option<f64>,
    /// Open over maximum file descriptors of a process.
    pub fds_ratio: Option<f64>,
    /// Share of the Tokio workers' time spent busy.
    pub tokio_busy_ratio: Option<f64>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            for_: Window::from_seconds(300),
            latency_p95: Some(0.5),
            error_ratio: Some(0.05),
            cache_hit_ratio: Some(0.5),
            slow_queries_per_second: Some(0.1),
            rum_poor_ratio: Some(0.25),
            redis_memory_ratio: Some(0.9),
            fds_ratio: Some(0.8),
            tokio_busy_ratio: Some(0.9),
        }
    }
}

/// Anomaly bands: a signal compared with its seasonal prediction, in standard deviations
/// of its last week.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Anomaly {
    /// Whether bands and their alerts are generated.
    pub enabled: bool,
    /// How many standard deviations from the prediction leave the band.
    pub k: f64,
    /// Requests per second below which the service is too quiet for the alert.
    pub min_request_rate: f64,
    /// How long the signal must stay outside the band.
    #[serde(rename = "for")]
    pub for_: Window,
}

impl Default for Anomaly {
    fn default() -> Self {
        Self {
            enabled: true,
            k: 3.0,
            min_request_rate: 0.1,
            for_: Window::from_seconds(900),
        }
    }
}

impl Spec {
    /// Parses and checks a spec.
    pub fn from_yaml(text: &str) -> Result<Self, OpsError> {
        let mut spec: Spec =
            serde_saphyr::from_str(text).map_err(|e| OpsError::Spec(e.to_string()))?;
        if spec.selector.is_empty() {
            spec.selector.insert("job".into(), spec.service.clone());
        }
        spec.validate()?;
        Ok(spec)
    }

    fn validate(&self) -> Result<(), OpsError> {
        let err = |m: String| Err(OpsError::Spec(m));
        if !is_name(&self.service) {
            return err(format!(
                "service `{}`: use lower-case letters, digits and dashes",
                self.service
            ));
        }
        for key in self.selector.keys().chain(self.labels.keys()) {
            if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || key.is_empty() {
                return err(format!("label name `{key}` is not a Prometheus label name"));
            }
        }
        for pair in self.burn_rate.page.iter().chain(&self.burn_rate.ticket) {
            if pair.short.seconds() >= pair.long.seconds() || pair.factor <= 0.0 {
                return err(format!(
                    "burn-rate window {}/{}: the short window must be shorter than the long one and the factor positive",
                    pair.long.as_str(),
                    pair.short.as_str()
                ));
            }
        }
        if let Some(p95) = self.alerts.latency_p95 {
            let buckets = crate::catalogue::HTTP_SERVER_REQUEST_DURATION.buckets;
            let (first, last) = (buckets[0], buckets[buckets.len() - 2]);
            if !(p95 > first && p95 <= last) {
                return err(format!(
                    "alerts.latency_p95 {p95} s: the request-duration histogram resolves p95 between {first} s and {last} s"
                ));
            }
        }
        for (name, ratio) in [
            ("redis_memory_ratio", self.alerts.redis_memory_ratio),
            ("fds_ratio", self.alerts.fds_ratio),
            ("tokio_busy_ratio", self.alerts.tokio_busy_ratio),
        ] {
            if let Some(r) = ratio
                && !(r > 0.0 && r < 1.0)
            {
                return err(format!(
                    "alerts.{name} {r}: a ratio between 0 and 1 (exclusive), or null"
                ));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for slo in &self.slos {
            if !is_name(&slo.name) || !names.insert(&slo.name) {
                return err(format!(
                    "SLO name `{}` is repeated or not lower-case with dashes",
                    slo.name
                ));
            }
            if !(slo.objective > 0.0 && slo.objective < 100.0) {
                return err(format!(
                    "SLO `{}`: objective {} must be a percentage between 0 and 100 (exclusive)",
                    slo.name, slo.objective
                ));
            }
            super::slo::check_sli(&slo.name, &slo.sli)?;
        }
        Ok(())
    }
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_and_print() {
        assert_eq!(Window::parse("5m").unwrap().seconds(), 300);
        assert_eq!(Window::parse("1w").unwrap().seconds(), 604_800);
        assert!(Window::parse("5").is_err());
        assert!(Window::parse("m").is_err());
        assert!(Window::parse("0s").is_err());
        assert!(Window::parse("1y").is_err());
        assert_eq!(Window::from_seconds(2_592_000).as_str(), "30d");
        assert_eq!(Window::from_seconds(90).as_str(), "90s");
    }

    #[test]
    fn defaults_and_refusals() {
        let spec = Spec::from_yaml("service: shop\nrunbook_url: https://x/runbook\n").unwrap();
        assert_eq!(spec.selector.get("job").map(String::as_str), Some("shop"));
        assert_eq!(spec.period.as_str(), "30d");
        assert_eq!(spec.burn_rate.page[0].factor, 14.4);
        let unknown = Spec::from_yaml("service: shop\nrunbook_url: x\nslo: []\n").unwrap_err();
        assert!(unknown.to_string().contains("slo"), "{unknown}");
        let objective = Spec::from_yaml(
            "service: shop\nrunbook_url: x\nslos:\n- {name: a, description: d, objective: 100, sli: {kind: availability}}\n",
        )
        .unwrap_err();
        assert!(objective.to_string().contains("objective"), "{objective}");
        let bucket = Spec::from_yaml(
            "service: shop\nrunbook_url: x\nslos:\n- {name: a, description: d, objective: 95, sli: {kind: latency, threshold: 0.3}}\n",
        )
        .unwrap_err();
        assert!(bucket.to_string().contains("0.25, 0.5"), "{bucket}");
        let ratio = Spec::from_yaml("service: shop\nrunbook_url: x\nalerts: {fds_ratio: 80}\n")
            .unwrap_err();
        assert!(ratio.to_string().contains("alerts.fds_ratio"), "{ratio}");
        let off =
            Spec::from_yaml("service: shop\nrunbook_url: x\nalerts: {tokio_busy_ratio: null}\n")
                .unwrap();
        assert_eq!(off.alerts.tokio_busy_ratio, None);
        assert_eq!(off.alerts.fds_ratio, Some(0.8));
    }
}
