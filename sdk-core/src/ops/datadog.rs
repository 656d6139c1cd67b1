//! Datadog dashboards and monitors (API v1 JSON) for the same signals as the Prometheus
//! rules, queried by the names the DogStatsD exporter emits.

use super::spec::Spec;
use super::{GeneratedFile, OpsError};

/// The Datadog files generated for `spec` (paths under `datadog/`).
pub(crate) fn files(_spec: &Spec) -> Result<Vec<GeneratedFile>, OpsError> {
    Ok(Vec::new())
}
