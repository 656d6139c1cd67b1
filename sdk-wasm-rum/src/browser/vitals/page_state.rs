//! The page: every subscription, the page-wide times (first hidden, restore), the one
//! event listener, and the hooks run when the page is hidden.

use std::cell::RefCell;
use std::rc::Rc;

use sdk_core::rum::{NavigationType, VitalName};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::delivery::{Delivery, deliver};
use super::events::on_page_event;
use super::metric_id::unique_id;
use super::observers::Observer;
use super::subscription::{Metric, Subscription};
use super::sys::{self, DOCUMENT, Event, PERFORMANCE};
use super::timeline::{first_hidden_time, navigation_entry, prerendering};

/// The page events the engine listens to (capturing, on `window`).
pub(super) const PAGE_EVENTS: [&str; 8] = [
    "visibilitychange",
    "pagehide",
    "pageshow",
    "prerenderingchange",
    "load",
    "keydown",
    "click",
    "pointerdown",
];

/// Hooks run after the page was hidden and the finalized values were delivered.
pub(crate) type HiddenHook = Rc<dyn Fn()>;

pub(super) struct Page {
    pub(super) subscriptions: Vec<Option<Subscription>>,
    pub(super) first_hidden: f64,
    pub(super) restore_time: f64,
    pub(super) listener: Option<Closure<dyn FnMut(Event)>>,
    pub(super) extra_events: Vec<&'static str>,
    pub(super) hidden_hooks: Vec<HiddenHook>,
    /// Interaction-count estimate where `performance.interactionCount` is missing:
    /// (smallest id, largest id, count).
    pub(super) interaction_ids: (f64, f64, f64),
    pub(super) interaction_observer: Option<Observer>,
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
pub(super) fn with_page(f: impl FnOnce(&mut Page, &mut Vec<Delivery>)) {
    let mut out = Vec::new();
    PAGE.with(|page| {
        if let Ok(mut page) = page.try_borrow_mut() {
            f(&mut page, &mut out);
        }
    });
    deliver(out);
}

pub(super) fn interaction_count(page: &Page) -> f64 {
    PERFORMANCE
        .with(sys::Performance::interaction_count)
        .unwrap_or(page.interaction_ids.2)
}

impl Page {
    pub(super) fn navigation_type(&self) -> NavigationType {
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

    pub(super) fn new_metric(&self, name: VitalName, navigation_type: NavigationType) -> Metric {
        let starts_at_zero = matches!(name, VitalName::Cls);
        Metric {
            id: unique_id(),
            value: if starts_at_zero { 0.0 } else { -1.0 },
            reported: None,
            navigation_type,
        }
    }

    pub(super) fn install_listener(&mut self) {
        if self.listener.is_some() {
            return;
        }
        let listener = Closure::<dyn FnMut(Event)>::new(on_page_event);
        for kind in PAGE_EVENTS {
            sys::add_event_listener(kind, listener.as_ref().unchecked_ref(), true);
        }
        self.listener = Some(listener);
    }
}
