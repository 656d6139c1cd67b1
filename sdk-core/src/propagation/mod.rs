//! Trace-context propagation over any header carrier.
//!
//! Formats: W3C `traceparent`/`tracestate` ([`w3c`]), W3C `baggage` ([`baggage`]), Datadog
//! `x-datadog-*` with 128-bit ids through `_dd.p.tid` ([`datadog`]) and B3 single and multi
//! header ([`b3`]). A [`Propagator`] combines the formats chosen by `OTEL_PROPAGATORS` (or
//! `DD_TRACE_PROPAGATION_STYLE`).
//!
//! Extraction never panics: a malformed header of any kind (wrong length, zero ids, non-hex,
//! oversized, invalid UTF-8) is rejected, counted in the catalogue's
//! `sdk.propagation.rejected` counter, and extraction continues with the next format.
//! Repeated headers are read through [`Extractor::get_all`]: two `traceparent` headers are
//! rejected like an invalid one, while several `tracestate` or `baggage` headers form one
//! list each, as the W3C specifications ask.
//!
//! ```
//! use std::collections::HashMap;
//! use sdk_core::propagation::{Propagator, PropagationFormat};
//!
//! let propagator = Propagator::new([PropagationFormat::TraceContext, PropagationFormat::Datadog]);
//! let mut incoming = HashMap::new();
//! incoming.insert(
//!     "traceparent".to_owned(),
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
//! );
//! let extracted = propagator.extract(&incoming);
//! let parent = extracted.context.expect("valid traceparent");
//!
//! let mut outgoing = HashMap::new();
//! propagator.inject(&parent, &extracted.baggage, &mut outgoing);
//! assert_eq!(outgoing["x-datadog-parent-id"], parent.span_id.get().to_string());
//! assert_eq!(outgoing["x-datadog-tags"], "_dd.p.tid=4bf92f3577b34da6");
//! ```

pub mod b3;
pub mod baggage;
mod context;
pub mod datadog;
mod tracestate;
pub mod w3c;

pub use baggage::{BAGGAGE_MAX_LEN, BAGGAGE_MAX_MEMBERS, Baggage, BaggageEntry};
pub use context::{SpanContext, SpanId, TraceId, hex_u128};
pub use tracestate::{TRACESTATE_MAX_LEN, TRACESTATE_MAX_MEMBERS, TraceState};

use std::collections::HashMap;

/// Whether `name` is an HTTP token (a valid header name or baggage key).
pub fn is_header_token(name: &str) -> bool {
    baggage::is_token(name)
}

/// Read access to incoming headers. Names are lower case; values are raw bytes so that
/// invalid UTF-8 reaches the parsers (which reject it) instead of being lost upstream.
pub trait Extractor {
    /// The first value of header `name`.
    fn get(&self, name: &str) -> Option<&[u8]>;

    /// Every value of header `name`, in the order received. W3C Trace Context needs them
    /// all: two `traceparent` headers start a new trace, and several `tracestate` or
    /// `baggage` headers form one list. Carriers that can repeat a header override this;
    /// the default yields the [`get`](Extractor::get) value alone.
    fn get_all(&self, name: &str) -> impl Iterator<Item = &[u8]> {
        self.get(name).into_iter()
    }
}

/// Write access to outgoing headers. Names are lower case and static.
pub trait Injector {
    /// Sets header `name` to `value`, replacing any previous value.
    fn set(&mut self, name: &'static str, value: String);
}

impl<S: std::hash::BuildHasher> Extractor for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<&[u8]> {
        HashMap::get(self, name).map(String::as_bytes)
    }
}

impl<S: std::hash::BuildHasher> Injector for HashMap<String, String, S> {
    fn set(&mut self, name: &'static str, value: String) {
        self.insert(name.to_owned(), value);
    }
}

impl Extractor for [(&str, &[u8])] {
    fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| *value)
    }

    fn get_all(&self, name: &str) -> impl Iterator<Item = &[u8]> {
        self.iter()
            .filter(move |(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| *value)
    }
}

impl<const N: usize> Extractor for [(&str, &[u8]); N] {
    fn get(&self, name: &str) -> Option<&[u8]> {
        Extractor::get(self.as_slice(), name)
    }

    fn get_all(&self, name: &str) -> impl Iterator<Item = &[u8]> {
        Extractor::get_all(self.as_slice(), name)
    }
}

#[cfg(feature = "http")]
impl Extractor for http::HeaderMap {
    fn get(&self, name: &str) -> Option<&[u8]> {
        // The propagators' own header names are looked up as prebuilt `HeaderName`s, which
        // skips parsing the name on every request.
        match known_header(name) {
            Some(known) => http::HeaderMap::get(self, known),
            None => http::HeaderMap::get(self, name),
        }
        .map(http::HeaderValue::as_bytes)
    }

    fn get_all(&self, name: &str) -> impl Iterator<Item = &[u8]> {
        match known_header(name) {
            Some(known) => http::HeaderMap::get_all(self, known),
            None => http::HeaderMap::get_all(self, name),
        }
        .into_iter()
        .map(http::HeaderValue::as_bytes)
    }
}

#[cfg(feature = "http")]
fn known_header(name: &str) -> Option<&'static http::HeaderName> {
    use http::HeaderName;
    static KNOWN: [HeaderName; 13] = [
        HeaderName::from_static(w3c::TRACEPARENT),
        HeaderName::from_static(w3c::TRACESTATE),
        HeaderName::from_static(baggage::BAGGAGE),
        HeaderName::from_static(datadog::TRACE_ID),
        HeaderName::from_static(datadog::PARENT_ID),
        HeaderName::from_static(datadog::SAMPLING_PRIORITY),
        HeaderName::from_static(datadog::ORIGIN),
        HeaderName::from_static(datadog::TAGS),
        HeaderName::from_static(b3::SINGLE),
        HeaderName::from_static(b3::TRACE_ID),
        HeaderName::from_static(b3::SPAN_ID),
        HeaderName::from_static(b3::SAMPLED),
        HeaderName::from_static(b3::FLAGS),
    ];
    KNOWN.iter().find(|known| known.as_str() == name)
}

#[cfg(feature = "http")]
impl Injector for http::HeaderMap {
    fn set(&mut self, name: &'static str, value: String) {
        if let Ok(value) = http::HeaderValue::try_from(value) {
            self.insert(http::HeaderName::from_static(name), value);
        }
    }
}

/// Why a header was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed {format} header: {reason}")]
pub struct Malformed {
    /// Format that rejected the input.
    pub format: PropagationFormat,
    /// What was wrong.
    pub reason: &'static str,
}

/// One propagation format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropagationFormat {
    /// W3C `traceparent` + `tracestate` (`tracecontext`).
    TraceContext,
    /// W3C `baggage`.
    Baggage,
    /// Datadog `x-datadog-*` (`datadog`).
    Datadog,
    /// B3 single header `b3` (`b3`).
    B3,
    /// B3 multi header `x-b3-*` (`b3multi`).
    B3Multi,
}

impl PropagationFormat {
    /// Every format, in the order of [`PropagationFormat::name`]'s documentation.
    pub const ALL: [Self; 5] = [
        Self::TraceContext,
        Self::Baggage,
        Self::Datadog,
        Self::B3,
        Self::B3Multi,
    ];

    /// The name used in `OTEL_PROPAGATORS`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::TraceContext => "tracecontext",
            Self::Baggage => "baggage",
            Self::Datadog => "datadog",
            Self::B3 => "b3",
            Self::B3Multi => "b3multi",
        }
    }

    /// Header names this format reads and writes.
    pub const fn fields(self) -> &'static [&'static str] {
        match self {
            Self::TraceContext => &[w3c::TRACEPARENT, w3c::TRACESTATE],
            Self::Baggage => &[baggage::BAGGAGE],
            Self::Datadog => &[
                datadog::TRACE_ID,
                datadog::PARENT_ID,
                datadog::SAMPLING_PRIORITY,
                datadog::ORIGIN,
                datadog::TAGS,
            ],
            Self::B3 => &[b3::SINGLE],
            Self::B3Multi => &[
                b3::TRACE_ID,
                b3::SPAN_ID,
                b3::SAMPLED,
                b3::FLAGS,
                b3::PARENT_SPAN_ID,
            ],
        }
    }
}

impl std::fmt::Display for PropagationFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What extraction found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    /// The remote parent, from the first format (in configured order) that had a valid one.
    pub context: Option<SpanContext>,
    /// Baggage, when the baggage format is configured.
    pub baggage: Baggage,
    /// Headers that were present but malformed, in the order met.
    pub rejected: Vec<Malformed>,
}

/// A composite propagator over the configured formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Propagator {
    formats: Vec<PropagationFormat>,
}

impl Default for Propagator {
    /// `tracecontext,baggage`, the OpenTelemetry default.
    fn default() -> Self {
        Self::new([PropagationFormat::TraceContext, PropagationFormat::Baggage])
    }
}

impl Propagator {
    /// A propagator over `formats` (duplicates removed, order kept).
    pub fn new(formats: impl IntoIterator<Item = PropagationFormat>) -> Self {
        let mut unique = Vec::new();
        for format in formats {
            if !unique.contains(&format) {
                unique.push(format);
            }
        }
        Self { formats: unique }
    }

    /// Configured formats, in order.
    pub fn formats(&self) -> &[PropagationFormat] {
        &self.formats
    }

    /// Extracts the remote parent and baggage. The first format with a valid context wins;
    /// a later W3C `tracestate` for the same trace is attached to it. Rejected headers are
    /// counted in `sdk.propagation.rejected`.
    pub fn extract<E: Extractor + ?Sized>(&self, carrier: &E) -> Extracted {
        let mut out = Extracted::default();
        for &format in &self.formats {
            let result = match format {
                PropagationFormat::Baggage => match baggage::extract(carrier) {
                    Ok(Some(found)) => {
                        out.baggage = found;
                        Ok(None)
                    }
                    Ok(None) => Ok(None),
                    Err(err) => Err(err),
                },
                PropagationFormat::TraceContext => w3c::extract(carrier),
                PropagationFormat::Datadog => datadog::extract(carrier),
                PropagationFormat::B3 => b3::extract_single(carrier),
                PropagationFormat::B3Multi => b3::extract_multi(carrier),
            };
            match result {
                Ok(Some(found)) => match &mut out.context {
                    None => out.context = Some(found),
                    Some(first) => {
                        if first.trace_id == found.trace_id
                            && first.trace_state.is_empty()
                            && !found.trace_state.is_empty()
                        {
                            first.trace_state = found.trace_state;
                        }
                    }
                },
                Ok(None) => {}
                Err(err) => {
                    count_rejection(err.format);
                    out.rejected.push(err);
                }
            }
        }
        out
    }

    /// Writes `context` (and `baggage`, when configured) in every configured format.
    pub fn inject<I: Injector + ?Sized>(
        &self,
        context: &SpanContext,
        baggage: &Baggage,
        carrier: &mut I,
    ) {
        for &format in &self.formats {
            match format {
                PropagationFormat::TraceContext => w3c::inject(context, carrier),
                PropagationFormat::Baggage => baggage::inject(baggage, carrier),
                PropagationFormat::Datadog => datadog::inject(context, carrier),
                PropagationFormat::B3 => b3::inject_single(context, carrier),
                PropagationFormat::B3Multi => b3::inject_multi(context, carrier),
            }
        }
    }

    /// Every header name the configured formats read or write.
    pub fn fields(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.formats.iter().flat_map(|f| f.fields().iter().copied())
    }
}

#[cfg(feature = "metrics")]
fn count_rejection(format: PropagationFormat) {
    crate::catalogue::PROPAGATION_REJECTED
        .counter(&[(
            crate::semconv::sdk::PROPAGATOR,
            metrics::SharedString::const_str(format.name()),
        )])
        .increment(1);
}

#[cfg(not(feature = "metrics"))]
fn count_rejection(_format: PropagationFormat) {}
