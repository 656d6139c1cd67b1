//! What lets a plan through: the budget (a token bucket) and one plan per summary in
//! flight.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// At most `capacity` plans per `period`, refilled evenly.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    state: Mutex<(f64, Instant)>,
    capacity: f64,
    per_second: f64,
}

impl TokenBucket {
    pub(crate) fn new(capacity: u32, period: Duration) -> Self {
        let capacity = f64::from(capacity);
        let seconds = period.as_secs_f64();
        Self {
            state: Mutex::new((capacity, Instant::now())),
            capacity,
            per_second: if seconds > 0.0 {
                capacity / seconds
            } else {
                f64::INFINITY
            },
        }
    }

    /// Takes one token if there is one.
    pub(crate) fn take(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (tokens, last) = &mut *state;
        let now = Instant::now();
        let refill = now.saturating_duration_since(*last).as_secs_f64() * self.per_second;
        *tokens = (*tokens + refill).min(self.capacity);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Summaries with a plan queued or running.
#[derive(Debug, Default, Clone)]
pub(crate) struct InFlight(Arc<Mutex<HashSet<Arc<str>>>>);

impl InFlight {
    /// Marks `summary` in flight until the guard drops; `None` when it already is.
    pub(crate) fn enter(&self, summary: &Arc<str>) -> Option<InFlightGuard> {
        let mut set = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        set.insert(Arc::clone(summary)).then(|| InFlightGuard {
            set: self.clone(),
            summary: Arc::clone(summary),
        })
    }
}

/// Keeps a summary in flight; dropping it (the job is done, skipped or lost) releases it.
#[derive(Debug)]
pub(crate) struct InFlightGuard {
    set: InFlight,
    summary: Arc<str>,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.set
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.summary);
    }
}
