//! Heap allocations per request of the server layer in steady state, counted by a global
//! allocator on the request thread: `alloc_layer <bare|full> [requests]` prints the
//! allocations of one axum hello-world request through `oneshot` (the `http_layer`
//! benchmark's setup: spans to the batch queue, metrics to a Prometheus recorder), after
//! a warm-up that fills the caches. The export thread's own allocations are not counted.

#![allow(unsafe_code)] // A counting `GlobalAlloc` must implement an unsafe trait.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use sdk_core::config::Sampler;
use sdk_core::spans::SpanCollectorLayer;
use sdk_core::trace::TraceContextLayer;
use sdk_tower::HttpServerLayer;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;
use tower::ServiceExt;
use tracing_subscriber::layer::SubscriberExt;

thread_local! {
    /// Allocations counted on this thread while `Some`.
    static COUNTED: Cell<Option<u64>> = const { Cell::new(None) };
}

struct Counting;

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches only
// a thread-local integer (no allocation, no re-entry).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNTED.try_with(|c| c.set(c.get().map(|n| n + 1)));
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = COUNTED.try_with(|c| c.set(c.get().map(|n| n + 1)));
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    let mut args = std::env::args().skip(1);
    let variant = args.next().unwrap_or_else(|| "full".to_owned());
    let requests: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1_000);
    let recorder = sdk_core::prometheus::catalogue_recorder().unwrap_or_else(|e| panic!("{e}"));
    let processor = sdk_benches::discarding_processor();
    let router = Router::new().route("/users/{id}", get(|| async { "hello" }));
    let app = if variant == "bare" {
        router
    } else {
        router
            .layer(HttpServerLayer::new().propagator(sdk_core::propagation::Propagator::default()))
    };
    let subscriber = tracing_subscriber::registry()
        .with(TraceContextLayer::new(Sampler::default()))
        .with(SpanCollectorLayer::new(processor.clone()));
    let runtime = sdk_benches::runtime();
    let per_request = tracing::subscriber::with_default(subscriber, || {
        metrics::with_local_recorder(&recorder, || {
            let one = || {
                let request = http::Request::get("/users/42")
                    .body(Body::empty())
                    .unwrap_or_default();
                runtime.block_on(async {
                    let Ok(response) = app.clone().oneshot(request).await;
                    let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await;
                });
            };
            for _ in 0..1_000 {
                one();
            }
            COUNTED.with(|c| c.set(Some(0)));
            for _ in 0..requests {
                one();
            }
            let counted = COUNTED.with(|c| c.replace(None)).unwrap_or(0);
            counted as f64 / requests as f64
        })
    });
    processor.shutdown(Duration::from_secs(5));
    println!("{variant}: {per_request:.2} allocations per request");
}
