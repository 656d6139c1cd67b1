//! `docs/metrics.md` and the README's metric tables are generated from the catalogue and
//! must not drift from it.

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

#[test]
fn readme_tables_match_the_catalogue() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let text = std::fs::read_to_string(path).expect("README.md exists");
    for (group, _) in sdk_core::catalogue::DOC_GROUPS {
        assert!(
            text.contains(&format!("<!-- catalogue:{group} -->")),
            "README.md has no table for the catalogue group {group}"
        );
    }
    assert!(
        sdk_core::catalogue::fill_markdown_groups(&text) == text,
        "README.md's metric tables are out of date with the catalogue: run `cargo xtask docs`"
    );
}

#[test]
fn groups_fill_only_their_blocks() {
    let text =
        "a\n<!-- catalogue:probes -->\nold\n<!-- /catalogue:probes -->\nb <!-- catalogue:nope -->x";
    let filled = sdk_core::catalogue::fill_markdown_groups(text);
    assert!(filled.starts_with("a\n<!-- catalogue:probes -->\n| Prometheus name |"));
    assert!(filled.contains("| `probe_success` | gauge | `sdk_probe` |"));
    assert!(!filled.contains("old"));
    assert!(filled.ends_with("<!-- /catalogue:probes -->\nb <!-- catalogue:nope -->x"));
    assert_eq!(sdk_core::catalogue::fill_markdown_groups(&filled), filled);
}
