//! The background collector: [`PgInsights::spawn`] and its [`InsightsHandle`].

use super::{InsightsError, InsightsReport, PgInsights};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// [`PgInsights::spawn`] was called outside a Tokio runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("database insights: no Tokio runtime to spawn the collector on (call spawn inside one)")]
pub struct NoRuntime;

/// The last collection's outcome, shared with the handle.
#[derive(Debug, Default)]
struct Latest {
    report: Option<Arc<InsightsReport>>,
    error: Option<Arc<InsightsError>>,
}

/// A running collector. Dropping it (or [`stop`](Self::stop)) stops the task; a collection
/// under way is abandoned (its connection closed, or returned to the pool, which rolls its
/// transaction back).
#[derive(Debug)]
pub struct InsightsHandle {
    task: JoinHandle<()>,
    latest: Arc<Mutex<Latest>>,
}

impl InsightsHandle {
    /// The report of the last successful collection, `None` before the first.
    pub fn latest_report(&self) -> Option<Arc<InsightsReport>> {
        self.lock().report.clone()
    }

    /// The error of the last collection, when it failed (`None` once one succeeds).
    pub fn last_error(&self) -> Option<Arc<InsightsError>> {
        self.lock().error.clone()
    }

    /// Stops the collector.
    pub fn stop(self) {
        drop(self);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Latest> {
        self.latest.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for InsightsHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PgInsights {
    /// Collects now, then every [interval](super::InsightsConfig::interval), on the current
    /// Tokio runtime, until the handle is dropped.
    ///
    /// A failure is logged at WARN once, when it first happens or changes (not every
    /// interval), and a recovery at INFO; each collection records `sdk.collector.duration`.
    pub fn spawn(self) -> Result<InsightsHandle, NoRuntime> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| NoRuntime)?;
        let latest = Arc::new(Mutex::new(Latest::default()));
        let shared = Arc::clone(&latest);
        let task = runtime.spawn(async move {
            let mut ticks = tokio::time::interval(self.config.interval);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut last_logged: Option<String> = None;
            loop {
                ticks.tick().await;
                let result = self.collect().await;
                let mut latest = shared.lock().unwrap_or_else(PoisonError::into_inner);
                match result {
                    Ok(report) => {
                        if last_logged.take().is_some() {
                            tracing::info!(
                                sdk.collector = super::record::COLLECTOR,
                                "database insights collected again"
                            );
                        }
                        latest.report = Some(Arc::new(report));
                        latest.error = None;
                    }
                    Err(err) => {
                        let message = err.to_string();
                        if last_logged.as_deref() != Some(message.as_str()) {
                            tracing::warn!(
                                sdk.collector = super::record::COLLECTOR,
                                error = %message,
                                "database insights collection failed (logged again only when the error changes)"
                            );
                            last_logged = Some(message);
                        }
                        latest.error = Some(Arc::new(err));
                    }
                }
            }
        });
        Ok(InsightsHandle { task, latest })
    }
}
