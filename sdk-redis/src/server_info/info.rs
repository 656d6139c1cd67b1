//! [`ServerInfo`]: the fields of one `INFO` reply the SDK measures, read from redis-rs'
//! [`InfoDict`] (the maintained parser of the reply's `key:value` lines).

use redis::InfoDict;

/// Replication role of a Redis server (`INFO` `role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RedisRole {
    /// A primary (`role:master`).
    Master,
    /// A replica (`role:slave`).
    Replica,
}

impl RedisRole {
    /// Both roles, in the order of [`RedisRole::index`].
    pub(crate) const ALL: [Self; 2] = [Self::Master, Self::Replica];

    /// The `sdk.redis.role` label value: `master` or `replica`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Master => "master",
            Self::Replica => "replica",
        }
    }

    /// Position in [`RedisRole::ALL`].
    pub(crate) const fn index(self) -> usize {
        match self {
            Self::Master => 0,
            Self::Replica => 1,
        }
    }

    /// The role of an `INFO` `role` value; Redis says `slave` for a replica.
    fn parse(value: &str) -> Option<Self> {
        match value {
            "master" => Some(Self::Master),
            "slave" | "replica" => Some(Self::Replica),
            _ => None,
        }
    }
}

/// What one `INFO` reply said about the server's health.
///
/// A field the server did not report, or reported in a form that is not a number, is
/// `None` and its metric is not recorded (Redis-compatible servers leave some out).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ServerInfo {
    /// Bytes allocated by the server (`used_memory`).
    pub used_memory: Option<u64>,
    /// Peak of [`ServerInfo::used_memory`] (`used_memory_peak`).
    pub used_memory_peak: Option<u64>,
    /// Memory limit, 0 when unlimited (`maxmemory`).
    pub maxmemory: Option<u64>,
    /// Resident over allocated memory (`mem_fragmentation_ratio`).
    pub mem_fragmentation_ratio: Option<f64>,
    /// Keys evicted because of the memory limit since the statistics were reset
    /// (`evicted_keys`).
    pub evicted_keys: Option<u64>,
    /// Keys expired since the statistics were reset (`expired_keys`).
    pub expired_keys: Option<u64>,
    /// Keys over every database of the `Keyspace` section (`db0:keys=…`); 0 when empty.
    pub keys: u64,
    /// Lookups that found their key (`keyspace_hits`).
    pub keyspace_hits: Option<u64>,
    /// Lookups that did not (`keyspace_misses`).
    pub keyspace_misses: Option<u64>,
    /// Connected clients, replicas excluded (`connected_clients`).
    pub connected_clients: Option<u64>,
    /// Clients waiting in a blocking command (`blocked_clients`).
    pub blocked_clients: Option<u64>,
    /// Commands per second over the server's last samples (`instantaneous_ops_per_sec`).
    pub instantaneous_ops_per_sec: Option<u64>,
    /// Replication role (`role`).
    pub role: Option<RedisRole>,
}

impl ServerInfo {
    /// The measured fields of `info`.
    pub fn from_info(info: &InfoDict) -> Self {
        Self {
            used_memory: info.get("used_memory"),
            used_memory_peak: info.get("used_memory_peak"),
            maxmemory: info.get("maxmemory"),
            mem_fragmentation_ratio: info.get("mem_fragmentation_ratio"),
            evicted_keys: info.get("evicted_keys"),
            expired_keys: info.get("expired_keys"),
            keys: keyspace_keys(info),
            keyspace_hits: info.get("keyspace_hits"),
            keyspace_misses: info.get("keyspace_misses"),
            connected_clients: info.get("connected_clients"),
            blocked_clients: info.get("blocked_clients"),
            instantaneous_ops_per_sec: info.get("instantaneous_ops_per_sec"),
            role: info
                .get::<String>("role")
                .and_then(|role| RedisRole::parse(&role)),
        }
    }

    /// Hits over lookups, `hits / (hits + misses)`; `None` before the first lookup.
    pub fn hit_ratio(&self) -> Option<f64> {
        let hits = self.keyspace_hits?;
        let lookups = hits.checked_add(self.keyspace_misses?)?;
        (lookups > 0).then(|| hits as f64 / lookups as f64)
    }
}

/// The sum of `keys=` over the `dbN` lines of the `Keyspace` section.
fn keyspace_keys(info: &InfoDict) -> u64 {
    info.keys()
        .filter(|key| {
            key.strip_prefix("db")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|key| info.get::<String>(key))
        .filter_map(|line| db_keys(&line))
        .fold(0, u64::saturating_add)
}

/// `keys` of one keyspace line's value, `keys=3,expires=1,avg_ttl=0`.
fn db_keys(value: &str) -> Option<u64> {
    value
        .split(',')
        .find_map(|pair| pair.strip_prefix("keys="))
        .and_then(|n| n.trim().parse().ok())
}
