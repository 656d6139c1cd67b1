//! Loopback load run: the same axum hello-world served bare and with `sdk-tower`'s full
//! server layer (spans to a batch queue, Prometheus metrics), each driven by `wrk` with
//! keep-alive for the same duration. Prints requests/s, wrk's p99 latency and the
//! instrumented/bare ratios.
//!
//! `cargo run --release -p sdk-benches --bin loopback_load -- [seconds]` (needs `wrk`).

use axum::Router;
use axum::routing::get;
use sdk_core::config::{BatchConfig, Sampler};
use sdk_core::export::{BatchSpanProcessor, ExportError, SpanExporter};
use sdk_core::spans::{FinishedSpan, SpanCollectorLayer};
use sdk_core::trace::TraceContextLayer;
use sdk_tower::HttpServerLayer;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::Instant;
use tracing_subscriber::layer::SubscriberExt;

struct Discard;

impl SpanExporter for Discard {
    fn name(&self) -> &'static str {
        "discard"
    }
    fn export(&mut self, batch: &[FinishedSpan], _deadline: Instant) -> Result<(), ExportError> {
        std::hint::black_box(batch);
        Ok(())
    }
}

fn hello() -> Router {
    Router::new().route("/users/{id}", get(|| async { "hello" }))
}

/// What one wrk run measured.
struct Run {
    requests_per_s: f64,
    p99_ms: f64,
}

/// A wrk duration (`812.00us`, `1.23ms`, `1.01s`) in milliseconds.
fn millis(text: &str) -> Option<f64> {
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e3)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|v| v * factor)
}

fn wrk(addr: &str, seconds: u64) -> Result<Run, String> {
    let output = Command::new("wrk")
        .args([
            "-t1",
            "-c16",
            "--latency",
            &format!("-d{seconds}s"),
            &format!("http://{addr}/users/42"),
        ])
        .output()
        .map_err(|e| format!("cannot run wrk ({e}); apt-get install -y wrk"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let requests_per_s = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk output:\n{text}"))?;
    // "Latency Distribution" lists "     99%    1.23ms".
    let p99_ms = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .and_then(|v| millis(v.trim()))
        .ok_or_else(|| format!("no 99% latency in wrk output:\n{text}"))?;
    Ok(Run {
        requests_per_s,
        p99_ms,
    })
}

fn main() -> ExitCode {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
        .clamp(1, 60);
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    else {
        return ExitCode::FAILURE;
    };
    let processor = match BatchSpanProcessor::new(Box::new(Discard), BatchConfig::default()) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let subscriber = tracing_subscriber::registry()
        .with(TraceContextLayer::new(Sampler::default()))
        .with(SpanCollectorLayer::new(processor.clone()));
    if tracing::subscriber::set_global_default(subscriber).is_err()
        || sdk_core::prometheus::PrometheusExporter::install().is_err()
    {
        eprintln!("cannot install the global subscriber and recorder");
        return ExitCode::FAILURE;
    }
    let result = runtime.block_on(async move {
        let bare = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let instrumented = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let bare_addr = bare.local_addr().map_err(|e| e.to_string())?.to_string();
        let instrumented_addr = instrumented
            .local_addr()
            .map_err(|e| e.to_string())?
            .to_string();
        tokio::spawn(async move { axum::serve(bare, hello()).await });
        let layered = hello()
            .layer(HttpServerLayer::new().propagator(sdk_core::propagation::Propagator::default()));
        tokio::spawn(async move { axum::serve(instrumented, layered).await });
        let bare_run = tokio::task::spawn_blocking({
            let addr = bare_addr.clone();
            move || wrk(&addr, seconds)
        })
        .await
        .map_err(|e| e.to_string())??;
        let instrumented_run =
            tokio::task::spawn_blocking(move || wrk(&instrumented_addr, seconds))
                .await
                .map_err(|e| e.to_string())??;
        Ok::<_, String>((bare_run, instrumented_run))
    });
    match result {
        Ok((bare, instrumented)) => {
            println!(
                "bare: {:.0} req/s, p99 {:.3} ms; sdk-tower full: {:.0} req/s, p99 {:.3} ms; throughput ratio {:.3}, p99 ratio {:.3}",
                bare.requests_per_s,
                bare.p99_ms,
                instrumented.requests_per_s,
                instrumented.p99_ms,
                instrumented.requests_per_s / bare.requests_per_s,
                instrumented.p99_ms / bare.p99_ms,
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
