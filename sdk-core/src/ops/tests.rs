//! `promtool test rules` files generated with the rules: for every alert, a case that
//! fires, one that stays quiet and one with zero traffic.

use super::alerts::Alert;
use super::promql::num;
use serde::Serialize;
use std::collections::BTreeMap;

/// A unit-test file.
#[derive(Debug, Clone, Serialize)]
pub struct TestFile {
    /// Rule files under test, relative to the test file.
    pub rule_files: Vec<String>,
    /// Rule evaluation interval.
    pub evaluation_interval: String,
    /// Test groups.
    pub tests: Vec<TestGroup>,
}

/// One scenario: input series and the alerts expected at a time.
#[derive(Debug, Clone, Serialize)]
pub struct TestGroup {
    /// Spacing of the input samples.
    pub interval: String,
    /// Input series.
    pub input_series: Vec<InputSeries>,
    /// Expected alerts.
    pub alert_rule_test: Vec<AlertTest>,
}

/// One input series in promtool's expanding notation.
#[derive(Debug, Clone, Serialize)]
pub struct InputSeries {
    /// `name{label="value",…}`.
    pub series: String,
    /// Values, such as `0+60x90`.
    pub values: String,
}

/// The alerts of one name expected at one time.
#[derive(Debug, Clone, Serialize)]
pub struct AlertTest {
    /// Time since the start of the test.
    pub eval_time: String,
    /// Alert name.
    pub alertname: String,
    /// Alerts firing then (empty: none).
    pub exp_alerts: Vec<ExpectedAlert>,
}

/// One expected alert.
#[derive(Debug, Clone, Serialize)]
pub struct ExpectedAlert {
    /// All labels.
    pub exp_labels: BTreeMap<String, String>,
    /// All annotations, rendered.
    pub exp_annotations: BTreeMap<String, String>,
}

/// A test input: a series whose value changes by piecewise-constant steps per minute.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    name: String,
    start: f64,
    /// (minutes, increase per minute) segments; the last one repeats to the end.
    segments: Vec<(u64, f64)>,
}

fn series_name(name: &str, labels: &[(String, String)]) -> String {
    let parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{name}{{{}}}", parts.join(","))
}

/// A counter growing by `per_minute` every minute.
pub(crate) fn counter(name: &str, labels: &[(String, String)], per_minute: f64) -> Series {
    Series {
        name: series_name(name, labels),
        start: 0.0,
        segments: vec![(0, per_minute)],
    }
}

/// A gauge holding `value`.
pub(crate) fn gauge(name: &str, labels: &[(String, String)], value: f64) -> Series {
    Series {
        name: series_name(name, labels),
        start: value,
        segments: vec![(0, 0.0)],
    }
}

/// A counter whose increase per minute follows `segments` (minutes, per minute); the last
/// rate holds to the end.
pub(crate) fn counter_segments(
    name: &str,
    labels: &[(String, String)],
    segments: Vec<(u64, f64)>,
) -> Series {
    Series {
        name: series_name(name, labels),
        start: 0.0,
        segments,
    }
}

impl Series {
    /// `steps` samples after the first, `every` seconds apart.
    fn values(&self, steps: u64, every: u64) -> String {
        let mut out = Vec::new();
        let mut value = self.start;
        let mut left = steps;
        out.push(num(value));
        for (i, (length, rate)) in self.segments.iter().enumerate() {
            let last = i + 1 == self.segments.len();
            let taken = if last {
                left
            } else {
                (length * 60 / every).min(left)
            };
            if taken == 0 {
                continue;
            }
            let step = rate * every as f64 / 60.0;
            // `a+bxn` yields a, a+b, …, a+nb: the first value is already written.
            out.push(format!("{}+{}x{}", num(value + step), num(step), taken - 1));
            value += step * taken as f64;
            left -= taken;
        }
        out.join(" ")
    }
}

fn render(template: &str, labels: &BTreeMap<String, String>) -> String {
    let mut out = template.to_owned();
    for (key, value) in labels {
        out = out.replace(&format!("{{{{ $labels.{key} }}}}"), value);
    }
    out
}

/// The three test groups of an alert.
pub(crate) fn alert_tests(alert: &Alert) -> Vec<TestGroup> {
    let every = alert.every_seconds.max(1);
    let steps = alert.eval_seconds / every + 5;
    let eval_time = super::spec::Window::from_seconds(alert.eval_seconds)
        .as_str()
        .to_owned();
    let name = alert.rule.alert.clone().unwrap_or_default();
    let inputs = |series: &[Series]| {
        series
            .iter()
            .map(|s| InputSeries {
                series: s.name.clone(),
                values: s.values(steps, every),
            })
            .collect()
    };
    let mut labels = alert.fire.labels.clone();
    labels.extend(alert.rule.labels.clone());
    labels.insert("alertname".into(), name.clone());
    let annotations = alert
        .rule
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), render(v, &labels)))
        .collect();
    labels.remove("alertname");
    let case = |series: &[Series], expected: Vec<ExpectedAlert>| TestGroup {
        interval: super::spec::Window::from_seconds(every).as_str().to_owned(),
        input_series: inputs(series),
        alert_rule_test: vec![AlertTest {
            eval_time: eval_time.clone(),
            alertname: name.clone(),
            exp_alerts: expected,
        }],
    };
    vec![
        case(
            &alert.fire.series,
            vec![ExpectedAlert {
                exp_labels: labels,
                exp_annotations: annotations,
            }],
        ),
        case(&alert.quiet, Vec::new()),
        case(&alert.zero, Vec::new()),
    ]
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn expanding_notation_covers_every_minute() {
        let s = counter("x", &[("a".into(), "b".into())], 60.0);
        assert_eq!(s.name, "x{a=\"b\"}");
        assert_eq!(s.values(3, 60), "0 60+60x2");
        assert_eq!(s.values(2, 1800), "0 1800+1800x1");
        assert_eq!(s.values(2, 15), "0 15+15x1");
        let seg = counter_segments("x", &[], vec![(2, 1.0), (2, 3.0)]);
        // 0, 1, 2, then +3: 5, 8, 11
        assert_eq!(seg.values(5, 60), "0 1+1x1 5+3x2");
        assert_eq!(gauge("g", &[], 5.0).values(2, 60), "5 5+0x1");
    }
}
