//! The beacon ingestion route over real TCP: accepted beacons become web-vital histograms
//! on `/metrics` (checked by promtool), hostile ones get 4xx and are counted.

use sdk_core::testing::global;
use sdk_tower::rum::RumIngest;

async fn serve() -> String {
    global();
    let ingest = RumIngest::new()
        .routes(["/", "/products/{id}"])
        .allow_origin("https://shop.example");
    let app = axum::Router::new().route_service("/rum", ingest);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/rum")
}

/// Statuses of: a chunked 70 KiB body written in full before reading; an `OPTIONS` on the
/// same connection; a 70 KiB `Content-Length` with `Expect: 100-continue` and no body sent.
fn oversized_over_raw_tcp(authority: &str) -> [u16; 3] {
    use std::io::Write;
    let connect = || {
        let stream = std::net::TcpStream::connect(authority).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        stream
    };
    let mut stream = connect();
    let body = format!("{{\"service\":\"{}\"}}", "x".repeat(70 * 1024));
    write!(
        stream,
        "POST /rum HTTP/1.1\r\nhost: {authority}\r\norigin: https://shop.example\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n\
         {:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    )
    .unwrap();
    let chunked = read_status(&mut stream);
    write!(
        stream,
        "OPTIONS /rum HTTP/1.1\r\nhost: {authority}\r\norigin: https://shop.example\r\n\
         access-control-request-method: POST\r\n\r\n"
    )
    .unwrap();
    let preflight = read_status(&mut stream);
    let mut stream = connect();
    write!(
        stream,
        "POST /rum HTTP/1.1\r\nhost: {authority}\r\ncontent-type: text/plain\r\n\
         content-length: {}\r\nexpect: 100-continue\r\n\r\n",
        70 * 1024
    )
    .unwrap();
    let expecting = read_status(&mut stream);
    [chunked, preflight, expecting]
}

/// Reads one answer's head (the answers here have empty bodies) and returns its status.
fn read_status(stream: &mut std::net::TcpStream) -> u16 {
    use std::io::Read;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = stream.read(&mut byte).unwrap();
        assert_eq!(read, 1, "closed after {:?}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(
        head.starts_with("HTTP/1.1 204") || head.contains("content-length: 0\r\n"),
        "{head}"
    );
    head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap()
}

fn metric_value(metrics: &str, prefix: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

const BEACON: &str = r#"{
  "service": "shop-web", "version": "1.2.0", "env": "ci",
  "route": "/products/{id}",
  "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
  "vitals": [
    {"name":"LCP","value":1830.5,"delta":1830.5,"id":"v6-1-1","rating":"good","navigationType":"navigate"},
    {"name":"INP","value":320,"delta":320,"id":"v6-1-2","rating":"needs-improvement","navigationType":"navigate"},
    {"name":"CLS","value":0.31,"delta":0.31,"id":"v6-1-3","rating":"poor","navigationType":"back-forward-cache"},
    {"name":"TTFB","value":95,"delta":95,"id":"v6-1-4","rating":"good","navigationType":"navigate"}
  ],
  "errors": [{"kind":"error","message":"TypeError: x is undefined"}]
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beacons_become_histograms_and_hostile_input_is_refused() {
    let url = serve().await;
    let client = reqwest::Client::new();
    let post = |body: String, content_type: &'static str| {
        let client = client.clone();
        let url = url.clone();
        async move {
            client
                .post(url)
                .header("content-type", content_type)
                .header("origin", "https://shop.example")
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };

    // sendBeacon sends text/plain; fetch sends application/json.
    let accepted = post(BEACON.to_owned(), "text/plain;charset=UTF-8").await;
    assert_eq!(accepted.status(), 204);
    assert_eq!(
        accepted.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    let unlisted = BEACON.replace("/products/{id}", "/secret/raw/path/123");
    assert_eq!(post(unlisted, "application/json").await.status(), 204);

    // Hostile input.
    let unknown_name = BEACON.replace("\"TTFB\"", "\"XYZ\"");
    assert_eq!(post(unknown_name, "application/json").await.status(), 400);
    let lying_rating = BEACON.replace(
        r#""value":1830.5,"delta":1830.5,"id":"v6-1-1","rating":"good""#,
        r#""value":9830.5,"delta":1830.5,"id":"v6-1-1","rating":"good""#,
    );
    assert_eq!(post(lying_rating, "application/json").await.status(), 400);
    let huge = format!("{{\"service\":\"{}\"}}", "x".repeat(70 * 1024));
    assert_eq!(post(huge, "application/json").await.status(), 413);
    // Clients that upload the whole body before reading the answer, as browsers do: the
    // 413 arrives (no reset), and the connection stays usable.
    let authority = url
        .trim_start_matches("http://")
        .trim_end_matches("/rum")
        .to_owned();
    let statuses = tokio::task::spawn_blocking(move || oversized_over_raw_tcp(&authority))
        .await
        .unwrap();
    assert_eq!(statuses, [413, 204, 413]);
    assert_eq!(
        post("not json".to_owned(), "application/json")
            .await
            .status(),
        400
    );
    assert_eq!(post(BEACON.to_owned(), "image/png").await.status(), 415);
    let get = client.get(&url).send().await.unwrap();
    assert_eq!(get.status(), 405);
    // CORS: preflight from an allowed origin; nothing for others.
    let preflight = client
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-methods"],
        "POST, OPTIONS"
    );
    let stranger = client
        .post(&url)
        .header("content-type", "application/json")
        .header("origin", "https://evil.example")
        .body(BEACON)
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 403);
    assert!(
        stranger
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let metrics = global().prometheus.render();
    if let Err(findings) = sdk_core::testing::promtool_check(&metrics) {
        panic!("{findings}\n{metrics}");
    }
    let lcp = r#"browser_web_vital_duration_seconds_count{browser_web_vital_name="LCP",browser_web_vital_rating="good",browser_web_vital_navigation_type="navigate",http_route="/products/{id}"}"#;
    // The first beacon only: the unlisted-route one is `other`, the stranger's refused.
    assert_eq!(metric_value(&metrics, lcp), 1.0, "{metrics}");
    let lcp_sum = r#"browser_web_vital_duration_seconds_sum{browser_web_vital_name="LCP",browser_web_vital_rating="good",browser_web_vital_navigation_type="navigate",http_route="/products/{id}"}"#;
    assert!((metric_value(&metrics, lcp_sum) - 1.8305).abs() < 1e-9);
    let cls = r#"browser_web_vital_cls_count{browser_web_vital_name="CLS",browser_web_vital_rating="poor",browser_web_vital_navigation_type="back-forward-cache",http_route="/products/{id}"}"#;
    assert_eq!(metric_value(&metrics, cls), 1.0, "{metrics}");
    assert!(metrics.contains(r#"http_route="other""#));
    assert!(!metrics.contains("/secret/raw/path"), "raw path leaked");
    assert_eq!(
        metric_value(
            &metrics,
            r#"sdk_browser_errors_total{http_route="/products/{id}",error_type="error"}"#
        ),
        1.0
    );
    let rejected = |reason: &str| {
        metric_value(
            &metrics,
            &format!(r#"sdk_rum_beacons_rejected_total{{sdk_reason="{reason}"}}"#),
        )
    };
    assert_eq!(rejected("malformed"), 2.0);
    assert_eq!(rejected("out_of_range"), 1.0);
    assert_eq!(rejected("too_large"), 3.0);
    assert_eq!(rejected("content_type"), 1.0);
    assert_eq!(rejected("method"), 1.0);
    assert_eq!(rejected("origin"), 1.0);
}
