//! The SLO section of the dashboard: per SLO, the SLI against its objective, and over
//! the SLO period the SLI and the error budget left.

use super::super::promql::num;
use super::super::spec::{Slo, Spec};
use super::query::{Scope, counting};
use super::widgets::{fraction, marker, query_value, request, timeseries};
use serde_json::{Value, json};

/// The dashboard's time frame for the SLO period (`{type: live, value: 30, unit: day}`).
fn period_span(spec: &Spec) -> Value {
    let seconds = spec.period.seconds();
    let (value, unit) = [(86_400, "day"), (3600, "hour"), (60, "minute")]
        .iter()
        .find(|(scale, _)| seconds.is_multiple_of(*scale))
        .map_or((seconds.div_ceil(60), "minute"), |(scale, unit)| {
            (seconds / scale, *unit)
        });
    json!({"type": "live", "value": value, "unit": unit})
}

/// Per SLO: the SLI against its objective, and over the period the SLI and the error
/// budget left, all from the bad and total counts the monitors read.
pub(super) fn slo_widgets(spec: &Spec, s: &Scope, slo: &Slo) -> Vec<Value> {
    let objective = slo.objective / 100.0;
    let budget = 1.0 - objective;
    let period = spec.period.as_str();
    let c = counting(&slo.sli, s);
    let counts = || request(vec![c.bad.clone(), c.total.clone()], fraction());
    vec![
        timeseries(
            &format!("{}: SLI", slo.name),
            &format!(
                "{} Share of good events, against the objective of {} %.",
                slo.description,
                num(slo.objective)
            ),
            vec![counts().formula("1 - default_zero(query1) / query2", "SLI")],
            vec![marker(objective, "ok", "objective")],
        ),
        query_value(
            &format!("{}: SLI over {period}", slo.name),
            &format!(
                "Share of good events over the {period} period; objective {} %.",
                num(slo.objective)
            ),
            counts().formula("1 - default_zero(query1) / query2", "SLI"),
            "sum",
            Some(period_span(spec)),
            &[
                ("<", objective, "white_on_red"),
                (">=", objective, "white_on_green"),
            ],
        ),
        query_value(
            &format!("{}: error budget left over {period}", slo.name),
            &format!(
                "Share of the {} % error budget of the {period} period not yet spent.",
                num(budget * 100.0)
            ),
            counts().formula(
                format!("1 - default_zero(query1) / query2 / {}", num(budget)),
                "budget left",
            ),
            "sum",
            Some(period_span(spec)),
            &[("<", 0.0, "white_on_red"), (">=", 0.0, "white_on_green")],
        ),
    ]
}
