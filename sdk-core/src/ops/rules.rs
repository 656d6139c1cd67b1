//! Prometheus rule files (the model `promtool check rules` reads) and the recording rules
//! every dashboard and alert builds on: RED per route, database, cache and browser.

use super::promql::{guarded_ratio, label, matchers, series, sum_by};
use super::spec::Spec;
use crate::catalogue::{
    BROWSER_WEB_VITAL_CLS, BROWSER_WEB_VITAL_DURATION, CACHE_REQUESTS, DB_CLIENT_CONNECTION_COUNT,
    DB_CLIENT_CONNECTION_MAX, DB_CLIENT_OPERATION_DURATION, HTTP_SERVER_REQUEST_DURATION,
};
use crate::semconv::{browser, cache, db, http};
use serde::Serialize;
use std::collections::BTreeMap;

/// A rule file.
#[derive(Debug, Clone, Serialize)]
pub struct RuleFile {
    /// Rule groups, evaluated independently.
    pub groups: Vec<Group>,
}

/// A rule group.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// Unique group name.
    pub name: String,
    /// Rules in evaluation order.
    pub rules: Vec<Rule>,
}

/// A recording or alerting rule.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rule {
    /// Name of the recorded series (recording rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// Alert name (alerting rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    /// The PromQL expression.
    pub expr: String,
    /// How long the condition holds before the alert fires.
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    /// Labels added to the result.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Alert annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Rule {
    pub(crate) fn record(name: impl Into<String>, expr: impl Into<String>) -> Self {
        Self {
            record: Some(name.into()),
            expr: expr.into(),
            ..Self::default()
        }
    }

    pub(crate) fn with_label(mut self, key: &str, value: impl Into<String>) -> Self {
        self.labels.insert(key.to_owned(), value.into());
        self
    }
}

/// The label every SDK recording rule carries, naming the service.
pub(crate) const SERVICE_LABEL: &str = "sdk_service";

/// The rate window of the per-route recordings.
pub(crate) const RATE: &str = "5m";

/// Recorded series names, shared by alerts, tests and dashboards.
pub(crate) mod names {
    /// Requests per second by route.
    pub(crate) const ROUTE_RATE: &str = "http_route:http_server_requests:rate5m";
    /// 5xx ratio by route.
    pub(crate) const ROUTE_ERRORS: &str = "http_route:http_server_requests_errors:ratio_rate5m";
    /// Requests per second, whole service.
    pub(crate) const SERVICE_RATE: &str = "service:http_server_requests:rate5m";
    /// 5xx ratio, whole service.
    pub(crate) const SERVICE_ERRORS: &str = "service:http_server_requests_errors:ratio_rate5m";
    /// p95 latency, whole service.
    pub(crate) const SERVICE_P95: &str = "service:http_server_request_duration_seconds:p95_rate5m";
    /// Cache hit ratio by key prefix.
    pub(crate) const CACHE_HIT: &str = "cache_key_prefix:sdk_cache_requests_hit:ratio_rate5m";
    /// Pool connections in use over the pool maximum.
    pub(crate) const POOL_SATURATION: &str =
        "db_client_connection_pool_name:db_client_connection:saturation";
    /// Ratio of "poor" ratings by route and vital.
    pub(crate) const RUM_POOR: &str = "http_route:browser_web_vital_poor:ratio_rate5m";

    /// Latency quantile by route (`q` = 50, 90, 95, 99).
    pub(crate) fn route_quantile(q: u32) -> String {
        format!("http_route:http_server_request_duration_seconds:p{q}_rate5m")
    }
}

/// The quantiles recorded per route.
pub(crate) const QUANTILES: [u32; 4] = [50, 90, 95, 99];

fn rate(series_with_matchers: &str) -> String {
    format!("rate({series_with_matchers}[{RATE}])")
}

/// RED per route, and for the whole service (the second list: the signals the anomaly
/// bands watch, recorded in the band's own group when bands are on).
pub(crate) fn red(spec: &Spec) -> (Vec<Rule>, Vec<Rule>) {
    let route = label(http::ROUTE);
    let status = label(http::RESPONSE_STATUS_CODE);
    let sel = matchers(&spec.selector, &[]);
    let errors_sel = matchers(&spec.selector, &[(status, "=~", "5..".into())]);
    let count = series(&HTTP_SERVER_REQUEST_DURATION, "_count");
    let bucket = series(&HTTP_SERVER_REQUEST_DURATION, "_bucket");
    let total = |by: &[&str]| sum_by(by, &rate(&format!("{count}{sel}")));
    let errors = |by: &[&str]| sum_by(by, &rate(&format!("{count}{errors_sel}")));
    let quantile = |q: u32, by: &[&str]| {
        let mut with_le = vec!["le"];
        with_le.extend_from_slice(by);
        format!(
            "histogram_quantile({}, {})\nand on ({}) ({} > 0)",
            f64::from(q) / 100.0,
            sum_by(&with_le, &rate(&format!("{bucket}{sel}"))),
            by.join(", "),
            total(by)
        )
    };
    let by_route = [route.as_str()];
    let mut rules = vec![
        Rule::record(names::ROUTE_RATE, total(&by_route)),
        Rule::record(
            names::ROUTE_ERRORS,
            guarded_ratio(&errors(&by_route), &total(&by_route)),
        ),
    ];
    rules.extend(
        QUANTILES
            .iter()
            .map(|q| Rule::record(names::route_quantile(*q), quantile(*q, &by_route))),
    );
    let service = vec![
        Rule::record(names::SERVICE_RATE, total(&[])),
        Rule::record(
            names::SERVICE_ERRORS,
            guarded_ratio(&errors(&[]), &total(&[])),
        ),
        Rule::record(
            names::SERVICE_P95,
            format!(
                "histogram_quantile(0.95, {})\nand ({} > 0)",
                sum_by(&["le"], &rate(&format!("{bucket}{sel}"))),
                total(&[])
            ),
        ),
    ];
    (rules, service)
}

/// Database query latency by operation, pool saturation; cache hit ratio; web-vital
/// p75s and poor ratings by route.
pub(crate) fn dependencies(spec: &Spec) -> Group {
    let sel = matchers(&spec.selector, &[]);
    let pool = label(db::CLIENT_CONNECTION_POOL_NAME);
    let state = label(db::CLIENT_CONNECTION_STATE);
    let op = label(db::OPERATION_NAME);
    let table = label(db::COLLECTION_NAME);
    let system = label(db::SYSTEM_NAME);
    let prefix = label(cache::KEY_PREFIX);
    let result = label(cache::RESULT);
    let route = label(http::ROUTE);
    let vital = label(browser::WEB_VITAL_NAME);
    let rating = label(browser::WEB_VITAL_RATING);

    let db_bucket = series(&DB_CLIENT_OPERATION_DURATION, "_bucket");
    let db_count = series(&DB_CLIENT_OPERATION_DURATION, "_count");
    let db_by = [system.as_str(), op.as_str(), table.as_str()];
    let mut rules = vec![Rule::record(
        "db_operation:db_client_operation_duration_seconds:p95_rate5m",
        format!(
            "histogram_quantile(0.95, {})\nand on ({}) ({} > 0)",
            sum_by(
                &["le", &system, &op, &table],
                &rate(&format!("{db_bucket}{sel}"))
            ),
            db_by.join(", "),
            sum_by(&db_by, &rate(&format!("{db_count}{sel}")))
        ),
    )];
    let used = matchers(&spec.selector, &[(state, "=", "used".into())]);
    rules.push(Rule::record(
        names::POOL_SATURATION,
        format!(
            "{}\n/\n({} > 0)",
            sum_by(
                &[&pool],
                &format!("{}{used}", DB_CLIENT_CONNECTION_COUNT.prometheus_name())
            ),
            sum_by(
                &[&pool],
                &format!("{}{sel}", DB_CLIENT_CONNECTION_MAX.prometheus_name())
            )
        ),
    ));

    let cache_total = series(&CACHE_REQUESTS, "");
    let hits = matchers(&spec.selector, &[(result, "=", "hit".into())]);
    rules.push(Rule::record(
        names::CACHE_HIT,
        guarded_ratio(
            &sum_by(&[&prefix], &rate(&format!("{cache_total}{hits}"))),
            &sum_by(&[&prefix], &rate(&format!("{cache_total}{sel}"))),
        ),
    ));

    for (def, record) in [
        (
            &BROWSER_WEB_VITAL_DURATION,
            "http_route:browser_web_vital_duration_seconds:p75_rate5m",
        ),
        (
            &BROWSER_WEB_VITAL_CLS,
            "http_route:browser_web_vital_cls:p75_rate5m",
        ),
    ] {
        let bucket = series(def, "_bucket");
        let count = series(def, "_count");
        rules.push(Rule::record(
            record,
            format!(
                "histogram_quantile(0.75, {})\nand on ({route}, {vital}) ({} > 0)",
                sum_by(&["le", &route, &vital], &rate(&format!("{bucket}{sel}"))),
                sum_by(&[&route, &vital], &rate(&format!("{count}{sel}")))
            ),
        ));
    }
    let poor = matchers(&spec.selector, &[(rating, "=", "poor".into())]);
    let counts = |m: &str| {
        format!(
            "{}\nor\n{}",
            sum_by(
                &[&route, &vital],
                &rate(&format!(
                    "{}{m}",
                    series(&BROWSER_WEB_VITAL_DURATION, "_count")
                ))
            ),
            sum_by(
                &[&route, &vital],
                &rate(&format!("{}{m}", series(&BROWSER_WEB_VITAL_CLS, "_count")))
            )
        )
    };
    rules.push(Rule::record(
        names::RUM_POOR,
        guarded_ratio(&counts(&poor), &counts(&sel)),
    ));
    group(spec, "dependencies", rules)
}

/// A group named `sdk-<service>-<part>` whose recordings carry the service label.
pub(crate) fn group(spec: &Spec, part: &str, rules: Vec<Rule>) -> Group {
    Group {
        name: format!("sdk-{}-{part}", spec.service),
        rules: rules
            .into_iter()
            .map(|rule| {
                if rule.record.is_some() {
                    rule.with_label(SERVICE_LABEL, spec.service.clone())
                } else {
                    rule
                }
            })
            .collect(),
    }
}
