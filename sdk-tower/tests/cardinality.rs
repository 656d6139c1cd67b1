//! 100 000 requests with random unmatched paths and random methods leave the number of
//! `/metrics` series unchanged beyond a constant.

use axum::Router;
use axum::routing::get;
use rand::Rng;
use sdk_core::testing::global;
use sdk_tower::HttpServerLayer;
use tower::ServiceExt;

fn series(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_paths_and_methods_do_not_grow_series() {
    global();
    let app = Router::new()
        .route("/users/{id}", get(|| async { "ok" }))
        .layer(HttpServerLayer::new().propagator(sdk_core::propagation::Propagator::default()));
    let send = |method: String, path: String| {
        let app = app.clone();
        async move {
            let request = http::Request::builder()
                .method(method.as_str())
                .uri(path)
                .body(axum::body::Body::empty())
                .unwrap();
            app.oneshot(request).await.unwrap().status()
        }
    };
    // Warm up every shape once: matched and unmatched, known and unknown methods.
    for method in ["GET", "POST", "BREW", "DELETE"] {
        send(method.into(), "/users/1".into()).await;
        send(method.into(), "/nowhere".into()).await;
    }
    let before = series(&global().prometheus.render());

    let mut rng = rand::rng();
    for i in 0..100_000u32 {
        let method: String = if i % 3 == 0 {
            (0..rng.random_range(3..8))
                .map(|_| rng.random_range(b'A'..=b'Z') as char)
                .collect()
        } else {
            ["GET", "PUT", "PATCH", "OPTIONS"][i as usize % 4].to_owned()
        };
        let path = format!("/{:x}/{}", rng.random::<u64>(), rng.random::<u32>());
        send(method, path).await;
    }
    let after = series(&global().prometheus.render());
    assert!(
        after <= before + 200,
        "series grew from {before} to {after}"
    );
    eprintln!("series before {before}, after 100000 random requests {after}");
}
