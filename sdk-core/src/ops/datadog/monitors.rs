//! Datadog monitors (API v1, `query alert`) for the alerts of the Prometheus side: the
//! SLO burn rates and the symptoms, named as the Prometheus alerts so one runbook anchor
//! serves both.
//!
//! Where Datadog's model differs:
//!
//! - **No pending period.** A monitor fires on the first evaluation that breaches, so a
//!   symptom whose Prometheus alert waits `alerts.for` is evaluated over the rate window
//!   plus `for` (`last_10m` for 5m + 5m): the condition must hold on average for as long
//!   as Prometheus would wait.
//! - **One window per query.** A classic metric monitor evaluates every part of its query
//!   over the same window, and the composite monitor that would AND two of them refers
//!   to monitor ids, which a file written before the monitors exist cannot know. Each
//!   burn-rate window pair therefore becomes one monitor over its long window (the SRE
//!   workbook's "multiple burn rates" alert): it pages on the same budget spend, but
//!   resets when the long window has cleared rather than the short one.
//! - **Windows.** Datadog accepts `last_#m` up to a week and `last_#h` up to 168 hours,
//!   so the default windows (5m to 3d) are exact; a longer or sub-minute window becomes
//!   the closest one accepted, and the monitor's message says so.
//! - **Ratios.** Datadog evaluates `sum(last_W): a.as_count() / b.as_count()` as the sum
//!   of `a` over the sum of `b` in the window, and drops a point whose denominator is zero
//!   instead of yielding +Inf or NaN: a window without traffic has no value, and with
//!   `notify_no_data: false` neither alerts nor reports missing data. A ratio that alerts
//!   when low (cache hits) is written as its complement that alerts when high (misses),
//!   so a key prefix without a single hit still has a numerator to be judged by.

use super::super::alerts::camel;
use super::super::promql::num;
use super::super::spec::{Slo, Spec};
use super::query::{
    Counting, Scope, counting, events, last, level, metric, per_second, percentile,
};
use crate::catalogue::{
    BROWSER_WEB_VITAL_CLS, BROWSER_WEB_VITAL_DURATION, CACHE_REQUESTS, DB_CLIENT_CONNECTION_COUNT,
    DB_CLIENT_CONNECTION_MAX, DB_CLIENT_CONNECTION_PENDING_REQUESTS, DB_CLIENT_CONNECTION_TIMEOUTS,
    DB_CLIENT_SLOW_QUERIES, EXPORTER_DROPPED, HTTP_SERVER_REQUEST_DURATION, METRIC_OVERFLOW,
    PROBE_SUCCESS, PROCESS_MAX_FDS, PROCESS_OPEN_FDS, REDIS_SERVER_KEYS_EVICTED, TOKIO_BUSY_RATIO,
};
use crate::rum::Rating;
use crate::semconv::{browser, cache, db, http, sdk, server};
use serde_json::{Value, json};

/// Seconds a monitor waits before evaluating a minute: the agent flushes DogStatsD every
/// 10 s, so the newest interval can hold a ratio's denominator but not yet its numerator.
const EVALUATION_DELAY: u64 = 60;

/// A monitor under construction.
struct Monitor {
    /// The Prometheus alert it stands for.
    alert: String,
    /// Told apart from other monitors of the same alert (a window, a metric).
    variant: Option<String>,
    severity: &'static str,
    query: String,
    /// The critical threshold (the comparison is in `query`).
    threshold: f64,
    summary: String,
    description: String,
    tags: Vec<String>,
}

impl Monitor {
    fn json(self, spec: &Spec) -> Value {
        let name = match &self.variant {
            Some(variant) => format!("{} ({variant})", self.alert),
            None => self.alert.clone(),
        };
        let runbook = format!("{}#{}", spec.runbook_url, self.alert.to_lowercase());
        let mut tags = vec![
            format!("service:{}", spec.service),
            format!("severity:{}", self.severity),
        ];
        tags.extend(spec.labels.iter().map(|(k, v)| format!("{k}:{v}")));
        tags.extend(self.tags);
        json!({
            "name": name,
            "type": "query alert",
            "query": format!("{} {}", self.query, num(self.threshold)),
            "message": format!(
                "{}\n\n{}\n\nRunbook: {runbook}",
                self.summary, self.description
            ),
            "tags": tags,
            "options": {
                "thresholds": {"critical": rounded(self.threshold)},
                "notify_no_data": false,
                "require_full_window": false,
                "evaluation_delay": EVALUATION_DELAY,
                "include_tags": true,
            },
        })
    }
}

/// `x` as [`num`] writes it, so the threshold in `options` is the one in the query.
fn rounded(x: f64) -> f64 {
    num(x).parse().unwrap_or(x)
}

/// A multi-alert group's value in a message (`{{[http.route].name}}`; the brackets keep
/// the dots of the tag key).
fn var(key: &str) -> String {
    format!("{{{{[{key}].name}}}}")
}

/// `sum(last_W): bad / total >` over the window.
fn ratio(window: &str, c: &Counting) -> String {
    format!("sum({window}):{} / {} >", c.bad, c.total)
}

/// The burn-rate monitors of one SLO: one per feasible window pair (a pair whose factor
/// times the budget reaches 1 can never fire and is left out, as on the Prometheus side).
fn burn_rate(spec: &Spec, slo: &Slo) -> Vec<Monitor> {
    let budget = 1.0 - slo.objective / 100.0;
    let c = counting(&slo.sli, &Scope::service(&spec.service));
    let mut out = Vec::new();
    for (severity, kind, pairs) in [
        ("critical", "Page", &spec.burn_rate.page),
        ("warning", "Ticket", &spec.burn_rate.ticket),
    ] {
        for pair in pairs.iter().filter(|p| p.factor * budget < 1.0) {
            let (window, exact) = last(pair.long.seconds());
            let approximated = if exact {
                String::new()
            } else {
                format!(
                    " (Datadog's closest window to {}: {window})",
                    pair.long.as_str()
                )
            };
            out.push(Monitor {
                alert: format!(
                    "{}{}BurnRate{kind}",
                    camel(&spec.service),
                    camel(&slo.name)
                ),
                variant: Some(pair.long.as_str().to_owned()),
                severity,
                query: ratio(&window, &c),
                threshold: pair.factor * budget,
                summary: format!(
                    "SLO {} of {} is burning its error budget too fast",
                    slo.name, spec.service
                ),
                description: format!(
                    "{} The error budget of {} % over {} has been spent at more than {}× the sustainable rate over the last {}{approximated}.",
                    slo.description,
                    num(100.0 - slo.objective),
                    spec.period.as_str(),
                    num(pair.factor),
                    pair.long.as_str(),
                ),
                tags: vec![format!("slo:{}", slo.name), format!("window:{}", pair.long.as_str())],
            });
        }
    }
    out
}

/// The symptom monitors the spec's thresholds ask for.
fn symptoms(spec: &Spec) -> Vec<Monitor> {
    let t = &spec.alerts;
    let s = Scope::service(&spec.service);
    let svc = &spec.service;
    let prefix = camel(svc);
    let rate = spec.rate_window.seconds();
    let held = last(rate + t.for_.seconds()).0;
    let held_text = format!(
        "over the last {} (the rate window plus the {} Prometheus waits)",
        held.trim_start_matches("last_"),
        t.for_.as_str()
    );
    let duration = &HTTP_SERVER_REQUEST_DURATION;
    let route = [http::ROUTE];
    let monitor = |alert: &str, severity, query, threshold, summary, description| Monitor {
        alert: format!("{prefix}{alert}"),
        variant: None,
        severity,
        query,
        threshold,
        summary,
        description,
        tags: Vec::new(),
    };
    let mut out = Vec::new();
    if let Some(threshold) = t.latency_p95 {
        out.push(monitor(
            "HighLatencyP95",
            "warning",
            format!(
                "percentile({held}):{} >",
                percentile(95, duration, &s, &route)
            ),
            threshold,
            format!("{svc} {} is slow", var(http::ROUTE)),
            format!(
                "p95 latency of {} has been over {} s {held_text}.",
                var(http::ROUTE),
                num(threshold)
            ),
        ));
    }
    if let Some(threshold) = t.error_ratio {
        let c = Counting {
            bad: events(duration, &s.with(http::RESPONSE_STATUS_CODE, "5*"), &route),
            total: events(duration, &s, &route),
        };
        out.push(monitor(
            "HighErrorRatio",
            "critical",
            ratio(&held, &c),
            threshold,
            format!("{svc} {} answers with server errors", var(http::ROUTE)),
            format!(
                "More than {} % of the requests to {} have failed with a 5xx status {held_text}.",
                num(threshold * 100.0),
                var(http::ROUTE)
            ),
        ));
    }
    if let Some(threshold) = t.cache_hit_ratio {
        let by = [cache::KEY_PREFIX];
        let c = Counting {
            bad: events(&CACHE_REQUESTS, &s.with(cache::RESULT, cache::MISS), &by),
            total: events(&CACHE_REQUESTS, &s, &by),
        };
        out.push(monitor(
            "CacheHitRatioLow",
            "warning",
            ratio(&held, &c),
            1.0 - threshold,
            format!("{svc} cache prefix {} mostly misses", var(cache::KEY_PREFIX)),
            format!(
                "Fewer than {} % of the lookups under the key prefix {} have hit {held_text}: the database takes the load.",
                num(threshold * 100.0),
                var(cache::KEY_PREFIX)
            ),
        ));
    }
    // Exhausted: every connection in use and requests waiting, at every point of the
    // window. Both conditions are one number, min(used / max, pending) ≥ 1, written
    // with the arithmetic Datadog has: min(a, b) = (a + b - abs(a - b)) / 2.
    let pool = [db::CLIENT_CONNECTION_POOL_NAME];
    let saturation = format!(
        "{} / {}",
        level(
            &DB_CLIENT_CONNECTION_COUNT,
            &s.with(db::CLIENT_CONNECTION_STATE, "used"),
            &pool
        ),
        level(&DB_CLIENT_CONNECTION_MAX, &s, &pool)
    );
    let pending = level(&DB_CLIENT_CONNECTION_PENDING_REQUESTS, &s, &pool);
    out.push(monitor(
        "DbPoolExhausted",
        "critical",
        format!("min({held}):({saturation} + {pending} - abs({saturation} - {pending})) / 2 >="),
        1.0,
        format!(
            "{svc} pool {} is exhausted",
            var(db::CLIENT_CONNECTION_POOL_NAME)
        ),
        format!(
            "Every connection of the pool {} has been in use with requests waiting {held_text}.",
            var(db::CLIENT_CONNECTION_POOL_NAME)
        ),
    ));
    let (rate_window, _) = last(rate);
    out.push(monitor(
        "DbPoolTimeouts",
        "critical",
        format!(
            "sum({rate_window}):{} >",
            events(&DB_CLIENT_CONNECTION_TIMEOUTS, &s, &pool)
        ),
        0.0,
        format!(
            "{svc} pool {} times out",
            var(db::CLIENT_CONNECTION_POOL_NAME)
        ),
        format!(
            "Requests have timed out waiting for a connection of the pool {} in the last {}.",
            var(db::CLIENT_CONNECTION_POOL_NAME),
            rate_window.trim_start_matches("last_")
        ),
    ));
    if let Some(threshold) = t.slow_queries_per_second {
        let by = [db::SYSTEM_NAME, db::OPERATION_NAME, db::COLLECTION_NAME];
        out.push(monitor(
            "SlowQueries",
            "warning",
            format!(
                "avg({held}):{} >",
                per_second(&DB_CLIENT_SLOW_QUERIES, &s, &by)
            ),
            threshold,
            format!(
                "{svc} runs slow {} queries on {}",
                var(db::OPERATION_NAME),
                var(db::COLLECTION_NAME)
            ),
            format!(
                "More than {} slow {} queries per second on {} ({}) {held_text}.",
                num(threshold),
                var(db::OPERATION_NAME),
                var(db::COLLECTION_NAME),
                var(db::SYSTEM_NAME)
            ),
        ));
    }
    if let Some(threshold) = t.rum_poor_ratio {
        // Timings and CLS are two metrics: Datadog matches the groups of a ratio's two
        // sides, so each gets its own monitor.
        let by = [http::ROUTE, browser::WEB_VITAL_NAME];
        let poor = s.with(browser::WEB_VITAL_RATING, Rating::Poor.as_str());
        for (variant, def) in [
            ("timings", &BROWSER_WEB_VITAL_DURATION),
            ("CLS", &BROWSER_WEB_VITAL_CLS),
        ] {
            let c = Counting {
                bad: events(def, &poor, &by),
                total: events(def, &s, &by),
            };
            let mut m = monitor(
                "RumPoorRatings",
                "warning",
                ratio(&held, &c),
                threshold,
                format!(
                    "{svc} pages {} have poor {}",
                    var(http::ROUTE),
                    var(browser::WEB_VITAL_NAME)
                ),
                format!(
                    "More than {} % of the {} reports from {} have been rated poor {held_text}.",
                    num(threshold * 100.0),
                    var(browser::WEB_VITAL_NAME),
                    var(http::ROUTE)
                ),
            );
            m.variant = Some(variant.to_owned());
            out.push(m);
        }
    }
    let dropped = [sdk::SIGNAL, sdk::EXPORTER, sdk::REASON];
    out.push(monitor(
        "TelemetryDropped",
        "warning",
        format!("sum({held}):{} >", events(&EXPORTER_DROPPED, &s, &dropped)),
        0.0,
        format!(
            "{svc} drops {} at the {} exporter",
            var(sdk::SIGNAL),
            var(sdk::EXPORTER)
        ),
        format!(
            "The SDK has dropped {} bound for {} ({}) {held_text}: the collector or agent is down, slow or refusing.",
            var(sdk::SIGNAL),
            var(sdk::EXPORTER),
            var(sdk::REASON)
        ),
    ));
    out.push(monitor(
        "MetricCardinalityOverflow",
        "warning",
        format!("sum({held}):{} >", events(&METRIC_OVERFLOW, &s, &[sdk::METRIC])),
        0.0,
        format!("{svc} metric {} hit its series ceiling", var(sdk::METRIC)),
        format!(
            "New label combinations of {} have been folded into its overflow series {held_text}: a label carries unbounded values (ids, raw paths).",
            var(sdk::METRIC)
        ),
    ));
    out
}

/// The runtime and dependency monitors: gauges held over the Prometheus alert's fixed
/// pending period (`min` of a value that must stay high, `max` of one that must stay
/// low). Without a per-process tag, the process and runtime monitors read the highest
/// value over the service's processes. Redis evicts only at its memory limit, so the
/// monitor watches evictions alone; the Prometheus alert's memory condition adds no
/// case it would miss.
fn runtime(spec: &Spec) -> Vec<Monitor> {
    let t = &spec.alerts;
    let s = Scope::service(&spec.service);
    let svc = &spec.service;
    let monitor = |alert: &str, severity, query, threshold, summary, description| Monitor {
        alert: format!("{}{alert}", camel(svc)),
        variant: None,
        severity,
        query,
        threshold,
        summary,
        description,
        tags: Vec::new(),
    };
    let mut out = vec![monitor(
        "ProbeFailing",
        "critical",
        format!(
            "max(last_2m):{} <",
            metric("min", &PROBE_SUCCESS, &s, &[sdk::PROBE])
        ),
        1.0,
        format!("{svc} probe {} fails", var(sdk::PROBE)),
        format!(
            "The synthetic probe {} has failed on at least one {svc} instance throughout the last 2m: what it checks is down or unreachable from there.",
            var(sdk::PROBE)
        ),
    )];
    if let Some(threshold) = t.redis_memory_ratio {
        let redis = [server::ADDRESS, server::PORT];
        let at = format!("{}:{}", var(server::ADDRESS), var(server::PORT));
        out.push(monitor(
            "RedisEvicting",
            "warning",
            format!(
                "sum(last_10m):{} >",
                events(&REDIS_SERVER_KEYS_EVICTED, &s, &redis)
            ),
            0.0,
            format!("Redis {at} evicts keys"),
            format!(
                "The Redis server {at} used by {svc} has been evicting keys over the last 10m: it is at its memory limit (the Prometheus alert waits for {} % of it), and cached values are lost before they expire.",
                num(threshold * 100.0)
            ),
        ));
    }
    if let Some(threshold) = t.fds_ratio {
        out.push(monitor(
            "ProcessFdsNearLimit",
            "warning",
            format!(
                "min(last_5m):{} / {} >",
                metric("max", &PROCESS_OPEN_FDS, &s, &[]),
                metric("max", &PROCESS_MAX_FDS, &s, &[])
            ),
            threshold,
            format!("{svc} runs out of file descriptors"),
            format!(
                "A process of {svc} has held more than {} % of its file-descriptor limit over the last 5m: new connections and files will soon fail to open.",
                num(threshold * 100.0)
            ),
        ));
    }
    if let Some(threshold) = t.tokio_busy_ratio {
        out.push(monitor(
            "TokioWorkersSaturated",
            "warning",
            format!(
                "min(last_10m):{} >",
                metric("max", &TOKIO_BUSY_RATIO, &s, &[])
            ),
            threshold,
            format!("{svc} has no idle Tokio worker"),
            format!(
                "The Tokio workers of a process of {svc} have been busy more than {} % of the time over the last 10m: tasks queue and latency grows; look for blocking calls on the workers or add capacity.",
                num(threshold * 100.0)
            ),
        ));
    }
    out
}

/// The monitors of `spec`'s service: burn rates per SLO, symptoms, then the runtime and
/// its dependencies.
pub(crate) fn monitors(spec: &Spec) -> Value {
    let all: Vec<Value> = spec
        .slos
        .iter()
        .flat_map(|slo| burn_rate(spec, slo))
        .chain(symptoms(spec))
        .chain(runtime(spec))
        .map(|m| m.json(spec))
        .collect();
    Value::Array(all)
}
