//! The process part: the standard Prometheus process metrics of this process.
//!
//! The numbers come from [`metrics_process::collector::collect`] (crate `metrics-process`,
//! Linux only here, with its default `metrics-rs` feature off). That function returns the
//! raw values of the Prometheus client library guidelines — resident and virtual memory,
//! CPU seconds as `f64`, open and maximum descriptors, threads, start time — read from
//! `/proc/self/stat`, `/proc/self/limits` and `/proc/self/fd` through `procfs`, without
//! registering anything with the `metrics` facade, so the catalogue stays the only place
//! that names a metric. Reading `procfs` ourselves would repeat the same three reads and
//! the tick and boot-time arithmetic; `sysinfo` refreshes a whole system table to get one
//! process and has no descriptor counts.

#[cfg(target_os = "linux")]
mod linux {
    use crate::catalogue::{
        PROCESS_CPU, PROCESS_MAX_FDS, PROCESS_OPEN_FDS, PROCESS_RESIDENT_MEMORY,
        PROCESS_START_TIME, PROCESS_THREADS, PROCESS_VIRTUAL_MEMORY,
    };
    use metrics::{Counter, Gauge};

    /// The handles the process values are recorded into, registered once.
    pub(in crate::process_metrics) struct ProcessSampler {
        cpu: Counter,
        resident: Gauge,
        virtual_memory: Gauge,
        open_fds: Gauge,
        max_fds: Gauge,
        threads: Gauge,
        start_time: Gauge,
    }

    impl ProcessSampler {
        pub(in crate::process_metrics) fn new() -> Self {
            Self {
                cpu: PROCESS_CPU.counter(&[]),
                resident: PROCESS_RESIDENT_MEMORY.gauge(&[]),
                virtual_memory: PROCESS_VIRTUAL_MEMORY.gauge(&[]),
                open_fds: PROCESS_OPEN_FDS.gauge(&[]),
                max_fds: PROCESS_MAX_FDS.gauge(&[]),
                threads: PROCESS_THREADS.gauge(&[]),
                start_time: PROCESS_START_TIME.gauge(&[]),
            }
        }

        /// Reads and records every value; `Some(false)` when one could not be read (the
        /// others are still recorded).
        pub(in crate::process_metrics) fn sample(&self) -> Option<bool> {
            let values = metrics_process::collector::collect();
            let mut complete = true;
            match values.cpu_seconds_total {
                // Whole seconds: `metrics` counters are integers (see the module docs).
                // `absolute` keeps the largest value, so the counter never goes back.
                Some(seconds) if seconds.is_finite() && seconds >= 0.0 => {
                    self.cpu.absolute(seconds as u64);
                }
                _ => complete = false,
            }
            let gauges = [
                (&self.resident, values.resident_memory_bytes),
                (&self.virtual_memory, values.virtual_memory_bytes),
                (&self.open_fds, values.open_fds),
                (&self.threads, values.threads),
                (&self.start_time, values.start_time_seconds),
            ];
            for (gauge, value) in gauges {
                match value {
                    Some(value) => gauge.set(value as f64),
                    None => complete = false,
                }
            }
            match values.max_fds {
                // 0 stands for "unlimited": no number to report.
                Some(0) => {}
                Some(limit) => self.max_fds.set(limit as f64),
                None => complete = false,
            }
            Some(complete)
        }
    }
}

#[cfg(target_os = "linux")]
pub(super) use linux::ProcessSampler;

/// Other platforms: nothing is read and nothing recorded.
#[cfg(not(target_os = "linux"))]
pub(super) struct ProcessSampler;

#[cfg(not(target_os = "linux"))]
impl ProcessSampler {
    pub(super) fn new() -> Self {
        Self
    }

    pub(super) fn sample(&self) -> Option<bool> {
        None
    }
}
