//! One profile: the process-wide claim, the sampling window and the report.
//!
//! The profiler is process-wide (one `SIGPROF` handler, one interval timer), so the claim
//! is too: every [`ProfileRoute`](super::ProfileRoute) of the process shares it. Whatever
//! ends a profile (the window elapsing, an error, or the request's future being dropped
//! because the client went away) drops the [`Sampling`], which stops the profiler and then
//! releases the claim.

use super::query::Format;
use pprof::protos::Message as _;
use pprof::{Frames, ProfilerGuard, ProfilerGuardBuilder, Report};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Whether a profile is being taken in this process.
static CLAIMED: AtomicBool = AtomicBool::new(false);

/// The right to profile; released when dropped.
#[derive(Debug)]
pub(super) struct Claim(());

impl Claim {
    /// The claim, unless another profile holds it.
    pub(super) fn try_acquire() -> Option<Self> {
        CLAIMED
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| Self(()))
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        CLAIMED.store(false, Ordering::Release);
    }
}

/// Why a profile failed.
#[derive(Debug)]
pub(super) enum ProfileError {
    /// The profiler was started by other code of the process (pprof's own API).
    Busy,
    /// The profiler could not start, or its samples could not be read or rendered.
    Failed(String),
}

/// A running profiler and the claim it holds. Fields drop in order: the profiler stops
/// before the claim is released.
struct Sampling {
    guard: ProfilerGuard<'static>,
    _claim: Claim,
}

/// Libraries whose frames are skipped when a signal lands in them: unwinding from inside
/// them can deadlock, and vDSO unwind information is unreliable (pprof-rs' advice).
const BLOCKLIST: [&str; 4] = ["libc", "libgcc", "pthread", "vdso"];

/// Samples the whole process at `frequency` Hz for `window`, then renders `format`.
/// Starting the profiler (its first backtrace loads debug information) and building the
/// report (symbolization) run on the blocking pool; the window is a timer.
pub(super) async fn profile(
    claim: Claim,
    window: Duration,
    frequency: i32,
    format: Format,
) -> Result<Vec<u8>, ProfileError> {
    let started = tokio::task::spawn_blocking(move || {
        let guard = ProfilerGuardBuilder::default()
            .frequency(frequency)
            .blocklist(&BLOCKLIST)
            .build();
        guard.map(|guard| Sampling {
            guard,
            _claim: claim,
        })
    })
    .await;
    let sampling = match started {
        Ok(Ok(sampling)) => sampling,
        Ok(Err(pprof::Error::Running)) => return Err(ProfileError::Busy),
        Ok(Err(error)) => {
            return Err(ProfileError::Failed(format!(
                "the profiler did not start: {error}"
            )));
        }
        Err(_) => return Err(ProfileError::Failed("the profiler did not start".into())),
    };
    tokio::time::sleep(window).await;
    let seconds = window.as_secs();
    let rendered = tokio::task::spawn_blocking(move || {
        let unresolved = sampling.guard.report().build_unresolved();
        drop(sampling);
        let unresolved = unresolved
            .map_err(|error| ProfileError::Failed(format!("no samples read: {error}")))?;
        let mut data: HashMap<Frames, isize> = HashMap::with_capacity(unresolved.data.len());
        for (frames, count) in unresolved.data {
            *data.entry(Frames::from(frames)).or_default() += count;
        }
        let report = Report {
            data,
            timing: unresolved.timing,
        };
        render(&report, format, seconds, frequency)
    })
    .await;
    rendered.unwrap_or_else(|_| Err(ProfileError::Failed("the report panicked".into())))
}

fn render(
    report: &Report,
    format: Format,
    seconds: u64,
    frequency: i32,
) -> Result<Vec<u8>, ProfileError> {
    match format {
        Format::Pprof => report
            .pprof()
            .map(|profile| profile.encode_to_vec())
            .map_err(|error| ProfileError::Failed(format!("pprof encoding failed: {error}"))),
        Format::Svg => {
            let title = format!("CPU, {seconds} s at {frequency} Hz");
            if report.data.is_empty() {
                return Ok(empty_flame_graph(&title).into_bytes());
            }
            let mut options = pprof::flamegraph::Options::default();
            options.title = title;
            options.count_name = "samples".to_owned();
            let mut svg = Vec::new();
            report
                .flamegraph_with_options(&mut svg, &mut options)
                .map_err(|error| ProfileError::Failed(format!("flame graph failed: {error}")))?;
            Ok(svg)
        }
    }
}

/// A valid SVG saying there is nothing to draw (an idle process takes no CPU samples).
fn empty_flame_graph(title: &str) -> String {
    format!(
        "<?xml version=\"1.0\" standalone=\"no\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"60\">\
         <text x=\"300\" y=\"24\" text-anchor=\"middle\">{title}</text>\
         <text x=\"300\" y=\"48\" text-anchor=\"middle\">no CPU samples: the process was idle</text>\
         </svg>\n"
    )
}
