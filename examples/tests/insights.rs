//! The demo with PostgreSQL and Redis and every insight on: slow-query plans, the
//! statement and index report, Redis server health, cache invalidation and compression,
//! process and Tokio runtime metrics, probes as readiness checks, and the CPU profile
//! route, each read back from `/metrics`, the routes and the JSON log lines.

mod common;

use common::Demo;
use common::exposition::{Sample, parse};
use serde_json::Value;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const TOKEN: &str = "insights-test-token";
const DEADLINE: Duration = Duration::from_secs(60);

fn postgres_url() -> String {
    std::env::var("SDK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

async fn scrape(client: &reqwest::Client, base: &str) -> Vec<Sample> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("/metrics answers")
        .text()
        .await
        .expect("/metrics body");
    parse(&text)
}

/// The value of the series `name` whose labels include `labels`, if there is one.
fn find(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == *v))
        .map(|s| s.value)
}

/// Scrapes until `check` finds what it wants (bounded, with `what` in the failure).
async fn eventually<T>(
    client: &reqwest::Client,
    base: &str,
    what: &str,
    check: impl Fn(&[Sample]) -> Option<T>,
) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let samples = scrape(client, base).await;
        if let Some(found) = check(&samples) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not on /metrics within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `GET /insights/db` until a report has what `check` wants.
async fn report_with(
    client: &reqwest::Client,
    base: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + DEADLINE;
    let mut last = String::new();
    loop {
        let answer = client
            .get(format!("{base}/insights/db"))
            .send()
            .await
            .expect("/insights/db answers");
        let status = answer.status();
        last = answer.text().await.unwrap_or(last);
        if status.is_success() {
            let report: Value = serde_json::from_str(&last).expect("the report is JSON");
            if check(&report) {
                return report;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not in /insights/db within {DEADLINE:?}; last answer {status}: {last}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn get_json(client: &reqwest::Client, url: String) -> Value {
    let body = client
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{url}: not JSON ({e})"))
}

async fn post_json(client: &reqwest::Client, url: String) -> Value {
    let body = client
        .post(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{url}: not JSON ({e})"))
}

fn finding<'a>(report: &'a Value, kind: &str, key: &str, value: &str) -> Option<&'a Value> {
    report["findings"]
        .as_array()?
        .iter()
        .find(|f| f["kind"] == kind && f[key] == value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_insight_reaches_metrics_routes_and_logs() {
    let postgres = postgres_url();
    let (mut demo, addr) = Demo::start(&[
        ("DATABASE_URL", postgres.as_str()),
        // Every query is slow: the events scan gets its plan logged.
        ("SDK_DB_SLOW_QUERY_MS", "1"),
        ("SDK_DB_INSIGHTS_INTERVAL_SECS", "1"),
        ("DEMO_REDIS_INFO_SECS", "1"),
        ("DEMO_PROBE_INTERVAL_MS", "300"),
        ("DEMO_PROBE_SELF", "true"),
        ("SDK_PROCESS_METRICS_INTERVAL", "200"),
        ("DEMO_PROFILE_TOKEN", TOKEN),
    ]);
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let started = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();

    // Slow-query plans: the events table (50,000 rows, analyzed) read by sequential scan.
    let answer: Value = get_json(&client, format!("{base}/events/kind-3/count")).await;
    assert_eq!(answer["count"], 1000, "{answer}");
    let plan = demo.wait_for(|l| {
        l["target"] == "sdk_sqlx::plan" && l["fields"]["db.query.summary"] == "SELECT demo_events"
    });
    assert_eq!(plan["level"], "WARN", "{plan}");
    assert_eq!(plan["span"], "db.plan", "{plan}");
    assert!(
        plan["fields"]["db.plan.seq_scans"]
            .as_str()
            .is_some_and(|s| s.starts_with("demo_events (")),
        "{plan}"
    );
    assert_eq!(
        plan["fields"]["db.query.text"],
        "SELECT count(*) FROM demo_events WHERE kind = $1"
    );
    let query = demo.wait_for(|l| {
        l["message"] == "slow query" && l["trace_id"] == plan["trace_id"] && l["span"] == "db.query"
    });
    assert_ne!(
        query["span_id"], plan["span_id"],
        "the plan has its own span"
    );
    let findings = eventually(&client, &base, "the seq-scan finding counted", |s| {
        find(
            s,
            "sdk_db_client_plan_findings_total",
            &[
                ("db_collection_name", "demo_events"),
                ("sdk_finding", "seq_scan_large_table"),
            ],
        )
    })
    .await;
    assert!(findings >= 1.0);

    // Statement and index insights: 120 more scans make the table seq-scan heavy (over
    // 100 scans of over 10,000 rows); the note index is never used.
    for _ in 0..120 {
        let status = client
            .get(format!("{base}/events/kind-4/count"))
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success());
    }
    let report = report_with(&client, &base, "the demo's findings", |r| {
        finding(r, "seq_scan_heavy_table", "table", "demo_events").is_some()
            && finding(r, "unused_index", "index", "demo_events_note_idx").is_some()
    })
    .await;
    let heavy = finding(&report, "seq_scan_heavy_table", "table", "demo_events").unwrap();
    assert!(heavy["seq_scans"].as_u64().unwrap() >= 121, "{heavy}");
    let statement = report["statements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["summary"] == "SELECT demo_events")
        .unwrap_or_else(|| panic!("no events statement in {report}"));
    assert!(statement["calls"].as_u64().unwrap() >= 121, "{statement}");
    let text = client
        .get(format!("{base}/insights/db?format=text"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("index demo_events_note_idx on demo_events (")),
        "{text}"
    );
    println!("findings on the demo's database:\n{text}");
    let samples = eventually(&client, &base, "the insights' gauges", |s| {
        (find(
            s,
            "sdk_db_insights_findings",
            &[("sdk_finding", "seq_scan_heavy_table")],
        )? >= 1.0)
            .then(|| s.to_vec())
    })
    .await;
    assert!(
        find(
            &samples,
            "sdk_db_table_size_bytes",
            &[("db_collection_name", "demo_events")]
        )
        .unwrap()
            > 1_000_000.0
    );
    assert!(
        find(
            &samples,
            "sdk_db_table_scans_total",
            &[
                ("db_collection_name", "demo_events"),
                ("sdk_db_scan", "seq")
            ]
        )
        .unwrap()
            >= 121.0
    );
    assert!(
        find(
            &samples,
            "sdk_db_statement_calls_total",
            &[("db_query_summary", "SELECT demo_events")]
        )
        .unwrap()
            >= 121.0
    );

    // The cache: a list of 100 users stored compressed, invalidated by tag. Other demos
    // on the same Redis may have stored the list: this one removes it (by prefix) and
    // loads it again until it is the one that stored it.
    let deadline = Instant::now() + DEADLINE;
    let saved = loop {
        let removed: Value =
            post_json(&client, format!("{base}/cache/invalidate?prefix=user:list")).await;
        assert!(removed["removed"].is_u64(), "{removed}");
        let users: Value = get_json(&client, format!("{base}/cached/users")).await;
        assert_eq!(users.as_array().unwrap().len(), 100);
        let samples = scrape(&client, &base).await;
        if let Some(saved) =
            find(&samples, "sdk_cache_compression_saved_bytes_total", &[]).filter(|v| *v > 0.0)
        {
            break saved;
        }
        assert!(
            Instant::now() < deadline,
            "the demo never stored the users' list compressed within {DEADLINE:?}"
        );
    };
    assert!(saved > 500.0, "{saved}");
    // A second read is a hit.
    let users: Value = get_json(&client, format!("{base}/cached/users")).await;
    assert_eq!(users.as_array().unwrap().len(), 100);
    let removed: Value = post_json(&client, format!("{base}/cache/invalidate?tag=users")).await;
    assert!(removed["removed"].as_u64().unwrap() >= 1, "{removed}");
    let refused = client
        .post(format!("{base}/cache/invalidate?prefix=session:"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400, "only the demo's own prefix");
    eventually(&client, &base, "the tag invalidation counted", |s| {
        find(
            s,
            "sdk_cache_invalidations_total",
            &[("sdk_cache_invalidation", "tag")],
        )
        .filter(|v| *v >= 1.0)
    })
    .await;

    // Redis server health.
    let samples = eventually(&client, &base, "Redis server health", |s| {
        find(s, "sdk_redis_server_memory_used_bytes", &[]).map(|_| s.to_vec())
    })
    .await;
    assert!(find(&samples, "sdk_redis_server_memory_used_bytes", &[]).unwrap() > 0.0);
    assert!(find(&samples, "sdk_redis_server_clients_connected", &[]).unwrap() >= 1.0);
    assert_eq!(
        find(
            &samples,
            "sdk_redis_server_role",
            &[("sdk_redis_role", "master")]
        ),
        Some(1.0)
    );

    // Process and runtime metrics.
    let samples = eventually(&client, &base, "process metrics", |s| {
        find(s, "process_resident_memory_bytes", &[]).map(|_| s.to_vec())
    })
    .await;
    assert!(find(&samples, "process_resident_memory_bytes", &[]).unwrap() > 1_000_000.0);
    assert!(find(&samples, "process_open_fds", &[]).unwrap() >= 3.0);
    assert!(find(&samples, "process_threads", &[]).unwrap() >= 2.0);
    let start = find(&samples, "process_start_time_seconds", &[]).unwrap();
    assert!(
        (start - started.as_secs_f64()).abs() < 120.0,
        "start {start}, test {started:?}"
    );
    assert!(find(&samples, "sdk_runtime_tokio_workers", &[]).unwrap() >= 1.0);

    // Probes: up, and the dependencies' probes are readiness checks.
    let samples = eventually(&client, &base, "every probe succeeding", |s| {
        ["self", "postgresql-tcp", "redis-tcp"]
            .iter()
            .all(|p| find(s, "probe_success", &[("sdk_probe", p)]) == Some(1.0))
            .then(|| s.to_vec())
    })
    .await;
    assert_eq!(
        find(&samples, "probe_http_status_code", &[("sdk_probe", "self")]),
        Some(200.0)
    );
    let ready: Value = get_json(&client, format!("{base}/health/ready")).await;
    for name in ["postgresql-tcp", "redis-tcp"] {
        assert!(
            ready["checks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["name"] == name && c["status"] == "ok"),
            "{name} in {ready}"
        );
    }

    // The CPU profile route: refused without the token, a profile with it.
    let url = format!("{base}/debug/pprof/profile?seconds=1");
    let refused = client.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let svg = client
        .get(format!("{url}&format=svg"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(svg.status(), 200);
    assert!(svg.text().await.unwrap().contains("<svg"));
    let pprof = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(pprof.status(), 200);
    assert!(!pprof.bytes().await.unwrap().is_empty());
    eventually(&client, &base, "the profiles counted", |s| {
        (find(s, "sdk_profiles_total", &[("sdk_result", "ok")]) == Some(2.0)
            && find(s, "sdk_profiles_total", &[("sdk_result", "unauthorized")]) == Some(1.0))
        .then_some(())
    })
    .await;

    // Every collector timed its runs, none failed.
    let samples = scrape(&client, &base).await;
    for collector in ["postgresql", "redis", "process", "tokio", "probe"] {
        assert!(
            find(
                &samples,
                "sdk_collector_duration_seconds_count",
                &[("sdk_collector", collector), ("sdk_result", "ok")]
            )
            .is_some_and(|n| n >= 1.0),
            "{collector} ran"
        );
        for failed in ["error", "timeout", "fail"] {
            assert!(
                find(
                    &samples,
                    "sdk_collector_duration_seconds_count",
                    &[("sdk_collector", collector), ("sdk_result", failed)]
                )
                .is_none_or(|n| n == 0.0),
                "{collector} {failed}"
            );
        }
    }
}
