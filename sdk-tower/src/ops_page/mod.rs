//! [`OpsPage`]: a live operations dashboard served by the process itself, with no
//! backend, no build step and no external request.
//!
//! One self-contained HTML page (inline style, inline script, hand-drawn SVG charts; its
//! `Content-Security-Policy` lets it reach nothing but its own origin) that reads the
//! process's Prometheus exposition every few seconds and computes in the browser:
//!
//! - per route: requests per minute, 5xx ratio and p50/p95/p99 latency, both since the
//!   previous refresh (the window) and since the process started (lifetime);
//! - database: query count and p95 by system, operation and table, slow queries, pool
//!   connections used / idle / max / pending and acquire timeouts;
//! - cache: lookups, hit ratio and fallbacks by key prefix;
//! - web vitals: p75 by route of every vital the RUM route records;
//! - the SLOs of an [`sdk_core::ops::Spec`]: lifetime SLI (good over total events), burn
//!   rate (error ratio over the error budget) and budget left, with the window's burn rate;
//! - telemetry dropped by the exporters, by signal, exporter and reason.
//!
//! Quantiles follow Prometheus' `histogram_quantile` over the cumulative buckets
//! (interpolation inside the bucket, the last finite bound for the `+Inf` bucket), so the
//! lifetime figures equal what PromQL computes from the same exposition. Metric names and
//! label keys come from the catalogue and the semantic conventions, embedded in the page
//! as JSON: the script spells none of them.
//!
//! ```
//! use sdk_tower::OpsPage;
//! use std::time::Duration;
//!
//! # fn spec() -> sdk_core::ops::Spec {
//! #     sdk_core::ops::Spec::from_yaml("service: shop\nrunbook_url: https://runbooks.example/shop\n").unwrap()
//! # }
//! let page = OpsPage::new("/metrics")
//!     .with_spec(&spec())
//!     .refresh_every(Duration::from_secs(10));
//! let app: axum::Router = axum::Router::new().route_service("/ops", page);
//! ```
//!
//! Mount it where the metrics route is reachable with the same origin: the page fetches
//! `metrics_path` relative to itself. It only reads: one `GET` of the metrics path per
//! refresh and open tab, never two at a time, none while the tab is hidden. `?refresh=N`
//! in the page's URL overrides the period for one view (seconds, 1 to 3600).
//!
//! Every displayed number sits in an element carrying `data-panel`, `data-field`, the keys
//! of its row (`data-route`, `data-slo`, …) and its raw value in `data-value` (absent, and
//! the text "no data", when there is nothing to compute from: the page never shows NaN or
//! infinity). `window.__opsSnapshot` holds the exposition the figures come from,
//! `window.__opsPrevious` the one before it, `window.__opsWindowSeconds` the time between
//! the two and `window.__opsRefreshes` the number of completed refreshes, so a test or a
//! curious operator can recompute every figure.

mod config;

use bytes::Bytes;
use config::PageConfig;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// How often the page refreshes unless told otherwise.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(5);

/// Shortest refresh period; shorter ones are raised to it.
pub const MIN_REFRESH: Duration = Duration::from_secs(1);

const TEMPLATE: &str = include_str!("page.html");
const SCRIPTS: [&str; 4] = [
    include_str!("exposition.js"),
    include_str!("panels.js"),
    include_str!("charts.js"),
    include_str!("page.js"),
];

/// What the page allows itself: its own inline style and script, and requests to its own
/// origin (the metrics path); no other source, no framing, no form.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
    style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// The operations page, a `tower::Service` answering `GET` and `HEAD` with the HTML (405
/// otherwise). Mount it with axum's `Router::route_service`; see the [module](self)
/// documentation.
#[derive(Clone)]
pub struct OpsPage {
    config: Arc<PageConfig>,
    html: Bytes,
}

impl std::fmt::Debug for OpsPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpsPage")
            .field("metrics_path", &self.config.metrics_path)
            .field("refresh_ms", &self.config.refresh_ms)
            .field("slos", &self.config.slos.len())
            .finish()
    }
}

impl OpsPage {
    /// A page reading the Prometheus exposition at `metrics_path` (a path or URL of the
    /// same origin, such as `/metrics`), refreshing every [`DEFAULT_REFRESH`], without SLOs.
    pub fn new(metrics_path: &str) -> Self {
        Self::rendered(PageConfig::new(metrics_path, DEFAULT_REFRESH))
    }

    /// Shows the SLOs of `spec`: each one's lifetime SLI, burn rate and error budget left.
    pub fn with_spec(self, spec: &sdk_core::ops::Spec) -> Self {
        let mut config = Arc::unwrap_or_clone(self.config);
        config.set_slos(spec);
        Self::rendered(config)
    }

    /// Refreshes every `period` (at least [`MIN_REFRESH`]).
    pub fn refresh_every(self, period: Duration) -> Self {
        let mut config = Arc::unwrap_or_clone(self.config);
        config.set_refresh(period);
        Self::rendered(config)
    }

    fn rendered(config: PageConfig) -> Self {
        let html = Bytes::from(render(&config));
        Self {
            config: Arc::new(config),
            html,
        }
    }
}

/// The template with the configuration (JSON, with `<`, `>` and `&` escaped so no value
/// can close its `<script>` element) and the scripts in place.
fn render(config: &PageConfig) -> String {
    let json = config
        .to_json()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    let script = SCRIPTS.join("\n");
    let (head, rest) = TEMPLATE.split_once("{{config}}").unwrap_or((TEMPLATE, ""));
    let (middle, tail) = rest.split_once("{{script}}").unwrap_or((rest, ""));
    let mut html =
        String::with_capacity(head.len() + json.len() + middle.len() + script.len() + tail.len());
    for part in [head, &json, middle, &script, tail] {
        html.push_str(part);
    }
    html
}

impl<B> tower_service::Service<Request<B>> for OpsPage {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let method = request.method();
        let mut response = if method == Method::GET || method == Method::HEAD {
            let body = if method == Method::HEAD {
                Bytes::new()
            } else {
                self.html.clone()
            };
            let mut response = Response::new(Full::new(body));
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            response
        } else {
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            response
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        ready(Ok(response))
    }
}

#[cfg(test)]
mod tests;
