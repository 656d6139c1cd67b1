//! Liveness and readiness over real sockets: JSON reports, 503 on failure or timeout, and
//! measured checks.

use axum::Router;
use sdk_core::testing::global;
use sdk_tower::health::{Health, check};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

async fn get(addr: &str, path: &str) -> (u16, Value) {
    let response = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_reports_each_check_and_fails_on_error_or_timeout() {
    global();
    let database_up = Arc::new(AtomicBool::new(true));
    let flag = Arc::clone(&database_up);
    let health = Health::new()
        .timeout(Duration::from_millis(200))
        .with_check(check("database", move || {
            let up = flag.load(Ordering::SeqCst);
            async move {
                if up {
                    Ok(())
                } else {
                    Err("connection refused".into())
                }
            }
        }))
        .with_check(check("cache", || async { Ok(()) }));
    let slow = health.clone().with_check(check("slow", || async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(())
    }));
    let app = Router::new()
        .route_service("/live", health.liveness())
        .route_service("/ready", health.readiness())
        .route_service("/ready-slow", slow.readiness());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });

    assert_eq!(
        get(&addr, "/live").await,
        (200, serde_json::json!({"status": "ok"}))
    );

    let (status, report) = get(&addr, "/ready").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["status"], "ok");
    assert_eq!(report["checks"].as_array().unwrap().len(), 2);
    assert_eq!(report["checks"][0]["name"], "database");
    assert_eq!(report["checks"][0]["status"], "ok");
    assert!(report["checks"][0]["latency_ms"].as_f64().unwrap() >= 0.0);

    database_up.store(false, Ordering::SeqCst);
    let (status, report) = get(&addr, "/ready").await;
    assert_eq!(status, 503);
    assert_eq!(report["status"], "fail");
    assert_eq!(report["checks"][0]["status"], "fail");
    assert_eq!(report["checks"][0]["error"], "connection refused");
    assert_eq!(report["checks"][1]["status"], "ok");

    let started = std::time::Instant::now();
    let (status, report) = get(&addr, "/ready-slow").await;
    assert_eq!(status, 503);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the timeout bounds the check"
    );
    let slow = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "slow")
        .unwrap()
        .clone();
    assert_eq!(slow["status"], "timeout");

    let metrics = global().prometheus.render();
    assert!(metrics.contains(r#"sdk_health_check_duration_seconds_count{sdk_health_check="database",sdk_health_status="fail"}"#), "{metrics}");
    assert!(metrics.contains(r#"sdk_health_check_duration_seconds_count{sdk_health_check="slow",sdk_health_status="timeout"} 1"#), "{metrics}");
}
