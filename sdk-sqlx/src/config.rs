//! What the wrapper records and adds, from code or from the environment.

use crate::comment::CommentMode;
use crate::plan::PlanConfig;
use std::time::Duration;

/// `SDK_DB_SLOW_QUERY_MS`: queries at least this slow (milliseconds) are logged at WARN,
/// get a span event and count in `sdk.db.client.slow_queries`; `0` turns it off.
pub const SLOW_QUERY_ENV: &str = "SDK_DB_SLOW_QUERY_MS";
/// `SDK_DB_COMMENTS`: `off`, `sqlcommenter`, `service` or `full` (trace comments on the
/// statements of sampled spans). Datadog's `DD_DBM_PROPAGATION_MODE` is read when unset.
pub const COMMENTS_ENV: &str = "SDK_DB_COMMENTS";
/// `SDK_DB_SLOW_QUERY_PLANS`: `off` (the default), `on` (`EXPLAIN` the slow queries that
/// only read, off the request path) or `analyze` (also `EXPLAIN ANALYZE` those without
/// parameters, in a rolled-back read-only transaction). See [`crate::plan`].
pub const SLOW_QUERY_PLANS_ENV: &str = "SDK_DB_SLOW_QUERY_PLANS";
/// Datadog's name for the comment mode (`disabled`, `service`, `full`).
pub const DD_DBM_ENV: &str = "DD_DBM_PROPAGATION_MODE";

/// Default slow-query threshold.
pub const DEFAULT_SLOW_QUERY: Duration = Duration::from_millis(500);

/// An environment variable with a value the wrapper cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}={value:?} is invalid: expected {expected}")]
pub struct ConfigError {
    /// The variable.
    pub variable: &'static str,
    /// Its value.
    pub value: String,
    /// What is accepted.
    pub expected: &'static str,
}

/// Configuration of an [`InstrumentedPool`](crate::InstrumentedPool).
#[derive(Debug, Clone)]
pub struct SqlxConfig {
    pub(crate) slow_query: Option<Duration>,
    pub(crate) comments: CommentMode,
    pub(crate) pool_name: Option<String>,
    pub(crate) service: String,
    pub(crate) environment: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) database_service: Option<String>,
    pub(crate) plans: Option<PlanConfig>,
}

impl Default for SqlxConfig {
    fn default() -> Self {
        Self {
            slow_query: Some(DEFAULT_SLOW_QUERY),
            comments: CommentMode::Off,
            pool_name: None,
            service: "unknown_service".to_owned(),
            environment: None,
            version: None,
            database_service: None,
            plans: None,
        }
    }
}

impl SqlxConfig {
    /// Defaults: slow queries from 500 ms, no plans, no comments, the pool named after its
    /// database.
    pub fn new() -> Self {
        Self::default()
    }

    /// Defaults overridden by [`SLOW_QUERY_ENV`], [`SLOW_QUERY_PLANS_ENV`] and
    /// [`COMMENTS_ENV`] (or [`DD_DBM_ENV`]),
    /// with the service identity of `service` (for Datadog comments).
    pub fn from_env(service: &sdk_core::config::ServiceInfo) -> Result<Self, ConfigError> {
        Self::from_lookup(service, |name| std::env::var(name).ok())
    }

    /// Reads the environment as [`from_env`](Self::from_env) does, with the service identity
    /// `sdk_core::init` configured (no hand-passed state).
    pub fn from_installed() -> Result<Self, ConfigError> {
        let service = sdk_core::global::service();
        Self::from_lookup(&service, |name| std::env::var(name).ok())
    }

    /// As [`from_env`](Self::from_env), reading variables through `lookup`.
    pub fn from_lookup(
        service: &sdk_core::config::ServiceInfo,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut config = Self::new().service(service);
        if let Some(value) = lookup(SLOW_QUERY_ENV) {
            let ms: u64 = value.trim().parse().map_err(|_| ConfigError {
                variable: SLOW_QUERY_ENV,
                value: value.clone(),
                expected: "a whole number of milliseconds (0 turns it off)",
            })?;
            config.slow_query = (ms > 0).then(|| Duration::from_millis(ms));
        }
        if let Some(value) = lookup(SLOW_QUERY_PLANS_ENV) {
            config.plans = match value.trim().to_ascii_lowercase().as_str() {
                "off" | "" => None,
                "on" => Some(PlanConfig::new()),
                "analyze" => Some(PlanConfig::new().analyze(true)),
                _ => {
                    return Err(ConfigError {
                        variable: SLOW_QUERY_PLANS_ENV,
                        value,
                        expected: "off, on or analyze",
                    });
                }
            };
        }
        let (variable, value) = match lookup(COMMENTS_ENV) {
            Some(value) => (COMMENTS_ENV, Some(value)),
            None => (DD_DBM_ENV, lookup(DD_DBM_ENV)),
        };
        if let Some(value) = value {
            config.comments = CommentMode::parse(&value).ok_or(ConfigError {
                variable,
                value,
                expected: "off, sqlcommenter, service or full",
            })?;
        }
        Ok(config)
    }

    /// Queries at least this slow are reported; `None` turns it off.
    pub fn slow_query_threshold(mut self, threshold: Option<Duration>) -> Self {
        self.slow_query = threshold;
        self
    }

    /// Plans of slow queries (off by default): `PlanConfig::new()` turns them on, `None`
    /// off. Only queries at least as slow as the
    /// [threshold](Self::slow_query_threshold) are explained; see [`crate::plan`].
    pub fn slow_query_plans(mut self, plans: impl Into<Option<PlanConfig>>) -> Self {
        self.plans = plans.into();
        self
    }

    /// Trace comments on the statements of sampled spans.
    pub fn comments(mut self, mode: CommentMode) -> Self {
        self.comments = mode;
        self
    }

    /// The `db.client.connection.pool.name` label (default: the database's namespace).
    pub fn pool_name(mut self, name: impl Into<String>) -> Self {
        self.pool_name = Some(name.into());
        self
    }

    /// Service identity carried by Datadog comments.
    pub fn service(mut self, service: &sdk_core::config::ServiceInfo) -> Self {
        self.service.clone_from(&service.name);
        self.environment.clone_from(&service.environment);
        self.version.clone_from(&service.version);
        self
    }

    /// The database's own service name in Datadog (`dddbs`).
    pub fn database_service(mut self, name: impl Into<String>) -> Self {
        self.database_service = Some(name.into());
        self
    }
}
