//! Datadog widget definitions (API v1) as the dashboard uses them: timeseries, single
//! values, top lists and groups, each titled and described, their numbers in the
//! catalogue's units.

use super::super::promql::num;
use crate::catalogue::{MetricDef, Unit};
use serde_json::{Value, json};

/// A Datadog canonical unit (`second`, `byte`, `fraction`).
pub(super) fn canonical(unit: &str) -> Option<Value> {
    Some(json!({"type": "canonical_unit", "unit_name": unit}))
}

/// A unit label of our own (`request/min`), for counts Datadog has no unit for.
pub(super) fn label(text: &str) -> Option<Value> {
    Some(json!({"type": "custom_unit_label", "label": text}))
}

/// A share between 0 and 1.
pub(super) fn fraction() -> Option<Value> {
    canonical("fraction")
}

/// The unit of a metric's values, or of their rate `per` (`s`, `min`) for events.
pub(super) fn unit(def: &MetricDef, per: Option<&str>) -> Option<Value> {
    let name = match def.unit {
        Unit::Seconds => "s",
        Unit::Bytes => "B",
        Unit::Count(annotation) => annotation.trim_matches(['{', '}']),
        Unit::Dimensionless => "",
    };
    match (def.unit, per) {
        (Unit::Seconds, None) => canonical("second"),
        (Unit::Bytes, None) => canonical("byte"),
        (Unit::Dimensionless, None) => None,
        (_, None) => label(name),
        (_, Some(per)) => label(&format!("{name}/{per}")),
    }
}

/// One request: metric queries named `query1`, `query2`… and the formulas shown.
pub(super) struct Request {
    queries: Vec<String>,
    formulas: Vec<(String, String)>,
    unit: Option<Value>,
    bars: bool,
}

pub(super) fn request(queries: Vec<String>, unit: Option<Value>) -> Request {
    Request {
        queries,
        formulas: Vec::new(),
        unit,
        bars: false,
    }
}

impl Request {
    /// Draws `formula` (over `query1`…), named `alias` when not empty.
    pub(super) fn formula(mut self, formula: impl Into<String>, alias: &str) -> Self {
        self.formulas.push((formula.into(), alias.to_owned()));
        self
    }

    /// Draws every query as it is.
    pub(super) fn each(mut self, aliases: &[&str]) -> Self {
        for (i, alias) in aliases.iter().enumerate() {
            self = self.formula(format!("query{}", i + 1), alias);
        }
        self
    }

    pub(super) fn bars(mut self) -> Self {
        self.bars = true;
        self
    }

    /// The request's JSON: a timeseries, or one value per query reduced by `aggregator`.
    pub(super) fn json(&self, scalar: Option<&str>) -> Value {
        let queries: Vec<Value> = self
            .queries
            .iter()
            .enumerate()
            .map(|(i, query)| {
                let mut q = json!({
                    "data_source": "metrics",
                    "name": format!("query{}", i + 1),
                    "query": query,
                });
                if let Some(aggregator) = scalar {
                    q["aggregator"] = json!(aggregator);
                }
                q
            })
            .collect();
        let formulas: Vec<Value> = self
            .formulas
            .iter()
            .map(|(formula, alias)| {
                let mut f = json!({"formula": formula});
                if !alias.is_empty() {
                    f["alias"] = json!(alias);
                }
                if let Some(unit) = &self.unit {
                    f["number_format"] = json!({"unit": unit});
                }
                f
            })
            .collect();
        let mut out = json!({"queries": queries, "formulas": formulas});
        if scalar.is_some() {
            out["response_format"] = json!("scalar");
        } else {
            out["response_format"] = json!("timeseries");
            out["display_type"] = json!(if self.bars { "bars" } else { "line" });
        }
        out
    }
}

/// A horizontal line at `value` (`severity`: `error`, `warning`, `ok`).
pub(super) fn marker(value: f64, severity: &str, text: &str) -> Value {
    json!({"value": format!("y = {}", num(value)), "display_type": format!("{severity} dashed"), "label": text})
}

/// The marker of an alert's threshold, if the alert is on.
pub(super) fn alert_line(threshold: Option<f64>, severity: &str, text: &str) -> Vec<Value> {
    threshold
        .map(|t| marker(t, severity, text))
        .into_iter()
        .collect()
}

fn titled(kind: &str, title: &str, description: &str) -> Value {
    json!({
        "type": kind,
        "title": title,
        "title_size": "16",
        "title_align": "left",
        "description": description,
    })
}

pub(super) fn timeseries(
    title: &str,
    description: &str,
    requests: Vec<Request>,
    markers: Vec<Value>,
) -> Value {
    let mut d = titled("timeseries", title, description);
    d["show_legend"] = json!(true);
    d["legend_layout"] = json!("auto");
    d["requests"] = requests.iter().map(|r| r.json(None)).collect();
    if !markers.is_empty() {
        d["markers"] = json!(markers);
    }
    json!({ "definition": d })
}

/// A single number: every query reduced by `aggregator` over the dashboard's time frame
/// (or `live_span`), then the formula; `formats`: (comparator, value, palette).
pub(super) fn query_value(
    title: &str,
    description: &str,
    request: Request,
    aggregator: &str,
    live_span: Option<Value>,
    formats: &[(&str, f64, &str)],
) -> Value {
    let mut d = titled("query_value", title, description);
    let mut r = request.json(Some(aggregator));
    if !formats.is_empty() {
        r["conditional_formats"] = formats
            .iter()
            .map(|(comparator, value, palette)| {
                json!({"comparator": comparator, "value": value, "palette": palette})
            })
            .collect();
    }
    d["requests"] = json!([r]);
    d["autoscale"] = json!(true);
    d["precision"] = json!(2);
    if let Some(span) = live_span {
        d["time"] = span;
    }
    json!({ "definition": d })
}

/// The top ten groups of the first formula, largest first.
pub(super) fn toplist(title: &str, description: &str, request: Request, aggregator: &str) -> Value {
    let mut d = titled("toplist", title, description);
    let mut r = request.json(Some(aggregator));
    r["formulas"][0]["limit"] = json!({"count": 10, "order": "desc"});
    d["requests"] = json!([r]);
    json!({ "definition": d })
}

pub(super) fn group(title: &str, widgets: Vec<Value>) -> Value {
    json!({"definition": {
        "type": "group",
        "layout_type": "ordered",
        "title": title,
        "show_title": true,
        "widgets": widgets,
    }})
}
