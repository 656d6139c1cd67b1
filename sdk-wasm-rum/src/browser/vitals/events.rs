//! The page's lifecycle drives the metrics: hidden (finalize), trusted input (LCP's end,
//! FID after a restore), back/forward-cache restore (new metrics), prerender activation,
//! single-page-app route changes.

use sdk_core::rum::{NavigationType, VitalName};

use super::delivery::Delivery;
use super::page_state::{Page, interaction_count, with_page};
use super::subscription::Progress;
use super::sys;
use super::sys::{DOCUMENT, Event};
use super::timeline::{hidden, initial_hidden_time, now};
use super::timers::schedule;
use crate::cls::LayoutShifts;
use crate::inp::Interactions;
use wasm_bindgen::prelude::*;

impl Page {
    /// LCP's end: the last entries, then a forced report, once per metric.
    pub(super) fn finalize_lcp(&mut self, index: usize, out: &mut Vec<Delivery>) {
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
    pub(super) fn finalize(&mut self, hidden: bool, out: &mut Vec<Delivery>) {
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

    pub(super) fn on_hidden(&mut self, time_stamp: f64, out: &mut Vec<Delivery>) {
        self.first_hidden = self.first_hidden.min(time_stamp);
        self.finalize(true, out);
    }

    pub(super) fn on_input(&mut self, event: &Event, out: &mut Vec<Delivery>) {
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

    pub(super) fn on_restore(&mut self, time_stamp: f64, out: &mut Vec<Delivery>) {
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

    pub(super) fn on_activation(&mut self) {
        self.first_hidden = initial_hidden_time();
        for index in 0..self.subscriptions.len() {
            if matches!(self.subscriptions.get(index), Some(Some(sub)) if sub.metric.is_none()) {
                self.start(index);
            }
        }
    }

    /// After a single-page-app route change: CLS and INP start over with new ids (LCP, FCP,
    /// TTFB and FID belong to the document's load and stay final).
    pub(super) fn restart_for_route(&mut self) {
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

pub(super) fn on_page_event(event: Event) {
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
        crate::browser::rum::on_error(&event);
    }
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
