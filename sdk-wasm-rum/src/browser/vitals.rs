//! The measurement engine: one subscription per `onX` call, each with its own metric
//! (id, value, last reported value) and performance observers, driven by the page's
//! lifecycle events exactly as web-vitals 6 drives its metrics:
//!
//! - entries are read with `{type, buffered: true}` observers;
//! - the page being hidden (`visibilitychange` → hidden, `pagehide`) finalizes LCP and
//!   forces a report of CLS and INP; the first trusted `keydown`/`click` finalizes LCP
//!   (off the input's critical path, from a timer);
//! - a back/forward-cache restore (`pageshow` with `persisted`) starts new metrics with new
//!   ids: LCP and FCP are the time to the second animation frame after `pageshow`, CLS and
//!   INP start over, TTFB is 0;
//! - a prerendered page starts measuring on `prerenderingchange` and subtracts
//!   `activationStart`;
//! - a page hidden from the start reports no LCP, FCP, CLS or FID.
//!
//! User callbacks run after the engine's state is released, so a callback may subscribe,
//! disconnect or change routes.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Reflect};
use sdk_core::rum::{NavigationType, VitalName, VitalReport};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::sys::{
    self, DOCUMENT, EntryList, Event, LayoutShift, NavigationTiming, PERFORMANCE, PerformanceEntry,
    PerformanceEventTiming, PerformanceObserver,
};
use crate::cls::LayoutShifts;
use crate::inp::Interactions;
use crate::timing;

/// web-vitals' default `durationThreshold` for INP's `event` observer.
const INP_DURATION_THRESHOLD: f64 = 40.0;

/// Receives a metric's reports.
pub(crate) type Callback = Rc<RefCell<dyn FnMut(&VitalReport)>>;

type Delivery = (Callback, VitalReport);

/// An observer and the closure it calls (dropped together).
type Observer = (PerformanceObserver, Closure<dyn FnMut(EntryList)>);

/// The page events the engine listens to (capturing, on `window`).
const PAGE_EVENTS: [&str; 8] = [
    "visibilitychange",
    "pagehide",
    "pageshow",
    "prerenderingchange",
    "load",
    "keydown",
    "click",
    "pointerdown",
];

struct Metric {
    id: String,
    value: f64,
    reported: Option<f64>,
    navigation_type: NavigationType,
}

enum Progress {
    Lcp {
        finalized: bool,
    },
    Fcp,
    Cls {
        shifts: LayoutShifts,
        after_fcp: bool,
    },
    Inp {
        interactions: Interactions,
        count_base: f64,
    },
    Fid {
        awaiting_input: bool,
    },
    Ttfb,
}

impl Progress {
    fn new(name: VitalName) -> Self {
        match name {
            VitalName::Lcp => Self::Lcp { finalized: false },
            VitalName::Fcp => Self::Fcp,
            VitalName::Cls => Self::Cls {
                shifts: LayoutShifts::new(),
                after_fcp: false,
            },
            VitalName::Inp => Self::Inp {
                interactions: Interactions::new(),
                count_base: 0.0,
            },
            VitalName::Fid => Self::Fid {
                awaiting_input: false,
            },
            VitalName::Ttfb => Self::Ttfb,
        }
    }
}

struct Subscription {
    name: VitalName,
    report_all_changes: bool,
    callback: Callback,
    /// `None` until the page is activated (prerendering).
    metric: Option<Metric>,
    observers: Vec<Observer>,
    progress: Progress,
    /// The browser supports the entry type this metric is measured from (web-vitals
    /// reports nothing, not even after a restore, where it does not).
    supported: bool,
}

impl Subscription {
    /// web-vitals' `bindReporter`: reports when forced or when every change is wanted,
    /// and only when the value moved (or was never reported).
    fn report(&mut self, force: bool, out: &mut Vec<Delivery>) {
        let Some(metric) = &mut self.metric else {
            return;
        };
        // CLS exists only once the page had its first contentful paint.
        let before_fcp = matches!(
            self.progress,
            Progress::Cls {
                after_fcp: false,
                ..
            }
        );
        if !self.supported
            || before_fcp
            || metric.value < 0.0
            || !(force || self.report_all_changes)
        {
            return;
        }
        let delta = metric.value - metric.reported.unwrap_or(0.0);
        if delta == 0.0 && metric.reported.is_some() {
            return;
        }
        metric.reported = Some(metric.value);
        out.push((
            self.callback.clone(),
            VitalReport {
                name: self.name,
                value: metric.value,
                delta,
                id: metric.id.clone(),
                rating: self.name.rate(metric.value),
                navigation_type: metric.navigation_type,
            },
        ));
    }

    fn set_value(&mut self, value: f64) {
        if let Some(metric) = &mut self.metric {
            metric.value = value;
        }
    }

    fn disconnect(&mut self) {
        for (observer, _) in self.observers.drain(..) {
            observer.disconnect();
        }
    }

    fn take_records(&self) -> Vec<PerformanceEntry> {
        self.observers
            .iter()
            .flat_map(|(observer, _)| observer.take_records())
            .map(JsCast::unchecked_into)
            .collect()
    }
}

/// Hooks run after the page was hidden and the finalized values were delivered.
pub(crate) type HiddenHook = Rc<dyn Fn()>;

struct Page {
    subscriptions: Vec<Option<Subscription>>,
    first_hidden: f64,
    restore_time: f64,
    listener: Option<Closure<dyn FnMut(Event)>>,
    extra_events: Vec<&'static str>,
    hidden_hooks: Vec<HiddenHook>,
    /// Interaction-count estimate where `performance.interactionCount` is missing:
    /// (smallest id, largest id, count).
    interaction_ids: (f64, f64, f64),
    interaction_observer: Option<Observer>,
}

thread_local! {
    static PAGE: RefCell<Page> = RefCell::new(Page {
        subscriptions: Vec::new(),
        first_hidden: first_hidden_time(),
        restore_time: -1.0,
        listener: None,
        extra_events: Vec::new(),
        hidden_hooks: Vec::new(),
        interaction_ids: (f64::INFINITY, 0.0, 0.0),
        interaction_observer: None,
    });
}

/// Runs `f` on the page state, then delivers the reports it produced. Does nothing when
/// called from inside the engine (cannot happen from user callbacks, which run after).
fn with_page(f: impl FnOnce(&mut Page, &mut Vec<Delivery>)) {
    let mut out = Vec::new();
    PAGE.with(|page| {
        if let Ok(mut page) = page.try_borrow_mut() {
            f(&mut page, &mut out);
        }
    });
    deliver(out);
}

thread_local! {
    /// Reports waiting for their callbacks; a callback that causes reports (by calling
    /// `routeChanged()`, say) has them delivered after it returns, not dropped.
    static QUEUE: RefCell<std::collections::VecDeque<Delivery>> = RefCell::default();
    static DELIVERING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn deliver(out: Vec<Delivery>) {
    QUEUE.with(|queue| {
        if let Ok(mut queue) = queue.try_borrow_mut() {
            queue.extend(out);
        }
    });
    if DELIVERING.with(|d| d.replace(true)) {
        return;
    }
    while let Some((callback, report)) =
        QUEUE.with(|queue| queue.try_borrow_mut().ok()?.pop_front())
    {
        if let Ok(mut callback) = callback.try_borrow_mut() {
            callback(&report);
        }
    }
    DELIVERING.with(|d| d.set(false));
}

fn now() -> f64 {
    PERFORMANCE.with(sys::Performance::now)
}

fn prerendering() -> bool {
    DOCUMENT.with(|d| d.prerendering().unwrap_or(false))
}

fn hidden() -> bool {
    DOCUMENT.with(|d| d.visibility_state() == "hidden")
}

/// web-vitals' `initHiddenTime`: a page hidden when measuring starts (and not
/// prerendering) is taken as hidden from the start.
fn initial_hidden_time() -> f64 {
    if hidden() && !prerendering() {
        0.0
    } else {
        f64::INFINITY
    }
}

/// When the page was first hidden before measuring started: the first `visibility-state`
/// entry named `hidden` after activation (web-vitals 5), else [`initial_hidden_time`].
fn first_hidden_time() -> f64 {
    if !prerendering() {
        let activation = activation_start();
        let hidden_entry = PERFORMANCE
            .with(|p| p.entries_by_type("visibility-state"))
            .into_iter()
            .map(JsCast::unchecked_into::<PerformanceEntry>)
            .find(|entry| entry.name() == "hidden" && entry.start_time() > activation);
        if let Some(entry) = hidden_entry {
            return entry.start_time();
        }
    }
    initial_hidden_time()
}

pub(crate) fn navigation_entry() -> Option<NavigationTiming> {
    let entry: NavigationTiming = PERFORMANCE
        .with(|p| p.entries_by_type("navigation"))
        .get(0)
        .dyn_into::<Object>()
        .ok()?
        .unchecked_into();
    let response_start = entry.response_start();
    (response_start > 0.0 && response_start < now()).then_some(entry)
}

fn activation_start() -> f64 {
    navigation_entry()
        .and_then(|entry| entry.activation_start())
        .unwrap_or(0.0)
}

fn interaction_count(page: &Page) -> f64 {
    PERFORMANCE
        .with(sys::Performance::interaction_count)
        .unwrap_or(page.interaction_ids.2)
}

/// `v6-<ms since epoch>-<random 13 digits>`, web-vitals' id shape.
fn unique_id() -> String {
    let mut id = String::from("v6-");
    push_integer(&mut id, js_sys::Date::now());
    id.push('-');
    push_integer(
        &mut id,
        (js_sys::Math::random() * (9e12 - 1.0)).floor() + 1e12,
    );
    id
}

pub(crate) fn push_integer(out: &mut String, value: f64) {
    let mut digits = [0u8; 20];
    let mut n = value as u64;
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    for &digit in &digits[at..] {
        out.push(char::from(digit));
    }
}

impl Page {
    fn navigation_type(&self) -> NavigationType {
        if self.restore_time >= 0.0 {
            return NavigationType::BackForwardCache;
        }
        let Some(entry) = navigation_entry() else {
            return NavigationType::Navigate;
        };
        if prerendering() || entry.activation_start().unwrap_or(0.0) > 0.0 {
            NavigationType::Prerender
        } else if DOCUMENT.with(|d| d.was_discarded().unwrap_or(false)) {
            NavigationType::Restore
        } else {
            match entry.navigation_type().as_str() {
                "reload" => NavigationType::Reload,
                "back_forward" => NavigationType::BackForward,
                "prerender" => NavigationType::Prerender,
                _ => NavigationType::Navigate,
            }
        }
    }

    fn new_metric(&self, name: VitalName, navigation_type: NavigationType) -> Metric {
        let starts_at_zero = matches!(name, VitalName::Cls);
        Metric {
            id: unique_id(),
            value: if starts_at_zero { 0.0 } else { -1.0 },
            reported: None,
            navigation_type,
        }
    }

    fn install_listener(&mut self) {
        if self.listener.is_some() {
            return;
        }
        let listener = Closure::<dyn FnMut(Event)>::new(on_page_event);
        for kind in PAGE_EVENTS {
            sys::add_event_listener(kind, listener.as_ref().unchecked_ref(), true);
        }
        self.listener = Some(listener);
    }

    /// Starts measuring for subscription `index`.
    fn start(&mut self, index: usize) {
        let needs_count_estimate = PERFORMANCE
            .with(sys::Performance::interaction_count)
            .is_none();
        let metric = match self.subscriptions.get(index) {
            Some(Some(sub)) => self.new_metric(sub.name, self.navigation_type()),
            _ => return,
        };
        let Some(Some(sub)) = self.subscriptions.get_mut(index) else {
            return;
        };
        let name = sub.name;
        sub.metric = Some(metric);
        let observe_for = |sub: &mut Subscription, kind: &str, threshold: Option<f64>| {
            let observer = observe(kind, threshold, move |list| {
                on_entries(index, list.entries());
            });
            let observing = observer.is_some();
            sub.observers.extend(observer);
            observing
        };
        sub.supported = match name {
            VitalName::Lcp => observe_for(sub, "largest-contentful-paint", None),
            VitalName::Fcp => observe_for(sub, "paint", None),
            VitalName::Cls => {
                observe_for(sub, "paint", None) & observe_for(sub, "layout-shift", None)
            }
            VitalName::Inp => {
                let events = observe_for(sub, "event", Some(INP_DURATION_THRESHOLD));
                events & observe_for(sub, "first-input", None)
            }
            VitalName::Fid => observe_for(sub, "first-input", None),
            VitalName::Ttfb => {
                if DOCUMENT.with(|d| d.ready_state()) == "complete" {
                    schedule(0, move || with_page(|page, out| page.measure_ttfb(out)));
                }
                true
            }
        };
        if name == VitalName::Inp && needs_count_estimate && self.interaction_observer.is_none() {
            self.interaction_observer = observe("event", Some(0.0), |list: EntryList| {
                with_page(|page, _| page.estimate_interactions(list.entries()));
            });
        }
    }

    fn estimate_interactions(&mut self, entries: Array) {
        for entry in entries {
            let entry: PerformanceEventTiming = entry.unchecked_into();
            if let Some(id) = entry.interaction_id().filter(|id| *id > 0.0) {
                let (min, max, _) = self.interaction_ids;
                let (min, max) = (min.min(id), max.max(id));
                // Chromium increments interaction ids by 7.
                self.interaction_ids = (min, max, (max - min) / 7.0 + 1.0);
            }
        }
    }

    fn measure_ttfb(&mut self, out: &mut Vec<Delivery>) {
        // `load` also reaches this capturing listener from images and scripts.
        if DOCUMENT.with(|d| d.ready_state()) != "complete" {
            return;
        }
        let Some(entry) = navigation_entry() else {
            return;
        };
        let activation = entry.activation_start().unwrap_or(0.0);
        let value = timing::ttfb(entry.response_start(), activation, now());
        for sub in self.subscriptions.iter_mut().flatten() {
            let fresh = sub.metric.as_ref().is_some_and(|m| {
                m.reported.is_none() && m.navigation_type != NavigationType::BackForwardCache
            });
            if sub.name == VitalName::Ttfb
                && fresh
                && let Some(value) = value
            {
                sub.set_value(value);
                sub.report(true, out);
            }
        }
    }

    fn process(&mut self, index: usize, entries: Vec<PerformanceEntry>, out: &mut Vec<Delivery>) {
        let first_hidden = self.first_hidden;
        let count = interaction_count(self);
        let Some(Some(sub)) = self.subscriptions.get_mut(index) else {
            return;
        };
        if sub.metric.is_none() {
            return;
        }
        let activation = activation_start();
        match &mut sub.progress {
            Progress::Lcp { finalized: true } => {}
            Progress::Lcp { finalized: false } => {
                let skip = if sub.report_all_changes {
                    0
                } else {
                    entries.len().saturating_sub(1)
                };
                for entry in &entries[skip..] {
                    if let Some(value) = timing::paint(entry.start_time(), activation, first_hidden)
                    {
                        sub.set_value(value);
                        sub.report(false, out);
                    }
                }
            }
            Progress::Fcp => {
                let fcp = entries
                    .iter()
                    .find(|entry| entry.name() == "first-contentful-paint");
                if let Some(entry) = fcp {
                    let value = timing::paint(entry.start_time(), activation, first_hidden);
                    sub.disconnect();
                    if let Some(value) = value {
                        sub.set_value(value);
                        sub.report(true, out);
                    }
                }
            }
            Progress::Cls { shifts, after_fcp } => {
                let mut changed = false;
                for entry in &entries {
                    if entry.entry_type() == "paint" {
                        if entry.name() == "first-contentful-paint"
                            && entry.start_time() < first_hidden
                        {
                            *after_fcp = true;
                            changed = true;
                        }
                        continue;
                    }
                    let shift: &LayoutShift = entry.unchecked_ref();
                    changed |= shifts
                        .add(shift.value(), shift.start_time(), shift.had_recent_input())
                        .is_some();
                }
                let value = shifts.value();
                if *after_fcp && changed {
                    sub.set_value(value);
                    sub.report(false, out);
                }
            }
            Progress::Inp {
                interactions,
                count_base,
            } => {
                for entry in &entries {
                    let timing: &PerformanceEventTiming = entry.unchecked_ref();
                    let id = timing.interaction_id().unwrap_or(0.0);
                    interactions.add(id as u64, timing.duration());
                }
                let count = (count - *count_base).max(0.0) as u64;
                if let Some(value) = interactions.value(count) {
                    let current = sub.metric.as_ref().map_or(-1.0, |m| m.value);
                    if value != current {
                        sub.set_value(value);
                        sub.report(false, out);
                    }
                }
            }
            Progress::Fid { .. } => {
                if let Some(entry) = entries.first() {
                    let entry: &PerformanceEventTiming = entry.unchecked_ref();
                    let start = entry.start_time();
                    sub.disconnect();
                    if start < first_hidden {
                        sub.set_value((entry.processing_start() - start).max(0.0));
                        sub.report(true, out);
                    }
                }
            }
            Progress::Ttfb => {}
        }
    }

    /// LCP's end: the last entries, then a forced report, once per metric.
    fn finalize_lcp(&mut self, index: usize, out: &mut Vec<Delivery>) {
        let records = match self.subscriptions.get(index) {
            Some(Some(sub)) if matches!(sub.progress, Progress::Lcp { finalized: false }) => {
                sub.take_records()
            }
            _ => return,
        };
        self.process(index, records, out);
        if let Some(Some(sub)) = self.subscriptions.get_mut(index) {
            sub.disconnect();
            sub.progress = Progress::Lcp { finalized: true };
            sub.report(true, out);
        }
    }

    /// The page was hidden (or a route ends): every value that can be final is reported.
    fn finalize(&mut self, hidden: bool, out: &mut Vec<Delivery>) {
        for index in 0..self.subscriptions.len() {
            let Some(Some(sub)) = self.subscriptions.get(index) else {
                continue;
            };
            if sub.metric.is_none() {
                // Not activated yet (prerendering): nothing to finalize.
                continue;
            }
            match sub.progress {
                Progress::Lcp { .. } => self.finalize_lcp(index, out),
                Progress::Cls { .. } | Progress::Inp { .. } => {
                    let records = sub.take_records();
                    self.process(index, records, out);
                    if let Some(Some(sub)) = self.subscriptions.get_mut(index) {
                        sub.report(true, out);
                    }
                }
                Progress::Fid { .. } if hidden => {
                    let records = sub.take_records();
                    self.process(index, records, out);
                    if let Some(Some(sub)) = self.subscriptions.get_mut(index) {
                        sub.disconnect();
                    }
                }
                Progress::Fid { .. } | Progress::Fcp | Progress::Ttfb => {}
            }
        }
    }

    fn on_hidden(&mut self, time_stamp: f64, out: &mut Vec<Delivery>) {
        self.first_hidden = self.first_hidden.min(time_stamp);
        self.finalize(true, out);
    }

    fn on_input(&mut self, event: &Event, out: &mut Vec<Delivery>) {
        let delay = (now() - event.time_stamp()).max(0.0);
        let kind = event.kind();
        for index in 0..self.subscriptions.len() {
            let Some(Some(sub)) = self.subscriptions.get_mut(index) else {
                continue;
            };
            match &mut sub.progress {
                Progress::Lcp { finalized: false } if kind != "pointerdown" => {
                    // Off the input's critical path.
                    schedule(0, move || {
                        with_page(|page, out| page.finalize_lcp(index, out))
                    });
                }
                Progress::Fid { awaiting_input } if *awaiting_input && kind != "click" => {
                    // After a back/forward-cache restore there is no `first-input` entry:
                    // the delay is measured from the event, as web-vitals' polyfill did.
                    *awaiting_input = false;
                    sub.set_value(delay);
                    sub.report(true, out);
                }
                _ => {}
            }
        }
    }

    fn on_restore(&mut self, time_stamp: f64, out: &mut Vec<Delivery>) {
        self.restore_time = time_stamp;
        self.first_hidden = initial_hidden_time();
        let count = interaction_count(self);
        let mut after_frames = Vec::new();
        for index in 0..self.subscriptions.len() {
            let metric = match self.subscriptions.get(index) {
                Some(Some(sub)) if sub.metric.is_some() => {
                    self.new_metric(sub.name, NavigationType::BackForwardCache)
                }
                _ => continue,
            };
            let Some(Some(sub)) = self.subscriptions.get_mut(index) else {
                continue;
            };
            let had_fcp = matches!(
                sub.progress,
                Progress::Cls {
                    after_fcp: true,
                    ..
                }
            );
            let had_ttfb = sub.metric.as_ref().is_some_and(|m| m.reported.is_some());
            if !sub.supported || (sub.name == VitalName::Ttfb && !had_ttfb) {
                continue;
            }
            let id = metric.id.clone();
            sub.metric = Some(metric);
            sub.progress = Progress::new(sub.name);
            match &mut sub.progress {
                Progress::Lcp { finalized } => {
                    *finalized = true;
                    after_frames.push((index, id, true));
                }
                Progress::Fcp => after_frames.push((index, id, true)),
                Progress::Cls { after_fcp, .. } => {
                    *after_fcp = had_fcp;
                    after_frames.push((index, id, false));
                }
                Progress::Inp { count_base, .. } => *count_base = count,
                Progress::Fid { awaiting_input } => *awaiting_input = true,
                Progress::Ttfb => {
                    sub.set_value(0.0);
                    sub.report(true, out);
                }
            }
        }
        if !after_frames.is_empty() {
            after_two_frames(after_frames, time_stamp);
        }
    }

    fn on_activation(&mut self) {
        self.first_hidden = initial_hidden_time();
        for index in 0..self.subscriptions.len() {
            if matches!(self.subscriptions.get(index), Some(Some(sub)) if sub.metric.is_none()) {
                self.start(index);
            }
        }
    }

    /// After a single-page-app route change: CLS and INP start over with new ids (LCP, FCP,
    /// TTFB and FID belong to the document's load and stay final).
    fn restart_for_route(&mut self) {
        let count = interaction_count(self);
        for index in 0..self.subscriptions.len() {
            let metric = match self.subscriptions.get(index) {
                Some(Some(sub)) if sub.metric.is_some() => {
                    self.new_metric(sub.name, NavigationType::SoftNavigation)
                }
                _ => continue,
            };
            let Some(Some(sub)) = self.subscriptions.get_mut(index) else {
                continue;
            };
            match &mut sub.progress {
                Progress::Cls { shifts, .. } => *shifts = LayoutShifts::new(),
                Progress::Inp {
                    interactions,
                    count_base,
                } => {
                    *interactions = Interactions::new();
                    *count_base = count;
                }
                _ => continue,
            }
            sub.metric = Some(metric);
        }
    }
}

fn on_page_event(event: Event) {
    let kind = event.kind();
    let time_stamp = event.time_stamp();
    let mut hooks = Vec::new();
    with_page(|page, out| match kind.as_str() {
        "visibilitychange" if hidden() => {
            page.on_hidden(time_stamp, out);
            hooks = page.hidden_hooks.clone();
        }
        "pagehide" => {
            page.on_hidden(time_stamp, out);
            hooks = page.hidden_hooks.clone();
        }
        "pageshow" if event.persisted().unwrap_or(false) => page.on_restore(time_stamp, out),
        "prerenderingchange" => page.on_activation(),
        // The window's `load` has the document as its target; images and scripts have
        // themselves.
        "load" if DOCUMENT.with(|d| js_sys::Object::is(&event.target(), d)) => {
            schedule(0, || with_page(|page, out| page.measure_ttfb(out)));
        }
        "keydown" | "click" | "pointerdown" if event.is_trusted() => page.on_input(&event, out),
        _ => {}
    });
    for hook in hooks {
        hook();
    }
    if matches!(kind.as_str(), "error" | "unhandledrejection") {
        super::rum::on_error(&event);
    }
}

fn on_entries(index: usize, entries: Array) {
    let entries = entries.into_iter().map(JsCast::unchecked_into).collect();
    with_page(|page, out| page.process(index, entries, out));
}

/// A `{type, buffered: true}` observer (web-vitals' `observe`), or `None` where the
/// browser does not support the entry type.
fn observe(
    kind: &str,
    duration_threshold: Option<f64>,
    callback: impl FnMut(EntryList) + 'static,
) -> Option<Observer> {
    let supported = PerformanceObserver::supported_entry_types()?;
    if !supported.includes(&JsValue::from_str(kind), 0) {
        return None;
    }
    let callback = Closure::<dyn FnMut(EntryList)>::new(callback);
    let observer = PerformanceObserver::new(callback.as_ref().unchecked_ref()).ok()?;
    let options = Object::new();
    let set = |key: &str, value: JsValue| Reflect::set(&options, &key.into(), &value).is_ok();
    let mut ok = set("type", kind.into()) && set("buffered", true.into());
    if let Some(threshold) = duration_threshold {
        ok &= set("durationThreshold", threshold.into());
    }
    (ok && observer.observe(&options).is_ok()).then_some((observer, callback))
}

/// Runs `f` from a timer, outside the current event's handling.
pub(crate) fn schedule(ms: i32, f: impl FnOnce() + 'static) {
    sys::set_timeout(&Closure::once_into_js(f), ms);
}

/// web-vitals' `doubleRAF` after a restore: LCP and FCP become the time from `pageshow`
/// to the second frame (`force`); CLS reports its fresh 0 when every change is wanted.
/// One pair of frames for every subscription of a restore, so that they all get the same
/// value: `(index, metric id, force)`.
fn after_two_frames(restored: Vec<(usize, String, bool)>, restored_at: f64) {
    let second = move || {
        let value = (now() - restored_at).max(0.0);
        with_page(|page, out| {
            for (index, id, force) in restored {
                let Some(Some(sub)) = page.subscriptions.get_mut(index) else {
                    continue;
                };
                if sub.metric.as_ref().is_none_or(|m| m.id != id) {
                    continue;
                }
                if force {
                    sub.set_value(value);
                }
                sub.report(force, out);
            }
        });
    };
    let first = move || {
        sys::request_animation_frame(&Closure::once_into_js(second));
    };
    sys::request_animation_frame(&Closure::once_into_js(first));
}

/// Subscribes `callback` to `name`; returns the subscription's index.
pub(crate) fn subscribe(name: VitalName, report_all_changes: bool, callback: Callback) -> usize {
    let mut index = usize::MAX;
    with_page(|page, _| {
        page.install_listener();
        index = page.subscriptions.len();
        page.subscriptions.push(Some(Subscription {
            name,
            report_all_changes,
            callback,
            metric: None,
            observers: Vec::new(),
            progress: Progress::new(name),
            supported: false,
        }));
        if !prerendering() {
            page.start(index);
        }
    });
    index
}

/// Ends one subscription.
pub(crate) fn unsubscribe(index: usize) {
    with_page(|page, _| {
        if let Some(slot) = page.subscriptions.get_mut(index)
            && let Some(mut sub) = slot.take()
        {
            sub.disconnect();
        }
    });
}

/// Ends every subscription and removes every listener.
pub(crate) fn disconnect_all() {
    with_page(|page, _| {
        // Slots stay (emptied), so that old handles never reach a later subscription.
        for slot in &mut page.subscriptions {
            if let Some(mut sub) = slot.take() {
                sub.disconnect();
            }
        }
        if let Some((observer, _)) = page.interaction_observer.take() {
            observer.disconnect();
        }
        if let Some(listener) = page.listener.take() {
            let function: &Function = listener.as_ref().unchecked_ref();
            for kind in PAGE_EVENTS.iter().chain(&page.extra_events) {
                sys::remove_event_listener(kind, function, true);
            }
        }
        page.extra_events.clear();
        page.hidden_hooks.clear();
    });
}

/// Also listens to `kind` (errors, for the RUM sink).
pub(crate) fn listen(kind: &'static str) {
    with_page(|page, _| {
        page.install_listener();
        if let Some(listener) = &page.listener
            && !page.extra_events.contains(&kind)
        {
            sys::add_event_listener(kind, listener.as_ref().unchecked_ref(), true);
            page.extra_events.push(kind);
        }
    });
}

/// Runs `hook` each time the page is hidden, after the final values were delivered.
pub(crate) fn on_hidden(hook: HiddenHook) {
    with_page(|page, _| page.hidden_hooks.push(hook));
}

/// Finalizes the current values (delivered before this returns).
pub(crate) fn finalize() {
    with_page(|page, out| page.finalize(false, out));
}

/// Starts CLS and INP over for a new single-page-app route.
pub(crate) fn restart_for_route() {
    with_page(|page, _| page.restart_for_route());
}
