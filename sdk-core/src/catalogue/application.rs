//! Application metrics: a service's own metrics (business KPIs, gauges of its state) in
//! the same catalogue as the SDK's, with the same guarantees.
//!
//! Declare each metric once as a `static` [`MetricDef`] built with the `const` builders,
//! and register the list when telemetry starts
//! ([`TelemetryBuilder::with_metrics`](crate::TelemetryBuilder::with_metrics), or
//! [`register`] directly). Registration checks what the SDK's own catalogue is tested for —
//! a Prometheus-safe, unique name; a description; label keys that are valid and unique;
//! ascending finite buckets on histograms and none elsewhere; a cardinality ceiling — and
//! from then on the exporters give the metric its unit, description and buckets, the
//! cardinality guard folds excess label combinations into the overflow series, and the
//! generated dashboards show it ([`all`] lists SDK and application metrics together).
//!
//! ```
//! use sdk_core::catalogue::{self, MetricDef, MetricKind, Unit};
//!
//! pub static DOCUMENTS_CREATED: MetricDef = MetricDef::new(
//!     "app.documents.created",
//!     MetricKind::Counter,
//!     Unit::Count("{document}"),
//!     "Documents created, by document kind.",
//! )
//! .with_labels(&["app.document.kind"])
//! .with_max_series(20);
//!
//! catalogue::register(&[&DOCUMENTS_CREATED]).unwrap();
//! assert_eq!(DOCUMENTS_CREATED.prometheus_name(), "app_documents_created_total");
//! assert!(catalogue::find("app.documents.created").is_some());
//! ```

use super::{ALL, MetricDef, MetricKind, OVERFLOW_LABEL, SeriesGuard, Unit};
use std::sync::RwLock;

/// Why an application metric was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    /// The name is empty, not lower-case `[a-z][a-z0-9_.]*`, has an empty segment, or is
    /// in the SDK's reserved `sdk.` namespace.
    #[error(
        "metric name `{0}` is invalid: use lower-case letters, digits, `_` and `.` separators, starting with a letter, outside the reserved `sdk.` namespace"
    )]
    InvalidName(String),
    /// Another metric (the SDK's or an application's) has the same name or Prometheus name.
    #[error(
        "metric `{name}` collides with `{other}` (same name or Prometheus name `{prometheus}`)"
    )]
    Duplicate {
        /// The refused metric.
        name: String,
        /// The metric already in the catalogue.
        other: String,
        /// The Prometheus name they share.
        prometheus: String,
    },
    /// The description is empty.
    #[error("metric `{0}` has no description")]
    NoDescription(String),
    /// A label key is invalid, reserved (`le`, `quantile`, the overflow label) or repeated.
    #[error(
        "metric `{name}`: label key `{label}` is invalid, reserved or repeated (use lower-case `[a-z][a-z0-9_.]*`; `le`, `quantile` and `{OVERFLOW_LABEL}` are reserved)"
    )]
    InvalidLabel {
        /// The metric.
        name: String,
        /// The refused key.
        label: String,
    },
    /// A histogram without ascending finite buckets, or buckets on another kind.
    #[error(
        "metric `{0}`: a histogram needs ascending, finite, non-empty buckets; other kinds take none"
    )]
    InvalidBuckets(String),
    /// The cardinality ceiling is zero.
    #[error("metric `{0}`: the series ceiling must be at least 1")]
    NoSeries(String),
}

/// The default ceiling on an application metric's label combinations.
pub const DEFAULT_MAX_SERIES: usize = 1000;

impl MetricDef {
    /// A metric definition without labels, buckets or ceiling yet (see the `with_*`
    /// builders); the ceiling defaults to [`DEFAULT_MAX_SERIES`].
    pub const fn new(
        name: &'static str,
        kind: MetricKind,
        unit: Unit,
        description: &'static str,
    ) -> Self {
        Self {
            name,
            kind,
            unit,
            description,
            labels: &[],
            buckets: &[],
            max_series: DEFAULT_MAX_SERIES,
            seen: SeriesGuard::new(),
        }
    }

    /// The label keys recordings may carry (others are dropped).
    pub const fn with_labels(mut self, labels: &'static [&'static str]) -> Self {
        self.labels = labels;
        self
    }

    /// The histogram's bucket boundaries, ascending.
    pub const fn with_buckets(mut self, buckets: &'static [f64]) -> Self {
        self.buckets = buckets;
        self
    }

    /// The ceiling on distinct label combinations before values fold into the overflow
    /// series.
    pub const fn with_max_series(mut self, max_series: usize) -> Self {
        self.max_series = max_series;
        self
    }

    /// Checks the definition on its own (not against the rest of the catalogue).
    pub fn validate(&self) -> Result<(), CatalogueError> {
        let name = || self.name.to_owned();
        if !valid_key(self.name) || self.name.starts_with("sdk.") {
            return Err(CatalogueError::InvalidName(name()));
        }
        if self.description.trim().is_empty() {
            return Err(CatalogueError::NoDescription(name()));
        }
        for (i, label) in self.labels.iter().enumerate() {
            let reserved = matches!(*label, "le" | "quantile") || *label == OVERFLOW_LABEL;
            if !valid_key(label) || reserved || self.labels[..i].contains(label) {
                return Err(CatalogueError::InvalidLabel {
                    name: name(),
                    label: (*label).to_owned(),
                });
            }
        }
        let buckets_ok = match self.kind {
            MetricKind::Histogram => {
                !self.buckets.is_empty()
                    && self.buckets.iter().all(|b| b.is_finite())
                    && self.buckets.windows(2).all(|w| w[0] < w[1])
            }
            _ => self.buckets.is_empty(),
        };
        if !buckets_ok {
            return Err(CatalogueError::InvalidBuckets(name()));
        }
        if self.max_series == 0 {
            return Err(CatalogueError::NoSeries(name()));
        }
        Ok(())
    }
}

/// `[a-z][a-z0-9_]*` segments joined by single dots.
fn valid_key(key: &str) -> bool {
    key.split('.').all(|segment| {
        let mut chars = segment.chars();
        chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    })
}

/// A registered application metric with its Prometheus name, computed once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Registered {
    pub(crate) def: &'static MetricDef,
    pub(crate) prometheus: &'static str,
}

/// Application metrics, in registration order. Entries are never removed: a definition
/// is a `static`, and registering it again is a no-op, so the list is bounded by the
/// program's own declarations.
static APPLICATION: RwLock<Vec<Registered>> = RwLock::new(Vec::new());

pub(crate) fn registered() -> Vec<Registered> {
    APPLICATION
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// Adds application metrics to the catalogue. All or nothing: if one definition is
/// refused, none is added. Registering a definition that is already registered (the same
/// `static`) is a no-op.
///
/// Register before the exporters start (the builder does): the Prometheus exporter reads
/// histogram buckets when it is built.
pub fn register(defs: &[&'static MetricDef]) -> Result<(), CatalogueError> {
    let mut app = APPLICATION
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut added: Vec<Registered> = Vec::new();
    for def in defs {
        if app.iter().chain(&added).any(|r| std::ptr::eq(r.def, *def)) {
            continue;
        }
        def.validate()?;
        let prometheus = def.prometheus_name();
        let clash = ALL
            .iter()
            .map(|other| (*other, other.prometheus_name()))
            .chain(
                app.iter()
                    .chain(&added)
                    .map(|r| (r.def, r.prometheus.to_owned())),
            )
            .find(|(other, other_prom)| other.name == def.name || *other_prom == prometheus);
        if let Some((other, _)) = clash {
            return Err(CatalogueError::Duplicate {
                name: def.name.to_owned(),
                other: other.name.to_owned(),
                prometheus,
            });
        }
        added.push(Registered {
            def,
            // One short string per declared static, never freed: bounded by the program.
            prometheus: Box::leak(prometheus.into_boxed_str()),
        });
    }
    app.extend(added);
    Ok(())
}

/// The registered application metrics, in registration order.
pub fn application() -> Vec<&'static MetricDef> {
    registered().into_iter().map(|r| r.def).collect()
}

/// Every metric: the SDK's ([`ALL`]) then the application's.
pub fn all() -> Vec<&'static MetricDef> {
    ALL.iter().copied().chain(application()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    static GOOD: MetricDef = MetricDef::new(
        "app.test.widgets",
        MetricKind::Histogram,
        Unit::Seconds,
        "Widgets.",
    )
    .with_buckets(&[0.1, 1.0])
    .with_labels(&["app.kind"]);

    #[test]
    fn validation_names_what_is_wrong() {
        assert_eq!(GOOD.validate(), Ok(()));
        let bad_name = MetricDef::new("App.X", MetricKind::Counter, Unit::Bytes, "x");
        assert!(matches!(
            bad_name.validate(),
            Err(CatalogueError::InvalidName(_))
        ));
        let reserved = MetricDef::new("sdk.mine", MetricKind::Counter, Unit::Bytes, "x");
        assert!(matches!(
            reserved.validate(),
            Err(CatalogueError::InvalidName(_))
        ));
        let empty_segment = MetricDef::new("app..x", MetricKind::Counter, Unit::Bytes, "x");
        assert!(empty_segment.validate().is_err());
        let no_desc = MetricDef::new("app.x", MetricKind::Counter, Unit::Bytes, " ");
        assert!(matches!(
            no_desc.validate(),
            Err(CatalogueError::NoDescription(_))
        ));
        let le =
            MetricDef::new("app.x", MetricKind::Counter, Unit::Bytes, "x").with_labels(&["le"]);
        assert!(matches!(
            le.validate(),
            Err(CatalogueError::InvalidLabel { .. })
        ));
        let repeated =
            MetricDef::new("app.x", MetricKind::Counter, Unit::Bytes, "x").with_labels(&["a", "a"]);
        assert!(repeated.validate().is_err());
        let unsorted = MetricDef::new("app.x", MetricKind::Histogram, Unit::Bytes, "x")
            .with_buckets(&[2.0, 1.0]);
        assert!(matches!(
            unsorted.validate(),
            Err(CatalogueError::InvalidBuckets(_))
        ));
        let counter_buckets =
            MetricDef::new("app.x", MetricKind::Counter, Unit::Bytes, "x").with_buckets(&[1.0]);
        assert!(counter_buckets.validate().is_err());
        let no_series =
            MetricDef::new("app.x", MetricKind::Counter, Unit::Bytes, "x").with_max_series(0);
        assert!(matches!(
            no_series.validate(),
            Err(CatalogueError::NoSeries(_))
        ));
    }

    static CLASH_SDK: MetricDef = MetricDef::new(
        "http.server.request.duration",
        MetricKind::Histogram,
        Unit::Seconds,
        "Clash.",
    )
    .with_buckets(&[1.0]);
    static CLASH_PROM: MetricDef = MetricDef::new(
        "app.test.widgets_seconds",
        MetricKind::Histogram,
        Unit::Seconds,
        "Same Prometheus name as GOOD.",
    )
    .with_buckets(&[1.0]);
    static FINE: MetricDef = MetricDef::new(
        "app.test.fine",
        MetricKind::Gauge,
        Unit::Count("{widget}"),
        "Fine.",
    );

    #[test]
    fn registration_is_all_or_nothing_and_idempotent() {
        register(&[&GOOD]).unwrap();
        register(&[&GOOD, &GOOD]).unwrap();
        assert_eq!(
            all().iter().filter(|d| d.name == GOOD.name).count(),
            1,
            "registered twice"
        );
        let err = register(&[&FINE, &CLASH_SDK]).unwrap_err();
        assert!(matches!(err, CatalogueError::Duplicate { .. }), "{err}");
        assert!(
            !application().contains(&&FINE),
            "a refused batch added a metric"
        );
        let err = register(&[&CLASH_PROM]).unwrap_err();
        assert!(
            err.to_string().contains("app_test_widgets_seconds"),
            "{err}"
        );
        assert_eq!(super::super::find("app.test.widgets"), Some(&GOOD));
        assert_eq!(
            super::super::find_prometheus("app_test_widgets_seconds"),
            Some(&GOOD)
        );
    }
}
