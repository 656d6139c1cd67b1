//! [`ProfileRoute`]: on-demand CPU profiles of the whole process, as a pprof protobuf or a
//! flame graph SVG (feature `profile`, Linux and macOS).
//!
//! A request samples every thread of the process for the seconds it asks (a `SIGPROF`
//! timer at 99 Hz by default, through the `pprof` crate) and gets the profile as the answer.
//! There is no profile without an authorization hook: [`ProfileRoute::new`] takes one
//! ([`Authorize`]: a closure over the request head, or [`bearer_token`]).
//!
//! ```
//! use sdk_tower::profile::{ProfileRoute, bearer_token};
//!
//! let route = ProfileRoute::new(bearer_token("a long random secret")).max_seconds(60);
//! let app: axum::Router = axum::Router::new().route_service("/debug/profile", route);
//! ```
//!
//! ```text
//! curl -H 'authorization: Bearer …' 'http://127.0.0.1:8080/debug/profile?seconds=10' > cpu.pb
//! go tool pprof -http=: cpu.pb
//! ```
//!
//! `GET ?seconds=N&format=F`, both optional:
//!
//! | parameter | accepted | default |
//! |---|---|---|
//! | `seconds` | a whole number from 1 to [`max_seconds`](ProfileRoute::max_seconds) (30 unless set) | 10, or the maximum if lower |
//! | `format` | `pprof`, `svg` | `pprof` |
//!
//! | answer | when | `sdk.profiles{sdk.result}` |
//! |---|---|---|
//! | 200 `application/octet-stream` | `format=pprof`: the uncompressed pprof protobuf (`go tool pprof` reads it as it reads gzipped ones) | `ok` |
//! | 200 `image/svg+xml` | `format=svg`: an interactive flame graph | `ok` |
//! | 400 | a parameter missing its rules, or one that does not exist; the text names what is accepted | `invalid` |
//! | 401 | the hook refused the request (checked first: a refused caller learns nothing else) | `unauthorized` |
//! | 405 | a method other than `GET` | `invalid` |
//! | 409 | a profile is already being taken in this process, by any route or by other code using `pprof` | `busy` |
//! | 500 | the profiler did not start, or the report could not be built, or the hook panicked (also counted in `sdk.callback.panics{sdk.callback="authorizer"}`) | `error` |
//!
//! The route decides when it is called, before its future is first polled: the hook runs,
//! the parameters are read and the process-wide claim on the profiler is taken in
//! `Service::call`, so a request that has been called holds the profiler from then on.
//! Sampling starts on the blocking pool (its first backtrace loads debug information),
//! the window is a `tokio::time::sleep`, and symbolization and encoding run on the blocking
//! pool again: no runtime thread is held. A request whose client goes away during the window
//! is dropped by the server, which stops the profiler and releases the claim at once; such
//! a request has no outcome and is not counted.
//!
//! Costs while a profile runs: a signal and a backtrace per sample (99 a second of CPU by
//! default) and the distinct stacks in memory; nothing at all otherwise.

mod authorize;
mod query;
mod session;

pub use authorize::{Authorize, BearerToken, bearer_token};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use metrics::SharedString;
use query::Format;
use sdk_core::callback::{Callback, call};
use sdk_core::catalogue::PROFILES;
use sdk_core::semconv::sdk;
use session::{Claim, ProfileError};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Seconds sampled when the request does not say (lowered to the maximum if that is less).
pub const DEFAULT_SECONDS: u64 = 10;

/// Longest profile a request may ask for unless [`ProfileRoute::max_seconds`] says otherwise.
pub const DEFAULT_MAX_SECONDS: u64 = 30;

/// Samples per second of CPU unless [`ProfileRoute::frequency`] says otherwise (not 100,
/// so that sampling does not run in lockstep with periodic work).
pub const DEFAULT_FREQUENCY: u32 = 99;

/// Highest sampling frequency accepted; higher ones are lowered to it.
pub const MAX_FREQUENCY: u32 = 1000;

/// The CPU profile route, a `tower::Service` to mount with axum's `Router::route_service`;
/// see the [module](self) documentation.
#[derive(Clone)]
pub struct ProfileRoute {
    authorize: Arc<dyn Authorize>,
    max_seconds: u64,
    frequency: u32,
}

impl std::fmt::Debug for ProfileRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileRoute")
            .field("max_seconds", &self.max_seconds)
            .field("frequency", &self.frequency)
            .finish_non_exhaustive()
    }
}

impl ProfileRoute {
    /// A route answering the requests `authorize` admits, with profiles of up to
    /// [`DEFAULT_MAX_SECONDS`] at [`DEFAULT_FREQUENCY`].
    pub fn new(authorize: impl Authorize) -> Self {
        Self {
            authorize: Arc::new(authorize),
            max_seconds: DEFAULT_MAX_SECONDS,
            frequency: DEFAULT_FREQUENCY,
        }
    }

    /// Longest profile a request may ask for, in seconds (at least 1).
    pub fn max_seconds(mut self, seconds: u64) -> Self {
        self.max_seconds = seconds.max(1);
        self
    }

    /// Samples per second of CPU time, from 1 to [`MAX_FREQUENCY`] (values outside are
    /// brought to the nearest bound).
    pub fn frequency(mut self, hertz: u32) -> Self {
        self.frequency = hertz.clamp(1, MAX_FREQUENCY);
        self
    }

    /// Everything decided before sampling: an answer, or the go-ahead with the claim held.
    fn admit(&self, request: &http::request::Parts) -> Result<Admitted, Refusal> {
        if request.method != Method::GET {
            return Err(Refusal::MethodNotAllowed);
        }
        match call(Callback::Authorizer, || self.authorize.authorize(request)) {
            Ok(true) => {}
            Ok(false) => return Err(Refusal::Unauthorized),
            Err(_) => return Err(Refusal::HookPanicked),
        }
        let query = query::parse(
            request.uri.query(),
            DEFAULT_SECONDS.min(self.max_seconds),
            self.max_seconds,
        )
        .map_err(Refusal::Invalid)?;
        let claim = Claim::try_acquire().ok_or(Refusal::Busy)?;
        Ok(Admitted {
            claim,
            window: Duration::from_secs(query.seconds),
            format: query.format,
            frequency: i32::try_from(self.frequency).unwrap_or(99),
        })
    }
}

/// A request that may profile, holding the claim.
struct Admitted {
    claim: Claim,
    window: Duration,
    format: Format,
    frequency: i32,
}

impl Admitted {
    async fn run(self) -> Response<Full<Bytes>> {
        let format = self.format;
        let seconds = self.window.as_secs();
        match session::profile(self.claim, self.window, self.frequency, format).await {
            Ok(body) => {
                Outcome::Ok.count();
                tracing::info!(
                    seconds,
                    format = format.as_str(),
                    bytes = body.len(),
                    "CPU profile taken"
                );
                profile_response(format, Bytes::from(body))
            }
            Err(ProfileError::Busy) => Refusal::Busy.response(),
            Err(ProfileError::Failed(reason)) => {
                Outcome::Error.count();
                tracing::warn!(reason = %reason, "CPU profile failed");
                text(StatusCode::INTERNAL_SERVER_ERROR, reason)
            }
        }
    }
}

/// An answer without a profile.
enum Refusal {
    MethodNotAllowed,
    Unauthorized,
    HookPanicked,
    Invalid(String),
    Busy,
}

impl Refusal {
    fn response(self) -> Response<Full<Bytes>> {
        match self {
            Self::MethodNotAllowed => {
                Outcome::Invalid.count();
                let mut response = text(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "the profile route answers GET only".to_owned(),
                );
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET"));
                response
            }
            Self::Unauthorized => {
                Outcome::Unauthorized.count();
                text(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized: this route's authorization hook refused the request".to_owned(),
                )
            }
            Self::HookPanicked => {
                Outcome::Error.count();
                text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the authorization hook panicked".to_owned(),
                )
            }
            Self::Invalid(message) => {
                Outcome::Invalid.count();
                text(StatusCode::BAD_REQUEST, message)
            }
            Self::Busy => {
                Outcome::Busy.count();
                text(
                    StatusCode::CONFLICT,
                    "busy: a CPU profile is already being taken in this process; retry when \
                     it has finished"
                        .to_owned(),
                )
            }
        }
    }
}

/// The values of `sdk.result` on `sdk.profiles`.
#[derive(Clone, Copy)]
enum Outcome {
    Ok,
    Busy,
    Unauthorized,
    Invalid,
    Error,
}

impl Outcome {
    fn count(self) {
        let result = match self {
            Self::Ok => "ok",
            Self::Busy => "busy",
            Self::Unauthorized => "unauthorized",
            Self::Invalid => "invalid",
            Self::Error => "error",
        };
        PROFILES
            .counter(&[(sdk::RESULT, SharedString::const_str(result))])
            .increment(1);
    }
}

fn text(status: StatusCode, message: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(message + "\n")));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What a flame graph may do when opened from this origin: run its own inline script and
/// style, reach nothing.
const SVG_CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'";

fn profile_response(format: Format, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    let headers = response.headers_mut();
    let (content_type, disposition) = match format {
        Format::Pprof => (
            "application/octet-stream",
            "attachment; filename=\"cpu.pb\"",
        ),
        Format::Svg => {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(SVG_CONTENT_SECURITY_POLICY),
            );
            ("image/svg+xml", "inline; filename=\"cpu.svg\"")
        }
    };
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(disposition),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

impl<B> tower_service::Service<Request<B>> for ProfileRoute {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (parts, _body) = request.into_parts();
        match self.admit(&parts) {
            Ok(admitted) => Box::pin(async move { Ok(admitted.run().await) }),
            Err(refusal) => Box::pin(std::future::ready(Ok(refusal.response()))),
        }
    }
}
