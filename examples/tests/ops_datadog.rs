//! The demo's Datadog dashboard and monitors, generated from `examples/ops/spec.yaml` and
//! the catalogue, read back through the typed API v1 models of Datadog's own client:
//! every key is one the model knows, every shape one it recognises, and writing the
//! models again gives the generated JSON. Every metric query is checked against the
//! datagrams the DogStatsD exporter really sends: metric names, metric types and tag keys.
//!
//! Longer than most test files: the DogStatsD capture and the query reader live with the
//! checks that use them.

use datadog_api_client::datadogV1::model::{
    Dashboard, FormulaAndFunctionMetricDataSource, FormulaAndFunctionQueryDefinition, Monitor,
    MonitorType, Widget, WidgetDefinition, WidgetFormula,
};
use sdk_core::catalogue::{self, MetricKind};
use sdk_core::config::Config;
use sdk_core::ops::{self, GeneratedFile};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn ops_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ops")
}

fn spec() -> ops::Spec {
    ops::read_spec(&ops_dir().join("spec.yaml")).unwrap()
}

fn generated() -> Vec<GeneratedFile> {
    catalogue::register(demo::APP_METRICS).unwrap();
    ops::generate(&spec()).unwrap()
}

fn json(files: &[GeneratedFile], path: &str) -> Value {
    let file = files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} was not generated"));
    serde_json::from_str(&file.contents).unwrap()
}

fn dashboard_json() -> Value {
    json(&generated(), "datadog/demo-dashboard.json")
}

fn monitors_json() -> Value {
    json(&generated(), "datadog/demo-monitors.json")
}

/// `value` without nulls (the models write absent optional fields as `null`) and with
/// every number as a float (the models read thresholds into `f64`).
fn normalized(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        Value::Number(n) => serde_json::json!(n.as_f64().unwrap()),
        other => other.clone(),
    }
}

/// Catches what the typed checks below do not reach: a model puts keys it does not know
/// into `additional_properties` and shapes it does not recognise into `UnparsedObject`.
fn assert_fully_parsed(what: &str, model: &impl std::fmt::Debug) {
    let text = format!("{model:?}");
    assert!(
        text.contains("additional_properties: "),
        "{what}: the model's Debug output no longer shows its maps"
    );
    assert!(
        !text.contains("UnparsedObject"),
        "{what}: a shape the model does not recognise: {text}"
    );
    for (at, _) in text.match_indices("additional_properties: ") {
        let rest = &text[at + "additional_properties: ".len()..];
        assert!(
            rest.starts_with("{}"),
            "{what}: keys unknown to the model: {}",
            &rest[..rest.len().min(200)]
        );
    }
}

fn assert_no_extra(what: &str, extra: &BTreeMap<String, Value>) {
    assert!(
        extra.is_empty(),
        "{what}: keys unknown to the model: {extra:?}"
    );
}

fn check_requests(
    at: &str,
    requests: impl Iterator<
        Item = (
            BTreeMap<String, Value>,
            Option<Vec<FormulaAndFunctionQueryDefinition>>,
            Option<Vec<WidgetFormula>>,
        ),
    >,
) {
    let mut any = false;
    for (i, (extra, queries, formulas)) in requests.enumerate() {
        any = true;
        let at = format!("{at}.requests[{i}]");
        assert_no_extra(&at, &extra);
        for query in queries.unwrap_or_else(|| panic!("{at}: no queries")) {
            match query {
                FormulaAndFunctionQueryDefinition::FormulaAndFunctionMetricQueryDefinition(q) => {
                    assert_no_extra(&format!("{at} {}", q.name), &q.additional_properties);
                    assert_eq!(q.data_source, FormulaAndFunctionMetricDataSource::METRICS);
                }
                other => panic!("{at}: not a metric query: {other:?}"),
            }
        }
        let formulas = formulas.unwrap_or_else(|| panic!("{at}: no formulas"));
        assert!(!formulas.is_empty(), "{at}: no formulas");
        for f in formulas {
            assert_no_extra(&format!("{at} {}", f.formula), &f.additional_properties);
        }
    }
    assert!(any, "{at}: no requests");
}

/// Walks the widgets through their typed definitions; returns how many leaves it saw.
fn check_widgets(path: &str, widgets: &[Widget]) -> usize {
    let mut leaves = 0;
    for (i, widget) in widgets.iter().enumerate() {
        let at = format!("{path}.widgets[{i}]");
        // The three kinds of leaf widget share the request fields checked here.
        macro_rules! leaf {
            ($d:expr) => {{
                assert_no_extra(&at, &$d.additional_properties);
                check_requests(
                    &at,
                    $d.requests.iter().map(|r| {
                        (
                            r.additional_properties.clone(),
                            r.queries.clone(),
                            r.formulas.clone(),
                        )
                    }),
                );
                leaves += 1;
                $d.title.clone()
            }};
        }
        assert_no_extra(&at, &widget.additional_properties);
        let title = match &widget.definition {
            WidgetDefinition::GroupWidgetDefinition(g) => {
                assert_no_extra(&at, &g.additional_properties);
                leaves += check_widgets(&at, &g.widgets);
                g.title.clone()
            }
            WidgetDefinition::TimeseriesWidgetDefinition(d) => leaf!(d),
            WidgetDefinition::QueryValueWidgetDefinition(d) => leaf!(d),
            WidgetDefinition::ToplistWidgetDefinition(d) => leaf!(d),
            other => panic!("{at}: unexpected widget {other:?}"),
        };
        assert!(
            title.is_some_and(|t| !t.trim().is_empty()),
            "{at} has no title"
        );
    }
    leaves
}

#[test]
fn the_dashboard_is_a_datadog_dashboard() {
    let generated = dashboard_json();
    let dashboard: Dashboard = serde_json::from_value(generated.clone()).unwrap();
    assert_no_extra("dashboard", &dashboard.additional_properties);
    assert_fully_parsed("dashboard", &dashboard);
    let variables = dashboard.template_variables.clone().flatten().unwrap();
    for v in &variables {
        assert_no_extra(&v.name, &v.additional_properties);
    }
    let service = variables.iter().find(|v| v.name == "service").unwrap();
    assert_eq!(service.defaults.as_deref(), Some(&[spec().service][..]));
    assert!(variables.iter().any(|v| v.name == "env"));
    let leaves = check_widgets("dashboard", &dashboard.widgets);
    assert!(
        leaves >= 40,
        "only {leaves} widgets: a section went missing"
    );
    let written = serde_json::to_value(&dashboard).unwrap();
    assert_eq!(
        normalized(&written),
        normalized(&generated),
        "the typed model does not write back the generated dashboard"
    );
}

#[test]
fn the_monitors_are_datadog_monitors() {
    let spec = spec();
    let generated = monitors_json();
    let monitors: Vec<Monitor> = serde_json::from_value(generated.clone()).unwrap();
    assert_fully_parsed("monitors", &monitors);
    for m in &monitors {
        let name = m.name.clone().unwrap_or_default();
        assert_no_extra(&name, &m.additional_properties);
        assert_eq!(m.type_, MonitorType::QUERY_ALERT, "{name}");
        let options = m.options.as_ref().unwrap();
        assert_no_extra(&name, &options.additional_properties);
        // No traffic, no value: Datadog drops a zero denominator; no-data stays quiet.
        assert_eq!(options.notify_no_data, Some(false), "{name}");
        assert_eq!(options.require_full_window, Some(false), "{name}");
        let thresholds = options.thresholds.as_ref().unwrap();
        assert_no_extra(&name, &thresholds.additional_properties);
        let in_query: f64 = m.query.rsplit(' ').next().unwrap().parse().unwrap();
        assert_eq!(thresholds.critical, Some(in_query), "{name}: {}", m.query);
        let tags = m.tags.clone().unwrap();
        assert!(
            tags.contains(&format!("service:{}", spec.service)),
            "{name}"
        );
        assert!(
            tags.contains(&"severity:critical".to_owned())
                || tags.contains(&"severity:warning".to_owned()),
            "{name}: {tags:?}"
        );
        for (k, v) in &spec.labels {
            assert!(tags.contains(&format!("{k}:{v}")), "{name}: {tags:?}");
        }
        let alert = name.split(" (").next().unwrap();
        let runbook = format!("{}#{}", spec.runbook_url, alert.to_lowercase());
        assert!(
            m.message.as_deref().unwrap().contains(&runbook),
            "{name}: no link to {runbook}"
        );
    }
    let written = serde_json::to_value(&monitors).unwrap();
    assert_eq!(
        normalized(&written),
        normalized(&generated),
        "the typed model does not write back the generated monitors"
    );
}

/// The alerts of the Prometheus side (burn rates and symptoms; the anomaly bands are
/// Prometheus-only) and the monitors are the same set of names.
#[test]
fn every_prometheus_alert_has_its_monitors() {
    let files = generated();
    let mut prometheus = BTreeSet::new();
    for file in files
        .iter()
        .filter(|f| f.path == "demo.alerts.yml" || f.path == "demo-slo.rules.yml")
    {
        let doc: Value = serde_saphyr::from_str(&file.contents).unwrap();
        for group in doc["groups"].as_array().unwrap() {
            for rule in group["rules"].as_array().unwrap() {
                if let Some(alert) = rule["alert"].as_str() {
                    prometheus.insert(alert.to_owned());
                }
            }
        }
    }
    let monitors: BTreeSet<String> = json(&files, "datadog/demo-monitors.json")
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["name"]
                .as_str()
                .unwrap()
                .split(" (")
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(monitors, prometheus);
}

/// What the DogStatsD exporter sends for one metric.
#[derive(Debug)]
struct Emitted {
    /// `c`, `g` or `d`.
    kind: String,
    tags: BTreeMap<String, String>,
}

/// Records every catalogue metric (SDK and application) once, with every label it
/// allows, through the real DogStatsD exporter, and reads the datagrams back.
fn emitted(service: &str) -> BTreeMap<String, Emitted> {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let config = Config::builder()
        .service_name(service)
        .environment("ci")
        .service_version("1.0.0")
        .build_from_vars::<&str, &str>([])
        .unwrap();
    let addr = socket.local_addr().unwrap().to_string();
    let recorder = sdk_core::export::dogstatsd::recorder(&config, &addr).unwrap();
    let defs = catalogue::all();
    metrics::with_local_recorder(&recorder, || {
        for def in &defs {
            let labels: Vec<(&'static str, metrics::SharedString)> = def
                .labels
                .iter()
                .map(|k| (*k, metrics::SharedString::const_str("x")))
                .collect();
            match def.kind {
                MetricKind::Counter => def.counter(&labels).increment(1),
                MetricKind::Gauge | MetricKind::UpDownCounter => def.gauge(&labels).set(1.0),
                MetricKind::Histogram => def.histogram(&labels).record(1.0),
            }
        }
    });
    let mut out = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = vec![0u8; 65_536];
    while out.len() < defs.len() && Instant::now() < deadline {
        let Ok(n) = socket.recv(&mut buf) else {
            continue;
        };
        for line in std::str::from_utf8(&buf[..n]).unwrap().lines() {
            let mut sections = line.split('|');
            let name = sections.next().unwrap().split(':').next().unwrap();
            let kind = sections.next().unwrap().to_owned();
            let tags = sections
                .filter_map(|s| s.strip_prefix('#'))
                .flat_map(|list| list.split(','))
                .map(|tag| {
                    let (k, v) = tag.split_once(':').unwrap_or((tag, ""));
                    (k.to_owned(), v.to_owned())
                })
                .collect();
            out.insert(name.to_owned(), Emitted { kind, tags });
        }
    }
    out
}

/// One metric inside a query: `aggregator:name{filter} by {keys}` and its modifier.
#[derive(Debug)]
struct Reference {
    aggregator: String,
    name: String,
    /// Filter terms (`service:demo`, `!key:value`, `key IN (…)`, `$service`).
    terms: Vec<String>,
    by: Vec<String>,
    /// `.as_count()` or `.as_rate()` after it.
    counted: bool,
}

fn references(query: &str) -> Vec<Reference> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '_';
    let mut out = Vec::new();
    let mut rest = query;
    while let Some(open) = rest.find('{') {
        let head = &rest[..open];
        let start = head.rfind(|c: char| !is_name(c)).map_or(0, |i| i + 1);
        let name = &head[start..];
        let before = head[..start]
            .strip_suffix(':')
            .unwrap_or_else(|| panic!("no aggregator before {name} in {query}"));
        let aggregator = if before.ends_with(')') {
            &before[before.rfind("count(v:").unwrap()..]
        } else {
            let from = before
                .rfind(|c: char| !c.is_ascii_alphanumeric())
                .map_or(0, |i| i + 1);
            &before[from..]
        };
        let close = open + rest[open..].find('}').unwrap();
        let filter = &rest[open + 1..close];
        rest = &rest[close + 1..];
        let mut by = Vec::new();
        if let Some(keys) = rest.strip_prefix(" by {") {
            let end = keys.find('}').unwrap();
            by = keys[..end].split(',').map(str::to_owned).collect();
            rest = &keys[end + 1..];
        }
        let joiner = if filter.contains(" AND ") {
            " AND "
        } else {
            ","
        };
        out.push(Reference {
            aggregator: aggregator.to_owned(),
            name: name.to_owned(),
            terms: filter.split(joiner).map(str::to_owned).collect(),
            by,
            counted: rest.starts_with(".as_count()") || rest.starts_with(".as_rate()"),
        });
    }
    out
}

/// The tag key a filter term tests, and the value when it is an exact match.
fn term_key(term: &str) -> (String, Option<String>) {
    let term = term.trim_start_matches('!');
    if let Some(variable) = term.strip_prefix('$') {
        return (variable.to_owned(), None);
    }
    if let Some((key, _)) = term.split_once(" IN (") {
        return (key.to_owned(), None);
    }
    let (key, value) = term.split_once(':').unwrap();
    (key.to_owned(), Some(value.to_owned()))
}

#[test]
fn every_query_reads_what_dogstatsd_sends() {
    let files = generated();
    let spec = spec();
    let emitted = emitted(&spec.service);
    assert_eq!(
        emitted.len(),
        catalogue::all().len(),
        "the exporter did not send every catalogue metric: {:?}",
        emitted.keys()
    );
    let mut queries = Vec::new();
    fn collect(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if map.get("data_source").and_then(Value::as_str) == Some("metrics") {
                    out.push(map["query"].as_str().unwrap().to_owned());
                }
                map.values().for_each(|v| collect(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    collect(&json(&files, "datadog/demo-dashboard.json"), &mut queries);
    let dashboard_queries = queries.len();
    for m in json(&files, "datadog/demo-monitors.json")
        .as_array()
        .unwrap()
    {
        queries.push(m["query"].as_str().unwrap().to_owned());
    }
    assert!(dashboard_queries > 40 && queries.len() > dashboard_queries);
    let mut seen = BTreeSet::new();
    for query in &queries {
        seen.extend(check_query(query, &emitted));
    }
    // Every application metric has its widget.
    for def in catalogue::application() {
        assert!(seen.contains(def.name), "{} is on no widget", def.name);
    }
}

/// Checks every metric `query` reads against what the exporter sent: the name, the type
/// its aggregator and modifier expect, and every tag key it filters or groups by (and
/// the `service` tag's value). Returns the metric names.
fn check_query(query: &str, emitted: &BTreeMap<String, Emitted>) -> Vec<String> {
    let refs = references(query);
    assert!(!refs.is_empty(), "no metric in {query}");
    let mut names = Vec::new();
    for r in refs {
        let sent = emitted.get(&r.name).unwrap_or_else(|| {
            panic!(
                "{} is not a metric the DogStatsD exporter sends: {query}",
                r.name
            )
        });
        let distribution = r.aggregator.starts_with('p') || r.aggregator.starts_with("count");
        let expected = match (distribution, r.counted) {
            (true, _) => "d",
            (false, true) => "c",
            (false, false) => "g",
        };
        assert_eq!(
            sent.kind, expected,
            "{} is sent as `{}`, but `{}:` (counted: {}) reads a `{expected}`: {query}",
            r.name, sent.kind, r.aggregator, r.counted
        );
        let keys = r
            .terms
            .iter()
            .map(|t| term_key(t))
            .chain(r.by.iter().map(|k| (k.clone(), None)));
        for (key, value) in keys {
            let tag = sent
                .tags
                .get(&key)
                .unwrap_or_else(|| panic!("{} is not sent with a `{key}` tag: {query}", r.name));
            if key == "service" {
                assert_eq!(value.as_deref().unwrap_or(tag), tag, "{query}");
            }
        }
        names.push(r.name);
    }
    names
}

/// The checks are not vacuous: an unknown key, an unknown widget type, a misspelt metric,
/// a wrong aggregator or tag key each fail them.
#[test]
fn the_checks_catch_what_datadog_would_not_take() {
    let fails = |what: &str, f: &dyn Fn()| {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        assert!(caught.is_err(), "{what} went unnoticed");
    };
    let generated = dashboard_json();
    let leaf = "/widgets/0/definition/widgets/2/definition";
    let mut unknown_key = generated.clone();
    unknown_key
        .pointer_mut(&format!("{leaf}/requests/0"))
        .unwrap()["colour"] = "red".into();
    let dashboard: Dashboard = serde_json::from_value(unknown_key).unwrap();
    fails("an unknown request key", &|| {
        check_widgets("dashboard", &dashboard.widgets);
    });
    fails("an unknown request key (Debug scan)", &|| {
        assert_fully_parsed("dashboard", &dashboard)
    });
    let mut unknown_type = generated.clone();
    unknown_type.pointer_mut(leaf).unwrap()["type"] = "timeseriez".into();
    let dashboard: Dashboard = serde_json::from_value(unknown_type).unwrap();
    fails("an unknown widget type", &|| {
        check_widgets("dashboard", &dashboard.widgets);
    });
    fails("an unknown widget type (Debug scan)", &|| {
        assert_fully_parsed("dashboard", &dashboard)
    });
    catalogue::register(demo::APP_METRICS).unwrap();
    let emitted = emitted(&spec().service);
    check_query(
        "sum:sdk.exporter.dropped{$service,$env} by {sdk.signal}.as_count()",
        &emitted,
    );
    for bad in [
        "sum:sdk.exporter.droped{$service,$env}.as_count()",
        "p95:sdk.exporter.dropped{$service,$env}",
        "sum:sdk.exporter.dropped{$service,$env} by {sdk.signals}.as_count()",
        "sum:sdk.exporter.dropped{service:other}.as_count()",
        "sum:http.server.request.duration{$service,$env}.as_count()",
    ] {
        fails(bad, &|| {
            check_query(bad, &emitted);
        });
    }
}
