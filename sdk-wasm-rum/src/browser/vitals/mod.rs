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
//!
//! Parts: `subscription` (one `onX` call, its metric and `bindReporter`), `page_state`
//! (every subscription and the page-wide state), `observers` (performance observers and
//! the ones each metric starts with), `measurement` (entries to values, per metric),
//! `events` (the lifecycle: hidden, input, restore, activation, route changes),
//! `delivery` (reports to callbacks), `timeline` (time, visibility, navigation entry),
//! `timers`, `metric_id`.

mod delivery;
mod events;
mod measurement;
mod metric_id;
mod observers;
mod page_state;
mod subscription;
mod timeline;
mod timers;

pub(crate) use delivery::Callback;
pub(crate) use metric_id::push_integer;
pub(crate) use page_state::HiddenHook;
pub(crate) use timeline::navigation_entry;
pub(crate) use timers::schedule;

use js_sys::Function;
use sdk_core::rum::VitalName;
use wasm_bindgen::JsCast;

use super::sys;
use page_state::{PAGE_EVENTS, with_page};
use subscription::{Progress, Subscription};
use timeline::prerendering;

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
