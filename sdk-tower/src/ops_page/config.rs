//! What the page's script reads from the page: the catalogue's Prometheus names, label keys
//! as the Prometheus exporter writes them, the label values it compares against, the web
//! vitals and their ratings, and the spec's SLOs. Serialized as JSON into the HTML.

use super::MIN_REFRESH;
use sdk_core::catalogue::{
    BROWSER_WEB_VITAL_CLS, BROWSER_WEB_VITAL_DURATION, CACHE_FALLBACKS, CACHE_REQUESTS,
    DB_CLIENT_CONNECTION_COUNT, DB_CLIENT_CONNECTION_MAX, DB_CLIENT_CONNECTION_PENDING_REQUESTS,
    DB_CLIENT_CONNECTION_TIMEOUTS, DB_CLIENT_OPERATION_DURATION, DB_CLIENT_SLOW_QUERIES,
    EXPORTER_DROPPED, HTTP_SERVER_REQUEST_DURATION, MetricDef,
};
use sdk_core::ops::Spec;
use sdk_core::ops::spec::Sli;
use sdk_core::rum::VitalName;
use sdk_core::semconv::{browser, cache, db, http, sdk};
use serde::Serialize;
use std::time::Duration;

/// Value of `db.client.connection.state` for connections lent out.
const POOL_STATE_USED: &str = "used";
/// Value of `db.client.connection.state` for connections waiting in the pool.
const POOL_STATE_IDLE: &str = "idle";

/// A label key as the Prometheus exporter writes it: characters outside `[a-zA-Z0-9_]`
/// (and a leading digit) become `_` (`http.route` → `http_route`).
pub(super) fn prometheus_label(key: &str) -> String {
    key.chars()
        .enumerate()
        .map(|(i, c)| {
            if c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit()) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The configuration embedded in the page.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PageConfig {
    pub(super) metrics_path: String,
    pub(super) refresh_ms: u64,
    metrics: Metrics,
    labels: Labels,
    values: Values,
    vitals: Vec<Vital>,
    pub(super) slos: Vec<SloConfig>,
}

/// Prometheus names of the metrics each panel reads.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Metrics {
    http_duration: String,
    db_duration: String,
    slow_queries: String,
    pool_connections: String,
    pool_max: String,
    pool_pending: String,
    pool_timeouts: String,
    cache_requests: String,
    cache_fallbacks: String,
    exporter_dropped: String,
}

/// Label keys, as written in the exposition.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Labels {
    route: String,
    status: String,
    db_system: String,
    db_operation: String,
    db_table: String,
    pool: String,
    pool_state: String,
    cache_result: String,
    cache_prefix: String,
    vital_name: String,
    signal: String,
    exporter: String,
    reason: String,
}

/// Label values the panels select on.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Values {
    cache_hit: &'static str,
    cache_miss: &'static str,
    pool_used: &'static str,
    pool_idle: &'static str,
}

/// A web vital: the histogram it is recorded in and its rating limits in that histogram's
/// unit.
#[derive(Debug, Clone, Serialize)]
struct Vital {
    name: &'static str,
    metric: String,
    good: f64,
    poor: f64,
    seconds: bool,
}

/// One SLO as the page computes it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct SloConfig {
    name: String,
    description: String,
    objective: f64,
    sli: SliConfig,
}

/// How an SLO's bad and total events are counted (see [`Sli`]).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum SliConfig {
    /// Requests on `routes` (all when empty); bad: 5xx.
    Availability { routes: Vec<String> },
    /// Requests on `routes`; good: in the bucket whose upper bound is `threshold`.
    Latency { threshold: f64, routes: Vec<String> },
    /// Cache lookups under `prefix` (all when `None`); bad: misses.
    CacheHitRatio { prefix: Option<String> },
    /// Samples of vital `name` in `metric`; good: in the bucket whose bound is `good`.
    WebVital {
        name: String,
        metric: String,
        good: f64,
    },
}

fn vital(name: VitalName) -> Vital {
    let (good, poor) = name.thresholds();
    let (metric, scale) = if name.is_timing() {
        (&BROWSER_WEB_VITAL_DURATION, 1000.0)
    } else {
        (&BROWSER_WEB_VITAL_CLS, 1.0)
    };
    Vital {
        name: name.as_str(),
        metric: metric.prometheus_name(),
        good: good / scale,
        poor: poor / scale,
        seconds: name.is_timing(),
    }
}

fn sli(sli: &Sli) -> SliConfig {
    match sli {
        Sli::Availability { routes } => SliConfig::Availability {
            routes: routes.clone(),
        },
        Sli::Latency { threshold, routes } => SliConfig::Latency {
            threshold: *threshold,
            routes: routes.clone(),
        },
        Sli::CacheHitRatio { key_prefix } => SliConfig::CacheHitRatio {
            prefix: key_prefix.clone(),
        },
        Sli::WebVital { name } => {
            let found = VitalName::ALL
                .into_iter()
                .find(|v| v.as_str() == name)
                .map(vital);
            SliConfig::WebVital {
                name: name.clone(),
                metric: found.as_ref().map_or_else(
                    || BROWSER_WEB_VITAL_DURATION.prometheus_name(),
                    |v| v.metric.clone(),
                ),
                good: found.map_or(0.0, |v| v.good),
            }
        }
    }
}

impl PageConfig {
    pub(super) fn new(metrics_path: &str, refresh: Duration) -> Self {
        let name = MetricDef::prometheus_name;
        let mut config = Self {
            metrics_path: metrics_path.to_owned(),
            refresh_ms: 0,
            metrics: Metrics {
                http_duration: name(&HTTP_SERVER_REQUEST_DURATION),
                db_duration: name(&DB_CLIENT_OPERATION_DURATION),
                slow_queries: name(&DB_CLIENT_SLOW_QUERIES),
                pool_connections: name(&DB_CLIENT_CONNECTION_COUNT),
                pool_max: name(&DB_CLIENT_CONNECTION_MAX),
                pool_pending: name(&DB_CLIENT_CONNECTION_PENDING_REQUESTS),
                pool_timeouts: name(&DB_CLIENT_CONNECTION_TIMEOUTS),
                cache_requests: name(&CACHE_REQUESTS),
                cache_fallbacks: name(&CACHE_FALLBACKS),
                exporter_dropped: name(&EXPORTER_DROPPED),
            },
            labels: Labels {
                route: prometheus_label(http::ROUTE),
                status: prometheus_label(http::RESPONSE_STATUS_CODE),
                db_system: prometheus_label(db::SYSTEM_NAME),
                db_operation: prometheus_label(db::OPERATION_NAME),
                db_table: prometheus_label(db::COLLECTION_NAME),
                pool: prometheus_label(db::CLIENT_CONNECTION_POOL_NAME),
                pool_state: prometheus_label(db::CLIENT_CONNECTION_STATE),
                cache_result: prometheus_label(cache::RESULT),
                cache_prefix: prometheus_label(cache::KEY_PREFIX),
                vital_name: prometheus_label(browser::WEB_VITAL_NAME),
                signal: prometheus_label(sdk::SIGNAL),
                exporter: prometheus_label(sdk::EXPORTER),
                reason: prometheus_label(sdk::REASON),
            },
            values: Values {
                cache_hit: cache::HIT,
                cache_miss: cache::MISS,
                pool_used: POOL_STATE_USED,
                pool_idle: POOL_STATE_IDLE,
            },
            vitals: VitalName::ALL.into_iter().map(vital).collect(),
            slos: Vec::new(),
        };
        config.set_refresh(refresh);
        config
    }

    pub(super) fn set_refresh(&mut self, period: Duration) {
        self.refresh_ms = u64::try_from(period.max(MIN_REFRESH).as_millis()).unwrap_or(u64::MAX);
    }

    pub(super) fn set_slos(&mut self, spec: &Spec) {
        self.slos = spec
            .slos
            .iter()
            .map(|slo| SloConfig {
                name: slo.name.clone(),
                description: slo.description.clone(),
                objective: slo.objective,
                sli: sli(&slo.sli),
            })
            .collect();
    }

    /// The configuration as JSON (`{}` if it could not be written, which these types never
    /// cause).
    pub(super) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}
