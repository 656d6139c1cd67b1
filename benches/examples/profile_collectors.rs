//! Runs one background collector, or what it is compared with, in a loop for a profiler:
//! `profile_collectors <variant> [runs]`. The variants are the halves of the `collectors`
//! benchmark's comparisons, built from the same helpers (`sdk_benches::collectors`), with
//! spans collected into a batch queue and metrics into a Prometheus recorder, as there:
//!
//! - `process` (sdk-core's process collection: read, record, time) / `process-raw`
//!   (`metrics_process::collector::collect()`);
//! - `redis-info` (`RedisServerInfo::collect`) / `redis-info-raw` (redis-rs `INFO` parsed
//!   into an `InfoDict`);
//! - `probe` (one sdk-tower HTTP probe run: timed phases, status, gauges) / `probe-raw`
//!   (a bare hyper `GET` over a fresh connection), against a local axum health server;
//! - `cache-hit` (`Cache::get_or_load` hit, one record) / `cache-swr` (`get_or_load_with`
//!   stale-while-revalidate, fresh hit);
//! - `cache-large` (a 16 KiB JSON value, no compression) / `cache-large-lz4`
//!   (`Compression::lz4()`).
//!
//! `--toggle-collect=profile_collectors::run` counts the runs on the calling thread only:
//! each run is a `block_on` of a current-thread runtime inside `run`, so the Redis
//! connection's driver task and hyper's connection task are counted with it. Not counted:
//! setup, the batch queue's export thread, the Redis server (another process), and the
//! health server, which serves from a runtime on a thread of its own (its accept, request
//! handling and close are the peer's work, as Redis' is).
//!
//! Each variant runs once before the loop (lazy handles, the cache's priming load). It
//! panics, so the run fails, when a probe run or `GET` did not succeed or a timed cache
//! read missed. Redis: `SDK_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`; keys under
//! `bench:collectors:<pid>:`, deleted at the end.

use redis::aio::MultiplexedConnection;
use sdk_benches::collectors::{self, bare_get, health_server, order, orders, redis_connection};
use sdk_benches::{discarding_processor, runtime, traced_subscriber};
use sdk_core::process_metrics::CollectionForBench;
use sdk_redis::server_info::RedisServerInfo;
use sdk_redis::{Cache, CacheEntry, Compression, RedisConfig};
use sdk_tower::probe::{HttpProbe, ProbeRunner};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::convert::Infallible;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

const VARIANTS: &str = "process | process-raw | redis-info | redis-info-raw | probe | probe-raw | cache-hit | cache-swr | cache-large | cache-large-lz4";

fn main() {
    let mut args = std::env::args().skip(1);
    let variant = args.next().unwrap_or_default();
    let runs: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(100);
    let runtime = runtime();
    let processor = discarding_processor();
    let recorder = sdk_core::prometheus::catalogue_recorder().unwrap_or_else(|e| panic!("{e}"));
    tracing::subscriber::with_default(traced_subscriber(&processor), || {
        metrics::with_local_recorder(&recorder, || {
            let Some(mut subject) = Subject::new(&variant, &runtime) else {
                eprintln!("usage: profile_collectors <{VARIANTS}> [runs]");
                std::process::exit(2);
            };
            run(&runtime, &mut subject, 1);
            let started = Instant::now();
            run(&runtime, &mut subject, runs);
            let elapsed = started.elapsed();
            subject.finish(&runtime);
            println!(
                "{variant}: {runs} runs, {:.1} µs/run",
                elapsed.as_secs_f64() * 1e6 / runs.max(1) as f64
            );
        });
    });
    processor.shutdown(Duration::from_secs(5));
}

/// The measured loop: `runs` runs of `subject`, each on the calling thread.
#[inline(never)]
fn run(runtime: &Runtime, subject: &mut Subject, runs: u64) {
    for _ in 0..runs {
        subject.run_once(runtime);
    }
}

/// One variant, set up.
enum Subject {
    Process(CollectionForBench),
    ProcessRaw,
    RedisInfo(RedisServerInfo<MultiplexedConnection>),
    RedisInfoRaw(MultiplexedConnection),
    Probe {
        runner: ProbeRunner,
        failures: u64,
        _server: Runtime,
    },
    ProbeRaw {
        address: SocketAddr,
        failures: u64,
        _server: Runtime,
    },
    Record(CachedRead<collectors::Order>),
    Large(CachedRead<Vec<collectors::Order>>),
}

impl Subject {
    fn new(variant: &str, runtime: &Runtime) -> Option<Self> {
        let namespace = format!("bench:collectors:{}:", std::process::id());
        let entry = || {
            CacheEntry::stale_while_revalidate(Duration::from_secs(600), Duration::from_secs(600))
        };
        let large = || orders(16 * 1024);
        Some(match variant {
            "process" => Self::Process(CollectionForBench::in_current_context()),
            "process-raw" => Self::ProcessRaw,
            "redis-info" => {
                let (client, connection) = runtime.block_on(redis_connection());
                Self::RedisInfo(RedisServerInfo::new(
                    connection,
                    &RedisConfig::from_client(&client),
                ))
            }
            "redis-info-raw" => Self::RedisInfoRaw(runtime.block_on(redis_connection()).1),
            "probe" => {
                let (address, server) = health_server();
                let url = format!("http://{address}/health");
                Self::Probe {
                    runner: ProbeRunner::new(HttpProbe::get("bench-health", url.as_str()))
                        .unwrap_or_else(|e| panic!("{e}")),
                    failures: 0,
                    _server: server,
                }
            }
            "probe-raw" => {
                let (address, server) = health_server();
                Self::ProbeRaw {
                    address,
                    failures: 0,
                    _server: server,
                }
            }
            "cache-hit" => Self::Record(CachedRead::new(
                runtime,
                Compression::off(),
                format!("{namespace}plain"),
                order(42),
                None,
            )),
            "cache-swr" => Self::Record(CachedRead::new(
                runtime,
                Compression::off(),
                format!("{namespace}swr"),
                order(42),
                Some(entry()),
            )),
            "cache-large" => Self::Large(CachedRead::new(
                runtime,
                Compression::off(),
                format!("{namespace}large-plain"),
                large(),
                None,
            )),
            "cache-large-lz4" => Self::Large(CachedRead::new(
                runtime,
                Compression::lz4(),
                format!("{namespace}large-lz4"),
                large(),
                None,
            )),
            _ => return None,
        })
    }

    /// One run, as the benchmark's iteration does it.
    fn run_once(&mut self, runtime: &Runtime) {
        match self {
            Self::Process(collection) => collection.collect_process(),
            Self::ProcessRaw => {
                black_box(metrics_process::collector::collect());
            }
            Self::RedisInfo(collector) => {
                runtime.block_on(async {
                    let info = collector.collect().await.unwrap_or_else(|e| panic!("{e}"));
                    black_box(info);
                });
            }
            Self::RedisInfoRaw(plain) => {
                runtime.block_on(async {
                    let info: redis::InfoDict = redis::cmd("INFO")
                        .query_async(plain)
                        .await
                        .unwrap_or_else(|e| panic!("INFO: {e}"));
                    black_box(info.get::<u64>("used_memory"));
                });
            }
            Self::Probe {
                runner, failures, ..
            } => {
                let run = black_box(runtime.block_on(runner.run_once()));
                if !run.is_some_and(|run| run.success) {
                    *failures += 1;
                }
            }
            Self::ProbeRaw {
                address, failures, ..
            } => {
                if runtime.block_on(bare_get(*address)) != 200 {
                    *failures += 1;
                }
            }
            Self::Record(read) => read.read(runtime),
            Self::Large(read) => read.read(runtime),
        }
    }

    /// Checks that every run did what it is counted as; deletes the cache's key.
    fn finish(self, runtime: &Runtime) {
        match self {
            Self::Probe { failures, .. } | Self::ProbeRaw { failures, .. } => {
                assert_eq!(failures, 0, "{failures} probe runs or GETs failed");
            }
            Self::Record(read) => read.finish(runtime),
            Self::Large(read) => read.finish(runtime),
            _ => {}
        }
    }
}

/// Reads of one cached key: a plain `get_or_load` hit, or with `entry` a
/// `get_or_load_with` one, as the benchmark reads them; `loads` counts the loader's runs.
struct CachedRead<T> {
    cache: Cache<MultiplexedConnection>,
    key: String,
    value: T,
    entry: Option<CacheEntry>,
    loads: Arc<AtomicUsize>,
}

impl<T> CachedRead<T>
where
    T: Serialize + DeserializeOwned + Clone + PartialEq + Send + Sync + 'static,
{
    fn new(
        runtime: &Runtime,
        compression: Compression,
        key: String,
        value: T,
        entry: Option<CacheEntry>,
    ) -> Self {
        Self {
            cache: collectors::cache(runtime, compression),
            key,
            value,
            entry,
            loads: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn read(&self, runtime: &Runtime) {
        let value = match &self.entry {
            None => runtime.block_on(self.cache.get_or_load(
                &self.key,
                Duration::from_secs(600),
                || async {
                    self.loads.fetch_add(1, Ordering::Relaxed);
                    Ok::<_, Infallible>(self.value.clone())
                },
            )),
            Some(entry) => {
                let loads = Arc::clone(&self.loads);
                let value = self.value.clone();
                runtime.block_on(self.cache.get_or_load_with(
                    &self.key,
                    entry,
                    move || async move {
                        loads.fetch_add(1, Ordering::Relaxed);
                        Ok::<_, Infallible>(value)
                    },
                ))
            }
        };
        black_box(value.unwrap_or_else(|e| match *e {}));
    }

    /// Asserts that the loader ran once (the priming read: every counted read was a hit),
    /// then deletes the key.
    fn finish(self, runtime: &Runtime) {
        let loads = self.loads.load(Ordering::Relaxed);
        runtime.block_on(async {
            let (_, mut plain) = redis_connection().await;
            let _: Result<u64, _> = redis::cmd("DEL")
                .arg(&self.key)
                .query_async(&mut plain)
                .await;
        });
        assert_eq!(loads, 1, "{}: {} reads missed", self.key, loads - 1);
    }
}
