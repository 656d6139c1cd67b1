//! Capture helpers for tests: what was logged and what was recorded.
//!
//! ```
//! use sdk_core::testing::{CapturedLogs, capture_metrics};
//! use sdk_core::catalogue::HTTP_SERVER_ACTIVE_REQUESTS;
//!
//! let logs = CapturedLogs::default();
//! tracing::subscriber::with_default(logs.subscriber(&Default::default()), || {
//!     let _span = tracing::info_span!("work", request_id = "r-1").entered();
//!     tracing::info!(n = 3, "done");
//! });
//! let line = &logs.lines()[0];
//! assert_eq!(line["message"], "done");
//! assert_eq!(line["request_id"], "r-1");
//!
//! let metrics = capture_metrics(|| {
//!     HTTP_SERVER_ACTIVE_REQUESTS.gauge(&[]).increment(1.0);
//! });
//! assert_eq!(metrics.len(), 1);
//! ```

use crate::config::{Sampler, ServiceInfo};
use crate::logs::JsonLogLayer;
use crate::trace::TraceContextLayer;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::{CompositeKey, MetricKind};
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// A `MakeWriter` that keeps every byte written, for asserting on JSON log lines.
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs {
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl CapturedLogs {
    /// A subscriber with the span-context layer and a JSON log layer writing here.
    pub fn subscriber(
        &self,
        service: &ServiceInfo,
    ) -> impl tracing::Subscriber + Send + Sync + use<> {
        tracing_subscriber::registry()
            .with(TraceContextLayer::new(Sampler::default()))
            .with(JsonLogLayer::new(self.clone(), service))
    }

    /// Like [`CapturedLogs::subscriber`], with events filtered by `RUST_LOG`-style
    /// `directives` as [`crate::init`] filters them.
    pub fn subscriber_with_filter(
        &self,
        service: &ServiceInfo,
        directives: &str,
    ) -> Result<impl tracing::Subscriber + Send + Sync + use<>, String> {
        use tracing_subscriber::Layer;
        let filter = tracing_subscriber::EnvFilter::builder()
            .parse(directives)
            .map_err(|err| err.to_string())?;
        Ok(tracing_subscriber::registry()
            .with(TraceContextLayer::new(Sampler::default()))
            .with(
                JsonLogLayer::new(self.clone(), service)
                    .with_filter(crate::logs::LogFilter::new(filter)),
            ))
    }

    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().unwrap_or_else(PoisonError::into_inner))
            .into_owned()
    }

    /// Every line parsed as JSON; a line that is not JSON becomes `Value::Null`.
    pub fn lines(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or(serde_json::Value::Null))
            .collect()
    }
}

/// The writer of one line.
#[derive(Debug)]
pub struct CapturedWriter {
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl Write for CapturedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedWriter;

    fn make_writer(&'a self) -> Self::Writer {
        CapturedWriter {
            bytes: Arc::clone(&self.bytes),
        }
    }
}

/// One recorded metric: kind, name, labels (sorted) and value.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedMetric {
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// The name as recorded (the catalogue's OpenTelemetry name).
    pub name: String,
    /// Labels, sorted by key.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: RecordedValue,
}

/// The value of a recorded metric.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordedValue {
    /// Counter total.
    Counter(u64),
    /// Gauge value.
    Gauge(f64),
    /// Every histogram sample.
    Histogram(Vec<f64>),
}

/// Runs `f` with a capturing recorder and returns what it recorded.
pub fn capture_metrics(f: impl FnOnce()) -> Vec<RecordedMetric> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, f);
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(
            |(key, _unit, _description, value): (CompositeKey, _, _, DebugValue)| {
                let (kind, key) = key.into_parts();
                let mut labels: Vec<(String, String)> = key
                    .labels()
                    .map(|l| (l.key().to_owned(), l.value().to_owned()))
                    .collect();
                labels.sort();
                let value = match value {
                    DebugValue::Counter(v) => RecordedValue::Counter(v),
                    DebugValue::Gauge(v) => RecordedValue::Gauge(v.into_inner()),
                    DebugValue::Histogram(v) => {
                        RecordedValue::Histogram(v.into_iter().map(|x| x.into_inner()).collect())
                    }
                };
                RecordedMetric {
                    kind,
                    name: key.name().to_owned(),
                    labels,
                    value,
                }
            },
        )
        .collect()
}

/// Runs the real `promtool` (from `$PROMTOOL`, else `PATH`) with `args` in `dir`, such as
/// `["test", "rules", "shop.rules.test.yml"]`.
///
/// `Ok` carries promtool's output when it exits with status 0; otherwise the error holds
/// its status and output. A missing promtool is an error that says how to install it.
pub fn promtool(args: &[&str], dir: &std::path::Path) -> Result<String, String> {
    let program = std::env::var_os("PROMTOOL").unwrap_or_else(|| "promtool".into());
    let output = std::process::Command::new(&program)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|err| {
            format!(
                "cannot run {}: {err}. `cargo xtask test` installs it; by hand: apt-get install -y prometheus",
                program.to_string_lossy()
            )
        })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "promtool {} ({}):\n{text}",
            args.join(" "),
            output.status
        ))
    }
}

/// Runs the real `promtool check metrics` on `exposition` (from `$PROMTOOL`, else `PATH`).
///
/// Returns promtool's findings as an error; `Ok` means exit status 0 and no findings.
/// A missing promtool is an error that says how to install it.
pub fn promtool_check(exposition: &str) -> Result<(), String> {
    use std::process::{Command, Stdio};
    let program = std::env::var_os("PROMTOOL").unwrap_or_else(|| "promtool".into());
    let mut child = Command::new(&program)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| {
            format!(
                "cannot run {}: {err}. `cargo xtask test` installs it; by hand: apt-get install -y prometheus",
                program.to_string_lossy()
            )
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(exposition.as_bytes())
            .map_err(|err| err.to_string())?;
    }
    let output = child.wait_with_output().map_err(|err| err.to_string())?;
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() && findings.trim().is_empty() {
        Ok(())
    } else {
        Err(format!("promtool ({}): {findings}", output.status))
    }
}

/// An in-memory span exporter: every sampled span that closes under
/// [`CapturedSpans::subscriber`] is kept for assertions.
#[derive(Debug, Clone, Default)]
pub struct CapturedSpans {
    spans: Arc<Mutex<Vec<crate::spans::FinishedSpan>>>,
}

impl CapturedSpans {
    /// A subscriber with the span-context layer (sampling with `sampler`) and a collector
    /// writing here.
    pub fn subscriber(&self, sampler: Sampler) -> impl tracing::Subscriber + Send + Sync + use<> {
        let spans = Arc::clone(&self.spans);
        let sink = move |span| {
            spans
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(span)
        };
        tracing_subscriber::registry()
            .with(TraceContextLayer::new(sampler))
            .with(crate::spans::SpanCollectorLayer::new(Arc::new(sink)))
    }

    /// The finished spans, in the order they closed.
    pub fn spans(&self) -> Vec<crate::spans::FinishedSpan> {
        self.spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The finished span named `name`.
    pub fn span(&self, name: &str) -> Option<crate::spans::FinishedSpan> {
        self.spans().into_iter().find(|s| s.name == name)
    }
}

/// Every trace check the Datadog test agent has (ddapm-test-agent 1.69).
pub const TEST_AGENT_CHECKS: &str = "trace_count_header,meta_tracer_version_header,trace_content_length,trace_stall,trace_peer_service,meta_events_is_valid_json,trace_dd_service";

/// A Datadog test agent (`ddapm-test-agent`) on free loopback ports, stopped on drop.
///
/// The program is `$DDAPM_TEST_AGENT`, else `ddapm-test-agent` on `PATH`; `cargo xtask
/// test` installs it into a virtualenv and sets the variable. Every trace check is enabled.
#[derive(Debug)]
pub struct TestAgent {
    child: std::process::Child,
    /// Trace API port.
    pub port: u16,
    /// OTLP/HTTP port.
    pub otlp_http_port: u16,
    /// OTLP/gRPC port.
    pub otlp_grpc_port: u16,
    http: ureq::Agent,
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

impl TestAgent {
    /// Starts the agent and waits (up to 30 s) until it answers.
    pub fn start() -> Result<Self, String> {
        Self::start_at(free_port()?)
    }

    /// Starts the agent with its trace API at `port` (for instance where an agent that
    /// was stopped listened) and waits (up to 30 s) until it answers.
    pub fn start_at(port: u16) -> Result<Self, String> {
        let program =
            std::env::var_os("DDAPM_TEST_AGENT").unwrap_or_else(|| "ddapm-test-agent".into());
        Self::start_program_at(&program, port)
    }

    /// Starts `program` (a `ddapm-test-agent`) with its trace API at `port`.
    pub fn start_program_at(program: &std::ffi::OsStr, port: u16) -> Result<Self, String> {
        let (otlp_http_port, otlp_grpc_port) = (free_port()?, free_port()?);
        let child = std::process::Command::new(program)
            .args([
                "--port",
                &port.to_string(),
                "--otlp-http-port",
                &otlp_http_port.to_string(),
                "--otlp-grpc-port",
                &otlp_grpc_port.to_string(),
            ])
            .env("ENABLED_CHECKS", TEST_AGENT_CHECKS)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {}: {e}. `cargo xtask test` installs it; by hand: python3 -m venv v && v/bin/pip install ddapm-test-agent, then DDAPM_TEST_AGENT=v/bin/ddapm-test-agent",
                    program.to_string_lossy()
                )
            })?;
        let http: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(10)))
            .build()
            .into();
        let agent = Self {
            child,
            port,
            otlp_http_port,
            otlp_grpc_port,
            http,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if agent.get("/info").is_ok() {
                return Ok(agent);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Err("the Datadog test agent did not answer /info within 30 s".into())
    }

    /// Base URL of the trace API (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// GETs `path` on the trace API port; the status and the body as JSON (or a string).
    pub fn get(&self, path: &str) -> Result<(u16, serde_json::Value), String> {
        self.get_from(self.port, path)
    }

    /// GETs `path` on the OTLP/HTTP port.
    pub fn get_otlp(&self, path: &str) -> Result<(u16, serde_json::Value), String> {
        self.get_from(self.otlp_http_port, path)
    }

    fn get_from(&self, port: u16, path: &str) -> Result<(u16, serde_json::Value), String> {
        let mut response = self
            .http
            .get(&format!("http://127.0.0.1:{port}{path}"))
            .call()
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        Ok((status, value))
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

mod everything;
#[cfg(feature = "testing-otlp")]
pub mod foreign;
#[cfg(feature = "testing-otlp")]
pub mod otlp;

pub use everything::{Everything, capture_everything, int_attr, str_attr};

/// Process-wide capture for tests whose code runs on other threads (servers on a tokio
/// runtime): a global subscriber recording spans and JSON logs, and the global Prometheus
/// recorder. Installed on first use; tests tell their data apart by ids or routes.
#[derive(Debug)]
pub struct GlobalCapture {
    /// Every sampled span that closed.
    pub spans: CapturedSpans,
    /// Every JSON log line.
    pub logs: CapturedLogs,
    /// The Prometheus exporter behind the global recorder.
    pub prometheus: crate::prometheus::PrometheusExporter,
}

static GLOBAL: std::sync::OnceLock<GlobalCapture> = std::sync::OnceLock::new();

/// The process-wide capture (see [`GlobalCapture`]).
pub fn global() -> &'static GlobalCapture {
    GLOBAL.get_or_init(|| {
        let spans = CapturedSpans::default();
        let logs = CapturedLogs::default();
        let sink_spans = Arc::clone(&spans.spans);
        let sink = move |span| {
            sink_spans
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(span)
        };
        let subscriber = tracing_subscriber::registry()
            .with(TraceContextLayer::new(Sampler::default()))
            .with(crate::spans::SpanCollectorLayer::new(Arc::new(sink)))
            .with(JsonLogLayer::new(logs.clone(), &ServiceInfo::default()));
        let _ = tracing::subscriber::set_global_default(subscriber);
        let prometheus = match crate::prometheus::PrometheusExporter::install() {
            Ok(exporter) => exporter,
            Err(err) => abort_test_process(&err.to_string()),
        };
        GlobalCapture {
            spans,
            logs,
            prometheus,
        }
    })
}

/// The capture cannot work without its recorder; stop the test process with the reason.
fn abort_test_process(message: &str) -> ! {
    eprintln!("testing::global: {message}");
    std::process::abort()
}
