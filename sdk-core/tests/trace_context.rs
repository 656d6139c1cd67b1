//! The span-context layer: sampling decisions and remote parents.

use sdk_core::config::{RootSampler, Sampler};
use sdk_core::propagation::{SpanContext, SpanId, TraceId};
use sdk_core::trace::{
    TraceContextLayer, current_span_context, sample_root, set_parent, span_context,
};
use tracing_subscriber::layer::SubscriberExt;

fn with_sampler<R>(sampler: Sampler, f: impl FnOnce() -> R) -> R {
    let subscriber = tracing_subscriber::registry().with(TraceContextLayer::new(sampler));
    tracing::subscriber::with_default(subscriber, f)
}

fn remote(sampled: bool) -> SpanContext {
    let mut ctx = SpanContext::new(
        TraceId::new(0xabc).unwrap(),
        SpanId::new(0xdef).unwrap(),
        sampled,
    );
    ctx.is_remote = true;
    ctx.trace_state.insert("vendor", "x");
    ctx
}

#[test]
fn parent_based_follows_the_remote_decision() {
    let sampler = Sampler {
        root: RootSampler::AlwaysOn,
        parent_based: true,
    };
    with_sampler(sampler, || {
        for sampled in [true, false] {
            let span = tracing::info_span!("server");
            assert!(set_parent(&span, &remote(sampled)));
            let _g = span.enter();
            let child = tracing::info_span!("child");
            let ctx = span_context(&child).unwrap();
            assert_eq!(ctx.sampled, sampled);
            assert_eq!(ctx.trace_id.get(), 0xabc);
            assert_ne!(ctx.span_id.get(), 0xdef);
            assert!(!ctx.is_remote);
            assert_eq!(
                ctx.trace_state.get("vendor"),
                Some("x"),
                "tracestate is carried on"
            );
        }
    });
}

#[test]
fn non_parent_based_decides_from_the_trace_id() {
    let off = Sampler {
        root: RootSampler::AlwaysOff,
        parent_based: false,
    };
    with_sampler(off, || {
        let span = tracing::info_span!("server");
        set_parent(&span, &remote(true));
        assert!(!span_context(&span).unwrap().sampled);
        let root = tracing::info_span!("root");
        assert!(!span_context(&root).unwrap().sampled);
    });
}

#[test]
fn ratio_sampler_keeps_about_the_ratio_and_is_deterministic() {
    let sampler = Sampler {
        root: RootSampler::TraceIdRatio(0.25),
        parent_based: true,
    };
    let kept = with_sampler(sampler, || {
        (0..4000)
            .filter(|_| {
                let span = tracing::info_span!("root");
                let ctx = span_context(&span).unwrap();
                assert_eq!(ctx.sampled, sample_root(&sampler, ctx.trace_id));
                ctx.sampled
            })
            .count()
    });
    assert!(
        (800..1200).contains(&kept),
        "kept {kept} of 4000 at ratio 0.25"
    );
    let zero = Sampler {
        root: RootSampler::TraceIdRatio(0.0),
        parent_based: false,
    };
    let one = Sampler {
        root: RootSampler::TraceIdRatio(1.0),
        parent_based: false,
    };
    let id = TraceId::new(u128::MAX).unwrap();
    assert!(!sample_root(&zero, id));
    assert!(sample_root(&one, id));
}

#[test]
fn no_context_without_the_layer_or_outside_spans() {
    assert!(current_span_context().is_none());
    with_sampler(Sampler::default(), || {
        assert!(current_span_context().is_none());
        let span = tracing::info_span!("x");
        let _g = span.enter();
        assert!(current_span_context().is_some());
    });
    let disabled = tracing::Span::none();
    assert!(!set_parent(&disabled, &remote(true)));
}
