//! Under a subscriber without any SDK layer (`tracing-opentelemetry` alone), command spans
//! still carry their name, kind and semantic-convention attributes, as span fields, with
//! values masked.

use sdk_core::testing::foreign::{capture_foreign, otel_attr};
use sdk_redis::{InstrumentedConnection, RedisConfig};

#[test]
fn command_spans_under_tracing_opentelemetry() {
    let url =
        std::env::var("SDK_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let key = format!("sdk-test:{}:foreign", std::process::id());
    let spans = capture_foreign(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let client = redis::Client::open(url.as_str()).unwrap();
            let connection = client
                .get_multiplexed_async_connection()
                .await
                .unwrap_or_else(|e| {
                    panic!("Redis at {url} is not reachable ({e}); `cargo xtask test` starts it")
                });
            let mut connection =
                InstrumentedConnection::new(connection, RedisConfig::from_client(&client));
            let _: () = redis::cmd("SET")
                .arg(&key)
                .arg("hunter2")
                .query_async(&mut connection)
                .await
                .unwrap();
            let value: String = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut connection)
                .await
                .unwrap();
            assert_eq!(value, "hunter2");
            let wrong: Result<i64, _> = redis::cmd("INCR")
                .arg(&key)
                .query_async(&mut connection)
                .await;
            assert!(wrong.is_err());
            let _: () = redis::cmd("DEL")
                .arg(&key)
                .query_async(&mut connection)
                .await
                .unwrap();
        });
    });
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    let set = spans
        .iter()
        .find(|s| s.name == "SET")
        .unwrap_or_else(|| panic!("{names:?}"));
    assert_eq!(format!("{:?}", set.span_kind), "Client");
    assert_eq!(otel_attr(set, "db.system.name").as_deref(), Some("redis"));
    assert_eq!(otel_attr(set, "db.operation.name").as_deref(), Some("SET"));
    let text = otel_attr(set, "db.query.text").unwrap();
    assert!(!text.contains("hunter2"), "the value is masked: {text}");
    let incr = spans.iter().find(|s| s.name == "INCR").unwrap();
    assert_eq!(otel_attr(incr, "error.type").as_deref(), Some("ERR"));
    assert_eq!(
        otel_attr(incr, "db.response.status_code").as_deref(),
        Some("ERR")
    );
    assert!(matches!(
        incr.status,
        opentelemetry::trace::Status::Error { .. }
    ));
}
