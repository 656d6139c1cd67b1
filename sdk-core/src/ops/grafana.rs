//! Grafana dashboards (JSON model, schema 42) for the service: RED per route, database,
//! cache, browser, SDK health, SLOs, runtime and dependencies, and the
//! application's own metrics.
//!
//! Every panel has a description and a unit taken from the catalogue; every query reads
//! the `${datasource}` variable, and the generated recording rules where one exists.

use super::promql::{label, matchers, series, sum_by};
use super::rules::{Names, QUANTILES, SERVICE_LABEL};
use super::spec::Spec;
use super::{GeneratedFile, OpsError};
use crate::catalogue::{
    self, BROWSER_ERRORS, BROWSER_WEB_VITAL_CLS, BROWSER_WEB_VITAL_DURATION,
    BROWSER_WEB_VITAL_PART_DURATION, CACHE_FALLBACKS, CACHE_LOAD_DURATION, CACHE_REQUESTS,
    CALLBACK_PANICS, DB_CLIENT_CONNECTION_COUNT, DB_CLIENT_CONNECTION_MAX,
    DB_CLIENT_CONNECTION_PENDING_REQUESTS, DB_CLIENT_CONNECTION_TIMEOUTS,
    DB_CLIENT_CONNECTION_WAIT_TIME, DB_CLIENT_OPERATION_DURATION, DB_CLIENT_SLOW_QUERIES,
    EXPORTER_DROPPED, HEALTH_CHECK_DURATION, HTTP_CLIENT_REQUEST_DURATION,
    HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_PANICS, HTTP_SERVER_REQUEST_DURATION,
    HTTP_SERVER_RESPONSE_BODY_SIZE, METRIC_OVERFLOW, MetricDef, MetricKind, OPERATION_CANCELLED,
    PROPAGATION_REJECTED, RUM_BEACONS_REJECTED, Unit,
};
use crate::semconv::{browser, cache, db, error, http, sdk, server};
use serde_json::{Value, json};

mod runtime;

/// The Grafana schema version the dashboards are written for.
pub const SCHEMA_VERSION: u32 = 42;

/// A Grafana unit id for a catalogue unit.
fn unit(unit: Unit) -> &'static str {
    match unit {
        Unit::Seconds => "s",
        Unit::Bytes => "bytes",
        Unit::Count(_) => "short",
        Unit::Dimensionless => "none",
    }
}

/// One panel under construction.
struct Panel {
    title: String,
    description: String,
    unit: &'static str,
    /// (PromQL, legend) per target.
    targets: Vec<(String, String)>,
    kind: &'static str,
    /// Series drawn stacked (parts of one whole, such as an HTTP probe's phases).
    stacked: bool,
}

fn panel(title: &str, description: &str, unit: &'static str) -> Panel {
    Panel {
        title: title.to_owned(),
        description: description.to_owned(),
        unit,
        targets: Vec::new(),
        kind: "timeseries",
        stacked: false,
    }
}

impl Panel {
    fn target(mut self, expr: String, legend: &str) -> Self {
        self.targets.push((expr, legend.to_owned()));
        self
    }

    fn stat(mut self) -> Self {
        self.kind = "stat";
        self
    }

    fn stack(mut self) -> Self {
        self.stacked = true;
        self
    }
}

/// Builds dashboards; queries share the spec's selector.
struct Board<'a> {
    spec: &'a Spec,
    n: Names,
}

const RATE: &str = "$__rate_interval";

impl Board<'_> {
    /// `{selector, extra…}`.
    fn sel(&self, extra: &[(&str, &str, &str)]) -> String {
        let extra: Vec<(String, &str, String)> = extra
            .iter()
            .map(|(k, op, v)| (label(k), *op, (*v).to_owned()))
            .collect();
        matchers(&self.spec.selector, &extra)
    }

    /// `{sdk_service="…", extra}` for recorded series.
    fn recorded(&self, extra: &str) -> String {
        format!("{{{SERVICE_LABEL}=\"{}\"{extra}}}", self.spec.service)
    }

    fn rate(
        &self,
        def: &MetricDef,
        suffix: &str,
        by: &[&str],
        extra: &[(&str, &str, &str)],
    ) -> String {
        let by: Vec<String> = by.iter().map(|k| label(k)).collect();
        let by: Vec<&str> = by.iter().map(String::as_str).collect();
        sum_by(
            &by,
            &format!("rate({}{}[{RATE}])", series(def, suffix), self.sel(extra)),
        )
    }

    fn quantile(
        &self,
        q: f64,
        def: &MetricDef,
        by: &[&str],
        extra: &[(&str, &str, &str)],
    ) -> String {
        let mut with_le = vec!["le"];
        with_le.extend_from_slice(by);
        format!(
            "histogram_quantile({q}, {})",
            self.rate(def, "_bucket", &with_le, extra)
        )
    }

    fn gauge(&self, def: &MetricDef, by: &[&str], extra: &[(&str, &str, &str)]) -> String {
        let by: Vec<String> = by.iter().map(|k| label(k)).collect();
        let by: Vec<&str> = by.iter().map(String::as_str).collect();
        sum_by(
            &by,
            &format!("{}{}", def.prometheus_name(), self.sel(extra)),
        )
    }
}

fn legend(keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("{{{{{}}}}}", label(k)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn service(b: &Board<'_>) -> Vec<Panel> {
    let route = [(http::ROUTE, "=~", "$route")];
    let per_route = [http::ROUTE];
    let d = &HTTP_SERVER_REQUEST_DURATION;
    let mut latency = panel(
        "Latency per route",
        "p50, p90, p95 and p99 of request duration per route over 5 minutes (recorded).",
        unit(d.unit),
    );
    for q in QUANTILES {
        latency = latency.target(
            format!(
                "{}{}",
                b.n.route_quantile(q),
                b.recorded(", http_route=~\"$route\"")
            ),
            &format!("p{q} {{{{http_route}}}}"),
        );
    }
    vec![
        panel(
            "Requests per minute",
            "Requests answered per minute, all routes.",
            "reqpm",
        )
        .target(
            format!("{} * 60", b.rate(d, "_count", &[], &[])),
            "requests/min",
        )
        .stat(),
        panel(
            "Error ratio",
            "Share of requests answered with a 5xx status, all routes, over 5 minutes (recorded).",
            "percentunit",
        )
        .target(
            format!("{}{}", b.n.service_errors(), b.recorded("")),
            "5xx ratio",
        )
        .stat(),
        panel(
            "Throughput per route",
            "Requests per minute per route.",
            "reqpm",
        )
        .target(
            format!("{} * 60", b.rate(d, "_count", &per_route, &route)),
            &legend(&per_route),
        ),
        panel(
            "Error ratio per route",
            "Share of requests per route answered with a 5xx status over 5 minutes (recorded).",
            "percentunit",
        )
        .target(
            format!(
                "{}{}",
                b.n.route_errors(),
                b.recorded(", http_route=~\"$route\"")
            ),
            &legend(&per_route),
        ),
        latency,
        panel(
            "Requests by status",
            "Requests per minute by route and status code.",
            "reqpm",
        )
        .target(
            format!(
                "{} * 60",
                b.rate(
                    d,
                    "_count",
                    &[http::ROUTE, http::RESPONSE_STATUS_CODE],
                    &route
                )
            ),
            &legend(&[http::ROUTE, http::RESPONSE_STATUS_CODE]),
        ),
        panel(
            "Active requests",
            HTTP_SERVER_ACTIVE_REQUESTS.description,
            unit(HTTP_SERVER_ACTIVE_REQUESTS.unit),
        )
        .target(
            b.gauge(&HTTP_SERVER_ACTIVE_REQUESTS, &[http::REQUEST_METHOD], &[]),
            &legend(&[http::REQUEST_METHOD]),
        ),
        panel(
            "Response size p95 per route",
            "p95 of response body sizes per route.",
            unit(HTTP_SERVER_RESPONSE_BODY_SIZE.unit),
        )
        .target(
            b.quantile(0.95, &HTTP_SERVER_RESPONSE_BODY_SIZE, &per_route, &route),
            &legend(&per_route),
        ),
        panel("Handler panics", HTTP_SERVER_PANICS.description, "short").target(
            b.rate(&HTTP_SERVER_PANICS, "", &per_route, &[]),
            &legend(&per_route),
        ),
        panel(
            "Outbound requests p95",
            "p95 of outbound HTTP request duration per server.",
            unit(HTTP_CLIENT_REQUEST_DURATION.unit),
        )
        .target(
            b.quantile(0.95, &HTTP_CLIENT_REQUEST_DURATION, &[server::ADDRESS], &[]),
            &legend(&[server::ADDRESS]),
        ),
    ]
}

fn database(b: &Board<'_>) -> Vec<Panel> {
    let d = &DB_CLIENT_OPERATION_DURATION;
    let op = [db::SYSTEM_NAME, db::OPERATION_NAME, db::COLLECTION_NAME];
    let pool = [db::CLIENT_CONNECTION_POOL_NAME];
    vec![
        panel(
            "Query latency p95 by operation",
            "p95 of database operation duration by system, operation and table over 5 minutes (recorded).",
            unit(d.unit),
        )
        .target(
            format!("{}{}", b.n.db_p95(), b.recorded("")),
            &legend(&op),
        ),
        panel("Queries per second", "Database operations per second by operation and table.", "ops")
            .target(b.rate(d, "_count", &op, &[]), &legend(&op)),
        panel("Query errors", "Database operations per second that failed, by error type.", "ops")
            .target(
                b.rate(d, "_count", &[db::OPERATION_NAME, error::TYPE], &[(error::TYPE, "!=", "")]),
                &legend(&[db::OPERATION_NAME, error::TYPE]),
            ),
        panel("Slow queries", DB_CLIENT_SLOW_QUERIES.description, "ops")
            .target(b.rate(&DB_CLIENT_SLOW_QUERIES, "", &op, &[]), &legend(&op)),
        panel(
            "Pool saturation",
            "Connections in use over the pool maximum (recorded); 100 % with requests waiting means exhaustion.",
            "percentunit",
        )
        .target(format!("{}{}", b.n.pool_saturation(), b.recorded("")), &legend(&pool)),
        panel("Pool connections", DB_CLIENT_CONNECTION_COUNT.description, unit(DB_CLIENT_CONNECTION_COUNT.unit))
            .target(
                b.gauge(&DB_CLIENT_CONNECTION_COUNT, &[db::CLIENT_CONNECTION_POOL_NAME, db::CLIENT_CONNECTION_STATE], &[]),
                &legend(&[db::CLIENT_CONNECTION_POOL_NAME, db::CLIENT_CONNECTION_STATE]),
            )
            .target(b.gauge(&DB_CLIENT_CONNECTION_MAX, &pool, &[]), "max {{db_client_connection_pool_name}}")
            .target(
                b.gauge(&DB_CLIENT_CONNECTION_PENDING_REQUESTS, &pool, &[]),
                "pending {{db_client_connection_pool_name}}",
            ),
        panel("Pool timeouts", DB_CLIENT_CONNECTION_TIMEOUTS.description, "ops")
            .target(b.rate(&DB_CLIENT_CONNECTION_TIMEOUTS, "", &pool, &[]), &legend(&pool)),
        panel(
            "Connection wait p95",
            DB_CLIENT_CONNECTION_WAIT_TIME.description,
            unit(DB_CLIENT_CONNECTION_WAIT_TIME.unit),
        )
        .target(b.quantile(0.95, &DB_CLIENT_CONNECTION_WAIT_TIME, &pool, &[]), &legend(&pool)),
    ]
}

fn cache_panels(b: &Board<'_>) -> Vec<Panel> {
    let prefix = [cache::KEY_PREFIX];
    let redis = [(db::SYSTEM_NAME, "=", db::system::REDIS)];
    vec![
        panel(
            "Hit ratio",
            "Cache lookups that hit, by key prefix, over 5 minutes (recorded).",
            "percentunit",
        )
        .target(
            format!("{}{}", b.n.cache_hit(), b.recorded("")),
            &legend(&prefix),
        ),
        panel("Lookups by result", CACHE_REQUESTS.description, "ops").target(
            b.rate(
                &CACHE_REQUESTS,
                "",
                &[cache::KEY_PREFIX, cache::RESULT],
                &[],
            ),
            &legend(&[cache::KEY_PREFIX, cache::RESULT]),
        ),
        panel(
            "Cache command latency p95",
            "p95 of cache server command duration by command.",
            unit(DB_CLIENT_OPERATION_DURATION.unit),
        )
        .target(
            b.quantile(
                0.95,
                &DB_CLIENT_OPERATION_DURATION,
                &[db::OPERATION_NAME],
                &redis,
            ),
            &legend(&[db::OPERATION_NAME]),
        ),
        panel(
            "Load time p95 after a miss",
            CACHE_LOAD_DURATION.description,
            unit(CACHE_LOAD_DURATION.unit),
        )
        .target(
            b.quantile(0.95, &CACHE_LOAD_DURATION, &prefix, &[]),
            &legend(&prefix),
        ),
        panel("Fallbacks", CACHE_FALLBACKS.description, "ops")
            .target(b.rate(&CACHE_FALLBACKS, "", &prefix, &[]), &legend(&prefix)),
    ]
}

fn browser_panels(b: &Board<'_>) -> Vec<Panel> {
    let by = [http::ROUTE, browser::WEB_VITAL_NAME];
    let ratings = [browser::WEB_VITAL_NAME, browser::WEB_VITAL_RATING];
    let parts = [browser::WEB_VITAL_NAME, browser::WEB_VITAL_PART];
    vec![
        panel(
            "Web vitals p75 by route",
            "p75 of LCP, INP, FCP, TTFB and FID by route over 5 minutes (recorded).",
            unit(BROWSER_WEB_VITAL_DURATION.unit),
        )
        .target(
            format!("{}{}", b.n.vital_p75(), b.recorded("")),
            &legend(&by),
        ),
        panel(
            "CLS p75 by route",
            "p75 of Cumulative Layout Shift by route over 5 minutes (recorded).",
            unit(BROWSER_WEB_VITAL_CLS.unit),
        )
        .target(format!("{}{}", b.n.cls_p75(), b.recorded("")), &legend(&by)),
        panel(
            "Reports by rating",
            "Web-vital reports per second by vital and rating.",
            "ops",
        )
        .target(
            b.rate(&BROWSER_WEB_VITAL_DURATION, "_count", &ratings, &[]),
            &legend(&ratings),
        )
        .target(
            b.rate(&BROWSER_WEB_VITAL_CLS, "_count", &ratings, &[]),
            &legend(&ratings),
        ),
        panel(
            "Poor ratings",
            "Share of web-vital reports rated poor, by route and vital (recorded).",
            "percentunit",
        )
        .target(
            format!("{}{}", b.n.rum_poor(), b.recorded("")),
            &legend(&by),
        ),
        panel(
            "LCP sub-parts and INP phases p75",
            "p75 of each part of LCP (time to first byte, resource load delay and duration, \
             element render delay) and INP (input delay, processing, presentation delay) over \
             5 minutes, from the attribution build's beacons: the part that dominates is what \
             to fix.",
            unit(BROWSER_WEB_VITAL_PART_DURATION.unit),
        )
        .target(
            b.quantile(0.75, &BROWSER_WEB_VITAL_PART_DURATION, &parts, &[]),
            &legend(&parts),
        ),
        panel("Browser errors", BROWSER_ERRORS.description, "ops").target(
            b.rate(&BROWSER_ERRORS, "", &[http::ROUTE, error::TYPE], &[]),
            &legend(&[http::ROUTE, error::TYPE]),
        ),
        panel("Rejected beacons", RUM_BEACONS_REJECTED.description, "ops").target(
            b.rate(&RUM_BEACONS_REJECTED, "", &[sdk::REASON], &[]),
            &legend(&[sdk::REASON]),
        ),
    ]
}

fn sdk_health(b: &Board<'_>) -> Vec<Panel> {
    let dropped = [sdk::SIGNAL, sdk::EXPORTER, sdk::REASON];
    vec![
        panel("Dropped telemetry", EXPORTER_DROPPED.description, "ops").target(
            b.rate(&EXPORTER_DROPPED, "", &dropped, &[]),
            &legend(&dropped),
        ),
        panel("Cardinality overflow", METRIC_OVERFLOW.description, "ops").target(
            b.rate(&METRIC_OVERFLOW, "", &[sdk::METRIC], &[]),
            &legend(&[sdk::METRIC]),
        ),
        panel(
            "Rejected trace-context headers",
            PROPAGATION_REJECTED.description,
            "ops",
        )
        .target(
            b.rate(&PROPAGATION_REJECTED, "", &[sdk::PROPAGATOR], &[]),
            &legend(&[sdk::PROPAGATOR]),
        ),
        panel(
            "Cancelled operations",
            OPERATION_CANCELLED.description,
            "ops",
        )
        .target(
            b.rate(&OPERATION_CANCELLED, "", &[sdk::OPERATION], &[]),
            &legend(&[sdk::OPERATION]),
        ),
        panel("Callback panics", CALLBACK_PANICS.description, "ops").target(
            b.rate(&CALLBACK_PANICS, "", &[sdk::CALLBACK], &[]),
            &legend(&[sdk::CALLBACK]),
        ),
        panel(
            "Health check duration p95",
            HEALTH_CHECK_DURATION.description,
            unit(HEALTH_CHECK_DURATION.unit),
        )
        .target(
            b.quantile(
                0.95,
                &HEALTH_CHECK_DURATION,
                &[sdk::CHECK, sdk::CHECK_STATUS],
                &[],
            ),
            &legend(&[sdk::CHECK, sdk::CHECK_STATUS]),
        ),
    ]
}

fn slo_panels(b: &Board<'_>) -> Vec<Panel> {
    let sel = format!(
        "{{sloth_service=\"{}\", sloth_slo=~\"$slo\"}}",
        b.spec.service
    );
    let period = b.spec.period.as_str();
    vec![
        panel(
            "Error budget remaining",
            &format!("Share of the error budget over the {period} period that is left, per SLO."),
            "percentunit",
        )
        .target(format!("slo:period_error_budget_remaining:ratio{sel}"), "{{sloth_slo}}")
        .stat(),
        panel(
            "Current burn rate",
            "How fast each SLO spends its budget now (1 = exactly the budget over the period).",
            "none",
        )
        .target(format!("slo:current_burn_rate:ratio{sel}"), "{{sloth_slo}}"),
        panel(
            "Burn rate over the period",
            &format!("Budget spent so far over the {period} period, in multiples of the allowed rate."),
            "none",
        )
        .target(format!("slo:period_burn_rate:ratio{sel}"), "{{sloth_slo}}"),
        panel(
            "SLI error ratio by window",
            "Bad events over all events per SLO and window, as the burn-rate alerts read them.",
            "percentunit",
        )
        .target(
            format!("{{__name__=~\"slo:sli_error:ratio_rate.*\", sloth_service=\"{}\", sloth_slo=~\"$slo\"}}", b.spec.service),
            "{{sloth_slo}} {{sloth_window}}",
        ),
        panel("Objective", "Target share of good events per SLO.", "percentunit")
            .target(format!("slo:objective:ratio{sel}"), "{{sloth_slo}}")
            .stat(),
    ]
}

fn application(b: &Board<'_>) -> Vec<Panel> {
    catalogue::application()
        .into_iter()
        .map(|def| {
            let by = def.labels;
            match def.kind {
                MetricKind::Counter => panel(def.name, def.description, "ops")
                    .target(b.rate(def, "", by, &[]), &legend(by)),
                MetricKind::Gauge | MetricKind::UpDownCounter => {
                    panel(def.name, def.description, unit(def.unit))
                        .target(b.gauge(def, by, &[]), &legend(by))
                }
                MetricKind::Histogram => {
                    let mut p = panel(def.name, def.description, unit(def.unit));
                    for q in [0.5, 0.95, 0.99] {
                        p = p.target(
                            b.quantile(q, def, by, &[]),
                            &format!("p{} {}", q * 100.0, legend(by)),
                        );
                    }
                    p
                }
            }
        })
        .collect()
}

fn datasource() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

fn variables(b: &Board<'_>, with_route: bool, with_slo: bool) -> Value {
    let mut list = vec![json!({
        "name": "datasource", "label": "Data source", "type": "datasource",
        "query": "prometheus", "current": {}, "hide": 0, "refresh": 1, "regex": "", "options": []
    })];
    let query_var = |name: &str, label_name: &str, query: String| {
        json!({
            "name": name, "label": label_name, "type": "query", "datasource": datasource(),
            "definition": query, "query": {"query": query, "refId": "variable"},
            "includeAll": true, "allValue": ".*", "multi": true, "refresh": 2, "sort": 1,
            "current": {"text": "All", "value": "$__all"}, "hide": 0, "options": [], "regex": ""
        })
    };
    if with_route {
        list.push(query_var(
            "route",
            "Route",
            format!(
                "label_values({}{}, {})",
                series(&HTTP_SERVER_REQUEST_DURATION, "_count"),
                b.sel(&[]),
                label(http::ROUTE)
            ),
        ));
    }
    if with_slo {
        list.push(query_var(
            "slo",
            "SLO",
            format!(
                "label_values(slo:objective:ratio{{sloth_service=\"{}\"}}, sloth_slo)",
                b.spec.service
            ),
        ));
    }
    json!({ "list": list })
}

fn dashboard(
    b: &Board<'_>,
    key: &str,
    title: &str,
    description: &str,
    panels: Vec<Panel>,
) -> Value {
    let service = &b.spec.service;
    let mut out = Vec::new();
    for (i, p) in panels.into_iter().enumerate() {
        let (w, h) = if p.kind == "stat" { (6, 4) } else { (12, 8) };
        let targets: Vec<Value> = p
            .targets
            .iter()
            .enumerate()
            .map(|(j, (expr, legend))| {
                json!({
                    "refId": char::from(b'A' + u8::try_from(j % 26).unwrap_or(0)).to_string(),
                    "datasource": datasource(), "expr": expr, "legendFormat": legend, "range": true
                })
            })
            .collect();
        let mut defaults = json!({"unit": p.unit});
        if p.stacked {
            defaults["custom"] =
                json!({"stacking": {"mode": "normal", "group": "A"}, "fillOpacity": 60});
        }
        out.push(json!({
            "id": i + 1, "type": p.kind, "title": p.title, "description": p.description,
            "datasource": datasource(),
            "gridPos": {"h": h, "w": w, "x": (i % 2) * 12, "y": (i / 2) * 8},
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": true},
                        "tooltip": {"mode": "multi", "sort": "desc"}},
            "targets": targets
        }));
    }
    json!({
        "uid": format!("sdk-{service}-{key}"),
        "title": format!("{service} / {title}"),
        "description": description,
        "tags": ["sdk", service],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": true,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "browser",
        "annotations": {"list": []},
        "links": [{"title": service, "type": "dashboards", "tags": [service], "asDropdown": true}],
        "templating": variables(b, key == "service", key == "slo"),
        "panels": out
    })
}

/// The dashboards generated for `spec` (paths under `grafana/`).
pub(crate) fn files(spec: &Spec) -> Result<Vec<GeneratedFile>, OpsError> {
    let b = Board {
        spec,
        n: Names::of(spec),
    };
    let mut boards = vec![
        (
            "service",
            "Service",
            "Requests, errors and latency per route (RED).",
            service(&b),
        ),
        (
            "database",
            "Database",
            "Query latency, errors, slow queries and the connection pool.",
            database(&b),
        ),
        (
            "cache",
            "Cache",
            "Hit ratio, command latency, loads and fallbacks.",
            cache_panels(&b),
        ),
        (
            "browser",
            "Browser",
            "Core Web Vitals and errors reported by real browsers.",
            browser_panels(&b),
        ),
        (
            "sdk",
            "SDK health",
            "What the instrumentation itself drops, folds or rejects.",
            sdk_health(&b),
        ),
        (
            "slo",
            "SLOs",
            "Error budgets and burn rates of the service level objectives.",
            slo_panels(&b),
        ),
    ];
    boards.push((
        "runtime",
        "Runtime and dependencies",
        "The process and its Tokio runtime, synthetic probes, the Redis server, database \
         insights, cache invalidation and the SDK's periodic collectors.",
        runtime::panels(&b),
    ));
    let app = application(&b);
    if !app.is_empty() {
        boards.push((
            "application",
            "Application",
            "The service's own metrics.",
            app,
        ));
    }
    boards
        .into_iter()
        .map(|(key, title, description, panels)| {
            let model = dashboard(&b, key, title, description, panels);
            let contents = serde_json::to_string_pretty(&model)
                .map_err(|e| OpsError::Serialize(format!("grafana {key}: {e}")))?;
            Ok(GeneratedFile {
                path: format!("grafana/{}-{key}.json", spec.service),
                contents: contents + "\n",
            })
        })
        .collect()
}
