//! Process and Tokio runtime metrics, collected by [`crate::init`] on a background thread.
//!
//! Every collection records the catalogue's `process.*` metrics (Prometheus
//! `process_resident_memory_bytes`, `process_virtual_memory_bytes`,
//! `process_cpu_seconds_total`, `process_open_fds`, `process_max_fds`, `process_threads`,
//! `process_start_time_seconds`) and, with feature `runtime-metrics`, the
//! `sdk.runtime.tokio.*` metrics of one Tokio runtime; each part's run is timed in
//! `sdk.collector.duration{sdk.collector="process"|"tokio", sdk.result="ok"|"error"}`.
//!
//! - **When**: once inside `init` (the first scrape already has values), then every
//!   interval ([`DEFAULT_INTERVAL`], `SDK_PROCESS_METRICS_INTERVAL` in milliseconds, or
//!   [`TelemetryBuilder::with_process_metrics_interval`](crate::TelemetryBuilder::with_process_metrics_interval)),
//!   on a `std` thread named `sdk-process-metrics`, so it works without a runtime. The
//!   thread stops when the [`TelemetryGuard`](crate::TelemetryGuard) shuts down or drops.
//! - **Off**: `SDK_PROCESS_METRICS=off` or
//!   [`TelemetryBuilder::with_process_metrics(false)`](crate::TelemetryBuilder::with_process_metrics)
//!   (the builder wins over the environment); `OTEL_SDK_DISABLED=true` stops it too.
//! - **Where**: the process values are read on Linux, with the `metrics-process` crate's
//!   raw collector (its own `metrics` registration is off, so the catalogue names every
//!   metric); elsewhere that part is skipped. The runtime part works everywhere tokio does.
//! - **Cost**: one collection reads `/proc/self/stat`, `/proc/self/limits` and lists
//!   `/proc/self/fd`: 70–150 µs in a release build on a busy 2-core machine (with 1000
//!   open descriptors too), about 0.45 ms in a debug build — under 0.01 % of a core at
//!   the 10 s default (the `collectors` bench: 29 µs with few descriptors, as much as
//!   `metrics-process`'s own read). The runtime part reads atomics and, for the blocking
//!   threads on stable Linux, lists `/proc/self/task` (29 µs in the bench, growing with
//!   the thread count). `sdk.collector.duration` shows the figure of each run.
//!
//! ## CPU seconds as a whole-second counter
//!
//! `process.cpu.seconds` stays a counter, so that it keeps the name every dashboard and
//! alert uses, `process_cpu_seconds_total`, and `rate()` works on it. The `metrics` facade's
//! counters hold integers, so the value is the floor of the CPU seconds: a rate over a
//! window of `w` seconds is off by less than `1/w` of a core (under 0.4 % over 5 minutes).
//! A gauge would keep the fraction but would have to drop the `_total` name.
//!
//! ## Tokio metrics left out
//!
//! Only tokio's stable `RuntimeMetrics` are read. The blocking-pool thread count
//! (`sdk.runtime.tokio.blocking_threads`) needs `RuntimeMetrics::num_blocking_threads`,
//! which tokio offers only with `RUSTFLAGS="--cfg tokio_unstable"`: it is recorded in
//! such builds and absent otherwise. Per-worker poll counts, steal counts, local queue
//! depths, poll-time histograms and the blocking queue depth are unstable too and not
//! collected.

mod process;
#[cfg(feature = "runtime-metrics")]
mod tokio_runtime;

use crate::catalogue::COLLECTOR_DURATION;
use crate::config::ConfigError;
use crate::semconv::sdk;
use metrics::Histogram;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
#[cfg(feature = "runtime-metrics")]
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Environment variable switching the collection: `on` (default) or `off` (`true` and
/// `false` are accepted too).
pub const ENABLED_VAR: &str = "SDK_PROCESS_METRICS";
/// Environment variable holding the collection interval in milliseconds (at least
/// [`MIN_INTERVAL`]).
pub const INTERVAL_VAR: &str = "SDK_PROCESS_METRICS_INTERVAL";
/// Interval between collections unless configured: 10 s.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// Shortest interval accepted: 100 ms.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// What the builder said; unset values come from the environment.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Settings {
    pub(crate) enabled: Option<bool>,
    pub(crate) interval: Option<Duration>,
}

impl Settings {
    /// The interval to collect at, or `None` when collection is off: the builder's values,
    /// else the process environment's, else the defaults.
    pub(crate) fn resolve(self) -> Result<Option<Duration>, ConfigError> {
        self.resolve_with(process_var)
    }

    fn resolve_with(
        self,
        var: impl Fn(&'static str) -> Result<Option<String>, ConfigError>,
    ) -> Result<Option<Duration>, ConfigError> {
        let enabled = match self.enabled {
            Some(enabled) => enabled,
            None => match var(ENABLED_VAR)? {
                None => true,
                Some(value) => parse_switch(&value)?,
            },
        };
        if !enabled {
            return Ok(None);
        }
        let interval = match self.interval {
            Some(interval) if interval >= MIN_INTERVAL => interval,
            Some(interval) => {
                return Err(ConfigError::InvalidValue {
                    var: "TelemetryBuilder::with_process_metrics_interval",
                    value: format!("{interval:?}"),
                    expected: "a duration of at least 100 ms",
                });
            }
            None => match var(INTERVAL_VAR)? {
                None => DEFAULT_INTERVAL,
                Some(value) => parse_interval(&value)?,
            },
        };
        Ok(Some(interval))
    }
}

/// A variable of the process environment, trimmed; `None` when unset or empty.
fn process_var(name: &'static str) -> Result<Option<String>, ConfigError> {
    match std::env::var(name) {
        Ok(value) => Ok(Some(value.trim().to_owned()).filter(|v| !v.is_empty())),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::NotUnicode { var: name }),
    }
}

fn parse_switch(value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        _ => Err(ConfigError::InvalidValue {
            var: ENABLED_VAR,
            value: value.to_owned(),
            expected: "on or off (or true, false)",
        }),
    }
}

fn parse_interval(value: &str) -> Result<Duration, ConfigError> {
    value
        .parse::<u64>()
        .ok()
        .map(Duration::from_millis)
        .filter(|interval| *interval >= MIN_INTERVAL)
        .ok_or_else(|| ConfigError::InvalidValue {
            var: INTERVAL_VAR,
            value: value.to_owned(),
            expected: "a whole number of milliseconds, at least 100",
        })
}

/// The `sdk.collector.duration` series of one collector, by outcome.
struct Durations {
    ok: Histogram,
    error: Histogram,
}

impl Durations {
    fn new(collector: &'static str) -> Self {
        let series = |result: &'static str| {
            COLLECTOR_DURATION.histogram(&[
                (sdk::COLLECTOR, collector.into()),
                (sdk::RESULT, result.into()),
            ])
        };
        Self {
            ok: series("ok"),
            error: series("error"),
        }
    }

    /// Runs one collection, catching a panic (counted as an error), and records how long
    /// it took. `collect` returns whether it succeeded, or `None` when it had nothing to
    /// collect (nothing is recorded then).
    fn time(&self, collect: impl FnOnce() -> Option<bool>) {
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(collect));
        let elapsed = started.elapsed().as_secs_f64();
        match outcome {
            Ok(None) => {}
            Ok(Some(true)) => self.ok.record(elapsed),
            Ok(Some(false)) | Err(_) => self.error.record(elapsed),
        }
    }
}

/// What one collection reads and records; shared by the thread and the guard.
struct Collection {
    process: process::ProcessSampler,
    process_durations: Durations,
    #[cfg(feature = "runtime-metrics")]
    runtime: Mutex<Option<tokio_runtime::RuntimeSampler>>,
    #[cfg(feature = "runtime-metrics")]
    runtime_durations: Durations,
}

impl Collection {
    /// The handles, registered in the current recorder; watches the Tokio runtime current
    /// on this thread, if any (feature `runtime-metrics`).
    fn new() -> Self {
        Self {
            process: process::ProcessSampler::new(),
            process_durations: Durations::new("process"),
            #[cfg(feature = "runtime-metrics")]
            runtime: Mutex::new(
                ::tokio::runtime::Handle::try_current()
                    .ok()
                    .map(tokio_runtime::RuntimeSampler::new),
            ),
            #[cfg(feature = "runtime-metrics")]
            runtime_durations: Durations::new("tokio"),
        }
    }

    fn collect_process(&self) {
        self.process_durations.time(|| self.process.sample());
    }

    fn collect(&self) {
        self.collect_process();
        #[cfg(feature = "runtime-metrics")]
        self.collect_runtime();
    }

    #[cfg(feature = "runtime-metrics")]
    fn collect_runtime(&self) {
        let mut runtime = self.runtime.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sampler) = runtime.as_mut() {
            self.runtime_durations.time(|| {
                sampler.sample();
                Some(true)
            });
        }
    }
}

/// One collection as the background thread runs it, part by part, for the `collectors`
/// benchmark in `benches/`. Not part of the API: hidden, and not covered by semver.
#[doc(hidden)]
pub struct CollectionForBench(Collection);

impl CollectionForBench {
    /// The handles, registered in the current recorder; watches the Tokio runtime current
    /// on this thread, if any (feature `runtime-metrics`).
    pub fn in_current_context() -> Self {
        Self(Collection::new())
    }

    /// One process collection: read, recorded, timed in `sdk.collector.duration`.
    pub fn collect_process(&self) {
        self.0.collect_process();
    }

    /// One sample of the watched runtime, timed in `sdk.collector.duration` (nothing
    /// without a runtime).
    #[cfg(feature = "runtime-metrics")]
    pub fn collect_runtime(&self) {
        self.0.collect_runtime();
    }
}

/// The running collection: its thread stops when this drops.
pub(crate) struct Collector {
    /// For [`Collector::watch_runtime`].
    #[cfg_attr(not(feature = "runtime-metrics"), allow(dead_code))]
    collection: Arc<Collection>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    interval: Duration,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("interval", &self.interval)
            .field("running", &self.thread.is_some())
            .finish_non_exhaustive()
    }
}

impl Collector {
    /// Collects once, then every `interval` on a background thread. Call it after the
    /// metrics recorder is installed. Watches the Tokio runtime current on this thread,
    /// if any (feature `runtime-metrics`). When the thread cannot be started, the values
    /// of this first collection stay and a warning is logged.
    pub(crate) fn start(interval: Duration) -> Self {
        let collection = Arc::new(Collection::new());
        collection.collect();
        let (stop, stopped) = mpsc::channel::<()>();
        let shared = Arc::clone(&collection);
        let thread = std::thread::Builder::new()
            .name("sdk-process-metrics".into())
            .spawn(move || {
                // The wait is the collection period; a message or the guard dropping its
                // sender ends it at once.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    shared.collect();
                }
            });
        let thread = match thread {
            Ok(thread) => Some(thread),
            Err(err) => {
                tracing::warn!(target: "sdk_core::process_metrics", error = %err, "process metrics: the collector thread could not be started; values stay at the first collection");
                None
            }
        };
        Self {
            collection,
            stop: Some(stop),
            thread,
            interval,
        }
    }

    /// Reports `handle`'s runtime from now on (instead of the one watched so far), with a
    /// first collection right away.
    #[cfg(feature = "runtime-metrics")]
    pub(crate) fn watch_runtime(&self, handle: ::tokio::runtime::Handle) {
        *self
            .collection
            .runtime
            .lock()
            .unwrap_or_else(PoisonError::into_inner) =
            Some(tokio_runtime::RuntimeSampler::new(handle));
        self.collection.collect_runtime();
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // At most one collection in progress (microseconds) to wait for.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> impl Fn(&'static str) -> Result<Option<String>, ConfigError> {
        let list: Vec<(String, String)> = list
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| Ok(list.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_on_every_ten_seconds() {
        let resolved = Settings::default().resolve_with(vars(&[])).unwrap();
        assert_eq!(resolved, Some(DEFAULT_INTERVAL));
    }

    #[test]
    fn environment_switches_and_sets_the_interval() {
        for off in ["off", "OFF", "false"] {
            let resolved = Settings::default().resolve_with(vars(&[(ENABLED_VAR, off)]));
            assert_eq!(resolved.unwrap(), None);
        }
        let resolved = Settings::default()
            .resolve_with(vars(&[(ENABLED_VAR, "on"), (INTERVAL_VAR, "250")]))
            .unwrap();
        assert_eq!(resolved, Some(Duration::from_millis(250)));
    }

    #[test]
    fn builder_wins_over_the_environment() {
        let off = Settings {
            enabled: Some(false),
            interval: None,
        };
        // Not even an invalid interval in the environment matters once it is off.
        assert_eq!(
            off.resolve_with(vars(&[(ENABLED_VAR, "on"), (INTERVAL_VAR, "x")]))
                .unwrap(),
            None
        );
        let on = Settings {
            enabled: Some(true),
            interval: Some(Duration::from_secs(2)),
        };
        assert_eq!(
            on.resolve_with(vars(&[(ENABLED_VAR, "off"), (INTERVAL_VAR, "500")]))
                .unwrap(),
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn invalid_values_name_their_variable() {
        let err = Settings::default()
            .resolve_with(vars(&[(ENABLED_VAR, "maybe")]))
            .unwrap_err();
        assert!(
            matches!(&err, ConfigError::InvalidValue { var, value, .. } if *var == ENABLED_VAR && value == "maybe"),
            "{err:?}"
        );
        for bad in ["10s", "-1", "99", "0"] {
            let err = Settings::default()
                .resolve_with(vars(&[(INTERVAL_VAR, bad)]))
                .unwrap_err();
            assert!(
                matches!(&err, ConfigError::InvalidValue { var, .. } if *var == INTERVAL_VAR),
                "{bad}: {err:?}"
            );
            assert!(err.to_string().contains(INTERVAL_VAR), "{err}");
        }
        let short = Settings {
            enabled: None,
            interval: Some(Duration::from_millis(10)),
        };
        let err = short.resolve_with(vars(&[])).unwrap_err();
        assert!(
            err.to_string()
                .contains("TelemetryBuilder::with_process_metrics_interval"),
            "{err}"
        );
    }
}
