//! Performance budgets: limits a run of the service must stay within — p95 and error
//! ratio per route, the service's error ratio, the cache hit ratio, web-vital p75s and
//! the browser bundle's size — checked against a Prometheus that scraped the run, with a
//! readable table of what is over.
//!
//! ```yaml
//! service: shop
//! window: 2m                    # the run's length: every figure is a rate over it
//! routes:
//!   "/users/{id}": {p95: 0.25, error_ratio: 0.001}
//! error_ratio: 0.01             # whole service, at most
//! cache_hit_ratio: 0.8          # at least
//! web_vitals: {LCP: 2.5, INP: 0.2, CLS: 0.1}   # p75, at most (seconds; CLS unitless)
//! rum_bundle_bytes: 35840       # brotli, wasm + JS, at most
//! ```
//!
//! A figure without data fails its line: a budget nobody measured is not met.

use super::OpsError;
use super::promql::{alternatives, guarded_ratio, label, matchers, series, sum_by};
use super::spec::Window;
use crate::catalogue::{
    BROWSER_WEB_VITAL_CLS, BROWSER_WEB_VITAL_DURATION, CACHE_REQUESTS, HTTP_SERVER_REQUEST_DURATION,
};
use crate::semconv::{browser, cache, http};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The budget file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Service name; the default selector is `job: <service>`.
    pub service: String,
    /// Exact label matchers of the service's series.
    #[serde(default)]
    pub selector: BTreeMap<String, String>,
    /// The span every figure is computed over (the run's length).
    pub window: Window,
    /// Limits per route (`http.route` values).
    #[serde(default)]
    pub routes: BTreeMap<String, RouteBudget>,
    /// Highest share of 5xx responses over the whole service.
    #[serde(default)]
    pub error_ratio: Option<f64>,
    /// Lowest share of cache lookups that hit.
    #[serde(default)]
    pub cache_hit_ratio: Option<f64>,
    /// Highest p75 per web vital (`LCP`, `INP`, `FCP`, `TTFB`, `FID` in seconds; `CLS`).
    #[serde(default)]
    pub web_vitals: BTreeMap<String, f64>,
    /// Largest browser bundle, brotli bytes of wasm and JS together.
    #[serde(default)]
    pub rum_bundle_bytes: Option<u64>,
}

/// Limits of one route.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteBudget {
    /// Highest p95 latency, seconds.
    #[serde(default)]
    pub p95: Option<f64>,
    /// Highest share of 5xx responses.
    #[serde(default)]
    pub error_ratio: Option<f64>,
}

impl Budget {
    /// Parses a budget file.
    pub fn from_yaml(text: &str) -> Result<Self, OpsError> {
        let mut budget: Budget =
            serde_saphyr::from_str(text).map_err(|e| OpsError::Spec(format!("budget: {e}")))?;
        if budget.selector.is_empty() {
            budget.selector.insert("job".into(), budget.service.clone());
        }
        if let Some(name) = budget
            .web_vitals
            .keys()
            .find(|n| !["LCP", "INP", "CLS", "FCP", "TTFB", "FID"].contains(&n.as_str()))
        {
            return Err(OpsError::Spec(format!(
                "budget: web vital `{name}` is not one of LCP, INP, CLS, FCP, TTFB, FID"
            )));
        }
        Ok(budget)
    }
}

/// One series' labels and value in a query's answer.
pub type Sample = (BTreeMap<String, String>, f64);

/// Where figures come from: an instant PromQL query answering one value per series.
pub trait Source {
    /// The values of `promql` now, with each series' labels.
    fn query(&self, promql: &str) -> Result<Vec<Sample>, OpsError>;
}

/// A Prometheus server's HTTP API.
#[derive(Debug, Clone)]
pub struct PrometheusApi {
    base: String,
    agent: ureq::Agent,
}

impl PrometheusApi {
    /// The server at `base` (`http://127.0.0.1:9090`).
    pub fn new(base: impl Into<String>) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .build()
            .into();
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
            agent,
        }
    }
}

impl Source for PrometheusApi {
    fn query(&self, promql: &str) -> Result<Vec<Sample>, OpsError> {
        let failed = |e: String| OpsError::Spec(format!("Prometheus at {}: {e}", self.base));
        let mut response = self
            .agent
            .get(&format!("{}/api/v1/query", self.base))
            .query("query", promql)
            .call()
            .map_err(|e| failed(e.to_string()))?;
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| failed(e.to_string()))?;
        let answer: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| failed(format!("{e}: {text}")))?;
        if answer["status"] != "success" {
            return Err(failed(format!("{promql}: {text}")));
        }
        Ok(answer["data"]["result"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|sample| {
                let labels = sample["metric"]
                    .as_object()?
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect();
                let value = sample["value"][1].as_str()?.parse::<f64>().ok()?;
                Some((labels, value))
            })
            .collect())
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// What is limited (`p95 /users/{id}`).
    pub what: String,
    /// The limit, with its direction (`≤ 0.25 s`).
    pub limit: String,
    /// What was measured (`0.012 s`, or `no data`).
    pub measured: String,
    /// Whether the line fails.
    pub over: bool,
}

/// The outcome of a check.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// One line per limit, in the budget file's order.
    pub lines: Vec<Line>,
}

impl Report {
    /// Whether every line is within its limit.
    pub fn passed(&self) -> bool {
        self.lines.iter().all(|l| !l.over)
    }

    /// The report as a Markdown table.
    pub fn table(&self) -> String {
        let mut out = String::from("| budget | limit | measured | |\n|---|---|---|---|\n");
        for line in &self.lines {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                line.what,
                line.limit,
                line.measured,
                if line.over { "OVER" } else { "ok" }
            ));
        }
        out
    }
}

fn seconds(x: f64) -> String {
    format!("{:.3} s", x)
}

fn percent(x: f64) -> String {
    format!("{:.2} %", x * 100.0)
}

fn first(source: &dyn Source, promql: &str) -> Result<Option<f64>, OpsError> {
    Ok(source
        .query(promql)?
        .into_iter()
        .map(|(_, v)| v)
        .find(|v| v.is_finite()))
}

/// Checks `budget` against `source`; `bundle_bytes` is the measured browser bundle, when
/// the budget limits it.
pub fn check(
    budget: &Budget,
    source: &dyn Source,
    bundle_bytes: Option<u64>,
) -> Result<Report, OpsError> {
    let w = budget.window.as_str();
    let route_key = label(http::ROUTE);
    let sel = |extra: &[(String, &str, String)]| matchers(&budget.selector, extra);
    let count = series(&HTTP_SERVER_REQUEST_DURATION, "_count");
    let bucket = series(&HTTP_SERVER_REQUEST_DURATION, "_bucket");
    let errors_of = |route: Option<&str>| {
        let mut base = Vec::new();
        if let Some(route) = route {
            base.push((route_key.clone(), "=~", alternatives(&[route.to_owned()])));
        }
        let mut errors = base.clone();
        errors.push((label(http::RESPONSE_STATUS_CODE), "=~", "5..".to_owned()));
        guarded_ratio(
            &sum_by(&[], &format!("rate({count}{}[{w}])", sel(&errors))),
            &sum_by(&[], &format!("rate({count}{}[{w}])", sel(&base))),
        )
    };
    let mut lines = Vec::new();
    let mut line = |what: String,
                    limit: String,
                    measured: Option<f64>,
                    over: &dyn Fn(f64) -> bool,
                    show: &dyn Fn(f64) -> String| {
        lines.push(Line {
            what,
            limit,
            measured: measured.map_or_else(|| "no data".to_owned(), show),
            over: measured.is_none_or(over),
        });
    };
    for (route, limits) in &budget.routes {
        if let Some(p95) = limits.p95 {
            let route_sel = sel(&[(
                route_key.clone(),
                "=~",
                alternatives(std::slice::from_ref(route)),
            )]);
            let promql =
                format!("histogram_quantile(0.95, sum by (le) (rate({bucket}{route_sel}[{w}])))");
            line(
                format!("p95 {route}"),
                format!("≤ {}", seconds(p95)),
                first(source, &promql)?,
                &|m| m > p95,
                &seconds,
            );
        }
        if let Some(max) = limits.error_ratio {
            line(
                format!("error ratio {route}"),
                format!("≤ {}", percent(max)),
                first(source, &errors_of(Some(route)))?,
                &|m| m > max,
                &percent,
            );
        }
    }
    if let Some(max) = budget.error_ratio {
        line(
            "error ratio (service)".to_owned(),
            format!("≤ {}", percent(max)),
            first(source, &errors_of(None))?,
            &|m| m > max,
            &percent,
        );
    }
    if let Some(min) = budget.cache_hit_ratio {
        let lookups = series(&CACHE_REQUESTS, "");
        let hits = sel(&[(label(cache::RESULT), "=", "hit".to_owned())]);
        let promql = guarded_ratio(
            &sum_by(&[], &format!("rate({lookups}{hits}[{w}])")),
            &sum_by(&[], &format!("rate({lookups}{}[{w}])", sel(&[]))),
        );
        line(
            "cache hit ratio".to_owned(),
            format!("≥ {}", percent(min)),
            first(source, &promql)?,
            &|m| m < min,
            &percent,
        );
    }
    for (name, max) in &budget.web_vitals {
        let def = if name == "CLS" {
            &BROWSER_WEB_VITAL_CLS
        } else {
            &BROWSER_WEB_VITAL_DURATION
        };
        let vital = sel(&[(label(browser::WEB_VITAL_NAME), "=", name.clone())]);
        let promql = format!(
            "histogram_quantile(0.75, sum by (le) (rate({}{vital}[{w}])))",
            series(def, "_bucket")
        );
        let show: &dyn Fn(f64) -> String = if name == "CLS" {
            &|x| format!("{x:.3}")
        } else {
            &seconds
        };
        line(
            format!("{name} p75"),
            format!("≤ {}", show(*max)),
            first(source, &promql)?,
            &|m| m > *max,
            show,
        );
    }
    if let Some(max) = budget.rum_bundle_bytes {
        line(
            "browser bundle (brotli)".to_owned(),
            format!("≤ {max} B"),
            bundle_bytes.map(|b| b as f64),
            &|m| m > max as f64,
            &|m| format!("{m} B"),
        );
    }
    Ok(Report { lines })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source answering from a fixed table keyed by a fragment of the query.
    struct Table(Vec<(&'static str, f64)>);

    impl Source for Table {
        fn query(&self, promql: &str) -> Result<Vec<Sample>, OpsError> {
            Ok(self
                .0
                .iter()
                .filter(|(fragment, _)| promql.contains(fragment))
                .map(|(_, v)| (BTreeMap::new(), *v))
                .take(1)
                .collect())
        }
    }

    const BUDGET: &str = "service: shop\nwindow: 1m\nroutes:\n  \"/users/{id}\": {p95: 0.25}\nerror_ratio: 0.01\ncache_hit_ratio: 0.8\nweb_vitals: {CLS: 0.1}\nrum_bundle_bytes: 1000\n";

    #[test]
    fn lines_fail_over_the_limit_and_without_data() {
        let budget = Budget::from_yaml(BUDGET).unwrap();
        let source = Table(vec![
            ("histogram_quantile(0.95", 0.3),
            ("cache_result", 0.9),
            ("browser_web_vital_cls", 0.05),
        ]);
        let report = check(&budget, &source, Some(900)).unwrap();
        let over: Vec<&str> = report
            .lines
            .iter()
            .filter(|l| l.over)
            .map(|l| l.what.as_str())
            .collect();
        // p95 0.3 s is over 0.25 s; the service error ratio has no data.
        assert_eq!(over, ["p95 /users/{id}", "error ratio (service)"]);
        assert!(!report.passed());
        let table = report.table();
        assert!(
            table.contains("| p95 /users/{id} | ≤ 0.250 s | 0.300 s | OVER |"),
            "{table}"
        );
        assert!(
            table.contains("| error ratio (service) | ≤ 1.00 % | no data | OVER |"),
            "{table}"
        );
        assert!(
            table.contains("| browser bundle (brotli) | ≤ 1000 B | 900 B | ok |"),
            "{table}"
        );
    }

    #[test]
    fn unknown_vitals_and_fields_are_refused() {
        assert!(Budget::from_yaml("service: s\nwindow: 1m\nweb_vitals: {LCX: 1}\n").is_err());
        assert!(Budget::from_yaml("service: s\nwindow: 1m\np99: 1\n").is_err());
    }
}
