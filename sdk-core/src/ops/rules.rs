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

/// Recorded series names, shared by alerts, tests and dashboards. Like sloth's, they
/// carry the rate window they were computed over (`…:ratio_rate5m`).
pub(crate) struct Names(String);

impl Names {
    pub(crate) fn of(spec: &Spec) -> Self {
        Self(spec.rate_window.as_str().to_owned())
    }

    /// The rate window (`5m`).
    pub(crate) fn window(&self) -> &str {
        &self.0
    }

    /// Requests per second by route.
    pub(crate) fn route_rate(&self) -> String {
        format!("http_route:http_server_requests:rate{}", self.0)
    }
    /// 5xx ratio by route.
    pub(crate) fn route_errors(&self) -> String {
        format!(
            "http_route:http_server_requests_errors:ratio_rate{}",
            self.0
        )
    }
    /// Latency quantile by route (`q` = 50, 90, 95, 99).
    pub(crate) fn route_quantile(&self, q: u32) -> String {
        format!(
            "http_route:http_server_request_duration_seconds:p{q}_rate{}",
            self.0
        )
    }
    /// Requests per second, whole service.
    pub(crate) fn service_rate(&self) -> String {
        format!("service:http_server_requests:rate{}", self.0)
    }
    /// 5xx ratio, whole service.
    pub(crate) fn service_errors(&self) -> String {
        format!("service:http_server_requests_errors:ratio_rate{}", self.0)
    }
    /// p95 latency, whole service.
    pub(crate) fn service_p95(&self) -> String {
        format!(
            "service:http_server_request_duration_seconds:p95_rate{}",
            self.0
        )
    }
    /// Database p95 by system, operation and table.
    pub(crate) fn db_p95(&self) -> String {
        format!(
            "db_operation:db_client_operation_duration_seconds:p95_rate{}",
            self.0
        )
    }
    /// Cache hit ratio by key prefix.
    pub(crate) fn cache_hit(&self) -> String {
        format!(
            "cache_key_prefix:sdk_cache_requests_hit:ratio_rate{}",
            self.0
        )
    }
    /// Pool connections in use over the pool maximum (a gauge ratio: no window).
    pub(crate) fn pool_saturation(&self) -> String {
        "db_client_connection_pool_name:db_client_connection:saturation".to_owned()
    }
    /// Web-vital timing p75 by route and vital.
    pub(crate) fn vital_p75(&self) -> String {
        format!(
            "http_route:browser_web_vital_duration_seconds:p75_rate{}",
            self.0
        )
    }
    /// CLS p75 by route.
    pub(crate) fn cls_p75(&self) -> String {
        format!("http_route:browser_web_vital_cls:p75_rate{}", self.0)
    }
    /// Ratio of "poor" ratings by route and vital.
    pub(crate) fn rum_poor(&self) -> String {
        format!("http_route:browser_web_vital_poor:ratio_rate{}", self.0)
    }
}

/// The quantiles recorded per route.
pub(crate) const QUANTILES: [u32; 4] = [50, 90, 95, 99];

fn rate_over(window: &str) -> impl Fn(&str) -> String + '_ {
    move |series_with_matchers| format!("rate({series_with_matchers}[{window}])")
}

/// RED per route, and for the whole service (the second list: the signals the anomaly
/// bands watch, recorded in the band's own group when bands are on).
pub(crate) fn red(spec: &Spec) -> (Vec<Rule>, Vec<Rule>) {
    let n = Names::of(spec);
    let rate = rate_over(n.window());
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
        Rule::record(n.route_rate(), total(&by_route)),
        Rule::record(
            n.route_errors(),
            guarded_ratio(&errors(&by_route), &total(&by_route)),
        ),
    ];
    rules.extend(
        QUANTILES
            .iter()
            .map(|q| Rule::record(n.route_quantile(*q), quantile(*q, &by_route))),
    );
    let service = vec![
        Rule::record(n.service_rate(), total(&[])),
        Rule::record(n.service_errors(), guarded_ratio(&errors(&[]), &total(&[]))),
        Rule::record(
            n.service_p95(),
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
    let n = Names::of(spec);
    let rate = rate_over(n.window());
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
        n.db_p95(),
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
        n.pool_saturation(),
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
        n.cache_hit(),
        guarded_ratio(
            &sum_by(&[&prefix], &rate(&format!("{cache_total}{hits}"))),
            &sum_by(&[&prefix], &rate(&format!("{cache_total}{sel}"))),
        ),
    ));

    for (def, record) in [
        (&BROWSER_WEB_VITAL_DURATION, n.vital_p75()),
        (&BROWSER_WEB_VITAL_CLS, n.cls_p75()),
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
        n.rum_poor(),
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
