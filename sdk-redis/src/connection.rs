//! [`InstrumentedConnection`]: any async redis-rs connection (multiplexed connection,
//! `ConnectionManager`) whose commands and pipelines are traced and measured.
//!
//! [`RedisConfig`] and [`InstrumentedSyncConnection`] live in their own modules and are
//! re-exported here, where they were first published.

use crate::arguments::cmd_arguments;
use crate::run::{CommandRun, PipelineRun};
use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisFuture, Value};
use std::sync::Arc;

pub use crate::config::RedisConfig;
pub use crate::sync_connection::InstrumentedSyncConnection;

/// An async redis-rs connection whose every command and pipeline gets a client span,
/// `db.client.operation.duration`, and hit/miss counts for reads.
#[derive(Clone)]
pub struct InstrumentedConnection<C> {
    inner: C,
    config: Arc<RedisConfig>,
}

impl<C> std::fmt::Debug for InstrumentedConnection<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedConnection")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<C> InstrumentedConnection<C> {
    /// Wraps `inner`.
    pub fn new(inner: C, config: RedisConfig) -> Self {
        Self {
            inner,
            config: Arc::new(config),
        }
    }

    /// The wrapped connection (commands through it are not instrumented).
    pub fn inner_mut(&mut self) -> &mut C {
        &mut self.inner
    }

    pub(crate) fn config(&self) -> &RedisConfig {
        &self.config
    }
}

impl<C: ConnectionLike + Send> ConnectionLike for InstrumentedConnection<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let run = CommandRun::start(&self.config, self.inner.get_db(), cmd_arguments(cmd));
        let reply = self.inner.req_packed_command(cmd);
        Box::pin(async move {
            let result = reply.await;
            run.finish(result.as_ref());
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let commands = pipeline.cmd_iter().map(cmd_arguments).collect();
        let run = PipelineRun::start(
            &self.config,
            self.inner.get_db(),
            commands,
            pipeline.is_transaction(),
        );
        let replies = self.inner.req_packed_commands(pipeline, offset, count);
        Box::pin(async move {
            let result = replies.await;
            run.finish(result.as_deref());
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}
