//! Batch span processing (`OTEL_BSP_*`).

use super::ConfigError;
use super::env::{Env, parse_positive};
use std::time::Duration;

/// Batch span processing (`OTEL_BSP_*`). Start from [`BatchConfig::default`] (or the
/// environment) and set the fields to change:
///
/// ```
/// let mut batch = sdk_core::config::BatchConfig::default();
/// batch.max_queue_size = 8192;
/// assert_eq!(batch.max_export_batch_size, 512);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchConfig {
    /// Longest wait between two exports (`OTEL_BSP_SCHEDULE_DELAY`, ms; default 5000).
    pub schedule_delay: Duration,
    /// Longest time one export may take, retries included (`OTEL_BSP_EXPORT_TIMEOUT`, ms;
    /// default 30000).
    pub export_timeout: Duration,
    /// Spans queued before new ones are dropped (`OTEL_BSP_MAX_QUEUE_SIZE`; default 2048).
    pub max_queue_size: usize,
    /// Most spans per export (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`; default 512, at most the
    /// queue size).
    pub max_export_batch_size: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            schedule_delay: Duration::from_millis(5000),
            export_timeout: Duration::from_millis(30_000),
            max_queue_size: 2048,
            max_export_batch_size: 512,
        }
    }
}

pub(super) fn parse_batch(env: &dyn Env) -> Result<BatchConfig, ConfigError> {
    const MS: &str = "a positive whole number of milliseconds";
    const COUNT: &str = "a positive whole number";
    let defaults = BatchConfig::default();
    let schedule_delay = parse_positive(
        env,
        "OTEL_BSP_SCHEDULE_DELAY",
        defaults.schedule_delay.as_millis() as u64,
        MS,
    )?;
    let export_timeout = parse_positive(
        env,
        "OTEL_BSP_EXPORT_TIMEOUT",
        defaults.export_timeout.as_millis() as u64,
        MS,
    )?;
    let max_queue_size = parse_positive(
        env,
        "OTEL_BSP_MAX_QUEUE_SIZE",
        defaults.max_queue_size as u64,
        COUNT,
    )?;
    let max_export_batch_size = parse_positive(
        env,
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        defaults.max_export_batch_size as u64,
        COUNT,
    )?;
    let max_queue_size = usize::try_from(max_queue_size).unwrap_or(usize::MAX);
    Ok(BatchConfig {
        schedule_delay: Duration::from_millis(schedule_delay),
        export_timeout: Duration::from_millis(export_timeout),
        max_queue_size,
        max_export_batch_size: usize::try_from(max_export_batch_size)
            .unwrap_or(usize::MAX)
            .min(max_queue_size),
    })
}
