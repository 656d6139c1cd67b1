//! Abuse of the demo's beacon route (`POST /rum`) over real loopback HTTP: every kind of
//! hostile beacon (oversized, deeply nested, malformed UTF-8, NaN / Infinity / negative /
//! huge values, wrong content types and methods, oversized headers), then a flood of
//! 10,000 beacons with distinct route templates and service names over a few connections.
//!
//! Every request must get an answer (2xx or 4xx: no 5xx, no reset before the answer, no
//! hang), each refusal counted by reason in `sdk.rum.beacons.rejected`; a refused body up
//! to 1 MiB is read in full, so the client's upload ends normally (beyond that the route
//! cuts the upload off once it has answered, by design); the series of every `browser.*`,
//! `sdk.browser.*` and `sdk.rum.*` metric on `/metrics` stay within the catalogue's
//! `max_series` (the distinct routes all land in `other`); the demo's resident memory
//! stays within [`RSS_GROWTH_LIMIT`] of what it was before; and another route (`/`)
//! keeps answering under the flood (a generous bound: timing on a loaded 2-core machine
//! must not flake). A second test turns the optional per-client rate limit on.
//!
//! The file is longer than 500 lines because the hostile catalogue, the raw HTTP client it
//! needs (a conforming client cannot send most of it) and the checks read best together.

mod common;

use bytes::Bytes;
use common::Demo;
use common::exposition::{self, Sample};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sdk_core::catalogue::{self, MetricKind, OVERFLOW_LABEL};
use sdk_core::rum::{Beacon, MAX_BEACON_BYTES, NavigationType, VitalName, VitalReport};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Beacons with distinct route templates and service names in the flood.
const DISTINCT_BEACONS: usize = 10_000;
/// Connections the flood is sent over.
const FLOOD_CONNECTIONS: usize = 4;
/// Requests to `/` timed before and during the flood.
const LATENCY_SAMPLES: usize = 200;
/// How much the demo's resident memory may grow through the whole abuse.
const RSS_GROWTH_LIMIT: u64 = 64 * 1024 * 1024;
/// Longest wait for any one answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// Bodies up to this size are read in full even when refused (the route drains them so
/// that a client uploading before it reads gets its answer); larger uploads are cut off
/// once answered, by design.
const DRAINED_BYTES: usize = 1024 * 1024;

/// How a hostile request's body is framed.
#[derive(Clone, Copy)]
enum Framing {
    /// `Content-Length` and the whole body.
    Length,
    /// `Transfer-Encoding: chunked`, 16 KiB chunks.
    Chunked,
    /// `Content-Length` of the body plus 1000, the body, then the write side closed.
    Truncated,
}

/// One hostile request and what it must get.
struct Hostile {
    name: &'static str,
    method: &'static str,
    content_type: Option<&'static str>,
    /// Extra header lines (`name: value\r\n` each).
    headers: String,
    body: Vec<u8>,
    framing: Framing,
    status: u16,
    /// The `sdk.reason` it is counted under (`None`: refused before the route).
    reason: Option<&'static str>,
}

fn hostile(
    name: &'static str,
    body: impl Into<Vec<u8>>,
    status: u16,
    reason: Option<&'static str>,
) -> Hostile {
    Hostile {
        name,
        method: "POST",
        content_type: Some("text/plain;charset=UTF-8"),
        headers: String::new(),
        body: body.into(),
        framing: Framing::Length,
        status,
        reason,
    }
}

/// A beacon with one LCP report whose value (and delta) is the raw JSON token `value`.
fn lcp_token(value: &str) -> String {
    format!(
        r#"{{"service":"abuse","route":"/","vitals":[{{"name":"LCP","value":{value},"delta":{value},"id":"v6-1-1","rating":"good","navigationType":"navigate"}}]}}"#
    )
}

/// A valid beacon from service `service` on route `route` with one LCP of `ms`.
fn beacon(service: &str, route: &str, ms: f64) -> Vec<u8> {
    let beacon = Beacon {
        service: service.into(),
        route: route.into(),
        vitals: vec![VitalReport {
            name: VitalName::Lcp,
            value: ms,
            delta: ms,
            id: "v6-1-1".into(),
            rating: VitalName::Lcp.rate(ms),
            navigation_type: NavigationType::Navigate,
            attribution: None,
        }],
        ..Beacon::default()
    };
    serde_json::to_vec(&beacon).unwrap()
}

/// Every hostile kind, with the answer and rejection reason it must get.
fn hostile_requests() -> Vec<Hostile> {
    let mut at_limit = beacon("abuse", "/abuse/at-limit", 1200.0);
    at_limit.resize(MAX_BEACON_BYTES, b' ');
    let over_limit = {
        let mut b = beacon("abuse", "/abuse/over-limit", 1200.0);
        b.resize(MAX_BEACON_BYTES + 1, b' ');
        b
    };
    let several_mb = {
        let mut b = beacon("abuse", "/", 1200.0);
        b.resize(5 * 1024 * 1024, b' ');
        b
    };
    let nested_in_beacon = format!(
        r#"{{"service":"abuse","route":"/","vitals":{}"#,
        "[".repeat(50_000)
    );
    let forty_errors = format!(
        r#"{{"service":"abuse","route":"/","errors":[{}]}}"#,
        vec![r#"{"kind":"error","message":"x"}"#; 40].join(",")
    );
    let mut requests = vec![
        // Size.
        hostile("exactly 64 KiB (valid, padded)", at_limit, 204, None),
        hostile("64 KiB + 1", over_limit.clone(), 413, Some("too_large")),
        Hostile {
            framing: Framing::Chunked,
            ..hostile("64 KiB + 1, chunked", over_limit, 413, Some("too_large"))
        },
        hostile("5 MiB", several_mb.clone(), 413, Some("too_large")),
        Hostile {
            framing: Framing::Chunked,
            ..hostile("5 MiB, chunked", several_mb, 413, Some("too_large"))
        },
        // Nesting.
        hostile("100k `[`", "[".repeat(100_000), 413, Some("too_large")),
        hostile("60k `[`", "[".repeat(60_000), 400, Some("malformed")),
        hostile(
            "10k nested objects",
            r#"{"a":"#.repeat(10_000),
            400,
            Some("malformed"),
        ),
        hostile(
            "50k `[` inside a beacon",
            nested_in_beacon,
            400,
            Some("malformed"),
        ),
        // Encoding.
        hostile(
            "invalid UTF-8 byte",
            &b"{\"service\":\"\xff\xfe\",\"route\":\"/\"}"[..],
            400,
            Some("malformed"),
        ),
        hostile(
            "overlong UTF-8",
            &b"{\"service\":\"\xc0\xaf\",\"route\":\"/\"}"[..],
            400,
            Some("malformed"),
        ),
        hostile(
            "lone surrogate escape",
            r#"{"service":"\ud800","route":"/"}"#,
            400,
            Some("malformed"),
        ),
        Hostile {
            content_type: Some("application/json; charset=utf-16"),
            ..hostile(
                "UTF-16 body",
                lcp_token("1")
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect::<Vec<u8>>(),
                400,
                Some("malformed"),
            )
        },
        hostile("empty body", "", 400, Some("malformed")),
        hostile("JSON null", "null", 400, Some("malformed")),
        hostile(
            "duplicate field",
            r#"{"service":"a","service":"b","route":"/"}"#,
            400,
            Some("malformed"),
        ),
        // Numbers.
        hostile("NaN", lcp_token("NaN"), 400, Some("malformed")),
        hostile("Infinity", lcp_token("Infinity"), 400, Some("malformed")),
        hostile("-Infinity", lcp_token("-Infinity"), 400, Some("malformed")),
        hostile("-1", lcp_token("-1"), 400, Some("out_of_range")),
        hostile("1e308", lcp_token("1e308"), 400, Some("out_of_range")),
        hostile("-1e308", lcp_token("-1e308"), 400, Some("out_of_range")),
        hostile(
            "1e309 (overflows f64)",
            lcp_token("1e309"),
            400,
            Some("malformed"),
        ),
        hostile(
            "CLS 1e308",
            lcp_token("1e308").replace("LCP", "CLS"),
            400,
            Some("out_of_range"),
        ),
        hostile(
            "attribution 1e308",
            r#"{"service":"abuse","route":"/","vitals":[{"name":"INP","value":90,"delta":90,"id":"a","rating":"good","navigationType":"navigate","attribution":{"inputDelay":1e308}}]}"#,
            400,
            Some("out_of_range"),
        ),
        hostile(
            "droppedErrors -1",
            r#"{"service":"abuse","route":"/","droppedErrors":-1}"#,
            400,
            Some("malformed"),
        ),
        hostile(
            "droppedErrors 2^32",
            r#"{"service":"abuse","route":"/","droppedErrors":4294967296}"#,
            400,
            Some("malformed"),
        ),
        // Counts, lengths, ids.
        hostile("40 errors", forty_errors, 400, Some("too_many")),
        hostile(
            "129-byte route",
            beacon("abuse", &format!("/{}", "r".repeat(128)), 100.0),
            400,
            Some("too_many"),
        ),
        hostile(
            "bad trace id",
            r#"{"service":"abuse","route":"/","traceId":"zz"}"#,
            400,
            Some("bad_trace_id"),
        ),
        // Content types and methods.
        Hostile {
            content_type: Some("application/x-www-form-urlencoded"),
            ..hostile(
                "form content type",
                lcp_token("1"),
                415,
                Some("content_type"),
            )
        },
        Hostile {
            content_type: Some("multipart/form-data; boundary=x"),
            ..hostile("multipart", lcp_token("1"), 415, Some("content_type"))
        },
        Hostile {
            content_type: None,
            ..hostile("no content type", lcp_token("1"), 415, Some("content_type"))
        },
        Hostile {
            method: "PUT",
            ..hostile("PUT", lcp_token("1"), 405, Some("method"))
        },
        Hostile {
            method: "DELETE",
            ..hostile("DELETE", "", 405, Some("method"))
        },
        Hostile {
            method: "FOOBAR",
            ..hostile("unknown method", lcp_token("1"), 405, Some("method"))
        },
        // A body shorter than announced: the client gives up mid-upload.
        Hostile {
            framing: Framing::Truncated,
            ..hostile("truncated body", lcp_token("1"), 400, Some("body"))
        },
        // Refused by the HTTP server before the route runs (not counted as beacons).
        Hostile {
            headers: format!("x-junk: {}\r\n", "j".repeat(512 * 1024)),
            ..hostile("512 KiB header", lcp_token("1"), 431, None)
        },
        Hostile {
            headers: (0..200).map(|i| format!("x-junk-{i}: {i}\r\n")).collect(),
            ..hostile("200 headers", lcp_token("1"), 431, None)
        },
        // Both framings (request smuggling): the chunked one wins (RFC 9112), so the
        // route reads the whole body and refuses it for what it is.
        Hostile {
            framing: Framing::Chunked,
            headers: "content-length: 5\r\n".to_owned(),
            ..hostile(
                "chunked and a length",
                lcp_token("NaN"),
                400,
                Some("malformed"),
            )
        },
    ];
    // Sent twice each: a second answer on a fresh connection shows nothing was left broken.
    let again: Vec<Hostile> = requests
        .iter()
        .map(|h| Hostile {
            headers: h.headers.clone(),
            body: h.body.clone(),
            ..*h
        })
        .collect();
    requests.extend(again);
    requests
}

/// How a hostile request went: its answer's status, and whether its whole body was written
/// (the route refuses a body announced beyond 1 MiB without reading it, so that upload is
/// cut off after the answer).
struct Answered {
    status: u16,
    uploaded: bool,
}

/// The answer to `request` on a fresh connection (`Connection: close`), or how the
/// connection failed before a whole answer head arrived. The body is written while the
/// answer is read, as a browser uploads.
async fn exchange(addr: &str, request: &Hostile) -> Result<Answered, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut reader, mut writer) = stream.into_split();
    let mut head = format!(
        "{} /rum HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n{}",
        request.method, request.headers
    );
    if let Some(content_type) = request.content_type {
        head.push_str(&format!("content-type: {content_type}\r\n"));
    }
    let mut wire = Vec::new();
    match request.framing {
        Framing::Length => {
            head.push_str(&format!("content-length: {}\r\n\r\n", request.body.len()));
            wire.extend_from_slice(head.as_bytes());
            wire.extend_from_slice(&request.body);
        }
        Framing::Truncated => {
            head.push_str(&format!(
                "content-length: {}\r\n\r\n",
                request.body.len() + 1000
            ));
            wire.extend_from_slice(head.as_bytes());
            wire.extend_from_slice(&request.body);
        }
        Framing::Chunked => {
            head.push_str("transfer-encoding: chunked\r\n\r\n");
            wire.extend_from_slice(head.as_bytes());
            for chunk in request.body.chunks(16 * 1024) {
                wire.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                wire.extend_from_slice(chunk);
                wire.extend_from_slice(b"\r\n");
            }
            wire.extend_from_slice(b"0\r\n\r\n");
        }
    }
    let half_close = matches!(request.framing, Framing::Truncated);
    // Returns the write half, so that it is not closed before the answer is read.
    let upload = tokio::spawn(async move {
        let written = writer.write_all(&wire).await.is_ok();
        if half_close {
            let _ = writer.shutdown().await;
        }
        (written, writer)
    });
    let exchange = async {
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match reader.read(&mut buf).await {
                Ok(0) => return Err("closed before an answer".to_owned()),
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(e) => return Err(format!("{e} before an answer")),
            }
        }
        // The server closes after answering (`Connection: close`): then the upload has
        // either ended or failed.
        while matches!(reader.read(&mut buf).await, Ok(n) if n > 0) {}
        let (uploaded, _writer) = upload.await.map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&answer);
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not an HTTP answer: {text:?}"))?;
        Ok(Answered { status, uploaded })
    };
    tokio::time::timeout(ANSWER_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("no answer within {ANSWER_TIMEOUT:?}"))?
}

/// `VmRSS` and `VmHWM` of `pid`, in bytes.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

async fn scrape(addr: &str) -> Vec<Sample> {
    let (status, _, text) = common::get(addr, "/metrics", &[]).await;
    assert_eq!(status, 200);
    exposition::parse(&text)
}

/// `LATENCY_SAMPLES` sequential `GET /` on one keep-alive connection: (p50, p99).
async fn latency(addr: &str) -> (Duration, Duration) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut times = Vec::with_capacity(LATENCY_SAMPLES);
    for _ in 0..LATENCY_SAMPLES {
        let started = Instant::now();
        let answer = client
            .get(format!("http://{addr}/").parse().unwrap())
            .await
            .expect("GET / answers");
        assert_eq!(answer.status(), 200);
        answer.into_body().collect().await.expect("body of /");
        times.push(started.elapsed());
    }
    times.sort();
    (
        times[LATENCY_SAMPLES / 2],
        times[LATENCY_SAMPLES * 99 / 100],
    )
}

/// What the flood's answers were.
#[derive(Debug, Default)]
struct Tally {
    statuses: BTreeMap<u16, usize>,
    /// Reasons the flood's hostile beacons must have been counted under.
    reasons: BTreeMap<&'static str, usize>,
    /// Accepted beacons on a route outside the configured templates.
    accepted_other: usize,
    failures: Vec<String>,
}

/// The flood's `i`-th request: mostly valid beacons, each from its own route template and
/// service name; one in ten hostile.
fn flood_request(i: usize) -> (&'static str, Vec<u8>, u16, Option<&'static str>) {
    let ms = (i % 5000) as f64;
    match i % 10 {
        3 => (
            "text/plain",
            lcp_token("NaN").into_bytes(),
            400,
            Some("malformed"),
        ),
        6 => (
            "text/plain",
            lcp_token("-5").into_bytes(),
            400,
            Some("out_of_range"),
        ),
        9 => (
            "image/png",
            beacon("abuse", "/", ms),
            415,
            Some("content_type"),
        ),
        _ => (
            "text/plain;charset=UTF-8",
            beacon(&format!("abuse-svc-{i}"), &format!("/abuse/{i}/{{id}}"), ms),
            204,
            None,
        ),
    }
}

/// One flood connection: takes request numbers until `DISTINCT_BEACONS` were taken and the
/// latency sampler is done.
async fn flood_worker(addr: String, next: Arc<AtomicUsize>, sampled: Arc<AtomicBool>) -> Tally {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut tally = Tally::default();
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        // Bounded either way: the sampler needs a few seconds at most.
        if (i >= DISTINCT_BEACONS && sampled.load(Ordering::Relaxed)) || i >= 3 * DISTINCT_BEACONS {
            return tally;
        }
        let (content_type, body, expected, reason) = flood_request(i);
        let request = http::Request::post(format!("http://{addr}/rum"))
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        match tokio::time::timeout(ANSWER_TIMEOUT, client.request(request)).await {
            Ok(Ok(answer)) => {
                let status = answer.status().as_u16();
                *tally.statuses.entry(status).or_default() += 1;
                if status != expected {
                    tally
                        .failures
                        .push(format!("flood #{i}: {status}, not {expected}"));
                } else if let Some(reason) = reason {
                    *tally.reasons.entry(reason).or_default() += 1;
                } else {
                    tally.accepted_other += 1;
                }
                if let Err(e) = answer.into_body().collect().await {
                    tally.failures.push(format!("flood #{i}: body {e}"));
                }
            }
            Ok(Err(e)) => tally.failures.push(format!("flood #{i}: {e:?}")),
            Err(_) => tally
                .failures
                .push(format!("flood #{i}: no answer in time")),
        }
    }
}

/// Distinct series (label sets, `le` aside) of `def` in `samples`: (own series, overflow).
fn series_of(def: &catalogue::MetricDef, samples: &[Sample]) -> (usize, usize) {
    let name = def.prometheus_name();
    let names: Vec<String> = match def.kind {
        MetricKind::Histogram => ["_bucket", "_sum", "_count"]
            .iter()
            .map(|s| format!("{name}{s}"))
            .collect(),
        _ => vec![name],
    };
    let overflow = OVERFLOW_LABEL.replace('.', "_");
    let sets: BTreeSet<Vec<(String, String)>> = samples
        .iter()
        .filter(|s| names.contains(&s.name))
        .map(|s| {
            s.labels
                .iter()
                .filter(|(k, _)| *k != "le")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .collect();
    let folded = sets
        .iter()
        .filter(|set| set.iter().any(|(k, _)| *k == overflow))
        .count();
    (sets.len() - folded, folded)
}

fn rejected_increase(after: &[Sample], before: &[Sample]) -> BTreeMap<String, usize> {
    let name = catalogue::RUM_BEACONS_REJECTED.prometheus_name();
    exposition::sum_by(
        &exposition::increase(after, before),
        &name,
        &["sdk_reason"],
        |_| true,
    )
    .into_iter()
    .filter(|(_, v)| *v > 0.0)
    .map(|(k, v)| (k[0].clone(), v as usize))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_beacons_and_a_flood_get_answers_and_bounded_series_and_memory() {
    let started = Instant::now();
    let (demo, addr) = Demo::start(&[]);
    let pid = demo.child.id();
    // Warm up: the route, the metrics and the allocator's first arenas.
    for _ in 0..20 {
        assert_eq!(common::get(&addr, "/", &[]).await.0, 200);
    }
    let before = scrape(&addr).await;
    let (rss_before, _) = memory(pid);
    let (baseline_p50, baseline_p99) = latency(&addr).await;

    // Every hostile kind, each on its own connection.
    let mut expected_reasons: BTreeMap<&str, usize> = BTreeMap::new();
    let mut accepted_other = 0;
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut cut_off = BTreeSet::new();
    for request in hostile_requests() {
        match exchange(&addr, &request).await {
            Ok(Answered { status, uploaded }) => {
                if !uploaded {
                    cut_off.insert(request.name);
                    // hyper's own refusals (431) close without reading, as does the
                    // route beyond its drain bound.
                    if request.status != 431 && request.body.len() <= DRAINED_BYTES {
                        failures.push(format!("{}: upload cut off", request.name));
                    }
                }
                *statuses.entry(status).or_default() += 1;
                if status != request.status {
                    failures.push(format!(
                        "{}: {status}, not {}",
                        request.name, request.status
                    ));
                }
                match request.reason {
                    Some(reason) => *expected_reasons.entry(reason).or_default() += 1,
                    None if status == 204 => accepted_other += 1,
                    None => {}
                }
            }
            Err(e) => failures.push(format!("{}: {e}", request.name)),
        }
    }
    println!(
        "hostile kinds: answers by status {statuses:?}; uploads cut off after the answer: {cut_off:?}"
    );
    assert!(failures.is_empty(), "hostile requests: {failures:#?}");

    // The flood, with `/` timed while it runs.
    let next = Arc::new(AtomicUsize::new(0));
    let sampled = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..FLOOD_CONNECTIONS)
        .map(|_| tokio::spawn(flood_worker(addr.clone(), next.clone(), sampled.clone())))
        .collect();
    let flood_started = Instant::now();
    let (flood_p50, flood_p99) = latency(&addr).await;
    sampled.store(true, Ordering::Relaxed);
    let sent_while_sampling = next.load(Ordering::Relaxed);
    let mut flood = Tally::default();
    for worker in workers {
        let tally = worker.await.unwrap();
        for (status, n) in tally.statuses {
            *flood.statuses.entry(status).or_default() += n;
        }
        for (reason, n) in tally.reasons {
            *flood.reasons.entry(reason).or_default() += n;
        }
        flood.accepted_other += tally.accepted_other;
        flood.failures.extend(tally.failures);
    }
    let flood_time = flood_started.elapsed();
    let flood_total: usize = flood.statuses.values().sum();
    println!(
        "flood: {flood_total} requests over {FLOOD_CONNECTIONS} connections in {flood_time:.2?} \
         ({sent_while_sampling} started while / was timed); answers by status {:?}",
        flood.statuses
    );
    assert!(
        flood.failures.is_empty(),
        "{} flood requests failed: {:#?}",
        flood.failures.len(),
        &flood.failures[..flood.failures.len().min(20)]
    );
    assert!(flood.accepted_other >= DISTINCT_BEACONS * 7 / 10);
    for (reason, n) in flood.reasons {
        *expected_reasons.entry(reason).or_default() += n;
    }
    accepted_other += flood.accepted_other;

    // Never a server error: each status was also checked against the one expected.
    assert!(
        statuses
            .keys()
            .chain(flood.statuses.keys())
            .all(|status| (200..500).contains(status)),
        "{statuses:?} {:?}",
        flood.statuses
    );

    let (rss_after, peak) = memory(pid);
    let after = scrape(&addr).await;

    // Every refusal counted under its reason, nothing else.
    let counted = rejected_increase(&after, &before);
    let expected: BTreeMap<String, usize> = expected_reasons
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    println!("rejections counted by reason: {counted:?}");
    assert_eq!(counted, expected, "sdk.rum.beacons.rejected by reason");

    // Every accepted beacon on an unlisted route recorded under `other`; no raw route or
    // service name anywhere.
    let other = exposition::sum_by(
        &exposition::increase(&after, &before),
        &format!(
            "{}_count",
            catalogue::BROWSER_WEB_VITAL_DURATION.prometheus_name()
        ),
        &["http_route"],
        |s| s.label("browser_web_vital_name") == "LCP",
    );
    assert_eq!(
        other.get(&vec!["other".to_owned()]).copied(),
        Some(accepted_other as f64),
        "LCP counts by route: {other:?}"
    );
    let leaked: Vec<&Sample> = after
        .iter()
        .filter(|s| s.labels.values().any(|v| v.contains("abuse")))
        .collect();
    assert!(
        leaked.is_empty(),
        "raw routes or services on /metrics: {leaked:?}"
    );

    // Series within the catalogue's ceilings.
    for def in catalogue::ALL.iter().filter(|d| {
        ["browser.", "sdk.browser.", "sdk.rum."]
            .iter()
            .any(|p| d.name.starts_with(p))
    }) {
        let (own, folded) = series_of(def, &after);
        println!(
            "{}: {own} series (+{folded} overflow), ceiling {}",
            def.name, def.max_series
        );
        assert!(own <= def.max_series, "{}: {own} series", def.name);
        assert!(folded <= 1, "{}: {folded} overflow series", def.name);
    }

    // Memory.
    println!(
        "demo RSS: {:.1} MiB before, {:.1} MiB after (peak {:.1} MiB); limit +{:.0} MiB",
        mib(rss_before),
        mib(rss_after),
        mib(peak),
        mib(RSS_GROWTH_LIMIT)
    );
    assert!(
        rss_after <= rss_before + RSS_GROWTH_LIMIT,
        "RSS grew from {rss_before} to {rss_after} bytes"
    );

    // The other routes kept answering: a generous bound, the numbers printed.
    println!(
        "GET / latency: p50 {baseline_p50:.2?} / p99 {baseline_p99:.2?} before, \
         p50 {flood_p50:.2?} / p99 {flood_p99:.2?} under the flood"
    );
    // Only a bound no loaded machine comes near: the figures are the printed numbers
    // (latency belongs to benchmarks and the drill, not to a test's pass or fail).
    let bound = Duration::from_secs(1);
    assert!(
        flood_p50 < bound,
        "GET / p50 under the flood {flood_p50:?} ≥ {bound:?} (baseline {baseline_p50:?})"
    );
    println!("test took {:.2?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_optional_rate_limit_answers_429_per_client() {
    // At 1 a second, the 40 beacons would have to take 30 s for the refill to admit them all.
    const RATE: u32 = 1;
    const BURST: u32 = 10;
    const SENT: usize = 40;
    let (_demo, addr) = Demo::start(&[("DEMO_RUM_RATE_LIMIT", &format!("{RATE},{BURST}"))]);
    let before = scrape(&addr).await;
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let started = Instant::now();
    let mut accepted = 0;
    let mut limited = 0;
    for i in 0..SENT {
        let request = http::Request::post(format!("http://{addr}/rum"))
            .header("content-type", "text/plain")
            .body(Full::new(Bytes::from(beacon("web", "/", i as f64))))
            .unwrap();
        let answer = client.request(request).await.expect("an answer");
        match answer.status().as_u16() {
            204 => accepted += 1,
            429 => {
                limited += 1;
                let wait: u64 = answer.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=60).contains(&wait), "Retry-After: {wait}");
            }
            other => panic!("beacon {i}: {other}"),
        }
        // Other routes are not limited.
        assert_eq!(common::get(&addr, "/", &[]).await.0, 200);
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "rate limit {RATE}/s, burst {BURST}: {accepted} accepted, {limited} limited in {elapsed:.2} s"
    );
    assert!(
        limited > 0,
        "no beacon was limited: the 40 beacons took {elapsed:.1} s (the limit admits them all only past 30 s)"
    );
    // The burst, plus what the rate refilled while sending.
    let most = BURST as usize + (f64::from(RATE) * elapsed).ceil() as usize;
    assert!(
        (BURST as usize..=most).contains(&accepted),
        "{accepted} accepted"
    );
    let counted = rejected_increase(&scrape(&addr).await, &before);
    let expected: BTreeMap<String, usize> = (limited > 0)
        .then(|| ("rate_limited".to_owned(), limited))
        .into_iter()
        .collect();
    assert_eq!(counted, expected, "rejections by reason");
}
