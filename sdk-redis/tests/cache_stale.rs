//! Stale-while-revalidate in `Cache::get_or_load_with` against the real Redis
//! (`SDK_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`; `cargo xtask test` starts it).
//! The refresh's loader waits on a semaphore the test opens, so the test sees readers
//! answered with the stale value while the refresh is still running.

mod common;

use common::{Conn, capture, connect};

use sdk_redis::Cache;
use sdk_redis::cache::CacheEntry;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};

/// Bound on every wait of the tests; reaching it is a failure, not a synchronisation.
const PATIENCE: Duration = Duration::from_secs(30);

async fn cache() -> Cache<Conn> {
    Cache::new(connect(&["sdk-test:"]).await, Duration::from_secs(10))
}

/// Stores `value` under `key`, fresh for 1 ms and then stale for `stale_for`, and lets
/// the millisecond pass (a wait for the clock, not for another task).
async fn store_soon_stale(cache: &Cache<Conn>, key: &str, value: &str, stale_for: Duration) {
    let value = value.to_owned();
    let entry = CacheEntry::stale_while_revalidate(Duration::from_millis(1), stale_for);
    let stored: Result<String, Arc<String>> = cache
        .get_or_load_with(key, &entry, move || async move { Ok(value) })
        .await;
    assert!(stored.is_ok());
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// Waits until no load of the cache is in progress (the background refresh ended).
async fn refresh_ended(cache: &Cache<Conn>) {
    tokio::time::timeout(PATIENCE, async {
        while cache.loads_in_progress() > 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("the refresh did not end within 30 s");
}

#[test]
fn stale_values_are_served_at_once_while_exactly_one_refresh_runs() {
    let key = format!("sdk-test:{}:swr", std::process::id());
    let loads = Arc::new(AtomicUsize::new(0));
    let captured = capture(|| {
        let loads = Arc::clone(&loads);
        async move {
            let cache = cache().await;
            store_soon_stale(&cache, &key, "old", Duration::from_secs(60)).await;

            let gate = Arc::new(Semaphore::new(0));
            let (started, mut refresh_started) = mpsc::unbounded_channel();
            let entry = CacheEntry::stale_while_revalidate(
                Duration::from_secs(60),
                Duration::from_secs(60),
            );
            let read = |cache: Cache<Conn>| {
                let (loads, gate, started) =
                    (Arc::clone(&loads), Arc::clone(&gate), started.clone());
                let (key, entry) = (key.clone(), entry.clone());
                async move {
                    cache
                        .get_or_load_with(&key, &entry, move || async move {
                            loads.fetch_add(1, Ordering::SeqCst);
                            let _ = started.send(());
                            gate.acquire().await.unwrap().forget();
                            Ok::<_, String>("new".to_owned())
                        })
                        .await
                }
            };
            // Twenty concurrent readers of the stale key: all answered with the stale
            // value, one refresh.
            let answers =
                futures_util::future::join_all((0..20).map(|_| read(cache.clone()))).await;
            assert!(
                answers
                    .iter()
                    .all(|a| a.as_ref().map(String::as_str) == Ok("old"))
            );
            tokio::time::timeout(PATIENCE, refresh_started.recv())
                .await
                .expect("the refresh did not start within 30 s")
                .expect("the refresh started");
            assert_eq!(loads.load(Ordering::SeqCst), 1);
            assert_eq!(
                cache.loads_in_progress(),
                1,
                "the refresh waits on the gate"
            );
            // While it waits, readers keep getting the stale value and start no load.
            for _ in 0..5 {
                assert_eq!(
                    read(cache.clone()).await.as_ref().map(String::as_str),
                    Ok("old")
                );
            }
            assert_eq!(loads.load(Ordering::SeqCst), 1);

            gate.add_permits(1);
            refresh_ended(&cache).await;
            let fresh: Result<String, Arc<String>> = cache
                .get_or_load_with(&key, &entry, || async { Err("not called".to_owned()) })
                .await;
            assert_eq!(fresh.as_ref().map(String::as_str), Ok("new"));
            assert_eq!(loads.load(Ordering::SeqCst), 1);
            assert!(refresh_started.try_recv().is_err(), "no second refresh");

            let mut raw = cache.connection().clone();
            let ttl: i64 = redis::cmd("PTTL")
                .arg(&key)
                .query_async(&mut raw)
                .await
                .unwrap();
            assert!(
                ttl > 110_000 && ttl <= 120_000,
                "Redis keeps fresh + stale: {ttl}"
            );
            let _: u64 = redis::cmd("UNLINK")
                .arg(&key)
                .query_async(&mut raw)
                .await
                .unwrap();
        }
    });
    assert_eq!(
        captured.counter(
            "sdk.cache.stale_serves",
            &[("cache.key_prefix", "sdk-test:")]
        ),
        25
    );
    let loads = captured.histogram_samples(
        "sdk.cache.load.duration",
        &[("cache.key_prefix", "sdk-test:")],
    );
    assert_eq!(loads.len(), 2, "the first load and the one refresh");
    assert!(
        captured
            .metrics("sdk.cache.load.duration", &[("error.type", "loader")])
            .is_empty()
    );
}

#[test]
fn a_failing_refresh_keeps_the_stale_value_until_its_window_ends() {
    let key = format!("sdk-test:{}:swr-failing", std::process::id());
    let short = format!("sdk-test:{}:swr-short", std::process::id());
    let captured = capture(|| async {
        let cache = cache().await;
        let entry =
            CacheEntry::stale_while_revalidate(Duration::from_secs(60), Duration::from_secs(60));
        store_soon_stale(&cache, &key, "stale-secret-value", Duration::from_secs(60)).await;

        // Two failing refreshes, one after the other: the stale value is served each time.
        for _ in 0..2 {
            let answer: Result<String, Arc<String>> = cache
                .get_or_load_with(&key, &entry, || async { Err("backend down".to_owned()) })
                .await;
            assert_eq!(
                answer.as_ref().map(String::as_str),
                Ok("stale-secret-value")
            );
            refresh_ended(&cache).await;
        }
        // A refresh whose loader panics: counted, dropped, the stale value still served.
        let answer: Result<String, Arc<String>> = cache
            .get_or_load_with(&key, &entry, || async {
                if std::hint::black_box(true) {
                    panic!("refresh bug");
                }
                Ok("never".to_owned())
            })
            .await;
        assert_eq!(
            answer.as_ref().map(String::as_str),
            Ok("stale-secret-value")
        );
        refresh_ended(&cache).await;
        let answer: Result<String, Arc<String>> = cache
            .get_or_load_with(&key, &entry, || async { Ok("recovered".to_owned()) })
            .await;
        assert_eq!(
            answer.as_ref().map(String::as_str),
            Ok("stale-secret-value")
        );
        refresh_ended(&cache).await;
        let answer: Result<String, Arc<String>> = cache
            .get_or_load_with(&key, &entry, || async { Err("not called".to_owned()) })
            .await;
        assert_eq!(answer.as_ref().map(String::as_str), Ok("recovered"));

        // After the stale window (Redis TTL = 1 ms + 150 ms), the key is a normal miss.
        store_soon_stale(&cache, &short, "short-lived", Duration::from_millis(150)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let answer: Result<String, Arc<String>> = cache
            .get_or_load_with(&short, &entry, || async { Ok("reloaded".to_owned()) })
            .await;
        assert_eq!(answer.as_ref().map(String::as_str), Ok("reloaded"));
        assert_eq!(
            cache.loads_in_progress(),
            0,
            "a miss loads in the foreground"
        );

        let mut raw = cache.connection().clone();
        let _: u64 = redis::cmd("UNLINK")
            .arg(&key)
            .arg(&short)
            .query_async(&mut raw)
            .await
            .unwrap();
    });
    let prefix = [("cache.key_prefix", "sdk-test:")];
    assert_eq!(captured.counter("sdk.cache.stale_serves", &prefix), 4);
    assert_eq!(
        captured
            .histogram_samples("sdk.cache.load.duration", &[("error.type", "loader")])
            .len(),
        2,
        "each failed refresh is recorded"
    );
    assert_eq!(
        captured
            .histogram_samples("sdk.cache.load.duration", &[("error.type", "panic")])
            .len(),
        1
    );
    assert_eq!(
        captured.counter("sdk.callback.panics", &[("sdk.callback", "cache_loader")]),
        1
    );
    assert_eq!(
        captured
            .log_text
            .matches("stale value kept: its refresh failed")
            .count(),
        2,
        "{}",
        captured.log_text
    );
    assert_eq!(
        captured
            .log_text
            .matches("stale value kept: its refresh panicked")
            .count(),
        1
    );
    let everything = format!(
        "{:?}{}{:?}",
        captured.spans, captured.log_text, captured.metrics
    );
    assert!(!everything.contains("stale-secret-value"), "a value leaked");
}
