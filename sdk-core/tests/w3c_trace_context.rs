//! W3C Trace Context (Level 1, plus the Level 2 random-trace-id flag) and W3C Baggage, one
//! test per rule, written from the specifications' text (w3c/trace-context
//! `spec/20-http_request_header_format.md` and `spec/30-processing-model.md`; w3c/baggage
//! `baggage/HTTP_HEADER_FORMAT.md`). Incoming headers are an `http::HeaderMap` built with
//! `append`, so repeated headers arrive as they do from a real server.
//!
//! The file is long on purpose: one short test per rule, so that a failure names the rule.
//!
//! The binary counts allocations per thread to check that continuing a trace from one
//! `traceparent` (the server layer's common case) allocates nothing.

use http::{HeaderMap, HeaderName, HeaderValue};
use sdk_core::propagation::{
    BAGGAGE_MAX_LEN, Baggage, Extractor, PropagationFormat, Propagator, SpanContext, SpanId,
    TRACESTATE_MAX_LEN, TraceId, TraceState, baggage, w3c,
};

const TRACE: &str = "12345678901234567890123456789012";
const PARENT: &str = "1234567890123456";
const VALID: &str = "00-12345678901234567890123456789012-1234567890123456-01";

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

/// The remote parent the trace-context format finds in `pairs`.
fn extract(pairs: &[(&str, &str)]) -> Option<SpanContext> {
    Propagator::new([PropagationFormat::TraceContext])
        .extract(&headers(pairs))
        .context
}

fn trace_id(context: &SpanContext) -> String {
    context.trace_id.to_hex()
}

/// Extracts `pairs` and injects the result: what goes downstream.
fn forwarded(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut out = HeaderMap::new();
    if let Some(context) = extract(pairs) {
        w3c::inject(&context, &mut out);
    }
    out
}

/// The `tracestate` sent downstream after receiving `traceparent: VALID` and `states`.
fn forwarded_state(states: &[&str]) -> Option<String> {
    let mut pairs = vec![("traceparent", VALID)];
    pairs.extend(states.iter().map(|s| ("tracestate", *s)));
    let out = forwarded(&pairs);
    assert!(
        out.get_all("tracestate").iter().count() <= 1,
        "tracestate is sent as one header"
    );
    out.get("tracestate")
        .map(|v| v.to_str().unwrap().to_owned())
}

fn state_of(states: &[&str]) -> TraceState {
    let mut pairs = vec![("traceparent", VALID)];
    pairs.extend(states.iter().map(|s| ("tracestate", *s)));
    extract(&pairs).expect("valid traceparent").trace_state
}

// ---------------------------------------------------------------- traceparent

#[test]
fn valid_traceparent_is_continued() {
    let context = extract(&[("traceparent", VALID)]).unwrap();
    assert_eq!(trace_id(&context), TRACE);
    assert_eq!(context.span_id.to_hex(), PARENT);
    assert!(context.sampled);
    assert!(context.is_remote);
}

#[test]
fn two_traceparent_headers_start_a_new_trace() {
    let first = "00-12345678901234567890123456789011-1234567890123456-01";
    let map = headers(&[("traceparent", first), ("traceparent", VALID)]);
    let got = Propagator::new([PropagationFormat::TraceContext]).extract(&map);
    assert!(got.context.is_none());
    assert_eq!(got.rejected.len(), 1);
    // Even two identical headers are two headers.
    assert!(extract(&[("traceparent", VALID), ("traceparent", VALID)]).is_none());
}

#[test]
fn traceparent_header_name_is_case_insensitive() {
    for name in ["TraceParent", "TrAcEpArEnT", "TRACEPARENT"] {
        let context = extract(&[(name, VALID)]).unwrap();
        assert_eq!(trace_id(&context), TRACE, "{name}");
    }
    // Carriers that keep the sender's case.
    let pairs: [(&str, &[u8]); 1] = [("TraceParent", VALID.as_bytes())];
    assert!(w3c::extract(&pairs).unwrap().is_some());
}

#[test]
fn other_header_names_are_not_traceparent() {
    assert!(extract(&[("trace-parent", VALID)]).is_none());
    assert!(extract(&[("trace.parent", VALID)]).is_none());
}

#[test]
fn version_ff_is_invalid() {
    assert!(
        extract(&[(
            "traceparent",
            "ff-12345678901234567890123456789012-1234567890123456-01"
        )])
        .is_none()
    );
}

#[test]
fn version_00_must_be_exactly_55_characters() {
    for value in [
        "00-12345678901234567890123456789012-1234567890123456-01.",
        "00-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
        "00-12345678901234567890123456789012-1234567890123456-0",
    ] {
        assert!(extract(&[("traceparent", value)]).is_none(), "{value}");
    }
}

#[test]
fn higher_version_is_parsed_from_its_first_55_characters() {
    for value in [
        "cc-12345678901234567890123456789012-1234567890123456-01",
        "cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
    ] {
        let context = extract(&[("traceparent", value)]).unwrap();
        assert_eq!(trace_id(&context), TRACE, "{value}");
        // Forwarded in the highest version we know, 00, without the unknown fields.
        let out = forwarded(&[("traceparent", value)]);
        assert_eq!(out["traceparent"], VALID);
    }
}

#[test]
fn higher_version_needs_a_dash_after_the_flags() {
    let value =
        "cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like";
    assert!(extract(&[("traceparent", value)]).is_none());
}

#[test]
fn version_must_be_two_lower_case_hex_digits() {
    for version in [".0", "0.", "000", "0000", "0", "CC", "0A"] {
        let value = format!("{version}-12345678901234567890123456789012-1234567890123456-01");
        assert!(extract(&[("traceparent", &value)]).is_none(), "{value}");
    }
}

#[test]
fn upper_case_hex_is_invalid() {
    for value in [
        "00-1234567890123456789012345678901A-1234567890123456-01",
        "00-12345678901234567890123456789012-123456789012345A-01",
        "00-12345678901234567890123456789012-1234567890123456-0A",
    ] {
        assert!(extract(&[("traceparent", value)]).is_none(), "{value}");
    }
}

#[test]
fn all_zero_trace_id_is_invalid() {
    let value = "00-00000000000000000000000000000000-1234567890123456-01";
    assert!(extract(&[("traceparent", value)]).is_none());
}

#[test]
fn all_zero_parent_id_is_invalid() {
    let value = "00-12345678901234567890123456789012-0000000000000000-01";
    assert!(extract(&[("traceparent", value)]).is_none());
}

#[test]
fn trace_id_must_be_32_hex_digits() {
    for value in [
        "00-.2345678901234567890123456789012-1234567890123456-01",
        "00-1234567890123456789012345678901.-1234567890123456-01",
        "00-123456789012345678901234567890123-1234567890123456-01",
        "00-1234567890123456789012345678901-1234567890123456-01",
    ] {
        assert!(extract(&[("traceparent", value)]).is_none(), "{value}");
    }
}

#[test]
fn parent_id_must_be_16_hex_digits() {
    for value in [
        "00-12345678901234567890123456789012-.234567890123456-01",
        "00-12345678901234567890123456789012-123456789012345.-01",
        "00-12345678901234567890123456789012-12345678901234567-01",
        "00-12345678901234567890123456789012-123456789012345-01",
    ] {
        assert!(extract(&[("traceparent", value)]).is_none(), "{value}");
    }
}

#[test]
fn trace_flags_must_be_2_hex_digits() {
    for flags in [".0", "0.", "001", "1"] {
        let value = format!("00-12345678901234567890123456789012-1234567890123456-{flags}");
        assert!(extract(&[("traceparent", &value)]).is_none(), "{value}");
    }
}

#[test]
fn optional_whitespace_around_traceparent_is_ignored() {
    for value in [
        format!(" {VALID}"),
        format!("\t{VALID}"),
        format!("{VALID} "),
        format!("{VALID}\t"),
        format!("\t {VALID} \t"),
    ] {
        let context = extract(&[("traceparent", &value)]).unwrap();
        assert_eq!(trace_id(&context), TRACE, "{value:?}");
    }
}

#[test]
fn sampled_flag_is_read_as_a_bit() {
    for (flags, sampled) in [
        ("00", false),
        ("01", true),
        ("02", false),
        ("03", true),
        ("09", true),
    ] {
        let value = format!("00-{TRACE}-{PARENT}-{flags}");
        assert_eq!(
            extract(&[("traceparent", &value)]).unwrap().sampled,
            sampled,
            "{flags}"
        );
    }
}

#[test]
fn unknown_trace_flags_are_sent_as_zero() {
    let out = forwarded(&[("traceparent", &format!("00-{TRACE}-{PARENT}-ff"))]);
    assert_eq!(
        out["traceparent"],
        format!("00-{TRACE}-{PARENT}-03").as_str()
    );
}

#[test]
fn random_trace_id_flag_is_propagated_as_received() {
    for flags in ["00", "01", "02", "03"] {
        let value = format!("00-{TRACE}-{PARENT}-{flags}");
        let context = extract(&[("traceparent", &value)]).unwrap();
        assert_eq!(context.random_trace_id, flags == "02" || flags == "03");
        let out = forwarded(&[("traceparent", &value)]);
        assert_eq!(out["traceparent"], value.as_str());
    }
}

#[test]
fn invalid_traceparent_drops_tracestate() {
    let map = headers(&[
        (
            "traceparent",
            "00-00000000000000000000000000000000-1234567890123456-01",
        ),
        ("tracestate", "foo=1"),
    ]);
    let got = Propagator::new([PropagationFormat::TraceContext]).extract(&map);
    assert!(got.context.is_none());
    assert_eq!(got.rejected.len(), 1);
}

#[test]
fn tracestate_without_traceparent_is_ignored() {
    assert!(extract(&[("tracestate", "foo=1")]).is_none());
    assert!(forwarded(&[("tracestate", "foo=1,bar=2")]).is_empty());
}

// ----------------------------------------------------------------- tracestate

#[test]
fn tracestate_is_inherited_in_order() {
    assert_eq!(
        forwarded_state(&["foo=1,bar=2"]).as_deref(),
        Some("foo=1,bar=2")
    );
    assert_eq!(state_of(&["foo=1,bar=2"]).get("bar"), Some("2"));
}

#[test]
fn tracestate_header_name_is_case_insensitive() {
    for name in ["TraceState", "TrAcEsTaTe", "TRACESTATE"] {
        let context = extract(&[("traceparent", VALID), (name, "foo=1")]).unwrap();
        assert_eq!(context.trace_state.get("foo"), Some("1"), "{name}");
    }
    for name in ["trace-state", "trace.state"] {
        let context = extract(&[("traceparent", VALID), (name, "foo=1")]).unwrap();
        assert!(context.trace_state.is_empty(), "{name}");
    }
}

#[test]
fn tracestate_headers_are_combined() {
    assert_eq!(
        forwarded_state(&["foo=1,bar=2", "rojo=1,congo=2", "baz=3"]).as_deref(),
        Some("foo=1,bar=2,rojo=1,congo=2,baz=3")
    );
}

#[test]
fn empty_tracestate_header_adds_nothing() {
    assert_eq!(forwarded_state(&[""]), None, "an empty list is not sent");
    assert_eq!(forwarded_state(&["foo=1", ""]).as_deref(), Some("foo=1"));
    assert_eq!(forwarded_state(&["", "foo=1"]).as_deref(), Some("foo=1"));
}

#[test]
fn empty_list_members_are_skipped() {
    assert_eq!(
        forwarded_state(&[",,foo=1, ,\t,bar=2,"]).as_deref(),
        Some("foo=1,bar=2")
    );
}

#[test]
fn optional_whitespace_around_members_is_trimmed() {
    for state in [
        "foo=1 \t , \t bar=2, \t baz=3",
        "foo=1\t \t,\t \tbar=2,\t \tbaz=3",
    ] {
        assert_eq!(
            forwarded_state(&[state]).as_deref(),
            Some("foo=1,bar=2,baz=3"),
            "{state:?}"
        );
    }
    for state in [" foo=1", "\tfoo=1", "foo=1 ", "foo=1\t", "\t foo=1 \t"] {
        assert_eq!(state_of(&[state]).get("foo"), Some("1"), "{state:?}");
    }
}

#[test]
fn leading_spaces_of_a_value_are_kept() {
    assert_eq!(state_of(&["foo=  1"]).get("foo"), Some("  1"));
}

#[test]
fn duplicated_keys_keep_the_state() {
    for states in [
        &["foo=1,foo=1"][..],
        &["foo=1,foo=2"],
        &["foo=1", "foo=1"],
        &["foo=1", "foo=2"],
        &["bar=0,foo=1", "foo=2,baz=3"],
    ] {
        let state = state_of(states);
        assert_eq!(
            state.get("foo"),
            Some("1"),
            "{states:?}: the first value is kept"
        );
        assert_eq!(state.iter().filter(|(k, _)| *k == "foo").count(), 1);
    }
    assert_eq!(
        forwarded_state(&["bar=0,foo=1", "foo=2,baz=3"]).as_deref(),
        Some("bar=0,foo=1,baz=3")
    );
}

fn members(range: std::ops::RangeInclusive<u32>) -> String {
    range
        .map(|i| format!("bar{i:02}={i:02}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn thirty_two_members_across_headers_are_kept() {
    let headers = [
        members(1..=10),
        members(11..=20),
        members(21..=30),
        members(31..=32),
    ];
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let state = state_of(&headers);
    assert_eq!(state.len(), 32);
    assert_eq!(state.get("bar01"), Some("01"));
    assert_eq!(forwarded_state(&headers), Some(members(1..=32)));
}

#[test]
fn thirty_three_members_discard_tracestate() {
    let headers = [
        members(1..=10),
        members(11..=20),
        members(21..=30),
        members(31..=33),
    ];
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let mut pairs = vec![("traceparent", VALID)];
    pairs.extend(headers.iter().map(|s| ("tracestate", *s)));
    let context = extract(&pairs).expect("the traceparent is kept");
    assert_eq!(trace_id(&context), TRACE);
    assert!(context.trace_state.is_empty());
    assert!(TraceState::parse(members(1..=33).as_bytes()).is_none());
}

#[test]
fn tenant_at_vendor_key_is_kept() {
    let longest = format!("{}@{}", "t".repeat(241), "v".repeat(14));
    for key in [
        "fw529a3039@dt",
        "1tenant@sys",
        "tenant@sys-1_*/",
        longest.as_str(),
    ] {
        let state = state_of(&["foo=1", &format!("{key}=1")]);
        assert_eq!(state.get("foo"), Some("1"), "{key}");
        assert_eq!(state.get(key), Some("1"), "{key}");
    }
}

#[test]
fn key_of_256_characters_is_kept() {
    let key = "z".repeat(256);
    let state = state_of(&["foo=1", &format!("{key}=1")]);
    assert_eq!(state.get("foo"), Some("1"));
    assert_eq!(state.get(&key), Some("1"));
}

#[test]
fn key_of_257_characters_discards_tracestate() {
    let key = "z".repeat(257);
    assert!(state_of(&["foo=1", &format!("{key}=1")]).is_empty());
}

/// Later drafts and the conformance suite read keys as `(lcalpha / DIGIT) 0*255(keychar)`
/// with `@` a key character; Level 1 only lets a receiver discard such lists (MAY), so
/// they are kept.
#[test]
fn keys_with_at_signs_follow_the_current_key_grammar() {
    let long_tenant = format!("{}@v", "t".repeat(242));
    let long_vendor = format!("t@{}", "v".repeat(15));
    for key in [
        "foo@",
        "foo@@bar",
        "foo@bar@baz",
        long_tenant.as_str(),
        long_vendor.as_str(),
    ] {
        let state = state_of(&[&format!("{key}=1,bar=2")]);
        assert_eq!(state.get(key), Some("1"), "{key}");
        assert_eq!(state.get("bar"), Some("2"), "{key}");
    }
    assert!(
        state_of(&["@foo=1,bar=2"]).is_empty(),
        "a key starts with a letter or digit"
    );
}

#[test]
fn invalid_key_discards_tracestate() {
    for state in [
        "foo =1",
        "FOO=1",
        "foo.bar=1",
        "_foo=1",
        "=1",
        "foo",
        "foo=1,Bar=2",
    ] {
        assert!(state_of(&[state]).is_empty(), "{state:?}");
    }
    assert!(
        state_of(&["foo=1", "b\u{e9}r=2"]).is_empty(),
        "non-ASCII key"
    );
}

#[test]
fn invalid_value_discards_tracestate() {
    let long = format!("foo={}", "v".repeat(257));
    for state in [
        "foo=bar=baz",
        "foo=,bar=3",
        "foo=a\tb",
        "foo=\u{e9}",
        long.as_str(),
    ] {
        assert!(state_of(&[state]).is_empty(), "{state:?}");
    }
    let raw: [(&str, &[u8]); 2] = [
        ("traceparent", VALID.as_bytes()),
        ("tracestate", b"foo=\xff"),
    ];
    assert!(w3c::extract(&raw).unwrap().unwrap().trace_state.is_empty());
}

#[test]
fn value_of_256_characters_is_kept() {
    let value = "v".repeat(256);
    assert_eq!(
        state_of(&[&format!("foo={value}")]).get("foo"),
        Some(value.as_str())
    );
}

#[test]
fn all_allowed_characters_are_kept() {
    let key = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
    let key_with_vendor = format!("{key}@a-z0-9_-*/");
    let value: String = (0x20u8..=0x7e)
        .filter(|b| *b != b',' && *b != b'=')
        .map(char::from)
        .collect();
    for key in [key, key_with_vendor.as_str()] {
        let member = format!("{key}={value}");
        assert_eq!(state_of(&[&member]).get(key), Some(value.as_str()));
        assert_eq!(forwarded_state(&[&member]), Some(member));
    }
}

#[test]
fn updated_vendor_entry_moves_to_front() {
    let mut state = state_of(&["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"]);
    assert!(state.insert("congo", "ucfJifl5GOE"));
    assert_eq!(
        state.header_value(),
        "congo=ucfJifl5GOE,rojo=00f067aa0ba902b7"
    );
}

#[test]
fn new_vendor_entry_is_added_at_front() {
    let mut state = state_of(&["rojo=00f067aa0ba902b7"]);
    assert!(state.insert("congo", "t61rcWkgMzE"));
    assert_eq!(
        state.header_value(),
        "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    );
}

#[test]
fn adding_a_thirty_third_entry_removes_the_right_most() {
    let mut state = TraceState::parse(members(1..=32).as_bytes()).unwrap();
    assert!(state.insert("new", "1"));
    assert_eq!(state.len(), 32);
    assert_eq!(state.iter().next(), Some(("new", "1")));
    assert_eq!(state.get("bar32"), None);
    assert_eq!(state.get("bar31"), Some("31"));
}

#[test]
fn written_keys_follow_the_level_1_key_grammar() {
    let mut state = TraceState::default();
    for key in [
        "foo@",
        "foo@@bar",
        "@foo",
        "1abc",
        "Foo",
        &format!("{}@v", "t".repeat(242)),
        &format!("t@{}", "v".repeat(15)),
    ] {
        assert!(!state.insert(key, "1"), "{key}");
    }
    for key in ["abc", "1tenant@sys", "tenant@sys", &"z".repeat(256)] {
        assert!(state.insert(key, "1"), "{key}");
    }
    assert!(!state.insert("ok", "trailing "));
    assert!(!state.insert("ok", ""));
    assert!(!state.insert("ok", "a,b"));
}

#[test]
fn long_tracestate_loses_whole_entries_large_ones_first() {
    // 14 small entries, then 5 entries of 256+ characters: 1,385 + 5×(6+1+256+1) bytes.
    let small: Vec<String> = (0..14)
        .map(|i| format!("k{i:02}={}", "s".repeat(95)))
        .collect();
    let large: Vec<String> = (0..5)
        .map(|i| format!("big{i:02}={}", "l".repeat(256)))
        .collect();
    let all = [small.join(","), large.join(",")].join(",");
    let state = TraceState::parse(all.as_bytes()).unwrap();
    assert!(state.header_value().len() <= TRACESTATE_MAX_LEN);
    // Every small entry survives; large ones went first, from the end.
    assert_eq!(state.iter().filter(|(k, _)| k.starts_with('k')).count(), 14);
    assert!(state.get("big00").is_some());
    assert!(state.get("big04").is_none());
    for (key, value) in state.iter() {
        assert!(all.contains(&format!("{key}={value}")), "{key} was cut");
    }

    // With only small entries, the ones at the end go.
    let small: Vec<String> = (0..32)
        .map(|i| format!("k{i:02}={}", "s".repeat(95)))
        .collect();
    let state = TraceState::parse(small.join(",").as_bytes()).unwrap();
    assert!(state.header_value().len() <= TRACESTATE_MAX_LEN);
    assert_eq!(state.iter().next().map(|(k, _)| k), Some("k00"));
    assert!(state.get("k31").is_none());
}

// -------------------------------------------------------------------- carriers

#[test]
fn carriers_expose_every_value_of_a_header() {
    let map = headers(&[("tracestate", "a=1"), ("TraceState", "b=2")]);
    let values: Vec<&[u8]> = Extractor::get_all(&map, "tracestate").collect();
    assert_eq!(values, [b"a=1".as_slice(), b"b=2"]);

    let pairs: [(&str, &[u8]); 3] = [
        ("tracestate", b"a=1"),
        ("other", b"x"),
        ("TRACESTATE", b"b=2"),
    ];
    let values: Vec<&[u8]> = pairs.get_all("tracestate").collect();
    assert_eq!(values, [b"a=1".as_slice(), b"b=2"]);

    let mut single = std::collections::HashMap::new();
    single.insert("tracestate".to_owned(), "a=1".to_owned());
    assert_eq!(Extractor::get_all(&single, "tracestate").count(), 1);
    assert_eq!(Extractor::get_all(&single, "missing").count(), 0);
}

mod allocations {
    //! Continuing a trace from one `traceparent` must stay allocation-free: it runs on
    //! every request the server layer sees.

    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static COUNT: Cell<usize> = const { Cell::new(0) };
    }

    /// Counts allocations made on the current thread, then defers to the system allocator.
    struct Counting;

    // SAFETY: every call is forwarded unchanged to `System`; the counter is a const-initialised
    // thread-local `Cell`, which never allocates.
    #[allow(unsafe_code)]
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
            // SAFETY: same contract as ours.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: same contract as ours.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static ALLOCATOR: Counting = Counting;

    pub(super) fn count<R>(f: impl FnOnce() -> R) -> (R, usize) {
        let before = COUNT.with(Cell::get);
        let result = f();
        (result, COUNT.with(Cell::get) - before)
    }
}

#[test]
fn one_traceparent_without_tracestate_allocates_nothing() {
    let map = headers(&[("traceparent", VALID), ("accept", "*/*")]);
    let propagator = Propagator::default();
    let (_, counted) = allocations::count(|| Vec::<u8>::with_capacity(1));
    assert_eq!(counted, 1, "the counter sees this thread's allocations");
    let (got, allocations) = allocations::count(|| propagator.extract(&map));
    assert!(got.context.is_some());
    assert_eq!(allocations, 0);
}

// --------------------------------------------------------------------- baggage

fn baggage_of(values: &[&str]) -> Baggage {
    let pairs: Vec<(&str, &str)> = values.iter().map(|v| ("baggage", *v)).collect();
    baggage::extract(&headers(&pairs)).unwrap().unwrap()
}

#[test]
fn baggage_headers_are_combined() {
    let got = baggage_of(&["userId=alice", "serverNode=DF%2028,isProduction=false"]);
    assert_eq!(got.get("userId"), Some("alice"));
    assert_eq!(got.get("serverNode"), Some("DF 28"));
    assert_eq!(got.get("isProduction"), Some("false"));
    assert_eq!(
        baggage::header_value(&got),
        "userId=alice,serverNode=DF%2028,isProduction=false"
    );
}

#[test]
fn baggage_optional_whitespace_is_ignored() {
    let got = baggage_of(&[
        "userId =   alice",
        "serverNode = DF%2028, isProduction = false",
    ]);
    assert_eq!(got.get("userId"), Some("alice"));
    assert_eq!(got.get("serverNode"), Some("DF 28"));
    assert_eq!(got.get("isProduction"), Some("false"));
}

#[test]
fn baggage_values_are_percent_decoded_and_encoded() {
    let got = baggage_of(&["userId=Am%C3%A9lie,serverNode=DF%2028"]);
    assert_eq!(got.get("userId"), Some("Amélie"));
    assert_eq!(
        baggage::header_value(&got),
        "userId=Am%C3%A9lie,serverNode=DF%2028"
    );
    let mut own = Baggage::default();
    assert!(own.insert("k", "100% \"a,b;c\\d\" é"));
    assert_eq!(
        baggage::header_value(&own),
        "k=100%25%20%22a%2Cb%3Bc%5Cd%22%20%C3%A9"
    );
}

#[test]
fn baggage_invalid_utf8_decodes_to_replacement_characters() {
    assert_eq!(baggage_of(&["k=%ff%fe"]).get("k"), Some("\u{fffd}\u{fffd}"));
}

#[test]
fn baggage_value_may_contain_equals_signs() {
    assert_eq!(baggage_of(&["k=a=b=="]).get("k"), Some("a=b=="));
}

#[test]
fn baggage_properties_are_kept() {
    let got = baggage_of(&[
        "key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue",
    ]);
    assert_eq!(got.get("key2"), Some("value2"));
    let props: Vec<Option<&str>> = got.iter().map(|e| e.properties.as_deref()).collect();
    assert_eq!(
        props,
        [
            Some("property1;property2"),
            None,
            Some("propertyKey=propertyValue")
        ]
    );
    assert_eq!(
        baggage::header_value(&got),
        "key1=value1;property1;property2,key2=value2,key3=value3;propertyKey=propertyValue"
    );
}

#[test]
fn invalid_baggage_member_is_skipped() {
    let got = baggage_of(&["a=1,no-equals,bad key=2,c=has space,d=q\"uote,e=5;bad prop=1,f=6"]);
    let keys: Vec<&str> = got.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["a", "f"]);
    // Nothing valid at all is a malformed header.
    assert!(baggage::parse(b"no-equals").is_err());
    assert!(baggage::parse(b"k=\xff").is_err());
    // Empty headers and members are not errors.
    assert!(baggage::parse(b" , ,").unwrap().is_empty());
}

#[test]
fn baggage_keeps_64_members_within_8192_bytes() {
    // The specification's minimum: 64 members and 8192 bytes must all be propagated.
    let value = "v".repeat(8192 / 64 - 8);
    let members: Vec<String> = (0..64).map(|i| format!("key{i:02}={value}")).collect();
    let header = members.join(",");
    assert!(header.len() <= BAGGAGE_MAX_LEN);
    let halves = [members[..32].join(","), members[32..].join(",")];
    let got = baggage_of(&[&halves[0], &halves[1]]);
    assert_eq!(got.len(), 64);
    let mut out = HeaderMap::new();
    baggage::inject(&got, &mut out);
    assert_eq!(out["baggage"], header.as_str());
}

#[test]
fn baggage_over_the_limits_drops_whole_members() {
    let members: Vec<String> = (0..100)
        .map(|i| format!("key{i:02}={}", "v".repeat(200)))
        .collect();
    let got = baggage_of(&[&members.join(",")]);
    assert!(!got.is_empty());
    assert!(got.len() < 100);
    let header = baggage::header_value(&got);
    assert!(header.len() <= BAGGAGE_MAX_LEN);
    for member in header.split(',') {
        assert!(
            members.iter().any(|m| m == member),
            "partial member {member}"
        );
    }
}

#[test]
fn baggage_round_trips_through_extract_and_inject() {
    let sent = "userId=Am%C3%A9lie,serverNode=DF%2028;ttl=60;internal,empty=,eq=a%3Db";
    let got = baggage_of(&[sent]);
    let mut out = HeaderMap::new();
    Propagator::new([PropagationFormat::Baggage]).inject(
        &SpanContext::new(TraceId::new(1).unwrap(), SpanId::new(1).unwrap(), true),
        &got,
        &mut out,
    );
    let again = baggage::extract(&out).unwrap().unwrap();
    assert_eq!(again, got);
    assert_eq!(got.get("empty"), Some(""));
    assert_eq!(got.get("eq"), Some("a=b"));
}

#[test]
fn baggage_inject_writes_a_valid_header() {
    let mut bag = Baggage::default();
    for (i, value) in [
        "plain",
        "",
        " spaced ",
        "a,b;c=d",
        "\u{0}\u{7f}\n",
        "ünï©ødé",
        "%25",
    ]
    .iter()
    .enumerate()
    {
        assert!(bag.insert(&format!("k{i}"), value));
    }
    assert!(!bag.insert("bad key", "x"));
    let header = baggage::header_value(&bag);
    for member in header.split(',') {
        let (key, value) = member.split_once('=').unwrap();
        assert!(sdk_core::propagation::is_header_token(key), "{key}");
        assert!(
            value
                .bytes()
                .all(|b| matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)),
            "{value}"
        );
    }
    assert_eq!(baggage::parse(header.as_bytes()).unwrap(), bag);
}
