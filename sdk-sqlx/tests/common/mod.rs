//! Spans, logs and metrics of one async test body, all on the test's thread.

#![allow(dead_code, unreachable_pub)]

use sdk_core::config::Sampler;
use sdk_core::testing::{Everything, capture_everything};
use std::future::Future;

pub use sdk_core::testing::{int_attr, str_attr};

/// Runs `body` on a current-thread runtime with spans, logs and metrics captured.
pub fn capture<F, Fut>(sampler: Sampler, body: F) -> Everything
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    capture_everything(sampler, || runtime.block_on(body()))
}
