//! The generated operations files on real peers: the demo → Prometheus (1 s scrape and
//! evaluation, the generated rules loaded) → Alertmanager (gossip off, 1 s grouping) → a
//! webhook in this test. Four faults — an error spike on a route, a cache that only
//! misses, an exhausted connection pool and a dead trace collector — each raise their
//! alert at the webhook and resolve it once they stop; meanwhile every generated Grafana
//! panel's query runs against that Prometheus and returns data. The demo's performance
//! budget passes under normal traffic and fails, naming the lines over, under the faults.
//!
//! The burn-rate and rate windows are scaled down by the test's own spec (the generator
//! takes custom windows), never by editing generated files.

mod common;

use common::Demo;
use common::prometheus::{eventually, free_addr};
use sdk_core::ops::budget::{self, Budget, PrometheusApi};
use sdk_core::ops::{self, Spec};
use sdk_core::testing::otlp::OtlpReceiver;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The demo's spec with windows a test can wait for.
const SPEC: &str = r#"
service: demo
selector: {job: demo}
runbook_url: https://runbooks.example/demo.md
labels: {team: demo}
period: 1h
rate_window: 10s
burn_rate:
  page: [{long: 30s, short: 10s, factor: 14.4}]
  ticket: [{long: 2m, short: 30s, factor: 3}]
slos:
  - name: requests-availability
    description: Requests are answered without a server error.
    objective: 99
    sli: {kind: availability}
  - name: users-latency
    description: User lookups are answered within 250 ms.
    objective: 95
    sli: {kind: latency, threshold: 0.25, routes: ["/users/{id}"]}
  - name: lcp-good
    description: Pages paint their largest content within 2.5 s.
    objective: 75
    sli: {kind: web_vital, name: LCP}
alerts: {for: 2s, latency_p95: 0.5, error_ratio: 0.05, cache_hit_ratio: 0.5, slow_queries_per_second: 100, rum_poor_ratio: 0.9}
anomaly: {enabled: true, k: 3, min_request_rate: 0.1, for: 1m}
"#;

/// The alerts the four faults must raise, and the label that tells their alert apart.
const EXPECTED: [(&str, &str); 4] = [
    ("DemoHighErrorRatio", "error spike on /fail"),
    ("DemoCacheHitRatioLow", "cache that only misses"),
    ("DemoDbPoolExhausted", "exhausted pool"),
    ("DemoTelemetryDropped", "dead trace collector"),
];

/// Panels whose signal only exists after an event this run does not cause.
const EVENT_ONLY: [&str; 12] = [
    "Handler panics",
    "Callback panics",
    "Cardinality overflow",
    "Cancelled operations",
    "Pool timeouts",
    "Fallbacks",
    "Query errors",
    // The runtime board's rare events: a slow query's plan finding, a stale cached value
    // served, an invalidation, a CPU profile taken, a large value stored (another demo on
    // the same Redis may have stored the users' list already).
    "Slow-query plan findings",
    "Stale serves",
    "Cache invalidations",
    "CPU profiles",
    "Compression savings",
];

/// A peer process, killed when dropped.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(program: &str, args: &[String]) -> Peer {
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {program}: {e}; `cargo xtask test` installs it (Debian prometheus, prometheus-alertmanager)")
        });
    Peer(child)
}

/// Notifications received by the webhook: (alertname, status) → first arrival.
type Seen = Arc<Mutex<BTreeMap<(String, String), Instant>>>;

/// Serves the webhook on `listener`, bound before Alertmanager is told its address.
async fn webhook(listener: tokio::net::TcpListener, seen: Seen) {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let seen = Arc::clone(&seen);
            async move {
                let now = Instant::now();
                let mut seen = seen.lock().unwrap();
                for alert in body["alerts"].as_array().into_iter().flatten() {
                    let name = alert["labels"]["alertname"].as_str().unwrap_or_default();
                    let status = alert["status"].as_str().unwrap_or_default();
                    seen.entry((name.to_owned(), status.to_owned()))
                        .or_insert(now);
                }
                "ok"
            }
        }),
    );
    axum::serve(listener, app).await.unwrap();
}

fn arrival(seen: &Seen, name: &str, status: &str) -> Option<Instant> {
    seen.lock()
        .unwrap()
        .get(&(name.to_owned(), status.to_owned()))
        .copied()
}

/// Repeats `request` until `stop` is set.
fn keep_sending<F>(
    stop: &Arc<AtomicBool>,
    pause: Duration,
    request: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(u64) -> reqwest::RequestBuilder + Send + 'static,
{
    let stop = Arc::clone(stop);
    tokio::spawn(async move {
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            let _ = request(i).send().await.map(|r| r.bytes());
            i += 1;
            tokio::time::sleep(pause).await;
        }
    })
}

const BEACON: &str = r##"{"service":"demo","route":"/app","vitals":[
 {"name":"LCP","value":1830.5,"delta":1830.5,"id":"v6-1-1","rating":"good","navigationType":"navigate",
  "attribution":{"target":"#hero","url":"https://shop.example/hero.png","timeToFirstByte":120,
  "resourceLoadDelay":210.5,"resourceLoadDuration":1400,"elementRenderDelay":100}},
 {"name":"INP","value":320,"delta":320,"id":"v6-1-2","rating":"needs-improvement","navigationType":"navigate",
  "attribution":{"target":"#buy","interactionType":"pointer","inputDelay":4,"processingDuration":300,
  "presentationDelay":16,"loadState":"complete"}},
 {"name":"CLS","value":0.05,"delta":0.05,"id":"v6-1-3","rating":"good","navigationType":"navigate"}],
 "errors":[{"kind":"error","message":"TypeError: x is undefined"}]}"##;

async fn query(client: &reqwest::Client, prometheus: &str, expr: &str) -> Value {
    client
        .get(format!("{prometheus}/api/v1/query"))
        .query(&[("query", expr)])
        .send()
        .await
        .expect("Prometheus answers")
        .bytes()
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .expect("Prometheus answers JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_raise_and_resolve_their_alerts_and_every_panel_has_data() {
    let dir = tempfile::tempdir().unwrap();
    sdk_core::catalogue::register(demo::APP_METRICS).unwrap();
    let spec = Spec::from_yaml(SPEC).unwrap();
    let files = ops::generate(&spec).unwrap();
    ops::write(dir.path(), &files).unwrap();

    // The trace collector is down from the start: nothing listens at its address.
    let collector = free_addr();
    let postgres = std::env::var("SDK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let (mut demo, demo_addr) = Demo::start(&[
        ("OTEL_SERVICE_NAME", "demo"),
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            &format!("http://{collector}"),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ("OTEL_METRICS_EXPORTER", "prometheus"),
        ("DATABASE_URL", &postgres),
        ("SDK_DB_SLOW_QUERY_MS", "100"),
        // The runtime board's HTTP probe panels: the demo probes its own liveness route.
        ("DEMO_PROBE_SELF", "true"),
    ]);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    tokio::spawn(webhook(listener, Arc::clone(&seen)));

    let am = free_addr();
    std::fs::write(
        dir.path().join("alertmanager.yml"),
        format!(
            "route: {{receiver: hook, group_by: ['...'], group_wait: 1s, group_interval: 1s, repeat_interval: 1h}}\n\
             receivers: [{{name: hook, webhook_configs: [{{url: 'http://{hook}/hook', send_resolved: true}}]}}]\n"
        ),
    )
    .unwrap();
    let _alertmanager = start(
        "prometheus-alertmanager",
        &[
            format!(
                "--config.file={}",
                dir.path().join("alertmanager.yml").display()
            ),
            format!("--storage.path={}", dir.path().join("am").display()),
            format!("--web.listen-address={am}"),
            "--cluster.listen-address=".to_owned(),
        ],
    );

    let prom = free_addr();
    let rule_files: Vec<String> = files
        .iter()
        .filter(|f| f.path.ends_with("rules.yml") || f.path.ends_with("alerts.yml"))
        .map(|f| format!("'{}'", f.path))
        .collect();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             rule_files: [{}]\n\
             alerting: {{alertmanagers: [{{static_configs: [{{targets: ['{am}']}}]}}]}}\n\
             scrape_configs: [{{job_name: demo, static_configs: [{{targets: ['{demo_addr}']}}]}}]\n",
            rule_files.join(", ")
        ),
    )
    .unwrap();
    let _prometheus = start(
        "prometheus",
        &[
            format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ),
            format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()),
            format!("--web.listen-address={prom}"),
        ],
    );
    let prometheus = format!("http://{prom}");
    let client = reqwest::Client::new();
    eventually(
        "the demo target to be up in Prometheus",
        Duration::from_secs(60),
        async || {
            let targets: Value = client
                .get(format!("{prometheus}/api/v1/targets"))
                .send()
                .await
                .ok()?
                .bytes()
                .await
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())?;
            (targets["data"]["activeTargets"][0]["health"] == "up").then_some(())
        },
    )
    .await;
    eventually(
        "Alertmanager to be ready",
        Duration::from_secs(30),
        async || {
            let ready = client
                .get(format!("http://{am}/-/ready"))
                .send()
                .await
                .ok()?;
            ready.status().is_success().then_some(())
        },
    )
    .await;

    // Normal traffic throughout, so every panel has something to show.
    let base = format!("http://{demo_addr}");
    let always = Arc::new(AtomicBool::new(false));
    let mut normal = Vec::new();
    for path in [
        "/users/7",
        "/cached/users/7",
        "/cached/users",
        "/events/kind-1/count",
        "/chain",
        "/health/ready",
        "/work",
        "/",
    ] {
        let (c, url) = (client.clone(), format!("{base}{path}"));
        normal.push(keep_sending(
            &always,
            Duration::from_millis(250),
            move |_| c.get(&url).header("traceparent", "00-bad"),
        ));
    }
    let (c, url) = (client.clone(), format!("{base}/rum"));
    normal.push(keep_sending(
        &always,
        Duration::from_millis(200),
        move |i| {
            // Every tenth beacon is hostile and refused (counted by reason).
            let body = if i % 10 == 0 {
                "{".to_owned()
            } else {
                BEACON.to_owned()
            };
            c.post(&url)
                .header("content-type", "application/json")
                .body(body)
        },
    ));

    // The demo's budget, over the last 15 s (the bundle is checked where it is built).
    let mut budget = Budget::from_yaml(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ops/budget.yaml"))
            .unwrap(),
    )
    .unwrap();
    budget.window = ops::spec::Window::parse("15s").unwrap();
    budget.rum_bundle_bytes = None;
    let api = PrometheusApi::new(prometheus.clone());
    let mut last = String::new();
    let check_budget = |api: PrometheusApi, budget: Budget| async move {
        tokio::task::spawn_blocking(move || budget::check(&budget, &api, None))
            .await
            .unwrap()
            .unwrap()
    };
    let within = eventually(
        "the budget to pass under normal traffic",
        Duration::from_secs(60),
        async || {
            let report = check_budget(api.clone(), budget.clone()).await;
            last = report.table();
            report.passed().then_some(report)
        },
    )
    .await;
    eprintln!("budget under normal traffic:\n{}", within.table());
    let _ = last;

    // The faults.
    let faulty = Arc::new(AtomicBool::new(false));
    let fault_start = Instant::now();
    let mut faults = Vec::new();
    let (c, url) = (client.clone(), format!("{base}/fail"));
    faults.push(keep_sending(
        &faulty,
        Duration::from_millis(20),
        move |_| c.get(&url),
    ));
    for lane in 0..4 {
        // Each key once: every lookup misses (and loads, waiting for the exhausted pool,
        // hence several lanes).
        let (c, url) = (client.clone(), format!("{base}/cached/users"));
        faults.push(keep_sending(&faulty, Duration::from_millis(20), move |i| {
            c.get(format!("{url}/{}", 1_000_000 * (lane + 1) + i))
        }));
    }
    for _ in 0..12 {
        let (c, url) = (client.clone(), format!("{base}/slow"));
        faults.push(keep_sending(&faulty, Duration::ZERO, move |_| c.get(&url)));
    }

    let mut fired = Vec::new();
    for (name, fault) in EXPECTED {
        let at = eventually(
            &format!("{name} to reach the webhook ({fault})"),
            Duration::from_secs(90),
            async || arrival(&seen, name, "firing"),
        )
        .await;
        fired.push((name, fault, at.duration_since(fault_start)));
    }

    let report = check_budget(api.clone(), budget.clone()).await;
    let table = report.table();
    eprintln!("budget under the faults:\n{table}");
    assert!(
        !report.passed(),
        "the budget passed under the faults:\n{table}"
    );
    for line in ["error ratio (service)", "cache hit ratio"] {
        assert!(
            report.lines.iter().any(|l| l.what == line && l.over),
            "{line} is not over budget under the faults:\n{table}"
        );
    }

    // Every panel's query, variables substituted, parses and (but for event-only panels)
    // returns data while the faults and the traffic run.
    let mut panels = 0;
    let mut empty = Vec::new();
    for file in files.iter().filter(|f| f.path.starts_with("grafana/")) {
        let board: Value = serde_json::from_str(&file.contents).unwrap();
        for panel in board["panels"].as_array().unwrap() {
            panels += 1;
            let title = panel["title"].as_str().unwrap();
            assert!(
                panel["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{}: panel {title} has no description",
                file.path
            );
            assert!(
                panel["fieldConfig"]["defaults"]["unit"]
                    .as_str()
                    .is_some_and(|u| !u.is_empty()),
                "{}: panel {title} has no unit",
                file.path
            );
            assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
            for target in panel["targets"].as_array().unwrap() {
                let expr = target["expr"]
                    .as_str()
                    .unwrap()
                    .replace("$__rate_interval", "15s")
                    .replace("$route", ".*")
                    .replace("$slo", ".*");
                let answer = query(&client, &prometheus, &expr).await;
                assert_eq!(answer["status"], "success", "{title}: {expr}: {answer}");
                let has_data = answer["data"]["result"]
                    .as_array()
                    .is_some_and(|r| !r.is_empty());
                if !has_data && !EVENT_ONLY.contains(&title) {
                    empty.push(format!("{}: {title}: {expr}", file.path));
                }
            }
        }
    }
    assert!(
        empty.is_empty(),
        "panels without data:\n{}",
        empty.join("\n")
    );

    // The faults stop; the collector comes back where it was.
    faulty.store(true, Ordering::Relaxed);
    for task in faults {
        task.await.unwrap();
    }
    let fault_end = Instant::now();
    let receiver =
        OtlpReceiver::start_with_http_at(collector).expect("collector back on its address");

    let mut resolved = Vec::new();
    for (name, fault) in EXPECTED {
        let at = eventually(
            &format!("{name} to resolve at the webhook ({fault} stopped)"),
            Duration::from_secs(90),
            async || arrival(&seen, name, "resolved"),
        )
        .await;
        resolved.push(at.duration_since(fault_end));
    }
    always.store(true, Ordering::Relaxed);
    for task in normal {
        task.await.unwrap();
    }
    assert!(
        !receiver.spans().is_empty(),
        "the collector received no spans after coming back"
    );

    eprintln!(
        "| alert | fault | fault start → firing at webhook | fault end → resolved at webhook |"
    );
    eprintln!("|---|---|---|---|");
    for ((name, fault, firing), resolved) in fired.iter().zip(&resolved) {
        eprintln!(
            "| {name} | {fault} | {:.1} s | {:.1} s |",
            firing.as_secs_f64(),
            resolved.as_secs_f64()
        );
    }
    eprintln!("{panels} panels queried, none empty but the event-only ones");
    let _ = demo.child.kill();
    let _ = demo.child.wait();
    drop(dir);
}
