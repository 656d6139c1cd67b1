//! The demo binary end to end: real TCP, JSON logs on stdout, trace continuation, and
//! `/metrics` checked by the real `promtool`.

mod common;

use bytes::Bytes;
use common::{Demo, get, hex};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_traces_logs_and_clean_metrics() {
    let (mut demo, addr) = Demo::start(&[
        ("OTEL_SERVICE_NAME", "demo-test"),
        ("DD_ENV", "ci"),
        ("DD_VERSION", "9.9.9"),
    ]);

    let (status, headers, body) = get(&addr, "/users/7", &[("traceparent", TRACEPARENT)]).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["name"],
        "user-7"
    );
    let returned = headers
        .get("traceparent")
        .expect("traceparent on the response")
        .to_str()
        .unwrap();
    assert!(
        returned.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{returned}"
    );
    assert!(
        !returned.contains("00f067aa0ba902b7"),
        "the server span has its own id"
    );

    // A malformed incoming header is ignored: the request succeeds in a new trace.
    let (status, headers, _) = get(&addr, "/users/8", &[("traceparent", "00-zzzz-bad-01")]).await;
    assert_eq!(status, 200);
    assert!(
        !headers["traceparent"]
            .to_str()
            .unwrap()
            .contains("4bf92f3577b34da6a3ce929d0e0e4736")
    );

    assert_eq!(get(&addr, "/work", &[]).await.0, 200);
    assert_eq!(get(&addr, "/fail", &[]).await.0, 500);
    assert_eq!(get(&addr, "/no/such/path/secret-token", &[]).await.0, 404);

    // Log lines: schema, correlation with the continued trace, service tags.
    let lookup = demo.wait_for(|l| l["message"] == "user lookup" && l["fields"]["user.id"] == 7);
    assert_eq!(lookup["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(lookup["dd.trace_id"], "11803532876627986230");
    assert_eq!(lookup["span_id"].as_str().unwrap(), &returned[36..52]);
    assert_eq!(
        lookup["dd.span_id"],
        u64::from_str_radix(&returned[36..52], 16)
            .unwrap()
            .to_string()
    );
    assert_eq!(lookup["request_id"].as_str().unwrap().len(), 32);
    assert_eq!(lookup["user_id"], "user-7");
    assert_eq!(lookup["dd.service"], "demo-test");
    assert_eq!(lookup["dd.env"], "ci");
    assert_eq!(lookup["dd.version"], "9.9.9");
    let nested = demo.wait_for(|l| l["message"] == "inventory loaded");
    assert_eq!(nested["span"], "load_inventory");
    let failure = demo.wait_for(|l| l["message"] == "simulated failure");
    assert_eq!(failure["level"], "ERROR");

    let (status, headers, metrics) = get(&addr, "/metrics", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], sdk_core::prometheus::CONTENT_TYPE);
    if let Err(findings) = sdk_core::testing::promtool_check(&metrics) {
        panic!("{findings}\n--- /metrics ---\n{metrics}");
    }
    assert!(metrics.contains("# TYPE http_server_request_duration_seconds histogram"));
    assert!(metrics.contains(r#"http_route="/users/{id}""#), "{metrics}");
    assert!(metrics.contains(r#"error_type="500""#), "{metrics}");
    assert!(
        metrics.contains(r#"sdk_propagation_rejected_total{sdk_propagator="tracecontext"} 1"#),
        "{metrics}"
    );
    assert!(
        !metrics.contains("/no/such/path"),
        "raw path leaked into labels"
    );
    assert!(!metrics.contains("secret-token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_log_filters_lines() {
    let (mut demo, addr) = Demo::start(&[("RUST_LOG", "warn,demo::startup=info")]);
    assert_eq!(get(&addr, "/users/7", &[]).await.0, 200);
    assert_eq!(get(&addr, "/fail", &[]).await.0, 500);
    let failure = demo.wait_for(|l| l["message"] == "simulated failure");
    assert_eq!(
        failure["trace_id"].as_str().map(str::len),
        Some(32),
        "correlation kept under RUST_LOG=warn: {failure}"
    );
    assert!(
        demo.seen.iter().all(|l| l["level"] == "WARN"
            || l["level"] == "ERROR"
            || l["target"] == "demo::startup"),
        "{:?}",
        demo.seen
    );
    assert!(!demo.seen.iter().any(|l| l["message"] == "user lookup"));
}

#[test]
fn invalid_configuration_is_a_clear_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(["--addr", "127.0.0.1:0"])
        .env("OTEL_TRACES_SAMPLER", "sometimes")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("OTEL_TRACES_SAMPLER")
            && stderr.contains("sometimes")
            && stderr.contains("parentbased_always_on"),
        "{stderr}"
    );

    let output = Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(["--addr", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--addr"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_reach_the_datadog_agent_and_logs_carry_the_same_trace_id() {
    let agent = sdk_core::testing::TestAgent::start().unwrap();
    let url = agent.url();
    let (mut demo, addr) = Demo::start(&[
        ("OTEL_TRACES_EXPORTER", "datadog"),
        ("DD_TRACE_AGENT_URL", &url),
        ("DD_SERVICE", "demo-dd"),
        ("DD_ENV", "ci"),
    ]);
    let (status, _, _) = get(&addr, "/users/7", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(get(&addr, "/fail", &[]).await.0, 500);
    let lookup = demo.wait_for(|l| l["message"] == "user lookup");
    let status = Command::new("kill")
        .args(["-INT", &demo.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    demo.wait_for(|l| l["message"] == "shutting down");
    assert!(demo.child.wait().unwrap().success());

    // The agent may still be decoding the last payload when the demo has exited.
    let mut traces = Value::Null;
    let mut spans: Vec<Value> = Vec::new();
    for _ in 0..50 {
        let (status, found) = agent.get("/test/session/traces").unwrap();
        assert_eq!(status, 200, "{found}");
        spans = found
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|t| t.as_array().unwrap().clone())
            .collect();
        traces = found;
        if spans.iter().any(|s| s["resource"] == "GET /users/{id}")
            && spans.iter().any(|s| s["resource"] == "GET /fail")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let user = spans
        .iter()
        .find(|s| s["resource"] == "GET /users/{id}")
        .unwrap_or_else(|| panic!("{traces:#}"));
    assert_eq!(user["service"], "demo-dd");
    assert_eq!(user["type"], "web");
    assert_eq!(user["name"], "http.server.request");
    assert_eq!(user["meta"]["env"], "ci");
    assert_eq!(
        user["trace_id"].as_u64().unwrap().to_string(),
        lookup["dd.trace_id"].as_str().unwrap()
    );
    assert_eq!(
        user["span_id"].as_u64().unwrap().to_string(),
        lookup["dd.span_id"].as_str().unwrap()
    );
    let fail = spans.iter().find(|s| s["resource"] == "GET /fail").unwrap();
    assert_eq!(fail["error"], 1);
    assert_eq!(fail["meta"]["error.message"], "simulated failure");
    let (_, summary) = agent.get("/test/trace_check/summary").unwrap();
    for (name, counts) in summary.as_object().unwrap() {
        assert_eq!(counts["Failed_Checks"], 0, "{name}: {summary}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_backend_chosen_by_environment_with_headers_and_gzip() {
    let receiver = sdk_core::testing::otlp::OtlpReceiver::start().unwrap();
    let endpoint = format!("http://{}", receiver.http_addr);
    let (mut demo, addr) = Demo::start(&[
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-api-key=s3cret,x-team=payments",
        ),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("OTEL_SERVICE_NAME", "demo-otlp"),
    ]);
    assert_eq!(
        get(&addr, "/work", &[("traceparent", TRACEPARENT)]).await.0,
        200
    );
    assert!(
        receiver.wait_for(Duration::from_secs(10), |r| r
            .traces
            .iter()
            .flat_map(|t| &t.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .any(|s| s.name == "GET /work")),
        "the server span arrives on the schedule"
    );
    let spans = receiver.spans();
    let server = spans.iter().find(|s| s.name == "GET /work").unwrap();
    let child = spans.iter().find(|s| s.name == "load_inventory").unwrap();
    assert_eq!(hex(&server.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(child.parent_span_id, server.span_id);
    let request = &receiver.received().http_requests[0];
    assert_eq!(request.path, "/v1/traces");
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("x-api-key"), Some("s3cret"));
    assert_eq!(header("x-team"), Some("payments"));
    assert_eq!(header("content-encoding"), Some("gzip"));
    let loaded = demo.wait_for(|l| l["message"] == "inventory loaded");
    assert_eq!(loaded["span_id"].as_str().unwrap(), hex(&child.span_id));
}

#[test]
fn non_unicode_environment_is_a_clear_error() {
    use std::os::unix::ffi::OsStrExt;
    let output = Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(["--addr", "127.0.0.1:0"])
        .env("OTEL_SERVICE_NAME", std::ffi::OsStr::from_bytes(b"caf\xe9"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("OTEL_SERVICE_NAME is not valid Unicode"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_prometheus_listener_from_env() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let (_demo, addr) = Demo::start(&[
        ("OTEL_EXPORTER_PROMETHEUS_HOST", "127.0.0.1"),
        ("OTEL_EXPORTER_PROMETHEUS_PORT", &port),
    ]);
    assert_eq!(get(&addr, "/users/3", &[]).await.0, 200);
    let (status, _, text) = get(&format!("127.0.0.1:{port}"), "/metrics", &[]).await;
    assert_eq!(status, 200);
    assert!(text.contains(r#"http_route="/users/{id}""#), "{text}");
    if let Err(findings) = sdk_core::testing::promtool_check(&text) {
        panic!("{findings}\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_shuts_down_gracefully_and_flushes_logs() {
    let (mut demo, addr) = Demo::start(&[]);
    assert_eq!(get(&addr, "/work", &[]).await.0, 200);
    let status = Command::new("kill")
        .args(["-INT", &demo.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let last = demo.wait_for(|l| l["message"] == "shutting down");
    assert_eq!(last["level"], "INFO");
    let exit = demo.child.wait().unwrap();
    assert!(exit.success(), "{exit}");
    assert!(demo.seen.iter().any(|l| l["message"] == "inventory loaded"));
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn counter_value(metrics: &str, prefix: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_backends_never_hurt_requests_and_drops_are_counted() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{closed}");
    let (demo, addr) = Demo::start(&[
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("OTEL_LOGS_EXPORTER", "otlp,console"),
        ("OTEL_METRICS_EXPORTER", "prometheus,otlp"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "64"),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "200"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
        ("RUST_LOG", "warn,demo::startup=info"),
    ]);
    let pid = demo.child.id();
    let round = |n: usize| {
        let addr = addr.clone();
        async move {
            let mut tasks = Vec::new();
            for worker in 0..8 {
                let addr = addr.clone();
                tasks.push(tokio::spawn(async move {
                    let mut ok = 0;
                    for i in 0..n / 8 {
                        let path = format!("/users/{}", (worker * 1000 + i) % 1000 + 1);
                        if get(&addr, &path, &[]).await.0 == 200 {
                            ok += 1;
                        }
                    }
                    ok
                }));
            }
            let mut ok = 0;
            for task in tasks {
                ok += task.await.unwrap();
            }
            ok
        }
    };
    let started = Instant::now();
    assert_eq!(
        round(800).await,
        800,
        "every request succeeds while the backend is down"
    );
    let warm = rss_kib(pid);
    assert_eq!(round(3200).await, 3200);
    let after = rss_kib(pid);
    let elapsed = started.elapsed();
    assert!(
        after < warm + 20 * 1024,
        "memory grew from {warm} KiB to {after} KiB over 3200 requests"
    );
    let (_, _, metrics) = get(&addr, "/metrics", &[]).await;
    let dropped = counter_value(&metrics, "sdk_exporter_dropped_total{sdk_signal=\"traces\"");
    eprintln!(
        "4000 requests in {elapsed:?}; RSS {warm} KiB -> {after} KiB; spans dropped and counted: {dropped}"
    );
    assert!(dropped > 0, "span drops are counted: {metrics}");
    assert!(elapsed < Duration::from_secs(120), "{elapsed:?}");
    // Metric exports fail every 200 ms and log batches with every request: each signal's
    // losses are counted under its own label.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, _, metrics) = get(&addr, "/metrics", &[]).await;
        let counted = ["metrics", "logs"].map(|signal| {
            counter_value(
                &metrics,
                &format!("sdk_exporter_dropped_total{{sdk_signal=\"{signal}\""),
            )
        });
        if counted.iter().all(|n| *n > 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "metric and log drops counted within 60 s, counted {counted:?}: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_spans_two_server_spans_and_a_client_span_in_one_trace() {
    let receiver = sdk_core::testing::otlp::OtlpReceiver::start().unwrap();
    let endpoint = format!("http://{}", receiver.http_addr);
    let (_demo, addr) = Demo::start(&[
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ]);
    let (status, headers, body) = get(&addr, "/chain", &[("traceparent", TRACEPARENT)]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"downstream_status\":200"), "{body}");
    assert!(
        headers["server-timing"]
            .to_str()
            .unwrap()
            .starts_with("traceparent;desc=\"00-4bf92f3577b34da6a3ce929d0e0e4736-")
    );
    // The three spans of the chain (the demo's startup queries are traced too).
    assert!(
        receiver.wait_for(Duration::from_secs(10), |r| {
            let names: Vec<&str> = r
                .traces
                .iter()
                .flat_map(|t| &t.resource_spans)
                .flat_map(|rs| &rs.scope_spans)
                .flat_map(|ss| &ss.spans)
                .map(|s| s.name.as_str())
                .collect();
            ["GET /chain", "GET", "GET /users/{id}"]
                .iter()
                .all(|n| names.contains(n))
        }),
        "the chain's spans did not arrive"
    );
    let spans = receiver.spans();
    let chain = spans.iter().find(|s| s.name == "GET /chain").unwrap();
    let client = spans
        .iter()
        .find(|s| s.name == "GET" && s.parent_span_id == chain.span_id)
        .unwrap();
    let user = spans.iter().find(|s| s.name == "GET /users/{id}").unwrap();
    assert_eq!(user.parent_span_id, client.span_id);
    for span in [chain, client, user] {
        assert_eq!(hex(&span.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    let (status, _, body) = get(&addr, "/health/ready", &[]).await;
    assert_eq!(status, 200);
    assert!(body.contains("\"name\":\"self\""), "{body}");
    assert_eq!(get(&addr, "/health/live", &[]).await.0, 200);
}

/// `/users/{id}` and `/slow` through the instrumented pool: the slow query is logged in the
/// request's trace, and database metrics pass promtool.
async fn database_routes(env: &[(&str, &str)], system: &str) {
    let (mut demo, addr) = Demo::start(env);
    let ready = demo.wait_for(|l| l["message"] == "database ready");
    assert_eq!(ready["fields"]["database"], system);

    let (status, _, body) = get(&addr, "/users/42", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["name"],
        "user-42"
    );
    assert_eq!(get(&addr, "/users/5000", &[]).await.0, 404);

    let (status, headers, _) = get(&addr, "/slow", &[("traceparent", TRACEPARENT)]).await;
    assert_eq!(status, 200);
    assert!(headers.contains_key("traceparent"));
    let slow = demo.wait_for(|l| l["message"] == "slow query");
    assert_eq!(slow["level"], "WARN");
    assert_eq!(slow["span"], "db.query");
    assert_eq!(slow["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert!(
        slow["fields"]["duration_ms"].as_f64().unwrap() >= 250.0,
        "{slow}"
    );
    let text = slow["fields"]["db.query.text"].as_str().unwrap();
    assert!(!text.contains("0.3") && !text.contains("3000000"), "{text}");

    let (status, _, ready) = get(&addr, "/health/ready", &[]).await;
    assert_eq!(status, 200, "{ready}");
    assert!(
        ready.contains(&format!(r#""name":"{system}","status":"ok""#)),
        "{ready}"
    );

    let (_, _, metrics) = get(&addr, "/metrics", &[]).await;
    if let Err(findings) = sdk_core::testing::promtool_check(&metrics) {
        panic!("{findings}\n--- /metrics ---\n{metrics}");
    }
    let select_users =
        format!(r#"db_client_operation_duration_seconds_count{{db_system_name="{system}","#);
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with(&select_users)
                && l.contains(r#"db_collection_name="demo_users""#)
                && l.contains(r#"db_operation_name="SELECT""#)
        })
        .unwrap_or_else(|| panic!("no SELECT demo_users duration in\n{metrics}"));
    assert!(line.ends_with(" 2"), "{line}");
    assert!(
        metrics.contains("sdk_db_client_slow_queries_total{"),
        "{metrics}"
    );
    assert!(
        metrics.contains("db_client_connection_wait_time_seconds_bucket{"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_routes_on_sqlite_by_default() {
    database_routes(&[], "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_routes_on_postgres_with_database_url() {
    let url = std::env::var("SDK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    database_routes(&[("DATABASE_URL", &url)], "postgresql").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_route_uses_redis_and_counts_hits_and_misses() {
    let id = std::process::id() % 1000 + 1;
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut redis = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis on 127.0.0.1:6379 (`cargo xtask test` starts it)");
    let _: () = redis::cmd("DEL")
        .arg(format!("user:{id}"))
        .query_async(&mut redis)
        .await
        .unwrap();

    let (mut demo, addr) = Demo::start(&[]);
    demo.wait_for(|l| l["message"] == "cache ready");
    for _ in 0..3 {
        let (status, _, body) = get(&addr, &format!("/cached/users/{id}"), &[]).await;
        assert_eq!(status, 200);
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["name"], format!("user-{id}"));
        assert_eq!(body["cache"], "redis");
    }
    let (_, _, ready) = get(&addr, "/health/ready", &[]).await;
    assert!(ready.contains(r#""name":"redis","status":"ok""#), "{ready}");
    let (_, _, metrics) = get(&addr, "/metrics", &[]).await;
    if let Err(findings) = sdk_core::testing::promtool_check(&metrics) {
        panic!("{findings}\n--- /metrics ---\n{metrics}");
    }
    let count = |result: &str| {
        counter_value(
            &metrics,
            &format!(
                r#"sdk_cache_requests_total{{db_system_name="redis",db_operation_name="GET",cache_result="{result}",cache_key_prefix="user:"}}"#
            ),
        )
    };
    assert_eq!((count("hit"), count("miss")), (2, 1), "{metrics}");
    assert!(
        metrics.contains("sdk_cache_load_duration_seconds_count{cache_key_prefix=\"user:\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_the_cache_is_off_and_the_route_still_answers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let (mut demo, addr) = Demo::start(&[("REDIS_URL", &url)]);
    let off = demo.wait_for(|l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("cache is off"))
    });
    assert_eq!(off["level"], "WARN");
    let (status, _, body) = get(&addr, "/cached/users/3", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["cache"],
        "off"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rum_beacons_reach_metrics() {
    let (_demo, addr) = Demo::start(&[]);
    let beacon = r#"{"service":"demo-web","route":"/users/{id}","traceId":"4bf92f3577b34da6a3ce929d0e0e4736",
        "vitals":[{"name":"LCP","value":2100,"delta":2100,"id":"v6-1-1","rating":"good","navigationType":"navigate"},
                  {"name":"CLS","value":0.12,"delta":0.12,"id":"v6-1-2","rating":"needs-improvement","navigationType":"navigate"}]}"#;
    let client = Client::builder(TokioExecutor::new()).build_http::<http_body_util::Full<Bytes>>();
    let post = |body: &'static str| {
        let request = http::Request::post(format!("http://{addr}/rum"))
            .header("content-type", "text/plain;charset=UTF-8")
            .body(http_body_util::Full::new(Bytes::from_static(
                body.as_bytes(),
            )))
            .unwrap();
        client.request(request)
    };
    assert_eq!(post(beacon).await.unwrap().status(), 204);
    assert_eq!(post("{\"service\":\"x\"}").await.unwrap().status(), 400);
    let (_, _, metrics) = get(&addr, "/metrics", &[]).await;
    if let Err(findings) = sdk_core::testing::promtool_check(&metrics) {
        panic!("{findings}\n--- /metrics ---\n{metrics}");
    }
    assert_eq!(
        counter_value(
            &metrics,
            r#"browser_web_vital_duration_seconds_count{browser_web_vital_name="LCP",browser_web_vital_rating="good",browser_web_vital_navigation_type="navigate",http_route="/users/{id}"}"#
        ),
        1
    );
    assert_eq!(
        counter_value(
            &metrics,
            r#"browser_web_vital_cls_bucket{browser_web_vital_name="CLS",browser_web_vital_rating="needs-improvement",browser_web_vital_navigation_type="navigate",http_route="/users/{id}",le="0.15"}"#
        ),
        1
    );
    assert_eq!(
        counter_value(
            &metrics,
            r#"sdk_rum_beacons_rejected_total{sdk_reason="malformed"}"#
        ),
        1
    );
}
