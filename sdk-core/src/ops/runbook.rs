//! The runbook: `<service>.runbook.md`, one section per generated alert — what it means,
//! its severity, expression and rule file, the board to open, and the first checks —
//! headed by the alert's name, so the section's anchor is the fragment of the alert's
//! `runbook_url` (`<runbook_url>#<alert-name-lowercase>`) and of its Datadog monitor's
//! message. Publish the file where `runbook_url` points.
//!
//! The checks name metrics through the catalogue, like every other generated file: a
//! renamed metric renames them too.
//!
//! Longer than this workspace's modules usually are: most of it is the checks' prose, one
//! list per kind of alert, kept in one place so it reads in the order the runbook does.

use super::alerts::Alert;
use super::spec::{Sli, Spec};
use super::{GeneratedFile, OpsError};
use crate::catalogue::{
    BROWSER_ERRORS, BROWSER_WEB_VITAL_PART_DURATION, CACHE_FALLBACKS, CACHE_INVALIDATIONS,
    CACHE_LOAD_DURATION, CACHE_REQUESTS, CACHE_STALE_SERVES, CACHE_UNREADABLE, COLLECTOR_DURATION,
    DB_CLIENT_CONNECTION_CREATE_TIME, DB_CLIENT_CONNECTION_USE_TIME,
    DB_CLIENT_CONNECTION_WAIT_TIME, DB_CLIENT_OPERATION_DURATION, DB_CLIENT_PLAN_FINDINGS,
    DB_CLIENT_SLOW_QUERIES, DB_INSIGHT_FINDINGS, DB_STATEMENT_EXEC_TIME, EXPORTER_DROPPED,
    HTTP_CLIENT_REQUEST_DURATION, HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_PANICS, MetricDef,
    PROBE_DURATION, PROBE_HTTP_DURATION, PROBE_HTTP_STATUS_CODE, PROCESS_OPEN_FDS, PROCESS_THREADS,
    REDIS_SERVER_CLIENTS_CONNECTED, REDIS_SERVER_KEYS, REDIS_SERVER_KEYSPACE_HIT_RATIO,
    REDIS_SERVER_MEMORY_USED, TOKIO_BLOCKING_THREADS, TOKIO_GLOBAL_QUEUE_DEPTH,
};
use std::fmt::Write as _;

/// What an alert is about, which decides the board and the checks of its section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Triage {
    Latency,
    Errors,
    CacheHits,
    PoolExhausted,
    PoolTimeouts,
    SlowQueries,
    WebVitals,
    TelemetryDropped,
    CardinalityOverflow,
    ProbeFailing,
    RedisEvicting,
    FdsNearLimit,
    TokioSaturated,
    RequestRateAnomaly,
    ErrorRatioAnomaly,
    /// An SLO's burn-rate alert: the checks of its indicator, after the budget's.
    BurnRate(Indicator),
}

/// The indicator an SLO counts, for its burn-rate alert's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Indicator {
    Availability,
    Latency,
    CacheHits,
    WebVital,
}

impl Indicator {
    pub(crate) fn of(sli: &Sli) -> Self {
        match sli {
            Sli::Availability { .. } => Self::Availability,
            Sli::Latency { .. } => Self::Latency,
            Sli::CacheHitRatio { .. } => Self::CacheHits,
            Sli::WebVital { .. } => Self::WebVital,
        }
    }

    const fn symptom(self) -> Triage {
        match self {
            Self::Availability => Triage::Errors,
            Self::Latency => Triage::Latency,
            Self::CacheHits => Triage::CacheHits,
            Self::WebVital => Triage::WebVitals,
        }
    }
}

/// A metric as the checks name it: its Prometheus series name, in code.
fn m(def: &MetricDef) -> String {
    format!("`{}`", def.prometheus_name())
}

impl Triage {
    /// The Grafana board to open (`grafana/<service>-<key>.json`) and its title.
    const fn board(self) -> (&'static str, &'static str) {
        match self {
            Self::Latency | Self::Errors | Self::RequestRateAnomaly | Self::ErrorRatioAnomaly => {
                ("service", "Service")
            }
            Self::CacheHits => ("cache", "Cache"),
            Self::PoolExhausted | Self::PoolTimeouts | Self::SlowQueries => {
                ("database", "Database")
            }
            Self::WebVitals => ("browser", "Browser"),
            Self::TelemetryDropped | Self::CardinalityOverflow => ("sdk", "SDK health"),
            Self::ProbeFailing
            | Self::RedisEvicting
            | Self::FdsNearLimit
            | Self::TokioSaturated => ("runtime", "Runtime and dependencies"),
            Self::BurnRate(_) => ("slo", "SLOs"),
        }
    }

    /// The first checks, in the order to run them.
    fn checks(self) -> Vec<String> {
        match self {
            Self::Latency => vec![
                "One route or all of them? On the Service board, a single slow route points at \
                 its own queries or calls; every route at once points at the process, the \
                 runtime or a shared dependency."
                    .into(),
                format!(
                    "Database time over the same window: {} by operation and table, and {}. \
                     With slow-query plans on (`SDK_DB_SLOW_QUERY_PLANS=on`), each slow query's \
                     trace holds a `db.plan` span naming the sequential scans.",
                    m(&DB_CLIENT_OPERATION_DURATION),
                    m(&DB_CLIENT_SLOW_QUERIES)
                ),
                format!(
                    "Waiting for a connection rather than querying: {} against {}.",
                    m(&DB_CLIENT_CONNECTION_WAIT_TIME),
                    m(&DB_CLIENT_CONNECTION_USE_TIME)
                ),
                format!(
                    "Outbound calls: {} by `server_address`; a cold cache: the hit ratio and {}.",
                    m(&HTTP_CLIENT_REQUEST_DURATION),
                    m(&CACHE_LOAD_DURATION)
                ),
                format!(
                    "A saturated runtime delays every request: the Tokio busy ratio, {} and {} \
                     on the Runtime board; blocking work on the workers shows as a busy ratio \
                     near 1 with little traffic.",
                    m(&TOKIO_GLOBAL_QUEUE_DEPTH),
                    m(&HTTP_SERVER_ACTIVE_REQUESTS)
                ),
                "Open a slow trace of the route (filter on `http.route` and duration) and read \
                 which child span holds the time; the JSON logs carry the same `trace_id`."
                    .into(),
            ],
            Self::Errors => vec![
                "The service's ERROR log lines over the window name the failing call; each \
                 carries the `trace_id` of its request, whose trace shows where it failed."
                    .into(),
                format!(
                    "Panics: {} by route (the response is a 500 and the process keeps serving).",
                    m(&HTTP_SERVER_PANICS)
                ),
                format!(
                    "Dependencies failing under it: {} and {} with an `error_type` label, \
                     and the cache's {} (an unavailable cache sends every lookup to the \
                     loader, so to the database).",
                    m(&DB_CLIENT_OPERATION_DURATION),
                    m(&HTTP_CLIENT_REQUEST_DURATION),
                    m(&CACHE_FALLBACKS)
                ),
                "A deployment or configuration change at the start of the rise: roll back \
                 first, investigate after."
                    .into(),
            ],
            Self::CacheHits => vec![
                format!(
                    "Hits and misses by key prefix: {}; a prefix that never hits may be read \
                     before anything stores it, or stored under another key.",
                    m(&CACHE_REQUESTS)
                ),
                format!(
                    "Invalidations emptying the cache: {} by kind (a tag or prefix \
                     invalidated on every write).",
                    m(&CACHE_INVALIDATIONS)
                ),
                format!(
                    "The server evicting or losing keys: {} and {} (with \
                     `RedisServerInfo` collecting), and the server-side {}.",
                    m(&REDIS_SERVER_MEMORY_USED),
                    m(&REDIS_SERVER_KEYS),
                    m(&REDIS_SERVER_KEYSPACE_HIT_RATIO)
                ),
                format!(
                    "The cache unavailable: {} counts the lookups the loader answered \
                     instead; values that could not be read count as misses in {}. Entries \
                     stored with stale-while-revalidate keep answering while one loader \
                     refreshes them ({}).",
                    m(&CACHE_FALLBACKS),
                    m(&CACHE_UNREADABLE),
                    m(&CACHE_STALE_SERVES)
                ),
            ],
            Self::PoolExhausted => vec![
                format!(
                    "Held too long or too few: {} (how long a connection stays checked out) \
                     against {} (how long requests wait for one).",
                    m(&DB_CLIENT_CONNECTION_USE_TIME),
                    m(&DB_CLIENT_CONNECTION_WAIT_TIME)
                ),
                "A transaction left open across an await on another service holds its \
                 connection for that call's duration: look for long `db.transaction` spans \
                 with outbound calls inside."
                    .into(),
                format!(
                    "Slow queries holding connections: {} by table.",
                    m(&DB_CLIENT_SLOW_QUERIES)
                ),
                "Raise the pool's maximum only when the database has room for the \
                 connections (`max_connections` over every instance of the service)."
                    .into(),
            ],
            Self::PoolTimeouts => vec![
                "Requests have already failed: the pool gave up waiting for a connection. \
                 The checks of the pool exhaustion alert apply."
                    .into(),
                "Is the database reachable at all? A readiness check or a TCP probe of it \
                 tells an outage from a saturated pool."
                    .into(),
                format!(
                    "New connections slow to open (TLS, authentication, a database at its \
                     connection limit): {}.",
                    m(&DB_CLIENT_CONNECTION_CREATE_TIME)
                ),
            ],
            Self::SlowQueries => vec![
                format!(
                    "Which statement: {} by operation and table on the Database board, the \
                     slow query's span (its `db.query.summary` and sanitized text), and the \
                     statement's time over all its calls in {} when database insights run.",
                    m(&DB_CLIENT_OPERATION_DURATION),
                    m(&DB_STATEMENT_EXEC_TIME)
                ),
                format!(
                    "Its plan: with slow-query plans on, the query's trace holds a `db.plan` \
                     span (top node, rows, sequential scans of large tables) and {} counts \
                     the findings by table.",
                    m(&DB_CLIENT_PLAN_FINDINGS)
                ),
                format!(
                    "Missing or unused indexes: the insights report (`PgInsights`) and {}.",
                    m(&DB_INSIGHT_FINDINGS)
                ),
                "A table that grew past what its plan assumed: compare its row count with \
                 the plan's estimate, and run `ANALYZE` on it."
                    .into(),
            ],
            Self::WebVitals => vec![
                format!(
                    "Which part of the vital: {} splits LCP and INP into their phases (time \
                     to first byte, resource load, render delay; input delay, processing, \
                     presentation).",
                    m(&BROWSER_WEB_VITAL_PART_DURATION)
                ),
                "A slow first byte is the server's: the route's latency on the Service board \
                 over the same window."
                    .into(),
                format!(
                    "Script errors on the page: {} by route.",
                    m(&BROWSER_ERRORS)
                ),
                "A new release of the front end at the start of the rise: its bundle size \
                 and the largest element or slowest interaction the beacons name."
                    .into(),
            ],
            Self::TelemetryDropped => vec![
                format!(
                    "Which signal, exporter and reason: {} — `export_failed` means the \
                     collector or agent refused or was unreachable, `queue_full` that it \
                     answered too slowly for the traffic.",
                    m(&EXPORTER_DROPPED)
                ),
                "Is the collector or agent up and reachable from the service \
                 (`OTEL_EXPORTER_OTLP_ENDPOINT`, `DD_TRACE_AGENT_URL`)? The SDK's own \
                 WARN log lines name the endpoint and the error."
                    .into(),
                "Requests are not affected: the SDK drops telemetry rather than waiting. \
                 Delivery resumes by itself when the backend returns."
                    .into(),
            ],
            Self::CardinalityOverflow => vec![
                "Which metric: the `sdk_metric` label. New label combinations past its \
                 ceiling are folded into one overflow series, so its per-label figures are \
                 now incomplete."
                    .into(),
                "Find the unbounded label: raw paths in `http.route` (a route the router \
                 does not name), ids in a cache key prefix, user-supplied values in an \
                 application label."
                    .into(),
                "Fix the label at its source; the ceiling protects the metrics backend \
                 meanwhile."
                    .into(),
            ],
            Self::ProbeFailing => vec![
                format!(
                    "How it fails: {} and {} (0 when no response came), and the phase that \
                     took the time in {}.",
                    m(&PROBE_DURATION),
                    m(&PROBE_HTTP_STATUS_CODE),
                    m(&PROBE_HTTP_DURATION)
                ),
                "The SDK logs a probe's failure once per change of state, with the error \
                 (refused, timed out, unexpected status)."
                    .into(),
                "A probe used as a readiness check takes the instance out of rotation while \
                 it fails: check the readiness endpoint of each instance."
                    .into(),
            ],
            Self::RedisEvicting => vec![
                format!(
                    "Memory against the limit: {} and the fragmentation ratio; evicted keys \
                     are lost cache entries, so the hit ratio falls next.",
                    m(&REDIS_SERVER_MEMORY_USED)
                ),
                format!(
                    "What fills it: {} over time, and values stored without a TTL or larger \
                     than needed (`Compression::lz4()` stores large values compressed).",
                    m(&REDIS_SERVER_KEYS)
                ),
                format!(
                    "Other clients of the same server: {}.",
                    m(&REDIS_SERVER_CLIENTS_CONNECTED)
                ),
                "Raise `maxmemory` or choose an eviction policy that keeps what matters \
                 (`allkeys-lru` for a pure cache)."
                    .into(),
            ],
            Self::FdsNearLimit => vec![
                format!(
                    "What holds them: {} over time — a steady climb is a leak (connections \
                     or files not closed), a step is a pool grown larger.",
                    m(&PROCESS_OPEN_FDS)
                ),
                "`ls -l /proc/<pid>/fd` on the instance groups them by kind (sockets, files)."
                    .into(),
                "At the limit, accepting connections and opening files fails: raise the \
                 limit (`ulimit -n`, the unit's `LimitNOFILE`) while the leak is found."
                    .into(),
            ],
            Self::TokioSaturated => vec![
                format!(
                    "Work waiting: {} and {}.",
                    m(&TOKIO_GLOBAL_QUEUE_DEPTH),
                    m(&HTTP_SERVER_ACTIVE_REQUESTS)
                ),
                format!(
                    "Blocking calls on the workers (file or DNS I/O, CPU-heavy work, a \
                     synchronous lock held across work) keep them busy without traffic: \
                     compare with the request rate, and {} and {}.",
                    m(&TOKIO_BLOCKING_THREADS),
                    m(&PROCESS_THREADS)
                ),
                "Take a CPU profile of the instance (`sdk_tower::profile`, when mounted) \
                 and read the flame graph's widest frames."
                    .into(),
                format!("The SDK's own collectors: {}.", m(&COLLECTOR_DURATION)),
            ],
            Self::RequestRateAnomaly => vec![
                "Up or down? A drop with no error is often upstream: a load balancer, DNS, a \
                 client release; a rise may be a retry storm or a crawler."
                    .into(),
                "Which routes moved: the request rate per route on the Service board.".into(),
                "A planned event (a campaign, a migration) explains it: the band learns \
                 from the same hours of past weeks only."
                    .into(),
            ],
            Self::ErrorRatioAnomaly => {
                let mut checks = vec![
                    "The ratio is unusual for these hours of the week even below the fixed \
                     threshold: find the route and status that moved."
                        .into(),
                ];
                checks.extend(Self::Errors.checks());
                checks
            }
            Self::BurnRate(indicator) => {
                let mut checks = vec![
                    "How much is left: the SLO board's budget remaining over the period and \
                     the burn rates of every window. A page spends the budget in days at \
                     this rate; a ticket in weeks."
                        .into(),
                    "Is it still burning? The short window clears first when the cause is \
                     gone."
                        .into(),
                ];
                checks.extend(indicator.symptom().checks());
                checks
            }
        }
    }
}

/// An annotation with its templates as placeholders: `{{ $labels.http_route }}` reads
/// `<http_route>`, `{{ $value }}` reads `<value>`.
fn placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = rest[start + 2..start + end].trim();
        let name = inner
            .strip_prefix("$labels.")
            .or_else(|| inner.strip_prefix('$'))
            .unwrap_or(inner);
        let _ = write!(out, "`<{name}>`");
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

/// The runbook of `alerts` (each with the rule file it is in).
pub(crate) fn file(spec: &Spec, alerts: &[(&str, &Alert)]) -> Result<GeneratedFile, OpsError> {
    let service = &spec.service;
    let mut text = format!(
        "<!-- Generated by sdk-core ops from the service's SLO spec and the metric catalogue. \
         Do not edit: change the spec and regenerate. -->\n\n\
         # {service}: alert runbook\n\n\
         One section per alert of `{service}`; each alert's `runbook_url` (and each Datadog \
         monitor's message) links to its section. Boards are the generated Grafana \
         dashboards in `grafana/`.\n\n"
    );
    for (rule_file, alert) in alerts {
        let rule = &alert.rule;
        let name = rule.alert.as_deref().unwrap_or_default();
        let triage = alert.triage.ok_or_else(|| {
            OpsError::Serialize(format!("runbook: the alert {name} has no triage"))
        })?;
        let annotation = |key: &str| rule.annotations.get(key).map_or("", String::as_str);
        let severity = rule.labels.get("severity").map_or("", String::as_str);
        let (board_key, board_title) = triage.board();
        let _ = write!(
            text,
            "## {name}\n\n**{}** — {}\n\n- severity: `{severity}`",
            placeholders(annotation("summary")),
            placeholders(annotation("description")),
        );
        if let Some(for_) = &rule.for_ {
            let _ = write!(text, "; pending for `{for_}`");
        }
        let _ = write!(
            text,
            "\n- rule file: `{rule_file}`\n- board: {service} / {board_title} \
             (`grafana/{service}-{board_key}.json`)\n\n```promql\n{}\n```\n\nFirst checks:\n\n",
            rule.expr.trim_end()
        );
        let checks = triage.checks();
        for (i, check) in checks.iter().enumerate() {
            let _ = writeln!(text, "{}. {check}", i + 1);
        }
        text.push('\n');
    }
    Ok(GeneratedFile {
        path: format!("{service}.runbook.md"),
        contents: text.trim_end().to_owned() + "\n",
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Spec, generate};
    use super::placeholders;
    use std::collections::BTreeSet;

    /// GitHub's anchor of a heading: lower case, punctuation but `-` and `_` dropped, spaces
    /// as `-`.
    fn anchor(heading: &str) -> String {
        heading
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
                _ => None,
            })
            .collect()
    }

    /// A spec with every kind of alert on: symptoms, runtime, an SLO of each indicator,
    /// anomaly bands.
    fn spec() -> Spec {
        Spec::from_yaml(
            "service: shop\nrunbook_url: https://runbooks.example/shop.runbook.md\n\
             slos:\n\
             - {name: requests-availability, description: Answered., objective: 99.9, sli: {kind: availability}}\n\
             - {name: requests-latency, description: Fast., objective: 95, sli: {kind: latency, threshold: 0.25}}\n\
             - {name: cache-hits, description: Cached., objective: 80, sli: {kind: cache_hit_ratio}}\n\
             - {name: lcp-good, description: Painted., objective: 75, sli: {kind: web_vital, name: LCP}}\n\
             alerts: {for: 5m, latency_p95: 0.5, error_ratio: 0.05, cache_hit_ratio: 0.5, \
             slow_queries_per_second: 0.1, rum_poor_ratio: 0.25}\n\
             anomaly: {enabled: true, k: 3, min_request_rate: 0.1, for: 15m}\n",
        )
        .unwrap()
    }

    /// Every `runbook_url` of every generated alert and Datadog monitor.
    fn links(files: &[super::GeneratedFile]) -> Vec<(String, String)> {
        let mut links = Vec::new();
        for file in files {
            if file.path.ends_with(".rules.yml") || file.path.ends_with(".alerts.yml") {
                let doc: serde_json::Value = serde_saphyr::from_str(&file.contents).unwrap();
                for group in doc["groups"].as_array().unwrap() {
                    for rule in group["rules"].as_array().unwrap() {
                        if let Some(alert) = rule["alert"].as_str() {
                            let url = rule["annotations"]["runbook_url"].as_str().unwrap();
                            links.push((alert.to_owned(), url.to_owned()));
                        }
                    }
                }
            }
            if file.path.ends_with("-monitors.json") {
                let doc: serde_json::Value = serde_json::from_str(&file.contents).unwrap();
                for monitor in doc.as_array().unwrap() {
                    let message = monitor["message"].as_str().unwrap();
                    let url = message.rsplit("Runbook: ").next().unwrap().trim();
                    let name = monitor["name"].as_str().unwrap();
                    links.push((format!("Datadog monitor {name}"), url.to_owned()));
                }
            }
        }
        links
    }

    #[test]
    fn every_alert_and_monitor_links_to_its_own_section() {
        let spec = spec();
        let files = generate(&spec).unwrap();
        let runbook = files
            .iter()
            .find(|f| f.path == "shop.runbook.md")
            .expect("a runbook is generated");
        let sections: Vec<&str> = runbook
            .contents
            .lines()
            .filter_map(|line| line.strip_prefix("## "))
            .collect();
        let anchors: BTreeSet<String> = sections.iter().map(|h| anchor(h)).collect();
        assert_eq!(
            anchors.len(),
            sections.len(),
            "two sections share an anchor"
        );

        let links = links(&files);
        let alerts: BTreeSet<&str> = links
            .iter()
            .filter(|(name, _)| !name.starts_with("Datadog"))
            .map(|(name, _)| name.as_str())
            .collect();
        // Every kind: symptoms, runtime, four indicators × page/ticket where feasible,
        // both bands.
        assert!(alerts.len() >= 20, "{alerts:?}");
        assert_eq!(
            sections.iter().copied().collect::<BTreeSet<_>>(),
            alerts,
            "one section per alert, no more"
        );
        assert!(links.iter().any(|(name, _)| name.starts_with("Datadog")));
        for (name, url) in &links {
            let (base, fragment) = url
                .split_once('#')
                .unwrap_or_else(|| panic!("{name}: no fragment in {url}"));
            assert_eq!(base, spec.runbook_url, "{name}");
            assert!(
                anchors.contains(fragment),
                "{name} links to #{fragment}, which no section of the runbook has"
            );
        }
    }

    #[test]
    fn sections_read_as_text_with_their_checks() {
        let files = generate(&spec()).unwrap();
        let runbook = &files
            .iter()
            .find(|f| f.path == "shop.runbook.md")
            .unwrap()
            .contents;
        assert!(!runbook.contains("{{"), "a template was left: {runbook}");
        for section in runbook.split("\n## ").skip(1) {
            let name = section.lines().next().unwrap();
            let checks = section
                .lines()
                .filter(|l| {
                    l.split_once(". ")
                        .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
                })
                .count();
            assert!(checks >= 3, "{name}: {checks} checks\n{section}");
            assert!(section.contains("```promql\n"), "{name}: no expression");
            assert!(
                section.contains("(`grafana/shop-"),
                "{name}: no board\n{section}"
            );
        }
        // A check names its metric by the catalogue's Prometheus name.
        assert!(runbook.contains("`sdk_db_client_slow_queries_total`"));
        assert!(runbook.contains("`process_open_fds`"));
    }

    #[test]
    fn templates_become_placeholders() {
        assert_eq!(
            placeholders("p95 of {{ $labels.http_route }} is {{ $value }} s"),
            "p95 of `<http_route>` is `<value>` s"
        );
        assert_eq!(placeholders("no template"), "no template");
        assert_eq!(placeholders("open {{ end"), "open {{ end");
        assert_eq!(anchor("ShopHighLatencyP95"), "shophighlatencyp95");
        assert_eq!(anchor("A b-c_d!"), "a-b-c_d");
    }
}
