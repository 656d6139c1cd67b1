//! The operations page end to end, in headless Chromium driven through ChromeDriver
//! (`$CHROMEDRIVER`, else `/usr/bin/chromedriver`): every figure the page shows is
//! recomputed here from the exposition it computed from (`window.__opsSnapshot`, and the
//! previous one for the window figures), with Prometheus' `histogram_quantile`, and must be
//! equal to the bit; the snapshot must agree with `/metrics` fetched right after.

mod common;

use common::browser::Browser;
use common::exposition::{
    Histogram, Sample, histogram_by, histogram_quantile, increase, parse, sum_by, value,
};
use common::{Demo, get};
use sdk_core::catalogue::{
    BROWSER_WEB_VITAL_CLS, BROWSER_WEB_VITAL_DURATION, CACHE_REQUESTS,
    DB_CLIENT_OPERATION_DURATION, DB_CLIENT_SLOW_QUERIES, EXPORTER_DROPPED,
    HTTP_SERVER_REQUEST_DURATION,
};
use sdk_core::ops::Spec;
use sdk_core::ops::spec::Sli;
use sdk_core::rum::VitalName;
use sdk_core::semconv::{browser, cache, db, http, sdk};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long any wait may take on a loaded machine before the test gives up.
const WAIT: Duration = Duration::from_secs(90);
const QUANTILES: [(&str, f64); 3] = [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)];
/// What the page shows about its refreshing when a wait times out.
const DIAGNOSTICS: &str = "JSON.stringify({refreshes: window.__opsRefreshes, error: window.__opsError, \
     status: (document.getElementById('status') || {}).textContent})";
/// Everything the page shows, read in one turn of its event loop (a refresh cannot land in
/// the middle). The window length goes as text so no JSON float parsing rounds it.
const STATE: &str = "(() => {
  const fields = Array.from(document.querySelectorAll('[data-panel][data-field]'), (e) => {
    const a = {};
    for (const attr of e.attributes) if (attr.name.startsWith('data-')) a[attr.name.slice(5)] = attr.value;
    a.text = e.textContent;
    return a;
  });
  return {
    refreshes: window.__opsRefreshes,
    snapshot: window.__opsSnapshot,
    previous: window.__opsPrevious,
    seconds: window.__opsWindowSeconds === null ? null : String(window.__opsWindowSeconds),
    error: window.__opsError,
    fields,
    text: document.body.innerText,
  };
})()";

/// A displayed figure's identity: its `data-*` attributes but `data-value`.
type Key = BTreeMap<String, String>;

fn key(pairs: &[(&str, &str)]) -> Key {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A label key as it appears in the exposition.
fn label(key: &str) -> String {
    key.replace('.', "_")
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    if denominator > 0.0 {
        finite(numerator / denominator)
    } else {
        None
    }
}

fn per_minute(count: f64, seconds: Option<f64>) -> Option<f64> {
    seconds
        .filter(|s| *s > 0.0)
        .and_then(|s| finite(count / s * 60.0))
}

fn is_server_error(sample: &Sample) -> bool {
    sample
        .label(&label(http::RESPONSE_STATUS_CODE))
        .parse::<f64>()
        .is_ok_and(|code| (500.0..=599.0).contains(&code))
}

/// Requests, 5xx and latency quantiles of one group.
#[derive(Debug, Clone, PartialEq)]
struct Red {
    count: f64,
    errors: f64,
    error_ratio: Option<f64>,
    quantiles: [Option<f64>; 3],
}

fn red(histogram: Option<&Histogram>, errors: f64) -> Red {
    let count = histogram.map_or(0.0, |h| h.count);
    Red {
        count,
        errors,
        error_ratio: ratio(errors, count),
        quantiles: QUANTILES
            .map(|(_, q)| histogram.and_then(|h| finite(histogram_quantile(q, &h.buckets)))),
    }
}

/// RED by route, and for the whole service.
fn red_by_route(samples: &[Sample]) -> (BTreeMap<String, Red>, Red) {
    let name = HTTP_SERVER_REQUEST_DURATION.prometheus_name();
    let count = format!("{name}_count");
    let route = label(http::ROUTE);
    let errors = sum_by(samples, &count, &[route.as_str()], is_server_error);
    let routes = histogram_by(samples, &name, &[route.as_str()], |_| true)
        .iter()
        .map(|(group, h)| {
            let bad = errors.get(group).copied().unwrap_or(0.0);
            (group[0].clone(), red(Some(h), bad))
        })
        .collect();
    let all = histogram_by(samples, &name, &[], |_| true);
    let bad = sum_by(samples, &count, &[], is_server_error)
        .get(&Vec::new())
        .copied()
        .unwrap_or(0.0);
    (routes, red(all.get(&Vec::new()), bad))
}

/// Bad and total events of an SLI, as the page counts them.
fn sli_counts(samples: &[Sample], sli: &Sli) -> (f64, f64) {
    let sum = |name: &str, keep: &dyn Fn(&Sample) -> bool| -> f64 {
        samples
            .iter()
            .filter(|s| s.name == name && keep(s))
            .fold(0.0, |total, s| total + s.value)
    };
    let below = |bound: f64| move |s: &Sample| value(s.label("le")) == bound;
    let http = HTTP_SERVER_REQUEST_DURATION.prometheus_name();
    let (count, bucket) = (format!("{http}_count"), format!("{http}_bucket"));
    let on = |routes: &[String], s: &Sample| {
        routes.is_empty() || routes.iter().any(|r| r == s.label(&label(http::ROUTE)))
    };
    match sli {
        Sli::Availability { routes } => (
            sum(&count, &|s| on(routes, s)),
            sum(&count, &|s| on(routes, s) && is_server_error(s)),
        ),
        Sli::Latency { threshold, routes } => {
            let total = sum(&count, &|s| on(routes, s));
            let good = sum(&bucket, &|s| on(routes, s) && below(*threshold)(s));
            (total, total - good)
        }
        Sli::CacheHitRatio { key_prefix } => {
            let name = CACHE_REQUESTS.prometheus_name();
            let in_prefix = |s: &Sample| {
                key_prefix
                    .as_deref()
                    .is_none_or(|p| s.label(&label(cache::KEY_PREFIX)) == p)
            };
            (
                sum(&name, &in_prefix),
                sum(&name, &|s| {
                    in_prefix(s) && s.label(&label(cache::RESULT)) == cache::MISS
                }),
            )
        }
        Sli::WebVital { name } => {
            let vital = VitalName::ALL
                .into_iter()
                .find(|v| v.as_str() == name)
                .expect("a known vital");
            let (metric, scale) = if vital.is_timing() {
                (BROWSER_WEB_VITAL_DURATION.prometheus_name(), 1000.0)
            } else {
                (BROWSER_WEB_VITAL_CLS.prometheus_name(), 1.0)
            };
            let named = |s: &Sample| s.label(&label(browser::WEB_VITAL_NAME)) == name;
            let total = sum(&format!("{metric}_count"), &named);
            let good = sum(&format!("{metric}_bucket"), &|s| {
                named(s) && below(vital.thresholds().0 / scale)(s)
            });
            (total, total - good)
        }
    }
}

/// Every figure the page must show for `snapshot`, with `window` = the increase since the
/// previous snapshot and its length in seconds: RED per route and for the service, the
/// database panel and the SLOs.
fn expected(
    snapshot: &[Sample],
    window: Option<(&[Sample], f64)>,
    spec: &Spec,
) -> BTreeMap<Key, Option<f64>> {
    let mut out = BTreeMap::new();
    let seconds = window.map(|(_, s)| s);
    let (routes, service) = red_by_route(snapshot);
    let (window_routes, window_service) = window.map(|(w, _)| red_by_route(w)).unzip();
    let mut put_red = |keys: &[(&str, &str)], life: &Red, win: Option<&Red>| {
        let mut put = |field: &str, value: Option<f64>| {
            let mut k = keys.to_vec();
            k.push(("field", field));
            out.insert(key(&k), value);
        };
        put("rpm", win.and_then(|w| per_minute(w.count, seconds)));
        put("window_error_ratio", win.and_then(|w| w.error_ratio));
        put("count", Some(life.count));
        put("error_ratio", life.error_ratio);
        for (i, (q, _)) in QUANTILES.iter().enumerate() {
            put(&format!("window_{q}"), win.and_then(|w| w.quantiles[i]));
            put(q, life.quantiles[i]);
        }
        if keys[0].1 == "http" {
            put("errors", Some(life.errors));
        }
    };
    put_red(&[("panel", "service")], &service, window_service.as_ref());
    for (route, life) in &routes {
        let win = window_routes.as_ref().and_then(|w| w.get(route));
        put_red(&[("panel", "http"), ("route", route.as_str())], life, win);
    }
    // The service cards show only some window figures.
    for field in ["window_p50", "window_p99"] {
        out.remove(&key(&[("panel", "service"), ("field", field)]));
    }

    let db_keys = [
        label(db::SYSTEM_NAME),
        label(db::OPERATION_NAME),
        label(db::COLLECTION_NAME),
    ];
    let db_keys: Vec<&str> = db_keys.iter().map(String::as_str).collect();
    let db_name = DB_CLIENT_OPERATION_DURATION.prometheus_name();
    let db_p95 = |samples: &[Sample]| -> BTreeMap<Vec<String>, (f64, Option<f64>)> {
        histogram_by(samples, &db_name, &db_keys, |_| true)
            .into_iter()
            .map(|(g, h)| {
                let p95 = finite(histogram_quantile(0.95, &h.buckets));
                (g, (h.count, p95))
            })
            .collect()
    };
    let slow = sum_by(
        snapshot,
        &DB_CLIENT_SLOW_QUERIES.prometheus_name(),
        &db_keys,
        |_| true,
    );
    let life = db_p95(snapshot);
    let win = window.map(|(w, _)| db_p95(w));
    let groups: BTreeSet<&Vec<String>> = life.keys().chain(slow.keys()).collect();
    for group in groups {
        let k = |field: &str| {
            key(&[
                ("panel", "db"),
                ("system", group[0].as_str()),
                ("operation", group[1].as_str()),
                ("table", group[2].as_str()),
                ("field", field),
            ])
        };
        let (count, p95) = life.get(group).copied().unwrap_or((0.0, None));
        out.insert(k("count"), Some(count));
        out.insert(k("p95"), p95);
        out.insert(
            k("window_p95"),
            win.as_ref()
                .and_then(|w| w.get(group))
                .and_then(|(_, p)| *p),
        );
        out.insert(k("slow"), Some(slow.get(group).copied().unwrap_or(0.0)));
    }

    for slo in &spec.slos {
        let burn = |samples: &[Sample]| {
            let (total, bad) = sli_counts(samples, &slo.sli);
            let error_ratio = ratio(bad, total);
            let burn = error_ratio.and_then(|e| finite(e / (1.0 - slo.objective / 100.0)));
            (total, bad, error_ratio, burn)
        };
        let (total, bad, error_ratio, life_burn) = burn(snapshot);
        let k = |field: &str| {
            key(&[
                ("panel", "slo"),
                ("slo", slo.name.as_str()),
                ("field", field),
            ])
        };
        out.insert(k("objective"), Some(slo.objective));
        out.insert(k("total"), Some(total));
        out.insert(k("bad"), Some(bad));
        out.insert(k("sli"), error_ratio.map(|e| 1.0 - e));
        out.insert(k("burn"), life_burn);
        out.insert(k("budget_left"), life_burn.map(|b| 1.0 - b));
        out.insert(k("window_burn"), window.and_then(|(w, _)| burn(w).3));
    }
    out
}

/// What the page shows at one moment.
#[derive(Debug)]
struct PageState {
    refreshes: u64,
    snapshot: String,
    previous: Option<String>,
    seconds: Option<f64>,
    /// Each figure: raw value (`data-value`) and text.
    fields: BTreeMap<Key, (Option<f64>, String)>,
    text: String,
}

impl PageState {
    async fn read(browser: &Browser) -> Self {
        let state = browser.eval(STATE).await;
        assert!(
            state["error"].is_null(),
            "the page failed to refresh: {}",
            state["error"]
        );
        let mut fields = BTreeMap::new();
        for field in state["fields"].as_array().expect("fields") {
            let mut k = Key::new();
            let (mut raw, mut text) = (None, String::new());
            for (name, v) in field.as_object().expect("attributes") {
                let v = v.as_str().expect("attribute text").to_owned();
                match name.as_str() {
                    "value" => {
                        raw = Some(v.parse::<f64>().unwrap_or_else(|_| {
                            panic!("data-value {v:?} is not a number ({field})")
                        }))
                    }
                    "text" => text = v,
                    _ => {
                        k.insert(name.clone(), v);
                    }
                }
            }
            assert!(
                fields.insert(k.clone(), (raw, text)).is_none(),
                "two figures carry {k:?}"
            );
        }
        Self {
            refreshes: state["refreshes"].as_u64().expect("a refresh count"),
            snapshot: state["snapshot"].as_str().unwrap_or_default().to_owned(),
            previous: state["previous"].as_str().map(str::to_owned),
            seconds: state["seconds"]
                .as_str()
                .map(|s| s.parse().expect("window seconds")),
            fields,
            text: state["text"].as_str().unwrap_or_default().to_owned(),
        }
    }

    /// The figure of the route row `route`, `field`.
    fn route(&self, route: &str, field: &str) -> Option<f64> {
        self.fields
            .get(&key(&[
                ("panel", "http"),
                ("route", route),
                ("field", field),
            ]))
            .unwrap_or_else(|| panic!("no {field} for route {route:?}"))
            .0
    }

    /// Recomputes every figure from the snapshots and compares; panics listing each
    /// difference.
    fn verify(&self, spec: &Spec) {
        let snapshot = parse(&self.snapshot);
        let previous = self.previous.as_deref().map(parse);
        let window = previous.as_ref().map(|p| increase(&snapshot, p));
        let window = window.as_deref().zip(self.seconds);
        let expected = expected(&snapshot, window, spec);
        let mut wrong = Vec::new();
        for (k, value) in &expected {
            match self.fields.get(k) {
                None => wrong.push(format!("missing {k:?} (expected {value:?})")),
                Some((shown, text)) => {
                    if shown.map(f64::to_bits) != value.map(f64::to_bits) {
                        wrong.push(format!(
                            "{k:?}: page {shown:?} ({text}), recomputed {value:?}"
                        ));
                    }
                    if shown.is_none() && text != "no data" {
                        wrong.push(format!("{k:?} has no value but shows {text:?}"));
                    }
                }
            }
        }
        let routes_shown: BTreeSet<&str> = self
            .fields
            .keys()
            .filter(|k| k["panel"] == "http" && k["field"] == "count")
            .map(|k| k["route"].as_str())
            .collect();
        let routes_expected: BTreeSet<&str> = expected
            .keys()
            .filter(|k| k["panel"] == "http" && k["field"] == "count")
            .map(|k| k["route"].as_str())
            .collect();
        if routes_shown != routes_expected {
            wrong.push(format!(
                "route rows {routes_shown:?}, exposition routes {routes_expected:?}"
            ));
        }
        for bad in ["NaN", "Infinity", "undefined", "null"] {
            if self.text.contains(bad) {
                wrong.push(format!("the page shows {bad}"));
            }
        }
        assert!(
            wrong.is_empty(),
            "{} of {} figures differ (window {:?} s):\n{}\n--- snapshot ---\n{}",
            wrong.len(),
            expected.len(),
            self.seconds,
            wrong.join("\n"),
            self.snapshot
        );
    }
}

async fn wait_refreshes(browser: &Browser, at_least: u64, what: &str) {
    browser
        .wait_until(
            &format!("window.__opsRefreshes >= {at_least}"),
            what,
            WAIT,
            DIAGNOSTICS,
        )
        .await;
}

/// Requests sent by [`traffic`], by route template.
#[derive(Debug, Default)]
struct Sent {
    users: f64,
    fail: f64,
    work: f64,
    slow: f64,
}

/// Requests on several routes (user lookups, some unknown users answering 404, failures
/// answering 500, work) until `stop`.
async fn traffic(addr: String, stop: Arc<AtomicBool>) -> Sent {
    let mut sent = Sent::default();
    assert_eq!(get(&addr, "/slow", &[]).await.0, 200);
    sent.slow += 1.0;
    let mut i: u64 = 0;
    while !stop.load(Ordering::SeqCst) {
        let id = i % 1000 + 1;
        assert_eq!(get(&addr, &format!("/users/{id}"), &[]).await.0, 200);
        sent.users += 1.0;
        if i.is_multiple_of(4) {
            assert_eq!(get(&addr, "/users/424242", &[]).await.0, 404);
            sent.users += 1.0;
        }
        assert_eq!(get(&addr, "/fail", &[]).await.0, 500);
        sent.fail += 1.0;
        if i.is_multiple_of(3) {
            assert_eq!(get(&addr, "/work", &[]).await.0, 200);
            sent.work += 1.0;
        }
        i += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sent
}

/// Where test artefacts go: the target directory in use.
fn target_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace");
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |dir| root.join(dir))
}

fn demo_spec() -> Spec {
    Spec::from_yaml(include_str!("../ops/spec.yaml")).expect("the demo's spec")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_what_metrics_says() {
    let spec = demo_spec();
    let (_demo, addr) = Demo::start(&[]);
    let (_, _, index) = get(&addr, "/", &[]).await;
    assert!(index.contains("/ops"), "the index links the page: {index}");
    let (status, headers, html) = get(&addr, "/ops", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(html.contains("requests-availability"), "the spec's SLOs");

    let browser = Browser::start(1280, 2200).await;
    browser.goto(&format!("http://{addr}/ops?refresh=1")).await;
    wait_refreshes(&browser, 1, "the page's first refresh").await;

    // Traffic runs until the page has shown a window with traffic in it.
    let stop = Arc::new(AtomicBool::new(false));
    let sender = tokio::spawn(traffic(addr.clone(), Arc::clone(&stop)));
    let deadline = Instant::now() + WAIT;
    let during = loop {
        let state = PageState::read(&browser).await;
        let rpm = |route: &str| {
            state
                .fields
                .get(&key(&[
                    ("panel", "http"),
                    ("route", route),
                    ("field", "rpm"),
                ]))
                .and_then(|(value, _)| *value)
        };
        if rpm("/users/{id}") > Some(0.0) && rpm("/fail") > Some(0.0) {
            break state;
        }
        assert!(
            Instant::now() < deadline,
            "the page never showed a window with traffic in {WAIT:?}: {:?}",
            state.fields.keys().take(20).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    during.verify(&spec);
    stop.store(true, Ordering::SeqCst);
    let sent = sender.await.expect("the traffic task");

    // Everything sent is recorded on /metrics before the page is asked for a refresh…
    let (count, route) = (
        format!("{}_count", HTTP_SERVER_REQUEST_DURATION.prometheus_name()),
        label(http::ROUTE),
    );
    let counts = |text: &str| sum_by(&parse(text), &count, &[route.as_str()], |_| true);
    let recorded = |text: &str, path: &str| {
        counts(text)
            .get(&vec![path.to_owned()])
            .copied()
            .unwrap_or(0.0)
    };
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, _, metrics) = get(&addr, "/metrics", &[]).await;
        if recorded(&metrics, "/users/{id}") == sent.users
            && recorded(&metrics, "/fail") == sent.fail
            && recorded(&metrics, "/work") == sent.work
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/metrics never counted what was sent ({sent:?}):\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // …then the second refresh from now started after it.
    let now = PageState::read(&browser).await.refreshes;
    wait_refreshes(&browser, now + 2, "two refreshes after the traffic stopped").await;
    let after = PageState::read(&browser).await;
    let (_, _, metrics) = get(&addr, "/metrics", &[]).await;
    after.verify(&spec);

    assert_eq!(after.route("/users/{id}", "count"), Some(sent.users));
    assert_eq!(
        after.route("/users/{id}", "errors"),
        Some(0.0),
        "404 is no 5xx"
    );
    assert_eq!(after.route("/users/{id}", "error_ratio"), Some(0.0));
    assert_eq!(after.route("/fail", "count"), Some(sent.fail));
    assert_eq!(after.route("/fail", "errors"), Some(sent.fail));
    assert_eq!(after.route("/fail", "error_ratio"), Some(1.0));
    assert_eq!(after.route("/work", "count"), Some(sent.work));
    assert_eq!(after.route("/slow", "count"), Some(sent.slow));
    assert_eq!(
        after.route("/fail", "rpm"),
        Some(0.0),
        "no traffic in the last window"
    );
    assert!(after.route("/users/{id}", "p95").is_some());
    let slow_queries: f64 = after
        .fields
        .iter()
        .filter(|(k, _)| k["panel"] == "db" && k["field"] == "slow")
        .filter_map(|(_, (v, _))| *v)
        .sum();
    assert!(
        slow_queries >= 1.0,
        "the slow query is on the database panel"
    );

    // The snapshot is what /metrics says: only the page's own reads of /metrics came since.
    let (snapshot, fetched) = (
        red_by_route(&parse(&after.snapshot)).0,
        red_by_route(&parse(&metrics)).0,
    );
    for (path, figures) in &snapshot {
        if path == "/metrics" {
            assert!(
                fetched[path].count > figures.count,
                "the snapshot's own read"
            );
        } else {
            assert_eq!(
                Some(figures),
                fetched.get(path),
                "{path}: snapshot vs /metrics"
            );
        }
    }
    assert_eq!(
        snapshot.keys().collect::<Vec<_>>(),
        fetched.keys().collect::<Vec<_>>()
    );

    let png = browser.screenshot().await;
    let path = target_dir().join("ops-page.png");
    std::fs::create_dir_all(path.parent().expect("a directory")).expect("the target directory");
    std::fs::write(&path, &png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::Cursor::new(&png[..]))
        .read_info()
        .unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
    let mut pixels = vec![0; reader.output_buffer_size().expect("a frame size")];
    let frame = reader.next_frame(&mut pixels).expect("a decodable frame");
    assert!(frame.width > 0 && frame.height > 0);
    let pixels = &pixels[..frame.buffer_size()];
    assert!(
        pixels.iter().any(|b| *b != pixels[0]),
        "the screenshot is not blank"
    );
    eprintln!(
        "screenshot {} ({}x{}, {} bytes); sent {sent:?}",
        path.display(),
        frame.width,
        frame.height,
        png.len()
    );
}

const HOSTILE_ROUTE: &str = "<img src=x onerror=\"window.__pwned=1\">";
const HOSTILE_PREFIX: &str = "<script>window.__pwned=2</script>";
const HOSTILE_SIGNAL: &str = "\"><svg onload=window.__pwned=3>";
const HOSTILE_TABLE: &str = "users\n\\\"</td>";

/// An exposition whose label values are markup, with a zero-count histogram.
fn hostile_exposition() -> String {
    let escape = |v: &str| {
        v.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    };
    let http = HTTP_SERVER_REQUEST_DURATION.prometheus_name();
    let (route, status) = (label(http::ROUTE), label(http::RESPONSE_STATUS_CODE));
    let mut out = format!("# TYPE {http} histogram\n");
    for (value, code, counts) in [
        (HOSTILE_ROUTE, "500", [1, 2, 3]),
        ("__proto__", "200", [0, 4, 5]),
        ("constructor", "503", [0, 0, 0]),
    ] {
        let labels = format!("{route}=\"{}\",{status}=\"{code}\"", escape(value));
        for (le, c) in [("0.1", counts[0]), ("0.5", counts[1]), ("+Inf", counts[2])] {
            writeln!(out, "{http}_bucket{{{labels},le=\"{le}\"}} {c}").unwrap();
        }
        writeln!(out, "{http}_sum{{{labels}}} 0.7").unwrap();
        writeln!(out, "{http}_count{{{labels}}} {}", counts[2]).unwrap();
    }
    let db = DB_CLIENT_OPERATION_DURATION.prometheus_name();
    let db_labels = format!(
        "{}=\"sqlite\",{}=\"SELECT\",{}=\"{}\"",
        label(db::SYSTEM_NAME),
        label(db::OPERATION_NAME),
        label(db::COLLECTION_NAME),
        escape(HOSTILE_TABLE)
    );
    for (le, c) in [("0.001", 1), ("0.01", 2), ("+Inf", 2)] {
        writeln!(out, "{db}_bucket{{{db_labels},le=\"{le}\"}} {c}").unwrap();
    }
    writeln!(out, "{db}_count{{{db_labels}}} 2").unwrap();
    let cache = CACHE_REQUESTS.prometheus_name();
    for (result, c) in [(cache::HIT, 3), (cache::MISS, 1)] {
        writeln!(
            out,
            "{cache}{{{}=\"{}\",{}=\"{result}\"}} {c}",
            label(cache::KEY_PREFIX),
            escape(HOSTILE_PREFIX),
            label(cache::RESULT)
        )
        .unwrap();
    }
    writeln!(
        out,
        "{}{{{}=\"{}\",{}=\"otlp\",{}=\"queue_full\"}} 7",
        EXPORTER_DROPPED.prometheus_name(),
        label(sdk::SIGNAL),
        escape(HOSTILE_SIGNAL),
        label(sdk::EXPORTER),
        label(sdk::REASON)
    )
    .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_traffic_shows_no_data_and_hostile_labels_stay_text() {
    let spec = demo_spec();
    let exposition = Arc::new(Mutex::new(String::new()));
    let served = Arc::clone(&exposition);
    let app = axum::Router::new()
        .route_service("/ops", sdk_tower::OpsPage::new("/metrics").with_spec(&spec))
        .route(
            "/metrics",
            axum::routing::get(move || {
                let text = served.lock().unwrap().clone();
                async move { text }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let browser = Browser::start(1280, 1600).await;
    browser.goto(&format!("http://{addr}/ops?refresh=1")).await;
    wait_refreshes(&browser, 2, "two refreshes of an empty exposition").await;
    let empty = PageState::read(&browser).await;
    empty.verify(&spec);
    for (k, (value, text)) in &empty.fields {
        if k["panel"] != "status" {
            assert!(
                value.is_none() || *value == Some(0.0) || k["field"] == "objective",
                "{k:?} shows {text} without data"
            );
        }
    }
    assert!(empty.text.contains("no data"));

    let hostile = hostile_exposition();
    *exposition.lock().unwrap() = hostile.clone();
    browser
        .wait_until(
            "window.__opsSnapshot && window.__opsSnapshot.includes('__pwned')",
            "a refresh reading the hostile exposition",
            WAIT,
            DIAGNOSTICS,
        )
        .await;
    let shown = PageState::read(&browser).await;
    assert_eq!(shown.snapshot, hostile);
    shown.verify(&spec);
    let intact = browser
        .eval(
            "window.__pwned === undefined && document.scripts.length === 2 && \
             document.querySelectorAll('img, iframe, svg svg, [onerror], [onload]').length === 0",
        )
        .await;
    assert_eq!(intact, Value::Bool(true), "markup in labels stays text");
    let cells = browser
        .eval("Array.from(document.querySelectorAll('td.key'), (td) => td.textContent)")
        .await;
    let cells: Vec<&str> = cells
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for text in [
        HOSTILE_ROUTE,
        "__proto__",
        "constructor",
        HOSTILE_PREFIX,
        HOSTILE_SIGNAL,
        HOSTILE_TABLE,
    ] {
        assert!(cells.contains(&text), "{text:?} shown as text in {cells:?}");
    }
    assert_eq!(shown.route("constructor", "count"), Some(0.0));
    assert_eq!(
        shown.route("constructor", "p95"),
        None,
        "no observations, no quantile"
    );
    assert_eq!(shown.route(HOSTILE_ROUTE, "error_ratio"), Some(1.0));
    let hit_ratio = shown.fields[&key(&[
        ("panel", "cache"),
        ("prefix", HOSTILE_PREFIX),
        ("field", "hit_ratio"),
    ])]
        .0;
    assert_eq!(hit_ratio, Some(0.75));
}

#[test]
fn quantiles_interpolate_like_prometheus() {
    let buckets = [(0.1, 1.0), (0.5, 3.0), (f64::INFINITY, 4.0)];
    assert_eq!(histogram_quantile(0.5, &buckets), 0.1 + 0.4 * 0.5);
    assert_eq!(
        histogram_quantile(0.95, &buckets),
        0.5,
        "+Inf: last finite bound"
    );
    assert!(histogram_quantile(0.5, &[(0.1, 0.0), (f64::INFINITY, 0.0)]).is_nan());
    assert!(
        histogram_quantile(0.5, &[(0.1, 1.0)]).is_nan(),
        "no +Inf bucket"
    );
    let samples = parse("# HELP x y\nx_total{a=\"q\\\"b\\\\c\\nd\",b=\"\"} 3\ny +Inf\n");
    assert_eq!(samples[0].label("a"), "q\"b\\c\nd");
    assert_eq!(samples[1].value, f64::INFINITY);
}
