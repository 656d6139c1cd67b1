//! [`Cache`]: cache-aside over an instrumented connection, with single-flight loads and a
//! fallback to the loader when Redis is unavailable.

use crate::connection::InstrumentedConnection;
use redis::aio::ConnectionLike;
use sdk_core::callback::{Callback, call_future};
use sdk_core::catalogue::{CACHE_FALLBACKS, CACHE_LOAD_DURATION};
use sdk_core::semconv::{cache, error};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// Loads in progress, by key; the cell's type is the caller's `Result<T, Arc<E>>`.
type Flights = Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>;

/// Cache-aside: `get_or_load(key, ttl, loader)` answers from Redis when it can, runs the
/// loader once per key however many requests miss together, stores the value (JSON) with
/// its TTL, and never caches a loader error. When Redis does not answer within the
/// timeout, requests are served by the loader and counted in `sdk.cache.fallbacks`: the
/// application keeps answering.
///
/// Hits and misses are counted by the connection (`sdk.cache.requests` for `GET`); loads
/// are timed in `sdk.cache.load.duration`.
pub struct Cache<C> {
    connection: InstrumentedConnection<C>,
    timeout: Duration,
    flights: Arc<Flights>,
}

impl<C> std::fmt::Debug for Cache<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<C: Clone> Clone for Cache<C> {
    fn clone(&self) -> Self {
        Self {
            connection: self.connection.clone(),
            timeout: self.timeout,
            flights: Arc::clone(&self.flights),
        }
    }
}

/// Removes a flight from the map when dropped, if the map still holds that flight.
struct Landing<'a> {
    flights: &'a Flights,
    key: &'a str,
    cell_addr: usize,
}

impl Drop for Landing<'_> {
    fn drop(&mut self) {
        let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
        if flights
            .get(self.key)
            .is_some_and(|c| Arc::as_ptr(c) as *const () as usize == self.cell_addr)
        {
            flights.remove(self.key);
        }
    }
}

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    Miss,
    Unavailable,
}

impl<C> Cache<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// A cache over `connection`; each Redis call gives up after `timeout`.
    pub fn new(connection: InstrumentedConnection<C>, timeout: Duration) -> Self {
        Self {
            connection,
            timeout,
            flights: Arc::default(),
        }
    }

    /// Loads in progress (keys whose loader is running).
    pub fn loads_in_progress(&self) -> usize {
        self.flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The instrumented connection the cache uses.
    pub fn connection(&self) -> &InstrumentedConnection<C> {
        &self.connection
    }

    /// The value of `key`: from Redis, else from `loader` (stored for `ttl`).
    ///
    /// Concurrent misses of one key share one loader run; its error reaches each of them
    /// and is not stored.
    ///
    /// # Panics
    ///
    /// When `loader` panics (your code, so your panic): the cache cleans up first (the
    /// load ends, nothing is stored, the key has no load in progress any more), the load is
    /// recorded in `sdk.cache.load.duration` with `error.type="panic"` and counted in
    /// `sdk.callback.panics{sdk.callback="cache_loader"}`, then the panic continues in this
    /// call, with its payload, as it would without the cache. It is not turned into an
    /// `Err`: the error type is the loader's own `E`, which cannot hold it. A request that
    /// was waiting on that load is not failed by it: it runs its own loader. The cache stays
    /// usable, and the next miss of the key loads again.
    pub async fn get_or_load<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        loader: F,
    ) -> Result<T, Arc<E>>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let prefix = self.connection.config().prefix_of(key.as_bytes());
        let lookup = match self.get(key).await {
            Ok(Some(bytes)) => match serde_json::from_slice::<T>(&bytes) {
                Ok(value) => return Ok(value),
                Err(err) => {
                    // serde_json's message quotes the value: only its category is logged.
                    let category = format!("{:?}", err.classify());
                    tracing::debug!(target: "sdk_redis", category = %category, "cached value unreadable; reloading");
                    Lookup::Miss
                }
            },
            Ok(None) => Lookup::Miss,
            Err(()) => Lookup::Unavailable,
        };
        if lookup == Lookup::Unavailable {
            let labels: Vec<(&'static str, metrics::SharedString)> = prefix
                .iter()
                .map(|p| {
                    (
                        cache::KEY_PREFIX,
                        metrics::SharedString::from(Arc::clone(p)),
                    )
                })
                .collect();
            CACHE_FALLBACKS.counter(&labels).increment(1);
        }

        let cell = self.flight::<T, E>(key);
        let led = AtomicBool::new(false);
        let cell_addr = Arc::as_ptr(&cell) as *const () as usize;
        let result = cell
            .get_or_init(|| async {
                // Ends the flight when the load ends, also when the leading request is
                // dropped mid-load (then the next miss starts a new flight).
                let _landing = Landing {
                    flights: &self.flights,
                    key,
                    cell_addr,
                };
                led.store(true, Ordering::Relaxed);
                let started = Instant::now();
                let loaded = call_future(Callback::CacheLoader, async { loader().await }).await;
                let mut labels: Vec<(&'static str, metrics::SharedString)> = Vec::new();
                if let Some(prefix) = &prefix {
                    labels.push((
                        cache::KEY_PREFIX,
                        metrics::SharedString::from(Arc::clone(prefix)),
                    ));
                }
                let failure = match &loaded {
                    Ok(Ok(_)) => None,
                    Ok(Err(_)) => Some("loader"),
                    Err(_) => Some("panic"),
                };
                if let Some(failure) = failure {
                    labels.push((error::TYPE, metrics::SharedString::const_str(failure)));
                }
                CACHE_LOAD_DURATION
                    .histogram(&labels)
                    .record(started.elapsed().as_secs_f64());
                match loaded {
                    Ok(loaded) => loaded.map_err(Arc::new),
                    // Unwinding drops `_landing` (the flight ends) and the cell's permit
                    // (the cell stays empty for whoever waits on it).
                    Err(panic) => panic.resume(),
                }
            })
            .await
            .clone();
        if led.load(Ordering::Relaxed)
            && lookup == Lookup::Miss
            && let Ok(value) = &result
        {
            self.set(key, value, ttl).await;
        }
        result
    }

    /// The cell of the load in progress for `key` (a new one if there is none, or if the
    /// one in progress has another value type).
    fn flight<T, E>(&self, key: &str) -> Arc<OnceCell<Result<T, Arc<E>>>>
    where
        T: Send + Sync + 'static,
        E: Send + Sync + 'static,
    {
        let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = flights.get(key)
            && let Ok(cell) = Arc::clone(existing).downcast::<OnceCell<Result<T, Arc<E>>>>()
        {
            return cell;
        }
        let cell = Arc::new(OnceCell::new());
        flights.insert(
            key.to_owned(),
            Arc::clone(&cell) as Arc<dyn Any + Send + Sync>,
        );
        cell
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ()> {
        let mut connection = self.connection.clone();
        let mut command = redis::cmd("GET");
        command.arg(key);
        let get = command.query_async::<Option<Vec<u8>>>(&mut connection);
        match tokio::time::timeout(self.timeout, get).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => {
                tracing::debug!(target: "sdk_redis", error = %crate::run::unquoted(err.to_string()), "cache unavailable");
                Err(())
            }
            Err(_) => Err(()),
        }
    }

    async fn set<T: Serialize>(&self, key: &str, value: &T, ttl: Duration) {
        let Ok(json) = serde_json::to_vec(value) else {
            return;
        };
        let mut connection = self.connection.clone();
        let mut set = redis::cmd("SET");
        set.arg(key).arg(json);
        if !ttl.is_zero() {
            set.arg("PX")
                .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        }
        let stored = set.query_async::<()>(&mut connection);
        if let Ok(Err(err)) = tokio::time::timeout(self.timeout, stored).await {
            tracing::debug!(target: "sdk_redis", error = %crate::run::unquoted(err.to_string()), "cache store failed");
        }
    }
}
