//! The configuration in force, for the pieces that are built after setup.
//!
//! [`crate::init`] (and [`builder`](crate::builder)) publish the
//! [`Config`] they installed here; the server and client layers, the sqlx and redis
//! wrappers read it when they are constructed, so that a service is wired without handing
//! the propagator or the service name around — as sentry-tower reads its hub. Before setup
//! (or without it) the configuration is read from the environment once; an invalid variable
//! there falls back to the defaults and is reported once on stderr, since nothing could
//! have stopped on it.

use crate::config::{Config, ServiceInfo};
use crate::propagation::Propagator;
use std::sync::{Arc, OnceLock, RwLock};

static INSTALLED: RwLock<Option<Arc<Config>>> = RwLock::new(None);
static FROM_ENV: OnceLock<Option<Arc<Config>>> = OnceLock::new();

/// Publishes `config` as the configuration in force (setup does this).
pub fn set_config(config: Config) {
    if let Ok(mut installed) = INSTALLED.write() {
        *installed = Some(Arc::new(config));
    }
}

/// The configuration in force: the one setup installed, else the environment's (else the
/// defaults, when a variable is invalid).
pub fn config() -> Option<Arc<Config>> {
    if let Some(config) = INSTALLED.read().ok().and_then(|c| c.clone()) {
        return Some(config);
    }
    FROM_ENV
        .get_or_init(|| {
            let config = Config::from_env().or_else(|err| {
                eprintln!("sdk-core: {err}; using the default configuration");
                let none: [(&str, &str); 0] = [];
                Config::builder().build_from_vars(none)
            });
            config.ok().map(Arc::new)
        })
        .clone()
}

/// Whether setup has published a configuration.
pub fn is_installed() -> bool {
    INSTALLED.read().is_ok_and(|c| c.is_some())
}

/// The propagator in force (`OTEL_PROPAGATORS` / `DD_TRACE_PROPAGATION_STYLE`).
pub fn propagator() -> Propagator {
    config().map(|c| c.propagator.clone()).unwrap_or_default()
}

/// The service identity in force (`OTEL_SERVICE_NAME`, `DD_SERVICE`, …).
pub fn service() -> ServiceInfo {
    config().map(|c| c.service.clone()).unwrap_or_default()
}
