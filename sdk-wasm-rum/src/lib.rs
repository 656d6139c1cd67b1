//! Real-user monitoring in the browser: Core Web Vitals measured exactly as Google's
//! web-vitals (version 6) defines them, from Rust compiled to wasm.
//!
//! This crate's platform-independent core is here and tested natively:
//!
//! - [`cls`]: layout-shift session windows (the largest window is the CLS);
//! - [`inp`]: interactions grouped by id, the ten longest kept, the p98 estimate chosen by
//!   the interaction count;
//! - [`timing`]: LCP, FCP and TTFB from entry times, activation start and the first time the
//!   page was hidden;
//! - [`routes`]: page paths mapped to configured route templates, so beacons never carry
//!   unbounded paths;
//! - [`report`]: the latest value per metric id, truncated and counted errors, the backend
//!   trace id from `Server-Timing` or `<meta name="traceparent">`, sampling, the beacon.
//!
//! Ratings and the beacon format come from [`sdk_core::rum`], shared with the server.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[cfg(target_arch = "wasm32")]
mod browser;
pub mod cls;
pub mod inp;
pub mod report;
pub mod routes;
pub mod timing;

#[cfg(target_arch = "wasm32")]
pub use browser::js;
#[cfg(target_arch = "wasm32")]
pub use browser::{
    ReportOptions, RumConfig, Subscription, disconnect, on_cls, on_fcp, on_fid, on_inp, on_lcp,
    on_ttfb, route_changed, start_rum,
};
