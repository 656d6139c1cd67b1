//! The cardinality guard keeps global state per metric, so it has this process to itself.

use sdk_core::catalogue;

#[test]
fn cardinality_guard_folds_new_combinations_beyond_the_ceiling() {
    use sdk_core::testing::{RecordedValue, capture_metrics};
    let def = &catalogue::HTTP_SERVER_PANICS;
    let recorded = capture_metrics(|| {
        for i in 0..(def.max_series + 250) {
            def.counter(&[("http.route", format!("/r/{i}").into())])
                .increment(1);
        }
        // A combination seen before the ceiling keeps its own series.
        def.counter(&[("http.route", "/r/0".into())]).increment(1);
    });
    let series: Vec<_> = recorded.iter().filter(|m| m.name == def.name).collect();
    assert_eq!(
        series.len(),
        def.max_series + 1,
        "ceiling plus one overflow series"
    );
    let overflow = series
        .iter()
        .find(|m| m.labels == [("otel.metric.overflow".to_owned(), "true".to_owned())])
        .unwrap();
    assert_eq!(overflow.value, RecordedValue::Counter(250));
    let first = series
        .iter()
        .find(|m| m.labels == [("http.route".to_owned(), "/r/0".to_owned())])
        .unwrap();
    assert_eq!(first.value, RecordedValue::Counter(2));
    let counted = recorded
        .iter()
        .find(|m| m.name == "sdk.metric.overflow")
        .unwrap();
    assert_eq!(counted.value, RecordedValue::Counter(250));
    assert_eq!(
        counted.labels,
        [("sdk.metric".to_owned(), def.name.to_owned())]
    );
}
