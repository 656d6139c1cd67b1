//! [`RedisServerInfo::spawn`]: collections repeated on the current Tokio runtime, one at a
//! time, until the [`ServerInfoTask`] is dropped or stopped.

use super::RedisServerInfo;
use redis::aio::ConnectionLike;
use std::time::Duration;
use tracing::instrument::WithSubscriber;

/// Why [`RedisServerInfo::spawn`] could not start the periodic collection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// The interval was zero; it must be positive (15 s is a common choice).
    #[error("interval is 0 s; give a positive interval such as 15 s")]
    ZeroInterval,
    /// Called outside a Tokio runtime.
    #[error("not inside a Tokio runtime; call spawn from a task or `Runtime::enter`")]
    NoRuntime,
    /// The runtime's timer is disabled.
    #[error(
        "the Tokio runtime has its timer disabled; build it with `enable_time` or `enable_all`"
    )]
    NoTimer,
}

/// The running periodic collection: dropping it (or [`ServerInfoTask::stop`]) ends it,
/// abandoning a collection in progress.
#[derive(Debug)]
#[must_use = "the periodic collection stops when its task handle is dropped"]
pub struct ServerInfoTask {
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ServerInfoTask {
    /// Whether the task has ended (it only ends when stopped, or with its runtime).
    pub fn is_finished(&self) -> bool {
        self.task
            .as_ref()
            .is_none_or(tokio::task::JoinHandle::is_finished)
    }

    /// Ends the periodic collection and waits until the task (and its clone of the
    /// connection) is gone.
    pub async fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            // Cancelled, as asked: nothing to report.
            let _ = task.await;
        }
    }
}

impl Drop for ServerInfoTask {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl<C> RedisServerInfo<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// Collects now and then every `interval` on the current Tokio runtime, one collection
    /// at a time (a slow one delays the next tick instead of overlapping it), each within
    /// the collector's [`timeout`](RedisServerInfo::timeout). The task logs through the
    /// subscriber that is current here.
    pub fn spawn(self, interval: Duration) -> Result<ServerInfoTask, SpawnError> {
        if interval.is_zero() {
            return Err(SpawnError::ZeroInterval);
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SpawnError::NoRuntime)?;
        // Tokio has no query for a disabled timer; creating one panics then.
        let mut ticker = std::panic::catch_unwind(|| tokio::time::interval(interval))
            .map_err(|_| SpawnError::NoTimer)?;
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let collect = async move {
            loop {
                ticker.tick().await;
                // Recorded and logged by `collect`.
                let _ = self.collect().await;
            }
        };
        Ok(ServerInfoTask {
            task: Some(runtime.spawn(collect.with_current_subscriber())),
        })
    }
}
