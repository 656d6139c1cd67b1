//! The measurement engine: every subscription's metric through web-vitals 6's rules,
//! driven by what the page reports (performance entries, page events, timers) and
//! asking the page only for numbers ([`Host`]). It runs unchanged in the browser (the
//! JavaScript driver feeds it) and natively (the tests feed it), so the rules are tested
//! without a browser and the browser build carries no bindings beyond a few numeric
//! imports.
//!
//! What web-vitals does, per metric (`onLCP`, `onFCP`, `onCLS`, `onINP`, `onTTFB`; FID as
//! web-vitals 4 measured it): metrics start when the page is activated (prerendering);
//! values before the page was first hidden count; LCP ends at the first trusted `keydown`,
//! `click` or `visibilitychange` (when idle, or at once when hidden); CLS starts at the
//! first contentful paint; a back/forward-cache restore starts new metrics whose
//! `navigationType` is `back-forward-cache`, LCP and FCP measured from `pageshow` to the
//! second animation frame, TTFB 0, INP and CLS afresh.

use crate::cls::LayoutShifts;
use crate::inp::Interactions;
use crate::report::{
    Collector, Entries, ErrorKind, Item, MetricId, Report, sampled, trace_id_of_traceparent,
};
use crate::routes::RouteMap;
use crate::timing;
use crate::vocab::{MAX_ERRORS, MAX_FIELD_LEN, NavigationType, Vital};

/// A number the engine reads from the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Query {
    /// `performance.now()`.
    Now = 0,
    /// `Date.now()`.
    Epoch = 1,
    /// `Math.random()`.
    Random = 2,
    /// The navigation entry's `responseStart`, or -1 without a plausible entry
    /// (web-vitals' `getNavigationEntry`).
    ResponseStart = 3,
    /// The navigation entry's `activationStart`, or 0.
    ActivationStart = 4,
    /// The navigation entry's type as a [`NavigationType`] code.
    NavigationType = 5,
    /// 1 when `document.visibilityState` is `hidden`.
    Hidden = 6,
    /// 1 while `document.prerendering`.
    Prerendering = 7,
    /// 1 when `document.wasDiscarded`.
    Discarded = 8,
    /// 1 when `document.readyState` is `complete`.
    LoadComplete = 9,
    /// `performance.interactionCount` (or the driver's estimate where it is missing).
    InteractionCount = 10,
    /// The start time of the first `visibility-state` entry named `hidden` at or after
    /// activation, or -1.
    FirstHiddenEntry = 11,
}

/// Performance entry types the engine observes (buffered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum EntryKind {
    /// `largest-contentful-paint`: `start` is its `startTime`.
    Lcp = 0,
    /// `paint`, only the one named `first-contentful-paint`.
    Paint = 1,
    /// `layout-shift`: `value`, `hadRecentInput` in `id`.
    LayoutShift = 2,
    /// `event` (duration threshold 40 ms): `duration`, `interactionId` in `id`.
    Event = 3,
    /// `first-input`: `duration`, `interactionId` in `id`, `processingStart`.
    FirstInput = 4,
    /// `soft-navigation` (a single-page-app navigation the browser detected):
    /// `presentationTime` (else `paintTime`) in `amount`, `interactionId` in `id`,
    /// `navigationId` in `processing_start`.
    SoftNavigation = 5,
    /// `interaction-contentful-paint` (the largest paint after a soft navigation's
    /// interaction; also the one `getLargestInteractionContentfulPaint()` gives):
    /// `largestContentfulPaint.renderTime` in `amount`, `interactionId` in `id`.
    InteractionContentfulPaint = 6,
}

impl EntryKind {
    /// Its bit in a set of kinds.
    pub const fn bit(self) -> u32 {
        1 << self as u32
    }

    /// The kind of a code.
    pub fn from_code(code: u32) -> Option<Self> {
        [
            Self::Lcp,
            Self::Paint,
            Self::LayoutShift,
            Self::Event,
            Self::FirstInput,
            Self::SoftNavigation,
            Self::InteractionContentfulPaint,
        ]
        .get(code as usize)
        .copied()
    }
}

/// One performance entry, as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Entry {
    /// `startTime`.
    pub start: f64,
    /// `duration` (events) or `value` (layout shifts).
    pub amount: f64,
    /// `interactionId` (events) or `hadRecentInput` as 0/1 (layout shifts).
    pub id: f64,
    /// `processingStart` (first input).
    pub processing_start: f64,
    /// The driver's number of the entry (with feature `attribution`; else 0).
    pub seq: f64,
}

/// A page event (the driver listens on `window`, capturing; inputs only when trusted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum PageEvent {
    /// `visibilitychange` to hidden.
    Hidden = 0,
    /// `visibilitychange` to visible.
    Visible = 1,
    /// `pagehide`.
    PageHide = 2,
    /// `pageshow` with `persisted` (a back/forward-cache restore).
    Restore = 3,
    /// `prerenderingchange` (a prerendered page was activated).
    Activate = 4,
    /// The window's `load`.
    Load = 5,
    /// A trusted `keydown`.
    KeyDown = 6,
    /// A trusted `click`.
    Click = 7,
    /// A trusted `pointerdown`.
    PointerDown = 8,
}

impl PageEvent {
    /// The event of a code.
    pub fn from_code(code: u32) -> Option<Self> {
        [
            Self::Hidden,
            Self::Visible,
            Self::PageHide,
            Self::Restore,
            Self::Activate,
            Self::Load,
            Self::KeyDown,
            Self::Click,
            Self::PointerDown,
        ]
        .get(code as usize)
        .copied()
    }
}

/// When the driver calls [`Engine::timer`] back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Wait {
    /// `setTimeout(…, 0)`.
    Task = 0,
    /// Two animation frames (web-vitals' `doubleRAF`).
    TwoFrames = 1,
    /// web-vitals' `whenIdleOrHidden`: `requestIdleCallback` (timeout 1 s) or the next
    /// `visibilitychange`, whichever comes first.
    IdleOrHidden = 2,
}

/// What the engine asks of the page.
pub trait Host {
    /// Reads a number.
    fn query(&mut self, query: Query) -> f64;
    /// Starts one buffered observer of the entry types in `kinds` (bit `1 << kind`) for
    /// subscription `sub` (web-vitals' `observe(types)`: entries of several types come in
    /// order of `startTime + duration`), delivered when the page is idle or hidden with
    /// `when_idle` (INP); `false` where the browser supports none of them (soft
    /// navigations: only where it gives `getLargestInteractionContentfulPaint`).
    fn observe(&mut self, sub: u32, kinds: u32, duration_threshold: f64, when_idle: bool) -> bool;
    /// Disconnects the observers of `sub` that observe `kind`, or all of them (`None`).
    fn unobserve(&mut self, sub: u32, kind: Option<EntryKind>);
    /// Calls [`Engine::timer`] with `token` later.
    fn later(&mut self, token: u32, wait: Wait);
    /// One item of the beacon being sent next.
    fn item(&mut self, item: Item<'_>);
    /// Sends the items given since the last send as one beacon (and, where configured, as
    /// OTLP log events) (`unloading`: the page is being hidden), with the count of errors
    /// dropped, the route and the backend trace id (empty: none).
    fn send(&mut self, unloading: bool, dropped_errors: u32, route: &[u8], trace_id: &[u8]);
}

/// web-vitals' default `durationThreshold` of INP's `event` observer.
const INP_DURATION_THRESHOLD: f64 = 40.0;
/// Error-only beacons per page view; later errors are only counted.
const MAX_ERROR_BEACONS: u32 = 8;
/// Subscriptions at once (`startRum` takes six); `subscribe` refuses more.
pub const MAX_SUBSCRIPTIONS: usize = 32;
/// Reports waiting for their callbacks (two per subscription: a forced report may follow
/// an ordinary one in the same call).
const MAX_PENDING_REPORTS: usize = 2 * MAX_SUBSCRIPTIONS;

#[derive(Clone, Copy)]
struct Metric {
    id: MetricId,
    value: f64,
    /// bindReporter's previous value: `None` until reported.
    reported: Option<f64>,
    navigation_type: NavigationType,
    /// [`Report::entries`] of the value.
    entries: Entries,
}

/// After a restore, what the second animation frame does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AfterFrames {
    Nothing,
    /// LCP and FCP: the value is the time since `pageshow`, reported (forced).
    Measure,
    /// CLS: reported when every change is wanted.
    Report,
}

#[derive(Clone, Copy)]
struct Subscription {
    vital: Vital,
    report_all_changes: bool,
    /// web-vitals' `reportSoftNavs`: soft navigations start new metrics.
    soft_navs: bool,
    /// The `interactionId` of the soft navigation the current metric belongs to (0: the
    /// document's load).
    navigation_interaction: f64,
    /// Reports go to `startRum`'s collector, not to a callback.
    rum: bool,
    /// `None` until started (activation; CLS: the first contentful paint).
    metric: Option<Metric>,
    /// Counts the metrics this subscription started: a timer set for one is ignored by
    /// the next.
    generation: u32,
    /// The observer was created (web-vitals' `po`).
    supported: bool,
    /// LCP finalized; FCP and FID seen; TTFB measured.
    done: bool,
    /// Waiting for the page's activation (prerendering) or load (TTFB).
    waiting: bool,
    after_frames: AfterFrames,
    shifts: LayoutShifts,
    interactions: Interactions,
    interaction_base: f64,
    /// FID after a restore: the next trusted input's delay.
    awaiting_input: bool,
}

/// Timers carry their meaning in their token: kind (3 bits), subscription (5 bits) and
/// the subscription's generation (the rest), so the engine keeps no list of them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Timer {
    FinalizeLcp = 0,
    Frames = 1,
    ResetHidden = 2,
    Ttfb = 3,
    ClsStart = 4,
    Errors = 5,
}

impl Timer {
    fn token(self, index: u32, generation: u32) -> u32 {
        (self as u32) | (index << 3) | (generation << 8)
    }

    fn of(token: u32) -> (Option<Self>, u32, u32) {
        let kind = [
            Self::FinalizeLcp,
            Self::Frames,
            Self::ResetHidden,
            Self::Ttfb,
            Self::ClsStart,
            Self::Errors,
        ]
        .get((token & 7) as usize)
        .copied();
        (kind, (token >> 3) & 31, token >> 8)
    }
}

struct Rum {
    /// The browser reports soft navigations and `startRum` asked for them: they, not
    /// `routeChanged()`, start the metrics of a route.
    soft_navs: bool,
    routes: RouteMap,
    collector: Collector,
    error_beacons: u32,
    errors_scheduled: bool,
}

impl Rum {
    const EMPTY: Self = Self {
        soft_navs: false,
        routes: RouteMap::new(),
        collector: Collector::EMPTY,
        error_beacons: 0,
        errors_scheduled: false,
    };
}

/// Options of a subscription (web-vitals' `ReportOpts`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// `reportAllChanges`: report every change of the value, not only the final one.
    pub report_all_changes: bool,
    /// `reportSoftNavs`: where the browser reports soft navigations, each starts new
    /// metrics (`navigationType` `soft-navigation`).
    pub soft_navs: bool,
}

/// What `startRum` is given (text is UTF-8 bytes: `b"shop-web"`). The endpoints are the
/// driver's: it sends what the engine hands it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RumConfig<'a> {
    /// `service` of every beacon.
    pub service: &'a [u8],
    /// Deployed version (empty: none).
    pub version: &'a [u8],
    /// Deployment environment (empty: none).
    pub env: &'a [u8],
    /// Share of page views measured, 0–1.
    pub sample_rate: f64,
    /// web-vitals' `reportSoftNavs` for every metric.
    pub soft_navs: bool,
}

/// Every subscription and the page-wide state, in fixed arrays (the browser build has no
/// allocator).
pub struct Engine {
    subscriptions: [Option<Subscription>; MAX_SUBSCRIPTIONS],
    /// When the page was first hidden; `None` until the first subscription.
    first_hidden: Option<f64>,
    /// `event.timeStamp` of the last restore.
    restore_time: Option<f64>,
    /// An observer of `soft-navigation` entries alone was created: the browser reports
    /// soft navigations.
    soft_navs_supported: bool,
    rum: Option<Rum>,
    reports: [(u32, Report); MAX_PENDING_REPORTS],
    reports_len: usize,
    reports_taken: usize,
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

fn flag(host: &mut impl Host, query: Query) -> bool {
    host.query(query) > 0.0
}

/// web-vitals' `initHiddenTime`.
fn initial_hidden_time(host: &mut impl Host) -> f64 {
    if flag(host, Query::Hidden) && !flag(host, Query::Prerendering) {
        0.0
    } else {
        f64::INFINITY
    }
}

impl Engine {
    /// An engine without subscriptions.
    pub const fn new() -> Self {
        Self {
            subscriptions: [None; MAX_SUBSCRIPTIONS],
            first_hidden: None,
            restore_time: None,
            soft_navs_supported: false,
            rum: None,
            reports: [(0, Report::EMPTY); MAX_PENDING_REPORTS],
            reports_len: 0,
            reports_taken: 0,
        }
    }

    /// The next report for a callback: (subscription, report), in order. Callbacks run
    /// outside the engine, so the caller takes them one by one after each call.
    pub fn next_report(&mut self) -> Option<(u32, Report)> {
        let next = self.reports.get(self.reports_taken).copied();
        if self.reports_taken < self.reports_len {
            self.reports_taken += 1;
            return next;
        }
        self.reports_len = 0;
        self.reports_taken = 0;
        None
    }

    fn first_hidden(&mut self, host: &mut impl Host) -> f64 {
        if let Some(time) = self.first_hidden {
            return time;
        }
        let entry = if flag(host, Query::Prerendering) {
            -1.0
        } else {
            host.query(Query::FirstHiddenEntry)
        };
        let time = if entry >= 0.0 {
            entry
        } else {
            initial_hidden_time(host)
        };
        self.first_hidden = Some(time);
        time
    }

    fn later(&mut self, host: &mut impl Host, wait: Wait, timer: Timer, index: u32) {
        let generation = self.sub(index).map_or(0, |s| s.generation);
        host.later(timer.token(index, generation), wait);
    }

    fn new_metric(
        &self,
        host: &mut impl Host,
        vital: Vital,
        navigation_type: Option<NavigationType>,
    ) -> Metric {
        let navigation_type = navigation_type.unwrap_or_else(|| {
            if self.restore_time.is_some() {
                NavigationType::BackForwardCache
            } else if host.query(Query::ResponseStart) < 0.0 {
                NavigationType::Navigate
            } else if flag(host, Query::Prerendering) || host.query(Query::ActivationStart) > 0.0 {
                NavigationType::Prerender
            } else if flag(host, Query::Discarded) {
                NavigationType::Restore
            } else {
                NavigationType::from_code(host.query(Query::NavigationType) as u32)
            }
        });
        Metric {
            id: MetricId::new(host.query(Query::Epoch), host.query(Query::Random)),
            value: if vital == Vital::Cls { 0.0 } else { -1.0 },
            reported: None,
            navigation_type,
            entries: Entries::NONE,
        }
    }

    /// Starts a new metric for subscription `index` (its pending timers lapse).
    fn set_metric(&mut self, index: u32, metric: Metric) {
        if let Some(sub) = self.sub(index) {
            sub.metric = Some(metric);
            sub.generation = sub.generation.wrapping_add(1);
        }
    }

    /// Subscribes to `vital`; returns the subscription's index, or `None` when
    /// [`MAX_SUBSCRIPTIONS`] are taken.
    pub fn subscribe(
        &mut self,
        host: &mut impl Host,
        vital: Vital,
        options: Options,
        rum: bool,
    ) -> Option<u32> {
        self.first_hidden(host);
        let index = self.subscriptions.iter().position(Option::is_none)?;
        *self.subscriptions.get_mut(index)? = Some(Subscription {
            vital,
            report_all_changes: options.report_all_changes,
            soft_navs: options.soft_navs,
            navigation_interaction: 0.0,
            rum,
            metric: None,
            generation: 0,
            supported: false,
            done: false,
            waiting: true,
            after_frames: AfterFrames::Nothing,
            shifts: LayoutShifts::new(),
            interactions: Interactions::new(),
            interaction_base: 0.0,
            awaiting_input: false,
        });
        let index = index as u32;
        if vital == Vital::Ttfb {
            let metric = self.new_metric(host, vital, None);
            self.set_metric(index, metric);
            if let Some(sub) = self.sub(index) {
                sub.supported = true;
            }
            self.ttfb_when_ready(host, index);
        } else if !flag(host, Query::Prerendering) {
            self.start(host, index);
        }
        Some(index)
    }

    /// Stops subscription `index` (its observers are disconnected).
    pub fn unsubscribe(&mut self, host: &mut impl Host, index: u32) {
        if let Some(slot) = self.subscriptions.get_mut(index as usize)
            && slot.take().is_some()
        {
            host.unobserve(index, None);
        }
    }

    /// Stops everything, `startRum`'s collection included.
    pub fn disconnect_all(&mut self, host: &mut impl Host) {
        for index in 0..MAX_SUBSCRIPTIONS as u32 {
            self.unsubscribe(host, index);
        }
        self.rum = None;
    }

    fn sub(&mut self, index: u32) -> Option<&mut Subscription> {
        self.subscriptions.get_mut(index as usize)?.as_mut()
    }

    /// web-vitals' `whenActivated` body of each metric.
    fn start(&mut self, host: &mut impl Host, index: u32) {
        let Some(vital) = self.sub(index).map(|s| s.vital) else {
            return;
        };
        if vital != Vital::Cls {
            let metric = self.new_metric(host, vital, None);
            self.set_metric(index, metric);
        }
        // web-vitals' types per metric; soft navigations only with `reportSoftNavs`.
        let soft = if self.sub(index).is_some_and(|s| s.soft_navs) {
            EntryKind::SoftNavigation.bit()
        } else {
            0
        };
        let supported = match vital {
            Vital::Lcp => {
                let icp = if soft > 0 {
                    EntryKind::InteractionContentfulPaint.bit()
                } else {
                    0
                };
                host.observe(index, EntryKind::Lcp.bit() | icp | soft, 0.0, false)
            }
            // CLS waits for the first contentful paint (web-vitals' `onFCP(runOnce(…))`).
            Vital::Fcp | Vital::Cls => host.observe(index, EntryKind::Paint.bit(), 0.0, false),
            Vital::Inp => {
                let kinds = EntryKind::Event.bit() | EntryKind::FirstInput.bit() | soft;
                host.observe(index, kinds, INP_DURATION_THRESHOLD, true)
            }
            Vital::Fid => host.observe(index, EntryKind::FirstInput.bit(), 0.0, false),
            Vital::Ttfb => true,
        };
        // FCP: soft navigations from the start, beside its paint observer.
        if soft > 0 && supported && vital == Vital::Fcp {
            self.soft_navs_supported |= host.observe(index, soft, 0.0, false);
        }
        if let Some(sub) = self.sub(index) {
            sub.supported = supported;
            sub.waiting = false;
        }
    }

    /// web-vitals' `whenReady` of TTFB: after activation and the document's load.
    fn ttfb_when_ready(&mut self, host: &mut impl Host, index: u32) {
        let ready = !flag(host, Query::Prerendering) && flag(host, Query::LoadComplete);
        if let Some(sub) = self.sub(index) {
            sub.waiting = !ready;
        }
        if ready {
            self.later(host, Wait::Task, Timer::Ttfb, index);
        }
    }

    /// bindReporter: reports when forced or when every change is wanted, and only when
    /// the value moved (or was never reported).
    fn report(&mut self, index: u32, force: bool) {
        let Some(sub) = self
            .subscriptions
            .get_mut(index as usize)
            .and_then(Option::as_mut)
        else {
            return;
        };
        let Some(metric) = &mut sub.metric else {
            return;
        };
        if metric.value < 0.0 || !(force || sub.report_all_changes) {
            return;
        }
        let delta = metric.value - metric.reported.unwrap_or(0.0);
        if delta == 0.0 && metric.reported.is_some() {
            return;
        }
        metric.reported = Some(metric.value);
        let report = Report {
            vital: sub.vital,
            value: metric.value,
            delta,
            id: metric.id,
            rating: sub.vital.rate(metric.value),
            navigation_type: metric.navigation_type,
            entries: metric.entries,
        };
        if !sub.rum {
            if let Some(slot) = self.reports.get_mut(self.reports_len) {
                *slot = (index, report);
                self.reports_len += 1;
            }
            return;
        }
        if let Some(rum) = &mut self.rum {
            rum.collector.record_vital(report);
        }
    }

    /// Sets the metric's value and the entries that made it ([`Report::entries`]).
    fn set_value(&mut self, index: u32, value: f64, entries: Entries) {
        if let Some(metric) = self.sub(index).and_then(|s| s.metric.as_mut()) {
            metric.value = value;
            metric.entries = entries;
        }
    }

    /// One performance entry of subscription `index`'s observers; `last` ends the batch
    /// the observer delivered.
    pub fn entry(
        &mut self,
        host: &mut impl Host,
        index: u32,
        kind: EntryKind,
        entry: Entry,
        last: bool,
    ) {
        let first_hidden = self.first_hidden(host);
        let Some(sub) = self.sub(index) else {
            return;
        };
        if sub.waiting || !sub.supported {
            return;
        }
        let (vital, all) = (sub.vital, sub.report_all_changes);
        match (vital, kind) {
            (Vital::Lcp, EntryKind::Lcp) if !sub.done && (last || all || sub.soft_navs) => {
                let activation = host.query(Query::ActivationStart);
                if let Some(value) = timing::paint(entry.start, activation, first_hidden) {
                    self.set_value(index, value, Entries::one(entry.seq));
                    self.report(index, false);
                }
            }
            (_, EntryKind::SoftNavigation) => {
                self.on_soft_navigation(host, index, entry);
                // The batch's end reports the new metric as web-vitals' does.
                match vital {
                    Vital::Cls if last => self.update_cls(index, false),
                    Vital::Inp if last => self.update_inp(host, index),
                    _ => {}
                }
            }
            // `amount` is the largest paint's render time.
            (Vital::Lcp, EntryKind::InteractionContentfulPaint)
                if sub.navigation_interaction > 0.0
                    && entry.id == sub.navigation_interaction
                    && entry.amount < first_hidden =>
            {
                self.set_value(
                    index,
                    (entry.amount - entry.start).max(0.0),
                    Entries::one(entry.seq),
                );
                self.report(index, false);
            }
            (Vital::Fcp, EntryKind::Paint) if !sub.done => {
                sub.done = true;
                host.unobserve(index, Some(EntryKind::Paint));
                let activation = host.query(Query::ActivationStart);
                if let Some(value) = timing::paint(entry.start, activation, first_hidden) {
                    self.set_value(index, value, Entries::one(entry.seq));
                    self.report(index, true);
                }
            }
            (Vital::Cls, EntryKind::Paint) if !sub.done => {
                sub.done = true;
                let soft_navs = sub.soft_navs;
                host.unobserve(index, None);
                if entry.start < first_hidden {
                    let metric = self.new_metric(host, Vital::Cls, None);
                    self.set_metric(index, metric);
                    let soft = if soft_navs {
                        EntryKind::SoftNavigation.bit()
                    } else {
                        0
                    };
                    let kinds = EntryKind::LayoutShift.bit() | soft;
                    let supported = host.observe(index, kinds, 0.0, false);
                    if let Some(sub) = self.sub(index) {
                        sub.supported = supported;
                    }
                    if supported {
                        self.later(host, Wait::Task, Timer::ClsStart, index);
                    }
                }
            }
            (Vital::Cls, EntryKind::LayoutShift) if sub.metric.is_some() => {
                sub.shifts
                    .add(entry.amount, entry.start, entry.id > 0.0, entry.seq);
                if last {
                    self.update_cls(index, false);
                }
            }
            (Vital::Inp, EntryKind::Event | EntryKind::FirstInput) => {
                sub.interactions.add(entry.id.max(0.0) as u64, entry.amount);
                if last {
                    self.update_inp(host, index);
                }
            }
            (Vital::Fid, EntryKind::FirstInput) if !sub.done => {
                sub.done = true;
                host.unobserve(index, None);
                if entry.start < first_hidden {
                    let delay = (entry.processing_start - entry.start).max(0.0);
                    self.set_value(index, delay, Entries::one(entry.seq));
                    self.report(index, true);
                }
            }
            _ => {}
        }
    }

    fn update_cls(&mut self, index: u32, force: bool) {
        if let Some(sub) = self.sub(index)
            && let Some(metric) = &mut sub.metric
            && sub.shifts.value() > metric.value
        {
            metric.value = sub.shifts.value();
            metric.entries = sub.shifts.entries();
        }
        self.report(index, force);
    }

    /// web-vitals' `_estimateP98LongestInteraction` and `updateINPMetric`.
    fn update_inp(&mut self, host: &mut impl Host, index: u32) {
        let count = host.query(Query::InteractionCount);
        let Some(sub) = self.sub(index) else {
            return;
        };
        let Some(metric) = &sub.metric else {
            return;
        };
        let count = (count - sub.interaction_base).max(0.0);
        let estimate = sub
            .interactions
            .value(count as u64)
            .map(|(id, latency)| (latency, Entries::new(id as f64, 0.0)))
            .or_else(|| {
                let later_navigation = matches!(
                    metric.navigation_type,
                    NavigationType::BackForwardCache | NavigationType::SoftNavigation
                );
                (count > 0.0 && later_navigation).then_some((8.0, Entries::NONE))
            });
        if let Some((value, entries)) = estimate
            && value != metric.value
        {
            self.set_value(index, value, entries);
            self.report(index, false);
        }
    }

    /// A page event.
    pub fn page_event(&mut self, host: &mut impl Host, event: PageEvent, time_stamp: f64) {
        match event {
            PageEvent::Hidden => {
                if !self.first_hidden(host).is_finite() {
                    self.first_hidden = Some(time_stamp);
                }
                self.finalize(host, true);
                self.flush(host, true);
            }
            PageEvent::PageHide => self.flush(host, true),
            PageEvent::Visible | PageEvent::KeyDown | PageEvent::Click => {
                self.on_finalizing_input(host);
                if event == PageEvent::KeyDown {
                    self.on_first_input(host, time_stamp);
                }
            }
            PageEvent::PointerDown => self.on_first_input(host, time_stamp),
            PageEvent::Restore => self.on_restore(host, time_stamp),
            PageEvent::Activate => {
                if flag(host, Query::Hidden) && !self.first_hidden(host).is_finite() {
                    self.first_hidden = Some(0.0);
                }
                for index in 0..MAX_SUBSCRIPTIONS as u32 {
                    match self.sub(index) {
                        Some(sub) if sub.waiting && sub.vital == Vital::Ttfb => {
                            self.ttfb_when_ready(host, index);
                        }
                        Some(sub) if sub.waiting => self.start(host, index),
                        _ => {}
                    }
                }
            }
            PageEvent::Load => {
                for index in 0..MAX_SUBSCRIPTIONS as u32 {
                    if matches!(self.sub(index), Some(s) if s.waiting && s.vital == Vital::Ttfb) {
                        self.ttfb_when_ready(host, index);
                    }
                }
            }
        }
    }

    /// LCP's end after a trusted `keydown`, `click` or `visibilitychange`: when idle.
    fn on_finalizing_input(&mut self, host: &mut impl Host) {
        for index in 0..MAX_SUBSCRIPTIONS as u32 {
            if matches!(
                self.sub(index),
                Some(sub) if sub.vital == Vital::Lcp && sub.supported && !sub.done && sub.metric.is_some()
            ) {
                self.later(host, Wait::IdleOrHidden, Timer::FinalizeLcp, index);
            }
        }
    }

    /// FID after a restore: no `first-input` entry comes, the delay is measured from the
    /// event (web-vitals 4's polyfill).
    fn on_first_input(&mut self, host: &mut impl Host, time_stamp: f64) {
        let now = host.query(Query::Now);
        for index in 0..MAX_SUBSCRIPTIONS as u32 {
            if let Some(sub) = self.sub(index)
                && sub.awaiting_input
            {
                sub.awaiting_input = false;
                self.set_value(index, (now - time_stamp).max(0.0), Entries::NONE);
                self.report(index, true);
            }
        }
    }

    fn finalize_lcp(&mut self, host: &mut impl Host, index: u32) {
        if let Some(sub) = self.sub(index)
            && sub.vital == Vital::Lcp
            && !sub.done
            && sub.supported
        {
            sub.done = true;
            // Soft navigations still need the observer.
            if !sub.soft_navs {
                host.unobserve(index, None);
            }
            self.report(index, true);
        }
    }

    /// web-vitals' `handleSoftNavEntry` of each metric: the current metric is final, a new
    /// one (`soft-navigation`) starts.
    fn on_soft_navigation(&mut self, host: &mut impl Host, index: u32, entry: Entry) {
        let Some(sub) = self.sub(index) else {
            return;
        };
        let vital = sub.vital;
        match vital {
            Vital::Lcp if !sub.done => self.report(index, true),
            Vital::Cls => self.update_cls(index, true),
            Vital::Inp => {
                self.update_inp(host, index);
                self.report(index, true);
            }
            // TTFB: only soft navigations with an id.
            Vital::Ttfb if entry.processing_start <= 0.0 => return,
            _ => {}
        }
        let mut metric = self.new_metric(host, vital, Some(NavigationType::SoftNavigation));
        let count = host.query(Query::InteractionCount);
        if vital == Vital::Lcp {
            // web-vitals' `getVisibilityWatcher(true)`: the new page starts visible.
            self.first_hidden = Some(f64::INFINITY);
        }
        match vital {
            // `amount`: the soft navigation's first paint.
            Vital::Fcp => metric.value = (entry.amount - entry.start).max(0.0),
            Vital::Ttfb => metric.value = 0.0,
            _ => {}
        }
        self.set_metric(index, metric);
        let Some(sub) = self.sub(index) else {
            return;
        };
        sub.navigation_interaction = entry.id;
        // A new LCP to finalize (FCP and TTFB stay `done`: their document's observers are
        // gone, and a later restore starts TTFB again only once it was measured).
        sub.done &= vital != Vital::Lcp;
        sub.shifts = LayoutShifts::new();
        sub.interactions = Interactions::new();
        sub.interaction_base = count;
        if matches!(vital, Vital::Fcp | Vital::Ttfb) {
            self.report(index, true);
        }
    }

    /// The page was hidden (`hidden`) or a route ends: every value that can be final is
    /// reported (the driver has fed the observers' pending records first).
    fn finalize(&mut self, host: &mut impl Host, hidden: bool) {
        for index in 0..MAX_SUBSCRIPTIONS as u32 {
            let Some(sub) = self.sub(index) else {
                continue;
            };
            if sub.waiting || !sub.supported {
                continue;
            }
            match sub.vital {
                Vital::Lcp => self.finalize_lcp(host, index),
                Vital::Cls => self.update_cls(index, true),
                Vital::Inp => {
                    self.update_inp(host, index);
                    self.report(index, true);
                }
                Vital::Fid if hidden && !sub.done => {
                    sub.done = true;
                    host.unobserve(index, None);
                }
                _ => {}
            }
        }
    }

    fn on_restore(&mut self, host: &mut impl Host, time_stamp: f64) {
        self.restore_time = Some(time_stamp);
        host.later(Timer::ResetHidden.token(0, 0), Wait::Task);
        let count = host.query(Query::InteractionCount);
        let mut frames = false;
        for index in 0..MAX_SUBSCRIPTIONS as u32 {
            let Some(sub) = self.sub(index) else {
                continue;
            };
            let vital = sub.vital;
            // web-vitals registers its restore handler only once the metric's observer
            // exists (TTFB: once it was measured; CLS: once it started).
            let restarts =
                sub.supported && sub.metric.is_some() && (vital != Vital::Ttfb || sub.done);
            if !restarts {
                continue;
            }
            let mut metric = self.new_metric(host, vital, Some(NavigationType::BackForwardCache));
            if vital == Vital::Ttfb {
                metric.value = 0.0;
            }
            self.set_metric(index, metric);
            let Some(sub) = self.sub(index) else {
                continue;
            };
            sub.after_frames = AfterFrames::Nothing;
            match vital {
                Vital::Lcp => {
                    sub.done = false;
                    sub.after_frames = AfterFrames::Measure;
                }
                Vital::Fcp => sub.after_frames = AfterFrames::Measure,
                Vital::Cls => {
                    sub.shifts = LayoutShifts::new();
                    sub.after_frames = AfterFrames::Report;
                }
                Vital::Inp => {
                    sub.interactions = Interactions::new();
                    sub.interaction_base = count;
                }
                Vital::Fid => sub.awaiting_input = true,
                Vital::Ttfb => self.report(index, true),
            }
            frames |= matches!(self.sub(index), Some(s) if s.after_frames != AfterFrames::Nothing);
        }
        if frames {
            host.later(Timer::Frames.token(0, 0), Wait::TwoFrames);
        }
    }

    /// A timer of [`Host::later`] fired.
    pub fn timer(&mut self, host: &mut impl Host, token: u32) {
        let (timer, index, generation) = Timer::of(token);
        let current = self.sub(index).is_some_and(|s| s.generation == generation);
        match timer {
            Some(Timer::FinalizeLcp) if current => self.finalize_lcp(host, index),
            Some(Timer::Frames) => {
                let value = (host.query(Query::Now) - self.restore_time.unwrap_or(0.0)).max(0.0);
                for index in 0..MAX_SUBSCRIPTIONS as u32 {
                    let Some(sub) = self.sub(index) else {
                        continue;
                    };
                    let after = core::mem::replace(&mut sub.after_frames, AfterFrames::Nothing);
                    let force = after == AfterFrames::Measure;
                    if force {
                        sub.done |= sub.vital == Vital::Lcp;
                        self.set_value(index, value, Entries::NONE);
                    }
                    if after != AfterFrames::Nothing {
                        self.report(index, force);
                    }
                }
            }
            Some(Timer::ResetHidden) => self.first_hidden = Some(initial_hidden_time(host)),
            Some(Timer::Ttfb) if current => {
                let response_start = host.query(Query::ResponseStart);
                let activation = host.query(Query::ActivationStart);
                let value = timing::ttfb(response_start, activation, host.query(Query::Now));
                if let Some(sub) = self.sub(index)
                    && !sub.done
                    && let Some(value) = value
                {
                    sub.done = true;
                    let soft_navs = sub.soft_navs;
                    self.set_value(index, value, Entries::NONE);
                    self.report(index, true);
                    if soft_navs {
                        let kinds = EntryKind::SoftNavigation.bit();
                        self.soft_navs_supported |= host.observe(index, kinds, 0.0, false);
                    }
                }
            }
            Some(Timer::ClsStart) if current => self.report(index, false),
            Some(Timer::Errors) => self.send_errors(host),
            _ => {}
        }
    }

    /// `startRum`: collects every metric (final values only) and the page's errors for
    /// beacons; `path` is `location.pathname`, `traceparent` the document's, `routes` the
    /// route templates. `false` when sampled out, already started, or a field is longer
    /// than the server accepts.
    pub fn start_rum<'a>(
        &mut self,
        host: &mut impl Host,
        config: RumConfig<'_>,
        routes: impl Iterator<Item = &'a [u8]>,
        path: &[u8],
        traceparent: &[u8],
    ) -> bool {
        if self.rum.is_some() || !sampled(config.sample_rate, host.query(Query::Random)) {
            return false;
        }
        // The server refuses longer fields: the whole page view's beacons would be lost.
        let too_long = [config.service, config.version, config.env]
            .iter()
            .any(|field| field.len() > MAX_FIELD_LEN);
        if config.service.is_empty() || too_long {
            return false;
        }
        let rum = self.rum.insert(Rum::EMPTY);
        rum.soft_navs = config.soft_navs;
        for template in routes {
            rum.routes.add(template);
        }
        let route = rum.routes.route_of(path);
        rum.collector.set_route(route);
        rum.collector
            .set_trace_id(trace_id_of_traceparent(traceparent));
        let options = Options {
            report_all_changes: false,
            soft_navs: config.soft_navs,
        };
        for vital in Vital::ALL {
            self.subscribe(host, vital, options, true);
        }
        true
    }

    /// An uncaught error or unhandled rejection of the page.
    pub fn error(&mut self, host: &mut impl Host, kind: ErrorKind, message: &[u8]) {
        let Some(rum) = &mut self.rum else {
            return;
        };
        rum.collector.record_error(kind, message);
        let send = rum.collector.error_count() >= MAX_ERRORS
            && rum.error_beacons < MAX_ERROR_BEACONS
            && !rum.errors_scheduled;
        if send {
            // From a timer, never from the handler that filled the batch.
            rum.errors_scheduled = true;
            host.later(Timer::Errors.token(0, 0), Wait::Task);
        }
    }

    fn send_errors(&mut self, host: &mut impl Host) {
        let Some(rum) = &mut self.rum else {
            return;
        };
        rum.errors_scheduled = false;
        rum.error_beacons += 1;
        Self::send_beacon(rum, host, true, false);
    }

    fn send_beacon(rum: &mut Rum, host: &mut impl Host, errors_only: bool, unloading: bool) {
        let collector = &mut rum.collector;
        if let Some(dropped) = collector.take_beacon(errors_only, |item| host.item(item)) {
            let (route, trace_id) = (collector.route(), collector.trace_id());
            host.send(unloading, dropped, route, trace_id);
        }
    }

    /// Sends what `startRum` collected.
    fn flush(&mut self, host: &mut impl Host, unloading: bool) {
        if let Some(rum) = &mut self.rum {
            Self::send_beacon(rum, host, false, unloading);
        }
    }

    /// A single-page app moved to `path`: the current values are finalized and sent under
    /// the old route; CLS and INP start again (new ids, `soft-navigation`) under the new
    /// route; LCP, FCP, TTFB and FID belong to the document's load and stay final.
    pub fn route_changed(&mut self, host: &mut impl Host, path: &[u8]) {
        // Where the browser reports soft navigations (and `startRum` asked for them), its
        // entries end the old metrics and start the new ones.
        let by_browser = self.soft_navs_supported && self.rum.as_ref().is_some_and(|r| r.soft_navs);
        if !by_browser {
            self.finalize(host, false);
        }
        self.flush(host, false);
        if let Some(rum) = &mut self.rum {
            let route = rum.routes.route_of(path);
            rum.collector.set_route(route);
        }
        if by_browser {
            return;
        }
        let count = host.query(Query::InteractionCount);
        for index in 0..MAX_SUBSCRIPTIONS as u32 {
            let vital = match self.sub(index) {
                Some(sub)
                    if sub.metric.is_some() && matches!(sub.vital, Vital::Cls | Vital::Inp) =>
                {
                    sub.vital
                }
                _ => continue,
            };
            let metric = self.new_metric(host, vital, Some(NavigationType::SoftNavigation));
            self.set_metric(index, metric);
            if let Some(sub) = self.sub(index) {
                sub.shifts = LayoutShifts::new();
                sub.interactions = Interactions::new();
                sub.interaction_base = count;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page as the engine sees it, scripted by each test; what the engine asked of it
    /// is recorded.
    #[derive(Default)]
    struct Scripted {
        now: f64,
        hidden: bool,
        prerendering: bool,
        response_start: f64,
        activation_start: f64,
        load_complete: bool,
        interaction_count: f64,
        unsupported: Vec<EntryKind>,
        observed: Vec<(u32, EntryKind)>,
        timers: Vec<(u32, Wait)>,
        items: Vec<Item<'static>>,
        sent: Vec<(bool, u32, String, String, usize)>,
        randoms: f64,
    }

    impl Host for Scripted {
        fn query(&mut self, query: Query) -> f64 {
            match query {
                Query::Now => self.now,
                Query::Epoch => 1_700_000_000_000.0 + self.now,
                Query::Random => {
                    self.randoms += 0.01;
                    self.randoms
                }
                Query::ResponseStart => self.response_start,
                Query::ActivationStart => self.activation_start,
                Query::NavigationType => 0.0,
                Query::Hidden => f64::from(u8::from(self.hidden)),
                Query::Prerendering => f64::from(u8::from(self.prerendering)),
                Query::Discarded => 0.0,
                Query::LoadComplete => f64::from(u8::from(self.load_complete)),
                Query::InteractionCount => self.interaction_count,
                Query::FirstHiddenEntry => -1.0,
            }
        }
        fn observe(&mut self, sub: u32, kinds: u32, _: f64, _: bool) -> bool {
            let mut any = false;
            for code in 0..7 {
                let kind = EntryKind::from_code(code).unwrap();
                if kinds & kind.bit() != 0 && !self.unsupported.contains(&kind) {
                    self.observed.push((sub, kind));
                    any = true;
                }
            }
            any
        }
        fn unobserve(&mut self, sub: u32, kind: Option<EntryKind>) {
            self.observed
                .retain(|(s, k)| *s != sub || kind.is_some_and(|kind| kind != *k));
        }
        fn later(&mut self, token: u32, wait: Wait) {
            self.timers.push((token, wait));
        }
        fn item(&mut self, item: Item<'_>) {
            self.items.push(match item {
                Item::Vital(report) => Item::Vital(report),
                Item::Error(kind, message) => {
                    Item::Error(kind, Box::leak(message.to_vec().into_boxed_slice()))
                }
            });
        }
        fn send(&mut self, unloading: bool, dropped: u32, route: &[u8], trace: &[u8]) {
            let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
            self.sent.push((
                unloading,
                dropped,
                text(route),
                text(trace),
                self.items.len(),
            ));
        }
    }

    struct Page {
        engine: Box<Engine>,
        host: Scripted,
    }

    impl Page {
        fn loaded() -> Self {
            Self {
                engine: Box::new(Engine::new()),
                host: Scripted {
                    now: 100.0,
                    response_start: 20.0,
                    load_complete: true,
                    ..Scripted::default()
                },
            }
        }

        fn subscribe(&mut self, vital: Vital, all: bool) -> u32 {
            self.engine
                .subscribe(
                    &mut self.host,
                    vital,
                    Options {
                        report_all_changes: all,
                        soft_navs: false,
                    },
                    false,
                )
                .expect("room for a subscription")
        }

        fn entry(&mut self, sub: u32, kind: EntryKind, entry: Entry) {
            self.engine.entry(&mut self.host, sub, kind, entry, true);
        }

        fn event(&mut self, event: PageEvent, at: f64) {
            self.host.now = at;
            self.engine.page_event(&mut self.host, event, at);
        }

        /// Fires the timers set so far that wait for `wait`.
        fn fire(&mut self, wait: Wait, at: f64) {
            self.host.now = at;
            let (due, rest) = std::mem::take(&mut self.host.timers)
                .into_iter()
                .partition::<Vec<_>, _>(|(_, w)| *w == wait);
            self.host.timers = rest;
            for (token, _) in due {
                self.engine.timer(&mut self.host, token);
            }
        }

        fn reports(&mut self) -> Vec<(u32, Report)> {
            std::iter::from_fn(|| self.engine.next_report()).collect()
        }
    }

    fn at(start: f64) -> Entry {
        Entry {
            start,
            ..Entry::default()
        }
    }

    fn values(reports: &[(u32, Report)], vital: Vital) -> Vec<(f64, NavigationType)> {
        reports
            .iter()
            .filter(|(_, r)| r.vital == vital)
            .map(|(_, r)| (r.value, r.navigation_type))
            .collect()
    }

    #[test]
    fn a_page_load_reports_each_metric_by_web_vitals_rules() {
        let mut page = Page::loaded();
        let lcp = page.subscribe(Vital::Lcp, true);
        let fcp = page.subscribe(Vital::Fcp, false);
        let cls = page.subscribe(Vital::Cls, true);
        let inp = page.subscribe(Vital::Inp, true);
        page.subscribe(Vital::Ttfb, false);
        page.fire(Wait::Task, 150.0);
        page.entry(fcp, EntryKind::Paint, at(180.0));
        page.entry(cls, EntryKind::Paint, at(180.0));
        page.entry(lcp, EntryKind::Lcp, at(180.0));
        page.entry(lcp, EntryKind::Lcp, at(1500.0));
        page.fire(Wait::Task, 200.0);
        for (value, start) in [(0.1, 300.0), (0.05, 900.0), (0.2, 2500.0)] {
            let shift = Entry {
                start,
                amount: value,
                ..Entry::default()
            };
            page.entry(cls, EntryKind::LayoutShift, shift);
        }
        page.host.interaction_count = 1.0;
        let click = Entry {
            start: 3000.0,
            amount: 312.0,
            id: 7.0,
            ..Entry::default()
        };
        page.entry(inp, EntryKind::Event, click);
        let reports = page.reports();
        assert_eq!(
            values(&reports, Vital::Ttfb),
            [(20.0, NavigationType::Navigate)]
        );
        assert_eq!(
            values(&reports, Vital::Fcp),
            [(180.0, NavigationType::Navigate)]
        );
        assert_eq!(
            values(&reports, Vital::Lcp),
            [
                (180.0, NavigationType::Navigate),
                (1500.0, NavigationType::Navigate)
            ]
        );
        let cls_values: Vec<f64> = values(&reports, Vital::Cls).iter().map(|v| v.0).collect();
        assert_eq!(
            cls_values.len(),
            4,
            "0 at start, then each larger window: {cls_values:?}"
        );
        assert!((cls_values[3] - 0.2).abs() < 1e-12 && cls_values[0] == 0.0);
        assert_eq!(
            values(&reports, Vital::Inp),
            [(312.0, NavigationType::Navigate)]
        );

        // A trusted click ends LCP when the page is idle: one final report, observer gone.
        page.event(PageEvent::Click, 3100.0);
        assert!(page.reports().is_empty());
        page.fire(Wait::IdleOrHidden, 3200.0);
        let reports = page.reports();
        assert_eq!(reports.len(), 0, "reportAllChanges already reported 1500");
        assert!(!page.host.observed.iter().any(|(s, _)| *s == lcp));
        page.entry(lcp, EntryKind::Lcp, at(3300.0));
        assert!(page.reports().is_empty(), "no LCP after its end");

        // Hidden: CLS and INP are final (forced, same values: nothing new to report).
        page.event(PageEvent::Hidden, 4000.0);
        assert!(page.reports().is_empty());
    }

    /// Each report names the entries that made its value (the driver's sequence numbers;
    /// INP: the interaction id), which the attribution build turns into `entries` and
    /// `attribution`.
    #[test]
    #[cfg(feature = "attribution")]
    fn reports_name_the_entries_that_made_their_values() {
        let mut page = Page::loaded();
        let lcp = page.subscribe(Vital::Lcp, true);
        let fcp = page.subscribe(Vital::Fcp, false);
        let cls = page.subscribe(Vital::Cls, true);
        let inp = page.subscribe(Vital::Inp, true);
        let fid = page.subscribe(Vital::Fid, false);
        page.fire(Wait::Task, 150.0);
        let numbered = |seq: f64, start: f64| Entry {
            start,
            seq,
            ..Entry::default()
        };
        page.entry(fcp, EntryKind::Paint, numbered(1.0, 180.0));
        page.entry(cls, EntryKind::Paint, numbered(2.0, 180.0));
        page.entry(lcp, EntryKind::Lcp, numbered(3.0, 180.0));
        page.entry(lcp, EntryKind::Lcp, numbered(4.0, 900.0));
        page.fire(Wait::Task, 200.0);
        // Windows: {5, 6} (0.15), then {8} (0.2) and {8, 9} (0.3); 7 came after input.
        for (seq, value, start, input) in [
            (5.0, 0.1, 300.0, 0.0),
            (6.0, 0.05, 900.0, 0.0),
            (7.0, 0.9, 2900.0, 1.0),
            (8.0, 0.2, 3000.0, 0.0),
            (9.0, 0.1, 3500.0, 0.0),
        ] {
            let shift = Entry {
                amount: value,
                id: input,
                ..numbered(seq, start)
            };
            page.entry(cls, EntryKind::LayoutShift, shift);
        }
        page.host.interaction_count = 2.0;
        for (id, duration) in [(31.0, 96.0), (32.0, 312.0)] {
            let click = Entry {
                amount: duration,
                id,
                processing_start: 4010.0,
                ..numbered(10.0 + id, 4000.0)
            };
            page.entry(inp, EntryKind::Event, click);
        }
        let first_input = Entry {
            processing_start: 4012.0,
            ..numbered(50.0, 4000.0)
        };
        page.entry(fid, EntryKind::FirstInput, first_input);
        let entries = |reports: &[(u32, Report)], vital: Vital| -> Vec<[f64; 2]> {
            reports
                .iter()
                .filter(|(_, r)| r.vital == vital)
                .map(|(_, r)| [r.entries.first(), r.entries.last()])
                .collect()
        };
        let reports = page.reports();
        assert_eq!(entries(&reports, Vital::Fcp), [[1.0; 2]]);
        assert_eq!(entries(&reports, Vital::Lcp), [[3.0; 2], [4.0; 2]]);
        assert_eq!(
            entries(&reports, Vital::Cls),
            [[0.0; 2], [5.0, 5.0], [5.0, 6.0], [8.0, 8.0], [8.0, 9.0]]
        );
        assert_eq!(entries(&reports, Vital::Inp), [[31.0, 0.0], [32.0, 0.0]]);
        assert_eq!(entries(&reports, Vital::Fid), [[50.0; 2]]);
    }

    #[test]
    fn a_page_hidden_before_its_paints_reports_none() {
        let mut page = Page::loaded();
        page.host.hidden = true;
        let lcp = page.subscribe(Vital::Lcp, true);
        let fcp = page.subscribe(Vital::Fcp, true);
        let cls = page.subscribe(Vital::Cls, true);
        page.entry(lcp, EntryKind::Lcp, at(500.0));
        page.entry(fcp, EntryKind::Paint, at(500.0));
        page.entry(cls, EntryKind::Paint, at(500.0));
        page.fire(Wait::Task, 600.0);
        assert!(
            page.reports().is_empty(),
            "first hidden at 0: no paint counts"
        );
    }

    #[test]
    fn a_back_forward_cache_restore_starts_new_metrics_measured_after_two_frames() {
        let mut page = Page::loaded();
        let lcp = page.subscribe(Vital::Lcp, false);
        let fcp = page.subscribe(Vital::Fcp, false);
        let inp = page.subscribe(Vital::Inp, true);
        let cls = page.subscribe(Vital::Cls, true);
        page.subscribe(Vital::Ttfb, false);
        page.fire(Wait::Task, 150.0);
        page.entry(fcp, EntryKind::Paint, at(180.0));
        page.entry(cls, EntryKind::Paint, at(180.0));
        page.entry(lcp, EntryKind::Lcp, at(900.0));
        page.host.interaction_count = 1.0;
        let click = Entry {
            start: 1000.0,
            amount: 144.0,
            id: 7.0,
            ..Entry::default()
        };
        page.entry(inp, EntryKind::Event, click);
        page.event(PageEvent::Click, 1000.0);
        let before = page.reports();
        page.event(PageEvent::Hidden, 2000.0);
        let hidden = page.reports();
        assert_eq!(
            values(&hidden, Vital::Lcp),
            [(900.0, NavigationType::Navigate)]
        );

        // The LCP end scheduled before the restore must not end the restored LCP.
        page.event(PageEvent::Restore, 10_000.0);
        let restored = page.reports();
        assert_eq!(
            values(&restored, Vital::Ttfb),
            [(0.0, NavigationType::BackForwardCache)]
        );
        page.fire(Wait::IdleOrHidden, 10_001.0);
        assert!(page.reports().is_empty(), "an old timer ends nothing");
        page.fire(Wait::TwoFrames, 10_025.5);
        let frames = page.reports();
        assert_eq!(
            values(&frames, Vital::Lcp),
            [(25.5, NavigationType::BackForwardCache)]
        );
        assert_eq!(
            values(&frames, Vital::Fcp),
            [(25.5, NavigationType::BackForwardCache)]
        );
        assert_eq!(
            values(&frames, Vital::Cls),
            [(0.0, NavigationType::BackForwardCache)]
        );
        let old_ids: Vec<MetricId> = before.iter().chain(&hidden).map(|(_, r)| r.id).collect();
        assert!(
            frames.iter().all(|(_, r)| !old_ids.contains(&r.id)),
            "new ids"
        );

        // An interaction on the restored page: INP of the restore only.
        page.host.interaction_count = 2.0;
        let click = Entry {
            start: 11_000.0,
            amount: 136.0,
            id: 14.0,
            ..Entry::default()
        };
        page.entry(inp, EntryKind::Event, click);
        assert_eq!(
            values(&page.reports(), Vital::Inp),
            [(136.0, NavigationType::BackForwardCache)]
        );
    }

    #[test]
    fn a_soft_navigation_starts_new_metrics_where_they_are_asked_for() {
        let mut page = Page::loaded();
        let soft = Options {
            report_all_changes: true,
            soft_navs: true,
        };
        let subscribe = |page: &mut Page, vital| {
            page.engine
                .subscribe(&mut page.host, vital, soft, false)
                .unwrap()
        };
        let lcp = subscribe(&mut page, Vital::Lcp);
        let fcp = subscribe(&mut page, Vital::Fcp);
        let ttfb = subscribe(&mut page, Vital::Ttfb);
        let plain = page.subscribe(Vital::Fcp, true);
        page.fire(Wait::Task, 150.0);
        page.entry(lcp, EntryKind::Lcp, at(300.0));
        page.entry(fcp, EntryKind::Paint, at(200.0));
        page.entry(plain, EntryKind::Paint, at(200.0));
        assert!(
            page.host
                .observed
                .contains(&(lcp, EntryKind::InteractionContentfulPaint))
                && page
                    .host
                    .observed
                    .contains(&(fcp, EntryKind::SoftNavigation))
                && page
                    .host
                    .observed
                    .contains(&(ttfb, EntryKind::SoftNavigation)),
            "soft navigations observed once asked for: {:?}",
            page.host.observed
        );
        assert!(
            !page
                .host
                .observed
                .contains(&(plain, EntryKind::SoftNavigation))
        );
        page.reports();

        // The browser reports a soft navigation at 5000 ms (interaction 21), painted at
        // 5040 ms; its largest contentful paint rendered at 5060 ms.
        let navigation = Entry {
            start: 5000.0,
            amount: 5040.0,
            id: 21.0,
            processing_start: 2.0,
            seq: 9.0,
        };
        let paint = Entry {
            start: 5000.0,
            amount: 5060.0,
            id: 21.0,
            ..Entry::default()
        };
        for sub in [lcp, fcp, ttfb] {
            page.entry(sub, EntryKind::SoftNavigation, navigation);
        }
        page.entry(lcp, EntryKind::InteractionContentfulPaint, paint);
        let other_interaction = Entry { id: 22.0, ..paint };
        page.entry(
            lcp,
            EntryKind::InteractionContentfulPaint,
            other_interaction,
        );
        let reports = page.reports();
        let soft = NavigationType::SoftNavigation;
        // The document's LCP (300, reported as it changed) is final; the soft
        // navigation's comes from its interaction's paint only.
        assert_eq!(values(&reports, Vital::Lcp), [(60.0, soft)]);
        assert_eq!(values(&reports, Vital::Fcp), [(40.0, soft)]);
        assert_eq!(values(&reports, Vital::Ttfb), [(0.0, soft)]);
    }

    #[test]
    fn a_prerendered_page_measures_from_its_activation() {
        let mut page = Page::loaded();
        page.host.prerendering = true;
        let fcp = page.subscribe(Vital::Fcp, false);
        let ttfb = page.subscribe(Vital::Ttfb, false);
        assert!(
            page.host.observed.is_empty(),
            "nothing observed while prerendering"
        );
        page.fire(Wait::Task, 200.0);
        assert!(page.reports().is_empty());
        page.host.prerendering = false;
        page.host.activation_start = 1000.0;
        page.event(PageEvent::Activate, 1000.0);
        page.fire(Wait::Task, 1050.0);
        page.entry(fcp, EntryKind::Paint, at(1030.0));
        let reports = page.reports();
        assert_eq!(
            values(&reports, Vital::Fcp),
            [(30.0, NavigationType::Prerender)]
        );
        assert_eq!(
            values(&reports, Vital::Ttfb),
            [(0.0, NavigationType::Prerender)],
            "responseStart before activation counts as 0 ({ttfb})"
        );
    }

    #[test]
    fn rum_collects_final_values_and_sends_them_when_hidden_and_per_route() {
        let mut page = Page::loaded();
        let config = RumConfig {
            service: b"shop-web",
            sample_rate: 1.0,
            ..RumConfig::default()
        };
        let traceparent = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let routes: [&[u8]; 2] = [b"/products/{id}", b"/cart"];
        assert!(page.engine.start_rum(
            &mut page.host,
            config,
            routes.into_iter(),
            b"/products/42?ref=x",
            traceparent
        ));
        assert!(
            !page
                .engine
                .start_rum(&mut page.host, config, [].into_iter(), b"/", b""),
            "once per page view"
        );
        page.fire(Wait::Task, 150.0);
        let subscribed: Vec<u32> = page.host.observed.iter().map(|(s, _)| *s).collect();
        assert!(
            subscribed.len() >= 5,
            "every metric observed: {subscribed:?}"
        );
        let fcp = page
            .host
            .observed
            .iter()
            .find(|(s, k)| {
                *k == EntryKind::Paint
                    && page.engine.subscriptions[*s as usize].is_some_and(|x| x.vital == Vital::Fcp)
            })
            .map(|(s, _)| *s)
            .unwrap();
        page.entry(fcp, EntryKind::Paint, at(180.0));
        assert!(
            page.reports().is_empty(),
            "RUM values go to the collector, not to callbacks"
        );
        page.engine
            .error(&mut page.host, ErrorKind::Error, b"card declined");
        page.event(PageEvent::Hidden, 5000.0);
        let (unloading, dropped, route, trace, items) = page.host.sent[0].clone();
        assert_eq!((unloading, dropped), (true, 0));
        assert_eq!(route, "/products/{id}");
        assert_eq!(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
        let vitals: Vec<Vital> = page.host.items[..items]
            .iter()
            .filter_map(|i| match i {
                Item::Vital(r) => Some(r.vital),
                Item::Error(..) => None,
            })
            .collect();
        assert!(
            vitals.contains(&Vital::Ttfb) && vitals.contains(&Vital::Fcp),
            "{vitals:?}"
        );
        assert!(
            page.host.items[..items].contains(&Item::Error(ErrorKind::Error, b"card declined"))
        );
        assert_eq!(page.host.sent.len(), 1, "one beacon");

        // A route change: what is new is sent under the old route; CLS and INP start
        // again (new ids, `soft-navigation`) under the new one.
        page.engine.error(&mut page.host, ErrorKind::Error, b"late");
        let sent = page.host.sent.len();
        page.engine.route_changed(&mut page.host, b"/cart");
        let (unloading, _, route, ..) = page.host.sent[sent].clone();
        assert_eq!((unloading, route.as_str()), (false, "/products/{id}"));
        assert_eq!(
            page.engine.rum.as_ref().unwrap().collector.route(),
            b"/cart"
        );
        let restarted: Vec<(Vital, NavigationType)> = page
            .engine
            .subscriptions
            .iter()
            .flatten()
            .filter(|s| matches!(s.vital, Vital::Cls | Vital::Inp) && s.metric.is_some())
            .map(|s| (s.vital, s.metric.unwrap().navigation_type))
            .collect();
        assert!(!restarted.is_empty());
        assert!(
            restarted
                .iter()
                .all(|(_, n)| *n == NavigationType::SoftNavigation),
            "{restarted:?}"
        );
    }

    #[test]
    fn route_changes_restart_cls_and_inp_unless_the_browser_reports_soft_navigations() {
        for supported in [false, true] {
            let mut page = Page::loaded();
            if !supported {
                page.host.unsupported = vec![EntryKind::SoftNavigation];
            }
            let config = RumConfig {
                service: b"web",
                sample_rate: 1.0,
                soft_navs: true,
                ..RumConfig::default()
            };
            assert!(
                page.engine
                    .start_rum(&mut page.host, config, [].into_iter(), b"/", b"")
            );
            page.engine.route_changed(&mut page.host, b"/cart");
            let inp = page
                .engine
                .subscriptions
                .iter()
                .flatten()
                .find(|s| s.vital == Vital::Inp)
                .and_then(|s| s.metric)
                .unwrap();
            let restarted = inp.navigation_type == NavigationType::SoftNavigation;
            assert_eq!(
                restarted, !supported,
                "soft navigations reported by the browser: {supported}"
            );
        }
    }

    #[test]
    fn a_full_batch_of_errors_goes_out_on_its_own_from_a_timer() {
        let mut page = Page::loaded();
        let config = RumConfig {
            service: b"web",
            sample_rate: 1.0,
            ..RumConfig::default()
        };
        assert!(
            page.engine
                .start_rum(&mut page.host, config, [].into_iter(), b"/", b"")
        );
        page.host.timers.clear();
        for _ in 0..MAX_ERRORS {
            page.engine
                .error(&mut page.host, ErrorKind::UnhandledRejection, b"nope");
        }
        assert!(page.host.sent.is_empty(), "never from the handler");
        page.fire(Wait::Task, 200.0);
        assert_eq!(page.host.sent.len(), 1);
        assert_eq!(page.host.items.len(), MAX_ERRORS);
        assert!(!page.host.sent[0].0, "not unloading");
    }

    #[test]
    fn sampling_and_field_lengths_decide_whether_rum_starts() {
        let mut page = Page::loaded();
        let mut config = RumConfig {
            service: b"web",
            sample_rate: 0.0,
            ..RumConfig::default()
        };
        assert!(
            !page
                .engine
                .start_rum(&mut page.host, config, [].into_iter(), b"/", b"")
        );
        config.sample_rate = 1.0;
        let long = [b'v'; crate::vocab::MAX_FIELD_LEN + 1];
        config.version = &long;
        assert!(
            !page
                .engine
                .start_rum(&mut page.host, config, [].into_iter(), b"/", b"")
        );
        assert!(page.engine.rum.is_none());
    }

    #[test]
    fn subscriptions_are_bounded_and_unsupported_entry_types_report_nothing() {
        let mut page = Page::loaded();
        page.host.unsupported = vec![EntryKind::Lcp];
        let lcp = page.subscribe(Vital::Lcp, true);
        page.entry(lcp, EntryKind::Lcp, at(100.0));
        page.event(PageEvent::Hidden, 200.0);
        assert!(page.reports().is_empty());
        while page
            .engine
            .subscribe(&mut page.host, Vital::Fid, Options::default(), false)
            .is_some()
        {}
        assert_eq!(
            page.engine
                .subscriptions
                .iter()
                .filter(|s| s.is_some())
                .count(),
            MAX_SUBSCRIPTIONS
        );
        page.engine.unsubscribe(&mut page.host, lcp);
        assert_eq!(
            page.engine
                .subscribe(&mut page.host, Vital::Cls, Options::default(), false),
            Some(lcp),
            "a freed slot is reused"
        );
    }
}
