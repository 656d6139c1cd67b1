//! `cargo run -p demo --bin w3c_service`: the service the W3C Trace Context test suite
//! (`github.com/w3c/trace-context`, `test/test.py`) drives.
//!
//! `POST /test` takes a JSON array `[{"url": …, "arguments": …}]` and POSTs each `arguments`
//! (as JSON) to its `url` through the SDK's instrumented reqwest client, from inside the
//! request span of [`sdk_tower::HttpServerLayer`]; the suite then checks the `traceparent`
//! and `tracestate` headers of those calls. Nothing here is specific to the suite: the
//! server layer extracts, the client middleware injects.
//!
//! Listens on the first argument, else `W3C_SERVICE_ADDR`, else `127.0.0.1:5000`. The SDK is
//! configured from the standard variables (no exporter is needed: spans get ids anyway).
//!
//! ```text
//! cargo run -p demo --bin w3c_service -- 127.0.0.1:5000 &
//! SERVICE_ENDPOINT=http://127.0.0.1:5000/test STRICT_LEVEL=1 SPEC_LEVEL=1 python test/test.py
//! ```

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use sdk_core::config::Config;
use sdk_tower::{HttpServerLayer, ReqwestMiddleware};
use serde::Deserialize;
use std::net::SocketAddr;
use std::process::ExitCode;

const DEFAULT_ADDR: &str = "127.0.0.1:5000";

/// One instruction of the suite: POST `arguments` to `url`.
#[derive(Deserialize)]
struct Call {
    url: String,
    #[serde(default)]
    arguments: serde_json::Value,
}

fn listen_addr() -> Result<SocketAddr, String> {
    let text = std::env::args()
        .nth(1)
        .or_else(|| {
            std::env::var("W3C_SERVICE_ADDR")
                .ok()
                .filter(|v| !v.is_empty())
        })
        .unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    text.parse().map_err(|_| {
        format!("invalid listen address {text:?}: expected HOST:PORT such as {DEFAULT_ADDR}")
    })
}

async fn test(
    State(client): State<reqwest_middleware::ClientWithMiddleware>,
    axum::Json(calls): axum::Json<Vec<Call>>,
) -> StatusCode {
    let mut status = StatusCode::OK;
    for call in calls {
        let body = match serde_json::to_vec(&call.arguments) {
            Ok(body) => body,
            Err(_) => return StatusCode::BAD_REQUEST,
        };
        let sent = client
            .post(&call.url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        if let Err(err) = sent {
            tracing::warn!(url = %call.url, error = %err, "callback failed");
            status = StatusCode::BAD_GATEWAY;
        }
    }
    status
}

#[tokio::main]
async fn main() -> ExitCode {
    let addr = match listen_addr() {
        Ok(addr) => addr,
        Err(err) => {
            eprintln!("w3c_service: {err}");
            return ExitCode::from(2);
        }
    };
    let telemetry = match Config::builder()
        .default_service_name("w3c-service")
        .build()
        .map_err(|e| e.to_string())
        .and_then(|config| sdk_core::init(config).map_err(|e| e.to_string()))
    {
        Ok(guard) => guard,
        Err(err) => {
            eprintln!("w3c_service: {err}");
            return ExitCode::from(2);
        }
    };
    let propagator = telemetry.propagator().clone();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(ReqwestMiddleware::new().propagator(propagator.clone()))
        .build();
    let app = Router::new()
        .route("/test", post(test))
        .with_state(client)
        .layer(HttpServerLayer::new().propagator(propagator));

    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("w3c_service: cannot listen on {addr}: {err}");
            telemetry.shutdown();
            return ExitCode::FAILURE;
        }
    };
    eprintln!("w3c_service: listening on http://{addr}/test");
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    telemetry.shutdown();
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("w3c_service: {err}");
            ExitCode::FAILURE
        }
    }
}
