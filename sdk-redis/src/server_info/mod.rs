//! Redis server health from a periodic `INFO`: memory, evictions, keys, the server-side hit
//! ratio, clients, throughput and replication role, as the catalogue's
//! `sdk.redis.server.*` metrics labelled `server.address` / `server.port`.
//!
//! [`RedisServerInfo`] sends one `INFO` per [`collect`](RedisServerInfo::collect) over the
//! connection it was given (its own commands are not traced: give it a plain
//! `MultiplexedConnection` or `ConnectionManager`, or use
//! [`RedisServerInfo::from_instrumented`]), parses the reply with redis-rs'
//! [`InfoDict`] into a [`ServerInfo`], records it and returns it.
//! [`spawn`](RedisServerInfo::spawn) repeats that on the current Tokio runtime until the
//! returned [`ServerInfoTask`] is dropped or stopped.
//!
//! Every collection records `sdk.collector.duration{sdk.collector=redis}` with
//! `sdk.result` `ok`, `error` or `timeout`. A failure is logged at WARN when the
//! collector's state changes (first failure, or another kind of failure), not on every
//! attempt, and the recovery at INFO.
//!
//! ```no_run
//! # async fn example() -> redis::RedisResult<()> {
//! use sdk_redis::RedisConfig;
//! use sdk_redis::server_info::RedisServerInfo;
//! use std::time::Duration;
//!
//! let client = redis::Client::open("redis://127.0.0.1:6379")?;
//! let connection = client.get_multiplexed_async_connection().await?;
//! let collector = RedisServerInfo::new(connection, &RedisConfig::from_client(&client));
//! let info = collector.collect().await.ok();
//! let task = collector.spawn(Duration::from_secs(15)).ok(); // stops when dropped
//! # Ok(()) }
//! ```

mod info;
mod task;

pub use info::{RedisRole, ServerInfo};
pub use task::{ServerInfoTask, SpawnError};

use crate::config::RedisConfig;
use crate::connection::InstrumentedConnection;
use metrics::SharedString;
use redis::InfoDict;
use redis::aio::ConnectionLike;
use sdk_core::catalogue::{
    COLLECTOR_DURATION, REDIS_SERVER_CLIENTS_BLOCKED, REDIS_SERVER_CLIENTS_CONNECTED,
    REDIS_SERVER_KEYS, REDIS_SERVER_KEYS_EVICTED, REDIS_SERVER_KEYS_EXPIRED,
    REDIS_SERVER_KEYSPACE_HIT_RATIO, REDIS_SERVER_KEYSPACE_HITS, REDIS_SERVER_KEYSPACE_MISSES,
    REDIS_SERVER_MEMORY_FRAGMENTATION, REDIS_SERVER_MEMORY_MAX, REDIS_SERVER_MEMORY_PEAK,
    REDIS_SERVER_MEMORY_USED, REDIS_SERVER_OPS_PER_SECOND, REDIS_SERVER_ROLE,
};
use sdk_core::semconv::{sdk, server};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The `sdk.collector` label of this collector.
const COLLECTOR: &str = "redis";

/// How long one collection may take unless [`RedisServerInfo::timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a collection failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerInfoError {
    /// Redis answered with an error, the reply was not an `INFO` text, or the connection
    /// failed (including redis-rs' own response timeout, counted as `timeout`).
    #[error("INFO failed: {0}")]
    Redis(#[source] redis::RedisError),
    /// No answer within the collector's timeout.
    #[error("INFO got no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
}

impl ServerInfoError {
    /// The `sdk.result` label: `timeout` or `error`.
    fn result(&self) -> &'static str {
        match self {
            Self::Timeout(_) => "timeout",
            Self::Redis(err) if err.is_timeout() => "timeout",
            Self::Redis(_) => "error",
        }
    }
}

/// Collects Redis server health with `INFO` over a connection of its own.
///
/// Clones share the collector's state (the last outcome, for logging once per change, and
/// the role series already written), so a clone handed to [`RedisServerInfo::spawn`] and
/// the original report as one collector.
#[derive(Clone)]
pub struct RedisServerInfo<C> {
    connection: C,
    timeout: Duration,
    shared: Arc<Shared>,
}

impl<C> std::fmt::Debug for RedisServerInfo<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisServerInfo")
            .field("address", &self.shared.address)
            .field("port", &self.shared.port)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What clones of a collector share.
#[derive(Debug)]
struct Shared {
    address: Option<Arc<str>>,
    port: Option<u16>,
    /// `server.address` and `server.port`, as far as known.
    labels: Vec<(&'static str, SharedString)>,
    state: Mutex<State>,
}

/// The outcome of the last collection and the role series written so far.
#[derive(Debug, Default)]
struct State {
    /// `None` before the first collection, else the last `sdk.result`.
    last: Option<&'static str>,
    /// Whether the series of each role (by [`RedisRole::index`]) was written.
    roles_written: [bool; 2],
}

impl<C> RedisServerInfo<C> {
    /// A collector sending `INFO` over `connection` (a plain redis-rs connection: its
    /// commands are not traced), labelling its metrics with the server address and port
    /// of `config` ([`RedisConfig::from_client`]).
    pub fn new(connection: C, config: &RedisConfig) -> Self {
        let address = config.address().cloned();
        let port = config.port();
        let mut labels = Vec::with_capacity(2);
        if let Some(address) = &address {
            labels.push((server::ADDRESS, SharedString::from(Arc::clone(address))));
        }
        if let Some(port) = port {
            labels.push((server::PORT, SharedString::from(port.to_string())));
        }
        Self {
            connection,
            timeout: DEFAULT_TIMEOUT,
            shared: Arc::new(Shared {
                address,
                port,
                labels,
                state: Mutex::default(),
            }),
        }
    }

    /// How long one collection may take before it counts as `timeout` (default
    /// [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl<C: Clone> RedisServerInfo<C> {
    /// A collector over the connection `instrumented` wraps (so `INFO` is not traced), with
    /// its server address and port.
    pub fn from_instrumented(instrumented: &InstrumentedConnection<C>) -> Self {
        let mut instrumented = instrumented.clone();
        let config = instrumented.config().clone();
        Self::new(instrumented.inner_mut().clone(), &config)
    }
}

impl<C> RedisServerInfo<C>
where
    C: ConnectionLike + Clone + Send,
{
    /// Sends one `INFO`, records the server's metrics and `sdk.collector.duration`, and
    /// returns what the reply said. Never panics; a failure is returned, recorded as
    /// `error` or `timeout`, and logged when it changes the collector's state.
    pub async fn collect(&self) -> Result<ServerInfo, ServerInfoError> {
        let started = Instant::now();
        let mut connection = self.connection.clone();
        let command = redis::cmd("INFO");
        let reply = tokio::time::timeout(
            self.timeout,
            command.query_async::<InfoDict>(&mut connection),
        )
        .await;
        let result = match reply {
            Ok(Ok(dict)) => Ok(ServerInfo::from_info(&dict)),
            Ok(Err(err)) => Err(ServerInfoError::Redis(err)),
            Err(_) => Err(ServerInfoError::Timeout(self.timeout)),
        };
        let outcome = match &result {
            Ok(info) => {
                self.record(info);
                "ok"
            }
            Err(err) => err.result(),
        };
        COLLECTOR_DURATION
            .histogram(&[
                (sdk::COLLECTOR, SharedString::const_str(COLLECTOR)),
                (sdk::RESULT, SharedString::const_str(outcome)),
            ])
            .record(started.elapsed().as_secs_f64());
        self.note_outcome(outcome, result.as_ref().err());
        result
    }
}

impl<C> RedisServerInfo<C> {
    /// Records the server's metrics from `info`.
    fn record(&self, info: &ServerInfo) {
        let labels = &self.shared.labels[..];
        let gauges = [
            (
                &REDIS_SERVER_MEMORY_USED,
                info.used_memory.map(|v| v as f64),
            ),
            (
                &REDIS_SERVER_MEMORY_PEAK,
                info.used_memory_peak.map(|v| v as f64),
            ),
            (&REDIS_SERVER_MEMORY_MAX, info.maxmemory.map(|v| v as f64)),
            (
                &REDIS_SERVER_MEMORY_FRAGMENTATION,
                info.mem_fragmentation_ratio,
            ),
            (&REDIS_SERVER_KEYS, Some(info.keys as f64)),
            (&REDIS_SERVER_KEYSPACE_HIT_RATIO, info.hit_ratio()),
            (
                &REDIS_SERVER_CLIENTS_CONNECTED,
                info.connected_clients.map(|v| v as f64),
            ),
            (
                &REDIS_SERVER_CLIENTS_BLOCKED,
                info.blocked_clients.map(|v| v as f64),
            ),
            (
                &REDIS_SERVER_OPS_PER_SECOND,
                info.instantaneous_ops_per_sec.map(|v| v as f64),
            ),
        ];
        for (def, value) in gauges {
            if let Some(value) = value {
                def.gauge(labels).set(value);
            }
        }
        let counters = [
            (&REDIS_SERVER_KEYS_EVICTED, info.evicted_keys),
            (&REDIS_SERVER_KEYS_EXPIRED, info.expired_keys),
            (&REDIS_SERVER_KEYSPACE_HITS, info.keyspace_hits),
            (&REDIS_SERVER_KEYSPACE_MISSES, info.keyspace_misses),
        ];
        for (def, value) in counters {
            if let Some(value) = value {
                def.counter(labels).absolute(value);
            }
        }
        if let Some(role) = info.role {
            self.record_role(role);
        }
    }

    /// `sdk.redis.server.role` 1 on `role`'s series, 0 on the other role's series if it
    /// was written before (a failover).
    fn record_role(&self, role: RedisRole) {
        let written = {
            let mut state = self.state();
            state.roles_written[role.index()] = true;
            state.roles_written
        };
        for each in RedisRole::ALL {
            if !written[each.index()] {
                continue;
            }
            let mut labels = self.shared.labels.clone();
            labels.push((sdk::REDIS_ROLE, SharedString::const_str(each.as_str())));
            let value = if each == role { 1.0 } else { 0.0 };
            REDIS_SERVER_ROLE.gauge(&labels).set(value);
        }
    }

    /// Logs `outcome` when it differs from the last collection's.
    fn note_outcome(&self, outcome: &'static str, error: Option<&ServerInfoError>) {
        let previous = self.state().last.replace(outcome);
        if previous == Some(outcome) {
            return;
        }
        let address = self.shared.address.as_deref();
        let port = self.shared.port;
        match error {
            Some(error) => tracing::warn!(
                server.address = address,
                server.port = port,
                sdk.result = outcome,
                error = %error,
                "Redis server health: collection failed; further failures of this kind are not logged"
            ),
            None if previous.is_some() => tracing::info!(
                server.address = address,
                server.port = port,
                "Redis server health: collection recovered"
            ),
            None => {}
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
