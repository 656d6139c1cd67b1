//! Generates the demo's Prometheus rules, SLO recordings, anomaly bands and their
//! `promtool` tests from `examples/ops/spec.yaml` and the metric catalogue (with the
//! demo's own application metrics registered first).
//!
//! `cargo run -p demo --bin ops -- generate examples/ops/spec.yaml examples/ops`

fn main() -> std::process::ExitCode {
    if let Err(e) = sdk_core::catalogue::register(demo::APP_METRICS) {
        eprintln!("ops: {e}");
        return std::process::ExitCode::FAILURE;
    }
    sdk_core::ops::cli(std::env::args().skip(1))
}
