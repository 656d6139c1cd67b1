//! Against a real SQLite database file.

mod common;

use common::{capture, int_attr, str_attr};
use sdk_core::config::Sampler;
use sdk_core::spans::SpanStatus;
use sdk_sqlx::{InstrumentedPool, SqlxConfig};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{ConnectOptions, Sqlite};

async fn pool(file: &std::path::Path) -> InstrumentedPool<Sqlite> {
    let options = SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(true)
        .disable_statement_logging();
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    InstrumentedPool::new(pool, SqlxConfig::new())
}

#[test]
fn sqlite_queries_transactions_and_errors() {
    let dir = std::env::temp_dir().join(format!("sdk-sqlx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("test.db");
    let _ = std::fs::remove_file(&file);
    let path = file.clone();
    let captured = capture(Sampler::default(), || async move {
        let pool = pool(&path).await;
        sqlx::raw_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();
        let done = sqlx::query("INSERT INTO notes (id, body) VALUES (?, ?), (2, 'private note')")
            .bind(1)
            .bind("first")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 2);
        let bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM notes ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(bodies, ["first", "private note"]);
        let duplicate = sqlx::query("INSERT INTO notes (id, body) VALUES (1, 'dup')")
            .execute(&pool)
            .await;
        assert!(duplicate.is_err());

        let mut tx = pool.begin().await.unwrap();
        sqlx::query("DELETE FROM notes WHERE id = ?")
            .bind(2)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM notes")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(count, 1);
    });
    let _ = std::fs::remove_dir_all(&dir);

    let select = captured.span("SELECT notes");
    assert_eq!(str_attr(select, "db.system.name"), Some("sqlite"));
    assert_eq!(str_attr(select, "db.namespace"), file.to_str());
    assert!(select.attribute("server.address").is_none());
    assert_eq!(int_attr(select, "db.response.returned_rows"), Some(2));
    // SQLite carries the INSERT's change count over to the SELECT; it is not reported.
    assert!(select.attribute("db.response.affected_rows").is_none());

    let inserts = captured.spans_named("INSERT notes");
    assert_eq!(inserts.len(), 2);
    assert_eq!(int_attr(inserts[0], "db.response.affected_rows"), Some(2));
    assert_eq!(
        str_attr(inserts[0], "db.query.text"),
        Some("INSERT INTO notes (id, body) VALUES (?, ?), (?, ?)")
    );
    // SQLite reports its extended result code (SQLITE_CONSTRAINT_PRIMARYKEY).
    assert_eq!(
        str_attr(inserts[1], "db.response.status_code"),
        Some("1555")
    );
    assert!(matches!(inserts[1].status, SpanStatus::Error(_)));

    assert_eq!(captured.spans_named("BEGIN").len(), 1);
    assert_eq!(captured.spans_named("COMMIT").len(), 1);
    assert_eq!(captured.spans_named("DELETE notes").len(), 1);
    let everything = format!("{:?}{}", captured.spans, captured.log_text);
    assert!(!everything.contains("private note"));
    assert!(!everything.contains("'dup'"));
    assert_eq!(
        captured
            .histogram_samples(
                "db.client.operation.duration",
                &[("db.system.name", "sqlite")]
            )
            .len(),
        8,
        "{:?}",
        captured.names()
    );
}
