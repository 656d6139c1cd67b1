//! [`RumIngest`]: the route that receives browser beacons ([`sdk_core::rum::Beacon`]) and
//! turns them into catalogue metrics, so Prometheus users get real-user percentiles without
//! a SaaS, and OTLP / DogStatsD users get the same histograms.
//!
//! - `POST` only (`OPTIONS` answers CORS preflights); `application/json` or `text/plain`
//!   (what `navigator.sendBeacon` sends for a string); body at most 64 KB, read with a
//!   limit, never buffered beyond it;
//! - a larger body gets `413`, after the rest of it (up to 1 MiB in all) is read and
//!   discarded: answering while the client is still uploading would close the connection
//!   under its upload, and the client would see a reset instead of the `413` (a client that
//!   sent `Expect: 100-continue` gets the `413` before it uploads anything);
//! - strict schema, values range-checked, ratings recomputed from the thresholds, unknown
//!   names and fields rejected: `4xx` and `sdk.rum.beacons.rejected{sdk.reason}`;
//! - route templates outside the configured list are recorded as `other`, so series stay
//!   bounded whatever pages send;
//! - each vital goes to `browser.web_vital.duration` (seconds) or `browser.web_vital.cls`
//!   by name, rating, navigation type and route; errors to `sdk.browser.errors`;
//! - attribution (the browser module's attribution build): LCP's sub-parts and INP's phases
//!   to `browser.web_vital.part.duration` by name, part and route, the rest (element,
//!   URL without its query, longest script, dominant part) to a `web vital attribution`
//!   log line;
//! - CORS: origins are allowed one by one (or all); a request carrying an `Origin` that is
//!   not allowed gets 403 and is counted (same-origin beacons carry none or the page's own
//!   origin, which must then be listed);
//! - optionally, a per-client rate limit ([`RumIngest::rate_limit_per_client`], off by
//!   default): beyond it `429` with `Retry-After`, counted as `rate_limited`.
//!
//! ```
//! use axum::Router;
//! use sdk_tower::rum::RumIngest;
//!
//! let ingest = RumIngest::new()
//!     .routes(["/", "/products/{id}"])
//!     .allow_origin("https://shop.example");
//! let app: Router = Router::new().route_service("/rum", ingest);
//! ```
//!
//! # Rate limit per client
//!
//! A page sends a few beacons per view, so a client sending dozens a second is broken or
//! hostile. [`rate_limit_per_client`](RumIngest::rate_limit_per_client) admits
//! `beacons_per_second` on average and `burst` at once per client; the client is the peer
//! address, which the route sees when the app is served with
//! `into_make_service_with_connect_info::<SocketAddr>()` (IPv6 clients count per /64).
//! Behind a reverse proxy, [`client_address_header`](RumIngest::client_address_header)
//! names the header the proxy appends the client's address to; the last address in it is
//! used, since earlier ones are whatever the client wrote. At most
//! [`max_tracked_clients`](RumIngest::max_tracked_clients) clients (10,000 by default) are
//! remembered, the ones seen least recently forgotten first, so memory stays bounded.
//! Requests whose client cannot be told apart share one limit (a warning is logged once).
//!
//! ```
//! use axum::Router;
//! use sdk_tower::rum::RumIngest;
//! use std::net::SocketAddr;
//!
//! let ingest = RumIngest::new()
//!     .routes(["/", "/products/{id}"])
//!     .rate_limit_per_client(10, 30);
//! let app = Router::new()
//!     .route_service("/rum", ingest)
//!     .into_make_service_with_connect_info::<SocketAddr>();
//! # async {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! axum::serve(listener, app).await?;
//! # Ok::<_, std::io::Error>(())
//! # };
//! ```

mod rate_limit;

pub use rate_limit::DEFAULT_MAX_TRACKED_CLIENTS;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::{BodyExt, Full, Limited};
use sdk_core::catalogue::{
    BROWSER_ERRORS, BROWSER_WEB_VITAL_CLS, BROWSER_WEB_VITAL_DURATION,
    BROWSER_WEB_VITAL_PART_DURATION, RUM_BEACONS_REJECTED,
};
use sdk_core::rum::{Beacon, MAX_BEACON_BYTES, Rejection, VitalReport, without_query};
use sdk_core::semconv::{browser, error, http as keys, sdk};
use std::collections::HashSet;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Label for a route outside the configured templates.
pub const OTHER_ROUTE: &str = sdk_core::rum::OTHER_ROUTE;

/// Most bytes of an oversized body read (and discarded) before its `413` is sent, so the
/// client finishes its upload and reads the answer; a larger upload is cut off.
const MAX_DRAINED_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Default)]
struct Settings {
    routes: HashSet<Arc<str>>,
    any_route: bool,
    origins: HashSet<String>,
    any_origin: bool,
    rate_limit: rate_limit::RateLimitConfig,
    /// Present once [`RumIngest::rate_limit_per_client`] was called.
    limiter: Option<Arc<rate_limit::ClientRateLimit>>,
}

/// The beacon ingestion service; mount it with `Router::route_service`.
#[derive(Debug, Clone, Default)]
pub struct RumIngest {
    settings: Arc<Settings>,
}

impl Settings {
    /// A new limiter for the current configuration, when `enable` or already limiting.
    fn rebuild_limiter(&mut self, enable: bool) {
        if enable || self.limiter.is_some() {
            self.limiter = Some(Arc::new(rate_limit::ClientRateLimit::new(&self.rate_limit)));
        }
    }
}

impl RumIngest {
    /// Accepts no origin and records every route as `other` until configured.
    pub fn new() -> Self {
        Self::default()
    }

    fn settings_mut(&mut self) -> &mut Settings {
        Arc::make_mut(&mut self.settings)
    }

    /// Route templates recorded as sent; others are recorded as `other`.
    pub fn routes<I, S>(mut self, routes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let settings = self.settings_mut();
        settings
            .routes
            .extend(routes.into_iter().map(|r| Arc::from(r.as_ref())));
        self
    }

    /// Records every route template as sent (only when pages are trusted to send
    /// templates; the catalogue's series ceiling still applies).
    pub fn any_route(mut self) -> Self {
        self.settings_mut().any_route = true;
        self
    }

    /// Allows cross-origin beacons from `origin` (`https://shop.example`).
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        self.settings_mut().origins.insert(origin.into());
        self
    }

    /// Allows cross-origin beacons from any origin.
    pub fn allow_any_origin(mut self) -> Self {
        self.settings_mut().any_origin = true;
        self
    }

    /// Limits each client to `beacons_per_second` beacons a second on average and `burst`
    /// at once (values below 1 are read as 1); beyond it the route answers `429` with
    /// `Retry-After` and counts the beacon as `rate_limited`. Off by default; see the
    /// [module documentation](self#rate-limit-per-client) for how clients are told apart.
    pub fn rate_limit_per_client(mut self, beacons_per_second: u32, burst: u32) -> Self {
        let settings = self.settings_mut();
        settings.rate_limit.per_second = beacons_per_second;
        settings.rate_limit.burst = burst;
        settings.rebuild_limiter(true);
        self
    }

    /// Tells clients apart by the last address in `header` (`x-forwarded-for`, set by
    /// your reverse proxy) instead of the peer address, which is then the proxy's; a
    /// request without a readable address there falls back to its peer address. Only the
    /// rate limit reads it. Use it only behind a proxy that appends to the header:
    /// otherwise clients choose their own address.
    pub fn client_address_header(mut self, header: HeaderName) -> Self {
        let settings = self.settings_mut();
        settings.rate_limit.header = Some(header);
        settings.rebuild_limiter(false);
        self
    }

    /// Most clients the rate limit remembers ([`DEFAULT_MAX_TRACKED_CLIENTS`] unless set;
    /// at least 2); the ones seen least recently are forgotten first, and start again
    /// with a full allowance.
    pub fn max_tracked_clients(mut self, clients: usize) -> Self {
        let settings = self.settings_mut();
        settings.rate_limit.max_clients = clients;
        settings.rebuild_limiter(false);
        self
    }

    fn allowed_origin(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        let origin = origin?;
        let settings = &self.settings;
        if settings.any_origin {
            return Some(HeaderValue::from_static("*"));
        }
        let text = origin.to_str().ok()?;
        settings.origins.contains(text).then(|| origin.clone())
    }

    /// `beacon`'s route as recorded: a configured template, else [`OTHER_ROUTE`] (a page
    /// may send a raw path, which can carry a token).
    fn route_of(&self, beacon: &Beacon) -> Arc<str> {
        if self.settings.any_route {
            Arc::from(beacon.route.as_str())
        } else {
            self.settings
                .routes
                .get(beacon.route.as_str())
                .cloned()
                .unwrap_or_else(|| Arc::from(OTHER_ROUTE))
        }
    }

    /// Records `beacon`'s vitals and errors under `route`.
    fn record(&self, beacon: &Beacon, route: &Arc<str>) {
        for vital in &beacon.vitals {
            let labels = [
                (browser::WEB_VITAL_NAME, vital.name.as_str().into()),
                (browser::WEB_VITAL_RATING, vital.rating.as_str().into()),
                (
                    browser::WEB_VITAL_NAVIGATION_TYPE,
                    vital.navigation_type.as_str().into(),
                ),
                (keys::ROUTE, metrics::SharedString::from(Arc::clone(route))),
            ];
            // One sample per report: the browser module sends each metric id once, with
            // its final value (web-vitals' default reporting).
            if vital.name.is_timing() {
                BROWSER_WEB_VITAL_DURATION
                    .histogram(&labels)
                    .record(vital.value / 1000.0);
            } else {
                BROWSER_WEB_VITAL_CLS.histogram(&labels).record(vital.value);
            }
            record_attribution(vital, route);
        }
        for reported in &beacon.errors {
            BROWSER_ERRORS
                .counter(&[
                    (keys::ROUTE, metrics::SharedString::from(Arc::clone(route))),
                    (error::TYPE, reported.kind.as_str().into()),
                ])
                .increment(1);
        }
    }
}

/// A vital's attribution: LCP's sub-parts and INP's phases as labelled histograms (the
/// labels are bounded), the rest — selectors, URLs without their query, the longest
/// script — in one log line with the dominant part.
fn record_attribution(vital: &VitalReport, route: &Arc<str>) {
    let Some(attribution) = &vital.attribution else {
        return;
    };
    for (part, ms) in attribution.parts() {
        BROWSER_WEB_VITAL_PART_DURATION
            .histogram(&[
                (browser::WEB_VITAL_NAME, vital.name.as_str().into()),
                (browser::WEB_VITAL_PART, part.as_str().into()),
                (keys::ROUTE, metrics::SharedString::from(Arc::clone(route))),
            ])
            .record(ms.max(0.0) / 1000.0);
    }
    fn text(t: &Option<String>) -> &str {
        t.as_deref().map(without_query).unwrap_or_default()
    }
    tracing::info!(
        target: "sdk_tower::rum",
        name = vital.name.as_str(),
        value = vital.value,
        id = vital.id.as_str(),
        route = &**route,
        dominant_part = attribution.dominant_part().map(|p| p.as_str()).unwrap_or_default(),
        element = attribution.target.as_deref().unwrap_or_default(),
        url = text(&attribution.url),
        script_url = text(&attribution.script_url),
        // `BUTTON#buy.onclick`, or a script's URL (its query cut).
        script_invoker = attribution
            .script_invoker
            .as_deref()
            .and_then(|invoker| invoker.split('?').next())
            .unwrap_or_default(),
        script_duration = attribution.script_duration,
        largest_shift_value = attribution.largest_shift_value,
        script_subpart = attribution.script_subpart.map(|p| p.as_str()).unwrap_or_default(),
        interaction_type = attribution.interaction_type.map(|t| t.as_str()).unwrap_or_default(),
        load_state = attribution.load_state.map(|s| s.as_str()).unwrap_or_default(),
        "web vital attribution"
    );
}

fn rejected(reason: Rejection) -> StatusCode {
    RUM_BEACONS_REJECTED
        .counter(&[(sdk::REASON, reason.as_str().into())])
        .increment(1);
    match reason {
        Rejection::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    }
}

fn reject_other(reason: &'static str, status: StatusCode) -> StatusCode {
    RUM_BEACONS_REJECTED
        .counter(&[(sdk::REASON, reason.into())])
        .increment(1);
    status
}

/// The route's answer: a status, and for `429` how long to wait.
struct Answer {
    status: StatusCode,
    retry_after: Option<Duration>,
}

impl From<StatusCode> for Answer {
    fn from(status: StatusCode) -> Self {
        Self {
            status,
            retry_after: None,
        }
    }
}

impl<B> tower_service::Service<Request<B>> for RumIngest
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let ingest = self.clone();
        Box::pin(async move {
            let allow = ingest.allowed_origin(request.headers().get(header::ORIGIN));
            let answer = ingest.handle(request).await;
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = answer.status;
            if let Some(wait) = answer.retry_after {
                // Whole seconds, rounded up: a client retrying then is admitted.
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
            }
            if let Some(origin) = allow {
                let headers = response.headers_mut();
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static("POST, OPTIONS"),
                );
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static("content-type"),
                );
                headers.insert(header::VARY, HeaderValue::from_static("origin"));
            }
            Ok(response)
        })
    }
}

impl RumIngest {
    async fn handle<B>(&self, request: Request<B>) -> Answer
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        // A beacon from a page of another origin is a CORS "simple request" (no
        // preflight), so the origin is checked here, not only in the answer's headers.
        let origin = request.headers().get(header::ORIGIN);
        if origin.is_some() && self.allowed_origin(origin).is_none() {
            return reject_other("origin", StatusCode::FORBIDDEN).into();
        }
        match *request.method() {
            Method::POST => {}
            Method::OPTIONS => return StatusCode::NO_CONTENT.into(),
            _ => return reject_other("method", StatusCode::METHOD_NOT_ALLOWED).into(),
        }
        if let Some(limiter) = &self.settings.limiter
            && let Err(wait) = limiter.admit(&request)
        {
            // Read a beacon-sized body so the client gets the answer, not a reset, and
            // the connection stays usable; nothing of it is parsed.
            drain(std::pin::pin!(request.into_body()), MAX_BEACON_BYTES).await;
            return Answer {
                status: reject_other("rate_limited", StatusCode::TOO_MANY_REQUESTS),
                retry_after: Some(wait),
            };
        }
        self.read(request).await.into()
    }

    /// Reads, parses and records a beacon that passed the origin, method and rate checks.
    async fn read<B>(&self, request: Request<B>) -> StatusCode
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !(content_type.starts_with("application/json") || content_type.starts_with("text/plain"))
        {
            return reject_other("content_type", StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
        let declared_len = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if let Some(len) = declared_len.filter(|len| *len > MAX_BEACON_BYTES) {
            // A client waiting for `100 Continue` has sent nothing, and one announcing more
            // than the drain limit would be cut off anyway: answer at once.
            let expects_continue = request
                .headers()
                .get(header::EXPECT)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
            if !expects_continue && len <= MAX_DRAINED_BYTES {
                drain(std::pin::pin!(request.into_body()), MAX_DRAINED_BYTES).await;
            }
            return rejected(Rejection::TooLarge);
        }
        let mut body = std::pin::pin!(request.into_body());
        let body = match Limited::new(body.as_mut(), MAX_BEACON_BYTES)
            .collect()
            .await
        {
            Ok(body) => body.to_bytes(),
            Err(err) => {
                return if err.is::<http_body_util::LengthLimitError>() {
                    // The limit was passed within the last frame read.
                    drain(body, MAX_DRAINED_BYTES.saturating_sub(MAX_BEACON_BYTES)).await;
                    rejected(Rejection::TooLarge)
                } else {
                    reject_other("body", StatusCode::BAD_REQUEST)
                };
            }
        };
        match Beacon::parse(&body) {
            Ok(beacon) => {
                let route = self.route_of(&beacon);
                self.record(&beacon, &route);
                // Links the page view to the backend trace that served the page.
                tracing::debug!(
                    target: "sdk_tower::rum",
                    route = &*route,
                    vitals = beacon.vitals.len(),
                    errors = beacon.errors.len(),
                    page_trace_id = beacon.trace_id.as_deref().unwrap_or_default(),
                    "beacon accepted"
                );
                StatusCode::NO_CONTENT
            }
            Err(reason) => rejected(reason),
        }
    }
}

/// Reads and discards `body` until it ends, fails, or more than `limit` bytes were read.
async fn drain<B: Body>(mut body: Pin<&mut B>, limit: usize) {
    let mut read = 0usize;
    while read <= limit {
        match body.as_mut().frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    read = read.saturating_add(bytes::Buf::remaining(data));
                }
            }
            Some(Err(_)) | None => return,
        }
    }
}
