//! The latest result of a probe, shared between its runs and its readers
//! ([`ProbeStatus`], also a readiness check).

use crate::health::{CheckFuture, HealthCheck};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Durations of the phases of an HTTP run, named as Prometheus' blackbox exporter names
/// them. A phase the run did not finish is zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpPhases {
    /// Name resolution (`tokio::net::lookup_host`).
    pub resolve: Duration,
    /// TCP connect.
    pub connect: Duration,
    /// TLS handshake: always zero (probes speak plain HTTP).
    pub tls: Duration,
    /// From the request's last byte written to the socket to the response head received.
    pub processing: Duration,
    /// Reading the body (at most [`MAX_BODY_BYTES`](super::MAX_BODY_BYTES)).
    pub transfer: Duration,
}

impl HttpPhases {
    /// Each phase with its `sdk.probe.phase` label value.
    pub fn labelled(&self) -> [(&'static str, Duration); 5] {
        [
            ("resolve", self.resolve),
            ("connect", self.connect),
            ("tls", self.tls),
            ("processing", self.processing),
            ("transfer", self.transfer),
        ]
    }

    /// The sum of the phases.
    pub fn total(&self) -> Duration {
        self.labelled().iter().map(|(_, d)| *d).sum()
    }
}

/// Why a run failed. The text never holds the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeFailure {
    /// Name resolution failed.
    Resolve(String),
    /// The name resolved to no address.
    NoAddress,
    /// The TCP connection failed.
    Connect(String),
    /// The HTTP exchange failed (connection closed, malformed response, body error).
    Http(String),
    /// The status is not an expected one.
    Status(u16),
    /// The body (its first [`MAX_BODY_BYTES`](super::MAX_BODY_BYTES) bytes) does not hold
    /// the expected substring.
    BodyMismatch,
    /// The run took longer than the timeout.
    Timeout(Duration),
}

impl fmt::Display for ProbeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Resolve(err) => write!(f, "name resolution failed: {err}"),
            Self::NoAddress => f.write_str("the name resolved to no address"),
            Self::Connect(err) => write!(f, "connect failed: {err}"),
            Self::Http(err) => write!(f, "HTTP exchange failed: {err}"),
            Self::Status(code) => write!(f, "unexpected status {code}"),
            Self::BodyMismatch => f.write_str("the body does not contain the expected text"),
            Self::Timeout(limit) => write!(f, "no result within {} ms", limit.as_millis()),
        }
    }
}

/// The outcome of one run.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProbeRun {
    /// Whether it succeeded (`probe_success`).
    pub success: bool,
    /// How long it took (`probe_duration_seconds`).
    pub duration: Duration,
    /// The response status of an HTTP probe; `None` without a response, and for TCP.
    pub status_code: Option<u16>,
    /// The phases of an HTTP probe; `None` for TCP.
    pub phases: Option<HttpPhases>,
    /// Why it failed.
    pub failure: Option<ProbeFailure>,
    /// When it finished.
    pub finished_at: Instant,
}

/// State shared by a probe's runs and its [`ProbeStatus`] handles.
#[derive(Debug)]
pub(super) struct ProbeState {
    pub(super) name: Arc<str>,
    pub(super) interval: Duration,
    runs: AtomicU64,
    last: Mutex<Option<ProbeRun>>,
    stopped: AtomicBool,
}

impl ProbeState {
    pub(super) fn new(name: Arc<str>, interval: Duration) -> Self {
        Self {
            name,
            interval,
            runs: AtomicU64::new(0),
            last: Mutex::new(None),
            stopped: AtomicBool::new(false),
        }
    }

    /// Keeps `run` as the latest; returns the previous run's success, if any. A run
    /// finishing after the set was stopped is not kept.
    pub(super) fn commit(&self, run: ProbeRun) -> Option<Option<bool>> {
        if self.stopped.load(Ordering::Acquire) {
            return None;
        }
        let previous = self
            .last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(run)
            .map(|r| r.success);
        self.runs.fetch_add(1, Ordering::AcqRel);
        Some(previous)
    }

    pub(super) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
    }
}

/// A handle to one probe's latest result, from
/// [`RunningProbes::status`](super::RunningProbes::status).
///
/// It is a readiness check ([`HealthCheck`]) that reads the latest result and never runs
/// the probe: it fails while no run has finished, when the latest run failed, when no run
/// finished within two intervals, and once the probes are stopped.
#[derive(Debug, Clone)]
pub struct ProbeStatus {
    pub(super) state: Arc<ProbeState>,
}

impl ProbeStatus {
    /// The probe's name.
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// How many runs have finished.
    pub fn runs(&self) -> u64 {
        self.state.runs.load(Ordering::Acquire)
    }

    /// The latest finished run.
    pub fn last_run(&self) -> Option<ProbeRun> {
        self.state
            .last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The readiness verdict: `Err` with the reason when the probe is not passing.
    pub fn verdict(&self) -> Result<(), String> {
        if self.state.stopped.load(Ordering::Acquire) {
            return Err("the probes were stopped".to_owned());
        }
        let Some(run) = self.last_run() else {
            return Err("no run has finished yet".to_owned());
        };
        let stale_after = self.state.interval.saturating_mul(2);
        if run.finished_at.elapsed() > stale_after {
            return Err(format!(
                "no run finished in the last {} ms",
                stale_after.as_millis()
            ));
        }
        match run.failure {
            Some(failure) => Err(format!("last run failed: {failure}")),
            None if run.success => Ok(()),
            None => Err("last run failed".to_owned()),
        }
    }
}

impl HealthCheck for ProbeStatus {
    fn name(&self) -> &str {
        &self.state.name
    }

    fn check(&self) -> CheckFuture<'_> {
        let verdict = self.verdict().map_err(Into::into);
        Box::pin(std::future::ready(verdict))
    }
}
