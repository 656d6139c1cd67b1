//! The CPU profile route over real TCP: authorized requests get a pprof protobuf or a flame
//! graph naming the function that burned the CPU; refused, invalid and concurrent requests
//! take no profile; a client that goes away mid-profile frees the profiler. Every outcome
//! is counted in `sdk.profiles`.
//!
//! The profiler and its claim are process-wide, so the tests take turns (`SERIAL`) when a
//! runner puts them in one process.
#![cfg(feature = "profile")]

use pprof::protos::Message as _;
use sdk_core::catalogue::{CALLBACK_PANICS, PROFILES};
use sdk_core::semconv::sdk;
use sdk_core::testing::global;
use sdk_tower::profile::{ProfileRoute, bearer_token};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

const TOKEN: &str = "profile-test-token";
const BUSY_FUNCTION: &str = "profile_test_busy_spin_7f3e";

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Burns CPU until told to stop; the name the profiles must show.
#[inline(never)]
fn profile_test_busy_spin_7f3e(stop: &AtomicBool, rounds: &AtomicU64) {
    let mut x = 1u64;
    while !stop.load(Ordering::Relaxed) {
        for i in 0..10_000u64 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
        }
        rounds.fetch_add(1, Ordering::Relaxed);
    }
    std::hint::black_box(x);
}

/// A thread spinning in [`profile_test_busy_spin_7f3e`] while it lives.
struct Spinner {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Spinner {
    async fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicU64::new(0));
        let thread = std::thread::Builder::new()
            .name("busy-spinner".into())
            .spawn({
                let (stop, rounds) = (Arc::clone(&stop), Arc::clone(&rounds));
                move || profile_test_busy_spin_7f3e(&stop, &rounds)
            })
            .unwrap();
        while rounds.load(Ordering::Relaxed) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The route, telling the test each time its `call` has returned: by then a request that
/// may profile holds the process-wide claim (the route decides in `call`).
#[derive(Clone)]
struct Announced<S> {
    inner: S,
    called: UnboundedSender<()>,
}

impl<S, R> tower::Service<R> for Announced<S>
where
    S: tower::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> S::Future {
        let future = self.inner.call(request);
        let _ = self.called.send(());
        future
    }
}

struct Served {
    addr: SocketAddr,
    url: String,
    called: UnboundedReceiver<()>,
    client: reqwest::Client,
}

async fn serve() -> Served {
    global();
    let (called, receiver) = unbounded_channel();
    let route = Announced {
        inner: ProfileRoute::new(bearer_token(TOKEN)).max_seconds(30),
        called,
    };
    let app = axum::Router::new().route_service("/debug/profile", route);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Served {
        addr,
        url: format!("http://{addr}/debug/profile"),
        called: receiver,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap(),
    }
}

impl Served {
    async fn get(&self, query: &str, authorization: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{query}", self.url));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send().await.unwrap()
    }

    async fn authorized(&self, query: &str) -> reqwest::Response {
        self.get(query, Some(&format!("Bearer {TOKEN}"))).await
    }
}

/// The sum of `def`'s series whose label `key` is `value`, as the Prometheus exposition
/// shows them.
fn counted(def: &sdk_core::catalogue::MetricDef, key: &str, value: &str) -> f64 {
    let name = format!("{}{{", def.prometheus_name());
    let label = format!("{}=\"{value}\"", key.replace('.', "_"));
    global()
        .prometheus
        .render()
        .lines()
        .filter(|line| line.starts_with(&name) && line.contains(&label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// `sdk.profiles{sdk.result=result}`.
fn profiles(result: &str) -> f64 {
    counted(&PROFILES, sdk::RESULT, result)
}

/// Every outcome's count, in the order ok, busy, unauthorized, invalid, error.
fn outcomes() -> [f64; 5] {
    ["ok", "busy", "unauthorized", "invalid", "error"].map(profiles)
}

fn added(before: [f64; 5], after: [f64; 5]) -> [f64; 5] {
    std::array::from_fn(|i| after[i] - before[i])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pprof_profile_has_samples_of_the_busy_function() {
    let _serial = SERIAL.lock().await;
    let served = serve().await;
    let before = outcomes();
    let spinner = Spinner::start().await;
    let response = served.authorized("?seconds=1&format=pprof").await;
    drop(spinner);
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = response.bytes().await.unwrap();
    let profile = pprof::protos::Profile::decode(body.as_ref()).unwrap();
    assert!(!profile.sample.is_empty(), "no samples");
    assert!(
        profile
            .string_table
            .iter()
            .any(|s| s.contains(BUSY_FUNCTION)),
        "{BUSY_FUNCTION} not in the string table of {} strings",
        profile.string_table.len()
    );
    let sample_types: Vec<&str> = profile
        .sample_type
        .iter()
        .map(|t| profile.string_table[t.ty as usize].as_str())
        .collect();
    assert_eq!(sample_types, ["samples", "cpu"]);
    assert_eq!(profile.period, 1_000_000_000 / 99);
    assert!(profile.duration_nanos >= 1_000_000_000);
    assert_eq!(added(before, outcomes()), [1.0, 0.0, 0.0, 0.0, 0.0]);
    eprintln!(
        "pprof profile: {} bytes, {} samples, {} strings",
        body.len(),
        profile.sample.len(),
        profile.string_table.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svg_flame_graph_names_the_busy_function() {
    let _serial = SERIAL.lock().await;
    let served = serve().await;
    let before = outcomes();
    let spinner = Spinner::start().await;
    let response = served.authorized("?format=svg&seconds=1").await;
    drop(spinner);
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    let svg = response.text().await.unwrap();
    assert!(svg.starts_with("<?xml"), "{}", &svg[..svg.len().min(200)]);
    assert!(svg.contains("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(
        svg.contains(BUSY_FUNCTION),
        "{BUSY_FUNCTION} not in the SVG"
    );
    assert!(svg.contains("CPU, 1 s at 99 Hz"));
    assert_eq!(added(before, outcomes()), [1.0, 0.0, 0.0, 0.0, 0.0]);
    eprintln!("svg flame graph: {} bytes", svg.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_get_401_and_take_no_profile() {
    let _serial = SERIAL.lock().await;
    let served = serve().await;
    let before = outcomes();
    let started = Instant::now();
    for authorization in [
        None,
        Some("Bearer wrong-token"),
        Some(&format!("Basic {TOKEN}")[..]),
        Some(&format!("Bearer {TOKEN}x")[..]),
    ] {
        // Long windows and bad parameters: the hook is asked first and says no.
        for query in ["?seconds=30", "?seconds=0&format=json"] {
            let response = served.get(query, authorization).await;
            assert_eq!(response.status(), 401, "{authorization:?} {query}");
            let body = response.text().await.unwrap();
            assert!(body.starts_with("unauthorized"), "{body}");
            assert!(
                !body.contains("seconds"),
                "a refused caller learns nothing: {body}"
            );
        }
    }
    // Eight 30-second profiles would take minutes; none was taken.
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(added(before, outcomes()), [0.0, 0.0, 8.0, 0.0, 0.0]);
    // The profiler is free.
    assert_eq!(served.authorized("?seconds=1").await.status(), 200);
}

/// `sdk.callback.panics{sdk.callback="authorizer"}`.
fn authorizer_panics() -> f64 {
    counted(&CALLBACK_PANICS, sdk::CALLBACK, "authorizer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_hook_gets_500_and_is_counted_as_a_callback_panic() {
    let _serial = SERIAL.lock().await;
    global();
    let hook = |request: &http::request::Parts| -> bool {
        assert!(
            request.headers.contains_key("x-allow"),
            "hook refuses by panicking"
        );
        true
    };
    let app = axum::Router::new().route_service("/debug/profile", ProfileRoute::new(hook));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let (before, panics_before) = (outcomes(), authorizer_panics());
    let response = client
        .get(format!("http://{addr}/debug/profile?seconds=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let body = response.text().await.unwrap();
    assert!(
        !body.contains("refuses"),
        "the panic message stays inside: {body}"
    );
    assert_eq!(added(before, outcomes()), [0.0, 0.0, 0.0, 0.0, 1.0]);
    assert_eq!(authorizer_panics() - panics_before, 1.0);
    // The server goes on, and the profiler was never claimed.
    let response = client
        .get(format!("http://{addr}/debug/profile?seconds=1"))
        .header("x-allow", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_get_400_naming_the_accepted_values() {
    let _serial = SERIAL.lock().await;
    let served = serve().await;
    let before = outcomes();
    for (query, expected) in [
        (
            "?seconds=0",
            "seconds must be a whole number from 1 to 30, got \"0\"",
        ),
        (
            "?seconds=31",
            "seconds must be a whole number from 1 to 30, got \"31\"",
        ),
        (
            "?seconds=ten&format=svg",
            "seconds must be a whole number from 1 to 30, got \"ten\"",
        ),
        ("?seconds=1.5", "got \"1.5\""),
        ("?format=json", "format must be pprof or svg, got \"json\""),
        (
            "?secs=5",
            "unknown parameter \"secs\": the accepted parameters are seconds (a whole number \
             from 1 to 30, default 10) and format (pprof or svg, default pprof)",
        ),
        ("?seconds=1&seconds=2", "seconds is given more than once"),
    ] {
        let response = served.authorized(query).await;
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; charset=utf-8"
        );
        let body = response.text().await.unwrap();
        assert!(body.contains(expected), "{query}: {body}");
    }
    let post = served
        .client
        .post(&served.url)
        .header("authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET");
    assert_eq!(added(before, outcomes()), [0.0, 0.0, 0.0, 8.0, 0.0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_profile_while_one_runs_gets_409() {
    let _serial = SERIAL.lock().await;
    let mut served = serve().await;
    let before = outcomes();
    let first = tokio::spawn({
        let request = served
            .client
            .get(format!("{}?seconds=5", served.url))
            .header("authorization", format!("Bearer {TOKEN}"));
        async move { request.send().await.unwrap() }
    });
    // The first request has been called: it holds the profiler.
    served.called.recv().await.unwrap();
    let second = served.authorized("?seconds=1&format=svg").await;
    assert_eq!(second.status(), 409);
    let body = second.text().await.unwrap();
    assert!(
        body.starts_with("busy: a CPU profile is already being taken in this process"),
        "{body}"
    );
    let first = first.await.unwrap();
    assert_eq!(first.status(), 200);
    assert!(!first.bytes().await.unwrap().is_empty());
    assert_eq!(added(before, outcomes()), [1.0, 1.0, 0.0, 0.0, 0.0]);
    // Finished: the next one profiles.
    assert_eq!(served.authorized("?seconds=1").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_leaving_mid_profile_frees_the_profiler() {
    let _serial = SERIAL.lock().await;
    let mut served = serve().await;
    let before = outcomes();
    let stream = tokio::net::TcpStream::connect(served.addr).await.unwrap();
    let mut request = format!(
        "GET /debug/profile?seconds=30 HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {TOKEN}\r\n\r\n",
        served.addr
    )
    .into_bytes();
    while !request.is_empty() {
        stream.writable().await.unwrap();
        match stream.try_write(&request) {
            Ok(written) => drop(request.drain(..written)),
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) => panic!("{error}"),
        }
    }
    served.called.recv().await.unwrap();
    let busy = served.authorized("?seconds=1").await;
    assert_eq!(busy.status(), 409, "the 30 s profile runs");
    drop(stream);
    let left = Instant::now();

    // Had the profile gone on, the profiler would be busy for about 30 s more.
    let deadline = left + Duration::from_secs(20);
    let status = loop {
        let status = served.authorized("?seconds=1").await.status();
        if status != 409 || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        status, 200,
        "the profiler is still busy after the client left"
    );
    eprintln!("profiler free {:?} after the client left", left.elapsed());
    let [ok, busy, unauthorized, invalid, error] = added(before, outcomes());
    assert_eq!(ok, 1.0, "the abandoned profile is not counted");
    assert!(busy >= 1.0);
    assert_eq!([unauthorized, invalid, error], [0.0; 3]);
}
