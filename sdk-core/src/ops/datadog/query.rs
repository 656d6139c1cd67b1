//! The part of Datadog's metric query language the dashboards and monitors speak: tag
//! scopes, queries over the names, types and tag keys the DogStatsD exporter emits, SLI
//! counts and monitor evaluation windows.

use super::super::promql::num;
use super::super::spec::Sli;
use crate::catalogue::{
    BROWSER_WEB_VITAL_CLS, BROWSER_WEB_VITAL_DURATION, CACHE_REQUESTS,
    HTTP_SERVER_REQUEST_DURATION, MetricDef, MetricKind,
};
use crate::rum::{Rating, VitalName};
use crate::semconv::{browser, cache, http};

/// The unified service tag the DogStatsD exporter puts on every datagram.
pub(crate) const SERVICE_TAG: &str = "service";
/// The unified environment tag (when an environment is configured).
pub(crate) const ENV_TAG: &str = "env";

/// A tag value as Datadog stores it: lower case, with every character other than a
/// letter, digit, `_`, `-`, `:`, `.` or `/` turned into `_` (Datadog's tagging rules).
/// `*` is kept: in a filter it is Datadog's wildcard.
pub(crate) fn tag_value(value: &str) -> String {
    value
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "_-:./*".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The tag filter of a query (`{service:shop,env:prod}`).
#[derive(Debug, Clone)]
pub(crate) struct Scope(Vec<String>);

impl Scope {
    /// The dashboard's scope: its `service` and `env` template variables.
    pub(crate) fn variables() -> Self {
        Self(vec![format!("${SERVICE_TAG}"), format!("${ENV_TAG}")])
    }

    /// One service, as the monitors watch it.
    pub(crate) fn service(service: &str) -> Self {
        Self(vec![format!("{SERVICE_TAG}:{}", tag_value(service))])
    }

    /// Only series whose `key` is `value` (`*` matches any run of characters).
    pub(crate) fn with(&self, key: &str, value: &str) -> Self {
        self.term(format!("{key}:{}", tag_value(value)))
    }

    /// Only series whose `key` is not `value`.
    pub(crate) fn without(&self, key: &str, value: &str) -> Self {
        self.term(format!("!{key}:{}", tag_value(value)))
    }

    /// Only series whose `key` is one of `values`; none = no restriction.
    pub(crate) fn any_of(&self, key: &str, values: &[String]) -> Self {
        match values {
            [] => self.clone(),
            [one] => self.with(key, one),
            many => {
                let values: Vec<String> = many.iter().map(|v| tag_value(v)).collect();
                self.term(format!("{key} IN ({})", values.join(", ")))
            }
        }
    }

    fn term(&self, term: String) -> Self {
        let mut terms = self.0.clone();
        terms.push(term);
        Self(terms)
    }

    /// `{a,b}`, or `{a AND b IN (…)}` once a term needs the boolean syntax.
    fn render(&self) -> String {
        let joiner = if self.0.iter().any(|t| t.contains(' ')) {
            " AND "
        } else {
            ","
        };
        format!("{{{}}}", self.0.join(joiner))
    }
}

/// `<aggregator>:<metric>{<scope>}[ by {<keys>}]`, the metric named as the DogStatsD
/// exporter sends it (the catalogue's OpenTelemetry name, unprefixed).
pub(crate) fn metric(aggregator: &str, def: &MetricDef, scope: &Scope, by: &[&str]) -> String {
    let by = if by.is_empty() {
        String::new()
    } else {
        format!(" by {{{}}}", by.join(","))
    };
    format!("{aggregator}:{}{}{by}", def.name, scope.render())
}

/// The space aggregation that counts a metric's events: counters go out as DogStatsD
/// counts (`sum`), histograms as distributions (`count` of their values).
fn counting_aggregator(def: &MetricDef) -> &'static str {
    if def.kind == MetricKind::Histogram {
        "count"
    } else {
        "sum"
    }
}

/// Events per interval (a counter's increments, a histogram's recordings).
pub(crate) fn events(def: &MetricDef, scope: &Scope, by: &[&str]) -> String {
    format!(
        "{}.as_count()",
        metric(counting_aggregator(def), def, scope, by)
    )
}

/// Events per second.
pub(crate) fn per_second(def: &MetricDef, scope: &Scope, by: &[&str]) -> String {
    format!(
        "{}.as_rate()",
        metric(counting_aggregator(def), def, scope, by)
    )
}

/// The `q`th percentile of a distribution (needs percentiles enabled on the metric in
/// Datadog, see the [module](super) documentation).
pub(crate) fn percentile(q: u32, def: &MetricDef, scope: &Scope, by: &[&str]) -> String {
    metric(&format!("p{q}"), def, scope, by)
}

/// A gauge or up-down counter, summed over the service's instances.
pub(crate) fn level(def: &MetricDef, scope: &Scope, by: &[&str]) -> String {
    metric("sum", def, scope, by)
}

/// The bad and all events of an SLI, as counts per interval.
pub(crate) struct Counting {
    /// Events that spend the error budget.
    pub(crate) bad: String,
    /// All events.
    pub(crate) total: String,
}

/// How an SLI counts in Datadog, from the same metrics as the Prometheus recordings.
/// Latency reads the distribution with a threshold query (`count(v: v>0.25):…`, which
/// needs percentiles enabled); web vitals count the reports not rated good, the rating
/// the SDK derived from the same thresholds as the Prometheus bucket.
pub(crate) fn counting(sli: &Sli, scope: &Scope) -> Counting {
    let duration = &HTTP_SERVER_REQUEST_DURATION;
    match sli {
        Sli::Availability { routes } => {
            let base = scope.any_of(http::ROUTE, routes);
            Counting {
                bad: events(duration, &base.with(http::RESPONSE_STATUS_CODE, "5*"), &[]),
                total: events(duration, &base, &[]),
            }
        }
        Sli::Latency { threshold, routes } => {
            let base = scope.any_of(http::ROUTE, routes);
            Counting {
                bad: format!(
                    "{}.as_count()",
                    metric(
                        &format!("count(v: v>{})", num(*threshold)),
                        duration,
                        &base,
                        &[]
                    )
                ),
                total: events(duration, &base, &[]),
            }
        }
        Sli::CacheHitRatio { key_prefix } => {
            let base = match key_prefix {
                Some(prefix) => scope.with(cache::KEY_PREFIX, prefix),
                None => scope.clone(),
            };
            Counting {
                bad: events(&CACHE_REQUESTS, &base.with(cache::RESULT, cache::MISS), &[]),
                total: events(&CACHE_REQUESTS, &base, &[]),
            }
        }
        Sli::WebVital { name } => {
            let def = vital_metric(name);
            let base = scope.with(browser::WEB_VITAL_NAME, name);
            Counting {
                bad: events(
                    def,
                    &base.without(browser::WEB_VITAL_RATING, Rating::Good.as_str()),
                    &[],
                ),
                total: events(def, &base, &[]),
            }
        }
    }
}

/// The metric a web vital is recorded in: CLS is a score, the others are timings.
fn vital_metric(name: &str) -> &'static MetricDef {
    if name == VitalName::Cls.as_str() {
        &BROWSER_WEB_VITAL_CLS
    } else {
        &BROWSER_WEB_VITAL_DURATION
    }
}

/// A monitor evaluation window (`last_5m`, `last_6h`, `last_1d`, `last_72h`), and whether
/// it is exactly `seconds` long. Datadog accepts `last_#m` (1 to 10080), `last_#h` (1 to
/// 168), `last_1d` and `last_1w`: a window that is none of these becomes the closest
/// that is, in whole minutes and at most a week.
pub(crate) fn last(seconds: u64) -> (String, bool) {
    let minutes = (seconds + 30) / 60;
    let minutes = minutes.clamp(1, 10_080);
    let text = match minutes {
        10_080 => "last_1w".to_owned(),
        1440 => "last_1d".to_owned(),
        m if m % 60 == 0 => format!("last_{}h", m / 60),
        m => format!("last_{m}m"),
    };
    (text, minutes * 60 == seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_windows() {
        assert_eq!(tag_value("/users/{id}"), "/users/_id_");
        assert_eq!(tag_value("LCP"), "lcp");
        let scope = Scope::service("shop").with(http::RESPONSE_STATUS_CODE, "5*");
        assert_eq!(
            scope.render(),
            "{service:shop,http.response.status_code:5*}"
        );
        let routes = Scope::variables().any_of(http::ROUTE, &["/a".into(), "/B".into()]);
        assert_eq!(
            routes.render(),
            "{$service AND $env AND http.route IN (/a, /b)}"
        );
        assert_eq!(last(300), ("last_5m".into(), true));
        assert_eq!(last(3 * 86_400), ("last_72h".into(), true));
        assert_eq!(last(86_400), ("last_1d".into(), true));
        assert_eq!(last(30 * 86_400), ("last_1w".into(), false));
        assert_eq!(last(10), ("last_1m".into(), false));
    }
}
