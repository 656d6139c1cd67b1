//! Propagation formats from `OTEL_PROPAGATORS` / `DD_TRACE_PROPAGATION_STYLE`.

use crate::propagation::PropagationFormat;

pub(super) const PROPAGATORS_EXPECTED: &str =
    "a comma-separated list of tracecontext, baggage, datadog, b3, b3multi, or none";

pub(super) fn parse_propagator(value: &str) -> Option<PropagationFormat> {
    match value {
        "b3 single header" => Some(PropagationFormat::B3),
        _ => PropagationFormat::ALL
            .into_iter()
            .find(|f| f.name() == value),
    }
}
