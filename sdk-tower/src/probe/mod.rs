//! Synthetic probes (feature `probe`): HTTP and TCP checks of dependencies and
//! endpoints, run in the background and exported like Prometheus' blackbox exporter.
//!
//! ```
//! use sdk_tower::health::Health;
//! use sdk_tower::probe::{HttpProbe, Probes, TcpProbe};
//! use std::time::Duration;
//!
//! # async fn example() -> Result<(), sdk_tower::probe::ProbeError> {
//! let probes = Probes::new()
//!     .with(
//!         HttpProbe::get("orders-api", "http://orders:8080/health")
//!             .interval(Duration::from_secs(10))
//!             .timeout(Duration::from_secs(2))
//!             .expect_body("ok"),
//!     )
//!     .with(TcpProbe::new("postgres", "db:5432"))
//!     .spawn()?; // on the current Tokio runtime; the probes stop when `probes` is dropped
//! let health = probes.statuses().fold(Health::new(), |health, probe| health.with_check(probe));
//! # let _ = health;
//! # Ok(())
//! # }
//! ```
//!
//! [`Probes::spawn`] starts one task for the set on the current runtime. Each probe runs
//! on its own `tokio::time::interval` (first run at once; a run that overruns delays the
//! next rather than bunching them), one run at a time, each bounded by its timeout.
//! After every run the catalogue's gauges hold its outcome, labelled by the probe's name
//! (never its URL):
//!
//! - `probe_success{sdk_probe}` 1 or 0 and `probe_duration_seconds{sdk_probe}`;
//! - HTTP only: `probe_http_duration_seconds{sdk_probe, sdk_probe_phase}` for the phases
//!   `resolve`, `connect`, `tls` (always 0), `processing` (request written → response head)
//!   and `transfer` (body read), a phase not reached being 0, and
//!   `probe_http_status_code{sdk_probe}` (0 without a response);
//! - `sdk.collector.duration{sdk.collector="probe", sdk.result="ok"|"fail"}` per run.
//!
//! Only `http://` is probed: an `https://` URL is refused by [`Probes::spawn`]
//! ([`ProbeError::UnsupportedScheme`]) rather than silently probed without TLS; a
//! [`TcpProbe`] of the TLS port checks that it accepts connections. An HTTP probe reads
//! at most [`MAX_BODY_BYTES`] of the body. A probe is failing as soon as one run fails;
//! the change is logged once (warn), as is the recovery (info), with the probe's name and
//! the reason, never the URL, its credentials or its query.
//!
//! [`RunningProbes::status`] hands out a [`ProbeStatus`]: the latest [`ProbeRun`], and a
//! readiness check ([`HealthCheck`](crate::health::HealthCheck)) that reads it without
//! running the probe.

mod declare;
mod error;
mod http;
mod status;

pub use declare::{DEFAULT_INTERVAL, DEFAULT_TIMEOUT, HttpProbe, MAX_BODY_BYTES, TcpProbe};
pub use error::ProbeError;
pub use status::{HttpPhases, ProbeFailure, ProbeRun, ProbeStatus};

use declare::{ProbeSpec, Target};
use metrics::SharedString;
use sdk_core::catalogue::{
    COLLECTOR_DURATION, PROBE_DURATION, PROBE_HTTP_DURATION, PROBE_HTTP_STATUS_CODE, PROBE_SUCCESS,
};
use sdk_core::semconv::sdk;
use status::ProbeState;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;
use tokio::time::MissedTickBehavior;

/// One declared probe, HTTP or TCP (see [`Probes::with`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Probe {
    /// An HTTP probe.
    Http(HttpProbe),
    /// A TCP probe.
    Tcp(TcpProbe),
}

impl From<HttpProbe> for Probe {
    fn from(probe: HttpProbe) -> Self {
        Self::Http(probe)
    }
}

impl From<TcpProbe> for Probe {
    fn from(probe: TcpProbe) -> Self {
        Self::Tcp(probe)
    }
}

/// A set of probes to run together (see the [module docs](self)).
#[derive(Debug, Clone, Default)]
pub struct Probes {
    probes: Vec<Probe>,
}

impl Probes {
    /// No probes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a probe.
    pub fn with(mut self, probe: impl Into<Probe>) -> Self {
        self.probes.push(probe.into());
        self
    }

    /// Checks every declaration, then runs the probes on the current Tokio runtime until
    /// the returned handle is dropped.
    ///
    /// # Errors
    ///
    /// The first declaration that cannot run ([`ProbeError`] names the probe and the
    /// setting), or [`ProbeError::NoRuntime`] outside a Tokio runtime.
    pub fn spawn(self) -> Result<RunningProbes, ProbeError> {
        let specs = self
            .probes
            .into_iter()
            .map(|probe| match probe {
                Probe::Http(probe) => probe.into_spec(),
                Probe::Tcp(probe) => probe.into_spec(),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut names = HashSet::new();
        for spec in &specs {
            if !names.insert(Arc::clone(&spec.name)) {
                return Err(ProbeError::DuplicateName {
                    probe: spec.name.to_string(),
                });
            }
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ProbeError::NoRuntime)?;
        let states: Vec<Arc<ProbeState>> = specs
            .iter()
            .map(|spec| Arc::new(ProbeState::new(Arc::clone(&spec.name), spec.interval)))
            .collect();
        let loops: Vec<_> = specs
            .into_iter()
            .zip(states.iter().cloned())
            .map(|(spec, state)| run_forever(spec, state))
            .collect();
        let task = runtime.spawn(async move {
            futures_util::future::join_all(loops).await;
        });
        Ok(RunningProbes { task, states })
    }
}

/// The running probes; dropping it stops them (a run in flight is abandoned and not
/// recorded) and their [`ProbeStatus`] checks then fail.
#[derive(Debug)]
#[must_use = "the probes stop when this handle is dropped"]
pub struct RunningProbes {
    task: tokio::task::JoinHandle<()>,
    states: Vec<Arc<ProbeState>>,
}

impl RunningProbes {
    /// The probe named `name`.
    pub fn status(&self, name: &str) -> Option<ProbeStatus> {
        self.states
            .iter()
            .find(|state| &*state.name == name)
            .map(|state| ProbeStatus {
                state: Arc::clone(state),
            })
    }

    /// Every probe, in declaration order.
    pub fn statuses(&self) -> impl Iterator<Item = ProbeStatus> + '_ {
        self.states.iter().map(|state| ProbeStatus {
            state: Arc::clone(state),
        })
    }
}

impl Drop for RunningProbes {
    fn drop(&mut self) {
        for state in &self.states {
            state.stop();
        }
        self.task.abort();
    }
}

async fn run_forever(spec: ProbeSpec, state: Arc<ProbeState>) {
    let mut ticks = tokio::time::interval(spec.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if run_and_record(&spec, &state).await.is_none() {
            return;
        }
    }
}

/// One tick of a probe's loop: runs it, keeps the run, records it and logs a change;
/// `None` (nothing recorded) once the probes are stopped.
async fn run_and_record(spec: &ProbeSpec, state: &ProbeState) -> Option<ProbeRun> {
    let run = run_once(spec).await;
    let previous = state.commit(run.clone())?;
    record(&spec.name, &run);
    log_change(&spec.name, previous, &run);
    Some(run)
}

/// One probe, run on demand as one tick of the background task runs it (the run, its
/// status, gauges and `sdk.collector.duration`), for the `collectors` benchmark in
/// `benches/`. Not part of the API: hidden, and not covered by semver.
#[doc(hidden)]
#[derive(Debug)]
pub struct ProbeRunner {
    spec: ProbeSpec,
    state: ProbeState,
}

impl ProbeRunner {
    /// Checks `probe` as [`Probes::spawn`] does.
    pub fn new(probe: impl Into<Probe>) -> Result<Self, ProbeError> {
        let spec = match probe.into() {
            Probe::Http(probe) => probe.into_spec(),
            Probe::Tcp(probe) => probe.into_spec(),
        }?;
        let state = ProbeState::new(Arc::clone(&spec.name), spec.interval);
        Ok(Self { spec, state })
    }

    /// Runs the probe once and records the run.
    pub async fn run_once(&self) -> Option<ProbeRun> {
        run_and_record(&self.spec, &self.state).await
    }
}

async fn run_once(spec: &ProbeSpec) -> ProbeRun {
    let started = Instant::now();
    let (outcome, status_code, phases) = match &spec.target {
        Target::Http(target) => {
            let mut trace = http::HttpTrace::default();
            let outcome = tokio::time::timeout(spec.timeout, http::run(target, &mut trace)).await;
            (outcome, trace.status, Some(trace.phases))
        }
        Target::Tcp { host, port } => {
            let outcome = tokio::time::timeout(spec.timeout, connect(host, *port)).await;
            (outcome, None, None)
        }
    };
    let failure = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(failure)) => Some(failure),
        Err(_elapsed) => Some(ProbeFailure::Timeout(spec.timeout)),
    };
    let finished_at = Instant::now();
    ProbeRun {
        success: failure.is_none(),
        duration: finished_at - started,
        status_code,
        phases,
        failure,
        finished_at,
    }
}

/// One TCP probe run: resolve, connect, close.
async fn connect(host: &str, port: u16) -> Result<(), ProbeFailure> {
    let address = tokio::net::lookup_host((host, port))
        .await
        .map_err(|err| ProbeFailure::Resolve(err.to_string()))?
        .next()
        .ok_or(ProbeFailure::NoAddress)?;
    tokio::net::TcpStream::connect(address)
        .await
        .map(drop)
        .map_err(|err| ProbeFailure::Connect(err.to_string()))
}

fn record(name: &Arc<str>, run: &ProbeRun) {
    let probe = || (sdk::PROBE, SharedString::from_shared(Arc::clone(name)));
    PROBE_SUCCESS
        .gauge(&[probe()])
        .set(if run.success { 1.0 } else { 0.0 });
    PROBE_DURATION
        .gauge(&[probe()])
        .set(run.duration.as_secs_f64());
    if let Some(phases) = &run.phases {
        for (phase, duration) in phases.labelled() {
            PROBE_HTTP_DURATION
                .gauge(&[probe(), (sdk::PROBE_PHASE, SharedString::const_str(phase))])
                .set(duration.as_secs_f64());
        }
        PROBE_HTTP_STATUS_CODE
            .gauge(&[probe()])
            .set(run.status_code.map_or(0.0, f64::from));
    }
    let result = if run.success { "ok" } else { "fail" };
    COLLECTOR_DURATION
        .histogram(&[
            (sdk::COLLECTOR, SharedString::const_str("probe")),
            (sdk::RESULT, SharedString::const_str(result)),
        ])
        .record(run.duration.as_secs_f64());
}

/// Logs when a probe starts failing (including a first run that fails) or recovers.
fn log_change(name: &str, previous: Option<bool>, run: &ProbeRun) {
    match (&run.failure, previous) {
        (Some(failure), Some(true) | None) => tracing::warn!(
            target: "sdk_tower::probe",
            probe = name,
            reason = %failure,
            "probe failing"
        ),
        (None, Some(false)) => tracing::info!(
            target: "sdk_tower::probe",
            probe = name,
            "probe passing again"
        ),
        _ => {}
    }
}
