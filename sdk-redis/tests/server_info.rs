//! Redis server health from `INFO`, against private `redis-server` processes started here
//! (each test its own, on a free port, killed on drop), so memory limits, evictions,
//! blocked clients and a stalled server never touch the shared Redis at 6379.

use sdk_core::config::{Sampler, ServiceInfo};
use sdk_core::testing::{CapturedLogs, Everything, RecordedValue, capture_everything};
use sdk_redis::server_info::{RedisRole, RedisServerInfo, ServerInfo, ServerInfoError, SpawnError};
use sdk_redis::{InstrumentedConnection, RedisConfig};
use std::future::Future;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a peer gets to reach an expected state on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(30);
/// Pause between two polls of a peer's state.
const POLL: Duration = Duration::from_millis(20);

/// A `redis-server` of this test, on its own port, killed when dropped.
struct PrivateRedis {
    child: Child,
    port: u16,
}

impl PrivateRedis {
    /// Starts `redis-server` with `args` and waits until it answers as itself.
    fn start(args: &[&str]) -> Self {
        // A free port can be taken between the probe and the server's bind: then the
        // server exits, and another port is tried.
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .args(args)
                .stdout(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot run redis-server ({e}); apt-get install -y redis-server")
                });
            let mut server = Self { child, port };
            if server.wait_until_ready() {
                return server;
            }
        }
        panic!("redis-server exited at start on five free ports in a row");
    }

    /// Polls until this process answers `INFO` on its port (true), or exits (false).
    fn wait_until_ready(&mut self) -> bool {
        let client = redis::Client::open(self.url()).unwrap();
        let started = Instant::now();
        loop {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            if let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(1))
                && let Ok(info) = redis::cmd("INFO")
                    .arg("server")
                    .query::<redis::InfoDict>(&mut conn)
                && info.get::<u32>("process_id") == Some(self.child.id())
            {
                return true;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "redis-server (pid {}) did not answer on port {} within {DEADLINE:?}",
                self.child.id(),
                self.port
            );
            std::thread::sleep(POLL);
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).unwrap()
    }

    /// Sends `signal` (`STOP`, `CONT`) to the server process.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn capture<F, Fut>(body: F) -> Everything
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let runtime = runtime();
    capture_everything(Sampler::default(), || runtime.block_on(body()))
}

/// A multiplexed connection without redis-rs' response timeout (a blocked `BLPOP` and a
/// stalled server must not be cut short by it).
async fn connect(client: &redis::Client) -> redis::aio::MultiplexedConnection {
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .unwrap()
}

async fn info(conn: &mut redis::aio::MultiplexedConnection) -> redis::InfoDict {
    redis::cmd("INFO").query_async(conn).await.unwrap()
}

/// Polls `check` until it holds; panics with `what` after [`DEADLINE`].
async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < DEADLINE,
            "{what}: not seen within {DEADLINE:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// The gauge `name` of the server on `port`.
fn gauge(captured: &Everything, name: &str, port: &str) -> Option<f64> {
    captured.gauge(
        name,
        &[("server.address", "127.0.0.1"), ("server.port", port)],
    )
}

/// The counter `name` of the server on `port`.
fn counter(captured: &Everything, name: &str, port: &str) -> u64 {
    captured.counter(
        name,
        &[("server.address", "127.0.0.1"), ("server.port", port)],
    )
}

#[test]
fn collect_records_what_info_says_under_memory_pressure() {
    let server = PrivateRedis::start(&["--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"]);
    let port = server.port.to_string();
    let mut seen = None;
    let captured = capture(|| async {
        let client = server.client();
        let mut raw = connect(&client).await;

        // Hits and misses first: keys written in the same second look equally old to the
        // approximated LRU, so a key set after the fill could be evicted before its GETs.
        // Writes and INFO are not lookups; the counts stay 3 and 2.
        let () = redis::cmd("SET")
            .arg("hit")
            .arg("1")
            .query_async(&mut raw)
            .await
            .unwrap();
        for key in ["hit", "hit", "hit", "missing:1", "missing:2"] {
            let _: Option<String> = redis::cmd("GET")
                .arg(key)
                .query_async(&mut raw)
                .await
                .unwrap();
        }

        // Fill the 2 MiB until the server evicts.
        let value = "v".repeat(1000);
        let mut written = 0u32;
        wait_for("evicted_keys > 0 after writes", || {
            let mut pipe = redis::pipe();
            for _ in 0..200 {
                pipe.cmd("SET")
                    .arg(format!("fill:{written}"))
                    .arg(&value)
                    .ignore();
                written += 1;
            }
            let mut raw = raw.clone();
            async move {
                let () = pipe.query_async(&mut raw).await.unwrap();
                info(&mut raw).await.get::<u64>("evicted_keys") > Some(0)
            }
        })
        .await;

        // One client blocked on an empty list for good.
        let mut blocker = connect(&client).await;
        let blocked = tokio::spawn(async move {
            redis::cmd("BLPOP")
                .arg("empty-list")
                .arg(0)
                .query_async::<Option<(String, String)>>(&mut blocker)
                .await
        });
        wait_for("blocked_clients = 1", || {
            let mut raw = raw.clone();
            async move { info(&mut raw).await.get::<u64>("blocked_clients") == Some(1) }
        })
        .await;

        // The collector uses the connection an instrumented one wraps: its INFO is not
        // traced, though the wrapper's own commands are.
        let mut instrumented =
            InstrumentedConnection::new(connect(&client).await, RedisConfig::from_client(&client));
        let () = redis::cmd("PING")
            .query_async::<String>(&mut instrumented)
            .await
            .map(drop)
            .unwrap();
        let collector = RedisServerInfo::from_instrumented(&instrumented);

        let before = info(&mut raw).await;
        let keys_before: u64 = redis::cmd("DBSIZE").query_async(&mut raw).await.unwrap();
        let collected = collector.collect().await.unwrap();
        let after = info(&mut raw).await;
        let keys_after: u64 = redis::cmd("DBSIZE").query_async(&mut raw).await.unwrap();

        // Monotonic counters lie between the INFOs before and after; nothing was written
        // in between, so the keys can only have gone down (evictions finishing).
        for (field, value) in [
            ("evicted_keys", collected.evicted_keys),
            ("expired_keys", collected.expired_keys),
            ("keyspace_hits", collected.keyspace_hits),
            ("keyspace_misses", collected.keyspace_misses),
        ] {
            let value = value.unwrap_or_else(|| panic!("{field} parsed"));
            assert!(before.get::<u64>(field).unwrap() <= value, "{field}");
            assert!(value <= after.get::<u64>(field).unwrap(), "{field}");
        }
        assert!(
            (keys_after..=keys_before).contains(&collected.keys),
            "{keys_after} ≤ {} ≤ {keys_before}",
            collected.keys
        );
        assert_eq!(collected.maxmemory, Some(2 * 1024 * 1024));
        assert_eq!(collected.blocked_clients, Some(1));
        assert_eq!(collected.role, Some(RedisRole::Master));
        blocked.abort();
        seen = Some((collected, written));
    });
    let (info, written) = seen.unwrap();
    eprintln!("wrote {written} keys of 1000 bytes; collected {info:?}");

    // The struct makes sense for a full 2 MiB server.
    let evicted = info.evicted_keys.unwrap();
    let used = info.used_memory.unwrap();
    let max = info.maxmemory.unwrap();
    assert!(evicted > 0);
    assert!(info.keys > 0 && info.keys < u64::from(written));
    assert!(used <= max * 3 / 2, "used {used} ≤ 1.5 × max {max}");
    assert!(info.used_memory_peak.unwrap() >= used);
    assert!(info.mem_fragmentation_ratio.unwrap() > 0.0);
    assert!(
        info.connected_clients.unwrap() >= 3,
        "raw, blocked, collector"
    );
    let hits = info.keyspace_hits.unwrap();
    let misses = info.keyspace_misses.unwrap();
    assert_eq!((hits, misses), (3, 2));
    assert!(info.instantaneous_ops_per_sec.is_some());

    // The recorded metrics are the parsed INFO.
    let gauge = |name| gauge(&captured, name, &port);
    let counter = |name| counter(&captured, name, &port);
    assert_eq!(gauge("sdk.redis.server.memory.used"), Some(used as f64));
    assert_eq!(
        gauge("sdk.redis.server.memory.peak"),
        Some(info.used_memory_peak.unwrap() as f64)
    );
    assert_eq!(gauge("sdk.redis.server.memory.max"), Some(max as f64));
    assert_eq!(
        gauge("sdk.redis.server.memory.fragmentation_ratio"),
        info.mem_fragmentation_ratio
    );
    assert_eq!(counter("sdk.redis.server.keys.evicted"), evicted);
    assert_eq!(
        counter("sdk.redis.server.keys.expired"),
        info.expired_keys.unwrap()
    );
    assert_eq!(gauge("sdk.redis.server.keys"), Some(info.keys as f64));
    assert_eq!(counter("sdk.redis.server.keyspace.hits"), hits);
    assert_eq!(counter("sdk.redis.server.keyspace.misses"), misses);
    assert_eq!(
        gauge("sdk.redis.server.keyspace.hit_ratio"),
        Some(hits as f64 / (hits + misses) as f64)
    );
    assert_eq!(info.hit_ratio(), Some(hits as f64 / (hits + misses) as f64));
    assert_eq!(
        gauge("sdk.redis.server.clients.connected"),
        Some(info.connected_clients.unwrap() as f64)
    );
    assert_eq!(gauge("sdk.redis.server.clients.blocked"), Some(1.0));
    assert_eq!(
        gauge("sdk.redis.server.ops_per_second"),
        Some(info.instantaneous_ops_per_sec.unwrap() as f64)
    );
    assert_eq!(
        captured.gauge("sdk.redis.server.role", &[("sdk.redis.role", "master")]),
        Some(1.0)
    );
    assert!(
        captured
            .metrics("sdk.redis.server.role", &[("sdk.redis.role", "replica")])
            .is_empty(),
        "no replica series on a server that never was one"
    );
    let durations = captured.histogram_samples(
        "sdk.collector.duration",
        &[("sdk.collector", "redis"), ("sdk.result", "ok")],
    );
    assert_eq!(durations.len(), 1);
    assert!(durations[0] > 0.0 && durations[0] < DEADLINE.as_secs_f64());
    assert!(
        captured.spans_named("INFO").is_empty(),
        "{:?}",
        captured.names()
    );
    assert_eq!(captured.spans_named("PING").len(), 1);
}

#[test]
fn a_closed_port_records_errors_logs_once_and_never_panics() {
    let port = free_port();
    let logs = CapturedLogs::default();
    let runtime = runtime();
    let metrics = sdk_core::testing::capture_metrics(|| {
        tracing::subscriber::with_default(logs.subscriber(&ServiceInfo::default()), || {
            runtime.block_on(async {
                let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_number_of_retries(0)
                    .set_connection_timeout(Some(Duration::from_secs(2)));
                let manager =
                    redis::aio::ConnectionManager::new_lazy_with_config(client.clone(), config)
                        .unwrap();
                let collector = RedisServerInfo::new(manager, &RedisConfig::from_client(&client));

                assert!(matches!(
                    collector.clone().spawn(Duration::ZERO),
                    Err(SpawnError::ZeroInterval)
                ));
                let task = collector.clone().spawn(Duration::from_millis(10)).unwrap();
                wait_for("the periodic task's failure logged", || {
                    let failed = logs.text().contains("collection failed");
                    async move { failed }
                })
                .await;
                // Further failures of the same kind, through the task's clone or this one,
                // are recorded but not logged again.
                for _ in 0..2 {
                    let err = collector.collect().await.unwrap_err();
                    assert!(matches!(err, ServerInfoError::Redis(_)), "{err:?}");
                }
                assert!(!task.is_finished(), "the task carries on after failures");
                task.stop().await;
            });
        });
    });
    let errors: Vec<f64> = metrics
        .iter()
        .filter(|m| m.name == "sdk.collector.duration")
        .filter(|m| {
            m.labels
                .contains(&("sdk.result".to_owned(), "error".to_owned()))
        })
        .flat_map(|m| match &m.value {
            RecordedValue::Histogram(samples) => samples.clone(),
            _ => Vec::new(),
        })
        .collect();
    assert!(errors.len() >= 3, "{errors:?}");
    assert!(
        metrics
            .iter()
            .all(|m| !m.name.starts_with("sdk.redis.server.")),
        "no server metric without an INFO"
    );
    let warnings: Vec<_> = logs
        .lines()
        .into_iter()
        .filter(|line| line["level"] == "WARN")
        .collect();
    assert_eq!(warnings.len(), 1, "{}", logs.text());
    assert_eq!(warnings[0]["fields"]["sdk.result"], "error");
    assert_eq!(warnings[0]["fields"]["server.port"], i64::from(port));
}

#[test]
fn spawn_outside_a_runtime_or_without_a_timer_is_an_error() {
    let collector = runtime().block_on(async {
        let client = redis::Client::open("redis://127.0.0.1:1").unwrap();
        let manager = redis::aio::ConnectionManager::new_lazy_with_config(
            client.clone(),
            redis::aio::ConnectionManagerConfig::new(),
        )
        .unwrap();
        RedisServerInfo::new(manager, &RedisConfig::from_client(&client))
    });
    assert!(matches!(
        collector.clone().spawn(Duration::from_secs(1)),
        Err(SpawnError::NoRuntime)
    ));
    let no_timer = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let _entered = no_timer.enter();
    assert!(matches!(
        collector.spawn(Duration::from_secs(1)),
        Err(SpawnError::NoTimer)
    ));
}

#[test]
fn a_stalled_server_times_out_and_the_recovery_is_logged() {
    let server = PrivateRedis::start(&[]);
    let port = server.port.to_string();
    let captured = capture(|| async {
        let client = server.client();
        let patient =
            RedisServerInfo::new(connect(&client).await, &RedisConfig::from_client(&client))
                .timeout(DEADLINE);
        // A clone shares the state (what was logged) with its own timeout.
        let hasty = patient.clone().timeout(Duration::from_millis(200));
        patient.collect().await.unwrap();
        server.signal("STOP");
        for _ in 0..2 {
            let err = hasty.collect().await.unwrap_err();
            assert!(matches!(err, ServerInfoError::Timeout(_)), "{err:?}");
        }
        server.signal("CONT");
        patient.collect().await.unwrap();
    });
    let durations = |result| {
        captured
            .histogram_samples(
                "sdk.collector.duration",
                &[("sdk.collector", "redis"), ("sdk.result", result)],
            )
            .len()
    };
    assert_eq!((durations("ok"), durations("timeout")), (2, 2));
    let levels: Vec<_> = captured
        .logs
        .iter()
        .map(|line| {
            (
                line["level"].as_str().unwrap(),
                line["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        levels,
        [
            (
                "WARN",
                "Redis server health: collection failed; further failures of this kind are not logged"
            ),
            ("INFO", "Redis server health: collection recovered"),
        ],
        "{}",
        captured.log_text
    );
    assert_eq!(captured.logs[0]["fields"]["sdk.result"], "timeout");
    assert!(gauge(&captured, "sdk.redis.server.memory.used", &port).is_some());
}

#[test]
fn the_periodic_task_stops_when_its_handle_is_dropped() {
    let server = PrivateRedis::start(&[]);
    let port = server.port.to_string();
    let name = format!("sdk-server-info-{}", std::process::id());
    let captured = capture(|| async {
        let client = server.client();
        let mut collector_conn = connect(&client).await;
        let () = redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(&name)
            .query_async(&mut collector_conn)
            .await
            .unwrap();
        let mut raw = connect(&client).await;
        // The last command of each client named `name`.
        let named = |raw: &mut redis::aio::MultiplexedConnection| {
            let mut raw = raw.clone();
            let name = name.clone();
            async move {
                let list: String = redis::cmd("CLIENT")
                    .arg("LIST")
                    .query_async(&mut raw)
                    .await
                    .unwrap();
                list.lines()
                    .filter(|line| line.split(' ').any(|f| f == format!("name={name}")))
                    .filter_map(|line| line.split(' ').find_map(|f| f.strip_prefix("cmd=")))
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            }
        };
        let task = RedisServerInfo::new(collector_conn, &RedisConfig::from_client(&client))
            .spawn(Duration::from_millis(20))
            .unwrap();
        wait_for("the task's INFO on its connection", || {
            let last = named(&mut raw);
            async move { last.await == ["info"] }
        })
        .await;
        assert!(!task.is_finished());
        drop(task);
        // The aborted task drops the only handle of its connection, which closes.
        wait_for("the task's connection closed", || {
            let last = named(&mut raw);
            async move { last.await.is_empty() }
        })
        .await;
    });
    assert!(
        !captured
            .histogram_samples("sdk.collector.duration", &[("sdk.result", "ok")])
            .is_empty()
    );
    assert!(gauge(&captured, "sdk.redis.server.clients.connected", &port).unwrap() >= 1.0);
}

/// An `INFO` reply of a replica, cut to the measured fields.
const REPLY: &str = "# Server\r\nredis_version:7.0.15\r\n\r\n# Clients\r\nconnected_clients:3\r\nblocked_clients:1\r\n\r\n# Memory\r\nused_memory:2000000\r\nused_memory_peak:2100000\r\nmaxmemory:2097152\r\nmem_fragmentation_ratio:1.25\r\n\r\n# Stats\r\ninstantaneous_ops_per_sec:12\r\nexpired_keys:4\r\nevicted_keys:700\r\nkeyspace_hits:3\r\nkeyspace_misses:1\r\n\r\n# Replication\r\nrole:slave\r\n\r\n# Keyspace\r\ndb0:keys=10,expires=2,avg_ttl=0\r\ndb12:keys=5,expires=0,avg_ttl=0\r\n";

#[test]
fn info_replies_parse_into_the_measured_fields() {
    let info = ServerInfo::from_info(&redis::InfoDict::new(REPLY));
    assert_eq!(info.used_memory, Some(2_000_000));
    assert_eq!(info.used_memory_peak, Some(2_100_000));
    assert_eq!(info.maxmemory, Some(2_097_152));
    assert_eq!(info.mem_fragmentation_ratio, Some(1.25));
    assert_eq!(info.evicted_keys, Some(700));
    assert_eq!(info.expired_keys, Some(4));
    assert_eq!(info.keys, 15, "over db0 and db12");
    assert_eq!(info.keyspace_hits, Some(3));
    assert_eq!(info.keyspace_misses, Some(1));
    assert_eq!(info.connected_clients, Some(3));
    assert_eq!(info.blocked_clients, Some(1));
    assert_eq!(info.instantaneous_ops_per_sec, Some(12));
    assert_eq!(info.role, Some(RedisRole::Replica), "INFO says slave");
    assert_eq!(info.hit_ratio(), Some(0.75));
}

#[test]
fn missing_and_malformed_info_fields_are_none() {
    let info = ServerInfo::from_info(&redis::InfoDict::new(
        "used_memory:lots\r\nrole:sentinel\r\nkeyspace_hits:0\r\nkeyspace_misses:0\r\ndbx:keys=3\r\ndb1:expires=0\r\n",
    ));
    assert_eq!(info.used_memory, None);
    assert_eq!(info.role, None);
    assert_eq!(info.keys, 0);
    assert_eq!(info.hit_ratio(), None, "no lookups, no ratio");
}
