//! `cargo xtask drill`: the long reliability drills, with their figures.
//!
//! The demo (release build, PostgreSQL and Redis behind it) serves a steady loopback load
//! from oha while it exports traces, metrics and logs over OTLP/HTTP to a receiver built
//! from the official protobufs, and traces to the Datadog test agent. Each scenario runs
//! a healthy baseline, then a fault of `--fault-seconds` (default 60), then a recovery:
//!
//! - `outage`: the OTLP collector and the Datadog agent are down (their ports closed),
//!   then back on the same ports;
//! - `slow`: the collector answers every request only after [`SLOW_ANSWER`];
//! - `throttle`: the collector answers `429` with `Retry-After: 2` (first half of the
//!   fault), then `503` with `Retry-After: 2` (second half).
//!
//! Measured and checked for each: no failed request; p99 during the fault within +10 % of
//! the baseline's; RSS flat once the queues are full; drops counted on `/metrics` by signal,
//! exporter and reason; delivery resuming within 5 s of the collector's return; the export
//! threads' CPU bounded during the fault (no hot loop); during `throttle`, no signal
//! retried sooner than `Retry-After` said. Then every fuzz target runs to `--fuzz-runs`
//! executions (default 2,000,000; `--fuzz-runs 0` skips them).
//!
//! The report goes to stdout and to `target/drill/report.json`; the drill fails when a
//! check fails.
//!
//! One file past the usual length: a scenario is one timeline (start, fault, return,
//! figures, checks) that reads best top to bottom.

use crate::Result;
use crate::load::{
    Record, build_demo, ensure_load_generator, eventually, free_addr, http_get, oha_command,
    quantile, read_csv, read_proc, sorted_latencies,
};
use sdk_core::testing::TestAgent;
use sdk_core::testing::otlp::OtlpReceiver;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long the slow collector takes to answer each request.
const SLOW_ANSWER: Duration = Duration::from_secs(3);
/// `Retry-After` the throttling collector sends, in seconds.
const RETRY_AFTER_S: u64 = 2;
/// Load: requests per second, over oha's connections.
const RATE: f64 = 300.0;
/// Unmeasured warm-up before the baseline.
const WARMUP_S: f64 = 10.0;
/// Healthy baseline and recovery phases.
const BASELINE_S: f64 = 30.0;
const RECOVERY_S: f64 = 30.0;
/// Limits the checks hold the figures to.
const P99_TOLERANCE: f64 = 1.10;
const RESUME_LIMIT: Duration = Duration::from_secs(5);
/// Export threads' CPU during a fault, in percent of one core.
const EXPORT_CPU_LIMIT_PERCENT: f64 = 5.0;

const USAGE: &str =
    "cargo xtask drill [--scenario outage|slow|throttle|all] [--fault-seconds N] [--fuzz-runs N]";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fault {
    Outage,
    Slow,
    Throttle,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Self::Outage => "outage",
            Self::Slow => "slow",
            Self::Throttle => "throttle",
        }
    }
}

struct Options {
    faults: Vec<Fault>,
    fault_s: f64,
    fuzz_runs: u64,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options {
        faults: vec![Fault::Outage, Fault::Slow, Fault::Throttle],
        fault_s: 60.0,
        fuzz_runs: 2_000_000,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value; usage: {USAGE}"))
        };
        match arg.as_str() {
            "--scenario" => {
                options.faults = match value()?.as_str() {
                    "outage" => vec![Fault::Outage],
                    "slow" => vec![Fault::Slow],
                    "throttle" => vec![Fault::Throttle],
                    "all" => options.faults,
                    other => return Err(format!("unknown scenario {other:?}; usage: {USAGE}")),
                }
            }
            "--fault-seconds" => {
                options.fault_s = value()?
                    .parse()
                    .ok()
                    .filter(|s: &f64| *s >= 10.0)
                    .ok_or_else(|| format!("--fault-seconds takes a number ≥ 10; usage: {USAGE}"))?
            }
            "--fuzz-runs" => {
                options.fuzz_runs = value()?
                    .parse()
                    .map_err(|_| format!("--fuzz-runs takes a count; usage: {USAGE}"))?
            }
            other => return Err(format!("unknown argument {other:?}; usage: {USAGE}")),
        }
    }
    Ok(options)
}

/// `cargo xtask drill`.
pub(crate) fn drill(args: &[String]) -> Result {
    let options = parse(args)?;
    crate::ensure_postgres()?;
    crate::ensure_redis()?;
    let agent_program = crate::ensure_test_agent()?;
    let oha = ensure_load_generator()?;
    let binary = build_demo()?;
    let dir = crate::load::root().join("target/drill");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut reports = Vec::new();
    let mut failed = Vec::new();
    for fault in &options.faults {
        eprintln!(
            "==> drill {}: {} s under load",
            fault.name(),
            options.fault_s
        );
        let report = scenario(*fault, options.fault_s, &binary, &oha, &agent_program, &dir)?;
        println!("{}", summary(&report));
        failed.extend(
            report["checks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["ok"] == false)
                .map(|c| format!("{}: {}", fault.name(), c["check"])),
        );
        reports.push(report);
    }
    let path = dir.join("report.json");
    let text = serde_json::to_string_pretty(&Value::Array(reports)).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("report: {}", path.display());
    if options.fuzz_runs > 0 {
        // The run count decides, not `cargo xtask fuzz`'s default 600 s limit (the Redis
        // masker runs about 7,000 executions a second).
        crate::fuzz::fuzz(&[
            "--runs".to_owned(),
            options.fuzz_runs.to_string(),
            "--seconds".to_owned(),
            "86400".to_owned(),
        ])?;
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("failed checks: {}", failed.join("; ")))
    }
}

/// The OTLP receiver, stopped and started on the same port; drained every 200 ms so
/// its memory stays bounded, counting what arrived and when.
struct Collector {
    addr: SocketAddr,
    receiver: Mutex<Option<OtlpReceiver>>,
    tally: Mutex<Tally>,
    stop: AtomicBool,
}

#[derive(Default)]
struct Tally {
    /// Spans, metric exports and log exports accepted.
    spans: u64,
    metric_exports: u64,
    log_exports: u64,
    /// When each signal was last accepted.
    last_accepted: BTreeMap<&'static str, Instant>,
    /// Refused requests by path, with when they came.
    refused: BTreeMap<String, Vec<Instant>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Collector {
    fn start() -> Result<Arc<Self>> {
        let receiver = OtlpReceiver::start()?;
        let collector = Arc::new(Self {
            addr: receiver.http_addr,
            receiver: Mutex::new(Some(receiver)),
            tally: Mutex::default(),
            stop: AtomicBool::new(false),
        });
        // A weak handle, so that dropping the collector stops the thread.
        let drained = Arc::downgrade(&collector);
        std::thread::spawn(move || {
            while let Some(collector) = drained.upgrade() {
                if collector.stop.load(Ordering::Relaxed) {
                    break;
                }
                collector.drain();
                drop(collector);
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        Ok(collector)
    }

    fn drain(&self) {
        let Some(received) = lock(&self.receiver).as_ref().map(OtlpReceiver::take) else {
            return;
        };
        let now = Instant::now();
        let mut tally = lock(&self.tally);
        let spans: usize = received
            .traces
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum();
        tally.spans += spans as u64;
        tally.metric_exports += received.metrics.len() as u64;
        tally.log_exports += received.logs.len() as u64;
        for (signal, n) in [
            ("traces", received.traces.len()),
            ("metrics", received.metrics.len()),
            ("logs", received.logs.len()),
        ] {
            if n > 0 {
                tally.last_accepted.insert(signal, now);
            }
        }
        for request in received.http_requests.iter().filter(|r| r.status != 200) {
            tally
                .refused
                .entry(request.path.clone())
                .or_default()
                .push(request.arrived);
        }
    }

    fn with<T>(&self, f: impl FnOnce(&OtlpReceiver) -> T) -> Option<T> {
        lock(&self.receiver).as_ref().map(f)
    }

    /// Closes the port (what arrived so far is counted first).
    fn down(&self) {
        self.drain();
        drop(lock(&self.receiver).take());
    }

    /// Listens again on the same port.
    fn up(&self) -> Result {
        let receiver = OtlpReceiver::start_with_http_at(self.addr)?;
        *lock(&self.receiver) = Some(receiver);
        Ok(())
    }

    fn last_accepted(&self, signal: &str) -> Option<Instant> {
        lock(&self.tally).last_accepted.get(signal).copied()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The demo process exporting to `collector` and `agent`.
struct Demo {
    child: Child,
    addr: SocketAddr,
}

impl Demo {
    fn start(binary: &Path, collector: &str, agent: &str, stderr: &Path) -> Result<Self> {
        let addr = free_addr()?;
        let stderr_file =
            std::fs::File::create(stderr).map_err(|e| format!("{}: {e}", stderr.display()))?;
        let mut child = Command::new(binary)
            .args(["--addr", &addr.to_string()])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("OTEL_SERVICE_NAME", "demo-drill")
            .env("OTEL_TRACES_EXPORTER", "otlp,datadog")
            .env("OTEL_METRICS_EXPORTER", "prometheus,otlp")
            .env("OTEL_LOGS_EXPORTER", "otlp,console")
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector)
            .env("DD_TRACE_AGENT_URL", agent)
            // Exports every second, so that resuming is measured to the second.
            .env("OTEL_BSP_SCHEDULE_DELAY", "1000")
            .env("OTEL_BLRP_SCHEDULE_DELAY", "1000")
            .env("OTEL_METRIC_EXPORT_INTERVAL", "1000")
            .env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
            .env("REDIS_URL", "redis://127.0.0.1:6379")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr_file)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stdout);
                let mut line = Vec::new();
                while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                    line.clear();
                }
            });
        }
        let mut demo = Self { child, addr };
        eventually(
            "the demo to answer /health/ready",
            Duration::from_secs(60),
            || {
                if let Ok(Some(status)) = demo.child.try_wait() {
                    return Some(Err(format!(
                        "the demo exited ({status}) before answering; see {}",
                        stderr.display()
                    )));
                }
                matches!(http_get(addr, "/health/ready"), Ok((200, _))).then_some(Ok(()))
            },
        )??;
        Ok(demo)
    }

    /// `sdk.exporter.dropped` on `/metrics`, by `signal/exporter/reason`.
    fn dropped(&self) -> BTreeMap<String, f64> {
        let Ok((200, text)) = http_get(self.addr, "/metrics") else {
            return BTreeMap::new();
        };
        text.lines()
            .filter_map(|line| line.strip_prefix("sdk_exporter_dropped_total{"))
            .filter_map(|rest| {
                let (labels, value) = rest.rsplit_once("} ")?;
                let label = |key: &str| {
                    labels
                        .split(',')
                        .find_map(|kv| kv.strip_prefix(&format!("{key}=\"")))
                        .map(|v| v.trim_end_matches('"').to_owned())
                        .unwrap_or_default()
                };
                Some((
                    format!(
                        "{}/{}/{}",
                        label("sdk_signal"),
                        label("sdk_exporter"),
                        label("sdk_reason")
                    ),
                    value.trim().parse().ok()?,
                ))
            })
            .collect()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let exited = eventually("the demo to exit", Duration::from_secs(30), || {
            self.child.try_wait().ok().flatten()
        });
        if exited.is_err() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The load generator, stopped if the scenario ends early.
struct Load(Child);

impl Drop for Load {
    fn drop(&mut self) {
        if !matches!(self.0.try_wait(), Ok(Some(_))) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// One second's sample: seconds since the run started, RSS (KiB), export threads' CPU (s).
#[derive(Clone, Copy)]
struct Sample {
    t: f64,
    rss_kib: u64,
    export_cpu_s: f64,
}

fn ticks_per_s() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Sleeps until `t0 + at` seconds.
fn sleep_until(t0: Instant, at: f64) {
    std::thread::sleep(
        (t0 + Duration::from_secs_f64(at)).saturating_duration_since(Instant::now()),
    );
}

fn p99_ms(records: &[Record], from: f64, to: f64) -> f64 {
    let sorted = sorted_latencies(records.iter().filter(|r| r.start >= from && r.start < to));
    quantile(&sorted, 0.99) * 1e3
}

fn mean_rss_mib(samples: &[Sample], from: f64, to: f64) -> f64 {
    let picked: Vec<f64> = samples
        .iter()
        .filter(|s| s.t >= from && s.t < to)
        .map(|s| s.rss_kib as f64 / 1024.0)
        .collect();
    picked.iter().sum::<f64>() / picked.len().max(1) as f64
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

fn check(name: &str, ok: bool, figure: String) -> Value {
    json!({ "check": name, "ok": ok, "figure": figure })
}

#[allow(
    clippy::too_many_lines,
    reason = "one scenario's timeline, read top to bottom"
)]
fn scenario(
    fault: Fault,
    fault_s: f64,
    binary: &Path,
    oha: &Path,
    agent_program: &str,
    dir: &Path,
) -> Result<Value> {
    let collector = Collector::start()?;
    let agent_port = free_addr()?.port();
    let mut agent = Some(TestAgent::start_program_at(
        agent_program.as_ref(),
        agent_port,
    )?);
    let agent_url = format!("http://127.0.0.1:{agent_port}");
    let demo = Demo::start(
        binary,
        &format!("http://{}", collector.addr),
        &agent_url,
        &dir.join(format!("{}.stderr", fault.name())),
    )?;
    let urls = dir.join("urls.txt");
    let base = format!("http://{}", demo.addr);
    let mut mix: Vec<String> = (1..=70).map(|id| format!("{base}/users/{id}")).collect();
    mix.extend((0..30).map(|_| format!("{base}/work")));
    std::fs::write(&urls, mix.join("\n") + "\n").map_err(|e| e.to_string())?;

    let (fault_start, fault_end) = (WARMUP_S + BASELINE_S, WARMUP_S + BASELINE_S + fault_s);
    let total = fault_end + RECOVERY_S;
    let csv = dir.join(format!("{}.csv", fault.name()));
    let t0 = Instant::now();
    let mut load = Load(
        oha_command(oha, &urls, RATE, total, Some(&csv))
            .spawn()
            .map_err(|e| format!("cannot start oha: {e}"))?,
    );

    // Samples every second.
    let ticks = ticks_per_s();
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (samples, sampling) = (Arc::clone(&samples), Arc::clone(&sampling));
        let pid = demo.child.id();
        let demo_cpu = DemoThreads { pid, ticks };
        std::thread::spawn(move || {
            let mut tick = 0_u32;
            while sampling.load(Ordering::Relaxed) {
                if let Some((rss_kib, _)) = read_proc(pid, ticks) {
                    lock(&samples).push(Sample {
                        t: t0.elapsed().as_secs_f64(),
                        rss_kib,
                        export_cpu_s: demo_cpu.export_cpu_s(),
                    });
                }
                tick += 1;
                sleep_until(t0, f64::from(tick));
            }
        })
    };

    sleep_until(t0, fault_start);
    let dropped_before = demo.dropped();
    match fault {
        Fault::Outage => {
            collector.down();
            drop(agent.take());
        }
        Fault::Slow => {
            collector.with(|r| r.delay_http(SLOW_ANSWER));
        }
        Fault::Throttle => {
            collector.with(|r| r.refuse_http(Some((429, Some(RETRY_AFTER_S)))));
            sleep_until(t0, fault_start + fault_s / 2.0);
            collector.with(|r| r.refuse_http(Some((503, Some(RETRY_AFTER_S)))));
        }
    }
    sleep_until(t0, fault_end);
    let dropped_during = demo.dropped();
    match fault {
        Fault::Outage => collector.up()?,
        Fault::Slow => {
            collector.with(|r| r.delay_http(Duration::ZERO));
        }
        Fault::Throttle => {
            collector.with(|r| r.refuse_http(None));
        }
    }
    let back = Instant::now();
    // The agent answers about a second after it starts: its return is when it answers.
    let agent_back = if fault == Fault::Outage {
        agent = Some(TestAgent::start_program_at(
            agent_program.as_ref(),
            agent_port,
        )?);
        Instant::now()
    } else {
        back
    };
    // Resuming: the first accepted export of each signal after the collector is back,
    // and the first trace at the Datadog agent.
    let mut resumed: BTreeMap<&str, Option<f64>> = BTreeMap::new();
    for signal in ["traces", "metrics", "logs"] {
        let at = eventually(
            &format!("OTLP {signal} after the fault"),
            Duration::from_secs(30),
            || {
                collector.drain();
                collector.last_accepted(signal).filter(|at| *at > back)
            },
        )
        .ok();
        resumed.insert(signal, at.map(|at| round((at - back).as_secs_f64(), 2)));
    }
    if fault == Fault::Outage {
        let at = agent.as_ref().and_then(|agent| {
            eventually(
                "Datadog traces after the outage",
                Duration::from_secs(30),
                || {
                    let (status, traces) = agent.get("/test/session/traces").ok()?;
                    (status == 200 && traces.as_array().is_some_and(|t| !t.is_empty()))
                        .then(Instant::now)
                },
            )
            .ok()
        });
        resumed.insert(
            "datadog traces",
            at.map(|at| round((at - agent_back).as_secs_f64(), 2)),
        );
    }

    let status = load.0.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("oha failed ({status})"));
    }
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.join();
    let samples = lock(&samples).clone();
    let records = read_csv(&csv, 0.0)?;
    let dropped_after = demo.dropped();
    let refused = lock(&collector.tally).refused.clone();
    let tally_spans = lock(&collector.tally).spans;
    drop(demo);

    // Figures.
    let failed = records.iter().filter(|r| r.status != 200).count();
    let scheduled = (RATE * total).round() as usize;
    let p99_base = p99_ms(&records, WARMUP_S, fault_start);
    let p99_fault = p99_ms(&records, fault_start, fault_end);
    let p99_recovered = p99_ms(&records, fault_end, total);
    let rss_base = mean_rss_mib(&samples, WARMUP_S, fault_start);
    let mid = fault_start + fault_s / 2.0;
    // Flat once full: the fault's second quarter against its last quarter.
    let quarter = fault_s / 4.0;
    let rss_fault_second_quarter = mean_rss_mib(&samples, fault_start + quarter, mid);
    let rss_fault_last_quarter = mean_rss_mib(&samples, fault_end - quarter, fault_end);
    let rss_max = samples
        .iter()
        .map(|s| s.rss_kib as f64 / 1024.0)
        .fold(0.0, f64::max);
    let cpu_at = |t: f64| {
        samples
            .iter()
            .min_by(|a, b| (a.t - t).abs().total_cmp(&(b.t - t).abs()))
            .map_or(0.0, |s| s.export_cpu_s)
    };
    let export_cpu_base = (cpu_at(fault_start) - cpu_at(WARMUP_S)) / BASELINE_S * 100.0;
    let export_cpu_fault = (cpu_at(fault_end) - cpu_at(fault_start)) / fault_s * 100.0;
    let drops: BTreeMap<String, f64> = dropped_during
        .iter()
        .map(|(k, v)| (k.clone(), v - dropped_before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v > 0.0)
        .collect();
    let drops_after: BTreeMap<String, f64> = dropped_after
        .iter()
        .map(|(k, v)| (k.clone(), v - dropped_during.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v > 0.0)
        .collect();
    // The shortest gap between two refused requests of one signal.
    let min_retry_gap: BTreeMap<String, f64> = refused
        .iter()
        .map(|(path, times)| {
            let gap = times
                .windows(2)
                .map(|w| (w[1] - w[0]).as_secs_f64())
                .fold(f64::INFINITY, f64::min);
            (path.clone(), round(gap, 2))
        })
        .collect();

    let rss_growth = rss_fault_last_quarter - rss_fault_second_quarter;
    let rss_flat_limit = (rss_fault_second_quarter * 0.05).max(4.0);
    let mut checks = vec![
        check(
            "0 failed requests",
            failed == 0,
            format!(
                "{failed} of {} answered not 200 ({scheduled} scheduled)",
                records.len()
            ),
        ),
        check(
            "p99 during the fault within +10 % of the baseline",
            p99_fault <= p99_base * P99_TOLERANCE,
            format!(
                "{:.2} ms vs {:.2} ms ({:+.1} %)",
                p99_fault,
                p99_base,
                (p99_fault / p99_base - 1.0) * 100.0
            ),
        ),
        check(
            "RSS flat once the queues are full",
            rss_growth <= rss_flat_limit,
            format!(
                "{rss_fault_second_quarter:.1} MiB (the fault's second quarter) → {rss_fault_last_quarter:.1} MiB (its last quarter), limit +{rss_flat_limit:.1} MiB; baseline {rss_base:.1} MiB, max {rss_max:.1} MiB"
            ),
        ),
        check(
            "delivery resumes within 5 s",
            resumed
                .values()
                .all(|s| s.is_some_and(|s| s <= RESUME_LIMIT.as_secs_f64())),
            format!("{resumed:?}"),
        ),
        check(
            "export threads' CPU bounded during the fault (no hot loop)",
            export_cpu_fault <= EXPORT_CPU_LIMIT_PERCENT,
            format!(
                "{export_cpu_fault:.2} % of a core during the fault, {export_cpu_base:.2} % in the baseline"
            ),
        ),
    ];
    match fault {
        Fault::Outage => checks.push(check(
            "drops counted by signal and reason",
            ["traces", "metrics", "logs"]
                .iter()
                .all(|signal| drops.keys().any(|k| k.starts_with(&format!("{signal}/")))),
            format!("{drops:?}"),
        )),
        Fault::Throttle => checks.push(check(
            "no signal retried sooner than Retry-After",
            !min_retry_gap.is_empty()
                && min_retry_gap
                    .values()
                    .all(|gap| *gap >= RETRY_AFTER_S as f64 * 0.9),
            format!(
                "{} refused requests; shortest gap by path {min_retry_gap:?}",
                refused.values().map(Vec::len).sum::<usize>()
            ),
        )),
        Fault::Slow => {}
    }
    Ok(json!({
        "scenario": fault.name(),
        "fault_seconds": fault_s,
        "rate": RATE,
        "requests": records.len(),
        "failed": failed,
        "p99_ms": { "baseline": round(p99_base, 2), "fault": round(p99_fault, 2), "recovered": round(p99_recovered, 2) },
        "rss_mib": { "baseline": round(rss_base, 1), "fault_second_quarter": round(rss_fault_second_quarter, 1), "fault_last_quarter": round(rss_fault_last_quarter, 1), "max": round(rss_max, 1) },
        "export_cpu_percent": { "baseline": round(export_cpu_base, 2), "fault": round(export_cpu_fault, 2) },
        "dropped_during_fault": drops,
        "dropped_after_fault": drops_after,
        "resumed_after_s": resumed,
        "refused_requests": refused.iter().map(|(p, t)| (p.clone(), t.len())).collect::<BTreeMap<_, _>>(),
        "min_retry_gap_s": min_retry_gap,
        "spans_received": tally_spans,
        "checks": checks,
    }))
}

/// Reads the CPU time of the demo's export threads (named `sdk-…`) from `/proc`.
struct DemoThreads {
    pid: u32,
    ticks: f64,
}

impl DemoThreads {
    fn export_cpu_s(&self) -> f64 {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid)) else {
            return 0.0;
        };
        tasks
            .filter_map(|task| {
                let dir = task.ok()?.path();
                let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
                if !comm.starts_with("sdk-") {
                    return None;
                }
                let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
                let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
                let ticks =
                    fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
                Some(ticks / self.ticks)
            })
            .sum()
    }
}

/// The scenario's figures and checks as text.
fn summary(report: &Value) -> String {
    let mut out = format!(
        "drill {}: {} requests at {} req/s, {} failed; p99 baseline {} ms, fault {} ms, recovered {} ms; RSS baseline {} MiB, max {} MiB; export CPU {} % (fault) vs {} % (baseline)\n  dropped during the fault: {}\n  resumed after (s): {}\n",
        report["scenario"].as_str().unwrap_or_default(),
        report["requests"],
        report["rate"],
        report["failed"],
        report["p99_ms"]["baseline"],
        report["p99_ms"]["fault"],
        report["p99_ms"]["recovered"],
        report["rss_mib"]["baseline"],
        report["rss_mib"]["max"],
        report["export_cpu_percent"]["fault"],
        report["export_cpu_percent"]["baseline"],
        report["dropped_during_fault"],
        report["resumed_after_s"],
    );
    for check in report["checks"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  [{}] {}: {}\n",
            if check["ok"] == true { "ok" } else { "FAIL" },
            check["check"].as_str().unwrap_or_default(),
            check["figure"].as_str().unwrap_or_default()
        ));
    }
    out
}
