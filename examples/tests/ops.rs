//! The demo's operations files: generated from `examples/ops/spec.yaml` and the catalogue
//! (with the demo's application metrics), committed, and proven by the real `promtool`:
//! every rule file passes `check rules`, and the generated unit tests — a firing, a quiet
//! and a zero-traffic case for every alert — pass `test rules`.

use sdk_core::ops::{self, GeneratedFile};
use sdk_core::testing::promtool;
use std::path::{Path, PathBuf};

fn ops_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ops")
}

fn generated() -> Vec<GeneratedFile> {
    sdk_core::catalogue::register(demo::APP_METRICS).unwrap();
    let spec = ops::read_spec(&ops_dir().join("spec.yaml")).unwrap();
    ops::generate(&spec).unwrap()
}

#[test]
fn committed_files_are_what_the_spec_generates() {
    let files = generated();
    let stale = ops::stale(&ops_dir(), &files);
    assert!(
        stale.is_empty(),
        "examples/ops is stale: {} differ from what examples/ops/spec.yaml generates; run `cargo xtask ops` and commit",
        stale.join(", ")
    );
}

fn files_named(suffix: &str) -> Vec<String> {
    generated()
        .into_iter()
        .map(|f| f.path)
        .filter(|p| p.ends_with(suffix))
        .collect()
}

#[test]
fn every_rule_file_passes_promtool_check() {
    let files = files_named(".rules.yml");
    let mut files: Vec<&str> = files.iter().map(String::as_str).collect();
    files.push("demo.alerts.yml");
    assert_eq!(files.len(), 4, "{files:?}");
    let mut args = vec!["check", "rules"];
    args.extend(files);
    let out = promtool(&args, &ops_dir()).unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.contains("FAILED"), "{out}");
}

fn promtool_test(file: &str) {
    let out = promtool(&["test", "rules", file], &ops_dir()).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn symptom_and_page_alerts_pass_their_promtool_tests() {
    promtool_test("demo.rules.test.yml");
}

#[test]
fn ticket_alerts_pass_their_promtool_tests() {
    promtool_test("demo-30m.rules.test.yml");
}

#[test]
fn anomaly_alerts_pass_their_promtool_tests() {
    promtool_test("demo-anomaly.rules.test.yml");
}

/// The generated tests are not vacuous: with one alert's threshold moved out of reach,
/// its firing case fails.
#[test]
fn a_broken_alert_fails_its_generated_test() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = generated();
    let alerts = files
        .iter_mut()
        .find(|f| f.path == "demo.alerts.yml")
        .unwrap();
    let before = "http_route:http_server_requests_errors:ratio_rate5m{sdk_service=\"demo\"} > 0.05";
    assert!(alerts.contents.contains(before), "{}", alerts.contents);
    alerts.contents = alerts.contents.replace(
        before,
        "http_route:http_server_requests_errors:ratio_rate5m{sdk_service=\"demo\"} > 2",
    );
    ops::write(dir.path(), &files).unwrap();
    let err = promtool(&["test", "rules", "demo.rules.test.yml"], dir.path())
        .expect_err("promtool passed a broken alert");
    assert!(err.contains("DemoHighErrorRatio"), "{err}");
}

/// Every alert carries what an on-call engineer needs, and every ratio guards its
/// denominator.
#[test]
fn alerts_are_annotated_and_ratios_guarded() {
    let files = generated();
    let mut alerts = 0;
    for file in files
        .iter()
        .filter(|f| f.path.ends_with(".yml") && !f.path.contains("test"))
    {
        let doc: serde_json::Value = serde_saphyr_value(&file.contents);
        for group in doc["groups"].as_array().unwrap() {
            for rule in group["rules"].as_array().unwrap() {
                let expr = rule["expr"].as_str().unwrap();
                if rule.get("alert").is_some() {
                    alerts += 1;
                    let severity = rule["labels"]["severity"].as_str().unwrap_or_default();
                    assert!(
                        ["critical", "warning", "info"].contains(&severity),
                        "{rule}"
                    );
                    for key in ["summary", "description", "runbook_url"] {
                        assert!(
                            rule["annotations"][key]
                                .as_str()
                                .is_some_and(|v| !v.is_empty()),
                            "{key} missing: {rule}"
                        );
                    }
                }
                if expr.contains("\n/") {
                    assert!(
                        // `count_over_time` is at least 1 wherever it has a sample.
                        expr.contains("> 0)")
                            || expr.contains("group_left")
                            || expr.contains("\ncount_over_time("),
                        "unguarded ratio in {}: {expr}",
                        file.path
                    );
                }
            }
        }
    }
    // Burn rate: availability and latency page and ticket, the cache and the three web
    // vitals ticket only (a 20-25 % budget cannot burn 6x); 9 symptoms; 4 runtime and
    // dependency alerts; 2 anomaly bands.
    assert_eq!(alerts, 2 + 2 + 1 + 3 + 9 + 4 + 2);
}

fn serde_saphyr_value(text: &str) -> serde_json::Value {
    serde_saphyr::from_str(text).unwrap()
}
