//! The browser build's boundary: the engine behind numeric exports (`rum_*`), the page
//! behind the imports of module `rum` (answered by the JavaScript driver), and the Rust
//! API. With feature `bundle` (the standalone module `cargo xtask wasm` builds) a panic
//! handler that does not format; the engine needs no allocator.
//!
//! Strings cross in one scratch buffer: the driver asks [`rum_buffer`] (export `b`) for
//! room, writes UTF-8 there, and passes the length. Exports and imports have one-letter
//! names (each name is in the bundle twice); the functions' documentation names them.
//!
//! `unsafe` is allowed here and nowhere else in the crate: the raw imports and exports,
//! and `Sync` for state that only the browser's one thread touches.
#![allow(unsafe_code)]

use core::cell::RefCell;

use crate::engine::{Engine, Entry, EntryKind, Host, Options, PageEvent, Query, RumConfig, Wait};
use crate::report::{ErrorKind, Item, Report};
use crate::vocab::Vital;

#[cfg(feature = "bundle")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

// The driver's functions (one-letter names: they are in the bundle twice).
#[link(wasm_import_module = "rum")]
unsafe extern "C" {
    fn q(query: u32) -> f64;
    #[link_name = "o"]
    fn observe(sub: u32, kinds: u32, duration_threshold: f64, when_idle: u32) -> u32;
    #[link_name = "u"]
    fn unobserve(sub: u32, kind: i32);
    #[link_name = "l"]
    fn later(token: u32, wait: u32);
    #[link_name = "i"]
    fn error_item(kind: u32, message: *const u8, message_len: usize);
    #[cfg(feature = "rust-api")]
    #[link_name = "c"]
    fn configure(fields: *const u8, fields_len: usize);
    #[link_name = "s"]
    fn send(
        unloading: u32,
        dropped_errors: u32,
        route: *const u8,
        route_len: usize,
        trace_id: *const u8,
        trace_id_len: usize,
    );
    #[allow(clippy::too_many_arguments)]
    #[link_name = "r"]
    fn report(
        sub: u32,
        vital: u32,
        value: f64,
        delta: f64,
        epoch_ms: f64,
        random: f64,
        rating: u32,
        navigation_type: u32,
        #[cfg(feature = "attribution")] first_entry: f64,
        #[cfg(feature = "attribution")] last_entry: f64,
    );
}

struct Page;

impl Host for Page {
    fn query(&mut self, query: Query) -> f64 {
        // SAFETY: an import of numbers only.
        unsafe { q(query as u32) }
    }
    fn observe(&mut self, sub: u32, kinds: u32, duration_threshold: f64, when_idle: bool) -> bool {
        // SAFETY: an import of numbers only.
        unsafe { observe(sub, kinds, duration_threshold, u32::from(when_idle)) != 0 }
    }
    fn unobserve(&mut self, sub: u32, kind: Option<EntryKind>) {
        // SAFETY: an import of numbers only.
        unsafe { unobserve(sub, kind.map_or(-1, |kind| kind as i32)) }
    }
    fn later(&mut self, token: u32, wait: Wait) {
        // SAFETY: an import of numbers only.
        unsafe { later(token, wait as u32) }
    }
    fn item(&mut self, item: Item<'_>) {
        match item {
            Item::Vital(vital) => report_to_driver(BEACON_ITEM, &vital),
            // SAFETY: the driver reads the range before returning.
            Item::Error(kind, message) => unsafe {
                error_item(kind as u32, message.as_ptr(), message.len());
            },
        }
    }
    fn send(&mut self, unloading: bool, dropped_errors: u32, route: &[u8], trace_id: &[u8]) {
        // SAFETY: the driver reads both ranges before returning.
        unsafe {
            send(
                u32::from(unloading),
                dropped_errors,
                route.as_ptr(),
                route.len(),
                trace_id.as_ptr(),
                trace_id.len(),
            );
        }
    }
}

/// Longest text the driver passes in one call (`startRum`'s fields, an error message, a
/// path); the driver cuts error messages to fit.
const BUFFER_LEN: usize = 8192;

struct State {
    engine: RefCell<Engine>,
    buffer: RefCell<[u8; BUFFER_LEN]>,
    #[cfg(feature = "rust-api")]
    callbacks: RefCell<[Option<Callback>; crate::engine::MAX_SUBSCRIPTIONS]>,
}

// SAFETY: the browser build runs on one thread (no shared memory, no workers).
unsafe impl Sync for State {}

static STATE: State = State {
    engine: RefCell::new(Engine::new()),
    buffer: RefCell::new([0; BUFFER_LEN]),
    #[cfg(feature = "rust-api")]
    callbacks: RefCell::new([const { None }; crate::engine::MAX_SUBSCRIPTIONS]),
};

/// Runs `f` on the engine, then hands its reports to their callbacks (the driver's
/// JavaScript callbacks, or Rust closures) with the engine released, so that a callback
/// may call back in (`routeChanged()` from a report, say).
fn with_engine<T: Default>(f: impl FnOnce(&mut Engine, &mut Page) -> T) -> T {
    let result = match STATE.engine.try_borrow_mut() {
        Ok(mut engine) => f(&mut engine, &mut Page),
        Err(_) => T::default(),
    };
    deliver_reports();
    result
}

/// Hands the engine's reports to their callbacks, in order (one copy, not one per
/// export).
#[inline(never)]
fn deliver_reports() {
    loop {
        let next = match STATE.engine.try_borrow_mut() {
            Ok(mut engine) => engine.next_report(),
            Err(_) => return,
        };
        let Some((sub, r)) = next else {
            return;
        };
        #[cfg(feature = "rust-api")]
        if rust_api::deliver(sub, &r) {
            continue;
        }
        report_to_driver(sub, &r);
    }
}

/// The subscription index that marks a report as an item of the body being sent.
const BEACON_ITEM: u32 = u32::MAX;

fn report_to_driver(sub: u32, r: &Report) {
    // SAFETY: an import of numbers only.
    unsafe {
        report(
            sub,
            r.vital as u32,
            r.value,
            r.delta,
            r.id.epoch_ms as f64,
            r.id.random as f64,
            r.rating as u32,
            r.navigation_type as u32,
            #[cfg(feature = "attribution")]
            r.entries.first(),
            #[cfg(feature = "attribution")]
            r.entries.last(),
        );
    }
}

/// Runs `f` on the scratch buffer's first `len` bytes.
fn with_buffer<T: Default>(len: usize, f: impl FnOnce(&[u8]) -> T) -> T {
    let Ok(buffer) = STATE.buffer.try_borrow() else {
        return T::default();
    };
    // A copy: the engine may be entered again (from a callback) while it works.
    let mut copy = [0u8; BUFFER_LEN];
    match (copy.get_mut(..len), buffer.get(..len)) {
        (Some(to), Some(from)) => crate::report::copy(to, from),
        _ => return T::default(),
    }
    drop(buffer);
    f(copy.get(..len).unwrap_or_default())
}

/// Where the driver writes `len` bytes of text (null when longer than the buffer).
#[unsafe(export_name = "b")]
pub(crate) extern "C" fn rum_buffer(len: usize) -> *mut u8 {
    match STATE.buffer.try_borrow_mut() {
        Ok(mut buffer) if len <= BUFFER_LEN => buffer.as_mut_ptr(),
        _ => core::ptr::null_mut(),
    }
}

/// `onX(callback, { reportAllChanges, reportSoftNavs })` of the driver (export `s`): the
/// subscription's index, or `u32::MAX` when no more subscriptions can be taken.
#[unsafe(export_name = "s")]
pub(crate) extern "C" fn rum_subscribe(vital: u32, report_all_changes: u32, soft_navs: u32) -> u32 {
    let Some(vital) = Vital::from_code(vital) else {
        return u32::MAX;
    };
    let options = Options {
        report_all_changes: report_all_changes != 0,
        soft_navs: soft_navs != 0,
    };
    with_engine(|engine, page| engine.subscribe(page, vital, options, false)).unwrap_or(u32::MAX)
}

/// Stops subscription `sub`.
#[unsafe(export_name = "u")]
pub(crate) extern "C" fn rum_unsubscribe(sub: u32) {
    with_engine(|engine, page| engine.unsubscribe(page, sub));
    #[cfg(feature = "rust-api")]
    rust_api::forget(sub);
}

/// One performance entry of `sub`'s observer (`last`: the end of the observer's batch;
/// `seq`, with feature `attribution`: the driver's number for it).
#[unsafe(export_name = "e")]
pub(crate) extern "C" fn rum_entry(
    sub: u32,
    kind: u32,
    start: f64,
    amount: f64,
    id: f64,
    processing_start: f64,
    last: u32,
    #[cfg(feature = "attribution")] seq: f64,
) {
    let Some(kind) = EntryKind::from_code(kind) else {
        return;
    };
    let entry = Entry {
        start,
        amount,
        id,
        processing_start,
        #[cfg(feature = "attribution")]
        seq,
        #[cfg(not(feature = "attribution"))]
        seq: 0.0,
    };
    with_engine(|engine, page| engine.entry(page, sub, kind, entry, last != 0));
}

/// A page event.
#[unsafe(export_name = "v")]
pub(crate) extern "C" fn rum_event(event: u32, time_stamp: f64) {
    if let Some(event) = PageEvent::from_code(event) {
        with_engine(|engine, page| engine.page_event(page, event, time_stamp));
    }
}

/// A timer of `later` fired.
#[unsafe(export_name = "t")]
pub(crate) extern "C" fn rum_timer(token: u32) {
    with_engine(|engine, page| engine.timer(page, token));
}

/// `startRum` (export `r`): the buffer holds `service`, `version`, `env`,
/// `location.pathname`, the document's `traceparent`, then the route templates, separated
/// by NUL (empty: absent); `soft_navs` 1 for web-vitals' `reportSoftNavs`. 1 when
/// collection started.
#[unsafe(export_name = "r")]
pub(crate) extern "C" fn rum_start(len: usize, sample_rate: f64, soft_navs: u32) -> u32 {
    let started = with_buffer(len, |text| {
        let mut fields = text.split(|b| *b == 0);
        let mut next = || fields.next().unwrap_or_default();
        let config = RumConfig {
            service: next(),
            version: next(),
            env: next(),
            sample_rate,
            soft_navs: soft_navs != 0,
        };
        let (path, traceparent) = (next(), next());
        with_engine(|engine, page| engine.start_rum(page, config, fields, path, traceparent))
    });
    u32::from(started)
}

/// `routeChanged()`: the buffer holds the new `location.pathname`.
#[unsafe(export_name = "n")]
pub(crate) extern "C" fn rum_route(len: usize) {
    with_buffer(len, |path| {
        with_engine(|engine, page| engine.route_changed(page, path));
    });
}

/// An uncaught error (`kind` 0) or unhandled rejection (1); the buffer holds its message.
#[unsafe(export_name = "x")]
pub(crate) extern "C" fn rum_error(kind: u32, len: usize) {
    let kind = if kind == 0 {
        ErrorKind::Error
    } else {
        ErrorKind::UnhandledRejection
    };
    with_buffer(len, |message| {
        with_engine(|engine, page| engine.error(page, kind, message));
    });
}

/// `disconnect()`.
#[unsafe(export_name = "d")]
pub(crate) extern "C" fn rum_disconnect() {
    with_engine(|engine, page| engine.disconnect_all(page));
    #[cfg(feature = "rust-api")]
    for sub in 0..crate::engine::MAX_SUBSCRIPTIONS as u32 {
        rust_api::forget(sub);
    }
}

#[cfg(feature = "rust-api")]
type Callback = alloc::boxed::Box<dyn FnMut(&Report)>;

/// The Rust API (feature `rust-api`): closures as callbacks, for applications that link
/// this crate into their own module (which has an allocator) and attach the driver to it.
#[cfg(feature = "rust-api")]
pub(crate) mod rust_api {
    use alloc::boxed::Box;

    use super::{Callback, STATE, rum_disconnect, rum_unsubscribe, with_engine};
    use crate::engine::RumConfig;
    use crate::report::Report;
    use crate::vocab::Vital;

    /// Options of an `on_*` subscription (web-vitals' `reportAllChanges` and
    /// `reportSoftNavs`).
    pub type ReportOptions = crate::engine::Options;

    /// One `on_*` call. Dropping it keeps measuring; [`Subscription::disconnect`] stops.
    #[derive(Debug)]
    pub struct Subscription {
        index: u32,
    }

    impl Subscription {
        /// Disconnects this subscription's observers; its callback is not called again.
        pub fn disconnect(self) {
            rum_unsubscribe(self.index);
        }
    }

    fn subscribe(
        vital: Vital,
        callback: impl FnMut(&Report) + 'static,
        options: ReportOptions,
    ) -> Option<Subscription> {
        let index = with_engine(|engine, page| engine.subscribe(page, vital, options, false))?;
        let mut callbacks = STATE.callbacks.try_borrow_mut().ok()?;
        let callback: Callback = Box::new(callback);
        *callbacks.get_mut(index as usize)? = Some(callback);
        Some(Subscription { index })
    }

    /// Largest Contentful Paint, in milliseconds (`None`: too many subscriptions).
    pub fn on_lcp(
        callback: impl FnMut(&Report) + 'static,
        options: ReportOptions,
    ) -> Option<Subscription> {
        subscribe(Vital::Lcp, callback, options)
    }

    /// Interaction to Next Paint, in milliseconds.
    pub fn on_inp(
        callback: impl FnMut(&Report) + 'static,
        options: ReportOptions,
    ) -> Option<Subscription> {
        subscribe(Vital::Inp, callback, options)
    }

    /// Cumulative Layout Shift (unitless).
    pub fn on_cls(
        callback: impl FnMut(&Report) + 'static,
        options: ReportOptions,
    ) -> Option<Subscription> {
        subscribe(Vital::Cls, callback, options)
    }

    /// First Contentful Paint, in milliseconds.
    pub fn on_fcp(
        callback: impl FnMut(&Report) + 'static,
        options: ReportOptions,
    ) -> Option<Subscription> {
        subscribe(Vital::Fcp, callback, options)
    }

    /// Time To First Byte, in milliseconds.
    pub fn on_ttfb(
        callback: impl FnMut(&Report) + 'static,
        options: ReportOptions,
    ) -> Option<Subscription> {
        subscribe(Vital::Ttfb, callback, options)
    }

    /// First Input Delay, in milliseconds.
    pub fn on_fid(
        callback: impl FnMut(&Report) + 'static,
        options: ReportOptions,
    ) -> Option<Subscription> {
        subscribe(Vital::Fid, callback, options)
    }

    /// Stops every subscription and `start_rum`'s collection.
    pub fn disconnect() {
        rum_disconnect();
    }

    /// A single-page app moved to `path` (the new `location.pathname`): the current
    /// values are finalized and sent under the old route; CLS and INP start again under
    /// the new one.
    pub fn route_changed(path: &[u8]) {
        with_engine(|engine, page| engine.route_changed(page, path));
    }

    /// Starts collecting every metric and the page's errors and sending them to
    /// `endpoint` (and, when not empty, to the OTLP/HTTP collector at `otlp_endpoint`);
    /// `routes` are the route templates, `path` is `location.pathname`, `traceparent` the
    /// document's (from `Server-Timing` or `<meta name="traceparent">`, empty: none).
    /// `false` when this page view is sampled out or collection already started.
    pub fn start_rum(
        config: RumConfig<'_>,
        endpoints: (&[u8], &[u8]),
        routes: &[&[u8]],
        path: &[u8],
        traceparent: &[u8],
    ) -> bool {
        let (endpoint, otlp_endpoint) = endpoints;
        let started = with_engine(|engine, page| {
            engine.start_rum(page, config, routes.iter().copied(), path, traceparent)
        });
        if started {
            let mut fields = alloc::vec::Vec::new();
            for (i, field) in [
                endpoint,
                config.service,
                config.version,
                config.env,
                otlp_endpoint,
            ]
            .into_iter()
            .enumerate()
            {
                if i > 0 {
                    fields.push(0);
                }
                fields.extend_from_slice(field);
            }
            // SAFETY: the driver reads the range before returning.
            unsafe { super::configure(fields.as_ptr(), fields.len()) };
        }
        started
    }

    pub(super) fn deliver(sub: u32, report: &Report) -> bool {
        let taken = STATE
            .callbacks
            .try_borrow_mut()
            .ok()
            .and_then(|mut callbacks| callbacks.get_mut(sub as usize)?.take());
        let Some(mut callback) = taken else {
            return false;
        };
        callback(report);
        if let Ok(mut callbacks) = STATE.callbacks.try_borrow_mut()
            && let Some(slot) = callbacks.get_mut(sub as usize)
            && slot.is_none()
        {
            *slot = Some(callback);
        }
        true
    }

    pub(super) fn forget(sub: u32) {
        if let Ok(mut callbacks) = STATE.callbacks.try_borrow_mut()
            && let Some(slot) = callbacks.get_mut(sub as usize)
        {
            *slot = None;
        }
    }
}
