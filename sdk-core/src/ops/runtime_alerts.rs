//! Alerts on the process, its Tokio runtime and what it depends on — a failing
//! synthetic probe, a Redis server evicting at its memory limit, file descriptors near
//! their limit, saturated Tokio workers — each with the scenarios its generated
//! `promtool` test runs.
//!
//! Their pending periods are fixed, not the spec's `alerts.for`: a probe that fails for
//! two minutes is an outage whatever the request alerts wait, and a busy runtime or a
//! Redis server at its limit is only a finding once it lasts. The thresholds are the
//! spec's (`alerts.redis_memory_ratio`, `alerts.fds_ratio`, `alerts.tokio_busy_ratio`;
//! `null` switches one off).
//!
//! Server-side series (Redis `INFO`) are read by every instance of the service, so they
//! are combined with `max`, never summed.

use super::alerts::{Alert, Scenario, camel, expected, labels_of};
use super::promql::{INSTANCE, label, matchers, num};
use super::runbook::Triage;
use super::spec::{Spec, Window};
use super::tests::{Series, counter, gauge};
use crate::catalogue::{
    MetricDef, PROBE_SUCCESS, PROCESS_MAX_FDS, PROCESS_OPEN_FDS, REDIS_SERVER_KEYS_EVICTED,
    REDIS_SERVER_MEMORY_MAX, REDIS_SERVER_MEMORY_USED, TOKIO_BUSY_RATIO,
};
use crate::semconv::{sdk, server};

/// How long a probe fails before it alerts.
const PROBE_FOR: u64 = 120;
/// How long a Redis server evicts at its limit before it alerts.
const REDIS_FOR: u64 = 600;
/// How long file descriptors stay near their limit before they alert.
const FDS_FOR: u64 = 300;
/// How long the Tokio workers stay saturated before they alert.
const TOKIO_FOR: u64 = 600;
/// Input beyond the pending period, so a scenario is judged on settled values.
const MARGIN: u64 = 300;

fn by(keys: &[&str]) -> String {
    keys.iter().map(|k| label(k)).collect::<Vec<_>>().join(", ")
}

/// The alerts on the process, the runtime and the dependencies' servers.
pub(crate) fn runtime_alerts(spec: &Spec) -> Vec<Alert> {
    let t = &spec.alerts;
    let prefix = camel(&spec.service);
    let svc = &spec.service;
    let sel = matchers(&spec.selector, &[]);
    let level = |def: &MetricDef, extra: &[(&str, &str)], value: f64| {
        gauge(&def.prometheus_name(), &labels_of(spec, extra), value)
    };
    let mut alerts = Vec::new();

    let probe = [(sdk::PROBE, "home")];
    let probe_label = label(sdk::PROBE);
    let probe_for = Window::from_seconds(PROBE_FOR);
    alerts.push(Alert::new(
        spec,
        &format!("{prefix}ProbeFailing"),
        format!(
            "min by ({probe_label}) ({}{sel}) == 0",
            PROBE_SUCCESS.prometheus_name()
        ),
        Some(&probe_for),
        "critical",
        format!("{svc} probe {{{{ $labels.{probe_label} }}}} fails"),
        format!(
            "The last run of the synthetic probe {{{{ $labels.{probe_label} }}}} has failed on at least one {svc} instance at every evaluation for {}: what it checks is down or unreachable from there.",
            probe_for.as_str()
        ),
        Scenario {
            series: vec![level(&PROBE_SUCCESS, &probe, 0.0)],
            labels: expected(&probe, None),
        },
        vec![level(&PROBE_SUCCESS, &probe, 1.0)],
        // No probe has run yet: nothing to judge.
        Vec::new(),
        PROBE_FOR + MARGIN,
    ).triage(Triage::ProbeFailing));

    if let Some(threshold) = t.redis_memory_ratio {
        let redis = [(server::ADDRESS, "cache"), (server::PORT, "6379")];
        let keys = by(&[server::ADDRESS, server::PORT]);
        let max = |expr: String| format!("max by ({keys}) ({expr})");
        let w = spec.rate_window.as_str();
        let redis_for = Window::from_seconds(REDIS_FOR);
        let server_at = format!(
            "{{{{ $labels.{} }}}}:{{{{ $labels.{} }}}}",
            label(server::ADDRESS),
            label(server::PORT)
        );
        let state = |evicted_per_minute: f64, used: f64, limit: f64| -> Vec<Series> {
            vec![
                counter(
                    &REDIS_SERVER_KEYS_EVICTED.prometheus_name(),
                    &labels_of(spec, &redis),
                    evicted_per_minute,
                ),
                level(&REDIS_SERVER_MEMORY_USED, &redis, used),
                level(&REDIS_SERVER_MEMORY_MAX, &redis, limit),
            ]
        };
        alerts.push(Alert::new(
            spec,
            &format!("{prefix}RedisEvicting"),
            format!(
                "{} > 0\nand on ({keys})\n{}\n/\n({} > 0)\n> {}",
                max(format!(
                    "rate({}{sel}[{w}])",
                    REDIS_SERVER_KEYS_EVICTED.prometheus_name()
                )),
                max(format!("{}{sel}", REDIS_SERVER_MEMORY_USED.prometheus_name())),
                max(format!("{}{sel}", REDIS_SERVER_MEMORY_MAX.prometheus_name())),
                num(threshold)
            ),
            Some(&redis_for),
            "warning",
            format!("Redis {server_at} evicts keys"),
            format!(
                "The Redis server {server_at} used by {svc} has been evicting keys with its memory over {} % of its limit for {}: cached values are lost before they expire.",
                num(threshold * 100.0),
                redis_for.as_str()
            ),
            Scenario {
                series: state(60.0, 100.0 * (1.0 + threshold) / 2.0, 100.0),
                labels: expected(&redis, None),
            },
            // Evicting, but the limit was raised.
            state(60.0, 100.0 * threshold / 2.0, 100.0),
            // No limit (maxmemory 0), nothing evicted.
            state(0.0, 100.0, 0.0),
            spec.rate_window.seconds() + REDIS_FOR + MARGIN,
        ).triage(Triage::RedisEvicting));
    }

    let process = [(INSTANCE, "10.0.0.1:9464")];
    if let Some(threshold) = t.fds_ratio {
        let fds_for = Window::from_seconds(FDS_FOR);
        let fds = |open: f64, limit: f64| {
            vec![
                level(&PROCESS_OPEN_FDS, &process, open),
                level(&PROCESS_MAX_FDS, &process, limit),
            ]
        };
        alerts.push(Alert::new(
            spec,
            &format!("{prefix}ProcessFdsNearLimit"),
            format!(
                "max by ({INSTANCE}) (\n  {}{sel}\n  /\n  ({}{sel} > 0)\n)\n> {}",
                PROCESS_OPEN_FDS.prometheus_name(),
                PROCESS_MAX_FDS.prometheus_name(),
                num(threshold)
            ),
            Some(&fds_for),
            "warning",
            format!("{svc} {{{{ $labels.{INSTANCE} }}}} runs out of file descriptors"),
            format!(
                "{svc} at {{{{ $labels.{INSTANCE} }}}} has held more than {} % of its file-descriptor limit for {}: new connections and files will soon fail to open.",
                num(threshold * 100.0),
                fds_for.as_str()
            ),
            Scenario {
                series: fds(1000.0 * (1.0 + threshold) / 2.0, 1000.0),
                labels: expected(&process, None),
            },
            fds(1000.0 * threshold / 2.0, 1000.0),
            fds(0.0, 1000.0),
            FDS_FOR + MARGIN,
        ).triage(Triage::FdsNearLimit));
    }

    if let Some(threshold) = t.tokio_busy_ratio {
        let tokio_for = Window::from_seconds(TOKIO_FOR);
        alerts.push(Alert::new(
            spec,
            &format!("{prefix}TokioWorkersSaturated"),
            format!(
                "max by ({INSTANCE}) ({}{sel}) > {}",
                TOKIO_BUSY_RATIO.prometheus_name(),
                num(threshold)
            ),
            Some(&tokio_for),
            "warning",
            format!("{svc} {{{{ $labels.{INSTANCE} }}}} has no idle Tokio worker"),
            format!(
                "The Tokio workers of {svc} at {{{{ $labels.{INSTANCE} }}}} have been busy more than {} % of the time for {}: tasks queue and latency grows; look for blocking calls on the workers or add capacity.",
                num(threshold * 100.0),
                tokio_for.as_str()
            ),
            Scenario {
                series: vec![level(&TOKIO_BUSY_RATIO, &process, (1.0 + threshold) / 2.0)],
                labels: expected(&process, None),
            },
            vec![level(&TOKIO_BUSY_RATIO, &process, threshold / 2.0)],
            vec![level(&TOKIO_BUSY_RATIO, &process, 0.0)],
            TOKIO_FOR + MARGIN,
        ).triage(Triage::TokioSaturated));
    }
    alerts
}
