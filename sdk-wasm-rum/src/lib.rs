//! Real-user monitoring in the browser: Core Web Vitals measured exactly as Google's
//! web-vitals (version 6) defines them, from Rust compiled to wasm.
//!
//! The browser build is `no_std` and binding-free: a small JavaScript driver
//! (`js/sdk_wasm_rum.js`, minified into `pkg/` by `cargo xtask wasm`) loads the module,
//! observes the performance entries and page events the [`engine`] asks for, feeds them
//! in as numbers, and hands reports to callbacks and beacons to the network. Everything
//! that decides a value is here, and tested natively:
//!
//! - [`engine`]: every subscription through web-vitals' rules (activation, first hidden
//!   time, LCP's end, back/forward-cache restores, single-page-app routes) and `startRum`;
//! - [`cls`]: layout-shift session windows (the largest window is the CLS);
//! - [`inp`]: interactions grouped by id, the ten longest kept, the p98 estimate chosen by
//!   the interaction count;
//! - [`timing`]: paint and TTFB times from entry times, activation start and the first
//!   time the page was hidden;
//! - [`routes`]: page paths mapped to configured route templates, so beacons never carry
//!   unbounded paths;
//! - [`report`]: the latest value per metric id, truncated and counted errors, the backend
//!   trace id, sampling, and the beacon's items (the driver writes the JSON);
//! - [`vocab`]: names, ratings and bounds, equal to the server's `sdk_core::rum`.
//!
//! JavaScript (a drop-in for web-vitals users): `import init, { onLCP, startRum } from
//! "/pkg/sdk_wasm_rum.js"; await init();` then `onLCP(callback, { reportAllChanges })` and
//! its siblings (`onINP`, `onCLS`, `onFCP`, `onTTFB`, `onFID`) call `callback({ name, value,
//! rating, delta, id, navigationType, entries })` and return a function that stops that
//! subscription; `disconnect()` stops everything; `routeChanged()` ends a single-page-app
//! route; `startRum({ endpoint, service, version, env, sampleRate, routes, otlpEndpoint })`
//! collects and sends everything. `entries` is empty in this build; the attribution build
//! (`/pkg/sdk_wasm_rum.attribution.js`, which loads `sdk_wasm_rum_attribution_bg.wasm`:
//! feature `attribution`, whose reports name the entries that made each value) fills it and
//! adds web-vitals' `attribution`, and its beacons carry a bounded summary of it.
//!
//! Rust (Leptos, Yew…), feature `rust-api`: with this crate linked into the application's
//! own module, the page loads the driver and attaches it to that module (`attach(exports)`,
//! the driver answering the module's `rum` imports); `on_lcp` and its siblings take
//! closures and return a `Subscription`; `disconnect`, `route_changed` and `start_rum` as
//! above. Feature `bundle` is the standalone module (`cargo xtask wasm`): it adds a panic
//! handler that does not format; the engine needs no allocator.
#![cfg_attr(target_arch = "wasm32", no_std)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[cfg(all(target_arch = "wasm32", feature = "rust-api"))]
extern crate alloc;

pub mod cls;
pub mod engine;
#[cfg(target_arch = "wasm32")]
mod ffi;
pub mod inp;
pub mod report;
pub mod routes;
pub mod timing;
pub mod vocab;

pub use engine::RumConfig;
#[cfg(all(target_arch = "wasm32", feature = "rust-api"))]
pub use ffi::rust_api::{
    ReportOptions, Subscription, disconnect, on_cls, on_fcp, on_fid, on_inp, on_lcp, on_ttfb,
    route_changed, start_rum,
};
pub use report::Report;
pub use vocab::{NavigationType, Rating, Vital};
