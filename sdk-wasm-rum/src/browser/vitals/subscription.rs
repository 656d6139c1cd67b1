//! One `onX` call: its metric (id, value, last reported value), its progress through the
//! metric's own rules, its observers, and web-vitals' `bindReporter`.

use sdk_core::rum::{NavigationType, VitalName, VitalReport};
use wasm_bindgen::JsCast;

use super::delivery::{Callback, Delivery};
use super::observers::Observer;
use super::sys::PerformanceEntry;
use crate::cls::LayoutShifts;
use crate::inp::Interactions;

pub(super) struct Metric {
    pub(super) id: String,
    pub(super) value: f64,
    pub(super) reported: Option<f64>,
    pub(super) navigation_type: NavigationType,
}

pub(super) enum Progress {
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
    pub(super) fn new(name: VitalName) -> Self {
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

pub(super) struct Subscription {
    pub(super) name: VitalName,
    pub(super) report_all_changes: bool,
    pub(super) callback: Callback,
    /// `None` until the page is activated (prerendering).
    pub(super) metric: Option<Metric>,
    pub(super) observers: Vec<Observer>,
    pub(super) progress: Progress,
    /// The browser supports the entry type this metric is measured from (web-vitals
    /// reports nothing, not even after a restore, where it does not).
    pub(super) supported: bool,
}

impl Subscription {
    /// web-vitals' `bindReporter`: reports when forced or when every change is wanted,
    /// and only when the value moved (or was never reported).
    pub(super) fn report(&mut self, force: bool, out: &mut Vec<Delivery>) {
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

    pub(super) fn set_value(&mut self, value: f64) {
        if let Some(metric) = &mut self.metric {
            metric.value = value;
        }
    }

    pub(super) fn disconnect(&mut self) {
        for (observer, _) in self.observers.drain(..) {
            observer.disconnect();
        }
    }

    pub(super) fn take_records(&self) -> Vec<PerformanceEntry> {
        self.observers
            .iter()
            .flat_map(|(observer, _)| observer.take_records())
            .map(JsCast::unchecked_into)
            .collect()
    }
}
