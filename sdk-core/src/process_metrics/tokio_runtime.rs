//! The runtime part: one Tokio runtime's stable [`RuntimeMetrics`].
//!
//! `tokio-metrics` was the alternative; its `RuntimeMonitor` computes the same busy ratio
//! from the same stable calls, but its blocking-thread count is also behind
//! `tokio_unstable`, so it would add a dependency without adding a number.
//!
//! Blocking threads: with `--cfg tokio_unstable`, tokio's own count. On stable Linux the
//! count is read from the thread names instead: Tokio names its worker and blocking
//! threads `tokio-rt-worker` (`tokio-runtime-worker` in earlier versions) unless the runtime was
//! built with another `thread_name`, so the threads of that name (in
//! `/proc/self/task/*/comm`, where a name is cut to 15 bytes) less the watched runtime's
//! workers are its blocking threads.
//! Another runtime in the process with the default names adds its threads to the count;
//! a runtime with its own thread names reports none. Elsewhere, nothing is recorded.
//!
//! [`RuntimeMetrics`]: tokio::runtime::RuntimeMetrics

// `tokio_unstable` is tokio's own cfg, set by the application's `RUSTFLAGS`; the
// workspace's check-cfg list does not know it.
#![allow(unexpected_cfgs)]

use crate::catalogue::{
    TOKIO_ALIVE_TASKS, TOKIO_BUSY_RATIO, TOKIO_GLOBAL_QUEUE_DEPTH, TOKIO_WORKERS,
};
use metrics::Gauge;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

/// The previous collection, for the busy ratio over the interval.
struct Previous {
    at: Instant,
    workers: usize,
    busy: Duration,
}

/// Samples one runtime into the `sdk.runtime.tokio.*` gauges.
pub(super) struct RuntimeSampler {
    handle: Handle,
    previous: Option<Previous>,
    workers: Gauge,
    busy_ratio: Gauge,
    global_queue_depth: Gauge,
    alive_tasks: Gauge,
    #[cfg(any(tokio_unstable, target_os = "linux"))]
    blocking_threads: Gauge,
}

impl RuntimeSampler {
    pub(super) fn new(handle: Handle) -> Self {
        Self {
            handle,
            previous: None,
            workers: TOKIO_WORKERS.gauge(&[]),
            busy_ratio: TOKIO_BUSY_RATIO.gauge(&[]),
            global_queue_depth: TOKIO_GLOBAL_QUEUE_DEPTH.gauge(&[]),
            alive_tasks: TOKIO_ALIVE_TASKS.gauge(&[]),
            #[cfg(any(tokio_unstable, target_os = "linux"))]
            blocking_threads: crate::catalogue::TOKIO_BLOCKING_THREADS.gauge(&[]),
        }
    }

    /// Records the runtime's gauges. The busy ratio needs two collections: it is the
    /// workers' busy time between them over `workers × elapsed`, from the second on.
    pub(super) fn sample(&mut self) {
        let metrics = self.handle.metrics();
        let workers = metrics.num_workers();
        self.workers.set(workers as f64);
        self.global_queue_depth
            .set(metrics.global_queue_depth() as f64);
        self.alive_tasks.set(metrics.num_alive_tasks() as f64);
        #[cfg(tokio_unstable)]
        self.blocking_threads
            .set(metrics.num_blocking_threads() as f64);
        #[cfg(all(not(tokio_unstable), target_os = "linux"))]
        if let Some(named) = default_named_threads() {
            // A current-thread runtime's worker is the thread that drives it, whatever
            // its name: only a multi-thread runtime's workers carry the default name.
            let own_workers = match self.handle.runtime_flavor() {
                tokio::runtime::RuntimeFlavor::CurrentThread => 0,
                _ => workers,
            };
            self.blocking_threads
                .set(named.saturating_sub(own_workers) as f64);
        }
        self.sample_busy_ratio(&metrics, workers);
    }

    /// Per-worker busy durations need 64-bit atomics in tokio.
    #[cfg(target_has_atomic = "64")]
    fn sample_busy_ratio(&mut self, metrics: &tokio::runtime::RuntimeMetrics, workers: usize) {
        let at = Instant::now();
        let busy: Duration = (0..workers)
            .map(|worker| metrics.worker_total_busy_duration(worker))
            .sum();
        if let Some(previous) = self.previous.take()
            && previous.workers == workers
            && workers > 0
        {
            let elapsed = at.saturating_duration_since(previous.at).as_secs_f64();
            if elapsed > 0.0 {
                // A worker submits its busy time when it parks, so an interval can get
                // a little more than its share; the ratio is capped at 1.
                let busy = busy.saturating_sub(previous.busy).as_secs_f64();
                let ratio = busy / (workers as f64 * elapsed);
                self.busy_ratio.set(ratio.clamp(0.0, 1.0));
            }
        }
        self.previous = Some(Previous { at, workers, busy });
    }

    #[cfg(not(target_has_atomic = "64"))]
    fn sample_busy_ratio(&mut self, _: &tokio::runtime::RuntimeMetrics, _: usize) {}
}

/// Threads of this process named as Tokio names its threads by default, from
/// `/proc/self/task/*/comm`; `None` when `/proc` cannot be read.
#[cfg(all(not(tokio_unstable), target_os = "linux"))]
fn default_named_threads() -> Option<usize> {
    // `comm` holds at most 15 bytes of the name, then a newline: Tokio's default name, and
    // its earlier default (`tokio-runtime-worker`) cut to 15 bytes.
    const NAMES: [&[u8]; 2] = [b"tokio-rt-worker", b"tokio-runtime-w"];
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    let mut named = 0;
    for task in tasks.flatten() {
        // A thread that ended since the listing has no `comm` any more: not counted.
        if let Ok(comm) = std::fs::read(task.path().join("comm"))
            && NAMES.contains(&comm.strip_suffix(b"\n").unwrap_or(&comm))
        {
            named += 1;
        }
    }
    Some(named)
}
