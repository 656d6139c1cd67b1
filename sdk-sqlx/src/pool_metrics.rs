//! Pool metric handles and the bookkeeping of the connections the wrapper hands out
//! (in use, idle, use time), shared by the pool, its connections and its transactions.

use crate::database::InstrumentedDatabase;
use sdk_core::catalogue::{
    DB_CLIENT_CONNECTION_COUNT, DB_CLIENT_CONNECTION_IDLE_MIN, DB_CLIENT_CONNECTION_MAX,
    DB_CLIENT_CONNECTION_PENDING_REQUESTS, DB_CLIENT_CONNECTION_TIMEOUTS,
    DB_CLIENT_CONNECTION_USE_TIME, DB_CLIENT_CONNECTION_WAIT_TIME,
};
use sdk_core::semconv::db;
use sqlx::Pool;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

/// Pool metric handles, registered once.
pub(crate) struct PoolMetrics {
    idle: metrics::Gauge,
    used: metrics::Gauge,
    pub(crate) pending: metrics::Gauge,
    pub(crate) timeouts: metrics::Counter,
    pub(crate) wait_time: metrics::Histogram,
    pub(crate) use_time: metrics::Histogram,
    /// Connections handed out by this wrapper and not yet returned (sqlx returns a
    /// connection to the pool asynchronously, so the pool's own idle count lags).
    pub(crate) in_use: AtomicU32,
}

impl PoolMetrics {
    /// Registers the handles of the pool labelled `pool_name` and sets its max and min-idle
    /// gauges from the pool's options.
    pub(crate) fn register<DB: InstrumentedDatabase>(
        pool: &Pool<DB>,
        pool_name: &Arc<str>,
    ) -> Self {
        let pool_label = || {
            [(
                db::CLIENT_CONNECTION_POOL_NAME,
                metrics::SharedString::from(Arc::clone(pool_name)),
            )]
        };
        let state = |state: &'static str| {
            DB_CLIENT_CONNECTION_COUNT.gauge(&[
                (
                    db::CLIENT_CONNECTION_POOL_NAME,
                    metrics::SharedString::from(Arc::clone(pool_name)),
                ),
                (
                    db::CLIENT_CONNECTION_STATE,
                    metrics::SharedString::const_str(state),
                ),
            ])
        };
        let options = pool.options();
        DB_CLIENT_CONNECTION_MAX
            .gauge(&pool_label())
            .set(f64::from(options.get_max_connections()));
        DB_CLIENT_CONNECTION_IDLE_MIN
            .gauge(&pool_label())
            .set(f64::from(options.get_min_connections()));
        PoolMetrics {
            idle: state("idle"),
            used: state("used"),
            pending: DB_CLIENT_CONNECTION_PENDING_REQUESTS.gauge(&pool_label()),
            timeouts: DB_CLIENT_CONNECTION_TIMEOUTS.counter(&pool_label()),
            wait_time: DB_CLIENT_CONNECTION_WAIT_TIME.histogram(&pool_label()),
            use_time: DB_CLIENT_CONNECTION_USE_TIME.histogram(&pool_label()),
            in_use: AtomicU32::new(0),
        }
    }
}

/// The pool connection a transaction holds, for its use time.
pub(crate) struct PoolUse<DB: InstrumentedDatabase> {
    pub(crate) acquired: Instant,
    pub(crate) pool: Pool<DB>,
    pub(crate) metrics: Arc<PoolMetrics>,
}

pub(crate) fn record_state<DB: InstrumentedDatabase>(pool: &Pool<DB>, metrics: &PoolMetrics) {
    let used = metrics.in_use.load(Ordering::Relaxed);
    metrics
        .idle
        .set(f64::from(pool.size().saturating_sub(used)));
    metrics.used.set(f64::from(used));
}

/// A connection handed out by the wrapper went back to the pool.
pub(crate) fn released<DB: InstrumentedDatabase>(
    pool: &Pool<DB>,
    metrics: &PoolMetrics,
    acquired: Instant,
) {
    metrics.use_time.record(acquired.elapsed().as_secs_f64());
    let _ = metrics
        .in_use
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    record_state(pool, metrics);
}
