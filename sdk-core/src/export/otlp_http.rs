//! The HTTP client of the OTLP/HTTP exporters: hyper, behind a gate that keeps the
//! collector's `Retry-After`.
//!
//! The official exporter waits `Retry-After` between the attempts of one export, but the
//! next export (the next batch, the next metrics interval) would go out at once: a
//! collector that answered `429` or `503` with `Retry-After: 2` would be asked again
//! within milliseconds. The gate holds every request of the signal until the time the
//! collector asked for has passed; the worker's export deadline still bounds the wait
//! (an export that cannot start in time is dropped and counted, never queued forever).

use super::retry::retry_after;
use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response};
use opentelemetry_http::hyper::HyperClient;
use opentelemetry_http::{HttpClient, HttpError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The default of `OTEL_EXPORTER_OTLP_TIMEOUT`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Until when the collector asked one signal's exporter not to call: shared by the
/// client, which waits for it, and the export loop, which gives up at once on a batch
/// whose deadline comes first (a flush or shutdown is not held for a wait it cannot end).
#[derive(Debug, Clone, Default)]
pub(crate) struct Gate(Arc<Mutex<Option<Instant>>>);

impl Gate {
    fn until(&self) -> Option<Instant> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn close_for(&self, after: Duration) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + after);
    }

    /// Whether the collector asked not to be called until after `deadline`.
    pub(crate) fn closed_past(&self, deadline: Instant) -> bool {
        self.until().is_some_and(|until| until > deadline)
    }
}

/// hyper with the `Retry-After` gate.
#[derive(Debug)]
pub(crate) struct GatedClient {
    inner: HyperClient,
    gate: Gate,
}

impl GatedClient {
    /// The client of `signal` (`TRACES`, `METRICS`, `LOGS`) behind `gate`, with the
    /// request timeout of `OTEL_EXPORTER_OTLP_<SIGNAL>_TIMEOUT`, else
    /// `OTEL_EXPORTER_OTLP_TIMEOUT`, else 10 s (the configuration has validated both).
    pub(crate) fn for_signal(signal: &str, gate: &Gate) -> Self {
        let millis = |var: &str| {
            std::env::var(var)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|ms| *ms > 0)
        };
        let timeout = millis(&format!("OTEL_EXPORTER_OTLP_{signal}_TIMEOUT"))
            .or_else(|| millis("OTEL_EXPORTER_OTLP_TIMEOUT"))
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        Self {
            inner: HyperClient::with_default_connector(timeout, None),
            gate: gate.clone(),
        }
    }
}

#[async_trait]
impl HttpClient for GatedClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        if let Some(wait) = self
            .gate
            .until()
            .and_then(|until| until.checked_duration_since(Instant::now()))
        {
            tokio::time::sleep(wait).await;
        }
        let response = self.inner.send_bytes(request).await?;
        if matches!(response.status().as_u16(), 429 | 503)
            && let Some(after) = retry_after(
                response
                    .headers()
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()),
            )
        {
            self.gate.close_for(after);
        }
        Ok(response)
    }
}
