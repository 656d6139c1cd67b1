//! A service's own metrics registered in the catalogue get the SDK's guarantees: units,
//! descriptions and buckets in the Prometheus exposition (checked by the real
//! `promtool`), the cardinality ceiling, and lookups by either name. Own file: the
//! application registry is process-wide.

use sdk_core::catalogue::{self, MetricDef, MetricKind, Unit};
use sdk_core::prometheus::{catalogue_recorder, describe_catalogue};
use sdk_core::testing::promtool_check;

static DOCUMENTS_CREATED: MetricDef = MetricDef::new(
    "app.documents.created",
    MetricKind::Counter,
    Unit::Count("{document}"),
    "Documents created, by document kind.",
)
.with_labels(&["app.document.kind"])
.with_max_series(3);

static DAILY_ACTIVE_USERS: MetricDef = MetricDef::new(
    "app.users.daily_active",
    MetricKind::Gauge,
    Unit::Count("{user}"),
    "Distinct users active over the last 24 hours.",
);

static EXPORT_SIZE: MetricDef = MetricDef::new(
    "app.export.size",
    MetricKind::Histogram,
    Unit::Bytes,
    "Size of document exports.",
)
.with_buckets(&[1024.0, 65536.0, 1048576.0]);

#[test]
fn application_metrics_render_like_the_sdks_and_pass_promtool() {
    catalogue::register(&[&DOCUMENTS_CREATED, &DAILY_ACTIVE_USERS, &EXPORT_SIZE]).unwrap();
    // The recorder is built after registration, as the builder does it.
    let recorder = catalogue_recorder().unwrap();
    describe_catalogue(&recorder);
    metrics::with_local_recorder(&recorder, || {
        for kind in ["pdf", "sheet", "slide", "memo", "note"] {
            DOCUMENTS_CREATED
                .counter(&[("app.document.kind", kind.into())])
                .increment(1);
        }
        DAILY_ACTIVE_USERS.gauge(&[]).set(42.0);
        EXPORT_SIZE.histogram(&[]).record(2000.0);
    });
    let text = recorder.handle().render();

    assert!(
        text.contains("# HELP app_documents_created_total Documents created, by document kind.\n"),
        "{text}"
    );
    assert!(text.contains("# TYPE app_documents_created_total counter\n"));
    assert!(text.contains("app_documents_created_total{app_document_kind=\"pdf\"} 1"));
    // The ceiling of 3 folds the fourth and fifth kinds into the overflow series.
    assert!(
        text.contains("app_documents_created_total{otel_metric_overflow=\"true\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("sdk_metric_overflow_total{sdk_metric=\"app.documents.created\"} 2"),
        "{text}"
    );
    assert!(text.contains("# TYPE app_users_daily_active gauge\n"));
    assert!(text.contains("app_users_daily_active 42"));
    // The histogram has its own buckets, not the default duration buckets.
    assert!(text.contains("# TYPE app_export_size_bytes histogram\n"));
    assert!(
        text.contains("app_export_size_bytes_bucket{le=\"1024\"} 0"),
        "{text}"
    );
    assert!(text.contains("app_export_size_bytes_bucket{le=\"65536\"} 1"));
    assert!(!text.contains("app_export_size_bytes_bucket{le=\"0.005\"}"));

    if let Err(findings) = promtool_check(&text) {
        panic!("{findings}\n--- exposition ---\n{text}");
    }

    assert_eq!(
        catalogue::find_prometheus("app_export_size_bytes"),
        Some(&EXPORT_SIZE)
    );
    let all = catalogue::all();
    assert_eq!(all.len(), catalogue::ALL.len() + 3);
    assert!(all.ends_with(&[&DOCUMENTS_CREATED, &DAILY_ACTIVE_USERS, &EXPORT_SIZE]));
}

#[test]
fn a_refused_definition_fails_setup_with_its_reason() {
    static CLASH: MetricDef = MetricDef::new(
        "http.server.active_requests",
        MetricKind::Gauge,
        Unit::Count("{request}"),
        "Shadows an SDK metric.",
    );
    let config = sdk_core::config::Config::builder()
        .build_from_vars([("OTEL_SDK_DISABLED", "true")])
        .unwrap();
    let err = sdk_core::builder(config)
        .with_metrics(&[&CLASH])
        .into_layers::<tracing_subscriber::Registry>()
        .map(|_| ())
        .unwrap_err();
    assert!(
        err.to_string().contains("http.server.active_requests"),
        "{err}"
    );
}
