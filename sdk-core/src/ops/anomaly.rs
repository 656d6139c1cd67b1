//! Anomaly bands: a signal's seasonal prediction and its spread over the last week, as
//! recording rules, and an alert when the signal leaves `prediction ± k·stddev`.
//!
//! The prediction is GitLab's (2019) and grafana/promql-anomaly-detection's seasonal
//! form: the average of the same 4-hour slot one, two and three weeks ago, shifted by how
//! much the weekly average has moved since, and the median of those three.

use super::alerts::{Alert, Scenario, camel};
use super::promql::{label, num};
use super::rules::{Group, Names, Rule, SERVICE_LABEL, group};
use super::runbook::Triage;
use super::spec::Spec;
use super::tests::{Series, counter_segments};
use crate::catalogue::HTTP_SERVER_REQUEST_DURATION;
use crate::semconv::http;
use std::collections::BTreeMap;

/// The signals that get a band, each with the alert name's stem.
fn watched(spec: &Spec) -> [(String, &'static str); 2] {
    let n = Names::of(spec);
    [
        (n.service_rate(), "RequestRate"),
        (n.service_errors(), "ErrorRatio"),
    ]
}

fn svc(spec: &Spec) -> String {
    format!("{{{SERVICE_LABEL}=\"{}\"}}", spec.service)
}

/// The signals (`signals`: their recording rules), then the weekly average, spread and
/// seasonal prediction of each, in one group: every rule reads this evaluation's values.
pub(crate) fn band_group(spec: &Spec, signals: Vec<Rule>) -> Group {
    let sel = svc(spec);
    let mut rules = signals;
    for (signal, _) in watched(spec) {
        rules.push(Rule::record(
            format!("{signal}:avg_over_time_1w"),
            format!("avg_over_time({signal}{sel}[1w])"),
        ));
        rules.push(Rule::record(
            format!("{signal}:stddev_over_time_1w"),
            format!("stddev_over_time({signal}{sel}[1w])"),
        ));
        let weeks: Vec<String> = [1u64, 2, 3]
            .iter()
            .map(|w| {
                format!(
                    "label_replace(\n    avg_over_time({signal}{sel}[4h] offset {}h)\n    + {signal}:avg_over_time_1w{sel}\n    - {signal}:avg_over_time_1w{sel} offset {w}w,\n    \"offset\", \"{w}w\", \"\", \"\")",
                    168 * w - 2
                )
            })
            .collect();
        rules.push(Rule::record(
            format!("{signal}:prediction"),
            format!(
                "quantile without (offset) (0.5,\n  {}\n)",
                weeks.join("\n  or\n  ")
            ),
        ));
    }
    group(spec, "anomaly", rules)
}

/// One alert per signal: outside the band for `anomaly.for`, with enough traffic.
pub(crate) fn band_alerts(spec: &Spec) -> Vec<Alert> {
    let sel = svc(spec);
    let a = &spec.anomaly;
    let count = HTTP_SERVER_REQUEST_DURATION.prometheus_name() + "_count";
    let route_status = |status: &str| {
        let mut l: Vec<(String, String)> = spec.selector.clone().into_iter().collect();
        l.push((label(http::ROUTE), "/".into()));
        l.push((label(http::RESPONSE_STATUS_CODE), status.into()));
        l
    };
    // A week and a day of hourly alternation (the band's spread), then a last stretch.
    let week: u64 = 8 * 24 * 60;
    let seasonal = |low: f64, high: f64, last: f64| -> Vec<(u64, f64)> {
        let mut segments: Vec<(u64, f64)> = (0..week / 60)
            .map(|hour| (60, if hour % 2 == 0 { low } else { high }))
            .collect();
        segments.push((60, last));
        segments
    };
    let eval = (week + 45) * 60;
    let mut alerts = Vec::new();
    for (signal, stem) in watched(spec) {
        let name = format!("{}{stem}Anomaly", camel(&spec.service));
        let (fire, quiet, zero): (Vec<Series>, Vec<Series>, Vec<Series>) = if stem == "RequestRate"
        {
            let ok = |segments| vec![counter_segments(&count, &route_status("200"), segments)];
            (
                ok(seasonal(120.0, 144.0, 600.0)),
                ok(seasonal(120.0, 144.0, 120.0)),
                ok(seasonal(0.0, 0.0, 0.0)),
            )
        } else {
            let pair = |errors: Vec<(u64, f64)>, total: f64| {
                let ok: Vec<(u64, f64)> = errors.iter().map(|(m, e)| (*m, total - e)).collect();
                vec![
                    counter_segments(&count, &route_status("200"), ok),
                    counter_segments(&count, &route_status("500"), errors),
                ]
            };
            (
                pair(seasonal(1.2, 2.4, 30.0), 120.0),
                pair(seasonal(1.2, 2.4, 1.2), 120.0),
                pair(seasonal(0.0, 0.0, 0.0), 0.0),
            )
        };
        alerts.push(Alert::new(
            spec,
            &name,
            format!(
                "abs(\n  ({signal}{sel} - {signal}:prediction{sel})\n  / ({signal}:stddev_over_time_1w{sel} > 0)\n) > {k}\nand on ()\n{rate}{sel} > {min}",
                k = num(a.k),
                rate = Names::of(spec).service_rate(),
                min = num(a.min_request_rate),
            ),
            Some(&a.for_),
            "warning",
            format!("{} {} is outside its usual band", spec.service, stem_words(stem)),
            format!(
                "The {} of {} has been more than {} standard deviations from its seasonal prediction (same hours in past weeks) for {}.",
                stem_words(stem),
                spec.service,
                num(a.k),
                a.for_.as_str()
            ),
            Scenario {
                series: fire,
                labels: BTreeMap::from([(SERVICE_LABEL.to_owned(), spec.service.clone())]),
            },
            quiet,
            zero,
            eval,
        ).triage(if stem == "RequestRate" {
            Triage::RequestRateAnomaly
        } else {
            Triage::ErrorRatioAnomaly
        }));
    }
    alerts
}

fn stem_words(stem: &str) -> &'static str {
    match stem {
        "RequestRate" => "request rate",
        _ => "error ratio",
    }
}
