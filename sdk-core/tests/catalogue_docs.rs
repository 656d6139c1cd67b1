//! `docs/metrics.md` is generated from the catalogue and must not drift from it.

#[test]
fn docs_metrics_md_matches_the_catalogue() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/metrics.md");
    let text =
        std::fs::read_to_string(path).expect("docs/metrics.md exists (cargo xtask docs writes it)");
    let generated = sdk_core::catalogue::markdown();
    assert!(
        text.contains(&generated),
        "docs/metrics.md is out of date with the catalogue: run `cargo xtask docs`"
    );
}
