//! The browser side (wasm32 only): two APIs over one engine.
//!
//! JavaScript, a drop-in for web-vitals users (`import init, { onLCP } from
//! "./sdk_wasm_rum.js"`): `onLCP(callback, { reportAllChanges })` and its siblings call
//! `callback({ name, value, rating, delta, id, navigationType })` and return a function that
//! stops that subscription; `disconnect()` stops everything; `routeChanged()` ends a
//! single-page-app route; `startRum({ endpoint, service, version, env, sampleRate, routes,
//! otlpEndpoint })` collects and sends everything.
//!
//! Rust (Leptos, Yew…): [`on_lcp`] and its siblings take closures and return a
//! [`Subscription`]; [`disconnect`], [`route_changed`] and [`start_rum`] as above.

pub mod js;
mod rum;
mod sys;
mod vitals;

use std::cell::RefCell;
use std::rc::Rc;

use sdk_core::rum::{VitalName, VitalReport};

pub use rum::RumConfig;

/// Options of an `on_*` subscription.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportOptions {
    /// Report every change of the value, not only the final one (web-vitals'
    /// `reportAllChanges`).
    pub report_all_changes: bool,
}

/// One `on_*` call. Dropping it keeps measuring; [`Subscription::disconnect`] stops.
#[derive(Debug)]
pub struct Subscription {
    index: usize,
}

impl Subscription {
    /// Disconnects this subscription's observers; its callback is not called again.
    pub fn disconnect(self) {
        vitals::unsubscribe(self.index);
    }
}

fn subscribe(
    name: VitalName,
    callback: impl FnMut(&VitalReport) + 'static,
    options: ReportOptions,
) -> Subscription {
    let index = vitals::subscribe(
        name,
        options.report_all_changes,
        Rc::new(RefCell::new(callback)),
    );
    Subscription { index }
}

/// Largest Contentful Paint, in milliseconds.
pub fn on_lcp(
    callback: impl FnMut(&VitalReport) + 'static,
    options: ReportOptions,
) -> Subscription {
    subscribe(VitalName::Lcp, callback, options)
}

/// Interaction to Next Paint, in milliseconds.
pub fn on_inp(
    callback: impl FnMut(&VitalReport) + 'static,
    options: ReportOptions,
) -> Subscription {
    subscribe(VitalName::Inp, callback, options)
}

/// Cumulative Layout Shift (unitless).
pub fn on_cls(
    callback: impl FnMut(&VitalReport) + 'static,
    options: ReportOptions,
) -> Subscription {
    subscribe(VitalName::Cls, callback, options)
}

/// First Contentful Paint, in milliseconds.
pub fn on_fcp(
    callback: impl FnMut(&VitalReport) + 'static,
    options: ReportOptions,
) -> Subscription {
    subscribe(VitalName::Fcp, callback, options)
}

/// Time To First Byte, in milliseconds.
pub fn on_ttfb(
    callback: impl FnMut(&VitalReport) + 'static,
    options: ReportOptions,
) -> Subscription {
    subscribe(VitalName::Ttfb, callback, options)
}

/// First Input Delay, in milliseconds.
pub fn on_fid(
    callback: impl FnMut(&VitalReport) + 'static,
    options: ReportOptions,
) -> Subscription {
    subscribe(VitalName::Fid, callback, options)
}

/// Stops every subscription (and `start_rum`'s collection) and removes every listener.
pub fn disconnect() {
    rum::stop();
    vitals::disconnect_all();
}

/// A single-page app moved to another route (call it after `history.pushState`): the
/// current values are finalized and sent under the old route, CLS and INP start again
/// with new ids under the new `location.pathname`'s route.
pub fn route_changed() {
    rum::route_changed();
}

/// Starts collecting every metric and the page's errors and sending them to
/// `config.endpoint`. `false` when this page view is sampled out or collection already
/// started.
pub fn start_rum(config: RumConfig) -> bool {
    rum::start(config)
}
