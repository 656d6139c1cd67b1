//! Small PromQL writing helpers: selectors from the spec, numbers, guarded ratios.

use crate::catalogue::MetricDef;
use std::collections::BTreeMap;

/// The target label Prometheus gives every scraped process: per-process series (CPU,
/// memory, file descriptors, the Tokio runtime) are told apart by it.
pub(crate) const INSTANCE: &str = "instance";

/// The Prometheus label name of an attribute key (`http.route` → `http_route`).
pub(crate) fn label(key: &str) -> String {
    key.replace('.', "_")
}

/// A series name of a catalogue metric with a suffix (`_count`, `_bucket`, `_sum`, or
/// nothing).
pub(crate) fn series(def: &MetricDef, suffix: &str) -> String {
    format!("{}{suffix}", def.prometheus_name())
}

/// A matcher set: the spec's selector plus `extra` (`name`, `op`, `value`), as `{…}`.
pub(crate) fn matchers(
    selector: &BTreeMap<String, String>,
    extra: &[(String, &str, String)],
) -> String {
    let mut parts: Vec<String> = selector
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    parts.extend(
        extra
            .iter()
            .map(|(k, op, v)| format!("{k}{op}\"{}\"", escape(v))),
    );
    format!("{{{}}}", parts.join(","))
}

/// A PromQL string literal's content.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// An RE2 alternation matching exactly `values` (metacharacters escaped).
pub(crate) fn alternatives(values: &[String]) -> String {
    values
        .iter()
        .map(|v| {
            v.chars()
                .map(|c| {
                    if r"\.+*?()|[]{}^$".contains(c) {
                        format!("\\{c}")
                    } else {
                        c.to_string()
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// A number without floating-point noise (`1 - 0.999` → `0.001`).
pub(crate) fn num(x: f64) -> String {
    let rounded = (x * 1e12).round() / 1e12;
    if rounded == rounded.trunc() && rounded.abs() < 1e15 {
        format!("{}", rounded as i64)
    } else {
        format!("{rounded}")
    }
}

/// `numerator / denominator`, where a missing numerator counts as 0 for every group of the
/// denominator, and a zero denominator yields no sample (never NaN or +Inf).
pub(crate) fn guarded_ratio(numerator: &str, denominator: &str) -> String {
    format!("(\n  ({numerator})\n  or\n  0 * ({denominator})\n)\n/\n(({denominator}) > 0)")
}

/// `sum by (labels) (expr)`, or `sum (expr)` without labels.
pub(crate) fn sum_by(labels: &[&str], expr: &str) -> String {
    if labels.is_empty() {
        format!("sum({expr})")
    } else {
        format!("sum by ({}) ({expr})", labels.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_escapes() {
        assert_eq!(num(1.0 - 0.999), "0.001");
        assert_eq!(num(14.4 * 0.001), "0.0144");
        assert_eq!(num(30.0), "30");
        assert_eq!(
            alternatives(&["/users/{id}".into(), "/a.b".into()]),
            r"/users/\{id\}|/a\.b"
        );
        let mut sel = BTreeMap::new();
        sel.insert("job".to_owned(), "de\"mo".to_owned());
        assert_eq!(
            matchers(&sel, &[("le".into(), "=", "0.25".into())]),
            r#"{job="de\"mo",le="0.25"}"#
        );
    }
}
