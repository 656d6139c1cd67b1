//! Propagation: known vectors, round trips between every pair of formats, malformed input,
//! and property tests over random bytes and random header shapes.

use proptest::prelude::*;
use sdk_core::propagation::{
    Baggage, Extractor, PropagationFormat, Propagator, SpanContext, SpanId, TraceId, TraceState,
    b3, baggage, datadog, w3c,
};
use std::collections::HashMap;

const TRACE: u128 = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736;
const SPAN: u64 = 0x00f0_67aa_0ba9_02b7;

fn ctx(trace: u128, span: u64, sampled: bool) -> SpanContext {
    SpanContext::new(
        TraceId::new(trace).unwrap(),
        SpanId::new(span).unwrap(),
        sampled,
    )
}

fn headers(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn only(format: PropagationFormat) -> Propagator {
    Propagator::new([format])
}

#[test]
fn w3c_vectors() {
    let h = headers(&[
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("tracestate", "dd=s:1;o:rum,congo=t61rcWkgMzE"),
    ]);
    let got = only(PropagationFormat::TraceContext).extract(&h);
    let context = got.context.unwrap();
    assert_eq!(context.trace_id.get(), TRACE);
    assert_eq!(context.span_id.get(), SPAN);
    assert!(context.sampled);
    assert!(context.is_remote);
    assert_eq!(context.trace_state.get("congo"), Some("t61rcWkgMzE"));
    assert_eq!(context.trace_state.get("dd"), Some("s:1;o:rum"));
    assert!(got.rejected.is_empty());

    let mut out = HashMap::new();
    w3c::inject(&context, &mut out);
    assert_eq!(
        out["traceparent"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    );
    assert_eq!(out["tracestate"], "dd=s:1;o:rum,congo=t61rcWkgMzE");

    // A future version may append fields after the flags.
    let future = headers(&[(
        "traceparent",
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra",
    )]);
    let context = w3c::extract(&future).unwrap().unwrap();
    assert!(!context.sampled);
}

#[test]
fn w3c_rejects_malformed() {
    let bad = [
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0", // short
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", // v00 too long
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // version ff
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01", // zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // zero span id
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // upper case
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", // non-hex
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", // separators
        "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // version non-hex
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz", // flags non-hex
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", // future version, no dash
    ];
    for value in bad {
        let h = headers(&[("traceparent", value)]);
        let got = only(PropagationFormat::TraceContext).extract(&h);
        assert!(got.context.is_none(), "accepted {value}");
        assert_eq!(got.rejected.len(), 1, "{value}");
        assert_eq!(got.rejected[0].format, PropagationFormat::TraceContext);
    }
    // Invalid UTF-8 bytes.
    let raw: [(&str, &[u8]); 1] = [(
        "traceparent",
        b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902\xff\xfe-01",
    )];
    assert!(w3c::extract(&raw).is_err());
}

#[test]
fn tracestate_limits() {
    let members: Vec<String> = (0..33).map(|i| format!("k{i}=v{i}")).collect();
    assert!(
        TraceState::parse(members.join(",").as_bytes()).is_none(),
        "33 members accepted"
    );
    assert_eq!(
        TraceState::parse(members[..32].join(",").as_bytes())
            .unwrap()
            .iter()
            .count(),
        32
    );
    assert!(TraceState::parse(b"UPPER=1").is_none());
    // Duplicated keys keep the state and the first value.
    assert_eq!(TraceState::parse(b"k=a,k=b").unwrap().header_value(), "k=a");
    assert!(TraceState::parse(b"k=has,comma").is_none());
    assert!(TraceState::parse(b"k=").is_none());
    assert!(TraceState::parse(b"tenant@sys=1, 1tenant@s=2").is_some());
    assert!(
        TraceState::parse(&vec![b'a'; 5000]).is_none(),
        "oversized accepted"
    );
    assert!(TraceState::parse(b"k=\xff").is_none());

    // A bad tracestate is dropped, the traceparent kept.
    let h = headers(&[
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("tracestate", "BAD KEY=1"),
    ]);
    let context = w3c::extract(&h).unwrap().unwrap();
    assert!(context.trace_state.is_empty());

    let mut state = TraceState::default();
    assert!(state.insert("a", "1"));
    assert!(state.insert("b", "2"));
    assert!(state.insert("a", "3"));
    assert_eq!(state.header_value(), "a=3,b=2");
    assert!(!state.insert("Bad", "x"));
}

#[test]
fn datadog_vectors_with_128_bit_ids() {
    let h = headers(&[
        ("x-datadog-trace-id", "11803532876627986230"),
        ("x-datadog-parent-id", "67667974448284343"),
        ("x-datadog-sampling-priority", "2"),
        ("x-datadog-origin", "rum"),
        (
            "x-datadog-tags",
            "_dd.p.tid=4bf92f3577b34da6,_dd.p.dm=-4,other=x",
        ),
    ]);
    let context = datadog::extract(&h).unwrap().unwrap();
    assert_eq!(context.trace_id.get(), TRACE);
    assert_eq!(context.trace_id.low_u64(), 11_803_532_876_627_986_230);
    assert_eq!(context.span_id.get(), SPAN);
    assert_eq!(context.sampling_priority, Some(2));
    assert!(context.sampled);
    assert_eq!(context.origin.as_deref(), Some("rum"));
    assert_eq!(
        context.dd_tags,
        vec![("_dd.p.dm".to_owned(), "-4".to_owned())]
    );

    let mut out = HashMap::new();
    datadog::inject(&context, &mut out);
    assert_eq!(out["x-datadog-trace-id"], "11803532876627986230");
    assert_eq!(out["x-datadog-parent-id"], "67667974448284343");
    assert_eq!(out["x-datadog-sampling-priority"], "2");
    assert_eq!(out["x-datadog-origin"], "rum");
    assert_eq!(
        out["x-datadog-tags"],
        "_dd.p.tid=4bf92f3577b34da6,_dd.p.dm=-4"
    );

    // 64-bit only, no priority: auto keep.
    let h = headers(&[("x-datadog-trace-id", "42"), ("x-datadog-parent-id", "7")]);
    let context = datadog::extract(&h).unwrap().unwrap();
    assert_eq!(context.trace_id.get(), 42);
    assert!(context.sampled);
    assert_eq!(context.sampling_priority, None);
    let mut out = HashMap::new();
    datadog::inject(&context, &mut out);
    assert_eq!(out["x-datadog-sampling-priority"], "1");
    assert!(!out.contains_key("x-datadog-tags"));

    // Reject priorities mean "not sampled".
    let h = headers(&[
        ("x-datadog-trace-id", "42"),
        ("x-datadog-parent-id", "7"),
        ("x-datadog-sampling-priority", "-1"),
    ]);
    assert!(!datadog::extract(&h).unwrap().unwrap().sampled);

    // A malformed tid or oversized tags keep the 64-bit id.
    for tags in [
        "_dd.p.tid=XYZ",
        "_dd.p.tid=4bf92f3577b34da",
        &format!("_dd.p.tid=4bf92f3577b34da6,_dd.p.x={}", "a".repeat(600)),
    ] {
        let h = headers(&[
            ("x-datadog-trace-id", "42"),
            ("x-datadog-parent-id", "7"),
            ("x-datadog-tags", tags),
        ]);
        assert_eq!(
            datadog::extract(&h).unwrap().unwrap().trace_id.get(),
            42,
            "{tags}"
        );
    }
}

#[test]
fn datadog_rejects_malformed() {
    let cases: [&[(&str, &str)]; 8] = [
        &[("x-datadog-trace-id", "0"), ("x-datadog-parent-id", "7")],
        &[("x-datadog-trace-id", "42"), ("x-datadog-parent-id", "0")],
        &[("x-datadog-trace-id", "42")],
        &[("x-datadog-trace-id", "-42"), ("x-datadog-parent-id", "7")],
        &[
            ("x-datadog-trace-id", "18446744073709551616"),
            ("x-datadog-parent-id", "7"),
        ],
        &[("x-datadog-trace-id", "4a"), ("x-datadog-parent-id", "7")],
        &[
            ("x-datadog-trace-id", "42"),
            ("x-datadog-parent-id", "7"),
            ("x-datadog-sampling-priority", "3"),
        ],
        &[
            ("x-datadog-trace-id", "42"),
            ("x-datadog-parent-id", "7"),
            ("x-datadog-sampling-priority", "keep"),
        ],
    ];
    for case in cases {
        let got = only(PropagationFormat::Datadog).extract(&headers(case));
        assert!(got.context.is_none(), "accepted {case:?}");
        assert_eq!(got.rejected.len(), 1);
    }
}

#[test]
fn b3_vectors() {
    let h = headers(&[(
        "b3",
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1-05e3ac9a4f6e3b90",
    )]);
    let context = b3::extract_single(&h).unwrap().unwrap();
    assert_eq!(
        (
            context.trace_id.get(),
            context.span_id.get(),
            context.sampled
        ),
        (TRACE, SPAN, true)
    );
    let h = headers(&[("b3", "a3ce929d0e0e4736-00f067aa0ba902b7-0")]);
    let context = b3::extract_single(&h).unwrap().unwrap();
    assert_eq!(context.trace_id.get(), 0xa3ce_929d_0e0e_4736);
    assert!(!context.sampled);
    assert!(
        b3::extract_single(&headers(&[("b3", "d")]))
            .unwrap()
            .is_none()
    );
    let mut out = HashMap::new();
    b3::inject_single(&ctx(TRACE, SPAN, true), &mut out);
    assert_eq!(
        out["b3"],
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"
    );

    let h = headers(&[
        ("x-b3-traceid", "4bf92f3577b34da6a3ce929d0e0e4736"),
        ("x-b3-spanid", "00f067aa0ba902b7"),
        ("x-b3-sampled", "0"),
        ("x-b3-flags", "1"),
    ]);
    let context = b3::extract_multi(&h).unwrap().unwrap();
    assert!(context.sampled, "debug flag implies sampled");
    let mut out = HashMap::new();
    b3::inject_multi(&ctx(TRACE, SPAN, false), &mut out);
    assert_eq!(out["x-b3-traceid"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(out["x-b3-spanid"], "00f067aa0ba902b7");
    assert_eq!(out["x-b3-sampled"], "0");

    for bad in [
        "4bf9-00f067aa0ba902b7",
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-x",
        "00000000000000000000000000000000-00f067aa0ba902b7-1",
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1-zz",
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1-05e3ac9a4f6e3b90-x",
    ] {
        assert!(
            b3::extract_single(&headers(&[("b3", bad)])).is_err(),
            "accepted {bad}"
        );
    }
    assert!(b3::extract_multi(&headers(&[("x-b3-traceid", "4bf92f3577b34da6")])).is_err());
    assert!(
        b3::extract_multi(&headers(&[
            ("x-b3-traceid", "4bf92f3577b34da6"),
            ("x-b3-spanid", "00f067aa0ba902b7"),
            ("x-b3-sampled", "yes")
        ]))
        .is_err()
    );
}

#[test]
fn baggage_round_trip_and_limits() {
    let h = headers(&[(
        "baggage",
        "userId=alice, serverNode = DF%2028 ,isProduction=false;ttl=60",
    )]);
    let got = baggage::extract(&h).unwrap().unwrap();
    assert_eq!(got.get("userId"), Some("alice"));
    assert_eq!(got.get("serverNode"), Some("DF 28"));
    assert_eq!(got.get("isProduction"), Some("false"));
    let mut out = HashMap::new();
    baggage::inject(&got, &mut out);
    assert_eq!(
        out["baggage"],
        "userId=alice,serverNode=DF%2028,isProduction=false;ttl=60"
    );
    let back = baggage::extract(&out).unwrap().unwrap();
    assert_eq!(back, got);

    let many: Vec<String> = (0..300).map(|i| format!("k{i}=v")).collect();
    let got = baggage::parse(many.join(",").as_bytes()).unwrap();
    assert_eq!(got.len(), 180);
    // A member that alone exceeds 8192 bytes is dropped whole, not cut.
    let oversized = format!("k={}", "v".repeat(9000));
    assert!(baggage::parse(oversized.as_bytes()).unwrap().is_empty());
    assert!(baggage::parse(b"no-equals").is_err());
    // Invalid UTF-8 after percent-decoding becomes U+FFFD, as the specification asks.
    assert_eq!(
        baggage::parse(b"k=%ff%fe").unwrap().get("k"),
        Some("\u{fffd}\u{fffd}")
    );
    assert!(baggage::parse(b"bad key=1").is_err());

    let mut big = Baggage::default();
    for i in 0..100 {
        assert!(big.insert(&format!("key{i}"), &"x".repeat(200)));
    }
    assert!(baggage::header_value(&big).len() <= 8192);
}

fn sample_contexts() -> Vec<SpanContext> {
    vec![
        ctx(TRACE, SPAN, true),
        ctx(TRACE, SPAN, false),
        ctx(42, 7, true),
        ctx(u128::MAX, u64::MAX, true),
        ctx(1 << 64, 1, false),
    ]
}

#[test]
fn round_trip_between_all_formats() {
    let trace_formats = [
        PropagationFormat::TraceContext,
        PropagationFormat::Datadog,
        PropagationFormat::B3,
        PropagationFormat::B3Multi,
    ];
    for context in sample_contexts() {
        for from in trace_formats {
            let mut wire = HashMap::new();
            only(from).inject(&context, &Baggage::default(), &mut wire);
            let extracted = only(from).extract(&wire);
            assert!(
                extracted.rejected.is_empty(),
                "{from}: {:?}",
                extracted.rejected
            );
            let back = extracted
                .context
                .unwrap_or_else(|| panic!("{from} lost the context"));
            assert_eq!(back.trace_id, context.trace_id, "{from}");
            assert_eq!(back.span_id, context.span_id, "{from}");
            assert_eq!(back.sampled, context.sampled, "{from}");

            // Re-inject in every other format and read it back there.
            for to in trace_formats {
                let mut second = HashMap::new();
                only(to).inject(&back, &Baggage::default(), &mut second);
                let again = only(to).extract(&second).context.unwrap();
                assert_eq!(
                    (again.trace_id, again.span_id, again.sampled),
                    (context.trace_id, context.span_id, context.sampled),
                    "{from} -> {to}"
                );
            }
        }
    }
}

#[test]
fn composite_first_valid_wins_and_counts_rejections() {
    let propagator = Propagator::new([
        PropagationFormat::Datadog,
        PropagationFormat::TraceContext,
        PropagationFormat::Baggage,
    ]);
    let h = headers(&[
        ("x-datadog-trace-id", "garbage"),
        ("x-datadog-parent-id", "7"),
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("tracestate", "dd=s:1"),
        ("baggage", "a=1"),
    ]);
    let metrics = sdk_core::testing::capture_metrics(|| {
        let got = propagator.extract(&h);
        assert_eq!(got.context.unwrap().trace_id.get(), TRACE);
        assert_eq!(got.baggage.get("a"), Some("1"));
        assert_eq!(got.rejected.len(), 1);
        assert_eq!(got.rejected[0].format, PropagationFormat::Datadog);
    });
    assert_eq!(metrics.len(), 1);
    assert_eq!(metrics[0].name, "sdk.propagation.rejected");
    assert_eq!(
        metrics[0].labels,
        vec![("sdk.propagator".to_owned(), "datadog".to_owned())]
    );
    assert_eq!(
        metrics[0].value,
        sdk_core::testing::RecordedValue::Counter(1)
    );

    // Datadog first and valid; the W3C tracestate of the same trace is attached.
    let h = headers(&[
        ("x-datadog-trace-id", "11803532876627986230"),
        ("x-datadog-parent-id", "67667974448284343"),
        ("x-datadog-tags", "_dd.p.tid=4bf92f3577b34da6"),
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("tracestate", "dd=s:1,other=x"),
    ]);
    let got = propagator.extract(&h).context.unwrap();
    assert_eq!(got.trace_state.get("other"), Some("x"));
    assert_eq!(got.sampling_priority, None);

    // Inject writes every configured format.
    let mut out = HashMap::new();
    let mut bag = Baggage::default();
    bag.insert("k", "v w");
    propagator.inject(&ctx(TRACE, SPAN, true), &bag, &mut out);
    let mut names: Vec<&str> = out.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "baggage",
            "traceparent",
            "x-datadog-parent-id",
            "x-datadog-sampling-priority",
            "x-datadog-tags",
            "x-datadog-trace-id"
        ]
    );
    assert_eq!(propagator.fields().count(), 8);
}

#[test]
fn http_header_map_carrier() {
    let mut map = http::HeaderMap::new();
    Propagator::new(PropagationFormat::ALL).inject(
        &ctx(TRACE, SPAN, true),
        &Baggage::default(),
        &mut map,
    );
    assert_eq!(
        map.get("traceparent").unwrap(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    );
    for format in [
        PropagationFormat::TraceContext,
        PropagationFormat::Datadog,
        PropagationFormat::B3,
        PropagationFormat::B3Multi,
    ] {
        assert_eq!(
            only(format).extract(&map).context.unwrap().trace_id.get(),
            TRACE,
            "{format}"
        );
    }
    // Invalid UTF-8 in a header value reaches the parser as bytes and is rejected.
    let mut bad = http::HeaderMap::new();
    bad.insert(
        "traceparent",
        http::HeaderValue::from_bytes(b"00-\xff").unwrap(),
    );
    assert!(w3c::extract(&bad).is_err());
}

/// Header names every format looks at, with realistic and hostile value shapes.
fn header_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(
        PropagationFormat::ALL
            .iter()
            .flat_map(|f| f.fields().iter().copied())
            .collect::<Vec<_>>(),
    )
}

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        "[0-9a-f-]{0,70}".prop_map(String::into_bytes),
        "0[0-9a-f]-[0-9a-f]{30,34}-[0-9a-f]{14,18}-[0-9a-f]{1,3}".prop_map(String::into_bytes),
        "[0-9a-f]{16,32}-[0-9a-f]{16}(-[01d])?(-[0-9a-f]{16})?".prop_map(String::into_bytes),
        "-?[0-9]{0,22}".prop_map(String::into_bytes),
        "(_dd\\.p\\.[a-z]{1,4}=[ -~]{0,20},?){0,40}".prop_map(String::into_bytes),
        "([a-z0-9@_*/-]{0,8}=[ -~]{0,10},?){0,40}".prop_map(String::into_bytes),
    ]
}

struct Raw(Vec<(&'static str, Vec<u8>)>);

impl Extractor for Raw {
    fn get(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_slice())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    /// Random headers never panic, and whatever is accepted is a valid context that
    /// re-injects and re-extracts to itself.
    #[test]
    fn random_headers_never_panic_nor_yield_invalid_ids(
        pairs in prop::collection::vec((header_name(), header_value()), 0..8)
    ) {
        let carrier = Raw(pairs);
        let propagator = Propagator::new(PropagationFormat::ALL);
        let got = propagator.extract(&carrier);
        if let Some(context) = got.context {
            prop_assert_ne!(context.trace_id.get(), 0);
            prop_assert_ne!(context.span_id.get(), 0);
            for format in [PropagationFormat::TraceContext, PropagationFormat::Datadog, PropagationFormat::B3, PropagationFormat::B3Multi] {
                let mut wire = HashMap::new();
                only(format).inject(&context, &got.baggage, &mut wire);
                let back = only(format).extract(&wire);
                prop_assert!(back.rejected.is_empty(), "{format}: {:?}", back.rejected);
                let back = back.context.unwrap();
                prop_assert_eq!(back.trace_id, context.trace_id);
                prop_assert_eq!(back.span_id, context.span_id);
                prop_assert_eq!(back.sampled, context.sampled);
            }
        }
        if !got.baggage.is_empty() {
            let mut wire = HashMap::new();
            baggage::inject(&got.baggage, &mut wire);
            prop_assert!(wire["baggage"].len() <= 8192);
            prop_assert!(baggage::extract(&wire).is_ok());
        }
    }

    /// Any valid context survives every format.
    #[test]
    fn valid_contexts_round_trip(trace in 1u128.., span in 1u64.., sampled in any::<bool>()) {
        let context = ctx(trace, span, sampled);
        for format in [PropagationFormat::TraceContext, PropagationFormat::Datadog, PropagationFormat::B3, PropagationFormat::B3Multi] {
            let mut wire = HashMap::new();
            only(format).inject(&context, &Baggage::default(), &mut wire);
            let back = only(format).extract(&wire).context.unwrap();
            prop_assert_eq!((back.trace_id, back.span_id, back.sampled), (context.trace_id, context.span_id, context.sampled));
        }
    }
}
