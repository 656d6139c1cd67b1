//! The browser module end to end: the demo's `/app` page in headless Chromium driven
//! through ChromeDriver (WebDriver element clicks are trusted input), the beacon it sends
//! when hidden reaching the demo's `POST /rum`, and the values on `/metrics`.
//!
//! Needs the bundle in `sdk-wasm-rum/pkg/` and ChromeDriver (`$CHROMEDRIVER`, else
//! `/usr/bin/chromedriver`); `cargo xtask test` builds and installs both first.

mod common;

use common::browser::Browser;
use common::{Demo, get, hex};
use fantoccini::Locator;
use serde_json::Value;
use std::time::{Duration, Instant};

/// The RUM page's own helpers on the shared session.
impl Browser {
    /// Polls `expression` until it is truthy (bounded).
    async fn wait_for(&self, expression: &str, what: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let value = self.eval(expression).await;
            if !matches!(value, Value::Null | Value::Bool(false)) {
                return value;
            }
            if Instant::now() > deadline {
                let state = self
                    .eval("{ready: window.__rumReady, error: window.__rumError, visibility: document.visibilityState, vitals: window.__vitals, shifts: window.__shifts}")
                    .await;
                panic!("timed out waiting for {what}; page state: {state}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A WebDriver element click: trusted input, as a user's.
    async fn click(&self, selector: &str) {
        self.client
            .find(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("{selector}: {e}"))
            .click()
            .await
            .expect("a trusted click");
    }

    /// The trace id of the page's document response, from its `Server-Timing`.
    async fn backend_trace_id(&self) -> String {
        let description = self
            .eval("performance.getEntriesByType('navigation')[0].serverTiming.find(t => t.name === 'traceparent').description")
            .await;
        description
            .as_str()
            .and_then(|traceparent| traceparent.split('-').nth(1))
            .expect("a traceparent in Server-Timing")
            .to_owned()
    }

    /// Opens the shop page (`/app?image_ms=IMAGE_MS&block_ms=BLOCK_MS&{query}`) and waits
    /// for the image's LCP candidate and the three scripted shifts.
    async fn open_shop(&self, addr: &str, query: &str) {
        self.goto(&format!(
            "http://{addr}/app?image_ms={IMAGE_MS}&block_ms={BLOCK_MS}&{query}"
        ))
        .await;
        self.wait_for(
            &format!(
                "window.__rumReady && window.__shifts.length >= 3 && \
                 window.__vitals.some(r => r.name === 'LCP' && r.value >= {IMAGE_MS})"
            ),
            "the image's LCP candidate and the three scripted shifts",
        )
        .await;
    }

    /// Clicks "Buy" and waits until LCP is final and the click's INP is reported, in both
    /// libraries (the page loads web-vitals).
    async fn buy(&self) {
        self.click("#buy").await;
        self.wait_for(
            &format!(
                "window.__final.some(r => r.name === 'LCP') && \
                 window.__wvFinal.some(r => r.name === 'LCP') && \
                 window.__wv.some(r => r.name === 'INP' && r.value >= {BLOCK_MS}) && \
                 window.__vitals.some(r => r.name === 'INP' && r.value >= {BLOCK_MS})"
            ),
            "LCP finalized by the click, and an INP of at least the click handler's time \
             (the first-input entry's shorter duration may come first)",
        )
        .await;
    }

    /// The page's own `onX` reports: `(all changes, final values)`.
    async fn reports(&self) -> (Vec<Value>, Vec<Value>) {
        let both = self.eval("[window.__vitals, window.__final]").await;
        let list = |i: usize| both[i].as_array().cloned().unwrap_or_default();
        (list(0), list(1))
    }
}

/// Every value web-vitals (loaded on the same page with `wv=1`) reported beside ours: for
/// each metric name and navigation type either library reported, the last value of each
/// library's every-change stream and of its final-value stream must be equal to the
/// nanosecond (both read the same entries), with the same rating; values timed by
/// animation frames after a back/forward-cache restore are read by each library in its
/// own frame callback, and the restore scenario checks that both fall in the same frame. FID is not in web-vitals
/// 6 and is left out. Prints the pairs (`scenario name navigation ours web-vitals`).
async fn matches_web_vitals(browser: &Browser, scenario: &str) -> usize {
    // Both libraries handle INP's entries when the page is idle, each from its own idle
    // callback: wait (bounded) until they have reported the same metrics.
    let same_metrics = "(() => { const keys = (list) => JSON.stringify([...new Set(list \
        .filter(r => r.name !== 'FID').map(r => r.name + ' ' + r.navigationType))].sort()); \
        return keys(window.__vitals) === keys(window.__wv) \
        && keys(window.__final) === keys(window.__wvFinal); })()";
    let deadline = Instant::now() + Duration::from_secs(10);
    while browser.eval(same_metrics).await != Value::Bool(true) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let both = browser
        .eval("[window.__vitals, window.__wv, window.__final, window.__wvFinal]")
        .await;
    let list = |i: usize| both[i].as_array().cloned().unwrap_or_default();
    let mut compared = 0;
    for (kind, ours, theirs) in [("all", list(0), list(1)), ("final", list(2), list(3))] {
        let mut keys: Vec<(String, String)> = ours
            .iter()
            .chain(&theirs)
            .filter(|r| r["name"] != "FID")
            .map(|r| {
                (
                    r["name"].as_str().unwrap_or_default().to_owned(),
                    r["navigationType"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        keys.sort();
        keys.dedup();
        for (name, navigation) in keys {
            let last_of = |reports: &[Value]| {
                reports
                    .iter()
                    .rev()
                    .find(|r| {
                        r["name"] == name.as_str() && r["navigationType"] == navigation.as_str()
                    })
                    .cloned()
            };
            let (Some(mine), Some(reference)) = (last_of(&ours), last_of(&theirs)) else {
                panic!(
                    "{scenario}: {name} ({navigation}, {kind} values) reported by one library \
                     only: ours {ours:?}, web-vitals {theirs:?}"
                );
            };
            let (a, b) = (value_of(Some(&mine)), value_of(Some(&reference)));
            eprintln!(
                "web-vitals comparison: {scenario} {kind} {name} {navigation} ours {a} web-vitals {b}"
            );
            // Restored LCP and FCP are `performance.now()` read by each library in its own
            // callback of the same frame: the restore scenario checks the frame.
            let by_frames = navigation == "back-forward-cache" && (name == "LCP" || name == "FCP");
            assert!(
                by_frames || (a - b).abs() < 1e-6,
                "{scenario}: {name} ({navigation}, {kind}) ours {a}, web-vitals {b}"
            );
            assert_eq!(mine["rating"], reference["rating"], "{scenario}: {name}");
            // Attribution builds (`attr=1`): the same entries and the same attribution,
            // every field (entries and elements by type).
            if mine.get("attribution").is_some() || reference.get("attribution").is_some() {
                eprintln!(
                    "web-vitals comparison: {scenario} {kind} {name} {navigation} attribution \
                     ours {} web-vitals {}",
                    mine["attribution"], reference["attribution"]
                );
                // Values read in a frame callback: the part that is the whole value differs
                // as the values do.
                let without_value = |report: &Value| {
                    let mut attribution = report["attribution"].clone();
                    if let Some(fields) = attribution.as_object_mut().filter(|_| by_frames) {
                        fields.remove("elementRenderDelay");
                        fields.remove("firstByteToFCP");
                    }
                    attribution
                };
                assert_eq!(
                    without_value(&mine),
                    without_value(&reference),
                    "{scenario}: {name} ({navigation}, {kind}) attribution"
                );
                assert_eq!(
                    mine["entries"], reference["entries"],
                    "{scenario}: {name} ({navigation}, {kind}) entries"
                );
            }
            compared += 1;
        }
    }
    compared
}

/// The last report named `name`.
fn last<'a>(reports: &'a [Value], name: &str) -> Option<&'a Value> {
    reports.iter().rev().find(|r| r["name"] == name)
}

fn value_of(report: Option<&Value>) -> f64 {
    report.and_then(|r| r["value"].as_f64()).unwrap_or(f64::NAN)
}

/// Sum of the samples of every series of `metric` whose labels contain all `labels`.
fn sum_series(metrics: &str, metric: &str, labels: &[&str]) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// `(count, sum)` of a web vital on `/metrics` for `route` and `navigation_type`.
fn vital_on_metrics(metrics: &str, name: &str, route: &str, navigation: &str) -> (f64, f64) {
    let family = if name == "CLS" {
        "browser_web_vital_cls"
    } else {
        "browser_web_vital_duration_seconds"
    };
    let labels = [
        format!("browser_web_vital_name=\"{name}\""),
        format!("http_route=\"{route}\""),
        format!("browser_web_vital_navigation_type=\"{navigation}\""),
    ];
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    (
        sum_series(metrics, &format!("{family}_count"), &labels),
        sum_series(metrics, &format!("{family}_sum"), &labels),
    )
}

/// Polls `/metrics` until `ready` holds (bounded).
async fn metrics_when(addr: &str, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, _, metrics) = get(addr, "/metrics", &[]).await;
        if ready(&metrics) {
            return metrics;
        }
        assert!(
            Instant::now() < deadline,
            "the beacon's values never reached /metrics:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// CLS from the browser's own layout-shift entries: shifts without recent input grouped
/// into session windows (next shift < 1 s after the previous and < 5 s after the window's
/// first), the largest window's sum.
fn largest_window(shifts: &[Value]) -> f64 {
    let mut largest = 0.0_f64;
    let (mut sum, mut first, mut previous) = (0.0, f64::NEG_INFINITY, f64::NEG_INFINITY);
    for shift in shifts.iter().filter(|s| s["hadRecentInput"] == false) {
        let (value, at) = (
            shift["value"].as_f64().unwrap(),
            shift["startTime"].as_f64().unwrap(),
        );
        if at - previous < 1000.0 && at - first < 5000.0 {
            sum += value;
        } else {
            (sum, first) = (value, at);
        }
        previous = at;
        largest = largest.max(sum);
    }
    largest
}

const IMAGE_MS: f64 = 1500.0;
const BLOCK_MS: f64 = 300.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_load_vitals_reach_metrics_with_the_backend_trace() {
    let (mut demo, addr) = Demo::start(&[("RUST_LOG", "info,sdk_tower::rum=debug")]);
    let browser = Browser::start(800, 600).await;
    browser.open_shop(&addr, "errors=1&wv=1").await;
    let (_, finals) = browser.reports().await;
    assert!(
        last(&finals, "LCP").is_none(),
        "LCP is not final before any input: {finals:?}"
    );
    browser.buy().await;
    let (vitals, finals) = browser.reports().await;
    let shifts = browser.eval("window.__shifts").await;
    let trace_id = browser.backend_trace_id().await;

    let lcp = value_of(last(&finals, "LCP"));
    assert!(lcp >= IMAGE_MS, "LCP {lcp} ms ≥ the image delay");
    assert_eq!(
        value_of(last(&vitals, "LCP")),
        lcp,
        "the final LCP is the last candidate"
    );
    let cls = value_of(last(&vitals, "CLS"));
    let expected_cls = largest_window(shifts.as_array().unwrap());
    assert!(
        expected_cls > 0.0,
        "the scripted shifts moved the page: {shifts}"
    );
    assert!(
        (cls - expected_cls).abs() < 1e-9,
        "CLS {cls} = the largest window of the scripted shifts {expected_cls} ({shifts})"
    );
    let inp = value_of(last(&vitals, "INP"));
    assert!(
        inp >= BLOCK_MS,
        "INP {inp} ms ≥ the click handler's {BLOCK_MS} ms"
    );
    let fid = value_of(last(&finals, "FID"));
    assert!(
        (0.0..BLOCK_MS).contains(&fid),
        "FID {fid} ms: the delay before the handler ran"
    );
    let fcp = value_of(last(&finals, "FCP"));
    let ttfb = value_of(last(&finals, "TTFB"));
    assert!(
        0.0 < ttfb && ttfb <= fcp && fcp < lcp,
        "TTFB {ttfb} ≤ FCP {fcp} < LCP {lcp}"
    );
    eprintln!(
        "measured: LCP {lcp} ms (image after {IMAGE_MS} ms), CLS {cls} (shifts {shifts}), \
         INP {inp} ms (handler blocks {BLOCK_MS} ms), FID {fid} ms, FCP {fcp} ms, TTFB {ttfb} ms"
    );
    assert!(
        matches_web_vitals(&browser, "page load").await >= 6,
        "LCP, CLS, INP, FCP and TTFB compared"
    );
    for report in &vitals {
        assert_eq!(report["navigationType"], "navigate", "{report}");
        assert!(
            report["id"].as_str().unwrap().starts_with("v6-"),
            "{report}"
        );
    }

    // Navigating away hides the page: the beacon leaves with `sendBeacon`.
    browser.goto(&format!("http://{addr}/app/next")).await;
    let metrics = metrics_when(&addr, |m| {
        vital_on_metrics(m, "CLS", "/app", "navigate").0 >= 1.0
            && vital_on_metrics(m, "INP", "/app", "navigate").0 >= 1.0
    })
    .await;
    if let Err(findings) = sdk_core::testing::promtool_check(&metrics) {
        panic!("{findings}\n--- /metrics ---\n{metrics}");
    }
    for (name, expected) in [
        ("LCP", lcp / 1000.0),
        ("INP", inp / 1000.0),
        ("FCP", fcp / 1000.0),
        ("TTFB", ttfb / 1000.0),
        ("FID", fid / 1000.0),
        ("CLS", cls),
    ] {
        let (count, sum) = vital_on_metrics(&metrics, name, "/app", "navigate");
        assert_eq!(count, 1.0, "{name}: one sample\n{metrics}");
        assert!(
            (sum - expected).abs() < 1e-9,
            "{name}: /metrics has {sum}, the page measured {expected}"
        );
    }

    for kind in ["error", "unhandled-rejection"] {
        assert_eq!(
            sum_series(
                &metrics,
                "sdk_browser_errors_total",
                &["http_route=\"/app\"", &format!("error_type=\"{kind}\"")]
            ),
            1.0,
            "the page's {kind} counted\n{metrics}"
        );
    }

    let accepted = demo.wait_for(|l| l["message"] == "beacon accepted");
    assert_eq!(accepted["fields"]["page_trace_id"], trace_id.as_str());
    assert_eq!(accepted["fields"]["route"], "/app");
}

/// The attribution builds side by side (`attr=1`): every report's attribution equals
/// web-vitals' attribution build's; the beacon carries the bounded summary, `/metrics`
/// the LCP sub-parts and INP phases, the log the rest without the image's query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attribution_matches_web_vitals_attribution() {
    let (mut demo, addr) = Demo::start(&[("RUST_LOG", "info")]);
    let browser = Browser::start(800, 600).await;
    browser.open_shop(&addr, "wv=1&attr=1").await;
    browser.buy().await;
    assert!(
        matches_web_vitals(&browser, "attribution").await >= 8,
        "LCP, CLS, INP, FCP and TTFB compared (all changes), and the final LCP, FCP and TTFB"
    );
    let (vitals, finals) = browser.reports().await;
    let lcp = last(&finals, "LCP").expect("a final LCP");
    let a = &lcp["attribution"];
    assert_eq!(a["target"], "#hero", "the LCP element: {lcp}");
    assert!(
        a["url"]
            .as_str()
            .unwrap()
            .ends_with("/app/hero.png?delay_ms=1500"),
        "the LCP resource: {lcp}"
    );
    let parts: f64 = [
        "timeToFirstByte",
        "resourceLoadDelay",
        "resourceLoadDuration",
        "elementRenderDelay",
    ]
    .iter()
    .map(|part| a[part].as_f64().unwrap())
    .sum();
    let lcp_ms = value_of(Some(lcp));
    assert!(
        (parts - lcp_ms).abs() < 1e-6,
        "LCP's four sub-parts add up to {lcp_ms}: {a}"
    );
    assert!(
        a["resourceLoadDuration"].as_f64().unwrap() >= IMAGE_MS - 100.0,
        "the image's delayed response is its load duration: {a}"
    );
    assert_eq!(a["lcpEntry"], "largest-contentful-paint");
    assert_eq!(a["lcpResourceEntry"], "resource");
    let inp = last(&vitals, "INP").expect("an INP");
    let a = &inp["attribution"];
    assert_eq!(a["interactionTarget"], "#buy", "{inp}");
    assert_eq!(a["interactionType"], "pointer");
    assert!(
        a["processingDuration"].as_f64().unwrap() >= BLOCK_MS,
        "the click handler's {BLOCK_MS} ms are processing: {a}"
    );
    assert!(
        a["longAnimationFrameEntries"].as_u64().unwrap() >= 1
            && a["longestScript"]["subpart"] == "processing-duration",
        "the long animation frame's longest script is the click handler: {a}"
    );
    let cls = last(&vitals, "CLS").expect("a CLS");
    assert!(
        cls["attribution"]["largestShiftTarget"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "CLS's largest shift names its element: {cls}"
    );

    // The beacon: sub-parts and phases on /metrics, the rest logged without the query.
    browser.goto(&format!("http://{addr}/app/next")).await;
    let metrics = metrics_when(&addr, |m| {
        m.contains("browser_web_vital_part_duration_seconds_count")
            && m.contains("browser_web_vital_part=\"processing_duration\"")
    })
    .await;
    for (name, part) in [
        ("LCP", "time_to_first_byte"),
        ("LCP", "resource_load_delay"),
        ("LCP", "resource_load_duration"),
        ("LCP", "element_render_delay"),
        ("INP", "input_delay"),
        ("INP", "processing_duration"),
        ("INP", "presentation_delay"),
    ] {
        let count = sum_series(
            &metrics,
            "browser_web_vital_part_duration_seconds_count",
            &[
                &format!("browser_web_vital_name=\"{name}\""),
                &format!("browser_web_vital_part=\"{part}\""),
                "http_route=\"/app\"",
            ],
        );
        assert_eq!(count, 1.0, "{name} {part}: one sample\n{metrics}");
    }
    let logged =
        demo.wait_for(|l| l["message"] == "web vital attribution" && l["fields"]["name"] == "LCP");
    assert_eq!(logged["fields"]["element"], "#hero", "{logged}");
    assert_eq!(logged["fields"]["dominant_part"], "resource_load_duration");
    let url = logged["fields"]["url"].as_str().unwrap();
    assert!(
        url.ends_with("/app/hero.png") && !url.contains('?'),
        "the image's URL without its query: {logged}"
    );
    let logged =
        demo.wait_for(|l| l["message"] == "web vital attribution" && l["fields"]["name"] == "INP");
    assert_eq!(logged["fields"]["element"], "#buy");
    assert_eq!(logged["fields"]["dominant_part"], "processing_duration");
    assert_eq!(logged["fields"]["script_invoker"], "BUTTON#buy.onclick");
    assert_eq!(logged["fields"]["script_subpart"], "processing-duration");
    assert_eq!(logged["fields"]["interaction_type"], "pointer");
    assert_eq!(logged["fields"]["load_state"], "complete");
    let script = logged["fields"]["script_url"].as_str().unwrap();
    assert!(
        script.ends_with("/app") && !script.contains('?'),
        "the page's script URL without its query: {logged}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_forward_cache_restore_starts_new_metrics() {
    restore_scenario("").await;
}

/// The same with both libraries' attribution builds: the restored metrics' attribution
/// compared too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_forward_cache_restore_with_attribution() {
    restore_scenario("&attr=1").await;
}

/// A restore from the back/forward cache; `build`: `&attr=1` for the attribution builds.
async fn restore_scenario(build: &str) {
    let (_demo, addr) = Demo::start(&[]);
    let browser = Browser::start(800, 600).await;
    browser
        .goto(&format!(
            "http://{addr}/app?image_ms=0&block_ms=120&wv=1{build}"
        ))
        .await;
    browser
        .wait_for(
            "window.__rumReady && ['TTFB', 'FCP'].every(n => window.__final.some(r => r.name === n) \
             && window.__wvFinal.some(r => r.name === n))",
            "TTFB and FCP of the first load",
        )
        .await;
    browser.click("#buy").await;
    browser
        .wait_for(
            "window.__vitals.some(r => r.name === 'INP') && window.__wv.some(r => r.name === 'INP')",
            "INP of the first load in both libraries",
        )
        .await;
    browser.goto(&format!("http://{addr}/app/next")).await;
    browser.client.back().await.expect("back");
    browser
        .wait_for(
            "window.__restores >= 1 && ['TTFB', 'FCP', 'LCP'].every(n => \
             window.__final.some(r => r.name === n && r.navigationType === 'back-forward-cache') \
             && window.__wvFinal.some(r => r.name === n && r.navigationType === 'back-forward-cache'))",
            "a restore (`pageshow` with `persisted`) and new TTFB, FCP and LCP in both libraries",
        )
        .await;
    // An interaction on the restored page: INP of the restore.
    browser.click("#buy").await;
    browser
        .wait_for(
            "[window.__vitals, window.__wv].every(list => list.some(r => r.name === 'INP' \
             && r.navigationType === 'back-forward-cache'))",
            "INP of the restored page in both libraries",
        )
        .await;
    let (vitals, finals) = browser.reports().await;
    eprintln!("reports before and after the restore: {finals:?}");
    let compared = matches_web_vitals(&browser, "back/forward-cache restore").await;
    assert!(compared >= 10, "both loads' metrics compared: {compared}");
    // Both libraries measured the restored LCP and FCP during the second frame after
    // `pageshow` (web-vitals' `doubleRAF`): after the page's own callback of that frame
    // and before its callback of the next.
    let frames = browser.eval("window.__restoreFrames").await;
    let frame = |i: usize| frames[i].as_f64().expect("frame times of the restore");
    let (shown, second, third) = (frame(0), frame(2), frame(3));
    let (_, wv_finals) = {
        let both = browser.eval("[window.__final, window.__wvFinal]").await;
        let list = |i: usize| both[i].as_array().cloned().unwrap_or_default();
        (list(0), list(1))
    };
    for name in ["LCP", "FCP"] {
        for (library, reports) in [("ours", &finals), ("web-vitals", &wv_finals)] {
            let value = value_of(
                reports
                    .iter()
                    .rev()
                    .find(|r| r["name"] == name && r["navigationType"] == "back-forward-cache"),
            );
            let at = shown + value;
            assert!(
                second - 1e-6 <= at && at <= third + 1e-6,
                "{library}'s restored {name} {value} ms was read at {at}, not in the second \
                 frame [{second}, {third}] after pageshow at {shown} (frames {frames})"
            );
            eprintln!("restore frame check: {library} {name} {value} ms (frame {second}..{third})");
        }
    }
    let restored_inp = vitals
        .iter()
        .rev()
        .find(|r| r["name"] == "INP")
        .expect("an INP report");
    assert_eq!(
        restored_inp["navigationType"], "back-forward-cache",
        "the restored page's INP carries the restore's navigation type"
    );
    let (restored, loaded): (Vec<&Value>, Vec<&Value>) = finals
        .iter()
        .partition(|r| r["navigationType"] == "back-forward-cache");
    for report in &restored {
        assert!(
            loaded.iter().all(|l| l["id"] != report["id"]),
            "a restore gets new ids: {report} vs {loaded:?}"
        );
    }
    assert_eq!(
        value_of(last(&finals, "TTFB")),
        0.0,
        "TTFB of a restore is 0"
    );
    let lcp = value_of(last(&finals, "LCP"));
    assert!(
        lcp > 0.0 && lcp < 5000.0,
        "LCP of the restore: two frames after pageshow, {lcp}"
    );

    browser.goto(&format!("http://{addr}/app/next")).await;
    let metrics = metrics_when(&addr, |m| {
        vital_on_metrics(m, "LCP", "/app", "back-forward-cache").0 >= 1.0
            && vital_on_metrics(m, "INP", "/app", "back-forward-cache").0 >= 1.0
    })
    .await;
    let (count, sum) = vital_on_metrics(&metrics, "LCP", "/app", "back-forward-cache");
    assert_eq!(count, 1.0);
    assert!(
        (sum - lcp / 1000.0).abs() < 1e-9,
        "the beacon's restore LCP {sum} s, the page's {lcp} ms"
    );
    assert_eq!(
        vital_on_metrics(&metrics, "TTFB", "/app", "back-forward-cache").0,
        1.0
    );
    assert_eq!(
        vital_on_metrics(&metrics, "INP", "/app", "navigate").0,
        1.0,
        "the first load's INP, sent when the page was hidden"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soft_navigation_starts_new_metrics_as_web_vitals_reports_them() {
    soft_navigation_scenario("").await;
}

/// The same with both libraries' attribution builds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soft_navigation_with_attribution() {
    soft_navigation_scenario("&attr=1").await;
}

/// A soft navigation; `build`: `&attr=1` for the attribution builds.
async fn soft_navigation_scenario(build: &str) {
    let (_demo, addr) = Demo::start(&[]);
    let browser = Browser::start(800, 600).await;
    browser
        .goto(&format!("http://{addr}/app?image_ms=0&wv=1&soft=1{build}"))
        .await;
    browser
        .wait_for(
            "window.__rumReady && ['TTFB', 'FCP'].every(n => window.__final.some(r => r.name === n) \
             && window.__wvFinal.some(r => r.name === n))",
            "TTFB and FCP of the document's load",
        )
        .await;
    let supported = browser
        .eval("PerformanceObserver.supportedEntryTypes.includes('soft-navigation')")
        .await;
    assert_eq!(
        supported,
        Value::Bool(true),
        "this Chromium reports soft navigations (the scenario needs them)"
    );
    // A trusted click that changes the URL and paints new content: a soft navigation.
    browser.click("#soft").await;
    browser
        .wait_for(
            "performance.getEntriesByType('soft-navigation').length >= 1 && \
             [window.__vitals, window.__wv].every(list => ['FCP', 'TTFB', 'LCP'].every(n => \
             list.some(r => r.name === n && r.navigationType === 'soft-navigation')))",
            "the browser's soft-navigation entry and new FCP, TTFB and LCP in both libraries",
        )
        .await;
    let compared = matches_web_vitals(&browser, "soft navigation").await;
    let (vitals, _) = browser.reports().await;
    let soft: Vec<&Value> = vitals
        .iter()
        .filter(|r| r["navigationType"] == "soft-navigation")
        .collect();
    eprintln!("soft-navigation reports: {soft:?} ({compared} values compared)");
    let fcp = value_of(soft.iter().rev().copied().find(|r| r["name"] == "FCP"));
    let entry = browser
        .eval("(e => (e.presentationTime || e.paintTime) - e.startTime)(performance.getEntriesByType('soft-navigation')[0])")
        .await
        .as_f64()
        .unwrap_or(f64::NAN);
    assert!(
        (fcp - entry.max(0.0)).abs() < 1e-6,
        "the soft navigation's FCP {fcp} is its first paint after the interaction ({entry})"
    );
    assert_eq!(
        value_of(soft.iter().copied().find(|r| r["name"] == "TTFB")),
        0.0
    );

    // Hidden: the new route's values reach the ingestion route under its template.
    browser.goto(&format!("http://{addr}/app/next")).await;
    let metrics = metrics_when(&addr, |m| {
        vital_on_metrics(m, "FCP", "/app/soft", "soft-navigation").0 >= 1.0
    })
    .await;
    let (count, sum) = vital_on_metrics(&metrics, "FCP", "/app/soft", "soft-navigation");
    assert_eq!(count, 1.0);
    assert!(
        (sum - fcp / 1000.0).abs() < 1e-9,
        "beacon {sum} s, page {fcp} ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_hidden_from_the_start_reports_no_lcp() {
    let (_demo, addr) = Demo::start(&[]);
    let browser = Browser::start(800, 600).await;
    browser.client.minimize_window().await.expect("minimize");
    browser
        .goto(&format!("http://{addr}/app?image_ms=100&wv=1"))
        .await;
    browser
        .wait_for(
            "window.__rumReady && document.visibilityState === 'hidden' && window.__final.some(r => r.name === 'TTFB') \
             && window.__wvFinal.some(r => r.name === 'TTFB')",
            "the hidden page's TTFB",
        )
        .await;
    // Shown again: Chromium paints now and reports paint and LCP entries with this time.
    browser
        .client
        .set_window_rect(0, 0, 780, 580)
        .await
        .expect("restore the window");
    browser
        .wait_for("document.visibilityState === 'visible'", "the page shown")
        .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let painted = browser
        .eval("performance.getEntriesByType('paint').length")
        .await;
    assert!(
        painted.as_u64() > Some(0),
        "the browser did paint once shown"
    );
    let (vitals, finals) = browser.reports().await;
    for name in ["LCP", "FCP", "CLS"] {
        assert!(
            last(&vitals, name).is_none() && last(&finals, name).is_none(),
            "no {name} for a page hidden from the start: {vitals:?}"
        );
    }
    matches_web_vitals(&browser, "hidden from the start").await;

    browser.goto(&format!("http://{addr}/app/next")).await;
    let metrics = metrics_when(&addr, |m| {
        vital_on_metrics(m, "TTFB", "/app", "navigate").0 >= 1.0
    })
    .await;
    assert_eq!(vital_on_metrics(&metrics, "LCP", "/app", "navigate").0, 0.0);
    assert_eq!(vital_on_metrics(&metrics, "FCP", "/app", "navigate").0, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_otlp_sink_sends_web_vital_log_events_to_a_collector() {
    let receiver = sdk_core::testing::otlp::OtlpReceiver::start().expect("OTLP receiver");
    let endpoint = receiver.http_url("");
    let (_demo, addr) = Demo::start(&[("SDK_RUM_OTLP_ENDPOINT", endpoint.as_str())]);
    let browser = Browser::start(800, 600).await;
    // The attribution build: its events also carry the attribution summary.
    browser
        .goto(&format!("http://{addr}/app?image_ms=0&attr=1"))
        .await;
    browser
        .wait_for(
            "window.__rumReady && ['TTFB', 'FCP'].every(n => window.__final.some(r => r.name === n))",
            "TTFB and FCP",
        )
        .await;
    browser.click("#buy").await;
    browser
        .wait_for(
            "window.__final.some(r => r.name === 'LCP')",
            "LCP finalized by the click",
        )
        .await;
    let (_, finals) = browser.reports().await;
    let trace_id = browser.backend_trace_id().await;
    browser.goto(&format!("http://{addr}/app/next")).await;

    let received = receiver.wait_for(Duration::from_secs(20), |r| {
        r.logs.iter().any(|request| {
            request
                .resource_logs
                .iter()
                .flat_map(|rl| &rl.scope_logs)
                .any(|sl| {
                    sl.log_records.iter().any(|record| {
                        record.attributes.iter().any(|kv| {
                            kv.key == "browser.web_vital.name"
                                && format!("{:?}", kv.value).contains("\"LCP\"")
                        })
                    })
                })
        })
    });
    let seen = receiver.received();
    assert!(
        received,
        "no LCP event reached the collector: {:?}",
        seen.http_requests
    );
    let records: Vec<_> = seen
        .logs
        .iter()
        .flat_map(|request| &request.resource_logs)
        .flat_map(|rl| {
            let service = rl
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
                .map(|kv| format!("{:?}", kv.value));
            rl.scope_logs
                .iter()
                .flat_map(|sl| sl.log_records.iter().cloned())
                .map(move |record| (service.clone(), record))
        })
        .collect();
    let attribute = |record: &opentelemetry_proto::tonic::logs::v1::LogRecord, key: &str| {
        record
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.clone()?.value)
    };
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    for name in ["TTFB", "FCP", "LCP"] {
        let (service, record) = records
            .iter()
            .find(|(_, r)| {
                attribute(r, "browser.web_vital.name") == Some(Any::StringValue(name.into()))
            })
            .unwrap_or_else(|| panic!("no {name} event: {records:?}"));
        assert!(service.as_deref().unwrap_or_default().contains("demo-web"));
        assert_eq!(record.event_name, "browser.web_vital");
        assert_eq!(
            hex(&record.trace_id),
            trace_id,
            "the backend trace of the page"
        );
        assert_eq!(
            attribute(record, "url.template"),
            Some(Any::StringValue("/app".into()))
        );
        let Some(Any::DoubleValue(value)) = attribute(record, "browser.web_vital.value") else {
            panic!("{name}: no value: {record:?}");
        };
        let page = value_of(last(&finals, name));
        assert!(
            (value - page).abs() < 1e-9,
            "{name}: the collector got {value}, the page measured {page}"
        );
        if name == "LCP" {
            assert_eq!(
                attribute(record, "browser.web_vital.attribution.target"),
                Some(Any::StringValue("#hero".into())),
                "{record:?}"
            );
            let Some(Any::StringValue(url)) =
                attribute(record, "browser.web_vital.attribution.url")
            else {
                panic!("LCP: no resource URL: {record:?}");
            };
            assert!(
                url.ends_with("/app/hero.png"),
                "the image's URL without its query: {url}"
            );
            let Some(Any::DoubleValue(delay)) =
                attribute(record, "browser.web_vital.attribution.element_render_delay")
            else {
                panic!("LCP: no element render delay: {record:?}");
            };
            assert!((0.0..=value).contains(&delay), "{delay} within LCP {value}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prerendered_page_measures_from_its_activation() {
    let (_demo, addr) = Demo::start(&[]);
    let browser = Browser::start(800, 600).await;
    browser.goto(&format!("http://{addr}/app/next")).await;
    // Chromium prerenders the link's target (speculation rules) in the background.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    browser.click("#shop").await;
    browser
        .wait_for(
            "window.__rumReady && ['TTFB', 'FCP'].every(n => window.__final.some(r => r.name === n))",
            "TTFB and FCP of the activated page",
        )
        .await;
    let activation = browser
        .eval("performance.getEntriesByType('navigation')[0].activationStart")
        .await
        .as_f64()
        .unwrap_or(0.0);
    let paint = browser
        .eval("performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint').startTime")
        .await
        .as_f64()
        .unwrap();
    let response_start = browser
        .eval("performance.getEntriesByType('navigation')[0].responseStart")
        .await
        .as_f64()
        .unwrap();
    let (_, finals) = browser.reports().await;
    eprintln!("prerendered: activationStart {activation} ms, paint {paint} ms, reports {finals:?}");
    browser
        .wait_for(
            "['TTFB', 'FCP'].every(n => window.__wvFinal.some(r => r.name === n))",
            "web-vitals' TTFB and FCP of the activated page",
        )
        .await;
    matches_web_vitals(&browser, "prerendered").await;
    assert!(activation > 0.0, "the page was prerendered, then activated");
    for report in &finals {
        assert_eq!(report["navigationType"], "prerender", "{report}");
    }
    // Times cross WebDriver as JSON numbers: compared to a nanosecond.
    let fcp = value_of(last(&finals, "FCP"));
    let expected_fcp = (paint - activation).max(0.0);
    assert!(
        (fcp - expected_fcp).abs() < 1e-6,
        "FCP {fcp} counts from activation: {expected_fcp}"
    );
    let ttfb = value_of(last(&finals, "TTFB"));
    let expected_ttfb = (response_start - activation).max(0.0);
    assert!(
        (ttfb - expected_ttfb).abs() < 1e-6,
        "TTFB {ttfb} counts from activation: {expected_ttfb}"
    );
}
