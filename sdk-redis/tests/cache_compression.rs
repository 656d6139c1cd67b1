//! Compression of large values and unreadable stored values in `Cache`, against the real
//! Redis (`SDK_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`; `cargo xtask test`
//! starts it). Stored sizes are read with `STRLEN`.

mod common;

use common::{Conn, capture, connect};

use sdk_redis::Cache;
use sdk_redis::cache::{CacheEntry, Compression};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

async fn cache(compression: Compression) -> Cache<Conn> {
    Cache::new(connect(&["sdk-test:"]).await, Duration::from_secs(10)).compression(compression)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Customer {
    id: u32,
    name: String,
    status: String,
}

fn customers() -> Vec<Customer> {
    (0..200)
        .map(|id| Customer {
            id,
            name: format!("customer number {id}"),
            status: "active".to_owned(),
        })
        .collect()
}

async fn strlen(conn: &mut impl redis::aio::ConnectionLike, key: &str) -> usize {
    redis::cmd("STRLEN")
        .arg(key)
        .query_async(conn)
        .await
        .unwrap()
}

#[test]
fn large_values_are_stored_compressed_and_read_back_equal() {
    let key = |name: &str| format!("sdk-test:{}:lz4:{name}", std::process::id());
    let json_len = serde_json::to_vec(&customers()).unwrap().len();
    let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let captured = capture(|| {
        let sizes = Arc::clone(&sizes);
        async move {
            let cache = cache(Compression::lz4()).await;
            let mut raw = cache.connection().clone();
            let minute = Duration::from_secs(60);
            let loaded: Result<Vec<Customer>, Arc<String>> = cache
                .get_or_load(&key("big"), minute, || async { Ok(customers()) })
                .await;
            assert_eq!(loaded.unwrap(), customers());
            let stored = strlen(&mut raw, &key("big")).await;
            assert!(stored * 3 < json_len, "{stored} of {json_len} bytes");
            // Read back by this cache, and by one that does not compress (another version
            // or configuration sharing the keys).
            let hit: Result<Vec<Customer>, Arc<String>> = cache
                .get_or_load(&key("big"), minute, || async {
                    Err("not called".to_owned())
                })
                .await;
            assert_eq!(hit.unwrap(), customers());
            let plain_cache = Cache::new(cache.connection().clone(), Duration::from_secs(10));
            let hit: Result<Vec<Customer>, Arc<String>> = plain_cache
                .get_or_load(&key("big"), minute, || async {
                    Err("not called".to_owned())
                })
                .await;
            assert_eq!(hit.unwrap(), customers());

            // With stale-while-revalidate: the 10-byte header is saved against too.
            let entry = CacheEntry::stale_while_revalidate(minute, minute);
            let loaded: Result<Vec<Customer>, Arc<String>> = cache
                .get_or_load_with(&key("big-swr"), &entry, || async { Ok(customers()) })
                .await;
            assert_eq!(loaded.unwrap(), customers());
            let stored_swr = strlen(&mut raw, &key("big-swr")).await;

            // Under the 1 KiB threshold: plain JSON, as earlier versions wrote it.
            let small: Result<Vec<u32>, Arc<String>> = cache
                .get_or_load(&key("small"), minute, || async { Ok(vec![1, 2, 3]) })
                .await;
            assert_eq!(small.unwrap(), [1, 2, 3]);
            let stored_small: String = redis::cmd("GET")
                .arg(key("small"))
                .query_async(&mut raw)
                .await
                .unwrap();
            assert_eq!(stored_small, "[1,2,3]");
            // A value written by an earlier version (plain JSON, even a large one) reads back.
            let legacy = serde_json::to_string(&customers()).unwrap();
            let () = redis::cmd("SET")
                .arg(key("legacy"))
                .arg(&legacy)
                .arg("PX")
                .arg(60_000)
                .query_async(&mut raw)
                .await
                .unwrap();
            let hit: Result<Vec<Customer>, Arc<String>> = cache
                .get_or_load(&key("legacy"), minute, || async {
                    Err("not called".to_owned())
                })
                .await;
            assert_eq!(hit.unwrap(), customers());

            sizes.lock().unwrap().extend([stored, stored_swr]);
            let _: u64 = redis::cmd("UNLINK")
                .arg(key("big"))
                .arg(key("big-swr"))
                .arg(key("small"))
                .arg(key("legacy"))
                .query_async(&mut raw)
                .await
                .unwrap();
        }
    });
    let [stored, stored_swr] = sizes.lock().unwrap()[..] else {
        panic!("sizes recorded")
    };
    println!("{json_len} bytes of JSON stored in {stored} (plain) and {stored_swr} (with SWR)");
    assert_eq!(
        captured.counter(
            "sdk.cache.compression.saved",
            &[("cache.key_prefix", "sdk-test:")]
        ),
        ((json_len - stored) + (json_len + 10 - stored_swr)) as u64
    );
    assert!(captured.metrics("sdk.cache.unreadable", &[]).is_empty());
}

#[test]
fn hostile_or_corrupt_values_are_counted_misses() {
    let key = |name: &str| format!("sdk-test:{}:hostile:{name}", std::process::id());
    // A compressed value claiming 4 GiB once decompressed.
    let mut too_large = vec![0xCA, 0x01];
    too_large.extend_from_slice(&u32::MAX.to_le_bytes());
    too_large.extend_from_slice(&[0; 32]);
    // Claiming 100 bytes, with a payload that is not LZ4.
    let mut corrupt = vec![0xCA, 0x01];
    corrupt.extend_from_slice(&100u32.to_le_bytes());
    corrupt.extend_from_slice(&[0xff; 40]);
    // Claiming 1 MiB from 8 bytes: more than LZ4 can expand them to.
    let mut impossible = vec![0xCA, 0x01];
    impossible.extend_from_slice(&(1u32 << 20).to_le_bytes());
    impossible.extend_from_slice(&[0x1f; 8]);
    let cases: [(&str, Vec<u8>, &str); 6] = [
        ("too-large", too_large, "too_large"),
        ("corrupt", corrupt, "decompress"),
        ("impossible", impossible, "decompress"),
        ("unknown-flags", vec![0xCA, 0x80, b'[', b']'], "format"),
        ("truncated", vec![0xCA, 0x02, 0, 0], "format"),
        ("not-json", b"{not json".to_vec(), "decode"),
    ];
    let cases = &cases;
    let loads = Arc::new(AtomicUsize::new(0));
    let captured = capture(|| {
        let loads = Arc::clone(&loads);
        async move {
            let cache = cache(Compression::lz4()).await;
            let mut raw = cache.connection().clone();
            for (name, bytes, _) in cases {
                let () = redis::cmd("SET")
                    .arg(key(name))
                    .arg(bytes)
                    .arg("PX")
                    .arg(60_000)
                    .query_async(&mut raw)
                    .await
                    .unwrap();
                let loads = Arc::clone(&loads);
                let answer: Result<Vec<u32>, Arc<String>> = cache
                    .get_or_load(&key(name), Duration::from_secs(60), || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        Ok(vec![7])
                    })
                    .await;
                assert_eq!(answer.unwrap(), [7], "{name}: a miss, loaded");
                // The loaded value replaced the unreadable one.
                let hit: Result<Vec<u32>, Arc<String>> = cache
                    .get_or_load(&key(name), Duration::from_secs(60), || async {
                        Err("not called".to_owned())
                    })
                    .await;
                assert_eq!(hit.unwrap(), [7], "{name}");
                let _: u64 = redis::cmd("UNLINK")
                    .arg(key(name))
                    .query_async(&mut raw)
                    .await
                    .unwrap();
            }
        }
    });
    assert_eq!(loads.load(Ordering::SeqCst), cases.len());
    for reason in ["too_large", "decompress", "format", "decode"] {
        let expected = cases.iter().filter(|(_, _, r)| *r == reason).count() as u64;
        assert_eq!(
            captured.counter(
                "sdk.cache.unreadable",
                &[("cache.key_prefix", "sdk-test:"), ("error.type", reason)]
            ),
            expected,
            "{reason}"
        );
    }
    assert_eq!(
        captured.counter("sdk.cache.unreadable", &[]),
        cases.len() as u64
    );
}
