//! Entries become values, by each metric's rules: LCP, FCP, CLS, INP, FID and TTFB, and
//! the interaction count INP needs where the browser does not give it.

use js_sys::Array;
use sdk_core::rum::{NavigationType, VitalName};
use wasm_bindgen::JsCast;

use super::delivery::Delivery;
use super::page_state::{Page, interaction_count};
use super::subscription::Progress;
use super::sys::{DOCUMENT, LayoutShift, PerformanceEntry, PerformanceEventTiming};
use super::timeline::{activation_start, navigation_entry, now};
use crate::timing;

impl Page {
    pub(super) fn estimate_interactions(&mut self, entries: Array) {
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

    pub(super) fn measure_ttfb(&mut self, out: &mut Vec<Delivery>) {
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

    pub(super) fn process(
        &mut self,
        index: usize,
        entries: Vec<PerformanceEntry>,
        out: &mut Vec<Delivery>,
    ) {
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
}
