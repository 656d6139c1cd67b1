//! A cache-aside loader that panics, against the real Redis (`SDK_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`; `cargo xtask test` starts it): the panic continues in the
//! caller, the cache is left clean and usable, and the panic is counted.

mod common;

use common::connect;

use sdk_core::callback::panic_message;
use sdk_core::config::Sampler;
use sdk_core::testing::capture_everything;
use sdk_redis::Cache;
use std::sync::Arc;
use std::time::Duration;

/// Bound on every wait of the test; reaching it is a failure, not a synchronisation.
const PATIENCE: Duration = Duration::from_secs(30);

#[test]
fn a_panicking_loader_resumes_in_its_caller_and_leaves_the_cache_clean() {
    let item = format!("sdk-test:{}:panicking-loader", std::process::id());
    let ttl = Duration::from_secs(30);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let captured = capture_everything(Sampler::default(), || {
        runtime.block_on(async {
            let cache = Cache::new(connect(&["sdk-test:"]).await, Duration::from_millis(500));

            // The leading miss's loader panics once a second miss of the key may wait on it.
            let (started, leader_started) = tokio::sync::oneshot::channel();
            let (go, panic_now) = tokio::sync::oneshot::channel::<()>();
            let leader = tokio::spawn({
                let cache = cache.clone();
                let item = item.clone();
                async move {
                    cache
                        .get_or_load(&item, ttl, || async move {
                            let _ = started.send(());
                            let _ = panic_now.await;
                            if std::hint::black_box(true) {
                                panic!("loader bug");
                            }
                            Ok::<u32, String>(0)
                        })
                        .await
                }
            });
            tokio::time::timeout(PATIENCE, leader_started)
                .await
                .expect("the leader's loader did not start within 30 s")
                .expect("the leader's loader started");
            assert_eq!(cache.loads_in_progress(), 1);
            let follower = tokio::spawn({
                let cache = cache.clone();
                let item = item.clone();
                async move {
                    cache
                        .get_or_load(&item, ttl, || async { Ok::<u32, String>(7) })
                        .await
                }
            });
            go.send(()).unwrap();

            let panicked = tokio::time::timeout(PATIENCE, leader)
                .await
                .expect("the leader's call did not end within 30 s")
                .expect_err("the loader's panic continues in the leader's call");
            assert!(panicked.is_panic(), "{panicked}");
            assert_eq!(panic_message(panicked.into_panic().as_ref()), "loader bug");
            // A miss that waited on (or came after) the panicked load is not failed by it.
            let followed = tokio::time::timeout(PATIENCE, follower)
                .await
                .expect("the second miss did not end within 30 s")
                .expect("the second miss does not panic");
            assert_eq!(followed, Ok(7));
            assert_eq!(cache.loads_in_progress(), 0, "no load left in flight");

            // A loader panicking before it makes its future: same outcome.
            let sync_panic = tokio::spawn({
                let cache = cache.clone();
                let other = format!("{item}:sync");
                async move {
                    cache
                        .get_or_load(
                            &other,
                            ttl,
                            || -> std::future::Ready<Result<u32, String>> {
                                panic!("loader bug before its future")
                            },
                        )
                        .await
                }
            });
            let panicked = tokio::time::timeout(PATIENCE, sync_panic)
                .await
                .expect("the call did not end within 30 s")
                .expect_err("the panic continues in the call");
            assert_eq!(
                panic_message(panicked.into_panic().as_ref()),
                "loader bug before its future"
            );
            assert_eq!(cache.loads_in_progress(), 0);

            // The cache still works: the follower's value was stored and is now a hit.
            let hit: Result<u32, Arc<String>> = cache
                .get_or_load(&item, ttl, || async { Err("not called".to_owned()) })
                .await;
            assert_eq!(hit, Ok(7));
            let mut raw = connect(&["sdk-test:"]).await;
            let stored: Option<String> = redis::cmd("GET")
                .arg(format!("{item}:sync"))
                .query_async(&mut raw)
                .await
                .unwrap();
            assert_eq!(stored, None, "a panicked load stores nothing");
            let _: () = redis::cmd("DEL")
                .arg(&item)
                .query_async(&mut raw)
                .await
                .unwrap();
        })
    });
    assert_eq!(
        captured.counter("sdk.callback.panics", &[("sdk.callback", "cache_loader")]),
        2,
        "{:?}",
        captured.metrics
    );
    assert_eq!(
        captured
            .histogram_samples("sdk.cache.load.duration", &[("error.type", "panic")])
            .len(),
        2,
        "each panicked load is recorded with error.type=panic: {:?}",
        captured.metrics
    );
    assert_eq!(
        captured
            .histogram_samples(
                "sdk.cache.load.duration",
                &[("cache.key_prefix", "sdk-test:")]
            )
            .len(),
        3,
        "two panicked loads and the second miss's own"
    );
}
