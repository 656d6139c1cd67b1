//! The demo binary as the tests start it, and a plain HTTP GET.
#![allow(dead_code, reason = "each test crate uses part of it")]

pub(crate) mod browser;
pub(crate) mod exposition;
pub(crate) mod prometheus;
pub(crate) mod statsd;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The demo binary on an ephemeral port, its JSON log lines collected.
pub(crate) struct Demo {
    /// The demo process.
    pub(crate) child: Child,
    lines: mpsc::Receiver<String>,
    /// Every log line read so far.
    pub(crate) seen: Vec<Value>,
}

impl Demo {
    /// Starts the demo with `env` (and none of the SDK variables of this process).
    pub(crate) fn start(env: &[(&str, &str)]) -> (Self, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_demo"));
        command
            .args(["--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for var in [
            "OTEL_SERVICE_NAME",
            "DD_SERVICE",
            "OTEL_TRACES_EXPORTER",
            "OTEL_METRICS_EXPORTER",
            "OTEL_LOGS_EXPORTER",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "DD_AGENT_HOST",
            "DD_TRACE_AGENT_URL",
            "RUST_LOG",
            "OTEL_PROPAGATORS",
            "DATABASE_URL",
            "REDIS_URL",
            "SDK_DB_SLOW_QUERY_MS",
            "SDK_DB_COMMENTS",
            "DD_DBM_PROPAGATION_MODE",
        ] {
            command.env_remove(var);
        }
        command.envs(env.iter().copied());
        let mut child = command.spawn().expect("demo binary starts");
        let lines = stdout_lines(&mut child);
        let mut demo = Self {
            child,
            lines,
            seen: Vec::new(),
        };
        let listening = demo.wait_for(|l| l["message"] == "listening");
        let addr = listening["fields"]["addr"]
            .as_str()
            .expect("addr field")
            .to_owned();
        (demo, addr)
    }

    /// Waits (bounded) for a log line matching `pred`; every line must be JSON.
    pub(crate) fn wait_for(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(found) = self.seen.iter().find(|l| pred(l)) {
            return found.clone();
        }
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .expect("expected log line in time");
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
            self.seen.push(value.clone());
            if pred(&value) {
                return value;
            }
        }
    }
}

/// `child`'s stdout, line by line, read by a thread of its own.
pub(crate) fn stdout_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lower-case hex of trace and span id bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `GET http://{addr}{path}` with `headers`: status, headers and body text.
pub(crate) async fn get(
    addr: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (http::StatusCode, http::HeaderMap, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut request = http::Request::get(format!("http://{addr}{path}"));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = client
        .request(request.body(Empty::new()).unwrap())
        .await
        .expect("request succeeds");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

impl Demo {
    /// Sends `signal` (`TERM`, `INT`) to the demo with `kill`.
    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} failed: {status}");
    }

    /// Polls (up to `timeout`) until the demo has exited; its exit status.
    pub(crate) async fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the demo did not exit within {timeout:?} of being asked to"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Reads every remaining stdout line (up to `timeout`) until the demo closes stdout;
    /// every line must be JSON. All lines read so far.
    pub(crate) fn read_to_end(&mut self, timeout: Duration) -> &[Value] {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let value: Value = serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
                    self.seen.push(value);
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return &self.seen,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("the demo's stdout was still open after {timeout:?}")
                }
            }
        }
    }
}

/// Like [`get`], but a failed request (refused, reset, closed early) is an error, not a
/// panic.
pub(crate) async fn try_get(
    addr: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(http::StatusCode, String), String> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut request = http::Request::get(format!("http://{addr}{path}"));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request.body(Empty::new()).map_err(|e| e.to_string())?;
    let response = client.request(request).await.map_err(|e| e.to_string())?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((parts.status, String::from_utf8_lossy(&body).into_owned()))
}
