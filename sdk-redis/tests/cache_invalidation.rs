//! `Cache` invalidation by key, tag and prefix against the real Redis
//! (`SDK_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`; `cargo xtask test` starts it).
//! Every key is under `sdk-test:<pid>:`; neighbours with similar names or glob characters
//! must survive.

mod common;

use common::{Conn, capture, connect, raw};

use sdk_redis::Cache;
use sdk_redis::cache::{CacheEntry, InvalidationError, PREFIX_BATCH, TAG_BATCH, TAG_SET_BOUND};
use std::sync::Arc;
use std::time::Duration;

async fn cache() -> Cache<Conn> {
    let connection = connect(&["sdk-test:"]).await;
    // Generous: the machine may be loaded; a timeout here would fail the test, not hang it.
    Cache::new(connection, Duration::from_secs(10))
        .tag_namespace(format!("sdk-test:{}:tags", std::process::id()))
}

async fn exists(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> bool {
    redis::cmd("EXISTS")
        .arg(key)
        .query_async::<u64>(conn)
        .await
        .unwrap()
        == 1
}

async fn pttl(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query_async(conn).await.unwrap()
}

async fn put(cache: &Cache<redis::aio::MultiplexedConnection>, key: &str, entry: &CacheEntry) {
    let stored: Result<String, Arc<String>> = cache
        .get_or_load_with(key, entry, || async { Ok("value".to_owned()) })
        .await;
    assert_eq!(stored.as_ref().map(String::as_str), Ok("value"));
}

#[test]
fn invalidation_by_key_tag_and_prefix_removes_exactly_the_right_keys() {
    let base = format!("sdk-test:{}:inv:", std::process::id());
    let k = |name: &str| format!("{base}{name}");
    let tag_set = |tag: &str| format!("sdk-test:{}:tags:{tag}", std::process::id());
    let captured = capture(|| async {
        let cache = cache().await;
        let mut conn = raw().await;
        let minute = CacheEntry::ttl(Duration::from_secs(60));

        // By key: the neighbour `…ab` survives.
        put(&cache, &k("a"), &minute).await;
        put(&cache, &k("ab"), &minute).await;
        assert_eq!(cache.invalidate(&k("a")).await.unwrap(), 1);
        assert_eq!(cache.invalidate(&k("a")).await.unwrap(), 0, "already gone");
        assert!(!exists(&mut conn, &k("a")).await);
        assert!(exists(&mut conn, &k("ab")).await);

        // By tag: `user:7` removes t1 and t2; `user:70` and the literal tag `user:*` are
        // other sets.
        put(&cache, &k("t1"), &minute.clone().tags(["user:7", "team"])).await;
        let long =
            CacheEntry::stale_while_revalidate(Duration::from_secs(60), Duration::from_secs(120));
        put(&cache, &k("t2"), &long.clone().tags(["user:7"])).await;
        put(&cache, &k("t3"), &minute.clone().tags(["user:70"])).await;
        put(&cache, &k("t4"), &minute.clone().tags(["user:*"])).await;
        // Tags are percent-encoded under the namespace: no `:`, no glob character.
        for set in ["user%3A7", "user%3A70", "user%3A%2A", "team"] {
            assert!(exists(&mut conn, &tag_set(set)).await, "{set}");
        }
        // A tag set lives at least as long as its values: t2 has 180 s (fresh + stale).
        assert!(pttl(&mut conn, &tag_set("user%3A7")).await >= pttl(&mut conn, &k("t2")).await);
        assert!(pttl(&mut conn, &tag_set("user%3A7")).await > 170_000);
        assert!(pttl(&mut conn, &tag_set("team")).await >= pttl(&mut conn, &k("t1")).await);
        assert_eq!(cache.invalidate_tag("user:7").await.unwrap(), 2);
        assert!(!exists(&mut conn, &k("t1")).await);
        assert!(!exists(&mut conn, &k("t2")).await);
        assert!(
            !exists(&mut conn, &tag_set("user%3A7")).await,
            "the tag set goes too"
        );
        assert!(exists(&mut conn, &k("t3")).await);
        assert!(exists(&mut conn, &k("t4")).await);
        assert_eq!(cache.invalidate_tag("user:*").await.unwrap(), 1);
        assert!(!exists(&mut conn, &k("t4")).await);
        assert!(exists(&mut conn, &k("t3")).await);
        // `team` still lists t1, already removed: nothing more is removed.
        assert_eq!(cache.invalidate_tag("team").await.unwrap(), 0);
        assert_eq!(cache.invalidate_tag("never-used").await.unwrap(), 0);

        // By prefix: glob characters in the prefix are literal.
        let prefix = k("p[1]*:");
        for n in 0..3 {
            put(&cache, &format!("{prefix}{n}"), &minute).await;
        }
        let neighbours = [
            k("p1x:a"),
            k("p[1]*"),
            k("p[1]?:a"),
            k("P[1]*:a"),
            k("p\\[1]*:a"),
        ];
        for neighbour in &neighbours {
            put(&cache, neighbour, &minute).await;
        }
        assert_eq!(cache.invalidate_prefix(&prefix).await.unwrap(), 3);
        for n in 0..3 {
            assert!(!exists(&mut conn, &format!("{prefix}{n}")).await);
        }
        for neighbour in &neighbours {
            assert!(exists(&mut conn, neighbour).await, "{neighbour} survives");
        }
        assert!(matches!(
            cache.invalidate_prefix("").await,
            Err(InvalidationError::EmptyPrefix)
        ));

        // Clean up (not measured below: the label differs, see the counts).
        let mut unlink = redis::cmd("UNLINK");
        unlink.arg(k("ab")).arg(k("t3")).arg(&neighbours);
        unlink.arg(tag_set("team")).arg(tag_set("user%3A70"));
        let _: u64 = unlink.query_async(&mut conn).await.unwrap();
    });
    let count = |name: &str, kind: &str| {
        captured.counter(
            name,
            &[
                ("cache.key_prefix", "sdk-test:"),
                ("sdk.cache.invalidation", kind),
            ],
        )
    };
    assert_eq!(count("sdk.cache.invalidations", "key"), 2);
    assert_eq!(count("sdk.cache.invalidated_keys", "key"), 1);
    assert_eq!(count("sdk.cache.invalidations", "tag"), 4);
    assert_eq!(count("sdk.cache.invalidated_keys", "tag"), 3);
    assert_eq!(
        count("sdk.cache.invalidations", "prefix"),
        1,
        "the refused one is not counted"
    );
    assert_eq!(count("sdk.cache.invalidated_keys", "prefix"), 3);
    assert_eq!(
        captured.counter("sdk.cache.invalidations", &[]),
        7,
        "every invalidation is labelled with its configured prefix"
    );
    assert!(captured.spans_named("KEYS").is_empty(), "never KEYS");
    // Labels hold configured prefixes only, never a key.
    let labels = format!("{:?}", captured.metrics);
    assert!(!labels.contains(&base), "{labels}");
}

#[test]
fn prefix_invalidation_of_5000_keys_runs_in_bounded_batches() {
    let prefix = format!("sdk-test:{}:bulk:", std::process::id());
    let neighbour = format!("sdk-test:{}:bulk", std::process::id());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut conn = raw().await;
        for chunk in (0..5000).collect::<Vec<u32>>().chunks(1000) {
            let mut pipe = redis::pipe();
            for n in chunk {
                pipe.cmd("SET")
                    .arg(format!("{prefix}{n}"))
                    .arg(n)
                    .arg("PX")
                    .arg(300_000)
                    .ignore();
            }
            let () = pipe.query_async(&mut conn).await.unwrap();
        }
        let () = redis::cmd("SET")
            .arg(&neighbour)
            .arg(1)
            .arg("PX")
            .arg(300_000)
            .query_async(&mut conn)
            .await
            .unwrap();
    });
    let captured = capture(|| async {
        let cache = cache().await;
        assert_eq!(cache.invalidate_prefix(&prefix).await.unwrap(), 5000);
        assert_eq!(cache.invalidate_prefix(&prefix).await.unwrap(), 0);
    });
    runtime.block_on(async {
        let mut conn = raw().await;
        assert!(exists(&mut conn, &neighbour).await);
        assert!(!exists(&mut conn, &format!("{prefix}0")).await);
        assert!(!exists(&mut conn, &format!("{prefix}4999")).await);
        let _: u64 = redis::cmd("UNLINK")
            .arg(&neighbour)
            .query_async(&mut conn)
            .await
            .unwrap();
    });
    let unlinks = captured.spans_named("UNLINK").len();
    assert!(
        unlinks >= 5000 / PREFIX_BATCH,
        "at most {PREFIX_BATCH} keys per UNLINK: {unlinks} batches"
    );
    assert!(captured.spans_named("SCAN").len() >= 2);
    assert!(captured.spans_named("KEYS").is_empty(), "never KEYS");
    let labels = [
        ("cache.key_prefix", "sdk-test:"),
        ("sdk.cache.invalidation", "prefix"),
    ];
    assert_eq!(
        captured.counter("sdk.cache.invalidated_keys", &labels),
        5000
    );
    assert_eq!(captured.counter("sdk.cache.invalidations", &labels), 2);
}

async fn scard(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> u64 {
    redis::cmd("SCARD")
        .arg(key)
        .query_async(conn)
        .await
        .unwrap()
}

/// Keys of `keys` that exist (one pipeline).
async fn existing(conn: &mut redis::aio::MultiplexedConnection, keys: &[String]) -> usize {
    let mut pipe = redis::pipe();
    for key in keys {
        pipe.cmd("EXISTS").arg(key);
    }
    let found: Vec<u64> = pipe.query_async(conn).await.unwrap();
    found.into_iter().filter(|&n| n == 1).count()
}

#[test]
fn tag_invalidation_of_5000_keys_runs_in_short_rounds() {
    let base = format!("sdk-test:{}:bigtag:", std::process::id());
    let tag_set = format!("sdk-test:{}:tags:big", std::process::id());
    let keys: Vec<String> = (0..5000).map(|n| format!("{base}{n}")).collect();
    let neighbour = format!("{base}other");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Written through the cache (outside the capture: only the invalidation is observed).
    runtime.block_on(async {
        let cache = cache().await;
        let mut conn = raw().await;
        let entry = CacheEntry::ttl(Duration::from_secs(300)).tags(["big"]);
        for key in &keys {
            put(&cache, key, &entry).await;
        }
        let other = CacheEntry::ttl(Duration::from_secs(300)).tags(["big-other"]);
        put(&cache, &neighbour, &other).await;
        // Pruning past the bound never drops a live key.
        assert_eq!(scard(&mut conn, &tag_set).await, 5000);
    });
    let captured = capture(|| async {
        let cache = cache().await;
        assert_eq!(cache.invalidate_tag("big").await.unwrap(), 5000);
        assert_eq!(cache.invalidate_tag("big").await.unwrap(), 0);
    });
    runtime.block_on(async {
        let mut conn = raw().await;
        assert_eq!(existing(&mut conn, &keys).await, 0);
        assert!(!exists(&mut conn, &tag_set).await, "the tag set goes too");
        assert!(
            exists(&mut conn, &neighbour).await,
            "another tag's key survives"
        );
        let other_set = format!("sdk-test:{}:tags:big-other", std::process::id());
        let _: u64 = redis::cmd("UNLINK")
            .arg(&neighbour)
            .arg(&other_set)
            .query_async(&mut conn)
            .await
            .unwrap();
    });
    // One EVAL per round: 10 rounds of TAG_BATCH for the 5,000 keys, 1 for the empty set.
    let rounds = captured.spans_named("EVAL").len();
    assert!(
        rounds > 5000 / TAG_BATCH,
        "at most {TAG_BATCH} keys per round: {rounds} rounds"
    );
    assert!(rounds <= 5000 / TAG_BATCH + 2, "{rounds} rounds");
    let labels = [
        ("cache.key_prefix", "sdk-test:"),
        ("sdk.cache.invalidation", "tag"),
    ];
    assert_eq!(
        captured.counter("sdk.cache.invalidated_keys", &labels),
        5000
    );
    assert_eq!(captured.counter("sdk.cache.invalidations", &labels), 2);
}

#[test]
fn tag_sets_shed_their_dead_members_as_they_are_written() {
    let base = format!("sdk-test:{}:prune:", std::process::id());
    let tag_set = format!("sdk-test:{}:tags:hot", std::process::id());
    let dead: Vec<String> = (0..1500).map(|n| format!("{base}dead:{n}")).collect();
    let live: Vec<String> = (0..1200).map(|n| format!("{base}live:{n}")).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let cache = cache().await;
        let mut conn = raw().await;
        let entry = CacheEntry::ttl(Duration::from_secs(300)).tags(["hot"]);
        for key in &dead {
            put(&cache, key, &entry).await;
        }
        // Past the bound, but every member is live: nothing is dropped.
        assert_eq!(scard(&mut conn, &tag_set).await, 1500);
        // Gone one by one, as expiry or a delete by key would do; the set keeps them.
        for (n, key) in dead.iter().enumerate() {
            if n % 2 == 0 {
                let _: u64 = redis::cmd("DEL")
                    .arg(key)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
            } else {
                assert_eq!(cache.invalidate(key).await.unwrap(), 1);
            }
        }
        assert_eq!(existing(&mut conn, &dead).await, 0);
        assert_eq!(
            scard(&mut conn, &tag_set).await,
            1500,
            "not pruned by itself"
        );

        // More writes of the tag: each samples the set and drops dead members.
        for (n, key) in live.iter().enumerate() {
            put(&cache, key, &entry).await;
            let written = u64::try_from(n + 1).unwrap();
            let size = scard(&mut conn, &tag_set).await;
            assert!(
                size <= written + 1500,
                "a write adds one member at most: {size} after {written}"
            );
            if written == 200 {
                // 200 writes remove about 16 × (dead share ≥ 1,000 / 1,700) ≈ 9 dead
                // members each until at most the bound remain: far more than the 500 needed.
                assert!(
                    size <= written + TAG_SET_BOUND,
                    "{size} members for {written} live keys"
                );
            }
        }
        let size = scard(&mut conn, &tag_set).await;
        let live_count = u64::try_from(live.len()).unwrap();
        assert!(
            size <= live_count + TAG_SET_BOUND,
            "{size} members for {live_count} live keys"
        );
        // With the set above the bound for all 1,200 writes, the dead members are nearly
        // all gone (a simulation of this sampling leaves at most 5 of the 1,500).
        assert!(
            size <= live_count + 100,
            "{size} members for {live_count} live keys"
        );
        // No live key was dropped: the tag still removes every one of them.
        assert_eq!(existing(&mut conn, &live).await, live.len());
        assert_eq!(cache.invalidate_tag("hot").await.unwrap(), live_count);
        assert_eq!(existing(&mut conn, &live).await, 0);
        assert!(!exists(&mut conn, &tag_set).await);
    });
}
