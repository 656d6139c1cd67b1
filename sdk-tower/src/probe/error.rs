//! Why a set of probes cannot start.
//!
//! Messages name the probe and the setting, never the URL: a URL may carry credentials
//! or tokens in its user-info or query.

use std::time::Duration;

/// A probe declaration that cannot run, found by [`Probes::spawn`](super::Probes::spawn).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// A probe has an empty name.
    #[error(
        "a probe has an empty name: the name is the `sdk.probe` label, use a short stable name such as `orders-api`"
    )]
    EmptyName,
    /// Two probes share a name.
    #[error("probe `{probe}` is declared twice: names label the metrics and must be unique")]
    DuplicateName {
        /// The name.
        probe: String,
    },
    /// The URL of an HTTP probe does not parse or has no host.
    #[error(
        "probe `{probe}`: the URL is not usable ({reason}); an absolute `http://host[:port][/path][?query]` URL is accepted"
    )]
    InvalidUrl {
        /// The probe.
        probe: String,
        /// What is wrong (never the URL itself).
        reason: String,
    },
    /// The URL's scheme is not `http`.
    #[error(
        "probe `{probe}`: scheme `{scheme}` is not supported, only `http` is; `https` needs TLS, which probes do not do: probe a plain-HTTP port or declare a TCP probe of the TLS port"
    )]
    UnsupportedScheme {
        /// The probe.
        probe: String,
        /// The scheme found.
        scheme: String,
    },
    /// The target of a TCP probe is not `host:port`.
    #[error(
        "probe `{probe}`: the TCP target is not `host:port` (a name or IP address, `[v6]` in brackets, and a port from 1 to 65535)"
    )]
    InvalidTcpTarget {
        /// The probe.
        probe: String,
    },
    /// An expected status range is empty or outside 100–599.
    #[error(
        "probe `{probe}`: expected status {start}..={end} is not a non-empty range within 100..=599"
    )]
    InvalidExpectedStatus {
        /// The probe.
        probe: String,
        /// First code of the range.
        start: u16,
        /// Last code of the range.
        end: u16,
    },
    /// Interval or timeout is zero, or the timeout exceeds the interval.
    #[error(
        "probe `{probe}`: interval {interval:?} and timeout {timeout:?} do not fit: both must be above zero and the timeout at most the interval"
    )]
    InvalidTiming {
        /// The probe.
        probe: String,
        /// The interval set.
        interval: Duration,
        /// The timeout set.
        timeout: Duration,
    },
    /// `spawn` was called outside a Tokio runtime.
    #[error("probes run on a Tokio runtime: call `Probes::spawn` from within one")]
    NoRuntime,
}
