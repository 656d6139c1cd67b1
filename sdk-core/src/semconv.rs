//! Attribute keys and span-name rules from the OpenTelemetry semantic conventions.
//!
//! Every crate of the SDK names span attributes, metric labels and log fields with these
//! constants, so a key is spelled once. The groups follow the conventions' namespaces; the
//! functions at the bottom implement the span-name rules that the conventions prescribe.

/// HTTP attributes (server and client).
pub mod http {
    /// HTTP request method, normalized: unknown methods become `_OTHER`.
    pub const REQUEST_METHOD: &str = "http.request.method";
    /// The original method when [`REQUEST_METHOD`] was normalized to `_OTHER`.
    pub const REQUEST_METHOD_ORIGINAL: &str = "http.request.method_original";
    /// The matched route template, never the raw path (`/users/{id}`).
    pub const ROUTE: &str = "http.route";
    /// HTTP response status code.
    pub const RESPONSE_STATUS_CODE: &str = "http.response.status_code";
    /// Request body size in bytes.
    pub const REQUEST_BODY_SIZE: &str = "http.request.body.size";
    /// Response body size in bytes.
    pub const RESPONSE_BODY_SIZE: &str = "http.response.body.size";
    /// Prefix of an allow-listed request header attribute (`http.request.header.<name>`).
    pub const REQUEST_HEADER_PREFIX: &str = "http.request.header.";
    /// Prefix of an allow-listed response header attribute (`http.response.header.<name>`).
    pub const RESPONSE_HEADER_PREFIX: &str = "http.response.header.";
    /// Number of the request's resend attempts (client).
    pub const REQUEST_RESEND_COUNT: &str = "http.request.resend_count";
}

/// URL attributes.
pub mod url {
    /// Path of the request URL.
    pub const PATH: &str = "url.path";
    /// Query string (opt-in: it may carry secrets).
    pub const QUERY: &str = "url.query";
    /// URL scheme (`http`, `https`).
    pub const SCHEME: &str = "url.scheme";
    /// The absolute URL of a client request, query removed unless enabled.
    pub const FULL: &str = "url.full";
    /// The URL's template (a browser page's route template).
    pub const TEMPLATE: &str = "url.template";
}

/// Server attributes: for a server span they come from configuration, never from `Host`.
pub mod server {
    /// Logical server host name.
    pub const ADDRESS: &str = "server.address";
    /// Server port.
    pub const PORT: &str = "server.port";
}

/// Client attributes.
pub mod client {
    /// Address of the client that sent the request.
    pub const ADDRESS: &str = "client.address";
}

/// Network attributes.
pub mod network {
    /// Protocol version (`1.1`, `2`).
    pub const PROTOCOL_VERSION: &str = "network.protocol.version";
}

/// User agent attributes.
pub mod user_agent {
    /// The `User-Agent` header value.
    pub const ORIGINAL: &str = "user_agent.original";
}

/// Error attributes.
pub mod error {
    /// Class of error: a status code, an exception type or `_OTHER`.
    pub const TYPE: &str = "error.type";
    /// Human-readable error message (Datadog: `error.message`).
    pub const MESSAGE: &str = "error.message";
    /// Stack or location of the error (Datadog: `error.stack`).
    pub const STACK: &str = "error.stack";
    /// Fallback value of [`TYPE`] when no better class is known.
    pub const OTHER: &str = "_OTHER";
    /// Value of [`TYPE`] for an operation dropped before it finished.
    pub const CANCELLED: &str = "cancelled";
}

/// Identity attributes set by the application through the SDK's hooks.
pub mod user {
    /// Opaque user identifier.
    pub const ID: &str = "user.id";
}

/// Attributes of the SDK's own request correlation.
pub mod request {
    /// Request identifier (`x-request-id`), also a JSON log field.
    pub const ID: &str = "request_id";
    /// Header carrying the request identifier.
    pub const HEADER: &str = "x-request-id";
}

/// Database client attributes (SQL databases and Redis).
pub mod db {
    /// Database management system (see [`system`] for values).
    pub const SYSTEM_NAME: &str = "db.system.name";
    /// Database name; PostgreSQL: `{database}|{schema}`; Redis: the db index.
    pub const NAMESPACE: &str = "db.namespace";
    /// Operation (`SELECT`, `GET`, `PIPELINE`).
    pub const OPERATION_NAME: &str = "db.operation.name";
    /// Table or collection.
    pub const COLLECTION_NAME: &str = "db.collection.name";
    /// Low-cardinality summary of the query; also the span name.
    pub const QUERY_SUMMARY: &str = "db.query.summary";
    /// Sanitized query text.
    pub const QUERY_TEXT: &str = "db.query.text";
    /// Status code from the database (SQLSTATE, Redis error prefix).
    pub const RESPONSE_STATUS_CODE: &str = "db.response.status_code";
    /// Number of rows returned.
    pub const RESPONSE_RETURNED_ROWS: &str = "db.response.returned_rows";
    /// Number of rows a statement changed (not in the conventions yet; sdk extension).
    pub const RESPONSE_AFFECTED_ROWS: &str = "db.response.affected_rows";
    /// Number of operations in a batch (pipeline).
    pub const OPERATION_BATCH_SIZE: &str = "db.operation.batch.size";
    /// Connection pool name.
    pub const CLIENT_CONNECTION_POOL_NAME: &str = "db.client.connection.pool.name";
    /// Connection state in a pool (`idle`, `used`).
    pub const CLIENT_CONNECTION_STATE: &str = "db.client.connection.state";
    /// Legacy system key read by Datadog's database monitoring.
    pub const LEGACY_SYSTEM: &str = "db.system";
    /// Legacy statement key read by Datadog's database monitoring.
    pub const LEGACY_STATEMENT: &str = "db.statement";

    /// Values of [`SYSTEM_NAME`].
    pub mod system {
        /// PostgreSQL.
        pub const POSTGRESQL: &str = "postgresql";
        /// MySQL.
        pub const MYSQL: &str = "mysql";
        /// SQLite.
        pub const SQLITE: &str = "sqlite";
        /// Redis.
        pub const REDIS: &str = "redis";
    }
}

/// Cache attributes of the SDK (hit ratio of read commands and the cache-aside helper).
pub mod cache {
    /// `hit` or `miss`.
    pub const RESULT: &str = "cache.result";
    /// A configured key prefix, never a raw key.
    pub const KEY_PREFIX: &str = "cache.key_prefix";
    /// Value of [`RESULT`] for a hit.
    pub const HIT: &str = "hit";
    /// Value of [`RESULT`] for a miss.
    pub const MISS: &str = "miss";
}

/// Browser real-user-monitoring attributes.
pub mod browser {
    /// Name of the log event that carries one web vital.
    pub const WEB_VITAL_EVENT: &str = "browser.web_vital";
    /// Web vital name (`LCP`, `INP`, `CLS`, `FCP`, `TTFB`, `FID`).
    pub const WEB_VITAL_NAME: &str = "browser.web_vital.name";
    /// Rating: `good`, `needs-improvement`, `poor`.
    pub const WEB_VITAL_RATING: &str = "browser.web_vital.rating";
    /// Navigation type of the page load the value belongs to.
    pub const WEB_VITAL_NAVIGATION_TYPE: &str = "browser.web_vital.navigation_type";
    /// Web vital value.
    pub const WEB_VITAL_VALUE: &str = "browser.web_vital.value";
    /// Change since the last report of the same metric id.
    pub const WEB_VITAL_DELTA: &str = "browser.web_vital.delta";
    /// Unique id of one metric instance on one page view.
    pub const WEB_VITAL_ID: &str = "browser.web_vital.id";
    /// A part of a vital's time: LCP's sub-parts (`time_to_first_byte`,
    /// `resource_load_delay`, `resource_load_duration`, `element_render_delay`) or INP's
    /// phases (`input_delay`, `processing_duration`, `presentation_delay`).
    pub const WEB_VITAL_PART: &str = "browser.web_vital.part";
}

/// Attributes of the SDK's own health (self-metrics).
pub mod sdk {
    /// Propagation format that rejected a header.
    pub const PROPAGATOR: &str = "sdk.propagator";
    /// Telemetry signal (`traces`, `metrics`, `logs`).
    pub const SIGNAL: &str = "sdk.signal";
    /// Exporter name (`otlp`, `datadog`, `prometheus`, `console`).
    pub const EXPORTER: &str = "sdk.exporter";
    /// Why an input was rejected.
    pub const REASON: &str = "sdk.reason";
    /// Catalogue name of a metric.
    pub const METRIC: &str = "sdk.metric";
    /// Name of a health check.
    pub const CHECK: &str = "sdk.health.check";
    /// Outcome of a health check (`ok`, `fail`, `timeout`).
    pub const CHECK_STATUS: &str = "sdk.health.status";
    /// What kind of operation (`http.server`, `http.client`, `db.sql`, `db.redis`).
    pub const OPERATION: &str = "sdk.operation";
    /// Which kind of user callback (`classifier`, `health_check`, `cache_loader`,
    /// `exporter`, `authorizer`).
    pub const CALLBACK: &str = "sdk.callback";
    /// Outcome of an SDK task (`explained`, `rate_limited`, `write`, `timeout`, `error`,
    /// `ok`, `busy`, `unauthorized`).
    pub const RESULT: &str = "sdk.result";
    /// Name of a periodic collector (`postgresql`, `redis`, `process`, `tokio`, `probe`).
    pub const COLLECTOR: &str = "sdk.collector";
    /// Kind of an insight finding (`seq_scan_large_table`, `unused_index`,
    /// `seq_scan_heavy_table`, `row_estimate_off`).
    pub const FINDING: &str = "sdk.finding";
    /// Name of a synthetic probe.
    pub const PROBE: &str = "sdk.probe";
    /// Phase of an HTTP probe (`resolve`, `connect`, `tls`, `processing`, `transfer`), as
    /// Prometheus' blackbox exporter names them.
    pub const PROBE_PHASE: &str = "sdk.probe.phase";
    /// A database's own id of a normalized statement (PostgreSQL's `queryid`).
    pub const DB_QUERY_ID: &str = "sdk.db.query_id";
    /// Name of a database index.
    pub const DB_INDEX: &str = "sdk.db.index";
    /// How a table was read (`seq`, `index`).
    pub const DB_SCAN: &str = "sdk.db.scan";
    /// Replication role of a Redis server (`master`, `replica`).
    pub const REDIS_ROLE: &str = "sdk.redis.role";
    /// How cached entries were invalidated (`key`, `tag`, `prefix`).
    pub const CACHE_INVALIDATION: &str = "sdk.cache.invalidation";
}

/// RPC attributes.
pub mod rpc {
    /// Numeric gRPC status code of the call.
    pub const GRPC_STATUS_CODE: &str = "rpc.grpc.status_code";
}

/// Resource attributes.
pub mod resource {
    /// Logical service name.
    pub const SERVICE_NAME: &str = "service.name";
    /// Service version.
    pub const SERVICE_VERSION: &str = "service.version";
    /// Deployment environment.
    pub const DEPLOYMENT_ENVIRONMENT_NAME: &str = "deployment.environment.name";
    /// Older key of the deployment environment, still read.
    pub const DEPLOYMENT_ENVIRONMENT_LEGACY: &str = "deployment.environment";
}

/// The HTTP methods the conventions know; anything else is reported as `_OTHER`.
pub const KNOWN_METHODS: [&str; 9] = [
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE",
];

/// Normalizes an HTTP method to the conventions' closed set.
///
/// Returns the canonical static string for a known method (case-sensitive, as the
/// conventions require) or `_OTHER`, so the result is always safe as a metric label.
///
/// ```
/// use sdk_core::semconv::normalize_method;
/// assert_eq!(normalize_method("GET"), "GET");
/// assert_eq!(normalize_method("get"), "_OTHER");
/// assert_eq!(normalize_method("BREW"), "_OTHER");
/// ```
pub fn normalize_method(method: &str) -> &'static str {
    KNOWN_METHODS
        .iter()
        .find(|known| **known == method)
        .copied()
        .unwrap_or(error::OTHER)
}

/// Span name of an HTTP server or client span: `{method} {route}`, or `{method}` alone.
///
/// `_OTHER` becomes `HTTP` as the conventions ask.
///
/// ```
/// use sdk_core::semconv::http_span_name;
/// assert_eq!(http_span_name("GET", Some("/users/{id}")), "GET /users/{id}");
/// assert_eq!(http_span_name("_OTHER", None), "HTTP");
/// ```
pub fn http_span_name(normalized_method: &str, route: Option<&str>) -> String {
    let method = if normalized_method == error::OTHER {
        "HTTP"
    } else {
        normalized_method
    };
    match route {
        Some(route) if !route.is_empty() => {
            let mut name = String::with_capacity(method.len() + 1 + route.len());
            name.push_str(method);
            name.push(' ');
            name.push_str(route);
            name
        }
        _ => method.to_owned(),
    }
}

/// Span name of a database span: the query summary when there is one, else
/// `{operation} {target}`, else the operation, else the system name.
///
/// ```
/// use sdk_core::semconv::db_span_name;
/// assert_eq!(db_span_name(Some("SELECT users"), None, None, "postgresql"), "SELECT users");
/// assert_eq!(db_span_name(None, Some("GET"), None, "redis"), "GET");
/// assert_eq!(db_span_name(None, Some("SELECT"), Some("users"), "sqlite"), "SELECT users");
/// assert_eq!(db_span_name(None, None, None, "redis"), "redis");
/// ```
pub fn db_span_name(
    summary: Option<&str>,
    operation: Option<&str>,
    target: Option<&str>,
    system: &str,
) -> String {
    match (summary, operation, target) {
        (Some(summary), _, _) if !summary.is_empty() => summary.to_owned(),
        (_, Some(op), Some(target)) if !op.is_empty() && !target.is_empty() => {
            format!("{op} {target}")
        }
        (_, Some(op), _) if !op.is_empty() => op.to_owned(),
        _ => system.to_owned(),
    }
}
