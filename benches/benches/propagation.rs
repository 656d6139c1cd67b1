//! Trace-context extract + inject per format, against OpenTelemetry's propagators where
//! one exists, through the same `HashMap<String, String>` carrier.

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use sdk_core::propagation::{PropagationFormat, Propagator};
use std::collections::HashMap;
use std::hint::black_box;

fn headers(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn incoming(format: PropagationFormat) -> HashMap<String, String> {
    match format {
        PropagationFormat::TraceContext => headers(&[
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("tracestate", "dd=s:1;o:rum,congo=t61rcWkgMzE"),
        ]),
        PropagationFormat::Baggage => headers(&[(
            "baggage",
            "userId=alice,serverNode=DF%2028,isProduction=false",
        )]),
        PropagationFormat::Datadog => headers(&[
            ("x-datadog-trace-id", "11803532876627986230"),
            ("x-datadog-parent-id", "67667974448284343"),
            ("x-datadog-sampling-priority", "1"),
            ("x-datadog-tags", "_dd.p.tid=4bf92f3577b34da6,_dd.p.dm=-4"),
        ]),
        PropagationFormat::B3 => {
            headers(&[("b3", "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1")])
        }
        PropagationFormat::B3Multi => headers(&[
            ("x-b3-traceid", "4bf92f3577b34da6a3ce929d0e0e4736"),
            ("x-b3-spanid", "00f067aa0ba902b7"),
            ("x-b3-sampled", "1"),
        ]),
    }
}

fn ours(c: &mut Criterion) {
    let mut group = c.benchmark_group("propagation extract+inject");
    for format in PropagationFormat::ALL {
        let propagator = Propagator::new([format]);
        let carrier = incoming(format);
        group.bench_function(format!("sdk-core/{}", format.name()), |b| {
            b.iter(|| {
                let extracted = propagator.extract(black_box(&carrier));
                let mut out = HashMap::with_capacity(4);
                match &extracted.context {
                    Some(context) => propagator.inject(context, &extracted.baggage, &mut out),
                    None => sdk_core::propagation::baggage::inject(&extracted.baggage, &mut out),
                }
                out
            });
        });
    }

    let w3c = TraceContextPropagator::new();
    let carrier = incoming(PropagationFormat::TraceContext);
    group.bench_function("opentelemetry_sdk/tracecontext", |b| {
        b.iter(|| {
            let context = w3c.extract(black_box(&carrier));
            let mut out = HashMap::with_capacity(4);
            w3c.inject_context(&context, &mut out);
            out
        });
    });
    let baggage = BaggagePropagator::new();
    let carrier = incoming(PropagationFormat::Baggage);
    group.bench_function("opentelemetry_sdk/baggage", |b| {
        b.iter(|| {
            let context = baggage.extract(black_box(&carrier));
            let mut out = HashMap::with_capacity(4);
            baggage.inject_context(&context, &mut out);
            out
        });
    });
    group.finish();
}

criterion_group!(benches, ours);
criterion_main!(benches);
