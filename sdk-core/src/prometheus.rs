//! Prometheus text exposition with the catalogue's names, units and buckets.
//!
//! Histograms are real Prometheus histograms: every catalogue histogram gets its own
//! buckets, and any other histogram recorded through `metrics` gets the HTTP duration
//! buckets, so nothing renders as a summary. [`CatalogueRecorder`] renames catalogue
//! metrics to [`MetricDef::prometheus_name`](crate::catalogue::MetricDef::prometheus_name),
//! the catalogue's one naming rule; other metrics get the exporter's recommended naming
//! (unit suffix, `_total`). Label keys have their dots replaced by underscores. With every
//! metric described, the output passes `promtool check metrics` without findings.
//!
//! Mount [`PrometheusExporter::render`] on your router (with the `http` feature,
//! [`MetricsService`] is a ready `tower::Service`), or enable the standalone listener
//! (feature `prometheus-listener`).

use crate::catalogue::{self, MetricKind};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{
    BuildError, Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often histogram samples are folded into buckets when nobody scrapes, so memory
/// stays bounded.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Failure to set up the Prometheus exporter.
#[derive(Debug, thiserror::Error)]
pub enum PrometheusError {
    /// Another `metrics` recorder is already installed.
    #[error("a global metrics recorder is already installed")]
    RecorderAlreadySet,
    /// The exporter could not be built (bad buckets, listener bind failure…).
    #[error("Prometheus exporter: {0}")]
    Build(#[from] BuildError),
    /// The listener thread could not be started.
    #[error("Prometheus listener thread: {0}")]
    Listener(String),
}

/// Prometheus names of the catalogue, in [`catalogue::ALL`] order.
static PROMETHEUS_NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
    catalogue::ALL
        .iter()
        .map(|def| def.prometheus_name())
        .collect()
});

/// OpenTelemetry name → Prometheus name, for names not spelled by the catalogue's statics.
static BY_NAME: LazyLock<HashMap<&'static str, &'static str>> = LazyLock::new(|| {
    catalogue::ALL
        .iter()
        .zip(PROMETHEUS_NAMES.iter())
        .map(|(def, prom)| (def.name, prom.as_str()))
        .collect()
});

/// The Prometheus name of a catalogue metric. Catalogue handles carry the catalogue's own
/// `&'static str`, found by address without hashing; other spellings of the same name fall
/// back to a map.
fn prometheus_name(name: &str) -> Option<&'static str> {
    let by_address = catalogue::ALL.iter().position(|def| {
        std::ptr::eq(def.name.as_ptr(), name.as_ptr()) && def.name.len() == name.len()
    });
    match by_address {
        Some(index) => PROMETHEUS_NAMES.get(index).map(String::as_str),
        None => BY_NAME.get(name).copied().or_else(|| {
            catalogue::registered()
                .into_iter()
                .find(|r| r.def.name == name)
                .map(|r| r.prometheus)
        }),
    }
}

/// A builder preconfigured from the catalogue: recommended naming for metrics outside the
/// catalogue, and the buckets of every catalogue histogram, the SDK's and the application
/// metrics registered so far.
pub fn catalogue_builder() -> Result<PrometheusBuilder, PrometheusError> {
    let mut builder = PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets(catalogue::HTTP_SERVER_REQUEST_DURATION.buckets)?;
    for def in catalogue::all()
        .into_iter()
        .filter(|def| def.kind == MetricKind::Histogram)
    {
        builder =
            builder.set_buckets_for_metric(Matcher::Full(def.prometheus_name()), def.buckets)?;
    }
    Ok(builder)
}

/// A Prometheus recorder that renames catalogue metrics by the catalogue's rule.
///
/// Renaming happens when a metric is registered (once per handle), never per recording.
#[derive(Debug)]
pub struct CatalogueRecorder {
    inner: PrometheusRecorder,
}

impl CatalogueRecorder {
    /// Wraps a recorder built by [`catalogue_builder`].
    pub fn new(inner: PrometheusRecorder) -> Self {
        Self { inner }
    }

    /// A handle that renders the exposition.
    pub fn handle(&self) -> PrometheusHandle {
        self.inner.handle()
    }

    fn key(key: &Key) -> Option<Key> {
        prometheus_name(key.name()).map(|name| {
            Key::from_parts(
                KeyName::from_const_str(name),
                key.labels().cloned().collect::<Vec<_>>(),
            )
        })
    }

    fn name(name: KeyName) -> KeyName {
        prometheus_name(name.as_str()).map_or(name, KeyName::from_const_str)
    }
}

impl Recorder for CatalogueRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner
            .describe_counter(Self::name(key), unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner
            .describe_gauge(Self::name(key), unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner
            .describe_histogram(Self::name(key), unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        match Self::key(key) {
            Some(renamed) => self.inner.register_counter(&renamed, metadata),
            None => self.inner.register_counter(key, metadata),
        }
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        match Self::key(key) {
            Some(renamed) => self.inner.register_gauge(&renamed, metadata),
            None => self.inner.register_gauge(key, metadata),
        }
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        match Self::key(key) {
            Some(renamed) => self.inner.register_histogram(&renamed, metadata),
            None => self.inner.register_histogram(key, metadata),
        }
    }
}

/// A recorder configured from the catalogue, not installed (for tests and benchmarks).
/// Run [`describe_catalogue`] under it to get `HELP` lines.
pub fn catalogue_recorder() -> Result<CatalogueRecorder, PrometheusError> {
    Ok(CatalogueRecorder::new(
        catalogue_builder()?.build_recorder(),
    ))
}

/// Describes every catalogue metric to `recorder`.
pub fn describe_catalogue(recorder: &CatalogueRecorder) {
    metrics::with_local_recorder(recorder, catalogue::describe_all);
}

/// The installed Prometheus exporter.
#[derive(Debug)]
pub struct PrometheusExporter {
    handle: PrometheusHandle,
    upkeep: Option<Upkeep>,
    listener: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Upkeep {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl PrometheusExporter {
    /// Installs the catalogue-configured recorder as the global `metrics` recorder and
    /// starts a background upkeep thread.
    pub fn install() -> Result<Self, PrometheusError> {
        let (recorder, exporter) = Self::new()?;
        metrics::set_global_recorder(recorder).map_err(|_| PrometheusError::RecorderAlreadySet)?;
        catalogue::describe_all();
        Ok(exporter)
    }

    /// The recorder (not installed: combine it with others, then install it) and the
    /// exporter rendering what it records, with its upkeep thread running.
    pub fn new() -> Result<(CatalogueRecorder, Self), PrometheusError> {
        let recorder = catalogue_recorder()?;
        let handle = recorder.handle();
        let upkeep = spawn_upkeep(handle.clone());
        Ok((
            recorder,
            Self {
                handle,
                upkeep,
                listener: None,
            },
        ))
    }

    /// Installs the recorder and serves `GET /metrics` (any path) on `addr` from a
    /// dedicated thread with its own runtime.
    #[cfg(feature = "prometheus-listener")]
    pub fn install_with_listener(addr: std::net::SocketAddr) -> Result<Self, PrometheusError> {
        let (recorder, exporter) = Self::new_with_listener(addr)?;
        metrics::set_global_recorder(recorder).map_err(|_| PrometheusError::RecorderAlreadySet)?;
        catalogue::describe_all();
        Ok(exporter)
    }

    /// Like [`PrometheusExporter::new`], serving `GET /metrics` on `addr`.
    #[cfg(feature = "prometheus-listener")]
    pub fn new_with_listener(
        addr: std::net::SocketAddr,
    ) -> Result<(CatalogueRecorder, Self), PrometheusError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("sdk-prometheus-listener".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(err) => {
                        let _ = tx.send(Err(PrometheusError::Listener(err.to_string())));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let built =
                        catalogue_builder().and_then(|b| Ok(b.with_http_listener(addr).build()?));
                    match built {
                        Ok((recorder, serve)) => {
                            let _ = tx.send(Ok(CatalogueRecorder::new(recorder)));
                            let _ = serve.await;
                        }
                        Err(err) => {
                            let _ = tx.send(Err(err));
                        }
                    }
                });
            })
            .map_err(|err| PrometheusError::Listener(err.to_string()))?;
        let recorder = rx
            .recv()
            .map_err(|_| PrometheusError::Listener("listener thread exited".into()))??;
        let handle = recorder.handle();
        Ok((
            recorder,
            Self {
                handle,
                upkeep: None,
                listener: Some(thread),
            },
        ))
    }

    /// The text exposition of every metric recorded so far.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// A cheap clonable handle for rendering from a request handler.
    pub fn handle(&self) -> PrometheusHandle {
        self.handle.clone()
    }

    /// Stops the upkeep thread after a last upkeep. The listener thread, if any, serves
    /// until the process exits.
    pub fn shutdown(mut self) {
        if let Some(upkeep) = self.upkeep.take() {
            upkeep.stop.store(true, Ordering::Release);
            upkeep.thread.thread().unpark();
            let _ = upkeep.thread.join();
        }
        self.handle.run_upkeep();
        drop(self.listener.take());
    }
}

fn spawn_upkeep(handle: PrometheusHandle) -> Option<Upkeep> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("sdk-metrics-upkeep".into())
        .spawn(move || {
            while !flag.load(Ordering::Acquire) {
                std::thread::park_timeout(UPKEEP_INTERVAL);
                handle.run_upkeep();
            }
        })
        .ok()?;
    Some(Upkeep { stop, thread })
}

#[cfg(feature = "http")]
pub use service::MetricsService;

#[cfg(feature = "http")]
mod service {
    use super::CONTENT_TYPE;
    use bytes::Bytes;
    use http::{Method, Request, Response, StatusCode, header};
    use http_body_util::Full;
    use metrics_exporter_prometheus::PrometheusHandle;
    use std::convert::Infallible;
    use std::future::{Ready, ready};
    use std::task::{Context, Poll};

    /// A `tower::Service` answering `GET`/`HEAD` with the text exposition (405 otherwise).
    /// Mount it on any router, e.g. axum's `Router::route_service("/metrics", …)`.
    #[derive(Debug, Clone)]
    pub struct MetricsService {
        handle: PrometheusHandle,
    }

    impl MetricsService {
        /// A service rendering `handle`.
        pub fn new(handle: PrometheusHandle) -> Self {
            Self { handle }
        }
    }

    impl<B> tower_service::Service<Request<B>> for MetricsService {
        type Response = Response<Full<Bytes>>;
        type Error = Infallible;
        type Future = Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request<B>) -> Self::Future {
            let mut response = if matches!(*request.method(), Method::GET | Method::HEAD) {
                let body = if request.method() == Method::HEAD {
                    Bytes::new()
                } else {
                    Bytes::from(self.handle.render())
                };
                let mut response = Response::new(Full::new(body));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static(CONTENT_TYPE),
                );
                response
            } else {
                let mut response = Response::new(Full::new(Bytes::new()));
                *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
                response
                    .headers_mut()
                    .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
                response
            };
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            ready(Ok(response))
        }
    }
}
