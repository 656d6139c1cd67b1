//! Datadog dashboards and monitors (API v1 JSON) for the same signals as the Prometheus
//! rules, queried by the names the DogStatsD exporter emits.
//!
//! # What reaches Datadog
//!
//! The DogStatsD exporter (`sdk_core::export::dogstatsd`) sends every catalogue metric
//! under its OpenTelemetry name (`http.server.request.duration`, no prefix), its labels
//! as tags with the same keys (`http.route:/users/{id}`), and the unified `service`,
//! `env` and `version` tags; counters as DogStatsD counts, gauges and up-down counters as
//! gauges, histograms as distributions. The queries follow from that:
//!
//! - they select the service by its `service` tag (the dashboard by its `service` and
//!   `env` template variables), not by the spec's Prometheus `selector`;
//! - a histogram's events are counted with `count:`, a counter's with `sum:`, as
//!   `.as_count()` in ratios and `.as_rate()` in rates;
//! - percentiles (`p95:`) and the latency SLI's threshold query (`count(v: v>0.25):`)
//!   read distributions with *percentiles and threshold queries* enabled: turn them on
//!   in Datadog's Metrics Summary for `http.server.request.duration`,
//!   `db.client.operation.duration`, the `browser.web_vital.*` metrics and any other
//!   histogram whose percentiles the dashboard shows;
//! - tag values in filters are written as Datadog stores them: lower case, with
//!   characters outside letters, digits and `_-:./` turned into `_` (`LCP` → `lcp`,
//!   `/users/{id}` → `/users/_id_`).
//!
//! # What is generated
//!
//! - `datadog/<service>-dashboard.json`: the dashboard, for
//!   `POST /api/v1/dashboard`.
//! - `datadog/<service>-monitors.json`: an array of monitors, each for
//!   `POST /api/v1/monitor`, named as the Prometheus alerts they stand for.
//!
//! Both are written with sorted keys, so a spec generates the same bytes every time.

mod dashboard;
mod monitors;
mod query;
mod slo;
mod widgets;

use super::spec::Spec;
use super::{GeneratedFile, OpsError};
use serde_json::{Map, Value};

/// `value` with every object's keys in sorted order, whatever `serde_json`'s features
/// (with `preserve_order` a map keeps insertion order).
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted(v)))
                    .collect::<Map<String, Value>>(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn json_file(path: String, value: Value) -> Result<GeneratedFile, OpsError> {
    let text = serde_json::to_string_pretty(&sorted(value))
        .map_err(|e| OpsError::Serialize(format!("{path}: {e}")))?;
    Ok(GeneratedFile {
        path,
        contents: text + "\n",
    })
}

/// The Datadog files generated for `spec` (paths under `datadog/`).
pub(crate) fn files(spec: &Spec) -> Result<Vec<GeneratedFile>, OpsError> {
    Ok(vec![
        json_file(
            format!("datadog/{}-dashboard.json", spec.service),
            dashboard::dashboard(spec),
        )?,
        json_file(
            format!("datadog/{}-monitors.json", spec.service),
            monitors::monitors(spec),
        )?,
    ])
}
