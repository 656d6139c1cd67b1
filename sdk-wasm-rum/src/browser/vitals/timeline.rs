//! What the document and the performance timeline say: the time, visibility,
//! prerendering, the navigation entry and the activation start.

use js_sys::Object;
use wasm_bindgen::JsCast;

use super::sys::{self, DOCUMENT, NavigationTiming, PERFORMANCE, PerformanceEntry};

pub(super) fn now() -> f64 {
    PERFORMANCE.with(sys::Performance::now)
}

pub(super) fn prerendering() -> bool {
    DOCUMENT.with(|d| d.prerendering().unwrap_or(false))
}

pub(super) fn hidden() -> bool {
    DOCUMENT.with(|d| d.visibility_state() == "hidden")
}

/// web-vitals' `initHiddenTime`: a page hidden when measuring starts (and not
/// prerendering) is taken as hidden from the start.
pub(super) fn initial_hidden_time() -> f64 {
    if hidden() && !prerendering() {
        0.0
    } else {
        f64::INFINITY
    }
}

/// When the page was first hidden before measuring started: the first `visibility-state`
/// entry named `hidden` after activation (web-vitals 5), else [`initial_hidden_time`].
pub(super) fn first_hidden_time() -> f64 {
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

pub(super) fn activation_start() -> f64 {
    navigation_entry()
        .and_then(|entry| entry.activation_start())
        .unwrap_or(0.0)
}
