//! The service's Datadog dashboard (API v1, ordered layout): one group per section —
//! RED per route, database, cache, browser, SDK health, SLOs and the application's own
//! metrics — filtered by the `service` and `env` template variables.

use super::super::rules::QUANTILES;
use super::super::spec::Spec;
use super::query::{ENV_TAG, SERVICE_TAG, Scope, events, level, per_second, percentile};
use super::slo::slo_widgets;
use super::widgets::{
    alert_line, fraction, group, label, query_value, request, timeseries, toplist, unit,
};
use crate::catalogue::{
    self, BROWSER_ERRORS, BROWSER_WEB_VITAL_CLS, BROWSER_WEB_VITAL_DURATION, CACHE_FALLBACKS,
    CACHE_LOAD_DURATION, CACHE_REQUESTS, CALLBACK_PANICS, DB_CLIENT_CONNECTION_COUNT,
    DB_CLIENT_CONNECTION_MAX, DB_CLIENT_CONNECTION_PENDING_REQUESTS, DB_CLIENT_CONNECTION_TIMEOUTS,
    DB_CLIENT_CONNECTION_WAIT_TIME, DB_CLIENT_OPERATION_DURATION, DB_CLIENT_SLOW_QUERIES,
    EXPORTER_DROPPED, HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_REQUEST_DURATION, METRIC_OVERFLOW,
    MetricDef, MetricKind, OPERATION_CANCELLED, PROPAGATION_REJECTED, RUM_BEACONS_REJECTED,
};
use crate::rum::Rating;
use crate::semconv::{browser, cache, db, error, http, sdk};
use serde_json::{Value, json};

fn service(spec: &Spec, s: &Scope) -> Vec<Value> {
    let d = &HTTP_SERVER_REQUEST_DURATION;
    let route = [http::ROUTE];
    let errors = s.with(http::RESPONSE_STATUS_CODE, "5*");
    let thresholds = &spec.alerts;
    let mut latency = request(
        QUANTILES
            .iter()
            .map(|q| percentile(*q, d, s, &route))
            .collect(),
        unit(d, None),
    );
    for (i, q) in QUANTILES.iter().enumerate() {
        latency = latency.formula(format!("query{}", i + 1), &format!("p{q}"));
    }
    let error_ratio = |by: &[&str]| {
        request(vec![events(d, &errors, by), events(d, s, by)], fraction())
            .formula("default_zero(query1) / query2", "5xx ratio")
    };
    vec![
        query_value(
            "Requests per minute",
            "Requests answered per minute, all routes.",
            request(vec![per_second(d, s, &[])], label("request/min"))
                .formula("query1 * 60", "requests/min"),
            "avg",
            None,
            &[],
        ),
        query_value(
            "Error ratio",
            "Share of requests answered with a 5xx status, all routes.",
            error_ratio(&[]),
            "sum",
            None,
            &thresholds
                .error_ratio
                .map(|t| vec![(">", t, "white_on_red"), ("<=", t, "white_on_green")])
                .unwrap_or_default(),
        ),
        timeseries(
            "Throughput per route",
            "Requests answered per minute, by route.",
            vec![
                request(vec![per_second(d, s, &route)], label("request/min"))
                    .formula("query1 * 60", "requests/min"),
            ],
            Vec::new(),
        ),
        timeseries(
            "Error ratio per route",
            "Share of requests answered with a 5xx status, by route.",
            vec![error_ratio(&route)],
            alert_line(thresholds.error_ratio, "error", "alert threshold"),
        ),
        timeseries(
            "Latency per route",
            "p50, p90, p95 and p99 of request duration, by route.",
            vec![latency],
            alert_line(thresholds.latency_p95, "warning", "p95 alert threshold"),
        ),
        toplist(
            "Slowest routes (p95)",
            "Routes by p95 request duration over the time frame.",
            request(vec![percentile(95, d, s, &route)], unit(d, None)).each(&["p95"]),
            "avg",
        ),
        timeseries(
            "Requests by status",
            "Requests per minute by status code.",
            vec![
                request(
                    vec![per_second(d, s, &[http::RESPONSE_STATUS_CODE])],
                    label("request/min"),
                )
                .formula("query1 * 60", "requests/min")
                .bars(),
            ],
            Vec::new(),
        ),
        timeseries(
            "Active requests",
            HTTP_SERVER_ACTIVE_REQUESTS.description,
            vec![
                request(
                    vec![level(
                        &HTTP_SERVER_ACTIVE_REQUESTS,
                        s,
                        &[http::REQUEST_METHOD],
                    )],
                    unit(&HTTP_SERVER_ACTIVE_REQUESTS, None),
                )
                .each(&["active"]),
            ],
            Vec::new(),
        ),
    ]
}

fn database(spec: &Spec, s: &Scope) -> Vec<Value> {
    let d = &DB_CLIENT_OPERATION_DURATION;
    let op = [db::SYSTEM_NAME, db::OPERATION_NAME, db::COLLECTION_NAME];
    let pool = [db::CLIENT_CONNECTION_POOL_NAME];
    let used = s.with(db::CLIENT_CONNECTION_STATE, "used");
    vec![
        timeseries(
            "Query latency by operation",
            "p50, p95 and p99 of database operation duration by system, operation and table.",
            vec![
                request(
                    [50, 95, 99]
                        .iter()
                        .map(|q| percentile(*q, d, s, &op))
                        .collect(),
                    unit(d, None),
                )
                .each(&["p50", "p95", "p99"]),
            ],
            Vec::new(),
        ),
        timeseries(
            "Queries per second",
            "Database operations per second by operation and table.",
            vec![request(vec![per_second(d, s, &op)], label("query/s")).each(&["queries/s"])],
            Vec::new(),
        ),
        timeseries(
            "Query errors",
            "Database operations that failed, by operation and error type.",
            vec![
                request(
                    vec![events(
                        d,
                        &s.with(error::TYPE, "*"),
                        &[db::OPERATION_NAME, error::TYPE],
                    )],
                    label("query"),
                )
                .each(&["errors"])
                .bars(),
            ],
            Vec::new(),
        ),
        timeseries(
            "Slow queries",
            DB_CLIENT_SLOW_QUERIES.description,
            vec![
                request(
                    vec![per_second(&DB_CLIENT_SLOW_QUERIES, s, &op)],
                    unit(&DB_CLIENT_SLOW_QUERIES, Some("s")),
                )
                .each(&["slow queries/s"]),
            ],
            alert_line(
                spec.alerts.slow_queries_per_second,
                "warning",
                "alert threshold",
            ),
        ),
        timeseries(
            "Pool connections",
            "Connections in use, the pool maximum and requests waiting for a connection, by pool.",
            vec![
                request(
                    vec![
                        level(&DB_CLIENT_CONNECTION_COUNT, &used, &pool),
                        level(&DB_CLIENT_CONNECTION_MAX, s, &pool),
                        level(&DB_CLIENT_CONNECTION_PENDING_REQUESTS, s, &pool),
                    ],
                    label("connection"),
                )
                .each(&["used", "max", "pending"]),
            ],
            Vec::new(),
        ),
        timeseries(
            "Pool timeouts",
            DB_CLIENT_CONNECTION_TIMEOUTS.description,
            vec![
                request(
                    vec![events(&DB_CLIENT_CONNECTION_TIMEOUTS, s, &pool)],
                    unit(&DB_CLIENT_CONNECTION_TIMEOUTS, None),
                )
                .each(&["timeouts"])
                .bars(),
            ],
            Vec::new(),
        ),
        timeseries(
            "Connection wait p95",
            DB_CLIENT_CONNECTION_WAIT_TIME.description,
            vec![
                request(
                    vec![percentile(95, &DB_CLIENT_CONNECTION_WAIT_TIME, s, &pool)],
                    unit(&DB_CLIENT_CONNECTION_WAIT_TIME, None),
                )
                .each(&["p95"]),
            ],
            Vec::new(),
        ),
    ]
}

fn cache_widgets(spec: &Spec, s: &Scope) -> Vec<Value> {
    let prefix = [cache::KEY_PREFIX];
    let hits = s.with(cache::RESULT, cache::HIT);
    vec![
        timeseries(
            "Hit ratio",
            "Cache lookups that hit, by key prefix.",
            vec![
                request(
                    vec![
                        events(&CACHE_REQUESTS, &hits, &prefix),
                        events(&CACHE_REQUESTS, s, &prefix),
                    ],
                    fraction(),
                )
                .formula("default_zero(query1) / query2", "hit ratio"),
            ],
            alert_line(spec.alerts.cache_hit_ratio, "warning", "alert threshold"),
        ),
        timeseries(
            "Lookups by result",
            CACHE_REQUESTS.description,
            vec![
                request(
                    vec![per_second(
                        &CACHE_REQUESTS,
                        s,
                        &[cache::KEY_PREFIX, cache::RESULT],
                    )],
                    unit(&CACHE_REQUESTS, Some("s")),
                )
                .each(&["lookups/s"]),
            ],
            Vec::new(),
        ),
        timeseries(
            "Cache command latency p95",
            "p95 of cache server command duration by command.",
            vec![
                request(
                    vec![percentile(
                        95,
                        &DB_CLIENT_OPERATION_DURATION,
                        &s.with(db::SYSTEM_NAME, db::system::REDIS),
                        &[db::OPERATION_NAME],
                    )],
                    unit(&DB_CLIENT_OPERATION_DURATION, None),
                )
                .each(&["p95"]),
            ],
            Vec::new(),
        ),
        timeseries(
            "Load time p95 after a miss",
            CACHE_LOAD_DURATION.description,
            vec![
                request(
                    vec![percentile(95, &CACHE_LOAD_DURATION, s, &prefix)],
                    unit(&CACHE_LOAD_DURATION, None),
                )
                .each(&["p95"]),
            ],
            Vec::new(),
        ),
        timeseries(
            "Fallbacks",
            CACHE_FALLBACKS.description,
            vec![
                request(
                    vec![events(&CACHE_FALLBACKS, s, &prefix)],
                    unit(&CACHE_FALLBACKS, None),
                )
                .each(&["fallbacks"])
                .bars(),
            ],
            Vec::new(),
        ),
    ]
}

fn browser_widgets(spec: &Spec, s: &Scope) -> Vec<Value> {
    let timing = &BROWSER_WEB_VITAL_DURATION;
    let cls = &BROWSER_WEB_VITAL_CLS;
    let by_route = [http::ROUTE, browser::WEB_VITAL_NAME];
    let by_rating = [browser::WEB_VITAL_NAME, browser::WEB_VITAL_RATING];
    let poor = s.with(browser::WEB_VITAL_RATING, Rating::Poor.as_str());
    let p75 = |def: &MetricDef, by: &[&str]| {
        request(vec![percentile(75, def, s, by)], unit(def, None)).each(&["p75"])
    };
    vec![
        timeseries(
            "Web vitals p75 by route",
            "p75 of LCP, INP, FCP, TTFB and FID by route.",
            vec![p75(timing, &by_route)],
            Vec::new(),
        ),
        timeseries(
            "CLS p75 by route",
            "p75 of Cumulative Layout Shift by route.",
            vec![p75(cls, &by_route)],
            Vec::new(),
        ),
        toplist(
            "Web vitals p75 by rating",
            "p75 of each web vital within each rating (good, needs-improvement, poor).",
            p75(timing, &by_rating),
            "avg",
        ),
        timeseries(
            "Reports by rating",
            "Web-vital reports by vital and rating.",
            vec![
                request(
                    vec![events(timing, s, &by_rating), events(cls, s, &by_rating)],
                    label("report"),
                )
                .each(&["timings", "CLS"])
                .bars(),
            ],
            Vec::new(),
        ),
        timeseries(
            "Poor ratings",
            "Share of web-vital reports rated poor, by route and vital.",
            [timing, cls]
                .into_iter()
                .map(|def| {
                    request(
                        vec![events(def, &poor, &by_route), events(def, s, &by_route)],
                        fraction(),
                    )
                    .formula("default_zero(query1) / query2", "poor ratio")
                })
                .collect(),
            alert_line(spec.alerts.rum_poor_ratio, "warning", "alert threshold"),
        ),
        timeseries(
            "Browser errors",
            BROWSER_ERRORS.description,
            vec![
                request(
                    vec![events(&BROWSER_ERRORS, s, &[http::ROUTE, error::TYPE])],
                    unit(&BROWSER_ERRORS, None),
                )
                .each(&["errors"])
                .bars(),
            ],
            Vec::new(),
        ),
        timeseries(
            "Rejected beacons",
            RUM_BEACONS_REJECTED.description,
            vec![
                request(
                    vec![events(&RUM_BEACONS_REJECTED, s, &[sdk::REASON])],
                    unit(&RUM_BEACONS_REJECTED, None),
                )
                .each(&["rejected"])
                .bars(),
            ],
            Vec::new(),
        ),
    ]
}

fn sdk_health(s: &Scope) -> Vec<Value> {
    [
        (
            "Dropped telemetry",
            &EXPORTER_DROPPED,
            &[sdk::SIGNAL, sdk::EXPORTER, sdk::REASON][..],
        ),
        ("Cardinality overflow", &METRIC_OVERFLOW, &[sdk::METRIC][..]),
        (
            "Rejected trace-context headers",
            &PROPAGATION_REJECTED,
            &[sdk::PROPAGATOR][..],
        ),
        (
            "Cancelled operations",
            &OPERATION_CANCELLED,
            &[sdk::OPERATION][..],
        ),
        ("Callback panics", &CALLBACK_PANICS, &[sdk::CALLBACK][..]),
    ]
    .into_iter()
    .map(|(title, def, by)| {
        timeseries(
            title,
            def.description,
            vec![
                request(vec![events(def, s, by)], unit(def, None))
                    .each(&[title])
                    .bars(),
            ],
            Vec::new(),
        )
    })
    .collect()
}

/// One widget per application metric, chosen by its kind.
fn application(s: &Scope) -> Vec<Value> {
    catalogue::application()
        .into_iter()
        .map(|def| {
            let by = def.labels;
            let r = match def.kind {
                MetricKind::Counter => request(vec![per_second(def, s, by)], unit(def, Some("s")))
                    .each(&["per second"]),
                MetricKind::Gauge | MetricKind::UpDownCounter => {
                    request(vec![level(def, s, by)], unit(def, None)).each(&["value"])
                }
                MetricKind::Histogram => request(
                    [50, 95, 99]
                        .iter()
                        .map(|q| percentile(*q, def, s, by))
                        .collect(),
                    unit(def, None),
                )
                .each(&["p50", "p95", "p99"]),
            };
            timeseries(def.name, def.description, vec![r], Vec::new())
        })
        .collect()
}

fn template_variable(name: &str, default: &str) -> Value {
    json!({"name": name, "prefix": name, "defaults": [default]})
}

/// The dashboard of `spec`'s service.
pub(crate) fn dashboard(spec: &Spec) -> Value {
    let s = Scope::variables();
    let mut groups = vec![
        group("Service (RED)", service(spec, &s)),
        group("Database", database(spec, &s)),
        group("Cache", cache_widgets(spec, &s)),
        group("Browser", browser_widgets(spec, &s)),
        group("SDK health", sdk_health(&s)),
    ];
    if !spec.slos.is_empty() {
        groups.push(group(
            "SLOs",
            spec.slos
                .iter()
                .flat_map(|slo| slo_widgets(spec, &s, slo))
                .collect(),
        ));
    }
    let app = application(&s);
    if !app.is_empty() {
        groups.push(group("Application", app));
    }
    json!({
        "title": format!("{} (SDK)", spec.service),
        "description": format!(
            "Requests, dependencies, browsers, the SDK's own health and the SLOs of {}, from the metrics the SDK sends to DogStatsD. Generated by sdk-core ops from the SLO spec and the metric catalogue: change the spec and regenerate.",
            spec.service
        ),
        "layout_type": "ordered",
        "reflow_type": "auto",
        "template_variables": [
            template_variable(SERVICE_TAG, &spec.service),
            template_variable(ENV_TAG, "*"),
        ],
        "widgets": groups,
    })
}
