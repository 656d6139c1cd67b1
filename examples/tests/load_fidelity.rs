//! Fidelity of the latency histogram under load: the demo (PostgreSQL) driven by the load
//! generator oha at a fixed rate for 45 s while a real Prometheus scrapes it every second.
//! The p95 Prometheus computes from `http.server.request.duration`
//! (`histogram_quantile(0.95, sum by (le) (rate(…_bucket[window])))`, the window being
//! exactly the load) must fall in the same or an adjacent bucket of the catalogue's
//! boundaries as the p95 the generator measured itself, request by request.
//!
//! No single demo route spans several buckets at a light load (`/users/{id}` answers in
//! about a millisecond, `/work` in 5–7 ms, `/slow` in about 300 ms), so the test sends a
//! mix whose latency does: 60 % `/users/{id}` (first bucket), 28 % `/work` (5–10 ms) and
//! 12 % `/slow` (250–500 ms). The p95 then sits inside the `/slow` requests, six buckets
//! above the fast ones: a histogram that missed the handler's time, the slow requests or
//! the unit would put Prometheus' p95 buckets away from the generator's, and the test
//! checks its own premise (the requests span at least three buckets, Prometheus counted
//! exactly the requests oha sent).
//!
//! Needs PostgreSQL (`SDK_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`),
//! Debian's `prometheus` and oha (`OHA`, else on `PATH`, else `$CARGO_HOME/bin`); `cargo
//! xtask test` installs them.

mod common;

use common::Demo;
use common::exposition::{self, Sample};
use common::prometheus::{Prometheus, eventually, unix_now};
use sdk_core::catalogue::HTTP_SERVER_REQUEST_DURATION;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// The oha release `cargo xtask test` installs.
const OHA_VERSION: &str = "1.16.0";
/// Requests per second and seconds of load.
const RATE: u32 = 30;
const SECONDS: u32 = 45;
/// The mix: (path, share in %).
const MIX: [(&str, usize); 3] = [("/users/{id}", 60), ("/work", 28), ("/slow", 12)];

fn oha() -> PathBuf {
    let mut candidates: Vec<PathBuf> = std::env::var_os("OHA")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    candidates.push("oha".into());
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    candidates.extend(cargo_home.map(|h| h.join("bin/oha")));
    candidates
        .into_iter()
        .find(|program| {
            Command::new(program)
                .arg("--version")
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(OHA_VERSION))
        })
        .unwrap_or_else(|| {
            panic!(
                "oha {OHA_VERSION} not found (OHA, PATH, $CARGO_HOME/bin): `cargo xtask test` installs it, \
                 or `cargo install oha --version {OHA_VERSION} --locked`"
            )
        })
}

fn route_label() -> String {
    sdk_core::semconv::http::ROUTE.replace('.', "_")
}

/// The demo's `http.server.request.duration` samples of the mix's routes, from `/metrics`.
async fn scrape(addr: &str) -> Vec<Sample> {
    let (status, _, text) = common::get(addr, "/metrics", &[]).await;
    assert_eq!(status, 200, "/metrics: {text}");
    let prefix = HTTP_SERVER_REQUEST_DURATION.prometheus_name();
    let route = route_label();
    exposition::parse(&text)
        .into_iter()
        .filter(|s| s.name.starts_with(&prefix))
        .filter(|s| MIX.iter().any(|(path, _)| s.label(&route) == *path))
        .collect()
}

/// Requests of the mix's routes counted in `samples`.
fn count(samples: &[Sample]) -> f64 {
    let name = format!("{}_count", HTTP_SERVER_REQUEST_DURATION.prometheus_name());
    samples
        .iter()
        .filter(|s| s.name == name)
        .map(|s| s.value)
        .sum()
}

/// The bucket holding `value`: the index of the first bound ≥ `value` (`len` is +Inf).
fn bucket(bounds: &[f64], value: f64) -> usize {
    bounds
        .iter()
        .position(|b| value <= *b)
        .unwrap_or(bounds.len())
}

fn bucket_text(bounds: &[f64], index: usize) -> String {
    let low = if index == 0 { 0.0 } else { bounds[index - 1] };
    match bounds.get(index) {
        Some(high) => format!("({low}, {high}] s"),
        None => format!("({low}, +Inf) s"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_p95_is_within_one_bucket_of_the_generators_p95() {
    let oha = oha();
    let postgres = std::env::var("SDK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let (mut demo, addr) = Demo::start(&[
        ("OTEL_SERVICE_NAME", "demo"),
        ("OTEL_METRICS_EXPORTER", "prometheus"),
        ("DATABASE_URL", &postgres),
    ]);
    let prometheus = Prometheus::start(&addr).await;

    // Every series exists before the window opens, so that the first scrape in it is a
    // baseline for each (a series born inside the window would lose its first counts).
    for path in ["/users/1", "/work", "/slow"] {
        let (status, _, body) = common::get(&addr, path, &[]).await;
        assert_eq!(status, 200, "warm-up {path}: {body}");
    }
    let route = route_label();
    let selector = format!(
        "{{job=\"demo\",{route}=~\"{}\"}}",
        MIX.map(|(path, _)| path.replace('{', "\\\\{").replace('}', "\\\\}"))
            .join("|")
    );
    let name = HTTP_SERVER_REQUEST_DURATION.prometheus_name();
    let counted = format!("sum({name}_count{selector})");
    // The demo records a request as its answer completes: wait for it to count them.
    let before = eventually(
        "the demo to count the 3 warm-up requests",
        Duration::from_secs(30),
        async || {
            let samples = scrape(&addr).await;
            (count(&samples) == 3.0).then_some(samples)
        },
    )
    .await;
    let expected = count(&before);
    let window_start = eventually(
        "Prometheus to scrape the warm-up requests",
        Duration::from_secs(60),
        async || {
            let now = unix_now();
            (prometheus.value(&counted, now).await? == expected).then_some(now)
        },
    )
    .await;

    // The load: a fixed rate, each request's latency counted from when it was due.
    let dir = tempfile::tempdir().unwrap();
    let mut urls = Vec::new();
    for (path, share) in MIX {
        for i in 0..share {
            urls.push(format!(
                "http://{addr}{}",
                path.replace("{id}", &(i + 1).to_string())
            ));
        }
    }
    let url_file = dir.path().join("urls.txt");
    std::fs::write(&url_file, urls.join("\n")).unwrap();
    let csv = dir.path().join("requests.csv");
    let mut command = Command::new(&oha);
    command
        .args(["--no-tui", "--latency-correction", "-w"])
        .args([
            "-z",
            &format!("{SECONDS}s"),
            "-q",
            &RATE.to_string(),
            "-c",
            "32",
        ])
        .args(["--worker-threads", "1", "--output-format", "csv", "-o"])
        .arg(&csv)
        .arg("--urls-from-file")
        .arg(&url_file);
    let status = tokio::task::spawn_blocking(move || command.status())
        .await
        .unwrap()
        .expect("oha runs");
    assert!(status.success(), "oha failed: {status}");
    let text = std::fs::read_to_string(&csv).unwrap();
    // request-start,DNS,DNS+dialup,Response-delay,request-duration,bytes,status
    let records: Vec<(f64, u16)> = text
        .lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields[4].parse().unwrap(), fields[6].parse().unwrap())
        })
        .collect();
    let failed = records.iter().filter(|(_, status)| *status != 200).count();
    assert_eq!(failed, 0, "{failed} of {} requests failed", records.len());
    let scheduled = f64::from(RATE * SECONDS);
    assert!(
        records.len() as f64 >= 0.9 * scheduled,
        "oha sent {} requests, {scheduled} were due",
        records.len()
    );

    // The demo counted exactly the requests oha sent; Prometheus has its final counts.
    let sent = records.len() as f64;
    let after = eventually(
        &format!("the demo to count exactly the {sent} requests oha sent"),
        Duration::from_secs(30),
        async || {
            let samples = scrape(&addr).await;
            (count(&samples) - count(&before) == sent).then_some(samples)
        },
    )
    .await;
    let expected = count(&after);
    let window_end = eventually(
        "Prometheus to scrape the demo's final counts",
        Duration::from_secs(60),
        async || {
            let now = unix_now();
            (prometheus.value(&counted, now).await? == expected).then_some(now)
        },
    )
    .await;

    // The premise: the window's requests span at least three buckets.
    let bounds = HTTP_SERVER_REQUEST_DURATION.buckets;
    let grown = exposition::increase(&after, &before);
    let histogram = exposition::histogram_by(&grown, &name, &[], |_| true);
    let mut cumulative = histogram
        .into_values()
        .next()
        .expect("the demo's histogram for the mix's routes")
        .buckets;
    cumulative.sort_by(|x, y| x.0.total_cmp(&y.0));
    let occupied = cumulative
        .iter()
        .scan(0.0, |below, (_, total)| {
            let inside = total - *below;
            *below = *total;
            Some(inside)
        })
        .filter(|inside| *inside > 0.0)
        .count();
    assert!(
        occupied >= 3,
        "the load's latencies fall in {occupied} bucket(s), the comparison could not fail: {cumulative:?}"
    );

    let window = (window_end - window_start).ceil();
    let expr =
        format!("histogram_quantile(0.95, sum by (le) (rate({name}_bucket{selector}[{window}s])))");
    let from_prometheus = prometheus
        .value(&expr, window_end)
        .await
        .unwrap_or_else(|| panic!("no result for {expr}"));
    let mut latencies: Vec<f64> = records.iter().map(|(latency, _)| *latency).collect();
    latencies.sort_by(f64::total_cmp);
    let rank = (0.95 * latencies.len() as f64).ceil() as usize;
    let from_generator = latencies[rank.clamp(1, latencies.len()) - 1];
    let (a, b) = (
        bucket(bounds, from_prometheus),
        bucket(bounds, from_generator),
    );
    eprintln!(
        "{} requests in {window} s; p95: Prometheus {from_prometheus:.4} s in {}, oha {from_generator:.4} s in {}",
        records.len(),
        bucket_text(bounds, a),
        bucket_text(bounds, b),
    );
    assert!(
        a.abs_diff(b) <= 1,
        "Prometheus' p95 {from_prometheus} s is in bucket {}, the generator's {from_generator} s in {}: \
         {} buckets apart (bounds {bounds:?}); query {expr}",
        bucket_text(bounds, a),
        bucket_text(bounds, b),
        a.abs_diff(b)
    );
    drop(prometheus);
    let _ = demo.child.kill();
    let _ = demo.child.wait();
}
