//! Loopback load run: the same axum hello-world served bare and with `sdk-tower`'s full
//! server layer (spans to a batch queue, Prometheus metrics), each driven by `wrk` with
//! keep-alive for the same duration. Prints requests/s and the instrumented/bare ratio.
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

fn wrk(addr: &str, seconds: u64) -> Result<f64, String> {
    let output = Command::new("wrk")
        .args([
            "-t1",
            "-c16",
            &format!("-d{seconds}s"),
            &format!("http://{addr}/users/42"),
        ])
        .output()
        .map_err(|e| format!("cannot run wrk ({e}); apt-get install -y wrk"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk output:\n{text}"))
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
        let bare_rps = tokio::task::spawn_blocking({
            let addr = bare_addr.clone();
            move || wrk(&addr, seconds)
        })
        .await
        .map_err(|e| e.to_string())??;
        let instrumented_rps =
            tokio::task::spawn_blocking(move || wrk(&instrumented_addr, seconds))
                .await
                .map_err(|e| e.to_string())??;
        Ok::<_, String>((bare_rps, instrumented_rps))
    });
    match result {
        Ok((bare, instrumented)) => {
            println!(
                "bare: {bare:.0} req/s, sdk-tower full: {instrumented:.0} req/s, ratio {:.3}",
                instrumented / bare
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
