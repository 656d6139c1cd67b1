//! The browser build's boundary: the engine behind numeric exports (`rum_*`), the page
//! behind the imports of module `rum` (answered by the JavaScript driver), a free-list
//! allocator, a panic handler that does not format, and the Rust API.
//!
//! Strings cross in one scratch buffer: the driver asks [`rum_buffer`] for room, writes
//! UTF-8 there, and passes the length.
//!
//! `unsafe` is allowed here and nowhere else in the crate: the allocator, the raw imports
//! and exports, and `Sync` for state that only the browser's one thread touches.
#![allow(unsafe_code)]

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::RefCell;

use crate::engine::{
    Destination, Engine, Entry, EntryKind, Host, PageEvent, Query, RumConfig, Wait,
};
use crate::report::{ErrorKind, Report};
use crate::vocab::Vital;

#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: the browser build runs on one thread (no shared memory, no workers).
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

#[link(wasm_import_module = "rum")]
unsafe extern "C" {
    fn q(query: u32) -> f64;
    fn observe(sub: u32, kind: u32, duration_threshold: f64) -> u32;
    fn unobserve(sub: u32);
    fn later(token: u32, wait: u32);
    fn send(
        body: *const u8,
        body_len: usize,
        url: *const u8,
        url_len: usize,
        to: u32,
        unloading: u32,
    );
    #[allow(clippy::too_many_arguments)]
    fn report(
        sub: u32,
        vital: u32,
        value: f64,
        delta: f64,
        epoch_ms: f64,
        random: f64,
        rating: u32,
        navigation_type: u32,
    );
}

struct Page;

impl Host for Page {
    fn query(&mut self, query: Query) -> f64 {
        // SAFETY: an import of numbers only.
        unsafe { q(query as u32) }
    }
    fn observe(&mut self, sub: u32, kind: EntryKind, duration_threshold: f64) -> bool {
        // SAFETY: an import of numbers only.
        unsafe { observe(sub, kind as u32, duration_threshold) != 0 }
    }
    fn unobserve(&mut self, sub: u32) {
        // SAFETY: an import of numbers only.
        unsafe { unobserve(sub) }
    }
    fn later(&mut self, token: u32, wait: Wait) {
        // SAFETY: an import of numbers only.
        unsafe { later(token, wait as u32) }
    }
    fn send(&mut self, body: &[u8], url: &[u8], to: Destination, unloading: bool) {
        // SAFETY: the driver reads both ranges before returning.
        unsafe {
            send(
                body.as_ptr(),
                body.len(),
                url.as_ptr(),
                url.len(),
                to as u32,
                u32::from(unloading),
            );
        }
    }
}

/// A callback of the Rust API.
type Callback = Box<dyn FnMut(&Report)>;

struct State {
    engine: RefCell<Engine>,
    buffer: RefCell<Vec<u8>>,
    callbacks: RefCell<Vec<Option<Callback>>>,
}

// SAFETY: the browser build runs on one thread.
unsafe impl Sync for State {}

static STATE: State = State {
    engine: RefCell::new(Engine::new()),
    buffer: RefCell::new(Vec::new()),
    callbacks: RefCell::new(Vec::new()),
};

/// Runs `f` on the engine, then hands its reports to their callbacks (Rust closures, or
/// the driver's JavaScript callbacks) with the engine released, so that a callback may
/// call back in (`routeChanged()` from a report, say).
fn with_engine<T: Default>(f: impl FnOnce(&mut Engine, &mut Page) -> T) -> T {
    let result = match STATE.engine.try_borrow_mut() {
        Ok(mut engine) => f(&mut engine, &mut Page),
        Err(_) => T::default(),
    };
    deliver_reports();
    result
}

/// Hands the engine's reports to their callbacks (one copy, not one per export).
#[inline(never)]
fn deliver_reports() {
    let reports = match STATE.engine.try_borrow_mut() {
        Ok(mut engine) => core::mem::take(&mut engine.reports),
        Err(_) => return,
    };
    for (sub, report) in reports {
        deliver(sub, &report);
    }
}

fn deliver(sub: u32, r: &Report) {
    let rust = STATE
        .callbacks
        .try_borrow_mut()
        .ok()
        .and_then(|mut callbacks| callbacks.get_mut(sub as usize)?.take());
    if let Some(mut callback) = rust {
        callback(r);
        if let Ok(mut callbacks) = STATE.callbacks.try_borrow_mut()
            && let Some(slot) = callbacks.get_mut(sub as usize)
            && slot.is_none()
        {
            *slot = Some(callback);
        }
        return;
    }
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
        );
    }
}

/// The scratch buffer's first `len` bytes (UTF-8 from the driver's `TextEncoder`).
fn buffer_bytes(len: usize) -> Vec<u8> {
    STATE
        .buffer
        .try_borrow()
        .ok()
        .and_then(|buffer| buffer.get(..len).map(Vec::from))
        .unwrap_or_default()
}

/// Room for `len` bytes of text from the driver; returns where to write them.
#[unsafe(no_mangle)]
pub(crate) extern "C" fn rum_buffer(len: usize) -> *mut u8 {
    match STATE.buffer.try_borrow_mut() {
        Ok(mut buffer) => {
            buffer.clear();
            buffer.resize(len, 0);
            buffer.as_mut_ptr()
        }
        Err(_) => core::ptr::null_mut(),
    }
}

/// `onX(callback, { reportAllChanges })` of the driver: the subscription's index.
#[unsafe(no_mangle)]
pub(crate) extern "C" fn rum_subscribe(vital: u32, report_all_changes: u32) -> u32 {
    let Some(vital) = Vital::from_code(vital) else {
        return u32::MAX;
    };
    with_engine(|engine, page| engine.subscribe(page, vital, report_all_changes != 0, false))
}

/// Stops subscription `sub`.
#[unsafe(no_mangle)]
pub(crate) extern "C" fn rum_unsubscribe(sub: u32) {
    with_engine(|engine, page| engine.unsubscribe(page, sub));
    if let Ok(mut callbacks) = STATE.callbacks.try_borrow_mut()
        && let Some(slot) = callbacks.get_mut(sub as usize)
    {
        *slot = None;
    }
}

/// One performance entry of `sub`'s observer (`last`: the end of the observer's batch).
#[unsafe(no_mangle)]
pub(crate) extern "C" fn rum_entry(
    sub: u32,
    kind: u32,
    start: f64,
    amount: f64,
    id: f64,
    processing_start: f64,
    last: u32,
) {
    let Some(kind) = EntryKind::from_code(kind) else {
        return;
    };
    let entry = Entry {
        start,
        amount,
        id,
        processing_start,
    };
    with_engine(|engine, page| engine.entry(page, sub, kind, entry, last != 0));
}

/// A page event.
#[unsafe(no_mangle)]
pub(crate) extern "C" fn rum_event(event: u32, time_stamp: f64) {
    if let Some(event) = PageEvent::from_code(event) {
        with_engine(|engine, page| engine.page_event(page, event, time_stamp));
    }
}

/// A timer of `later` fired.
#[unsafe(no_mangle)]
pub(crate) extern "C" fn rum_timer(token: u32) {
    with_engine(|engine, page| engine.timer(page, token));
}

/// `startRum`: the buffer holds `endpoint`, `service`, `version`, `env`, the OTLP
/// endpoint, `location.pathname`, the document's `traceparent`, then the route templates,
/// separated by NUL (empty: absent). 1 when collection started.
#[unsafe(no_mangle)]
pub(crate) extern "C" fn rum_start(len: usize, sample_rate: f64) -> u32 {
    let text = buffer_bytes(len);
    let mut fields = text
        .split(|b| *b == 0)
        .map(|f| (!f.is_empty()).then(|| Vec::from(f)));
    let mut next = || fields.next().flatten();
    let (Some(endpoint), Some(service)) = (next(), next()) else {
        return 0;
    };
    let (version, env, otlp_endpoint) = (next(), next(), next());
    let (path, traceparent) = (next().unwrap_or_default(), next());
    let routes = core::iter::from_fn(|| fields.next()).flatten().collect();
    let config = RumConfig {
        endpoint,
        service,
        version,
        env,
        sample_rate,
        routes,
        otlp_endpoint,
    };
    u32::from(with_engine(|engine, page| {
        engine.start_rum(page, config, &path, traceparent.as_deref())
    }))
}

/// `routeChanged()`: the buffer holds the new `location.pathname`.
#[unsafe(no_mangle)]
pub(crate) extern "C" fn rum_route(len: usize) {
    let path = buffer_bytes(len);
    with_engine(|engine, page| engine.route_changed(page, &path));
}

/// An uncaught error (`kind` 0) or unhandled rejection (1); the buffer holds its message.
#[unsafe(no_mangle)]
pub(crate) extern "C" fn rum_error(kind: u32, len: usize) {
    let kind = if kind == 0 {
        ErrorKind::Error
    } else {
        ErrorKind::UnhandledRejection
    };
    let message = buffer_bytes(len);
    with_engine(|engine, page| engine.error(page, kind, &message));
}

/// `disconnect()`.
#[unsafe(no_mangle)]
pub(crate) extern "C" fn rum_disconnect() {
    with_engine(|engine, page| engine.disconnect_all(page));
    if let Ok(mut callbacks) = STATE.callbacks.try_borrow_mut() {
        callbacks.clear();
    }
}

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
) -> Subscription {
    let index = with_engine(|engine, page| {
        engine.subscribe(page, vital, options.report_all_changes, false)
    });
    if let Ok(mut callbacks) = STATE.callbacks.try_borrow_mut() {
        let at = index as usize;
        if callbacks.len() <= at {
            callbacks.resize_with(at + 1, || None);
        }
        callbacks[at] = Some(Box::new(callback));
    }
    Subscription { index }
}

/// Largest Contentful Paint, in milliseconds.
pub fn on_lcp(callback: impl FnMut(&Report) + 'static, options: ReportOptions) -> Subscription {
    subscribe(Vital::Lcp, callback, options)
}

/// Interaction to Next Paint, in milliseconds.
pub fn on_inp(callback: impl FnMut(&Report) + 'static, options: ReportOptions) -> Subscription {
    subscribe(Vital::Inp, callback, options)
}

/// Cumulative Layout Shift (unitless).
pub fn on_cls(callback: impl FnMut(&Report) + 'static, options: ReportOptions) -> Subscription {
    subscribe(Vital::Cls, callback, options)
}

/// First Contentful Paint, in milliseconds.
pub fn on_fcp(callback: impl FnMut(&Report) + 'static, options: ReportOptions) -> Subscription {
    subscribe(Vital::Fcp, callback, options)
}

/// Time To First Byte, in milliseconds.
pub fn on_ttfb(callback: impl FnMut(&Report) + 'static, options: ReportOptions) -> Subscription {
    subscribe(Vital::Ttfb, callback, options)
}

/// First Input Delay, in milliseconds.
pub fn on_fid(callback: impl FnMut(&Report) + 'static, options: ReportOptions) -> Subscription {
    subscribe(Vital::Fid, callback, options)
}

/// Stops every subscription and `start_rum`'s collection.
pub fn disconnect() {
    rum_disconnect();
}

/// A single-page app moved to `path` (the new `location.pathname`): the current values are
/// finalized and sent under the old route; CLS and INP start again under the new one.
pub fn route_changed(path: &[u8]) {
    with_engine(|engine, page| engine.route_changed(page, path));
}

/// Starts collecting every metric and the page's errors and sending them to
/// `config.endpoint`; `path` is `location.pathname`, `traceparent` the document's (from
/// `Server-Timing` or `<meta name="traceparent">`). `false` when this page view is
/// sampled out or collection already started.
pub fn start_rum(config: RumConfig, path: &[u8], traceparent: Option<&[u8]>) -> bool {
    with_engine(|engine, page| engine.start_rum(page, config, path, traceparent))
}
