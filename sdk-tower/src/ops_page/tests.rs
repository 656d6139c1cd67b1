use super::*;
use http_body_util::BodyExt;
use sdk_core::catalogue::{self, MetricKind};
use sdk_core::ops::Spec;
use serde_json::Value;
use tower::ServiceExt;

const SPEC: &str = r#"
service: shop
runbook_url: https://runbooks.example/shop
slos:
  - name: requests-availability
    description: "Requests succeed </script><script>alert(1)</script>"
    objective: 99.9
    sli: {kind: availability}
  - name: lcp-good
    description: Pages paint fast.
    objective: 75
    sli: {kind: web_vital, name: LCP}
"#;

async fn call(page: &OpsPage, method: Method) -> (StatusCode, http::HeaderMap, String) {
    let request = Request::builder()
        .method(method)
        .uri("/ops")
        .body(String::new())
        .unwrap();
    let response = page.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

/// The JSON in the page's configuration element.
fn embedded_config(html: &str) -> Value {
    let start = r#"<script id="ops-config" type="application/json">"#;
    let after = &html[html.find(start).expect("a configuration element") + start.len()..];
    let json = &after[..after.find("</script>").expect("the element closes")];
    serde_json::from_str(json).expect("the configuration is JSON")
}

#[tokio::test]
async fn get_answers_the_page_with_the_catalogue_names_embedded() {
    let spec = Spec::from_yaml(SPEC).unwrap();
    let page = OpsPage::new("/metrics")
        .with_spec(&spec)
        .refresh_every(Duration::from_secs(7));
    let (status, headers, html) = call(&page, Method::GET).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    assert!(policy.contains("connect-src 'self'"), "{policy}");

    let config = embedded_config(&html);
    assert_eq!(config["metricsPath"], "/metrics");
    assert_eq!(config["refreshMs"], 7000);
    assert_eq!(
        config["metrics"]["httpDuration"],
        catalogue::HTTP_SERVER_REQUEST_DURATION.prometheus_name()
    );
    assert_eq!(
        config["metrics"]["exporterDropped"],
        catalogue::EXPORTER_DROPPED.prometheus_name()
    );
    assert_eq!(config["labels"]["route"], "http_route");
    assert_eq!(config["labels"]["status"], "http_response_status_code");
    assert_eq!(
        config["labels"]["pool"], "db_client_connection_pool_name",
        "dots become underscores as in the exposition"
    );
    // Every metric the page reads is a catalogue metric, by its Prometheus name.
    for (key, name) in config["metrics"].as_object().unwrap() {
        let name = name.as_str().unwrap();
        assert!(
            catalogue::find_prometheus(name).is_some(),
            "{key}: {name} is not in the catalogue"
        );
    }
    let vitals = config["vitals"].as_array().unwrap();
    assert_eq!(vitals.len(), sdk_core::rum::VitalName::ALL.len());
    let lcp = vitals.iter().find(|v| v["name"] == "LCP").unwrap();
    assert_eq!(lcp["good"], 2.5, "LCP is good up to 2.5 s");
    assert_eq!(
        lcp["metric"],
        catalogue::BROWSER_WEB_VITAL_DURATION.prometheus_name()
    );
    let cls = vitals.iter().find(|v| v["name"] == "CLS").unwrap();
    assert_eq!(
        cls["metric"],
        catalogue::BROWSER_WEB_VITAL_CLS.prometheus_name()
    );
    assert_eq!(
        catalogue::BROWSER_WEB_VITAL_CLS.kind,
        MetricKind::Histogram,
        "vitals are read as histograms"
    );

    let slos = config["slos"].as_array().unwrap();
    assert_eq!(slos.len(), 2);
    assert_eq!(slos[0]["name"], "requests-availability");
    assert_eq!(slos[0]["objective"], 99.9);
    assert_eq!(slos[0]["sli"]["kind"], "availability");
    assert_eq!(slos[1]["sli"]["kind"], "web_vital");
    assert_eq!(slos[1]["sli"]["good"], 2.5);
    assert_eq!(
        html.matches("</script>").count(),
        2,
        "a description cannot close the configuration element"
    );
    assert!(
        slos[0]["description"]
            .as_str()
            .unwrap()
            .contains("</script>"),
        "the text survives the escaping"
    );

    // The script spells no metric name and no label key: it reads them all from the
    // configuration.
    let script = SCRIPTS.join("\n");
    for def in catalogue::ALL {
        assert!(
            !script.contains(&def.prometheus_name()),
            "{} spelled in the script",
            def.name
        );
    }
    for key in config["labels"].as_object().unwrap().values() {
        let key = key.as_str().unwrap();
        assert!(!script.contains(key), "{key} spelled in the script");
    }
    assert!(!script.contains("</script") && !script.contains("<!--"));
    for external in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "url(",
        "@import",
    ] {
        assert!(
            !html.contains(external),
            "the page loads nothing else: {external}"
        );
    }
}

#[tokio::test]
async fn head_answers_headers_only_and_other_methods_405() {
    let page = OpsPage::new("/metrics");
    let (status, headers, body) = call(&page, Method::HEAD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(body.is_empty());

    for method in [Method::POST, Method::PUT, Method::DELETE] {
        let (status, headers, body) = call(&page, method.clone()).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(headers[header::ALLOW], "GET, HEAD");
        assert!(body.is_empty());
    }
}

#[tokio::test]
async fn defaults_and_limits() {
    let page = OpsPage::new("/internal/metrics?x=<b>&y=\"");
    let (_, _, html) = call(&page, Method::GET).await;
    let config = embedded_config(&html);
    assert_eq!(config["metricsPath"], "/internal/metrics?x=<b>&y=\"");
    assert_eq!(config["refreshMs"], 5000);
    assert_eq!(config["slos"], serde_json::json!([]));
    assert!(!html.contains("<b>"), "the path is escaped in the page");

    let fast = page.refresh_every(Duration::from_millis(10));
    assert_eq!(
        fast.config.refresh_ms, 1000,
        "never faster than once a second"
    );
    assert!(format!("{fast:?}").contains("/internal/metrics"));
}

#[test]
fn label_keys_are_written_as_the_exporter_writes_them() {
    assert_eq!(config::prometheus_label("http.route"), "http_route");
    assert_eq!(
        config::prometheus_label("browser.web_vital.name"),
        "browser_web_vital_name"
    );
    assert_eq!(config::prometheus_label("9lives-x"), "_lives_x");
}
