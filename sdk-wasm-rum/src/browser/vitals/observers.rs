//! Performance observers: `{type, buffered: true}` per entry type, and the ones each
//! metric starts with.

use js_sys::{Array, Object, Reflect};
use sdk_core::rum::VitalName;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::page_state::{Page, with_page};
use super::subscription::Subscription;
use super::sys::{self, DOCUMENT, EntryList, PERFORMANCE, PerformanceObserver};
use super::timers::schedule;

/// web-vitals' default `durationThreshold` for INP's `event` observer.
const INP_DURATION_THRESHOLD: f64 = 40.0;

/// An observer and the closure it calls (dropped together).
pub(super) type Observer = (PerformanceObserver, Closure<dyn FnMut(EntryList)>);

impl Page {
    /// Starts measuring for subscription `index`.
    pub(super) fn start(&mut self, index: usize) {
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
