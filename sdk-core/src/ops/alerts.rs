//! Symptom alerts read from the catalogue's metrics — latency, errors, cache, pool,
//! slow queries, browser ratings, the SDK's own drops and overflow — each with the
//! scenarios its generated `promtool` test runs.

use super::promql::{label, matchers, num, series, sum_by};
use super::rules::{Names, Rule, SERVICE_LABEL};
use super::runbook::Triage;
use super::spec::{Spec, Window};
use super::tests::{Series, counter, gauge};
use crate::catalogue::{
    BROWSER_WEB_VITAL_DURATION, CACHE_REQUESTS, DB_CLIENT_CONNECTION_COUNT,
    DB_CLIENT_CONNECTION_MAX, DB_CLIENT_CONNECTION_PENDING_REQUESTS, DB_CLIENT_CONNECTION_TIMEOUTS,
    DB_CLIENT_SLOW_QUERIES, EXPORTER_DROPPED, HTTP_SERVER_REQUEST_DURATION, METRIC_OVERFLOW,
};
use crate::semconv::{browser, cache, db, http, sdk};
use std::collections::BTreeMap;

/// Inputs under which an alert fires, and the labels its expression yields then.
pub(crate) struct Scenario {
    pub(crate) series: Vec<Series>,
    pub(crate) labels: BTreeMap<String, String>,
}

/// An alerting rule with its test scenarios.
pub(crate) struct Alert {
    pub(crate) rule: Rule,
    pub(crate) fire: Scenario,
    pub(crate) quiet: Vec<Series>,
    pub(crate) zero: Vec<Series>,
    /// When the scenarios are judged, seconds from their start.
    pub(crate) eval_seconds: u64,
    /// Seconds between input samples and rule evaluations in the test (long windows
    /// are tested at a coarser step, short ones at a finer; the test files are grouped
    /// by it).
    pub(crate) every_seconds: u64,
    /// What the runbook's section says of it (every generated alert has one).
    pub(crate) triage: Option<Triage>,
}

impl Alert {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        spec: &Spec,
        name: &str,
        expr: String,
        for_: Option<&Window>,
        severity: &str,
        summary: String,
        description: String,
        fire: Scenario,
        quiet: Vec<Series>,
        zero: Vec<Series>,
        eval_seconds: u64,
    ) -> Self {
        let mut labels = spec.labels.clone();
        labels.insert("severity".into(), severity.into());
        let annotations = BTreeMap::from([
            ("summary".to_owned(), summary),
            ("description".to_owned(), description),
            (
                "runbook_url".to_owned(),
                format!("{}#{}", spec.runbook_url, name.to_lowercase()),
            ),
        ]);
        Self {
            rule: Rule {
                alert: Some(name.to_owned()),
                expr,
                for_: for_.map(|w| w.as_str().to_owned()),
                labels,
                annotations,
                ..Rule::default()
            },
            fire,
            quiet,
            zero,
            eval_seconds,
            every_seconds: spec_step(spec),
            triage: None,
        }
    }

    /// The board and first checks of the alert's runbook section.
    pub(crate) const fn triage(mut self, triage: Triage) -> Self {
        self.triage = Some(triage);
        self
    }
}

/// The test step of the symptom alerts: a minute, or a quarter of a shorter rate window.
fn spec_step(spec: &Spec) -> u64 {
    (spec.rate_window.seconds() / 4).clamp(1, 60)
}

/// `requests-availability` → `RequestsAvailability`.
pub(crate) fn camel(name: &str) -> String {
    name.split(['-', '_', '.'])
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

pub(crate) fn labels_of(spec: &Spec, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = spec.selector.clone().into_iter().collect();
    labels.extend(extra.iter().map(|(k, v)| (label(k), (*v).to_owned())));
    labels
}

pub(crate) fn expected(extra: &[(&str, &str)], service: Option<&str>) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = extra
        .iter()
        .map(|(k, v)| (label(k), (*v).to_owned()))
        .collect();
    if let Some(service) = service {
        labels.insert(SERVICE_LABEL.into(), service.into());
    }
    labels
}

/// The symptom alerts the spec's thresholds ask for.
pub(crate) fn symptom_alerts(spec: &Spec) -> Vec<Alert> {
    let t = &spec.alerts;
    let svc = format!("{{{SERVICE_LABEL}=\"{}\"}}", spec.service);
    let prefix = camel(&spec.service);
    let for_ = Some(&t.for_);
    let eval = spec.rate_window.seconds() + t.for_.seconds() + 300;
    let sel = matchers(&spec.selector, &[]);
    let n = Names::of(spec);
    let w = n.window();
    let mut alerts = Vec::new();

    if let Some(threshold) = t.latency_p95 {
        let route = [(http::ROUTE, "/")];
        let count = series(&HTTP_SERVER_REQUEST_DURATION, "_count");
        let bucket = series(&HTTP_SERVER_REQUEST_DURATION, "_bucket");
        let buckets = HTTP_SERVER_REQUEST_DURATION.buckets;
        // Slow: every request in the first bucket whose lower bound reaches the threshold
        // (the spec check keeps that bucket finite).
        let slow_from = buckets
            .iter()
            .position(|b| *b >= threshold)
            .unwrap_or(buckets.len());
        let histogram = |per_minute: f64, first_filled: usize| {
            let mut s = vec![counter(&count, &labels_of(spec, &route), per_minute)];
            for (i, le) in buckets
                .iter()
                .map(f64::to_string)
                .chain(["+Inf".to_owned()])
                .enumerate()
            {
                let mut l = labels_of(spec, &route);
                l.push(("le".into(), le));
                let filled = if i >= first_filled { per_minute } else { 0.0 };
                s.push(counter(&bucket, &l, filled));
            }
            s
        };
        alerts.push(
            Alert::new(
                spec,
                &format!("{prefix}HighLatencyP95"),
                format!("{}{svc} > {}", n.route_quantile(95), num(threshold)),
                for_,
                "warning",
                format!("{} {{{{ $labels.http_route }}}} is slow", spec.service),
                format!(
                    "p95 latency of {{{{ $labels.http_route }}}} has been over {} s for {}.",
                    num(threshold),
                    t.for_.as_str()
                ),
                Scenario {
                    series: histogram(60.0, slow_from + 1),
                    labels: expected(&route, Some(&spec.service)),
                },
                histogram(60.0, 0),
                histogram(0.0, 0),
                eval,
            )
            .triage(Triage::Latency),
        );
    }

    if let Some(threshold) = t.error_ratio {
        let count = series(&HTTP_SERVER_REQUEST_DURATION, "_count");
        let traffic = |per_minute: f64, share: f64| {
            let with = |status: &str| {
                labels_of(
                    spec,
                    &[(http::ROUTE, "/"), (http::RESPONSE_STATUS_CODE, status)],
                )
            };
            vec![
                counter(&count, &with("200"), per_minute * (1.0 - share)),
                counter(&count, &with("500"), per_minute * share),
            ]
        };
        alerts.push(Alert::new(
            spec,
            &format!("{prefix}HighErrorRatio"),
            format!("{}{svc} > {}", n.route_errors(), num(threshold)),
            for_,
            "critical",
            format!("{} {{{{ $labels.http_route }}}} answers with server errors", spec.service),
            format!(
                "More than {} % of the requests to {{{{ $labels.http_route }}}} have failed with a 5xx status for {}.",
                num(threshold * 100.0),
                t.for_.as_str()
            ),
            Scenario {
                series: traffic(60.0, (1.0 + threshold) / 2.0),
                labels: expected(&[(http::ROUTE, "/")], Some(&spec.service)),
            },
            traffic(60.0, threshold / 2.0),
            traffic(0.0, 0.0),
            eval,
        ).triage(Triage::Errors));
    }

    if let Some(threshold) = t.cache_hit_ratio {
        let name = series(&CACHE_REQUESTS, "");
        let lookups = |per_minute: f64, hits: f64| {
            let with = |result: &str| {
                labels_of(
                    spec,
                    &[(cache::KEY_PREFIX, "user:"), (cache::RESULT, result)],
                )
            };
            vec![
                counter(&name, &with("hit"), per_minute * hits),
                counter(&name, &with("miss"), per_minute * (1.0 - hits)),
            ]
        };
        alerts.push(Alert::new(
            spec,
            &format!("{prefix}CacheHitRatioLow"),
            format!("{}{svc} < {}", n.cache_hit(), num(threshold)),
            for_,
            "warning",
            format!("{} cache prefix {{{{ $labels.cache_key_prefix }}}} mostly misses", spec.service),
            format!(
                "Fewer than {} % of the lookups under the key prefix {{{{ $labels.cache_key_prefix }}}} have hit for {}: the database takes the load.",
                num(threshold * 100.0),
                t.for_.as_str()
            ),
            Scenario {
                series: lookups(60.0, threshold / 2.0),
                labels: expected(&[(cache::KEY_PREFIX, "user:")], Some(&spec.service)),
            },
            lookups(60.0, (1.0 + threshold) / 2.0),
            lookups(0.0, 0.0),
            eval,
        ).triage(Triage::CacheHits));
    }

    // Pool exhaustion: every connection in use and requests waiting.
    let pool = [(db::CLIENT_CONNECTION_POOL_NAME, "main")];
    let pool_label = label(db::CLIENT_CONNECTION_POOL_NAME);
    let pool_state = |used: f64, max: f64, pending: f64| {
        let mut used_labels = labels_of(spec, &pool);
        used_labels.push((label(db::CLIENT_CONNECTION_STATE), "used".into()));
        vec![
            gauge(
                &DB_CLIENT_CONNECTION_COUNT.prometheus_name(),
                &used_labels,
                used,
            ),
            gauge(
                &DB_CLIENT_CONNECTION_MAX.prometheus_name(),
                &labels_of(spec, &pool),
                max,
            ),
            gauge(
                &DB_CLIENT_CONNECTION_PENDING_REQUESTS.prometheus_name(),
                &labels_of(spec, &pool),
                pending,
            ),
        ]
    };
    alerts.push(Alert::new(
        spec,
        &format!("{prefix}DbPoolExhausted"),
        format!(
            "{}{svc} >= 1\nand on ({pool_label})\n{} > 0",
            n.pool_saturation(),
            sum_by(
                &[&pool_label],
                &format!("{}{sel}", DB_CLIENT_CONNECTION_PENDING_REQUESTS.prometheus_name())
            )
        ),
        for_,
        "critical",
        format!("{} pool {{{{ $labels.{pool_label} }}}} is exhausted", spec.service),
        format!(
            "Every connection of the pool {{{{ $labels.{pool_label} }}}} has been in use with requests waiting for {}.",
            t.for_.as_str()
        ),
        Scenario {
            series: pool_state(5.0, 5.0, 3.0),
            labels: expected(&pool, Some(&spec.service)),
        },
        pool_state(2.0, 5.0, 0.0),
        pool_state(0.0, 5.0, 0.0),
        eval,
    ).triage(Triage::PoolExhausted));

    let per_minute_counter =
        |def: &crate::catalogue::MetricDef, extra: &[(&str, &str)], per_minute: f64| {
            vec![counter(
                &def.prometheus_name(),
                &labels_of(spec, extra),
                per_minute,
            )]
        };
    alerts.push(Alert::new(
        spec,
        &format!("{prefix}DbPoolTimeouts"),
        format!(
            "{} > 0",
            sum_by(
                &[&pool_label],
                &format!(
                    "increase({}{sel}[{w}])",
                    DB_CLIENT_CONNECTION_TIMEOUTS.prometheus_name()
                )
            )
        ),
        None,
        "critical",
        format!("{} pool {{{{ $labels.{pool_label} }}}} times out", spec.service),
        format!(
            "Requests have timed out waiting for a connection of the pool {{{{ $labels.{pool_label} }}}} in the last {w}."
        ),
        Scenario {
            series: per_minute_counter(&DB_CLIENT_CONNECTION_TIMEOUTS, &pool, 1.0),
            labels: expected(&pool, None),
        },
        per_minute_counter(&DB_CLIENT_CONNECTION_TIMEOUTS, &pool, 0.0),
        per_minute_counter(&DB_CLIENT_CONNECTION_TIMEOUTS, &pool, 0.0),
        eval,
    ).triage(Triage::PoolTimeouts));

    if let Some(threshold) = t.slow_queries_per_second {
        let query = [
            (db::SYSTEM_NAME, "postgresql"),
            (db::OPERATION_NAME, "SELECT"),
            (db::COLLECTION_NAME, "users"),
        ];
        let by: Vec<String> = query.iter().map(|(k, _)| label(k)).collect();
        let by: Vec<&str> = by.iter().map(String::as_str).collect();
        alerts.push(Alert::new(
            spec,
            &format!("{prefix}SlowQueries"),
            format!(
                "{} > {}",
                sum_by(
                    &by,
                    &format!("rate({}{sel}[{w}])", DB_CLIENT_SLOW_QUERIES.prometheus_name())
                ),
                num(threshold)
            ),
            for_,
            "warning",
            format!(
                "{} runs slow {{{{ $labels.db_operation_name }}}} queries on {{{{ $labels.db_collection_name }}}}",
                spec.service
            ),
            format!(
                "More than {} slow {{{{ $labels.db_operation_name }}}} queries per second on {{{{ $labels.db_collection_name }}}} ({{{{ $labels.db_system_name }}}}) for {}.",
                num(threshold),
                t.for_.as_str()
            ),
            Scenario {
                series: per_minute_counter(&DB_CLIENT_SLOW_QUERIES, &query, threshold * 120.0),
                labels: expected(&query, None),
            },
            per_minute_counter(&DB_CLIENT_SLOW_QUERIES, &query, threshold * 30.0),
            per_minute_counter(&DB_CLIENT_SLOW_QUERIES, &query, 0.0),
            eval,
        ).triage(Triage::SlowQueries));
    }

    if let Some(threshold) = t.rum_poor_ratio {
        let count = series(&BROWSER_WEB_VITAL_DURATION, "_count");
        let page = [(http::ROUTE, "/"), (browser::WEB_VITAL_NAME, "LCP")];
        let ratings = |per_minute: f64, poor: f64| {
            let with = |rating: &str| {
                let mut l = labels_of(spec, &page);
                l.push((label(browser::WEB_VITAL_RATING), rating.into()));
                l
            };
            vec![
                counter(&count, &with("good"), per_minute * (1.0 - poor)),
                counter(&count, &with("poor"), per_minute * poor),
            ]
        };
        alerts.push(Alert::new(
            spec,
            &format!("{prefix}RumPoorRatings"),
            format!("{}{svc} > {}", n.rum_poor(), num(threshold)),
            for_,
            "warning",
            format!(
                "{} pages {{{{ $labels.http_route }}}} have poor {{{{ $labels.browser_web_vital_name }}}}",
                spec.service
            ),
            format!(
                "More than {} % of the {{{{ $labels.browser_web_vital_name }}}} reports from {{{{ $labels.http_route }}}} have been rated poor for {}.",
                num(threshold * 100.0),
                t.for_.as_str()
            ),
            Scenario {
                series: ratings(60.0, (1.0 + threshold) / 2.0),
                labels: expected(&page, Some(&spec.service)),
            },
            ratings(60.0, threshold / 2.0),
            ratings(0.0, 0.0),
            eval,
        ).triage(Triage::WebVitals));
    }

    let dropped = [
        (sdk::SIGNAL, "traces"),
        (sdk::EXPORTER, "otlp"),
        (sdk::REASON, "export_failed"),
    ];
    let by: Vec<String> = dropped.iter().map(|(k, _)| label(k)).collect();
    let by: Vec<&str> = by.iter().map(String::as_str).collect();
    alerts.push(Alert::new(
        spec,
        &format!("{prefix}TelemetryDropped"),
        format!(
            "{} > 0",
            sum_by(&by, &format!("rate({}{sel}[{w}])", EXPORTER_DROPPED.prometheus_name()))
        ),
        for_,
        "warning",
        format!(
            "{} drops {{{{ $labels.sdk_signal }}}} at the {{{{ $labels.sdk_exporter }}}} exporter",
            spec.service
        ),
        "The SDK has been dropping {{ $labels.sdk_signal }} bound for {{ $labels.sdk_exporter }} ({{ $labels.sdk_reason }}): the collector or agent is down, slow or refusing.".to_owned(),
        Scenario {
            series: per_minute_counter(&EXPORTER_DROPPED, &dropped, 10.0),
            labels: expected(&dropped, None),
        },
        per_minute_counter(&EXPORTER_DROPPED, &dropped, 0.0),
        per_minute_counter(&EXPORTER_DROPPED, &dropped, 0.0),
        eval,
    ).triage(Triage::TelemetryDropped));

    let metric = [(sdk::METRIC, "http.server.request.duration")];
    alerts.push(Alert::new(
        spec,
        &format!("{prefix}MetricCardinalityOverflow"),
        format!(
            "{} > 0",
            sum_by(
                &[&label(sdk::METRIC)],
                &format!("rate({}{sel}[{w}])", METRIC_OVERFLOW.prometheus_name())
            )
        ),
        for_,
        "warning",
        format!("{} metric {{{{ $labels.sdk_metric }}}} hit its series ceiling", spec.service),
        "New label combinations of {{ $labels.sdk_metric }} are folded into its overflow series: a label carries unbounded values (ids, raw paths).".to_owned(),
        Scenario {
            series: per_minute_counter(&METRIC_OVERFLOW, &metric, 10.0),
            labels: expected(&metric, None),
        },
        per_minute_counter(&METRIC_OVERFLOW, &metric, 0.0),
        per_minute_counter(&METRIC_OVERFLOW, &metric, 0.0),
        eval,
    ).triage(Triage::CardinalityOverflow));
    alerts
}
