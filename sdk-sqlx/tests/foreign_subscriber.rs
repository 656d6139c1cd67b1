//! Under a subscriber without any SDK layer (`tracing-opentelemetry` alone), query spans
//! still carry their summary name, kind and semantic-convention attributes, as span fields.

use sdk_core::testing::foreign::{capture_foreign, otel_attr};
use sdk_sqlx::{InstrumentedPool, SqlxConfig};
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

#[test]
fn query_spans_under_tracing_opentelemetry() {
    let spans = capture_foreign(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let options = SqliteConnectOptions::new()
                .in_memory(true)
                .disable_statement_logging();
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .unwrap();
            let pool = InstrumentedPool::new(pool, SqlxConfig::new());
            sqlx::raw_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query("INSERT INTO notes (id, body) VALUES (1, 'secret body')")
                .execute(&pool)
                .await
                .unwrap();
            let body: String = sqlx::query_scalar("SELECT body FROM notes WHERE id = ?")
                .bind(1)
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(body, "secret body");
            let missing = sqlx::query("SELECT nope FROM notes").execute(&pool).await;
            assert!(missing.is_err());
        });
    });
    let select = spans
        .iter()
        .find(|s| s.name == "SELECT notes")
        .unwrap_or_else(|| panic!("{:?}", spans.iter().map(|s| &s.name).collect::<Vec<_>>()));
    assert_eq!(format!("{:?}", select.span_kind), "Client");
    assert_eq!(
        otel_attr(select, "db.system.name").as_deref(),
        Some("sqlite")
    );
    assert_eq!(
        otel_attr(select, "db.operation.name").as_deref(),
        Some("SELECT")
    );
    assert_eq!(
        otel_attr(select, "db.collection.name").as_deref(),
        Some("notes")
    );
    assert_eq!(
        otel_attr(select, "db.response.returned_rows").as_deref(),
        Some("1")
    );
    let insert = spans.iter().find(|s| s.name == "INSERT notes").unwrap();
    let text = otel_attr(insert, "db.query.text").unwrap();
    assert!(!text.contains("secret"), "literals are sanitized: {text}");
    let failed = spans
        .iter()
        .find(|s| otel_attr(s, "error.type").is_some())
        .expect("the failing query is marked");
    assert!(matches!(
        failed.status,
        opentelemetry::trace::Status::Error { .. }
    ));
}
