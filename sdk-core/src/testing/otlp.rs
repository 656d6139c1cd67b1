//! An OTLP receiver built from the official protobufs (`opentelemetry-proto`), for tests:
//! gRPC (tonic) and HTTP (`/v1/traces`, `/v1/metrics`, `/v1/logs`; protobuf or JSON,
//! optionally gzip) on free loopback ports, with scripted HTTP failures. The HTTP side
//! answers CORS preflights, as a collector configured for browsers does.

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::collections::VecDeque;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// One HTTP request the receiver saw.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    /// Path (`/v1/traces`).
    pub path: String,
    /// Lower-case header names and values.
    pub headers: Vec<(String, String)>,
    /// The status the receiver answered.
    pub status: u16,
    /// When the request arrived (before any [`OtlpReceiver::delay_http`]).
    pub arrived: Instant,
}

/// Everything received so far.
#[derive(Debug, Default, Clone)]
pub struct Received {
    /// Accepted trace exports.
    pub traces: Vec<ExportTraceServiceRequest>,
    /// Accepted metric exports.
    pub metrics: Vec<ExportMetricsServiceRequest>,
    /// Accepted log exports.
    pub logs: Vec<ExportLogsServiceRequest>,
    /// Every HTTP request, accepted or not.
    pub http_requests: Vec<SeenRequest>,
    /// gRPC metadata of every gRPC export.
    pub grpc_metadata: Vec<Vec<(String, String)>>,
}

#[derive(Default)]
struct State {
    received: Received,
    /// Statuses (and `Retry-After` seconds) to answer the next HTTP requests with.
    script: VecDeque<(u16, Option<u64>)>,
    /// Status (and `Retry-After` seconds) every HTTP request gets while set, after the
    /// script.
    refuse: Option<(u16, Option<u64>)>,
    /// How long each HTTP request waits before it is answered.
    delay: Duration,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The receiver; serves until dropped.
pub struct OtlpReceiver {
    /// gRPC address.
    pub grpc_addr: SocketAddr,
    /// HTTP address.
    pub http_addr: SocketAddr,
    state: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for OtlpReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpReceiver")
            .field("grpc_addr", &self.grpc_addr)
            .field("http_addr", &self.http_addr)
            .finish()
    }
}

struct Grpc(Shared);

fn metadata(request: &tonic::Request<impl Sized>) -> Vec<(String, String)> {
    request
        .metadata()
        .iter()
        .filter_map(|entry| match entry {
            tonic::metadata::KeyAndValueRef::Ascii(k, v) => {
                Some((k.to_string(), v.to_str().unwrap_or_default().to_owned()))
            }
            tonic::metadata::KeyAndValueRef::Binary(..) => None,
        })
        .collect()
}

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut state = lock(&self.0);
        state.received.grpc_metadata.push(metadata(&request));
        state.received.traces.push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let mut state = lock(&self.0);
        state.received.grpc_metadata.push(metadata(&request));
        state.received.metrics.push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl LogsService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let mut state = lock(&self.0);
        state.received.grpc_metadata.push(metadata(&request));
        state.received.logs.push(request.into_inner());
        Ok(tonic::Response::new(ExportLogsServiceResponse {
            partial_success: None,
        }))
    }
}

fn decode<M: Message + Default + serde::de::DeserializeOwned>(
    headers: &http::HeaderMap,
    body: &[u8],
) -> Option<M> {
    let gzip = headers.get("content-encoding").is_some_and(|v| v == "gzip");
    let mut plain = Vec::new();
    let body = if gzip {
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut plain)
            .ok()?;
        &plain[..]
    } else {
        body
    };
    let json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        serde_json::from_slice(body).ok()
    } else {
        M::decode(body).ok()
    }
}

async fn http_export(
    state: Shared,
    path: String,
    headers: http::HeaderMap,
    body: bytes::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let seen_headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let arrived = Instant::now();
    let delay = lock(&state).delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut state = lock(&state);
    let refuse = state.refuse;
    let (status, retry_after) = state.script.pop_front().or(refuse).unwrap_or((200, None));
    state.received.http_requests.push(SeenRequest {
        path: path.clone(),
        headers: seen_headers,
        status,
        arrived,
    });
    if status != 200 {
        let mut response = (
            http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
            "scripted failure",
        )
            .into_response();
        if let Some(seconds) = retry_after
            && let Ok(value) = http::HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert("retry-after", value);
        }
        return response;
    }
    let ok = match path.as_str() {
        "/v1/traces" => decode::<ExportTraceServiceRequest>(&headers, &body)
            .map(|r| state.received.traces.push(r)),
        "/v1/metrics" => decode::<ExportMetricsServiceRequest>(&headers, &body)
            .map(|r| state.received.metrics.push(r)),
        "/v1/logs" => {
            decode::<ExportLogsServiceRequest>(&headers, &body).map(|r| state.received.logs.push(r))
        }
        _ => None,
    };
    match ok {
        Some(()) => {
            let content = if headers.get("content-type").is_some_and(|v| {
                v.to_str()
                    .unwrap_or_default()
                    .starts_with("application/json")
            }) {
                "application/json"
            } else {
                "application/x-protobuf"
            };
            let body: Vec<u8> = if content == "application/json" {
                b"{}".to_vec()
            } else {
                Vec::new()
            };
            ([(http::header::CONTENT_TYPE, content)], body).into_response()
        }
        None => (http::StatusCode::BAD_REQUEST, "undecodable OTLP payload").into_response(),
    }
}

impl OtlpReceiver {
    /// Starts both servers on free loopback ports.
    pub fn start() -> Result<Self, String> {
        Self::start_with_http_at("127.0.0.1:0".parse().map_err(|e| format!("{e}"))?)
    }

    /// Starts the HTTP server at `http` (for instance the address a collector that was
    /// down comes back on) and the gRPC server on a free loopback port.
    pub fn start_with_http_at(http: std::net::SocketAddr) -> Result<Self, String> {
        let grpc = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let http = std::net::TcpListener::bind(http).map_err(|e| format!("bind {http}: {e}"))?;
        let grpc_addr = grpc.local_addr().map_err(|e| e.to_string())?;
        let http_addr = http.local_addr().map_err(|e| e.to_string())?;
        grpc.set_nonblocking(true).map_err(|e| e.to_string())?;
        http.set_nonblocking(true).map_err(|e| e.to_string())?;
        let state: Shared = Arc::default();
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("otlp-receiver".into())
            .spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                else {
                    return;
                };
                runtime.block_on(async move {
                    let (Ok(grpc), Ok(http)) = (
                        tokio::net::TcpListener::from_std(grpc),
                        tokio::net::TcpListener::from_std(http),
                    ) else {
                        return;
                    };
                    let grpc_server = tonic::transport::Server::builder()
                        .add_service(TraceServiceServer::new(Grpc(Arc::clone(&served))))
                        .add_service(MetricsServiceServer::new(Grpc(Arc::clone(&served))))
                        .add_service(LogsServiceServer::new(Grpc(Arc::clone(&served))))
                        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(grpc));
                    let http_state = Arc::clone(&served);
                    let app = axum::Router::new().fallback(
                        move |method: http::Method,
                              uri: http::Uri,
                              headers: http::HeaderMap,
                              body: bytes::Bytes| {
                            let state = Arc::clone(&http_state);
                            async move {
                                // CORS as a collector configured with
                                // `cors: {allowed_origins: ["*"]}` answers browsers.
                                let mut response = if method == http::Method::OPTIONS {
                                    let mut preflight =
                                        axum::response::Response::new(axum::body::Body::empty());
                                    *preflight.status_mut() = http::StatusCode::NO_CONTENT;
                                    let headers = preflight.headers_mut();
                                    headers.insert(
                                        "access-control-allow-methods",
                                        http::HeaderValue::from_static("POST"),
                                    );
                                    headers.insert(
                                        "access-control-allow-headers",
                                        http::HeaderValue::from_static("content-type"),
                                    );
                                    preflight
                                } else {
                                    http_export(state, uri.path().to_owned(), headers, body).await
                                };
                                response.headers_mut().insert(
                                    "access-control-allow-origin",
                                    http::HeaderValue::from_static("*"),
                                );
                                response
                            }
                        },
                    );
                    let http_server = axum::serve(http, app);
                    tokio::select! {
                        _ = grpc_server => {}
                        _ = http_server => {}
                        _ = stopped => {}
                    }
                });
            })
            .map_err(|e| e.to_string())?;
        Ok(Self {
            grpc_addr,
            http_addr,
            state,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT` of the gRPC server.
    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    /// `http://127.0.0.1:PORT{path}` of the HTTP server.
    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http_addr)
    }

    /// Answers the next HTTP requests with these statuses (and `Retry-After` seconds).
    pub fn script_http(&self, answers: impl IntoIterator<Item = (u16, Option<u64>)>) {
        lock(&self.state).script.extend(answers);
    }

    /// Answers every HTTP request with `status` (and `Retry-After` seconds) until called
    /// with `None`: a collector that throttles (`429`) or is overloaded (`503`).
    pub fn refuse_http(&self, answer: Option<(u16, Option<u64>)>) {
        lock(&self.state).refuse = answer;
    }

    /// Makes every HTTP request wait `delay` before it is answered (zero: answer at
    /// once): a collector that answers slowly.
    pub fn delay_http(&self, delay: Duration) {
        lock(&self.state).delay = delay;
    }

    /// A copy of everything received.
    pub fn received(&self) -> Received {
        lock(&self.state).received.clone()
    }

    /// Everything received so far, removed from the receiver: a long run (a load test)
    /// drains it now and then to keep its memory bounded.
    pub fn take(&self) -> Received {
        std::mem::take(&mut lock(&self.state).received)
    }

    /// Every span received, flattened.
    pub fn spans(&self) -> Vec<Span> {
        self.received()
            .traces
            .iter()
            .flat_map(|r| r.resource_spans.iter())
            .flat_map(|rs| rs.scope_spans.iter())
            .flat_map(|ss| ss.spans.iter().cloned())
            .collect()
    }

    /// Polls until `pred` holds for what was received, up to `timeout`.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&Received) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if pred(&lock(&self.state).received) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
