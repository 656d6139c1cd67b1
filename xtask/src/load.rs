//! `cargo xtask load`: the demo service under a real load generator, with the SDK on and
//! off, reported as JSON and as one self-contained HTML page under `target/load/`.
//!
//! This file is longer than the workspace's ~500-line guide: it is one harness (start the
//! peers, drive the load, sample the process, compare with Prometheus, write the report)
//! whose parts only make sense together.
//!
//! Scenarios, scaled to a 2-core machine that also runs the generator (and Prometheus):
//! - `baseline`: [`BASELINE_RATE`] requests/s for 120 s; with the SDK on, a Prometheus
//!   scraping the demo every second computes the p95 from `http.server.request.duration`
//!   and the report compares it with the generator's own p95 (same or adjacent bucket);
//! - `spike`: the baseline rate for 60 s, ten times that rate for 30 s (a second
//!   generator adds nine times the rate on top), then the baseline rate for 90 s; the
//!   report gives the recovery time (defined in [`RECOVERY_DEFINITION`]);
//! - `soak`: the baseline rate for 600 s; the report gives the RSS growth after warm-up
//!   (defined in [`SOAK_DEFINITION`]);
//! - `all`: the three in a row; `hello`: the older bare vs instrumented hello-world
//!   throughput comparison under `wrk` (`benches/src/bin/loopback_load.rs`).
//!
//! `--seconds N` shortens (or lengthens) a scenario (the spike keeps its 1/3, 1/6, 1/2
//! proportions), `--rate R` changes the baseline rate, `--sdk on|off|both` runs one side.
//! Each side gets a fresh demo process (`--release`, PostgreSQL and Redis), a 10 s warm-up
//! that is not measured, and its RSS and CPU time sampled from `/proc/PID` every second.
//! With the SDK on the demo logs JSON to stdout (drained through a pipe, counted), serves
//! `/metrics`, and exports its spans over OTLP/HTTP (the default protocol) through the batch
//! queue to an OTLP receiver in this process (built from the official protobufs; it counts
//! the spans and drops them every second).
//!
//! The request mix is 70 % `/users/{id}` (ids 1–70: a server span, a sqlx span, a
//! PostgreSQL query, a log line and the application metrics — the SDK's whole stack on
//! real I/O, about a millisecond) and 30 % `/work` (a child span from `#[instrument]`, a
//! log line and a 5 ms timer: a request that holds its connection while it waits, so
//! concurrency builds up under the spike). With 70/30 the p50 falls among the lookups and
//! the p95 and p99 among `/work`, none on the edge between the two (with 50/50 the p50
//! would jump between 1 and 5 ms from run to run). `/slow` would measure the
//! 8-connection pool, not the SDK, `/chain` doubles every request, `/cached/users`
//! depends on what Redis holds from earlier runs.
//!
//! The generator is oha (crates.io, `cargo install`, 5–10 minutes on 2 cores; pinned to
//! [`OHA_VERSION`]): `-q` keeps a fixed request rate whatever the latency, and
//! `--latency-correction` measures each request from when it was due, not from when a
//! connection got free (no coordinated omission); `--output-format csv` gives one record
//! per request (start, latency, status), from which the per-second percentiles are
//! computed. wrk (Debian) has neither a fixed rate nor per-request records (wrk2, which
//! has the rate, is not packaged), and goose is a library to build a load-test binary
//! with, a heavier dependency for the same two features.

use crate::{Result, cargo, run};
use plotters::prelude::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The oha release the harness and the fidelity test are written against.
pub(crate) const OHA_VERSION: &str = "1.16.0";
/// Requests per second in the baseline (and between spikes, and in the soak).
const BASELINE_RATE: f64 = 500.0;
/// The spike's rate over the baseline's.
const SPIKE_FACTOR: f64 = 10.0;
/// Connections each generator may open (a request waits for a free one; its latency
/// counts from when it was due).
const CONNECTIONS: usize = 64;
/// Unmeasured load before each measured run.
const WARMUP: Duration = Duration::from_secs(10);
/// Sliding window and tolerance of the spike's recovery time.
const RECOVERY_WINDOW_S: usize = 5;
const RECOVERY_TOLERANCE: f64 = 1.10;

const RECOVERY_DEFINITION: &str = "Recovery time: seconds from the end of the spike to the start of the first 5-second window (whole seconds, counted from the start of the run) whose p99 over every request started in it is at most 1.10 x the pre-spike p99 (every request started before the spike, but after the run's first 5 s, or its first half of the time before the spike in a shorter trial). A 5-second window rather than a single second: at the baseline rate one second holds ~500 requests, whose p99 is their 5th-slowest, too noisy to compare with a 10 % margin.";
const SOAK_DEFINITION: &str = "RSS growth after warm-up: mean VmRSS over the last 10 % of the run minus mean VmRSS over the 10 % that follows the warm-up (the first 20 % of the run); slope: least-squares fit of VmRSS over every sample after the warm-up. Flat means a growth of at most max(2 MiB, 2 % of the RSS after warm-up).";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scenario {
    Baseline,
    Spike,
    Soak,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::Spike => "spike",
            Self::Soak => "soak",
        }
    }

    fn default_seconds(self) -> u64 {
        match self {
            Self::Baseline => 120,
            Self::Spike => 180,
            Self::Soak => 600,
        }
    }
}

struct Options {
    scenarios: Vec<Scenario>,
    label: String,
    seconds: Option<u64>,
    rate: f64,
    sdk: Vec<bool>,
}

const USAGE: &str = "cargo xtask load [--scenario baseline|spike|soak|all|hello] [--seconds N] [--rate REQUESTS_PER_S] [--sdk on|off|both]";

/// `cargo xtask load ARGS`.
pub(crate) fn load(args: &[String]) -> Result {
    let mut scenario = "baseline".to_owned();
    let mut seconds = None;
    let mut rate = BASELINE_RATE;
    let mut sdk = vec![true, false];
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) => (k, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next().cloned())
                .ok_or(format!("{key} needs a value; usage: {USAGE}"))
        };
        match key {
            "--scenario" => scenario = value()?,
            "--seconds" => {
                let text = value()?;
                seconds = Some(
                    text.parse::<u64>()
                        .ok()
                        .filter(|s| *s >= 6)
                        .ok_or(format!("--seconds {text:?}: expected whole seconds ≥ 6"))?,
                );
            }
            "--rate" => {
                let text = value()?;
                rate = text
                    .parse::<f64>()
                    .ok()
                    .filter(|r| *r >= 1.0)
                    .ok_or(format!("--rate {text:?}: expected requests/s ≥ 1"))?;
            }
            "--sdk" => {
                sdk = match value()?.as_str() {
                    "on" => vec![true],
                    "off" => vec![false],
                    "both" => vec![true, false],
                    other => return Err(format!("--sdk {other:?}: expected on, off or both")),
                }
            }
            other => return Err(format!("unknown argument {other:?}; usage: {USAGE}")),
        }
    }
    let scenarios = match scenario.as_str() {
        "baseline" => vec![Scenario::Baseline],
        "spike" => vec![Scenario::Spike],
        "soak" => vec![Scenario::Soak],
        "all" => vec![Scenario::Baseline, Scenario::Spike, Scenario::Soak],
        "hello" => return hello(seconds),
        other => return Err(format!("unknown scenario {other:?}; usage: {USAGE}")),
    };
    run_scenarios(&Options {
        scenarios,
        label: scenario,
        seconds,
        rate,
        sdk,
    })
}

/// The bare vs instrumented hello-world under `wrk`: throughput and their ratio.
fn hello(seconds: Option<u64>) -> Result {
    let has_wrk = || crate::succeeds("sh", &["-c", "command -v wrk"]);
    if !has_wrk() {
        crate::wasm::apt_install("wrk", &["wrk"])?;
    }
    run(
        "loopback load",
        cargo()
            .args([
                "run",
                "--release",
                "--package",
                "sdk-benches",
                "--bin",
                "loopback_load",
                "--",
            ])
            .args(seconds.map(|s| s.to_string())),
    )
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
}

/// oha's path when the pinned version runs: `$OHA`, else on `PATH`, else in
/// `$CARGO_HOME/bin`.
fn find_oha() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("OHA")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    candidates.push(PathBuf::from("oha"));
    candidates.extend(cargo_home().map(|h| h.join("bin/oha")));
    candidates.into_iter().find(|program| {
        Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|o| {
                o.status.success() && String::from_utf8_lossy(&o.stdout).contains(OHA_VERSION)
            })
    })
}

/// Installs the load generator (oha [`OHA_VERSION`], `cargo install`; its TLS stack is
/// rustls, which it does not build without) unless it is there; its path.
pub(crate) fn ensure_load_generator() -> Result<PathBuf> {
    if let Some(program) = find_oha() {
        return Ok(program);
    }
    run(
        &format!("install the load generator (oha {OHA_VERSION})"),
        cargo().args(["install", "oha", "--version", OHA_VERSION, "--locked"]),
    )?;
    find_oha().ok_or_else(|| format!("oha {OHA_VERSION} does not run after installing it"))
}

pub(crate) fn root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

/// Builds the demo with `--release`; the binary's path (wherever the target dir is).
pub(crate) fn build_demo() -> Result<PathBuf> {
    eprintln!("==> build the demo (release)");
    let output = cargo()
        .args([
            "build",
            "--release",
            "--package",
            "demo",
            "--bin",
            "demo",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(root())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo build: {e}"))?;
    if !output.status.success() {
        return Err(format!("building the demo failed ({})", output.status));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "demo")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo build printed no executable for the demo".into())
}

pub(crate) fn free_addr() -> Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free loopback port: {e}"))
}

/// `GET http://{addr}{target}` over HTTP/1.0 (no chunked bodies): status and body.
pub(crate) fn http_get(
    addr: SocketAddr,
    target: &str,
) -> std::result::Result<(u16, String), String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(stream, "GET {target} HTTP/1.0\r\nHost: {addr}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {head:?}"))?;
    Ok((status, body.to_owned()))
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Polls `check` every 200 ms until it yields a value or `limit` passes.
pub(crate) fn eventually<T>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Result<T> {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return Ok(value);
        }
        if started.elapsed() > limit {
            return Err(format!("gave up after {limit:?} waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The demo process; killed when dropped.
struct Demo {
    child: Child,
    addr: SocketAddr,
    log_lines: Arc<AtomicU64>,
}

impl Demo {
    /// With the SDK on, `collector` is the OTLP/HTTP endpoint the demo exports its spans to.
    fn start(binary: &Path, sdk_on: bool, collector: Option<&str>, stderr: &Path) -> Result<Self> {
        let addr = free_addr()?;
        let database = std::env::var("LOAD_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let stderr_file =
            std::fs::File::create(stderr).map_err(|e| format!("{}: {e}", stderr.display()))?;
        let mut child = Command::new(binary)
            .args(["--addr", &addr.to_string()])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("OTEL_SDK_DISABLED", if sdk_on { "false" } else { "true" })
            .env("OTEL_SERVICE_NAME", "demo")
            .env("OTEL_METRICS_EXPORTER", "prometheus")
            .env("DATABASE_URL", database)
            .env("REDIS_URL", "redis://127.0.0.1:6379")
            .envs(collector.map(|url| ("OTEL_EXPORTER_OTLP_ENDPOINT", url)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr_file)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let log_lines = Arc::new(AtomicU64::new(0));
        if let Some(stdout) = child.stdout.take() {
            let counted = Arc::clone(&log_lines);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stdout);
                let mut line = Vec::new();
                while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                    counted.fetch_add(1, Ordering::Relaxed);
                    line.clear();
                }
            });
        }
        let mut demo = Self {
            child,
            addr,
            log_lines,
        };
        let limit = Duration::from_secs(60);
        eventually("the demo to answer /health/ready", limit, || {
            if let Ok(Some(status)) = demo.child.try_wait() {
                return Some(Err(format!(
                    "the demo exited ({status}) before answering; see {}",
                    stderr.display()
                )));
            }
            matches!(http_get(addr, "/health/ready"), Ok((200, _))).then_some(Ok(()))
        })??;
        Ok(demo)
    }

    /// SIGTERM (a graceful shutdown), then SIGKILL after 15 s.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = eventually("the demo to exit", Duration::from_secs(15), || {
            self.child.try_wait().ok().flatten()
        });
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The OTLP receiver (built from the official protobufs) the demo exports its spans to
/// over OTLP/HTTP, drained every second so that its memory stays bounded over a soak;
/// counts the spans it received.
struct Collector {
    receiver: Arc<sdk_core::testing::otlp::OtlpReceiver>,
    spans: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    drainer: std::thread::JoinHandle<()>,
}

impl Collector {
    fn start() -> Result<Self> {
        let receiver = Arc::new(
            sdk_core::testing::otlp::OtlpReceiver::start()
                .map_err(|e| format!("cannot start the OTLP receiver: {e}"))?,
        );
        let spans = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let drainer = {
            let (receiver, spans, stop) =
                (Arc::clone(&receiver), Arc::clone(&spans), Arc::clone(&stop));
            std::thread::spawn(move || {
                loop {
                    let stopping = stop.load(Ordering::Relaxed);
                    let received = receiver.take();
                    let n: usize = received
                        .traces
                        .iter()
                        .flat_map(|r| &r.resource_spans)
                        .flat_map(|rs| &rs.scope_spans)
                        .map(|ss| ss.spans.len())
                        .sum();
                    spans.fetch_add(n as u64, Ordering::Relaxed);
                    if stopping {
                        break;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            })
        };
        Ok(Self {
            receiver,
            spans,
            stop,
            drainer,
        })
    }

    fn endpoint(&self) -> String {
        self.receiver.http_url("")
    }

    /// The spans received, once the demo has stopped (and flushed on its way out).
    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.drainer.join();
        self.spans.load(Ordering::Relaxed)
    }
}

/// Prometheus scraping the demo every second, killed when dropped.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
}

impl Prometheus {
    fn start(dir: &Path, target: SocketAddr) -> Result<Self> {
        crate::ensure_promtool()?;
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
                 scrape_configs: [{{job_name: demo, static_configs: [{{targets: ['{target}']}}]}}]\n"
            ),
        )
        .map_err(|e| format!("{}: {e}", config.display()))?;
        let addr = free_addr()?;
        let log = std::fs::File::create(dir.join("prometheus.log")).map_err(|e| e.to_string())?;
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start prometheus: {e}"))?;
        let prometheus = Self { child, addr };
        eventually(
            "Prometheus to scrape the demo",
            Duration::from_secs(60),
            || {
                let (_, body) = http_get(prometheus.addr, "/api/v1/targets").ok()?;
                let targets: Value = serde_json::from_str(&body).ok()?;
                (targets["data"]["activeTargets"][0]["health"] == "up").then_some(())
            },
        )?;
        Ok(prometheus)
    }

    /// The first value of an instant query at `time` (unix seconds), `None` when empty.
    fn query(&self, expr: &str, time: f64) -> Result<Option<f64>> {
        let target = format!(
            "/api/v1/query?query={}&time={time:.3}",
            percent_encode(expr)
        );
        let (status, body) = http_get(self.addr, &target)?;
        let answer: Value = serde_json::from_str(&body)
            .map_err(|e| format!("Prometheus answered {status} with no JSON ({e}): {body}"))?;
        if answer["status"] != "success" {
            return Err(format!("Prometheus: {expr}: {answer}"));
        }
        Ok(answer["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse().ok()))
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One second's sample of the demo process.
#[derive(Clone, Copy)]
struct ProcSample {
    t: f64,
    rss_kib: u64,
    cpu_s: f64,
}

pub(crate) fn read_proc(pid: u32, ticks_per_s: f64) -> Option<(u64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): utime and stime are the 12th
    // and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some((rss, ticks / ticks_per_s))
}

/// Samples VmRSS and CPU time of `pid` every second from `t0` until stopped.
struct Sampler {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Vec<ProcSample>>,
}

impl Sampler {
    fn start(pid: u32, t0: Instant) -> Self {
        let ticks_per_s = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let mut samples = Vec::new();
            let mut tick = 0u32;
            while !stopped.load(Ordering::Relaxed) {
                if let Some((rss_kib, cpu_s)) = read_proc(pid, ticks_per_s) {
                    samples.push(ProcSample {
                        t: t0.elapsed().as_secs_f64(),
                        rss_kib,
                        cpu_s,
                    });
                }
                tick += 1;
                let next = t0 + Duration::from_secs(u64::from(tick));
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            samples
        });
        Self { stop, handle }
    }

    fn finish(self) -> Vec<ProcSample> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}

/// One request as oha recorded it, its start relative to the measured run's start.
#[derive(Clone, Copy)]
pub(crate) struct Record {
    pub(crate) start: f64,
    pub(crate) latency: f64,
    pub(crate) status: u16,
}

/// oha at `rate` requests/s for `seconds` over the URLs in `urls`, one record per request
/// into `csv` (or none).
pub(crate) fn oha_command(
    program: &Path,
    urls: &Path,
    rate: f64,
    seconds: f64,
    csv: Option<&Path>,
) -> Command {
    let mut command = Command::new(program);
    command
        .args(["--no-tui", "--latency-correction", "-w"])
        .args(["-z", &format!("{}ms", (seconds * 1000.0).round() as u64)])
        .args(["-q", &format!("{rate}")])
        .args(["-c", &CONNECTIONS.to_string()])
        .args(["--worker-threads", "1"])
        .arg("--urls-from-file")
        .arg(urls)
        .stdout(Stdio::null());
    match csv {
        Some(path) => command.args(["--output-format", "csv", "-o"]).arg(path),
        None => command.args(["--output-format", "quiet"]),
    };
    command
}

pub(crate) fn read_csv(path: &Path, offset: f64) -> Result<Vec<Record>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut records = Vec::new();
    // request-start,DNS,DNS+dialup,Response-delay,request-duration,bytes,status
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let parsed = (|| {
            Some(Record {
                start: fields.first()?.parse::<f64>().ok()? + offset,
                latency: fields.get(4)?.parse().ok()?,
                status: fields.get(6)?.parse().ok()?,
            })
        })();
        records.push(parsed.ok_or_else(|| format!("{}: bad record {line:?}", path.display()))?);
    }
    Ok(records)
}

/// Nearest-rank quantile of sorted values.
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub(crate) fn sorted_latencies<'a>(records: impl Iterator<Item = &'a Record>) -> Vec<f64> {
    let mut latencies: Vec<f64> = records.map(|r| r.latency).collect();
    latencies.sort_by(f64::total_cmp);
    latencies
}

/// p50/p95/p99 (ms) of `records`.
fn percentiles_ms<'a>(records: impl Iterator<Item = &'a Record>) -> [f64; 3] {
    let sorted = sorted_latencies(records);
    [0.5, 0.95, 0.99].map(|q| quantile(&sorted, q) * 1e3)
}

/// Request count and p50/p95/p99 (ms) of each second.
type PerSecond = Vec<(usize, [f64; 3])>;

/// Per-second request counts and percentiles (ms), by the second a request started in.
fn per_second(records: &[Record], seconds: usize) -> PerSecond {
    let mut bins: Vec<Vec<Record>> = vec![Vec::new(); seconds];
    for record in records {
        if let Some(bin) = bins.get_mut(record.start.max(0.0) as usize) {
            bin.push(*record);
        }
    }
    bins.iter()
        .map(|bin| (bin.len(), percentiles_ms(bin.iter())))
        .collect()
}

/// What one side (SDK on or off) of a scenario measured.
struct RunResult {
    sdk_on: bool,
    seconds: f64,
    records: Vec<Record>,
    samples: Vec<ProcSample>,
    log_lines: u64,
    /// Spans the OTLP receiver got from the demo (SDK on), warm-up included.
    spans_exported: Option<u64>,
    load_average: String,
    fidelity: Option<Value>,
}

struct Plan {
    scenario: Scenario,
    rate: f64,
    seconds: f64,
    /// Start and length of the spike, in seconds from the run's start.
    spike: Option<(f64, f64)>,
}

impl Plan {
    fn new(scenario: Scenario, options: &Options) -> Self {
        let seconds = options
            .seconds
            .unwrap_or_else(|| scenario.default_seconds()) as f64;
        let spike = (scenario == Scenario::Spike).then(|| (seconds / 3.0, seconds / 6.0));
        Self {
            scenario,
            rate: options.rate,
            seconds,
            spike,
        }
    }
}

fn run_scenarios(options: &Options) -> Result {
    let oha = ensure_load_generator()?;
    crate::ensure_postgres()?;
    crate::ensure_redis()?;
    let demo = build_demo()?;
    let out = root().join("target/load");
    let raw = out.join("raw");
    std::fs::create_dir_all(&raw).map_err(|e| format!("{}: {e}", raw.display()))?;
    let mut reports = Vec::new();
    let mut sections = Vec::new();
    for scenario in &options.scenarios {
        let plan = Plan::new(*scenario, options);
        if plan.scenario == Scenario::Soak && plan.seconds < 600.0 {
            eprintln!(
                "note: a soak of {} s is a trial; the scenario is 600 s or more",
                plan.seconds
            );
        }
        let mut results = Vec::new();
        for &sdk_on in &options.sdk {
            results.push(run_side(&plan, sdk_on, &oha, &demo, &raw)?);
        }
        let report = scenario_report(&plan, &results);
        eprintln!("{}", summary_text(&report));
        sections.push(html_section(&plan, &results, &report)?);
        reports.push(report);
    }
    let json_path = out.join(format!("{}.json", options.label));
    let html_path = out.join(format!("{}.html", options.label));
    let document = json!({
        "generator": {
            "name": "oha",
            "version": OHA_VERSION,
            "mode": format!("-q (fixed rate, open loop) with --latency-correction, -c {CONNECTIONS}, one worker thread"),
        },
        "machine": {"cores": std::thread::available_parallelism().map_or(0, |n| n.get())},
        "scenarios": reports,
    });
    let text = serde_json::to_string_pretty(&document).map_err(|e| e.to_string())?;
    std::fs::write(&json_path, text).map_err(|e| format!("{}: {e}", json_path.display()))?;
    std::fs::write(&html_path, html_page(&options.label, &sections))
        .map_err(|e| format!("{}: {e}", html_path.display()))?;
    println!("report: {}", json_path.display());
    println!("report: {}", html_path.display());
    Ok(())
}

/// One side of a scenario: a fresh demo, warm-up, the measured run, samples, fidelity.
fn run_side(plan: &Plan, sdk_on: bool, oha: &Path, binary: &Path, raw: &Path) -> Result<RunResult> {
    let side = format!(
        "{}-sdk-{}",
        plan.scenario.name(),
        if sdk_on { "on" } else { "off" }
    );
    eprintln!(
        "==> {side}: {} s at {} requests/s{}",
        plan.seconds,
        plan.rate,
        plan.spike.map_or(String::new(), |(at, len)| format!(
            ", x{SPIKE_FACTOR} for {len} s from {at} s"
        ))
    );
    let collector = if sdk_on {
        Some(Collector::start()?)
    } else {
        None
    };
    let demo = Demo::start(
        binary,
        sdk_on,
        collector.as_ref().map(Collector::endpoint).as_deref(),
        &raw.join(format!("{side}.stderr")),
    )?;
    let urls = raw.join("urls.txt");
    let base = format!("http://{}", demo.addr);
    let mut mix: Vec<String> = (1..=70).map(|id| format!("{base}/users/{id}")).collect();
    mix.extend((0..30).map(|_| format!("{base}/work")));
    std::fs::write(&urls, mix.join("\n") + "\n").map_err(|e| e.to_string())?;

    let prometheus = if sdk_on && plan.scenario == Scenario::Baseline {
        Some(Prometheus::start(&raw.join("prometheus"), demo.addr)?)
    } else {
        None
    };
    run(
        &format!("{side}: warm-up"),
        &mut oha_command(oha, &urls, plan.rate, WARMUP.as_secs_f64(), None),
    )?;
    let window_start = match &prometheus {
        Some(p) => Some(settle(p, demo.addr)?),
        None => None,
    };

    let load_average = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let t0 = Instant::now();
    let sampler = Sampler::start(demo.child.id(), t0);
    let csv = raw.join(format!("{side}.csv"));
    let mut main = oha_command(oha, &urls, plan.rate, plan.seconds, Some(&csv))
        .spawn()
        .map_err(|e| format!("cannot start oha: {e}"))?;
    let mut spike = None;
    if let Some((at, len)) = plan.spike {
        std::thread::sleep(Duration::from_secs_f64(at).saturating_sub(t0.elapsed()));
        let path = raw.join(format!("{side}-spike.csv"));
        let offset = t0.elapsed().as_secs_f64();
        let extra = plan.rate * (SPIKE_FACTOR - 1.0);
        let child = oha_command(oha, &urls, extra, len, Some(&path))
            .spawn()
            .map_err(|e| format!("cannot start oha: {e}"))?;
        spike = Some((child, path, offset));
    }
    let status = main.wait().map_err(|e| e.to_string())?;
    let mut records = if status.success() {
        read_csv(&csv, 0.0)?
    } else {
        return Err(format!("oha failed ({status})"));
    };
    if let Some((mut child, path, offset)) = spike {
        let status = child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("oha (spike) failed ({status})"));
        }
        records.extend(read_csv(&path, offset)?);
    }
    let samples = sampler.finish();
    records.sort_by(|a, b| a.start.total_cmp(&b.start));
    let fidelity = match (&prometheus, window_start) {
        (Some(p), Some(start)) => Some(fidelity(p, demo.addr, start, &records)?),
        _ => None,
    };
    let log_lines = demo.log_lines.load(Ordering::Relaxed);
    drop(prometheus);
    demo.stop();
    let spans_exported = collector.map(Collector::finish);
    Ok(RunResult {
        sdk_on,
        seconds: plan.seconds,
        records,
        samples,
        log_lines,
        spans_exported,
        load_average: load_average.trim().to_owned(),
        fidelity,
    })
}

/// The series of `http.server.request.duration` for the mix's routes, as a selector.
fn duration_selector(suffix: &str) -> String {
    let def = &sdk_core::catalogue::HTTP_SERVER_REQUEST_DURATION;
    let route = sdk_core::semconv::http::ROUTE.replace('.', "_");
    format!(
        "{}_{suffix}{{job=\"demo\",{route}=~\"/users/\\\\{{id\\\\}}|/work\"}}",
        def.prometheus_name()
    )
}

/// Requests of the mix's routes the demo has counted, from its own `/metrics`.
fn demo_count(demo: SocketAddr) -> Option<f64> {
    let (_, text) = http_get(demo, "/metrics").ok()?;
    let name = format!(
        "{}_count{{",
        sdk_core::catalogue::HTTP_SERVER_REQUEST_DURATION.prometheus_name()
    );
    let route = sdk_core::semconv::http::ROUTE.replace('.', "_");
    let routes = [
        format!("{route}=\"/users/{{id}}\""),
        format!("{route}=\"/work\""),
    ];
    let mut sum = 0.0;
    for line in text.lines().filter(|l| l.starts_with(&name)) {
        if routes.iter().any(|r| line.contains(r.as_str())) {
            sum += line.rsplit(' ').next()?.parse::<f64>().ok()?;
        }
    }
    Some(sum)
}

/// Waits until Prometheus holds the demo's current count for the mix's routes (read again
/// on every poll: a request is counted as its answer completes); the time.
fn settle(prometheus: &Prometheus, demo: SocketAddr) -> Result<f64> {
    let expr = format!("sum({})", duration_selector("count"));
    eventually(
        "Prometheus to scrape the demo's final counts",
        Duration::from_secs(60),
        || {
            let expected = demo_count(demo)?;
            let now = unix_now();
            let seen = prometheus.query(&expr, now).ok()??;
            (seen == expected).then_some(now)
        },
    )
}

/// Index of the histogram bucket holding `value` (the first bound ≥ value; `len` is +Inf).
fn bucket_index(bounds: &[f64], value: f64) -> usize {
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

/// Prometheus' p95 over the measured run against the generator's.
fn fidelity(
    prometheus: &Prometheus,
    demo: SocketAddr,
    window_start: f64,
    records: &[Record],
) -> Result<Value> {
    let end = settle(prometheus, demo)?;
    let window = (end - window_start).ceil() as u64;
    let expr = format!(
        "histogram_quantile(0.95, sum by (le) (rate({}[{window}s])))",
        duration_selector("bucket")
    );
    let from_prometheus = prometheus
        .query(&expr, end)?
        .ok_or_else(|| format!("no result for {expr}"))?;
    let counted = prometheus
        .query(
            &format!("sum(increase({}[{window}s]))", duration_selector("count")),
            end,
        )?
        .unwrap_or(f64::NAN);
    let from_generator = quantile(&sorted_latencies(records.iter()), 0.95);
    let bounds = sdk_core::catalogue::HTTP_SERVER_REQUEST_DURATION.buckets;
    let (a, b) = (
        bucket_index(bounds, from_prometheus),
        bucket_index(bounds, from_generator),
    );
    Ok(json!({
        "query": expr,
        "prometheus_p95_s": from_prometheus,
        "prometheus_bucket": bucket_text(bounds, a),
        "generator_p95_s": from_generator,
        "generator_bucket": bucket_text(bounds, b),
        "bucket_distance": a.abs_diff(b),
        "within_one_bucket": a.abs_diff(b) <= 1,
        "requests_generator": records.len(),
        "requests_prometheus_increase": counted,
        "bucket_bounds_s": bounds,
    }))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

/// Soak: RSS growth after warm-up (see [`SOAK_DEFINITION`]).
fn soak_growth(samples: &[ProcSample], seconds: f64) -> Value {
    let warm = 0.2 * seconds;
    let early = mean(
        samples
            .iter()
            .filter(|s| s.t >= warm && s.t < warm + 0.1 * seconds)
            .map(|s| mib(s.rss_kib)),
    );
    let late = mean(
        samples
            .iter()
            .filter(|s| s.t >= 0.9 * seconds)
            .map(|s| mib(s.rss_kib)),
    );
    let after: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.t >= warm)
        .map(|s| (s.t, mib(s.rss_kib)))
        .collect();
    let (mt, mr) = (
        mean(after.iter().map(|p| p.0)),
        mean(after.iter().map(|p| p.1)),
    );
    let (num, den) = after.iter().fold((0.0, 0.0), |(n, d), (t, r)| {
        (n + (t - mt) * (r - mr), d + (t - mt) * (t - mt))
    });
    let slope_per_hour = if den > 0.0 {
        num / den * 3600.0
    } else {
        f64::NAN
    };
    let growth = late - early;
    json!({
        "rss_after_warmup_mib": early,
        "rss_end_mib": late,
        "rss_growth_mib": growth,
        "rss_slope_mib_per_hour": slope_per_hour,
        "flat": growth <= (0.02 * early).max(2.0),
        "definition": SOAK_DEFINITION,
    })
}

/// Spike: recovery time (see [`RECOVERY_DEFINITION`]).
fn spike_recovery(records: &[Record], spike: (f64, f64), seconds: f64) -> Value {
    let (at, len) = spike;
    let end = at + len;
    let pre: Vec<&Record> = records
        .iter()
        .filter(|r| r.start >= (at / 2.0).min(5.0) && r.start < at)
        .collect();
    let pre_p99 = quantile(&sorted_latencies(pre.iter().copied()), 0.99);
    let during = percentiles_ms(records.iter().filter(|r| r.start >= at && r.start < end));
    let threshold = pre_p99 * RECOVERY_TOLERANCE;
    let first = end.ceil() as usize;
    let mut recovered = None;
    for second in first..(seconds as usize).saturating_sub(RECOVERY_WINDOW_S - 1) {
        let window =
            sorted_latencies(records.iter().filter(|r| {
                r.start >= second as f64 && r.start < (second + RECOVERY_WINDOW_S) as f64
            }));
        if !window.is_empty() && quantile(&window, 0.99) <= threshold {
            recovered = Some(second as f64 - end);
            break;
        }
    }
    json!({
        "spike_start_s": at,
        "spike_end_s": end,
        "pre_spike_p99_ms": pre_p99 * 1e3,
        "threshold_p99_ms": threshold * 1e3,
        "during_spike_p50_p95_p99_ms": during.map(|v| (v * 1000.0).round() / 1000.0),
        "recovery_s": recovered,
        "definition": RECOVERY_DEFINITION,
    })
}

fn side_report(plan: &Plan, result: &RunResult) -> Value {
    let errors = result.records.iter().filter(|r| r.status >= 400).count();
    let [p50, p95, p99] = percentiles_ms(result.records.iter());
    let max = result
        .records
        .iter()
        .map(|r| r.latency * 1e3)
        .fold(0.0, f64::max);
    let cpu = match (result.samples.first(), result.samples.last()) {
        (Some(a), Some(b)) => b.cpu_s - a.cpu_s,
        _ => f64::NAN,
    };
    let n = result.records.len();
    let seconds = per_second(&result.records, result.seconds as usize);
    let mut side = json!({
        "sdk": if result.sdk_on { "on" } else { "off" },
        "duration_s": result.seconds,
        "requests": n,
        "scheduled": (plan.rate * plan.seconds + plan.spike.map_or(0.0, |(_, len)| plan.rate * (SPIKE_FACTOR - 1.0) * len)).round(),
        "errors": errors,
        "throughput_rps": n as f64 / result.seconds,
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
        "max_ms": max,
        "cpu_s": cpu,
        "cpu_ms_per_request": cpu * 1e3 / n as f64,
        "rss_start_mib": result.samples.first().map(|s| mib(s.rss_kib)),
        "rss_end_mib": result.samples.last().map(|s| mib(s.rss_kib)),
        "rss_max_mib": result.samples.iter().map(|s| mib(s.rss_kib)).fold(0.0, f64::max),
        "log_lines": result.log_lines,
        "spans_exported": result.spans_exported,
        "load_average_before": result.load_average,
        "per_second": seconds.iter().enumerate().map(|(t, (count, [p50, p95, p99]))| json!({
            "t": t, "requests": count, "p50_ms": p50, "p95_ms": p95, "p99_ms": p99,
        })).collect::<Vec<_>>(),
        "rss_samples": result.samples.iter().map(|s| json!([(s.t * 10.0).round() / 10.0, s.rss_kib])).collect::<Vec<_>>(),
    });
    if let Some(fidelity) = &result.fidelity {
        side["fidelity"] = fidelity.clone();
    }
    if let Some(spike) = plan.spike {
        side["spike"] = spike_recovery(&result.records, spike, result.seconds);
    }
    if plan.scenario == Scenario::Soak {
        side["soak"] = soak_growth(&result.samples, result.seconds);
    }
    side
}

fn scenario_report(plan: &Plan, results: &[RunResult]) -> Value {
    json!({
        "scenario": plan.scenario.name(),
        "rate_rps": plan.rate,
        "duration_s": plan.seconds,
        "spike": plan.spike.map(|(at, len)| json!({"start_s": at, "length_s": len, "factor": SPIKE_FACTOR})),
        "mix": "70 % GET /users/{id} (ids 1-70, PostgreSQL), 30 % GET /work (5 ms timer)",
        "runs": results.iter().map(|r| side_report(plan, r)).collect::<Vec<_>>(),
    })
}

fn number(value: &Value) -> String {
    match value.as_f64() {
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
        None => "–".to_owned(),
    }
}

/// A duration in seconds with 0.1 ms resolution.
fn seconds_text(value: &Value) -> String {
    value
        .as_f64()
        .map_or_else(|| "–".to_owned(), |v| format!("{v:.4}"))
}

fn summary_text(report: &Value) -> String {
    let mut out = format!("{}:\n", report["scenario"].as_str().unwrap_or_default());
    for run in report["runs"].as_array().into_iter().flatten() {
        out += &format!(
            "  SDK {:3}: {} req/s, p50 {} ms, p95 {} ms, p99 {} ms, {} errors, {} ms CPU/request, RSS {}→{} MiB\n",
            run["sdk"].as_str().unwrap_or_default(),
            number(&run["throughput_rps"]),
            number(&run["p50_ms"]),
            number(&run["p95_ms"]),
            number(&run["p99_ms"]),
            run["errors"],
            number(&run["cpu_ms_per_request"]),
            number(&run["rss_start_mib"]),
            number(&run["rss_end_mib"]),
        );
        if run["sdk"] == "on" {
            out += &format!(
                "    {} spans exported, {} log lines (warm-up included)\n",
                run["spans_exported"], run["log_lines"]
            );
        }
        if let Some(f) = run.get("fidelity") {
            out += &format!(
                "    p95: Prometheus {} s in {}, generator {} s in {}: within one bucket: {}\n",
                seconds_text(&f["prometheus_p95_s"]),
                f["prometheus_bucket"].as_str().unwrap_or_default(),
                seconds_text(&f["generator_p95_s"]),
                f["generator_bucket"].as_str().unwrap_or_default(),
                f["within_one_bucket"],
            );
        }
        if let Some(s) = run.get("spike") {
            out += &format!(
                "    spike: pre-spike p99 {} ms, during p50/p95/p99 {} ms, recovery {} s\n",
                number(&s["pre_spike_p99_ms"]),
                s["during_spike_p50_p95_p99_ms"],
                number(&s["recovery_s"]),
            );
        }
        if let Some(s) = run.get("soak") {
            out += &format!(
                "    soak: RSS after warm-up {} MiB, at the end {} MiB, growth {} MiB ({} MiB/h), flat: {}\n",
                number(&s["rss_after_warmup_mib"]),
                number(&s["rss_end_mib"]),
                number(&s["rss_growth_mib"]),
                number(&s["rss_slope_mib_per_hour"]),
                s["flat"],
            );
        }
    }
    out
}

type Plot = std::result::Result<(), Box<dyn std::error::Error>>;

/// Renders one chart into an SVG string.
fn svg(
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Plot,
) -> Result<String> {
    let mut text = String::new();
    {
        let area = SVGBackend::with_string(&mut text, (960, 340)).into_drawing_area();
        area.fill(&WHITE).map_err(|e| e.to_string())?;
        draw(&area).map_err(|e| e.to_string())?;
        area.present().map_err(|e| e.to_string())?;
    }
    Ok(text)
}

const ON: RGBColor = RGBColor(214, 39, 40);
const OFF: RGBColor = RGBColor(31, 119, 180);

fn side_color(sdk_on: bool) -> RGBColor {
    if sdk_on { ON } else { OFF }
}

fn side_name(sdk_on: bool) -> &'static str {
    if sdk_on { "SDK on" } else { "SDK off" }
}

/// Per-second p50/p95/p99 for each side, log scale, the spike shaded.
fn latency_chart(plan: &Plan, results: &[RunResult]) -> Result<String> {
    let series: Vec<(bool, PerSecond)> = results
        .iter()
        .map(|r| (r.sdk_on, per_second(&r.records, r.seconds as usize)))
        .collect();
    let values = series.iter().flat_map(|(_, s)| {
        s.iter()
            .flat_map(|(n, p)| if *n > 0 { p.to_vec() } else { vec![] })
    });
    let (low, high) = values.fold((f64::MAX, 0.0f64), |(l, h), v| (l.min(v), h.max(v)));
    // Headroom above the data for the legend.
    let (low, high) = (low.max(0.01) * 0.8, high.max(0.1) * 4.0);
    svg(|area| {
        let mut chart = ChartBuilder::on(area)
            .caption(
                "Latency per second (p50, p95, p99; oha, from when each request was due)",
                ("sans-serif", 16),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..plan.seconds, (low..high).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("seconds into the run")
            .y_desc("latency (ms, log)")
            .draw()?;
        if let Some((at, len)) = plan.spike {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(at, low), (at + len, high)],
                RGBColor(255, 190, 0).mix(0.18).filled(),
            )))?;
        }
        for (sdk_on, seconds) in &series {
            for (i, (q, width)) in [("p50", 1), ("p95", 1), ("p99", 2)].into_iter().enumerate() {
                let color = side_color(*sdk_on).mix([0.45, 0.7, 1.0][i]);
                let points = seconds
                    .iter()
                    .enumerate()
                    .filter(|(_, (n, _))| *n > 0)
                    .map(|(t, (_, p))| (t as f64 + 0.5, p[i]));
                let style = color.stroke_width(width);
                chart
                    .draw_series(LineSeries::new(points, style))?
                    .label(format!("{q} {}", side_name(*sdk_on)))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })
}

/// One line per side (SDK on, off), labelled for the legend.
fn draw_sides<CT>(
    chart: &mut ChartContext<'_, SVGBackend<'_>, CT>,
    lines: &[(bool, Vec<(f64, f64)>)],
) -> Plot
where
    CT: CoordTranslate<From = (f64, f64)>,
{
    for (sdk_on, points) in lines {
        let style = side_color(*sdk_on).stroke_width(2);
        chart
            .draw_series(LineSeries::new(points.iter().copied(), style))?
            .label(side_name(*sdk_on))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
    }
    Ok(())
}

/// The legend box, at `position`.
fn legend<'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    position: SeriesLabelPosition,
) -> Plot {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// Share of requests per latency bin (log-spaced, 10 per decade), one line per side.
fn histogram_chart(results: &[RunResult]) -> Result<String> {
    const PER_DECADE: f64 = 10.0;
    let bin = |ms: f64| (ms.max(0.01).log10() * PER_DECADE).floor() as i64;
    let lines: Vec<(bool, Vec<(f64, f64)>)> = results
        .iter()
        .map(|r| {
            let mut counts = std::collections::BTreeMap::<i64, usize>::new();
            for record in &r.records {
                *counts.entry(bin(record.latency * 1e3)).or_default() += 1;
            }
            let total = r.records.len().max(1) as f64;
            let points = counts
                .into_iter()
                .map(|(b, n)| {
                    (
                        10f64.powf((b as f64 + 0.5) / PER_DECADE),
                        100.0 * n as f64 / total,
                    )
                })
                .collect();
            (r.sdk_on, points)
        })
        .collect();
    let all = lines.iter().flat_map(|(_, p)| p.iter());
    let (xlow, xhigh, yhigh) = all.fold((f64::MAX, 0.0f64, 0.0f64), |(a, b, c), (x, y)| {
        (a.min(*x), b.max(*x), c.max(*y))
    });
    let (xlow, xhigh) = (xlow.min(xhigh) * 0.7, xhigh.max(xlow) * 1.4);
    svg(|area| {
        let mut chart = ChartBuilder::on(area)
            .caption(
                "Latency histogram (share of requests per bin, 10 bins per decade)",
                ("sans-serif", 16),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d((xlow..xhigh).log_scale(), 0f64..(yhigh * 1.1).max(1.0))?;
        chart
            .configure_mesh()
            .x_desc("latency (ms, log)")
            .y_desc("% of requests")
            .draw()?;
        draw_sides(&mut chart, &lines)?;
        legend(&mut chart, SeriesLabelPosition::MiddleRight)
    })
}

/// A per-second series for each side: RSS (MiB) or achieved requests per second.
fn series_chart(
    plan: &Plan,
    results: &[RunResult],
    caption: &str,
    y_desc: &str,
    series: impl Fn(&RunResult) -> Vec<(f64, f64)>,
) -> Result<String> {
    let lines: Vec<(bool, Vec<(f64, f64)>)> =
        results.iter().map(|r| (r.sdk_on, series(r))).collect();
    let values = lines.iter().flat_map(|(_, p)| p.iter().map(|(_, y)| *y));
    let (low, high) = values.fold((f64::MAX, 0.0f64), |(l, h), v| (l.min(v), h.max(v)));
    let (low, high) = if low > high { (0.0, 1.0) } else { (low, high) };
    let pad = ((high - low) * 0.1).max(1.0);
    let (low, high) = ((low - pad).max(0.0), high + pad);
    svg(|area| {
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..plan.seconds, low..high)?;
        chart
            .configure_mesh()
            .x_desc("seconds into the run")
            .y_desc(y_desc)
            .draw()?;
        if let Some((at, len)) = plan.spike {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(at, low), (at + len, high)],
                RGBColor(255, 190, 0).mix(0.18).filled(),
            )))?;
        }
        draw_sides(&mut chart, &lines)?;
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn html_section(plan: &Plan, results: &[RunResult], report: &Value) -> Result<String> {
    let mut rows = String::new();
    let mut notes = String::new();
    for run in report["runs"].as_array().into_iter().flatten() {
        rows += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} → {}</td></tr>\n",
            run["sdk"].as_str().unwrap_or_default(),
            run["requests"],
            run["scheduled"],
            run["errors"],
            number(&run["throughput_rps"]),
            number(&run["p50_ms"]),
            number(&run["p95_ms"]),
            number(&run["p99_ms"]),
            number(&run["max_ms"]),
            number(&run["cpu_ms_per_request"]),
            number(&run["rss_start_mib"]),
            number(&run["rss_end_mib"]),
        );
        let sdk = run["sdk"].as_str().unwrap_or_default();
        if sdk == "on" {
            notes += &format!(
                "<p><b>Telemetry (SDK on)</b>: {} spans received by the OTLP receiver, {} JSON log lines (warm-up included).</p>\n",
                run["spans_exported"], run["log_lines"]
            );
        }
        if let Some(f) = run.get("fidelity") {
            notes += &format!(
                "<p><b>Fidelity (SDK {sdk})</b>: Prometheus p95 {} s, bucket {}; generator p95 {} s, bucket {}; {} bucket(s) apart: <b>{}</b>. Requests: generator {}, Prometheus <code>increase</code> {}. Query: <code>{}</code>. Bounds: {}.</p>\n",
                seconds_text(&f["prometheus_p95_s"]),
                escape(f["prometheus_bucket"].as_str().unwrap_or_default()),
                seconds_text(&f["generator_p95_s"]),
                escape(f["generator_bucket"].as_str().unwrap_or_default()),
                f["bucket_distance"],
                if f["within_one_bucket"] == true {
                    "within one bucket"
                } else {
                    "NOT within one bucket"
                },
                f["requests_generator"],
                number(&f["requests_prometheus_increase"]),
                escape(f["query"].as_str().unwrap_or_default()),
                f["bucket_bounds_s"],
            );
        }
        if let Some(s) = run.get("spike") {
            notes += &format!(
                "<p><b>Spike (SDK {sdk})</b>: pre-spike p99 {} ms (threshold {} ms); during the spike p50/p95/p99 {} ms; recovery time: <b>{}</b>.</p>\n",
                number(&s["pre_spike_p99_ms"]),
                number(&s["threshold_p99_ms"]),
                s["during_spike_p50_p95_p99_ms"],
                match s["recovery_s"].as_f64() {
                    Some(v) => format!("{v:.0} s"),
                    None => "not recovered before the end of the run".to_owned(),
                },
            );
        }
        if let Some(s) = run.get("soak") {
            notes += &format!(
                "<p><b>Soak (SDK {sdk})</b>: RSS after warm-up {} MiB, at the end {} MiB: growth <b>{} MiB</b>, slope {} MiB/h, flat: <b>{}</b>.</p>\n",
                number(&s["rss_after_warmup_mib"]),
                number(&s["rss_end_mib"]),
                number(&s["rss_growth_mib"]),
                number(&s["rss_slope_mib_per_hour"]),
                s["flat"],
            );
        }
    }
    if plan.spike.is_some() {
        notes += &format!("<p class=def>{}</p>\n", escape(RECOVERY_DEFINITION));
    }
    if plan.scenario == Scenario::Soak {
        notes += &format!("<p class=def>{}</p>\n", escape(SOAK_DEFINITION));
    }
    let charts = [
        latency_chart(plan, results)?,
        histogram_chart(results)?,
        series_chart(
            plan,
            results,
            "Demo RSS (VmRSS from /proc/PID/status, every second)",
            "RSS (MiB)",
            |r| r.samples.iter().map(|s| (s.t, mib(s.rss_kib))).collect(),
        )?,
        series_chart(
            plan,
            results,
            "Requests completed per second (by start second)",
            "requests/s",
            |r| {
                per_second(&r.records, r.seconds as usize)
                    .iter()
                    .enumerate()
                    .map(|(t, (n, _))| (t as f64 + 0.5, *n as f64))
                    .collect()
            },
        )?,
    ];
    Ok(format!(
        "<section><h2>{name}</h2>\n<p>{rate} requests/s for {seconds} s{spike}; mix: {mix}.</p>\n\
         <table><tr><th>SDK</th><th>requests</th><th>scheduled</th><th>errors</th><th>req/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>CPU ms/request</th><th>RSS MiB</th></tr>\n{rows}</table>\n{notes}{charts}</section>\n",
        name = plan.scenario.name(),
        rate = plan.rate,
        seconds = plan.seconds,
        spike = plan.spike.map_or(String::new(), |(at, len)| format!(
            ", {SPIKE_FACTOR}× the rate from {at} s for {len} s"
        )),
        mix = escape(report["mix"].as_str().unwrap_or_default()),
        charts = charts
            .iter()
            .map(|c| format!("<figure>{c}</figure>\n"))
            .collect::<String>(),
    ))
}

fn html_page(label: &str, sections: &[String]) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=utf-8><title>Load report: {label}</title>\n<style>\
         body{{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}\
         figure{{margin:1em 0}}.def{{color:#555;font-size:90%}}\
         </style></head><body>\n<h1>Load report: {label}</h1>\n\
         <p>Demo service (release build, PostgreSQL, Redis) driven by oha {OHA_VERSION} at a fixed rate \
         (<code>-q</code>, <code>--latency-correction</code>: latency counts from when a request was due), \
         SDK on (<code>OTEL_SDK_DISABLED=false</code>: JSON logs, Prometheus metrics, spans exported over \
         OTLP/HTTP to a receiver in the harness) and off (<code>OTEL_SDK_DISABLED=true</code>: the demo skips its HTTP layers). Red: SDK on; \
         blue: SDK off; the shaded band is the spike.</p>\n{}</body></html>\n",
        sections.concat()
    )
}
