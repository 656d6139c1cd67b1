//! Metrics to DogStatsD (UDP or Unix socket) through `metrics-exporter-dogstatsd`, with
//! the unified service tags `service`, `env` and `version` on every datagram. Names are
//! the catalogue's OpenTelemetry names (dots are DogStatsD's own separator); histograms go
//! out as distributions, so percentiles are computed by Datadog over all hosts.

use super::ExporterError;
use crate::config::Config;
use metrics::Label;
use metrics_exporter_dogstatsd::{DogStatsDBuilder, DogStatsDRecorder};
use std::time::Duration;

/// How often aggregated values are flushed to the socket.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// A recorder sending to `addr` (`host:port` for UDP, `unix://…` or `unixgram://…`).
pub fn recorder(config: &Config, addr: &str) -> Result<DogStatsDRecorder, ExporterError> {
    let mut labels = vec![Label::new("service", config.service.name.clone())];
    if let Some(env) = &config.service.environment {
        labels.push(Label::new("env", env.clone()));
    }
    if let Some(version) = &config.service.version {
        labels.push(Label::new("version", version.clone()));
    }
    DogStatsDBuilder::default()
        .with_remote_address(addr)
        .map_err(|source| ExporterError::DogStatsDAddress {
            addr: addr.to_owned(),
            source: Box::new(source),
        })?
        .with_global_labels(labels)
        .with_flush_interval(FLUSH_INTERVAL)
        .with_telemetry(false)
        .send_histograms_as_distributions(true)
        .build()
        .map_err(|source| ExporterError::Build {
            signal: "metrics",
            exporter: "dogstatsd",
            source: Box::new(source),
        })
}

/// When values recorded up to `asked` have been sent. The forwarder thread of
/// `metrics-exporter-dogstatsd` flushes every [`FLUSH_INTERVAL`] and spreads one flush's
/// datagrams over the following interval, and the crate offers no flush call, so a
/// shutdown that must not lose the last second of metrics waits until two intervals (and
/// a margin for a loaded machine) have passed since it was asked.
#[cfg_attr(
    not(all(feature = "json-logs", feature = "prometheus")),
    allow(dead_code)
)]
pub(crate) fn sent_by(asked: std::time::Instant) -> std::time::Instant {
    asked + 2 * FLUSH_INTERVAL + Duration::from_millis(250)
}
