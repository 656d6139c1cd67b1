//! The demo with its stdout on `/dev/full` (every write fails with ENOSPC, as on a full
//! disk): it keeps answering, every log line it could not write is counted in
//! `sdk.exporter.dropped{sdk.signal="logs",sdk.reason="write_error"}`, and SIGTERM still
//! ends it with status 0.

mod common;

use common::try_get;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Bound on every wait; reaching it is a failure, with what was awaited.
const PATIENCE: Duration = Duration::from_secs(60);

/// The demo process, killed if the test ends early.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The demo on a free loopback port with stdout on `/dev/full` (its logs can't be read
/// for the address, so the test picks the port).
fn start_on_a_full_disk() -> (Demo, String) {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .to_string();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full exists on Linux");
    let mut command = Command::new(env!("CARGO_BIN_EXE_demo"));
    command
        .args(["--addr", &addr])
        .stdout(Stdio::from(full))
        .stderr(Stdio::inherit());
    for var in [
        "OTEL_SERVICE_NAME",
        "OTEL_TRACES_EXPORTER",
        "OTEL_METRICS_EXPORTER",
        "OTEL_LOGS_EXPORTER",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "DD_AGENT_HOST",
        "DD_TRACE_AGENT_URL",
        "RUST_LOG",
        "DATABASE_URL",
        "REDIS_URL",
    ] {
        command.env_remove(var);
    }
    // Console traces too: they are written to the same full stdout.
    command.env("OTEL_TRACES_EXPORTER", "console");
    (Demo(command.spawn().expect("the demo binary starts")), addr)
}

/// `sdk_exporter_dropped_total` for log lines stdout refused, from `/metrics`.
async fn lost_log_lines(addr: &str) -> f64 {
    let (status, text) = try_get(addr, "/metrics", &[])
        .await
        .unwrap_or_else(|e| panic!("/metrics did not answer: {e}"));
    assert_eq!(status, 200, "/metrics: {text}");
    text.lines()
        .filter(|l| l.starts_with("sdk_exporter_dropped_total{"))
        .filter(|l| {
            l.contains(r#"sdk_signal="logs""#)
                && l.contains(r#"sdk_exporter="console""#)
                && l.contains(r#"sdk_reason="write_error""#)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Polls `check` until it returns `Some`, up to [`PATIENCE`]; panics naming `what`.
async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "{what} within {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_stdout_on_a_full_disk_the_demo_answers_and_counts_the_lost_lines() {
    let (mut demo, addr) = start_on_a_full_disk();
    eventually("the demo to answer /health/live", async || {
        if let Some(status) = demo.0.try_wait().expect("try_wait") {
            panic!("the demo exited ({status}) with its stdout on /dev/full");
        }
        matches!(try_get(&addr, "/health/live", &[]).await, Ok((status, _)) if status == 200)
            .then_some(())
    })
    .await;
    // The startup lines ("database ready", "listening") were lost and counted.
    let before = eventually("the startup lines to be counted as lost", async || {
        let lost = lost_log_lines(&addr).await;
        (lost >= 2.0).then_some(lost)
    })
    .await;

    // Each `/users/{id}` logs a line: 20 more lines lost, 20 answers all the same.
    for id in 1..=20 {
        let (status, body) = try_get(&addr, &format!("/users/{id}"), &[])
            .await
            .unwrap_or_else(|e| panic!("/users/{id} failed with stdout full: {e}"));
        assert_eq!(status, 200, "/users/{id}: {body}");
    }
    eventually("the 20 request lines to be counted as lost", async || {
        (lost_log_lines(&addr).await >= before + 20.0).then_some(())
    })
    .await;
    assert!(
        demo.0.try_wait().expect("try_wait").is_none(),
        "the demo is still running"
    );

    // A graceful stop still works: its last lines are lost too, and it exits 0.
    let sent = Command::new("kill")
        .args(["-TERM", &demo.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let status = eventually("the demo to exit after SIGTERM", async || {
        demo.0.try_wait().expect("try_wait")
    })
    .await;
    assert!(status.success(), "the demo exited with {status}");
}
