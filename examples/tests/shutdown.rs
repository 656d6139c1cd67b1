//! SIGTERM under load: the demo stops accepting connections, finishes the requests in
//! flight, delivers the telemetry of every request it answered to every backend (Datadog
//! agent and OTLP traces, OTLP logs and metrics, DogStatsD metrics, JSON logs on stdout)
//! and exits 0; with its collector down, shutdown still ends by `OTEL_BSP_EXPORT_TIMEOUT`.
//!
//! Batches are scheduled a minute apart and larger than the whole run, so only the
//! shutdown flush can deliver the spans, OTLP logs and OTLP metrics (checked: nothing has
//! arrived when SIGTERM is sent).

mod common;

use common::statsd::StatsdListener;
use common::{Demo, hex, try_get};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::metric;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CLIENTS: u64 = 8;
const REQUESTS_PER_CLIENT: u64 = 100;
/// SIGTERM goes out once this many requests were answered (and more are in flight).
const SIGTERM_AFTER: usize = 250;

/// One request a client made, with the trace context it sent.
#[derive(Debug, Clone)]
struct Sent {
    path: &'static str,
    trace_id: String,
    parent_id: String,
    started: Instant,
    /// Status and when it came, or why there was none.
    outcome: Result<(u16, Instant), String>,
}

/// `CLIENTS` clients, each sending up to `REQUESTS_PER_CLIENT` requests one after the
/// other with its own `traceparent`, until the first one that fails (the listener has
/// closed). Two of them call `/slow` (a query of 0.3 s or more), the others `/work`.
fn start_clients(
    addr: &str,
    answered: &Arc<AtomicUsize>,
    in_flight: &Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<Vec<Sent>>> {
    let run = u64::from(std::process::id()) << 32
        | u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos(),
        );
    (0..CLIENTS)
        .map(|client| {
            let addr = addr.to_owned();
            let answered = Arc::clone(answered);
            let in_flight = Arc::clone(in_flight);
            tokio::spawn(async move {
                let path = if client % 4 == 3 { "/slow" } else { "/work" };
                let mut sent = Vec::new();
                for i in 0..REQUESTS_PER_CLIENT {
                    let seq = client * 1000 + i + 1;
                    let trace_id = format!("{run:016x}{seq:016x}");
                    let parent_id = format!("{:016x}", 0xa000_0000_0000_0000 | seq);
                    let traceparent = format!("00-{trace_id}-{parent_id}-01");
                    let started = Instant::now();
                    in_flight.fetch_add(1, Ordering::SeqCst);
                    let result = try_get(&addr, path, &[("traceparent", &traceparent)]).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    let failed = result.is_err();
                    if result.is_ok() {
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                    sent.push(Sent {
                        path,
                        trace_id,
                        parent_id,
                        started,
                        outcome: result.map(|(status, _)| (status.as_u16(), Instant::now())),
                    });
                    if failed {
                        break;
                    }
                }
                sent
            })
        })
        .collect()
}

/// Polls `check` every 50 ms until it returns `Ok`, up to `timeout`; the last error
/// otherwise.
async fn poll<T>(timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(value) => return value,
            Err(err) if Instant::now() >= deadline => panic!("after {timeout:?}: {err}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn string_attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v: &AnyValue| match &v.value {
            Some(any_value::Value::StringValue(s)) => Some(s.as_str()),
            _ => None,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_delivers_every_answered_request_and_exits_0() {
    let agent = sdk_core::testing::TestAgent::start().expect("the Datadog test agent starts");
    let receiver = sdk_core::testing::otlp::OtlpReceiver::start().unwrap();
    let statsd = StatsdListener::start();
    let otlp = format!("http://{}", receiver.http_addr);
    let statsd_url = format!("udp://{}", statsd.addr);
    let (mut demo, addr) = Demo::start(&[
        ("OTEL_TRACES_EXPORTER", "datadog,otlp"),
        ("OTEL_METRICS_EXPORTER", "otlp,dogstatsd"),
        ("OTEL_LOGS_EXPORTER", "otlp,console"),
        ("DD_TRACE_AGENT_URL", &agent.url()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp),
        ("DD_DOGSTATSD_URL", &statsd_url),
        ("DD_SERVICE", "demo-shutdown"),
        ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "60000"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "16384"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "16384"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "30000"),
    ]);

    let answered = Arc::new(AtomicUsize::new(0));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let clients = start_clients(&addr, &answered, &in_flight);
    poll(Duration::from_secs(120), || {
        let (done, open) = (
            answered.load(Ordering::SeqCst),
            in_flight.load(Ordering::SeqCst),
        );
        if done >= SIGTERM_AFTER && open >= 2 {
            Ok(())
        } else {
            Err(format!("{done} requests answered, {open} in flight"))
        }
    })
    .await;
    let before = receiver.received();
    assert!(
        before.traces.is_empty() && before.logs.is_empty() && before.metrics.is_empty(),
        "nothing is exported before shutdown (batches are a minute apart), or this test proves nothing"
    );
    let killed = Instant::now();
    demo.signal("TERM");

    let exit = demo.wait_exit(Duration::from_secs(120)).await;
    let exited_after = killed.elapsed();
    let mut sent: Vec<Sent> = Vec::new();
    for client in clients {
        sent.extend(client.await.unwrap());
    }
    let answers: Vec<&Sent> = sent.iter().filter(|s| s.outcome.is_ok()).collect();
    let finished_in_flight = answers
        .iter()
        .filter(|s| s.started < killed && s.outcome.as_ref().is_ok_and(|(_, at)| *at > killed))
        .count();
    let work: Vec<&&Sent> = answers.iter().filter(|s| s.path == "/work").collect();
    eprintln!(
        "sent {} requests, {} answered ({} /work, {} /slow), {} of them started before SIGTERM and answered after it; exit {exit} {exited_after:?} after SIGTERM",
        sent.len(),
        answers.len(),
        work.len(),
        answers.len() - work.len(),
        finished_in_flight,
    );
    assert!(exit.success(), "the demo exits 0 after SIGTERM: {exit}");
    for answer in &answers {
        assert_eq!(
            answer.outcome.as_ref().map(|(status, _)| *status),
            Ok(200),
            "{answer:?}"
        );
    }
    assert!(answers.len() >= SIGTERM_AFTER, "{} answered", answers.len());
    assert!(
        finished_in_flight > 0,
        "requests in flight at SIGTERM are finished, not cut off"
    );

    // JSON logs on stdout, written out before the exit.
    let lines = demo.read_to_end(Duration::from_secs(30)).to_vec();
    let signal_line = lines
        .iter()
        .find(|l| l["target"] == "sdk_core::shutdown")
        .expect("the signal is logged");
    assert_eq!(signal_line["level"], "INFO");
    assert_eq!(signal_line["fields"]["signal"], "SIGTERM");
    assert!(lines.iter().any(|l| l["message"] == "shutting down"));
    let logged: BTreeSet<&str> = lines
        .iter()
        .filter(|l| l["message"] == "inventory loaded")
        .filter_map(|l| l["trace_id"].as_str())
        .collect();
    let missing: Vec<&str> = work
        .iter()
        .map(|s| s.trace_id.as_str())
        .filter(|t| !logged.contains(t))
        .collect();
    assert!(
        missing.is_empty(),
        "JSON log lines missing for traces {missing:?}"
    );

    // OTLP traces: the server span of every answered request, continuing its traceparent.
    let spans = receiver.spans();
    let server_spans: BTreeSet<(String, String)> = spans
        .iter()
        .map(|s| (hex(&s.trace_id), hex(&s.parent_span_id)))
        .collect();
    let missing: Vec<&&Sent> = answers
        .iter()
        .filter(|s| !server_spans.contains(&(s.trace_id.clone(), s.parent_id.clone())))
        .collect();
    let same_trace = |trace_id: &str| -> Vec<String> {
        spans
            .iter()
            .filter(|s| hex(&s.trace_id) == trace_id)
            .map(|s| format!("{} (parent {})", s.name, hex(&s.parent_span_id)))
            .collect()
    };
    assert!(
        missing.is_empty(),
        "{} of {} answered requests have no span at the OTLP receiver ({} spans there): {:?}",
        missing.len(),
        answers.len(),
        spans.len(),
        missing
            .iter()
            .map(|s| (s, same_trace(&s.trace_id)))
            .collect::<Vec<_>>()
    );

    // OTLP logs: the request's log record, in its trace.
    let received = receiver.received();
    let log_traces: BTreeSet<String> = received
        .logs
        .iter()
        .flat_map(|r| &r.resource_logs)
        .flat_map(|rl| &rl.scope_logs)
        .flat_map(|sl| &sl.log_records)
        .filter(|r| {
            r.body.as_ref().and_then(|b| b.value.as_ref())
                == Some(&any_value::Value::StringValue("inventory loaded".into()))
        })
        .map(|r| hex(&r.trace_id))
        .collect();
    let missing: Vec<&str> = work
        .iter()
        .map(|s| s.trace_id.as_str())
        .filter(|t| !log_traces.contains(*t))
        .collect();
    assert!(
        missing.is_empty(),
        "OTLP log records missing for traces {missing:?}"
    );

    // OTLP metrics: the last (cumulative) export counts every answered request.
    let mut counted: HashMap<String, u64> = HashMap::new();
    for request in &received.metrics {
        let metrics = request
            .resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .filter(|m| m.name == "http.server.request.duration");
        for metric in metrics {
            if let Some(metric::Data::Histogram(histogram)) = &metric.data {
                let mut per_route: HashMap<String, u64> = HashMap::new();
                for point in &histogram.data_points {
                    if let Some(route) = string_attr(&point.attributes, "http.route") {
                        *per_route.entry(route.to_owned()).or_default() += point.count;
                    }
                }
                counted.extend(per_route);
            }
        }
    }
    for (route, expected) in [("/work", work.len()), ("/slow", answers.len() - work.len())] {
        let got = counted.get(route).copied().unwrap_or(0);
        assert!(
            got >= expected as u64,
            "OTLP metrics count {got} {route} requests, {expected} were answered ({} exports)",
            received.metrics.len()
        );
    }

    // DogStatsD: one duration value per answered request, the last flush included (the
    // `/slow` requests end right before shutdown; UDP on loopback, sent before the exit).
    let mut statsd_values = Vec::new();
    for (route, expected) in [("/work", work.len()), ("/slow", answers.len() - work.len())] {
        let tag = format!("http.route:{route}");
        statsd_values.push(
            poll(Duration::from_secs(10), || {
                let values = statsd.distribution_values("http.server.request.duration", &tag);
                if values >= expected {
                    Ok(values)
                } else {
                    Err(format!(
                        "{values} DogStatsD values for {expected} answered {route} requests"
                    ))
                }
            })
            .await,
        );
    }

    // Datadog agent: the server span of every answered request.
    let dd_spans = poll(Duration::from_secs(60), || {
        let (status, traces) = agent.get("/test/session/traces")?;
        if status != 200 {
            return Err(format!("agent answered {status}: {traces}"));
        }
        let found: BTreeSet<(u64, u64)> = traces
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(|s| Some((s["trace_id"].as_u64()?, s["parent_id"].as_u64()?)))
            .collect();
        let missing: Vec<&&Sent> = answers
            .iter()
            .filter(|s| {
                let low = u64::from_str_radix(&s.trace_id[16..], 16).unwrap();
                let parent = u64::from_str_radix(&s.parent_id, 16).unwrap();
                !found.contains(&(low, parent))
            })
            .collect();
        if missing.is_empty() {
            Ok(found.len())
        } else {
            Err(format!(
                "{} of {} answered requests have no span at the Datadog agent: {missing:?}",
                missing.len(),
                answers.len()
            ))
        }
    })
    .await;
    let (_, summary) = agent.get("/test/trace_check/summary").unwrap();
    for (name, counts) in summary.as_object().unwrap() {
        assert_eq!(counts["Failed_Checks"], 0, "{name}: {summary}");
    }
    eprintln!(
        "found: {} spans at the Datadog agent, {} spans at the OTLP receiver, {} OTLP log records of /work, {} JSON log lines of /work, OTLP metrics {counted:?}, DogStatsD values (/work, /slow) {statsd_values:?}",
        dd_spans,
        spans.len(),
        log_traces.len(),
        logged.len(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_collector_down_shutdown_ends_by_the_export_timeout() {
    // Accepts connections (the kernel does) and never answers: the worst collector.
    let blackhole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", blackhole.local_addr().unwrap());
    let (mut demo, addr) = Demo::start(&[
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("OTEL_METRICS_EXPORTER", "otlp"),
        ("OTEL_LOGS_EXPORTER", "otlp,console"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "600000"),
        ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "60000"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "4000"),
    ]);
    for _ in 0..20 {
        let (status, _) = try_get(&addr, "/work", &[]).await.expect("answered");
        assert_eq!(status, 200);
    }
    let killed = Instant::now();
    demo.signal("TERM");
    let exit = demo.wait_exit(Duration::from_secs(120)).await;
    let took = killed.elapsed();
    eprintln!("collector down: exit {exit} {took:?} after SIGTERM (export timeout 4 s)");
    assert!(exit.success(), "{exit}");
    // Spans, metrics and logs wait for the one 4 s deadline together (one after the
    // other they would take 12 s or more); the rest is slack for a loaded machine.
    assert!(
        took < Duration::from_secs(11),
        "shutdown took {took:?} with a 4 s export timeout"
    );
    let lines = demo.read_to_end(Duration::from_secs(30));
    let warned = lines
        .iter()
        .find(|l| l["target"] == "sdk_core::shutdown" && l["level"] == "WARN")
        .expect("the failed delivery is logged");
    assert!(
        warned["message"]
            .as_str()
            .unwrap()
            .contains("sdk.exporter.dropped"),
        "{warned}"
    );
    drop(blackhole);
}
