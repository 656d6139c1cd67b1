//! Against the real Redis (`SDK_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`;
//! `cargo xtask test` starts it), plus a private `redis-server` for the outage test.

mod common;

use common::{capture, connect, url};

use sdk_core::config::Sampler;
use sdk_core::spans::{SpanKind, SpanStatus};
use sdk_core::testing::{capture_everything, int_attr, str_attr};
use sdk_redis::{Cache, InstrumentedConnection, RedisConfig};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A key unique to this test run.
fn key(name: &str) -> String {
    format!("sdk-test:{}:{name}", std::process::id())
}

#[test]
fn commands_get_spans_with_masked_text_and_errors() {
    let user = key("user:1");
    let list = key("list");
    let captured = capture(|| async {
        let mut conn = connect(&[]).await;
        let request = tracing::info_span!("request");
        let _entered = request.enter();
        let _: () = redis::cmd("SET")
            .arg(&user)
            .arg("s3cret-value")
            .arg("EX")
            .arg(60)
            .query_async(&mut conn)
            .await
            .unwrap();
        let got: Option<String> = redis::cmd("GET")
            .arg(&user)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(got.as_deref(), Some("s3cret-value"));
        let missing: Option<String> = redis::cmd("GET")
            .arg(key("nope"))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(missing.is_none());
        // WRONGTYPE: LPUSH on a string.
        let wrong: redis::RedisResult<()> = redis::cmd("LPUSH")
            .arg(&user)
            .arg("x")
            .query_async(&mut conn)
            .await;
        assert!(wrong.is_err());
        let _: () = redis::cmd("DEL")
            .arg(&user)
            .arg(&list)
            .query_async(&mut conn)
            .await
            .unwrap();
    });
    let request = captured.span("request");
    let set = captured.span("SET");
    assert_eq!(set.kind, SpanKind::Client);
    assert_eq!(set.parent_span_id, Some(request.span_id));
    assert_eq!(str_attr(set, "db.system.name"), Some("redis"));
    assert_eq!(str_attr(set, "db.namespace"), Some("0"));
    assert_eq!(str_attr(set, "db.operation.name"), Some("SET"));
    assert_eq!(
        str_attr(set, "db.query.text"),
        Some(&*format!("SET {user} ? ? ?"))
    );
    assert_eq!(str_attr(set, "server.address"), Some("127.0.0.1"));
    assert_eq!(int_attr(set, "server.port"), Some(6379));
    let gets = captured.spans_named("GET");
    assert_eq!(gets.len(), 2);
    // A nil reply is a miss, not an error.
    assert_eq!(gets[1].status, SpanStatus::Unset);
    let lpush = captured.span("LPUSH");
    assert_eq!(
        str_attr(lpush, "db.response.status_code"),
        Some("WRONGTYPE")
    );
    assert_eq!(str_attr(lpush, "error.type"), Some("WRONGTYPE"));
    assert!(matches!(lpush.status, SpanStatus::Error(_)));
    let everything = format!("{:?}{}", captured.spans, captured.log_text);
    assert!(!everything.contains("s3cret-value"), "a value leaked");
    assert_eq!(
        captured
            .histogram_samples(
                "db.client.operation.duration",
                &[("db.operation.name", "LPUSH"), ("error.type", "WRONGTYPE")]
            )
            .len(),
        1
    );
}

#[test]
fn pipelines_and_transactions() {
    let a = key("pipe:a");
    let b = key("pipe:b");
    let captured = capture(|| async {
        let mut conn = connect(&[]).await;
        let (x, y): (Option<String>, Option<String>) = redis::pipe()
            .cmd("SET")
            .arg(&a)
            .arg("hidden-1")
            .ignore()
            .cmd("HSET")
            .arg(&b)
            .arg("field")
            .arg("hidden-2")
            .ignore()
            .cmd("GET")
            .arg(&a)
            .cmd("GET")
            .arg(key("pipe:none"))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(x.as_deref(), Some("hidden-1"));
        assert!(y.is_none());
        let (n,): (i64,) = redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg(key("counter"))
            .cmd("DEL")
            .arg(&a)
            .arg(&b)
            .arg(key("counter"))
            .ignore()
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, 1);
        // A server error inside a pipeline arrives as a value.
        let failed: redis::RedisResult<Vec<redis::Value>> = redis::pipe()
            .cmd("SET")
            .arg(&a)
            .arg("v")
            .ignore()
            .cmd("HGET")
            .arg(&a)
            .arg("f")
            .cmd("DEL")
            .arg(&a)
            .ignore()
            .query_async(&mut conn)
            .await;
        drop(failed);
    });
    let pipelines = captured.spans_named("PIPELINE");
    assert_eq!(pipelines.len(), 2, "{:?}", captured.names());
    let first = pipelines[0];
    assert_eq!(int_attr(first, "db.operation.batch.size"), Some(4));
    assert_eq!(
        str_attr(first, "db.query.text"),
        Some(&*format!(
            "SET {a} ?; HSET {b} field ?; GET {a}; GET {}",
            key("pipe:none")
        ))
    );
    assert_eq!(first.status, SpanStatus::Unset);
    let multi = captured.span("MULTI");
    assert_eq!(int_attr(multi, "db.operation.batch.size"), Some(2));
    let failed = pipelines[1];
    assert_eq!(
        str_attr(failed, "db.response.status_code"),
        Some("WRONGTYPE")
    );
    assert!(matches!(failed.status, SpanStatus::Error(_)));
    assert!(!format!("{:?}", captured.spans).contains("hidden-"));
    // Hits and misses inside the first pipeline: GET a (hit), GET none (miss).
    assert_eq!(
        captured.counter(
            "sdk.cache.requests",
            &[("db.operation.name", "GET"), ("cache.result", "hit")]
        ),
        1
    );
    assert_eq!(
        captured.counter(
            "sdk.cache.requests",
            &[("db.operation.name", "GET"), ("cache.result", "miss")]
        ),
        1
    );
    let sizes = captured.histogram_samples(
        "db.client.operation.batch.size",
        &[("db.operation.name", "PIPELINE")],
    );
    assert_eq!(sizes, vec![4.0, 3.0]);
}

#[test]
fn hit_and_miss_counts_match_a_scripted_workload() {
    let captured = capture(|| async {
        let mut conn = connect(&["user:", "session:"]).await;
        let user = |n: u32| format!("user:{}:{n}", std::process::id());
        let session = |n: u32| format!("session:{}:{n}", std::process::id());
        for n in 0..3 {
            let _: () = redis::cmd("SET")
                .arg(user(n))
                .arg("u")
                .query_async(&mut conn)
                .await
                .unwrap();
        }
        let _: () = redis::cmd("HSET")
            .arg(session(0))
            .arg("a")
            .arg("1")
            .query_async(&mut conn)
            .await
            .unwrap();
        // GET: 3 hits, 2 misses (user:).
        for n in 0..5 {
            let _: Option<String> = redis::cmd("GET")
                .arg(user(n))
                .query_async(&mut conn)
                .await
                .unwrap();
        }
        // MGET per key: 2 hits, 2 misses (user:).
        let _: Vec<Option<String>> = redis::cmd("MGET")
            .arg(user(0))
            .arg(user(1))
            .arg(user(7))
            .arg(user(8))
            .query_async(&mut conn)
            .await
            .unwrap();
        // HGET hit, HMGET per field: 1 hit 2 misses (session:).
        let _: Option<String> = redis::cmd("HGET")
            .arg(session(0))
            .arg("a")
            .query_async(&mut conn)
            .await
            .unwrap();
        let _: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(session(0))
            .arg("a")
            .arg("b")
            .arg("c")
            .query_async(&mut conn)
            .await
            .unwrap();
        // A key matching no prefix.
        let _: Option<String> = redis::cmd("GET")
            .arg(key("other"))
            .query_async(&mut conn)
            .await
            .unwrap();
        // EXISTS: 2 of 3 exist (user:).
        let _: i64 = redis::cmd("EXISTS")
            .arg(user(0))
            .arg(user(1))
            .arg(user(9))
            .query_async(&mut conn)
            .await
            .unwrap();
        let _: () = redis::cmd("DEL")
            .arg(user(0))
            .arg(user(1))
            .arg(user(2))
            .arg(session(0))
            .query_async(&mut conn)
            .await
            .unwrap();
    });
    let count = |op: &str, result: &str, prefix: &str| {
        captured.counter(
            "sdk.cache.requests",
            &[
                ("db.operation.name", op),
                ("cache.result", result),
                ("cache.key_prefix", prefix),
            ],
        )
    };
    assert_eq!(count("GET", "hit", "user:"), 3);
    assert_eq!(count("GET", "miss", "user:"), 2);
    assert_eq!(count("MGET", "hit", "user:"), 2);
    assert_eq!(count("MGET", "miss", "user:"), 2);
    assert_eq!(count("HGET", "hit", "session:"), 1);
    assert_eq!(count("HMGET", "hit", "session:"), 1);
    assert_eq!(count("HMGET", "miss", "session:"), 2);
    assert_eq!(count("GET", "miss", "other"), 1);
    assert_eq!(count("EXISTS", "hit", "user:"), 2);
    assert_eq!(count("EXISTS", "miss", "user:"), 1);
    // Writes are not lookups; raw keys never become labels.
    assert_eq!(
        captured.counter("sdk.cache.requests", &[("db.operation.name", "SET")]),
        0
    );
    let labels = format!("{:?}", captured.metrics);
    assert!(!labels.contains(&format!("user:{}:", std::process::id())));
}

#[test]
fn auth_credentials_never_reach_telemetry() {
    let captured = capture(|| async {
        let mut conn = connect(&[]).await;
        // The server has no password: AUTH fails, and the password must not appear.
        let _: redis::RedisResult<()> = redis::cmd("AUTH")
            .arg("admin")
            .arg("pa55word-xyz")
            .query_async(&mut conn)
            .await;
        let _: redis::RedisResult<()> = redis::cmd("CONFIG")
            .arg("SET")
            .arg("masterauth")
            .arg("pa55word-xyz")
            .query_async(&mut conn)
            .await;
        let _: redis::RedisResult<()> = redis::cmd("CONFIG")
            .arg("SET")
            .arg("masterauth")
            .arg("")
            .query_async(&mut conn)
            .await;
    });
    let auth = captured.span("AUTH");
    assert_eq!(str_attr(auth, "db.query.text"), Some("AUTH ? ?"));
    let everything = format!("{:?}{}", captured.spans, captured.log_text);
    assert!(!everything.contains("pa55word"), "{everything}");
}

#[test]
fn cache_aside_single_flight_and_no_cached_errors() {
    let item = key("item:1");
    let failing = key("item:fail");
    let loads = Arc::new(AtomicUsize::new(0));
    let captured = capture(|| {
        let loads = Arc::clone(&loads);
        async move {
            let conn = connect(&["sdk-test:"]).await;
            let cache = Cache::new(conn, Duration::from_millis(500));
            // Ten concurrent misses: one load.
            let calls = (0..10).map(|_| {
                let cache = cache.clone();
                let loads = Arc::clone(&loads);
                let item = item.clone();
                async move {
                    cache
                        .get_or_load(&item, Duration::from_secs(30), || async move {
                            loads.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            Ok::<_, String>(vec![1u32, 2, 3])
                        })
                        .await
                }
            });
            let results = futures_util::future::join_all(calls).await;
            assert!(
                results
                    .iter()
                    .all(|r| r.as_deref() == Ok(&[1u32, 2, 3][..]))
            );
            assert_eq!(loads.load(Ordering::SeqCst), 1);
            // Now a hit: no load.
            let again: Result<Vec<u32>, Arc<String>> = cache
                .get_or_load(&item, Duration::from_secs(30), || async {
                    Err("not called".to_owned())
                })
                .await;
            assert_eq!(again.as_deref(), Ok(&[1u32, 2, 3][..]));
            // A loader error reaches the caller and is not stored.
            let error: Result<u32, Arc<String>> = cache
                .get_or_load(&failing, Duration::from_secs(30), || async {
                    Err("backend down".to_owned())
                })
                .await;
            assert_eq!(error.unwrap_err().as_str(), "backend down");
            let retried: Result<u32, Arc<String>> = cache
                .get_or_load(&failing, Duration::from_secs(30), || async { Ok(7) })
                .await;
            assert_eq!(retried, Ok(7));
            let mut raw = connect(&[]).await;
            let ttl: i64 = redis::cmd("PTTL")
                .arg(&item)
                .query_async(&mut raw)
                .await
                .unwrap();
            assert!(ttl > 25_000 && ttl <= 30_000, "{ttl}");
            let _: () = redis::cmd("DEL")
                .arg(&item)
                .arg(&failing)
                .query_async(&mut raw)
                .await
                .unwrap();
        }
    });
    let loads = captured.histogram_samples(
        "sdk.cache.load.duration",
        &[("cache.key_prefix", "sdk-test:")],
    );
    assert_eq!(loads.len(), 3, "one shared load, one failed, one retried");
    assert!(loads.iter().any(|d| *d >= 0.05));
    assert_eq!(
        captured
            .histogram_samples("sdk.cache.load.duration", &[("error.type", "loader")])
            .len(),
        1
    );
    assert_eq!(
        captured.counter(
            "sdk.cache.requests",
            &[("db.operation.name", "GET"), ("cache.result", "hit")]
        ),
        1
    );
}

#[test]
fn redis_down_falls_back_to_the_loader_and_counts_it() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut server = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server runs (apt-get install -y redis-server)");
    let url = format!("redis://127.0.0.1:{port}");
    let captured = capture(|| async {
        let mut conn = None;
        for _ in 0..50 {
            if let Ok(client) = redis::Client::open(url.as_str())
                && let Ok(c) = client.get_multiplexed_async_connection().await
            {
                conn = Some(InstrumentedConnection::new(
                    c,
                    RedisConfig::from_client(&client).key_prefixes(["item:"]),
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let conn = conn.expect("private redis-server started");
        let answer = sdk_redis::ping(&conn, Duration::from_secs(1)).await;
        assert!(answer.is_ok(), "{answer:?}");
        let cache = Cache::new(conn.clone(), Duration::from_millis(300));
        let first: Result<u32, Arc<String>> = cache
            .get_or_load("item:1", Duration::from_secs(60), || async { Ok(1) })
            .await;
        assert_eq!(first, Ok(1));
        let _ = server.kill();
        let _ = server.wait();
        for _ in 0..3 {
            let answer: Result<u32, Arc<String>> = cache
                .get_or_load("item:1", Duration::from_secs(60), || async { Ok(2) })
                .await;
            assert_eq!(answer, Ok(2), "the loader answers while Redis is down");
        }
        assert!(
            sdk_redis::ping(&conn, Duration::from_millis(200))
                .await
                .is_err()
        );
    });
    assert_eq!(
        captured.counter("sdk.cache.fallbacks", &[("cache.key_prefix", "item:")]),
        3
    );
    let failed_gets: Vec<_> = captured
        .spans_named("GET")
        .into_iter()
        .filter(|s| matches!(s.status, SpanStatus::Error(_)))
        .collect();
    assert!(!failed_gets.is_empty());
}

#[test]
fn blocking_connection_commands_and_pipelines() {
    let k = key("sync");
    let captured = capture_everything(Sampler::default(), || {
        let client = redis::Client::open(url()).unwrap();
        let mut conn = sdk_redis::InstrumentedSyncConnection::new(
            client.get_connection().unwrap(),
            RedisConfig::from_client(&client).key_prefixes(["sdk-test:"]),
        );
        let _: () = redis::cmd("SET")
            .arg(&k)
            .arg("sync-secret")
            .query(&mut conn)
            .unwrap();
        let v: Option<String> = redis::cmd("GET").arg(&k).query(&mut conn).unwrap();
        assert_eq!(v.as_deref(), Some("sync-secret"));
        let (a, b): (Option<String>, Option<String>) = redis::pipe()
            .atomic()
            .cmd("GET")
            .arg(&k)
            .cmd("GET")
            .arg(key("sync-none"))
            .query(&mut conn)
            .unwrap();
        assert_eq!((a.as_deref(), b), (Some("sync-secret"), None));
        let _: () = redis::cmd("DEL").arg(&k).query(&mut conn).unwrap();
    });
    let set = captured.span("SET");
    assert_eq!(str_attr(set, "db.query.text"), Some(&*format!("SET {k} ?")));
    let multi = captured.span("MULTI");
    assert_eq!(int_attr(multi, "db.operation.batch.size"), Some(2));
    assert_eq!(
        str_attr(multi, "db.query.text"),
        Some(&*format!("GET {k}; GET {}", key("sync-none")))
    );
    assert!(!format!("{:?}", captured.spans).contains("sync-secret"));
    let hits = captured.counter(
        "sdk.cache.requests",
        &[("cache.result", "hit"), ("cache.key_prefix", "sdk-test:")],
    );
    let misses = captured.counter(
        "sdk.cache.requests",
        &[("cache.result", "miss"), ("cache.key_prefix", "sdk-test:")],
    );
    assert_eq!((hits, misses), (2, 1));
}

#[test]
fn connection_manager_is_instrumented_too() {
    let k = key("manager");
    let captured = capture(|| async {
        let client = redis::Client::open(url()).unwrap();
        let manager = redis::aio::ConnectionManager::new(client.clone())
            .await
            .unwrap();
        let mut conn = InstrumentedConnection::new(manager, RedisConfig::from_client(&client));
        let _: () = redis::cmd("SET")
            .arg(&k)
            .arg("m")
            .query_async(&mut conn)
            .await
            .unwrap();
        let _: () = redis::cmd("DEL")
            .arg(&k)
            .query_async(&mut conn)
            .await
            .unwrap();
    });
    assert_eq!(captured.spans_named("SET").len(), 1);
    assert_eq!(captured.spans_named("DEL").len(), 1);
}

#[test]
fn cancelled_commands_aborted_transactions_and_dropped_loads() {
    let watched = key("watched");
    let slow = key("slow");
    let captured = capture(|| async {
        let mut conn = connect(&[]).await;
        let mut other = connect(&[]).await;
        // A command whose caller gives up is recorded as cancelled.
        let blocked = tokio::time::timeout(
            Duration::from_millis(50),
            redis::cmd("BLPOP")
                .arg(key("empty-list"))
                .arg(0.3)
                .query_async::<Option<Vec<String>>>(&mut conn),
        )
        .await;
        assert!(blocked.is_err(), "timed out");
        tokio::time::sleep(Duration::from_millis(400)).await;

        // WATCH, a concurrent write, then the transaction: EXEC answers nil.
        let _: () = redis::cmd("WATCH")
            .arg(&watched)
            .query_async(&mut conn)
            .await
            .unwrap();
        let _: () = redis::cmd("SET")
            .arg(&watched)
            .arg("changed")
            .query_async(&mut other)
            .await
            .unwrap();
        let aborted: Option<(Option<String>,)> = redis::pipe()
            .atomic()
            .cmd("GET")
            .arg(&watched)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(aborted.is_none());
        let _: () = redis::cmd("DEL")
            .arg(&watched)
            .query_async(&mut other)
            .await
            .unwrap();

        // A load whose request is dropped mid-way leaves no flight behind.
        let cache = Cache::new(connect(&[]).await, Duration::from_millis(500));
        let dropped = tokio::time::timeout(
            Duration::from_millis(20),
            cache.get_or_load(&slow, Duration::from_secs(5), || async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                Ok::<_, String>(1u8)
            }),
        )
        .await;
        assert!(dropped.is_err());
        assert_eq!(cache.loads_in_progress(), 0);
        let loaded = cache
            .get_or_load(&slow, Duration::from_secs(5), || async {
                Ok::<_, String>(2u8)
            })
            .await;
        assert_eq!(loaded, Ok(2));
        let _: () = redis::cmd("DEL")
            .arg(&slow)
            .query_async(&mut other)
            .await
            .unwrap();
    });
    let blpop = captured.span("BLPOP");
    assert_eq!(str_attr(blpop, "error.type"), Some("cancelled"));
    assert!(matches!(blpop.status, SpanStatus::Error(_)));
    assert_eq!(
        captured
            .histogram_samples(
                "db.client.operation.duration",
                &[("db.operation.name", "BLPOP"), ("error.type", "cancelled")]
            )
            .len(),
        1
    );
    assert_eq!(
        captured.counter("sdk.operation.cancelled", &[("sdk.operation", "db.redis")]),
        1,
        "sdk-core's lifecycle counts the cancellation"
    );
    // The aborted transaction read nothing: no lookup counted for its GET.
    assert_eq!(
        captured.counter("sdk.cache.requests", &[("db.operation.name", "GET")]),
        2,
        "only the two cache-aside GETs count"
    );
}
