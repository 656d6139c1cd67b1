//! The browser bindings in headless Chromium (`cargo xtask test` runs them with
//! wasm-bindgen-test-runner and ChromeDriver): real `layout-shift`, `paint` and
//! `navigation` entries read through the typed externs, subscriptions and `disconnect`,
//! and the JavaScript API's report objects.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use sdk_core::rum::{NavigationType, VitalName, VitalReport};
use sdk_wasm_rum::{ReportOptions, js, on_cls, on_fcp, on_ttfb};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &Function, ms: i32);
}

async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| set_timeout(&resolve, ms));
    let _ = JsFuture::from(promise).await;
}

fn run_js(body: &str) {
    let _ = Function::new_no_args(body).call0(&JsValue::NULL);
}

type Reports = Rc<RefCell<Vec<VitalReport>>>;

fn collector() -> (Reports, impl FnMut(&VitalReport) + 'static) {
    let reports: Reports = Rc::default();
    let sink = Rc::clone(&reports);
    (reports, move |report: &VitalReport| {
        sink.borrow_mut().push(report.clone())
    })
}

/// Large text at the top of the page (painted before the test goes on).
async fn ensure_text() {
    run_js(
        "if (!document.getElementById('rum-text')) {
           const text = document.createElement('p');
           text.id = 'rum-text';
           text.style.fontSize = '48px';
           text.textContent = 'Layout shifts move this text.';
           document.body.prepend(text);
         }",
    );
    sleep(200).await;
}

/// Moves the visible text by toggling the height (0 or 150 px) of a block above it, so
/// that the text stays in the viewport however often it shifts.
fn shift_text() {
    run_js(
        "const text = document.getElementById('rum-text');
         let block = document.getElementById('rum-shift');
         if (!block) {
           block = document.createElement('div');
           block.id = 'rum-shift';
           block.style.height = '0px';
           text.parentNode.insertBefore(block, text);
         }
         block.style.height = block.style.height === '0px' ? '150px' : '0px';",
    );
}

#[wasm_bindgen_test]
async fn layout_shifts_reach_on_cls_until_disconnected() {
    ensure_text().await;
    let (reports, callback) = collector();
    let subscription = on_cls(
        callback,
        ReportOptions {
            report_all_changes: true,
        },
    );
    shift_text();
    sleep(500).await;
    let seen = reports.borrow().clone();
    let last = seen.last().expect("a CLS report after a layout shift");
    assert_eq!(last.name, VitalName::Cls);
    assert!(last.value > 0.0 && last.value < 1.0, "{last:?}");
    assert_eq!(last.rating, VitalName::Cls.rate(last.value));
    assert!(last.id.starts_with("v6-"), "{}", last.id);
    assert_eq!(last.navigation_type, NavigationType::Navigate);
    let total_delta: f64 = seen.iter().map(|r| r.delta).sum();
    assert!(
        (total_delta - last.value).abs() < 1e-9,
        "deltas add up to the value"
    );

    subscription.disconnect();
    let count = reports.borrow().len();
    shift_text();
    sleep(500).await;
    assert_eq!(reports.borrow().len(), count, "no report after disconnect");
}

#[wasm_bindgen_test]
async fn ttfb_and_fcp_come_from_the_navigation_and_paint_entries() {
    // The runner's page shows no text of its own: this is its first contentful paint
    // (unless another test painted first).
    run_js(
        "const text = document.createElement('h1');
         text.textContent = 'First contentful paint';
         document.body.append(text);",
    );
    let (ttfb, on_ttfb_report) = collector();
    let (fcp, on_fcp_report) = collector();
    let _ttfb = on_ttfb(on_ttfb_report, ReportOptions::default());
    let _fcp = on_fcp(on_fcp_report, ReportOptions::default());
    sleep(300).await;
    let ttfb = ttfb.borrow().clone();
    assert_eq!(ttfb.len(), 1, "{ttfb:?}");
    assert!(ttfb[0].value > 0.0 && ttfb[0].value < 60_000.0, "{ttfb:?}");
    assert_eq!(ttfb[0].delta, ttfb[0].value);
    let fcp = fcp.borrow().clone();
    assert_eq!(fcp.len(), 1, "{fcp:?}");
    assert!(
        fcp[0].value >= ttfb[0].value,
        "paint after the first byte: {fcp:?}"
    );
    assert_ne!(fcp[0].id, ttfb[0].id);
}

#[wasm_bindgen_test]
async fn the_javascript_api_gives_web_vitals_report_objects() {
    let callback = Function::new_with_args("report", "globalThis.__rumReport = report;");
    let stop = js::on_ttfb_js(callback, None);
    sleep(300).await;
    let report = Reflect::get(&js_sys::global(), &"__rumReport".into()).unwrap();
    let field = |name: &str| Reflect::get(&report, &name.into()).unwrap();
    assert_eq!(field("name").as_string().as_deref(), Some("TTFB"));
    let value = field("value").as_f64().unwrap();
    assert!(value > 0.0);
    assert_eq!(field("delta").as_f64(), Some(value));
    assert!(field("id").as_string().unwrap().starts_with("v6-"));
    assert_eq!(
        field("rating").as_string(),
        Some(VitalName::Ttfb.rate(value).as_str().to_owned())
    );
    assert_eq!(
        field("navigationType").as_string().as_deref(),
        Some("navigate")
    );
    assert!(stop.is_function(), "onTTFB returns its disconnect function");
    let _ = stop.unchecked_into::<Function>().call0(&JsValue::NULL);

    let options = js_sys::Object::new();
    Reflect::set(&options, &"service".into(), &"web".into()).unwrap();
    let error = js::start_rum_js(options.unchecked_into()).unwrap_err();
    assert!(error.as_string().unwrap().contains("endpoint"));
}

#[wasm_bindgen_test]
async fn a_route_change_finalizes_cls_and_starts_a_new_one() {
    ensure_text().await;
    let (reports, callback) = collector();
    let subscription = on_cls(callback, ReportOptions::default());
    shift_text();
    sleep(300).await;
    assert!(
        reports.borrow().is_empty(),
        "without reportAllChanges CLS waits for the page's end"
    );
    sdk_wasm_rum::route_changed();
    let first = reports
        .borrow()
        .last()
        .cloned()
        .expect("CLS finalized by the route change");
    assert!(first.value > 0.0);
    assert_eq!(first.navigation_type, NavigationType::Navigate);

    shift_text();
    sleep(300).await;
    sdk_wasm_rum::route_changed();
    let second = reports.borrow().last().cloned().unwrap();
    assert_ne!(second.id, first.id, "the new route's CLS is a new metric");
    assert_eq!(second.navigation_type, NavigationType::SoftNavigation);
    assert!(
        second.value > 0.0,
        "the shift after the route change: {second:?}"
    );
    subscription.disconnect();
}

#[wasm_bindgen_test]
async fn disconnect_stops_every_subscription_and_old_handles_stay_inert() {
    ensure_text().await;
    let (before, callback) = collector();
    let old = on_cls(
        callback,
        ReportOptions {
            report_all_changes: true,
        },
    );
    sleep(100).await;
    sdk_wasm_rum::disconnect();
    let (after, after_callback) = collector();
    let new = on_cls(
        after_callback,
        ReportOptions {
            report_all_changes: true,
        },
    );
    old.disconnect();
    let seen_before = before.borrow().len();
    shift_text();
    sleep(500).await;
    assert_eq!(
        before.borrow().len(),
        seen_before,
        "no report after disconnect()"
    );
    assert!(
        after.borrow().iter().any(|r| r.value > 0.0),
        "a subscription made after disconnect() works, and an old handle cannot stop it"
    );
    new.disconnect();
}
