//! Prometheus exposition of the whole catalogue, checked by the real `promtool`.

use sdk_core::catalogue::{self, MetricKind};
use sdk_core::prometheus::{catalogue_recorder, describe_catalogue};
use sdk_core::testing::promtool_check;

fn label_values(def: &catalogue::MetricDef) -> Vec<(&'static str, metrics::SharedString)> {
    def.labels
        .iter()
        .map(|key| (*key, metrics::SharedString::const_str("v")))
        .collect()
}

/// Records one value for every catalogue metric and returns the exposition.
fn render_catalogue() -> String {
    let recorder = catalogue_recorder().unwrap();
    describe_catalogue(&recorder);
    metrics::with_local_recorder(&recorder, || {
        for def in catalogue::ALL {
            let labels = label_values(def);
            match def.kind {
                MetricKind::Counter => def.counter(&labels).increment(3),
                MetricKind::Gauge | MetricKind::UpDownCounter => def.gauge(&labels).set(2.0),
                MetricKind::Histogram => {
                    let h = def.histogram(&labels);
                    h.record(def.buckets[0] / 2.0);
                    h.record(def.buckets[def.buckets.len() - 1] * 2.0);
                }
            }
        }
        metrics::describe_histogram!(
            "app.checkout.latency",
            metrics::Unit::Seconds,
            "Checkout latency."
        );
        metrics::histogram!("app.checkout.latency").record(0.3);
    });
    recorder.handle().render()
}

#[test]
fn every_catalogue_metric_renders_under_its_derived_name() {
    let text = render_catalogue();
    for def in catalogue::ALL {
        let name = def.prometheus_name();
        let prom_type = match def.kind {
            MetricKind::Counter => "counter",
            MetricKind::Gauge | MetricKind::UpDownCounter => "gauge",
            MetricKind::Histogram => "histogram",
        };
        assert!(
            text.contains(&format!("# TYPE {name} {prom_type}\n")),
            "no TYPE line for {name}:\n{text}"
        );
        assert!(
            text.contains(&format!("# HELP {name} {}\n", def.description)),
            "no HELP for {name}"
        );
        for key in def.labels {
            let prom_key = key.replace('.', "_");
            assert!(
                text.lines()
                    .any(|l| l.starts_with(&name) && l.contains(&format!("{prom_key}=\"v\""))),
                "{name} lacks label {prom_key}"
            );
        }
    }
}

#[test]
fn histograms_use_catalogue_buckets_not_summaries() {
    let text = render_catalogue();
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("# TYPE ") && l.ends_with(" summary")),
        "a summary was rendered:\n{text}"
    );
    assert!(!text.contains("quantile="));
    for def in catalogue::ALL
        .iter()
        .filter(|d| d.kind == MetricKind::Histogram)
    {
        let name = def.prometheus_name();
        let bucket_prefix = format!("{name}_bucket{{");
        let les: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with(&bucket_prefix))
            .filter_map(|l| {
                l.split("le=\"")
                    .nth(1)?
                    .split('"')
                    .next()
                    .map(str::to_owned)
            })
            .collect();
        let mut expected: Vec<String> = def.buckets.iter().map(|b| b.to_string()).collect();
        expected.push("+Inf".to_owned());
        assert_eq!(les, expected, "{name}");
        // One sample below the first bucket, one above the last.
        let first = text
            .lines()
            .find(|l| l.starts_with(&bucket_prefix))
            .unwrap();
        assert!(first.ends_with(" 1"), "{first}");
        assert!(text.contains(&format!("{name}_count{{")), "{name}");
    }
    // A histogram outside the catalogue is still a histogram.
    assert!(text.contains("# TYPE app_checkout_latency_seconds histogram"));
    assert!(text.contains("app_checkout_latency_seconds_bucket{le=\"0.5\"} 1"));
}

#[test]
fn promtool_finds_nothing() {
    let text = render_catalogue();
    if let Err(findings) = promtool_check(&text) {
        panic!("{findings}\n--- exposition ---\n{text}");
    }
}

#[test]
fn promtool_check_can_fail() {
    // The checker itself must report a lint: a counter without `_total` and no HELP.
    let bad = "# TYPE requests counter\nrequests 1\n";
    let findings = promtool_check(bad).expect_err("promtool accepted a bad exposition");
    assert!(
        findings.contains("_total") || findings.contains("counter"),
        "{findings}"
    );
}

#[test]
fn labels_outside_the_catalogue_and_kind_mismatches_are_dropped() {
    use sdk_core::testing::{RecordedValue, capture_metrics};
    let def = &catalogue::HTTP_SERVER_REQUEST_DURATION;
    let recorded = capture_metrics(|| {
        def.histogram(&[
            ("http.route", "/a".into()),
            ("url.full", "https://x/?token=secret".into()),
        ])
        .record(1.0);
        // A histogram definition asked for a counter yields a no-op handle.
        def.counter(&[]).increment(1);
    });
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0].labels,
        vec![("http.route".to_owned(), "/a".to_owned())]
    );
    assert_eq!(recorded[0].value, RecordedValue::Histogram(vec![1.0]));
}

#[tokio::test]
async fn metrics_service_answers_get_and_head_only() {
    use http_body_util::BodyExt;
    use tower_service::Service;
    let recorder = catalogue_recorder().unwrap();
    describe_catalogue(&recorder);
    metrics::with_local_recorder(&recorder, || {
        catalogue::PROPAGATION_REJECTED
            .counter(&[("sdk.propagator", "b3".into())])
            .increment(2);
    });
    let mut service = sdk_core::prometheus::MetricsService::new(recorder.handle());

    let response = service
        .call(http::Request::get("/metrics").body(()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        sdk_core::prometheus::CONTENT_TYPE
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let text = std::str::from_utf8(&body).unwrap();
    assert!(
        text.contains("sdk_propagation_rejected_total{sdk_propagator=\"b3\"} 2"),
        "{text}"
    );
    promtool_check(text).unwrap();

    let head = service
        .call(http::Request::head("/metrics").body(()).unwrap())
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert!(
        head.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .is_empty()
    );

    let post = service
        .call(http::Request::post("/metrics").body(()).unwrap())
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET, HEAD");
}
