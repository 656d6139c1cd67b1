//! SLOs as sloth writes them: SLI error ratios per window, the objective and budget
//! series, and multiwindow multi-burn-rate alerts.

use super::OpsError;
use super::alerts::{Alert, Scenario, camel};
use super::promql::{alternatives, guarded_ratio, label, matchers, num, series, sum_by};
use super::rules::{Group, Rule, group};
use super::runbook::{Indicator, Triage};
use super::spec::{BurnRateWindow, Sli, Slo, Spec, Window};
use super::tests::{Series, counter};
use crate::catalogue::{
    BROWSER_WEB_VITAL_CLS, BROWSER_WEB_VITAL_DURATION, CACHE_REQUESTS,
    HTTP_SERVER_REQUEST_DURATION, MetricDef,
};
use crate::semconv::{browser, cache, http};
use std::collections::BTreeMap;

/// Web vitals and the upper bound of their "good" rating (seconds; CLS unitless).
const GOOD: [(&str, f64); 6] = [
    ("LCP", 2.5),
    ("INP", 0.2),
    ("CLS", 0.1),
    ("FCP", 1.8),
    ("TTFB", 0.8),
    ("FID", 0.1),
];

/// Refuses an SLI that cannot be read exactly from the catalogue's metrics.
pub(crate) fn check_sli(slo: &str, sli: &Sli) -> Result<(), OpsError> {
    match sli {
        Sli::Latency { threshold, .. }
            if !HTTP_SERVER_REQUEST_DURATION.buckets.contains(threshold) =>
        {
            let buckets: Vec<String> = HTTP_SERVER_REQUEST_DURATION
                .buckets
                .iter()
                .map(f64::to_string)
                .collect();
            Err(OpsError::Spec(format!(
                "SLO `{slo}`: latency threshold {threshold} s is not a bucket boundary of {}, so no exact SLI exists; choose one of {}",
                HTTP_SERVER_REQUEST_DURATION.name,
                buckets.join(", ")
            )))
        }
        Sli::WebVital { name } if !GOOD.iter().any(|(n, _)| n == name) => Err(OpsError::Spec(
            format!("SLO `{slo}`: web vital `{name}` is not one of LCP, INP, CLS, FCP, TTFB, FID"),
        )),
        _ => Ok(()),
    }
}

/// The series an SLI counts, with matchers, for one window.
struct Counting {
    /// Bad events per second.
    bad: String,
    /// All events per second.
    total: String,
    /// Test input: the counters for a share `bad` of 60 events per minute.
    inputs: Box<dyn Fn(f64, bool) -> Vec<Series>>,
}

fn counting(spec: &Spec, sli: &Sli, window: &Window) -> Counting {
    let w = window.as_str();
    let selector = spec.selector.clone();
    let rate = |name: &str, extra: &[(String, &str, String)]| {
        format!("rate({name}{}[{w}])", matchers(&selector, extra))
    };
    let route_filter = |routes: &[String]| -> Vec<(String, &'static str, String)> {
        if routes.is_empty() {
            Vec::new()
        } else {
            vec![(label(http::ROUTE), "=~", alternatives(routes))]
        }
    };
    let histogram_good = |def: &'static MetricDef,
                          base: Vec<(String, &'static str, String)>,
                          le: f64,
                          input_labels: Vec<(String, String)>| {
        let count = series(def, "_count");
        let bucket = series(def, "_bucket");
        let mut with_le = base.clone();
        with_le.push(("le".into(), "=", le.to_string()));
        let total = sum_by(&[], &rate(&count, &base));
        let good = sum_by(&[], &rate(&bucket, &with_le));
        let sel = spec.selector.clone();
        Counting {
            bad: format!("({total})\n-\n({good})"),
            total,
            inputs: Box::new(move |bad, moving| {
                let mut labels: Vec<(String, String)> = sel.clone().into_iter().collect();
                labels.extend(input_labels.clone());
                let mut le_labels = labels.clone();
                le_labels.push(("le".into(), le.to_string()));
                vec![
                    counter(&count, &labels, if moving { 60.0 } else { 0.0 }),
                    counter(
                        &bucket,
                        &le_labels,
                        if moving { 60.0 * (1.0 - bad) } else { 0.0 },
                    ),
                ]
            }),
        }
    };
    match sli {
        Sli::Availability { routes } => {
            let base = route_filter(routes);
            let mut errors = base.clone();
            errors.push((label(http::RESPONSE_STATUS_CODE), "=~", "5..".into()));
            let count = series(&HTTP_SERVER_REQUEST_DURATION, "_count");
            let sel = spec.selector.clone();
            let route = routes.first().cloned().unwrap_or_else(|| "/".into());
            Counting {
                bad: sum_by(&[], &rate(&count, &errors)),
                total: sum_by(&[], &rate(&count, &base)),
                inputs: Box::new(move |bad, moving| {
                    let labels = |status: &str| {
                        let mut l: Vec<(String, String)> = sel.clone().into_iter().collect();
                        l.push((label(http::ROUTE), route.clone()));
                        l.push((label(http::RESPONSE_STATUS_CODE), status.into()));
                        l
                    };
                    let per_minute = if moving { 60.0 } else { 0.0 };
                    vec![
                        counter(&count, &labels("200"), per_minute * (1.0 - bad)),
                        counter(&count, &labels("503"), per_minute * bad),
                    ]
                }),
            }
        }
        Sli::Latency { threshold, routes } => {
            let route = routes.first().cloned().unwrap_or_else(|| "/".into());
            histogram_good(
                &HTTP_SERVER_REQUEST_DURATION,
                route_filter(routes),
                *threshold,
                vec![(label(http::ROUTE), route)],
            )
        }
        Sli::CacheHitRatio { key_prefix } => {
            let prefix = key_prefix.clone().unwrap_or_default();
            let mut base = Vec::new();
            if key_prefix.is_some() {
                base.push((label(cache::KEY_PREFIX), "=", prefix.clone()));
            }
            let mut misses = base.clone();
            misses.push((label(cache::RESULT), "=", "miss".into()));
            let name = series(&CACHE_REQUESTS, "");
            let sel = spec.selector.clone();
            Counting {
                bad: sum_by(&[], &rate(&name, &misses)),
                total: sum_by(&[], &rate(&name, &base)),
                inputs: Box::new(move |bad, moving| {
                    let labels = |result: &str| {
                        let mut l: Vec<(String, String)> = sel.clone().into_iter().collect();
                        l.push((label(cache::KEY_PREFIX), prefix.clone()));
                        l.push((label(cache::RESULT), result.into()));
                        l
                    };
                    let per_minute = if moving { 60.0 } else { 0.0 };
                    vec![
                        counter(&name, &labels("hit"), per_minute * (1.0 - bad)),
                        counter(&name, &labels("miss"), per_minute * bad),
                    ]
                }),
            }
        }
        Sli::WebVital { name } => {
            let good = GOOD
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0.0, |(_, g)| *g);
            let def = if name == "CLS" {
                &BROWSER_WEB_VITAL_CLS
            } else {
                &BROWSER_WEB_VITAL_DURATION
            };
            let vital = label(browser::WEB_VITAL_NAME);
            histogram_good(
                def,
                vec![(vital.clone(), "=", name.clone())],
                good,
                vec![(vital, name.clone()), (label(http::ROUTE), "/".into())],
            )
        }
    }
}

fn budget(slo: &Slo) -> f64 {
    1.0 - slo.objective / 100.0
}

fn slo_labels(spec: &Spec, slo: &Slo) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "sloth_id".to_owned(),
            format!("{}-{}", spec.service, slo.name),
        ),
        ("sloth_service".to_owned(), spec.service.clone()),
        ("sloth_slo".to_owned(), slo.name.clone()),
    ])
}

fn id_selector(spec: &Spec, slo: &Slo) -> String {
    let labels = slo_labels(spec, slo);
    let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{{{}}}", parts.join(", "))
}

/// Every window the SLI is recorded over (short and long windows of all pairs), shortest
/// first.
fn windows(spec: &Spec) -> Vec<Window> {
    let mut all: Vec<Window> = spec
        .burn_rate
        .page
        .iter()
        .chain(&spec.burn_rate.ticket)
        .flat_map(|pair| [pair.short.clone(), pair.long.clone()])
        .collect();
    all.sort_by_key(Window::seconds);
    all.dedup_by_key(|w| w.seconds());
    all
}

/// The SLI recordings of one SLO (sloth's `sloth-slo-sli-recordings-*` group).
pub(crate) fn sli_group(spec: &Spec, slo: &Slo) -> Group {
    let windows = windows(spec);
    let mut rules: Vec<Rule> = windows
        .iter()
        .map(|window| {
            let c = counting(spec, &slo.sli, window);
            let mut rule = Rule::record(
                format!("slo:sli_error:ratio_rate{}", window.as_str()),
                guarded_ratio(&c.bad, &c.total),
            )
            .with_label("sloth_window", window.as_str());
            rule.labels.extend(slo_labels(spec, slo));
            rule
        })
        .collect();
    let shortest = windows.first().map_or("5m", Window::as_str);
    let period = spec.period.as_str();
    let sel = id_selector(spec, slo);
    let mut period_rule = Rule::record(
        format!("slo:sli_error:ratio_rate{period}"),
        format!(
            "sum_over_time(slo:sli_error:ratio_rate{shortest}{sel}[{period}])\n/ ignoring (sloth_window)\ncount_over_time(slo:sli_error:ratio_rate{shortest}{sel}[{period}])"
        ),
    )
    .with_label("sloth_window", period);
    period_rule.labels.extend(slo_labels(spec, slo));
    rules.push(period_rule);
    group(spec, &format!("slo-sli-recordings-{}", slo.name), rules)
}

/// The objective, budget and burn-rate series of one SLO (sloth's meta recordings).
pub(crate) fn meta_group(spec: &Spec, slo: &Slo) -> Group {
    let sel = id_selector(spec, slo);
    let shortest = windows(spec)
        .first()
        .map_or_else(|| "5m".to_owned(), |w| w.as_str().to_owned());
    let period = spec.period.as_str();
    let days = spec.period.seconds() as f64 / 86_400.0;
    let on = "on (sloth_id, sloth_slo, sloth_service) group_left";
    let rules = vec![
        Rule::record(
            "slo:objective:ratio",
            format!("vector({})", num(slo.objective / 100.0)),
        ),
        Rule::record(
            "slo:error_budget:ratio",
            format!("vector({})", num(budget(slo))),
        ),
        Rule::record("slo:time_period:days", format!("vector({})", num(days))),
        Rule::record(
            "slo:current_burn_rate:ratio",
            format!("slo:sli_error:ratio_rate{shortest}{sel}\n/ {on}\nslo:error_budget:ratio{sel}"),
        ),
        Rule::record(
            "slo:period_burn_rate:ratio",
            format!("slo:sli_error:ratio_rate{period}{sel}\n/ {on}\nslo:error_budget:ratio{sel}"),
        ),
        Rule::record(
            "slo:period_error_budget_remaining:ratio",
            format!("1 - slo:period_burn_rate:ratio{sel}"),
        ),
        Rule::record("sloth_slo_info", "vector(1)")
            .with_label("sloth_objective", num(slo.objective))
            .with_label("sloth_mode", "sdk-generated"),
    ];
    let labels = slo_labels(spec, slo);
    let rules = rules
        .into_iter()
        .map(|mut rule| {
            rule.labels.extend(labels.clone());
            rule
        })
        .collect();
    group(spec, &format!("slo-meta-recordings-{}", slo.name), rules)
}

/// The page and ticket alerts of one SLO. A window pair whose factor times the budget
/// reaches 1 can never fire (the error ratio cannot exceed 1) and is left out; a severity
/// with no pair left gets no alert (e.g. a p75 web-vital SLO has a 25 % budget: it opens
/// tickets but never pages).
pub(crate) fn burn_rate_alerts(spec: &Spec, slo: &Slo) -> Vec<Alert> {
    let budget = budget(slo);
    let sel = id_selector(spec, slo);
    let mut alerts = Vec::new();
    for (severity, sloth_severity, pairs) in [
        ("critical", "page", &spec.burn_rate.page),
        ("warning", "ticket", &spec.burn_rate.ticket),
    ] {
        let feasible: Vec<&BurnRateWindow> =
            pairs.iter().filter(|p| p.factor * budget < 1.0).collect();
        let Some(first) = feasible.iter().min_by_key(|p| p.long.seconds()) else {
            continue;
        };
        let condition = |p: &BurnRateWindow| {
            let threshold = format!("({} * {})", num(p.factor), num(budget));
            format!(
                "(\n  max(slo:sli_error:ratio_rate{short}{sel} > {threshold}) without (sloth_window)\n  and\n  max(slo:sli_error:ratio_rate{long}{sel} > {threshold}) without (sloth_window)\n)",
                short = p.short.as_str(),
                long = p.long.as_str(),
            )
        };
        let expr = feasible
            .iter()
            .map(|p| condition(p))
            .collect::<Vec<_>>()
            .join("\nor\n");
        let name = format!(
            "{}{}BurnRate{}",
            camel(&spec.service),
            camel(&slo.name),
            camel(sloth_severity)
        );
        let windows: Vec<String> = feasible
            .iter()
            .map(|p| {
                format!(
                    "{}× over {} and {}",
                    num(p.factor),
                    p.long.as_str(),
                    p.short.as_str()
                )
            })
            .collect();
        let mut expr_labels = slo_labels(spec, slo);
        expr_labels.insert(super::rules::SERVICE_LABEL.into(), spec.service.clone());
        let fire_share = (1.0 + first.factor * budget) / 2.0;
        // A quarter of the short window between samples: enough for every rate, and a
        // day-long window stays a quick test.
        let quarter = (first.short.seconds() / 4).max(1);
        let every = if quarter >= 60 {
            quarter / 60 * 60
        } else {
            quarter
        };
        let eval = first.long.seconds() + 2 * every;
        let c = counting(spec, &slo.sli, &spec.period);
        let mut alert = Alert::new(
            spec,
            &name,
            expr,
            None,
            severity,
            format!(
                "SLO {} of {} is burning its error budget too fast",
                slo.name, spec.service
            ),
            format!(
                "{} The error budget of {}% over {} is being spent at more than {} ({}).",
                slo.description,
                num(100.0 - slo.objective),
                spec.period.as_str(),
                windows.join(" or "),
                sloth_severity
            ),
            Scenario {
                series: (c.inputs)(fire_share, true),
                labels: expr_labels,
            },
            (c.inputs)(budget / 2.0, true),
            (c.inputs)(0.0, false),
            eval,
        )
        .triage(Triage::BurnRate(Indicator::of(&slo.sli)));
        alert
            .rule
            .labels
            .insert("sloth_severity".into(), sloth_severity.into());
        alert.every_seconds = every;
        alerts.push(alert);
    }
    alerts
}
