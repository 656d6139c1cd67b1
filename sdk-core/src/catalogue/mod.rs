//! The metric catalogue: every metric the SDK emits, written once.
//!
//! A [`MetricDef`] holds the OpenTelemetry name, kind, unit, description, the label keys a
//! recording may carry and the default histogram buckets. Instrumentation records through
//! these definitions (see [`MetricDef::histogram`] and friends with the `metrics` feature);
//! exporters, documentation and generated dashboards read [`ALL`]. No other place in the SDK
//! spells a metric name.
//!
//! The Prometheus name is derived by one rule, [`MetricDef::prometheus_name`]: dots become
//! underscores, the unit's suffix is appended (`_seconds`, `_bytes`), counters end in
//! `_total`, and a gauge whose name would end in a suffix Prometheus reserves for counters
//! and histograms (`_count`, `_sum`, `_bucket`, `_total`) gets `_current` appended
//! (`db.client.connection.count` → `db_client_connection_count_current`), so that
//! `promtool check metrics` accepts every name.
//!
//! ```
//! use sdk_core::catalogue::{self, HTTP_SERVER_REQUEST_DURATION};
//! assert_eq!(HTTP_SERVER_REQUEST_DURATION.prometheus_name(), "http_server_request_duration_seconds");
//! assert!(catalogue::find("http.server.request.duration").is_some());
//! ```

use crate::semconv::{browser, cache, db, error, http, network, sdk, server, url};

mod application;
pub(crate) use application::registered;
pub use application::{CatalogueError, DEFAULT_MAX_SERIES, all, application, register};

/// How a metric aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// Monotonic sum (Prometheus counter, `_total`).
    Counter,
    /// Sum that goes up and down (Prometheus gauge).
    UpDownCounter,
    /// Last value (Prometheus gauge).
    Gauge,
    /// Distribution over explicit buckets (Prometheus histogram).
    Histogram,
}

impl MetricKind {
    /// Lower-case name as written in docs and the Prometheus `# TYPE` line's family.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::UpDownCounter => "updowncounter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// Unit of a metric, as UCUM code for OpenTelemetry and as suffix for Prometheus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// Seconds (`s`, suffix `_seconds`).
    Seconds,
    /// Bytes (`By`, suffix `_bytes`).
    Bytes,
    /// A dimensionless count in curly braces such as `{request}`; no Prometheus suffix.
    Count(&'static str),
    /// A dimensionless score (`1`), no suffix (e.g. cumulative layout shift).
    Dimensionless,
}

impl Unit {
    /// UCUM unit string used by OpenTelemetry.
    pub const fn ucum(self) -> &'static str {
        match self {
            Self::Seconds => "s",
            Self::Bytes => "By",
            Self::Count(annotation) => annotation,
            Self::Dimensionless => "1",
        }
    }

    /// Suffix appended to the Prometheus name, if any.
    pub const fn prometheus_suffix(self) -> Option<&'static str> {
        match self {
            Self::Seconds => Some("seconds"),
            Self::Bytes => Some("bytes"),
            Self::Count(_) | Self::Dimensionless => None,
        }
    }
}

/// One metric of the catalogue.
#[derive(Debug)]
pub struct MetricDef {
    /// OpenTelemetry name (`http.server.request.duration`).
    pub name: &'static str,
    /// Aggregation kind.
    pub kind: MetricKind,
    /// Unit.
    pub unit: Unit,
    /// One-sentence description, used as Prometheus `HELP`.
    pub description: &'static str,
    /// Label (attribute) keys a recording may carry; others are dropped.
    pub labels: &'static [&'static str],
    /// Default explicit bucket boundaries (histograms only, ascending).
    pub buckets: &'static [f64],
    /// Ceiling on distinct label combinations before values fold into an overflow series.
    pub max_series: usize,
    /// Label combinations seen so far (the cardinality guard's memory).
    #[doc(hidden)]
    pub seen: SeriesGuard,
}

impl PartialEq for MetricDef {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// Remembers which label combinations a metric has recorded, up to its ceiling.
#[derive(Debug, Default)]
pub struct SeriesGuard {
    seen: std::sync::Mutex<Option<std::collections::HashSet<u64>>>,
}

impl SeriesGuard {
    /// An empty guard.
    pub const fn new() -> Self {
        Self {
            seen: std::sync::Mutex::new(None),
        }
    }

    /// Whether the combination hashed to `hash` may have its own series under `ceiling`:
    /// known combinations always may, new ones while there is room.
    pub fn admit(&self, hash: u64, ceiling: usize) -> bool {
        let mut guard = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let seen = guard.get_or_insert_with(std::collections::HashSet::new);
        if seen.contains(&hash) {
            return true;
        }
        if seen.len() < ceiling {
            seen.insert(hash);
            return true;
        }
        false
    }

    /// How many combinations have their own series.
    pub fn len(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map_or(0, std::collections::HashSet::len)
    }

    /// Whether no combination was seen yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl MetricDef {
    /// The Prometheus name, by the catalogue's one rule (see the module documentation).
    pub fn prometheus_name(&self) -> String {
        let mut name: String = self
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        if let Some(suffix) = self.unit.prometheus_suffix()
            && !name.ends_with(suffix)
        {
            name.push('_');
            name.push_str(suffix);
        }
        match self.kind {
            MetricKind::Counter => name.push_str("_total"),
            MetricKind::Gauge | MetricKind::UpDownCounter
                if ["_count", "_sum", "_bucket", "_total"]
                    .iter()
                    .any(|s| name.ends_with(s)) =>
            {
                name.push_str("_current");
            }
            _ => {}
        }
        name
    }

    /// Whether `key` is one of this metric's label keys.
    pub fn allows_label(&self, key: &str) -> bool {
        self.labels.contains(&key)
    }
}

/// Label key of a folded series once a metric reaches [`MetricDef::max_series`].
pub const OVERFLOW_LABEL: &str = "otel.metric.overflow";

const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
const DB_DURATION_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0];
const ROW_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0,
];
const SIZE_BUCKETS: &[f64] = &[
    100.0,
    1_000.0,
    10_000.0,
    100_000.0,
    1_000_000.0,
    10_000_000.0,
    100_000_000.0,
];
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];
/// Page timing buckets: they include every web-vital rating threshold (0.1, 0.2, 0.3, 0.5,
/// 0.8, 1.8, 2.5, 3, 4 s) so ratings can be read off the histogram exactly.
const WEB_VITAL_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.8, 2.5, 3.0, 4.0, 6.0, 10.0, 20.0,
];
/// Layout-shift buckets including the CLS thresholds 0.1 and 0.25.
const CLS_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5];
const NO_BUCKETS: &[f64] = &[];

const HTTP_SERVER_LABELS: &[&str] = &[
    http::REQUEST_METHOD,
    http::ROUTE,
    http::RESPONSE_STATUS_CODE,
    error::TYPE,
    url::SCHEME,
    network::PROTOCOL_VERSION,
];
const HTTP_CLIENT_LABELS: &[&str] = &[
    http::REQUEST_METHOD,
    server::ADDRESS,
    server::PORT,
    http::RESPONSE_STATUS_CODE,
    error::TYPE,
    url::SCHEME,
];
const DB_OPERATION_LABELS: &[&str] = &[
    db::SYSTEM_NAME,
    db::NAMESPACE,
    db::OPERATION_NAME,
    db::COLLECTION_NAME,
    db::RESPONSE_STATUS_CODE,
    error::TYPE,
    server::ADDRESS,
    server::PORT,
];
const POOL_LABELS: &[&str] = &[db::CLIENT_CONNECTION_POOL_NAME];
const POOL_STATE_LABELS: &[&str] = &[db::CLIENT_CONNECTION_POOL_NAME, db::CLIENT_CONNECTION_STATE];
const STATEMENT_LABELS: &[&str] = &[
    db::SYSTEM_NAME,
    db::NAMESPACE,
    sdk::DB_QUERY_ID,
    db::QUERY_SUMMARY,
];
const TABLE_LABELS: &[&str] = &[db::SYSTEM_NAME, db::NAMESPACE, db::COLLECTION_NAME];
const INDEX_LABELS: &[&str] = &[
    db::SYSTEM_NAME,
    db::NAMESPACE,
    db::COLLECTION_NAME,
    sdk::DB_INDEX,
];
const REDIS_SERVER_LABELS: &[&str] = &[server::ADDRESS, server::PORT];
/// Process-wide metrics carry no labels.
const NO_LABELS: &[&str] = &[];
const WEB_VITAL_LABELS: &[&str] = &[
    browser::WEB_VITAL_NAME,
    browser::WEB_VITAL_RATING,
    browser::WEB_VITAL_NAVIGATION_TYPE,
    http::ROUTE,
];

macro_rules! catalogue {
    ($(
        $(#[$doc:meta])*
        $ident:ident = { $name:expr, $kind:ident, $unit:expr, $desc:expr, $labels:expr, $buckets:expr, $max:expr }
    )*) => {
        $(
            $(#[$doc])*
            pub static $ident: MetricDef = MetricDef {
                name: $name,
                kind: MetricKind::$kind,
                unit: $unit,
                description: $desc,
                labels: $labels,
                buckets: $buckets,
                max_series: $max,
                seen: SeriesGuard::new(),
            };
        )*
        /// Every metric of the catalogue, in documentation order.
        pub static ALL: &[&MetricDef] = &[$(&$ident),*];
    };
}

catalogue! {
    /// Duration of HTTP server requests.
    HTTP_SERVER_REQUEST_DURATION = { "http.server.request.duration", Histogram, Unit::Seconds,
        "Duration of HTTP server requests.", HTTP_SERVER_LABELS, DURATION_BUCKETS, 2000 }
    /// Number of in-flight HTTP server requests.
    HTTP_SERVER_ACTIVE_REQUESTS = { "http.server.active_requests", UpDownCounter, Unit::Count("{request}"),
        "Number of active HTTP server requests.", &[http::REQUEST_METHOD, url::SCHEME], NO_BUCKETS, 100 }
    /// Size of HTTP server request bodies as they stream.
    HTTP_SERVER_REQUEST_BODY_SIZE = { "http.server.request.body.size", Histogram, Unit::Bytes,
        "Size of HTTP server request bodies.", HTTP_SERVER_LABELS, SIZE_BUCKETS, 2000 }
    /// Size of HTTP server response bodies as they stream.
    HTTP_SERVER_RESPONSE_BODY_SIZE = { "http.server.response.body.size", Histogram, Unit::Bytes,
        "Size of HTTP server response bodies.", HTTP_SERVER_LABELS, SIZE_BUCKETS, 2000 }
    /// Handler panics turned into 500 responses.
    HTTP_SERVER_PANICS = { "sdk.http.server.panics", Counter, Unit::Count("{panic}"),
        "Handler panics caught by the server layer.", &[http::REQUEST_METHOD, http::ROUTE], NO_BUCKETS, 500 }
    /// Duration of outbound HTTP requests.
    HTTP_CLIENT_REQUEST_DURATION = { "http.client.request.duration", Histogram, Unit::Seconds,
        "Duration of HTTP client requests.", HTTP_CLIENT_LABELS, DURATION_BUCKETS, 2000 }

    /// Duration of database client operations.
    DB_CLIENT_OPERATION_DURATION = { "db.client.operation.duration", Histogram, Unit::Seconds,
        "Duration of database client operations.", DB_OPERATION_LABELS, DB_DURATION_BUCKETS, 2000 }
    /// Rows returned by database queries.
    DB_CLIENT_RESPONSE_RETURNED_ROWS = { "db.client.response.returned_rows", Histogram, Unit::Count("{row}"),
        "Number of rows returned by database operations.", DB_OPERATION_LABELS, ROW_BUCKETS, 2000 }
    /// Queries slower than the configured threshold.
    DB_CLIENT_SLOW_QUERIES = { "sdk.db.client.slow_queries", Counter, Unit::Count("{query}"),
        "Database operations slower than the slow-query threshold.", DB_OPERATION_LABELS, NO_BUCKETS, 2000 }
    /// Duration of database transactions from begin to commit or rollback.
    DB_CLIENT_TRANSACTION_DURATION = { "sdk.db.client.transaction.duration", Histogram, Unit::Seconds,
        "Duration of database transactions.", &[db::SYSTEM_NAME, db::NAMESPACE, db::OPERATION_NAME], DB_DURATION_BUCKETS, 200 }
    /// Pool connections by state.
    DB_CLIENT_CONNECTION_COUNT = { "db.client.connection.count", UpDownCounter, Unit::Count("{connection}"),
        "Number of pool connections by state.", POOL_STATE_LABELS, NO_BUCKETS, 100 }
    /// Maximum connections the pool allows.
    DB_CLIENT_CONNECTION_MAX = { "db.client.connection.max", UpDownCounter, Unit::Count("{connection}"),
        "Maximum number of open connections allowed.", POOL_LABELS, NO_BUCKETS, 50 }
    /// Maximum idle connections the pool keeps.
    DB_CLIENT_CONNECTION_IDLE_MAX = { "db.client.connection.idle.max", UpDownCounter, Unit::Count("{connection}"),
        "Maximum number of idle connections allowed.", POOL_LABELS, NO_BUCKETS, 50 }
    /// Minimum idle connections the pool keeps.
    DB_CLIENT_CONNECTION_IDLE_MIN = { "db.client.connection.idle.min", UpDownCounter, Unit::Count("{connection}"),
        "Minimum number of idle connections allowed.", POOL_LABELS, NO_BUCKETS, 50 }
    /// Requests waiting for a pool connection.
    DB_CLIENT_CONNECTION_PENDING_REQUESTS = { "db.client.connection.pending_requests", UpDownCounter, Unit::Count("{request}"),
        "Number of requests waiting for an open connection.", POOL_LABELS, NO_BUCKETS, 50 }
    /// Acquire attempts that timed out.
    DB_CLIENT_CONNECTION_TIMEOUTS = { "db.client.connection.timeouts", Counter, Unit::Count("{timeout}"),
        "Connection acquisitions that timed out.", POOL_LABELS, NO_BUCKETS, 50 }
    /// Time to create a new connection.
    DB_CLIENT_CONNECTION_CREATE_TIME = { "db.client.connection.create_time", Histogram, Unit::Seconds,
        "Time it took to create a new connection.", POOL_LABELS, DB_DURATION_BUCKETS, 50 }
    /// Time spent waiting for a pool connection.
    DB_CLIENT_CONNECTION_WAIT_TIME = { "db.client.connection.wait_time", Histogram, Unit::Seconds,
        "Time it took to obtain an open connection from the pool.", POOL_LABELS, DB_DURATION_BUCKETS, 50 }
    /// Time a connection was held before being returned.
    DB_CLIENT_CONNECTION_USE_TIME = { "db.client.connection.use_time", Histogram, Unit::Seconds,
        "Time between borrowing a connection and returning it to the pool.", POOL_LABELS, DB_DURATION_BUCKETS, 50 }
    /// Commands per pipeline or transaction.
    DB_CLIENT_OPERATION_BATCH_SIZE = { "db.client.operation.batch.size", Histogram, Unit::Count("{command}"),
        "Number of commands in a pipeline or transaction.", &[db::SYSTEM_NAME, db::OPERATION_NAME], BATCH_BUCKETS, 50 }

    /// Cache lookups by result.
    CACHE_REQUESTS = { "sdk.cache.requests", Counter, Unit::Count("{request}"),
        "Cache lookups by result (hit or miss).", &[db::SYSTEM_NAME, db::OPERATION_NAME, cache::RESULT, cache::KEY_PREFIX], NO_BUCKETS, 500 }
    /// Time the cache-aside helper spent in the loader on a miss.
    CACHE_LOAD_DURATION = { "sdk.cache.load.duration", Histogram, Unit::Seconds,
        "Time spent loading a value after a cache miss.", &[cache::KEY_PREFIX, error::TYPE], DURATION_BUCKETS, 200 }
    /// Loads served without the cache because it was unavailable.
    CACHE_FALLBACKS = { "sdk.cache.fallbacks", Counter, Unit::Count("{request}"),
        "Cache-aside requests served by the loader because the cache was unavailable.", &[cache::KEY_PREFIX], NO_BUCKETS, 100 }

    /// Page timings reported by browsers (LCP, INP, FCP, TTFB, FID).
    BROWSER_WEB_VITAL_DURATION = { "browser.web_vital.duration", Histogram, Unit::Seconds,
        "Core Web Vitals timings reported by browsers.", WEB_VITAL_LABELS, WEB_VITAL_BUCKETS, 2000 }
    /// Cumulative layout shift scores reported by browsers.
    BROWSER_WEB_VITAL_CLS = { "browser.web_vital.cls", Histogram, Unit::Dimensionless,
        "Cumulative Layout Shift scores reported by browsers.", WEB_VITAL_LABELS, CLS_BUCKETS, 500 }
    /// LCP's sub-parts and INP's phases reported by browsers (the attribution build).
    BROWSER_WEB_VITAL_PART_DURATION = { "browser.web_vital.part.duration", Histogram, Unit::Seconds,
        "Sub-parts of LCP and phases of INP reported by browsers (attribution).", &[browser::WEB_VITAL_NAME, browser::WEB_VITAL_PART, http::ROUTE], WEB_VITAL_BUCKETS, 1000 }
    /// Browser errors and unhandled rejections reported by the RUM module.
    BROWSER_ERRORS = { "sdk.browser.errors", Counter, Unit::Count("{error}"),
        "Uncaught browser errors and unhandled rejections reported by pages.", &[http::ROUTE, error::TYPE], NO_BUCKETS, 500 }
    /// RUM beacons refused by the ingestion route.
    RUM_BEACONS_REJECTED = { "sdk.rum.beacons.rejected", Counter, Unit::Count("{beacon}"),
        "RUM beacons rejected by the ingestion route.", &[sdk::REASON], NO_BUCKETS, 50 }

    /// Duration of health checks run by readiness endpoints.
    HEALTH_CHECK_DURATION = { "sdk.health.check.duration", Histogram, Unit::Seconds,
        "Duration of readiness health checks by check and outcome.", &[sdk::CHECK, sdk::CHECK_STATUS], DURATION_BUCKETS, 200 }

    /// Incoming trace-context headers that were malformed and ignored.
    PROPAGATION_REJECTED = { "sdk.propagation.rejected", Counter, Unit::Count("{header}"),
        "Malformed trace-context headers ignored during extraction.", &[sdk::PROPAGATOR], NO_BUCKETS, 20 }
    /// Telemetry items dropped because a queue was full, an export failed or panicked, or a
    /// log line could not be written.
    EXPORTER_DROPPED = { "sdk.exporter.dropped", Counter, Unit::Count("{item}"),
        "Telemetry items dropped by the SDK (queue full, export failed or panicked, log line not written).", &[sdk::SIGNAL, sdk::EXPORTER, sdk::REASON], NO_BUCKETS, 50 }
    /// Recordings folded into the overflow series by the cardinality guard.
    METRIC_OVERFLOW = { "sdk.metric.overflow", Counter, Unit::Count("{recording}"),
        "Recordings folded into a metric's overflow series by the cardinality guard.", &[sdk::METRIC], NO_BUCKETS, 100 }
    /// Operations dropped before they finished (client gone, timeout, `select!`).
    OPERATION_CANCELLED = { "sdk.operation.cancelled", Counter, Unit::Count("{operation}"),
        "Operations (requests, outbound calls, queries, commands) dropped before they finished.", &[sdk::OPERATION], NO_BUCKETS, 20 }
    /// Panics in user callbacks run by the SDK, caught so that they fail neither the
    /// request nor the process.
    CALLBACK_PANICS = { "sdk.callback.panics", Counter, Unit::Count("{panic}"),
        "Panics in user callbacks (classifier, health check, cache loader, exporter, authorizer) caught by the SDK.", &[sdk::CALLBACK], NO_BUCKETS, 10 }

    /// Slow-query plans asked for, by outcome.
    DB_CLIENT_PLANS = { "sdk.db.client.plans", Counter, Unit::Count("{plan}"),
        "Plans of slow queries, by outcome (explained, rate_limited, queue_full, write, timeout, error).", &[db::SYSTEM_NAME, sdk::RESULT], NO_BUCKETS, 50 }
    /// Findings in slow-query plans (a sequential scan of a large table, a row estimate far off).
    DB_CLIENT_PLAN_FINDINGS = { "sdk.db.client.plan.findings", Counter, Unit::Count("{finding}"),
        "Findings in the plans of slow queries, by kind and table.", &[db::SYSTEM_NAME, db::COLLECTION_NAME, sdk::FINDING], NO_BUCKETS, 500 }
    /// Execution time of the top statements since the statistics were reset.
    DB_STATEMENT_EXEC_TIME = { "sdk.db.statement.exec_time", Gauge, Unit::Seconds,
        "Total execution time of the top statements since the statistics were reset (pg_stat_statements).", STATEMENT_LABELS, NO_BUCKETS, 500 }
    /// Calls of the top statements.
    DB_STATEMENT_CALLS = { "sdk.db.statement.calls", Counter, Unit::Count("{call}"),
        "Calls of the top statements since the statistics were reset (pg_stat_statements).", STATEMENT_LABELS, NO_BUCKETS, 500 }
    /// Rows read or written by the top statements.
    DB_STATEMENT_ROWS = { "sdk.db.statement.rows", Counter, Unit::Count("{row}"),
        "Rows returned or affected by the top statements since the statistics were reset (pg_stat_statements).", STATEMENT_LABELS, NO_BUCKETS, 500 }
    /// Table reads by scan kind.
    DB_TABLE_SCANS = { "sdk.db.table.scans", Counter, Unit::Count("{scan}"),
        "Scans of a table, sequential or by index, since the statistics were reset.", &[db::SYSTEM_NAME, db::NAMESPACE, db::COLLECTION_NAME, sdk::DB_SCAN], NO_BUCKETS, 1000 }
    /// Table size on disk.
    DB_TABLE_SIZE = { "sdk.db.table.size", Gauge, Unit::Bytes,
        "Size of a table on disk, without its indexes.", TABLE_LABELS, NO_BUCKETS, 500 }
    /// Estimated live rows of a table.
    DB_TABLE_ROWS = { "sdk.db.table.rows", Gauge, Unit::Count("{row}"),
        "Estimated live rows of a table.", TABLE_LABELS, NO_BUCKETS, 500 }
    /// Index scans by index.
    DB_INDEX_SCANS = { "sdk.db.index.scans", Counter, Unit::Count("{scan}"),
        "Scans using an index since the statistics were reset.", INDEX_LABELS, NO_BUCKETS, 1000 }
    /// Index size on disk.
    DB_INDEX_SIZE = { "sdk.db.index.size", Gauge, Unit::Bytes,
        "Size of an index on disk.", INDEX_LABELS, NO_BUCKETS, 1000 }
    /// Current findings of the database insights report, by kind.
    DB_INSIGHT_FINDINGS = { "sdk.db.insights.findings", Gauge, Unit::Count("{finding}"),
        "Findings of the last database insights collection, by kind (unused index, table read by sequential scans).", &[db::SYSTEM_NAME, db::NAMESPACE, sdk::FINDING], NO_BUCKETS, 50 }

    /// Memory the Redis server uses.
    REDIS_SERVER_MEMORY_USED = { "sdk.redis.server.memory.used", Gauge, Unit::Bytes,
        "Memory allocated by the Redis server (INFO used_memory).", REDIS_SERVER_LABELS, NO_BUCKETS, 50 }
    /// Peak memory of the Redis server.
    REDIS_SERVER_MEMORY_PEAK = { "sdk.redis.server.memory.peak", Gauge, Unit::Bytes,
        "Peak memory allocated by the Redis server (INFO used_memory_peak).", REDIS_SERVER_LABELS, NO_BUCKETS, 50 }
    /// Memory limit of the Redis server.
    REDIS_SERVER_MEMORY_MAX = { "sdk.redis.server.memory.max", Gauge, Unit::Bytes,
        "Memory limit of the Redis server, 0 when unlimited (INFO maxmemory).", REDIS_SERVER_LABELS, NO_BUCKETS, 50 }
    /// Memory fragmentation ratio.
    REDIS_SERVER_MEMORY_FRAGMENTATION = { "sdk.redis.server.memory.fragmentation_ratio", Gauge, Unit::Dimensionless,
        "Resident memory over allocated memory of the Redis server (INFO mem_fragmentation_ratio).", REDIS_SERVER_LABELS, NO_BUCKETS, 50 }
    /// Keys evicted because of the memory limit.
    REDIS_SERVER_KEYS_EVICTED = { "sdk.redis.server.keys.evicted", Counter, Unit::Count("{key}"),
        "Keys evicted by the Redis server because of its memory limit (INFO evicted_keys).", REDIS_SERVER_LABELS, NO_BUCKETS, 50 }
    /// Keys expired.
    REDIS_SERVER_KEYS_EXPIRED = { "sdk.redis.server.keys.expired", Counter, Unit::Count("{key}"),
        "Keys expired by the Redis server (INFO expired_keys).", REDIS_SERVER_LABELS, NO_BUCKETS, 50 }
    /// Keys held.
    REDIS_SERVER_KEYS = { "sdk.redis.server.keys", Gauge, Unit::Count("{key}"),
        "Keys held by the Redis server over all databases (INFO keyspace).", REDIS_SERVER_LABELS, NO_BUCKETS, 50 }
    /// Key lookups that found their key.
    REDIS_SERVER_KEYSPACE_HITS = { "sdk.redis.server.keyspace.hits", Counter, Unit::Count("{lookup}"),
        "Key lookups that found the key (INFO keyspace_hits).", REDIS_SERVER_LABELS, NO_BUCKETS, 50 }
    /// Key lookups that missed.
    REDIS_SERVER_KEYSPACE_MISSES = { "sdk.redis.server.keyspace.misses", Counter, Unit::Count("{lookup}"),
        "Key lookups that did not find the key (INFO keyspace_misses).", REDIS_SERVER_LABELS, NO_BUCKETS, 50 }
    /// Server-side hit ratio.
    REDIS_SERVER_KEYSPACE_HIT_RATIO = { "sdk.redis.server.keyspace.hit_ratio", Gauge, Unit::Dimensionless,
        "Hits over lookups on the Redis server since its statistics were reset.", REDIS_SERVER_LABELS, NO_BUCKETS, 50 }
    /// Connected clients.
    REDIS_SERVER_CLIENTS_CONNECTED = { "sdk.redis.server.clients.connected", Gauge, Unit::Count("{client}"),
        "Clients connected to the Redis server (INFO connected_clients).", REDIS_SERVER_LABELS, NO_BUCKETS, 50 }
    /// Clients blocked in a blocking command.
    REDIS_SERVER_CLIENTS_BLOCKED = { "sdk.redis.server.clients.blocked", Gauge, Unit::Count("{client}"),
        "Clients blocked in a blocking command (INFO blocked_clients).", REDIS_SERVER_LABELS, NO_BUCKETS, 50 }
    /// Commands per second.
    REDIS_SERVER_OPS_PER_SECOND = { "sdk.redis.server.ops_per_second", Gauge, Unit::Count("{operation}/s"),
        "Commands the Redis server processes per second (INFO instantaneous_ops_per_sec).", REDIS_SERVER_LABELS, NO_BUCKETS, 50 }
    /// Replication role (1 for the current role).
    REDIS_SERVER_ROLE = { "sdk.redis.server.role", Gauge, Unit::Dimensionless,
        "Replication role of the Redis server: 1 on the series of its current role (INFO role).", &[server::ADDRESS, server::PORT, sdk::REDIS_ROLE], NO_BUCKETS, 50 }

    /// Cache invalidations by kind.
    CACHE_INVALIDATIONS = { "sdk.cache.invalidations", Counter, Unit::Count("{invalidation}"),
        "Cache invalidations (by key, tag or prefix).", &[cache::KEY_PREFIX, sdk::CACHE_INVALIDATION], NO_BUCKETS, 200 }
    /// Keys removed by invalidations.
    CACHE_INVALIDATED_KEYS = { "sdk.cache.invalidated_keys", Counter, Unit::Count("{key}"),
        "Cache keys removed by invalidations.", &[cache::KEY_PREFIX, sdk::CACHE_INVALIDATION], NO_BUCKETS, 200 }
    /// Stale values served while a loader refreshes them.
    CACHE_STALE_SERVES = { "sdk.cache.stale_serves", Counter, Unit::Count("{request}"),
        "Stale cached values served while one loader refreshes them (stale-while-revalidate).", &[cache::KEY_PREFIX], NO_BUCKETS, 100 }
    /// Bytes saved by compressing cached values.
    CACHE_COMPRESSION_SAVED = { "sdk.cache.compression.saved", Counter, Unit::Bytes,
        "Bytes saved by compressing large cached values.", &[cache::KEY_PREFIX], NO_BUCKETS, 100 }
    /// Cached values that could not be read and were treated as misses.
    CACHE_UNREADABLE = { "sdk.cache.unreadable", Counter, Unit::Count("{value}"),
        "Cached values that could not be read (unknown format, corrupt or over the size limit) and were treated as misses.", &[cache::KEY_PREFIX, error::TYPE], NO_BUCKETS, 100 }

    /// CPU time of the process.
    PROCESS_CPU = { "process.cpu.seconds", Counter, Unit::Seconds,
        "Total user and system CPU time spent by the process, in whole seconds.", NO_LABELS, NO_BUCKETS, 1 }
    /// Resident memory.
    PROCESS_RESIDENT_MEMORY = { "process.resident_memory", Gauge, Unit::Bytes,
        "Resident memory size of the process.", NO_LABELS, NO_BUCKETS, 1 }
    /// Virtual memory.
    PROCESS_VIRTUAL_MEMORY = { "process.virtual_memory", Gauge, Unit::Bytes,
        "Virtual memory size of the process.", NO_LABELS, NO_BUCKETS, 1 }
    /// Open file descriptors.
    PROCESS_OPEN_FDS = { "process.open_fds", Gauge, Unit::Count("{file_descriptor}"),
        "Number of open file descriptors of the process.", NO_LABELS, NO_BUCKETS, 1 }
    /// File-descriptor limit.
    PROCESS_MAX_FDS = { "process.max_fds", Gauge, Unit::Count("{file_descriptor}"),
        "Maximum number of open file descriptors of the process.", NO_LABELS, NO_BUCKETS, 1 }
    /// Threads.
    PROCESS_THREADS = { "process.threads", Gauge, Unit::Count("{thread}"),
        "Number of OS threads of the process.", NO_LABELS, NO_BUCKETS, 1 }
    /// Start time.
    PROCESS_START_TIME = { "process.start_time", Gauge, Unit::Seconds,
        "Start time of the process since the Unix epoch.", NO_LABELS, NO_BUCKETS, 1 }
    /// Tokio worker threads.
    TOKIO_WORKERS = { "sdk.runtime.tokio.workers", Gauge, Unit::Count("{thread}"),
        "Worker threads of the Tokio runtime.", NO_LABELS, NO_BUCKETS, 1 }
    /// Share of worker time spent busy.
    TOKIO_BUSY_RATIO = { "sdk.runtime.tokio.busy_ratio", Gauge, Unit::Dimensionless,
        "Share of the Tokio workers' time spent running tasks over the last interval (0 to 1).", NO_LABELS, NO_BUCKETS, 1 }
    /// Tasks in the global queue.
    TOKIO_GLOBAL_QUEUE_DEPTH = { "sdk.runtime.tokio.global_queue_depth", Gauge, Unit::Count("{task}"),
        "Tasks waiting in the Tokio runtime's global queue.", NO_LABELS, NO_BUCKETS, 1 }
    /// Live tasks.
    TOKIO_ALIVE_TASKS = { "sdk.runtime.tokio.alive_tasks", Gauge, Unit::Count("{task}"),
        "Tasks alive in the Tokio runtime.", NO_LABELS, NO_BUCKETS, 1 }
    /// Blocking-pool threads.
    TOKIO_BLOCKING_THREADS = { "sdk.runtime.tokio.blocking_threads", Gauge, Unit::Count("{thread}"),
        "Threads of the Tokio runtime's blocking pool (tokio's count with --cfg tokio_unstable; on stable Linux, threads with Tokio's default name less the workers).", NO_LABELS, NO_BUCKETS, 1 }

    /// Whether the last run of a probe succeeded.
    PROBE_SUCCESS = { "probe.success", Gauge, Unit::Dimensionless,
        "Whether the last run of a synthetic probe succeeded (1) or failed (0).", &[sdk::PROBE], NO_BUCKETS, 100 }
    /// Duration of the last run of a probe.
    PROBE_DURATION = { "probe.duration", Gauge, Unit::Seconds,
        "How long the last run of a synthetic probe took.", &[sdk::PROBE], NO_BUCKETS, 100 }
    /// Phases of the last run of an HTTP probe.
    PROBE_HTTP_DURATION = { "probe.http.duration", Gauge, Unit::Seconds,
        "Duration of each phase of the last run of an HTTP probe.", &[sdk::PROBE, sdk::PROBE_PHASE], NO_BUCKETS, 500 }
    /// Status code of the last run of an HTTP probe.
    PROBE_HTTP_STATUS_CODE = { "probe.http.status_code", Gauge, Unit::Dimensionless,
        "Response status code of the last run of an HTTP probe (0 without a response).", &[sdk::PROBE], NO_BUCKETS, 100 }

    /// Duration of one collection by a periodic collector.
    COLLECTOR_DURATION = { "sdk.collector.duration", Histogram, Unit::Seconds,
        "Duration of one run of a periodic collector (database and Redis insights, process, probes), by outcome.", &[sdk::COLLECTOR, sdk::RESULT], DURATION_BUCKETS, 50 }
    /// On-demand CPU profiles by outcome.
    PROFILES = { "sdk.profiles", Counter, Unit::Count("{profile}"),
        "On-demand CPU profile requests, by outcome (ok, busy, unauthorized, invalid, error).", &[sdk::RESULT], NO_BUCKETS, 10 }
}

/// The catalogue as a Markdown table (the source of `docs/metrics.md`).
pub fn markdown() -> String {
    let mut out = String::from(
        "| OpenTelemetry name | Prometheus name | kind | unit | labels | buckets | description |\n|---|---|---|---|---|---|---|\n",
    );
    for def in ALL {
        let labels: Vec<String> = def.labels.iter().map(|l| format!("`{l}`")).collect();
        let buckets: Vec<String> = def.buckets.iter().map(f64::to_string).collect();
        out.push_str(&format!(
            "| `{}` | `{}` | {} | `{}` | {} | {} | {} |\n",
            def.name,
            def.prometheus_name(),
            def.kind.as_str(),
            def.unit.ucum(),
            labels.join(" "),
            if buckets.is_empty() {
                String::new()
            } else {
                buckets.join(", ")
            },
            def.description
        ));
    }
    out
}

/// Groups of catalogue metrics by name prefix, each shown as its own table in the README
/// (between `<!-- catalogue:NAME -->` and `<!-- /catalogue:NAME -->`; see
/// [`fill_markdown_groups`]).
pub const DOC_GROUPS: &[(&str, &[&str])] = &[
    ("slow-query-plans", &["sdk.db.client.plan"]),
    (
        "database-insights",
        &[
            "sdk.db.statement.",
            "sdk.db.table.",
            "sdk.db.index.",
            "sdk.db.insights.",
        ],
    ),
    ("redis-server", &["sdk.redis.server."]),
    (
        "cache-invalidation",
        &[
            "sdk.cache.invalidat",
            "sdk.cache.stale",
            "sdk.cache.compression",
            "sdk.cache.unreadable",
        ],
    ),
    ("process-runtime", &["process.", "sdk.runtime."]),
    ("probes", &["probe."]),
    ("collectors-profiles", &["sdk.collector.", "sdk.profiles"]),
];

/// The metrics of one of the [`DOC_GROUPS`] as a Markdown table (Prometheus name, kind,
/// labels, description); `None` for an unknown group.
pub fn markdown_group(group: &str) -> Option<String> {
    let (_, prefixes) = DOC_GROUPS.iter().find(|(name, _)| *name == group)?;
    let mut out =
        String::from("| Prometheus name | kind | labels | description |\n|---|---|---|---|\n");
    for def in ALL
        .iter()
        .filter(|def| prefixes.iter().any(|p| def.name.starts_with(p)))
    {
        let labels: Vec<String> = def
            .labels
            .iter()
            .map(|l| format!("`{}`", l.replace('.', "_")))
            .collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            def.prometheus_name(),
            def.kind.as_str(),
            labels.join(" "),
            def.description
        ));
    }
    Some(out)
}

/// `text` with the block between each `<!-- catalogue:NAME -->` and
/// `<!-- /catalogue:NAME -->` replaced by [`markdown_group`]`(NAME)` (unknown names and
/// unclosed blocks are left as they are).
pub fn fill_markdown_groups(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<!-- catalogue:") {
        let after_open = &rest[start + "<!-- catalogue:".len()..];
        let Some(name_end) = after_open.find(" -->") else {
            break;
        };
        let name = &after_open[..name_end];
        let open_len = "<!-- catalogue:".len() + name_end + " -->".len();
        let close = format!("<!-- /catalogue:{name} -->");
        let body_start = start + open_len;
        let (Some(table), Some(close_at)) = (markdown_group(name), rest[body_start..].find(&close))
        else {
            out.push_str(&rest[..body_start]);
            rest = &rest[body_start..];
            continue;
        };
        out.push_str(&rest[..body_start]);
        out.push('\n');
        out.push_str(&table);
        out.push_str(&close);
        rest = &rest[body_start + close_at + close.len()..];
    }
    out.push_str(rest);
    out
}

/// Looks a metric (the SDK's or a registered application metric) up by its OpenTelemetry
/// name.
pub fn find(name: &str) -> Option<&'static MetricDef> {
    ALL.iter()
        .copied()
        .find(|def| def.name == name)
        .or_else(|| {
            registered()
                .into_iter()
                .map(|r| r.def)
                .find(|def| def.name == name)
        })
}

/// Looks a metric (the SDK's or a registered application metric) up by its Prometheus
/// name.
pub fn find_prometheus(name: &str) -> Option<&'static MetricDef> {
    ALL.iter()
        .copied()
        .find(|def| def.prometheus_name() == name)
        .or_else(|| {
            registered()
                .into_iter()
                .find(|r| r.prometheus == name)
                .map(|r| r.def)
        })
}

#[cfg(feature = "metrics")]
mod record {
    use super::{MetricDef, MetricKind, Unit};
    use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Level, Metadata};

    /// A stable hash of label pairs, for the cardinality guard.
    fn label_hash(labels: &[Label]) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for label in labels {
            label.key().hash(&mut hasher);
            label.value().hash(&mut hasher);
        }
        hasher.finish()
    }

    static METADATA: Metadata<'static> =
        Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

    impl MetricDef {
        fn key(&'static self, labels: &[(&'static str, metrics::SharedString)]) -> Key {
            let mut kept = Vec::with_capacity(labels.len());
            kept.extend(
                labels
                    .iter()
                    .filter(|(key, _)| self.allows_label(key))
                    .map(|(key, value)| Label::new(*key, value.clone())),
            );
            let guarded = !kept.is_empty() && !std::ptr::eq(self, &super::METRIC_OVERFLOW);
            if guarded && !self.seen.admit(label_hash(&kept), self.max_series) {
                super::METRIC_OVERFLOW
                    .counter(&[(
                        crate::semconv::sdk::METRIC,
                        metrics::SharedString::const_str(self.name),
                    )])
                    .increment(1);
                kept = vec![Label::new(super::OVERFLOW_LABEL, "true")];
            }
            Key::from_parts(KeyName::from_const_str(self.name), kept)
        }

        /// A histogram handle for these label values. Labels outside [`MetricDef::labels`]
        /// are dropped (instrumentation never fails the caller). Returns a no-op handle when
        /// the definition is not a histogram.
        pub fn histogram(
            &'static self,
            labels: &[(&'static str, metrics::SharedString)],
        ) -> Histogram {
            if self.kind != MetricKind::Histogram {
                return Histogram::noop();
            }
            let key = self.key(labels);
            metrics::with_recorder(|recorder| recorder.register_histogram(&key, &METADATA))
        }

        /// A counter handle (monotonic). No-op when the definition is not a counter.
        pub fn counter(&'static self, labels: &[(&'static str, metrics::SharedString)]) -> Counter {
            if self.kind != MetricKind::Counter {
                return Counter::noop();
            }
            let key = self.key(labels);
            metrics::with_recorder(|recorder| recorder.register_counter(&key, &METADATA))
        }

        /// A gauge handle, for gauges and up-down counters (`increment`/`decrement`).
        pub fn gauge(&'static self, labels: &[(&'static str, metrics::SharedString)]) -> Gauge {
            if !matches!(self.kind, MetricKind::Gauge | MetricKind::UpDownCounter) {
                return Gauge::noop();
            }
            let key = self.key(labels);
            metrics::with_recorder(|recorder| recorder.register_gauge(&key, &METADATA))
        }

        /// Registers the description and unit with the installed recorder.
        pub fn describe(&'static self) {
            let unit = match self.unit {
                Unit::Seconds => Some(metrics::Unit::Seconds),
                Unit::Bytes => Some(metrics::Unit::Bytes),
                Unit::Count(_) | Unit::Dimensionless => Some(metrics::Unit::Count),
            };
            let name = KeyName::from_const_str(self.name);
            let description = metrics::SharedString::const_str(self.description);
            metrics::with_recorder(|recorder| match self.kind {
                MetricKind::Counter => recorder.describe_counter(name, unit, description),
                MetricKind::UpDownCounter | MetricKind::Gauge => {
                    recorder.describe_gauge(name, unit, description)
                }
                MetricKind::Histogram => recorder.describe_histogram(name, unit, description),
            });
        }
    }

    /// Describes every catalogue metric, the SDK's and the registered application
    /// metrics, to the installed recorder.
    pub fn describe_all() {
        for def in super::all() {
            def.describe();
        }
    }
}

#[cfg(feature = "metrics")]
pub use record::describe_all;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_prometheus_safe() {
        let mut seen = std::collections::HashSet::new();
        for def in ALL {
            assert!(seen.insert(def.name), "duplicate {}", def.name);
            let prom = def.prometheus_name();
            assert!(
                prom.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{prom}"
            );
            assert!(!def.description.is_empty());
            assert!(
                !def.labels.is_empty() || def.max_series == 1,
                "{} has no labels but room for more than one series",
                def.name
            );
            assert!(def.max_series > 0);
        }
    }

    #[test]
    fn prometheus_rule() {
        assert_eq!(
            HTTP_SERVER_ACTIVE_REQUESTS.prometheus_name(),
            "http_server_active_requests"
        );
        assert_eq!(
            HTTP_SERVER_REQUEST_BODY_SIZE.prometheus_name(),
            "http_server_request_body_size_bytes"
        );
        assert_eq!(
            DB_CLIENT_CONNECTION_TIMEOUTS.prometheus_name(),
            "db_client_connection_timeouts_total"
        );
        assert_eq!(
            DB_CLIENT_CONNECTION_CREATE_TIME.prometheus_name(),
            "db_client_connection_create_time_seconds"
        );
        assert_eq!(
            DB_CLIENT_CONNECTION_COUNT.prometheus_name(),
            "db_client_connection_count_current"
        );
        assert_eq!(
            find_prometheus("sdk_propagation_rejected_total"),
            Some(&PROPAGATION_REJECTED)
        );
    }

    #[test]
    fn histograms_have_ascending_buckets_and_others_none() {
        for def in ALL {
            if def.kind == MetricKind::Histogram {
                assert!(!def.buckets.is_empty(), "{}", def.name);
                assert!(def.buckets.windows(2).all(|w| w[0] < w[1]), "{}", def.name);
            } else {
                assert!(def.buckets.is_empty(), "{}", def.name);
            }
        }
    }

    #[test]
    fn semconv_buckets_match_the_conventions() {
        assert_eq!(
            HTTP_SERVER_REQUEST_DURATION.buckets,
            &[
                0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0
            ]
        );
        assert_eq!(
            DB_CLIENT_OPERATION_DURATION.buckets,
            &[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0]
        );
    }
}
