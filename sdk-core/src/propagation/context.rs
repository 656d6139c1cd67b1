//! The trace context that crosses process boundaries.

use super::TraceState;
use std::fmt;

/// A 128-bit trace id; never zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(u128);

impl TraceId {
    /// Wraps a non-zero id.
    pub const fn new(id: u128) -> Option<Self> {
        if id == 0 { None } else { Some(Self(id)) }
    }

    /// The id as an integer.
    pub const fn get(self) -> u128 {
        self.0
    }

    /// Low 64 bits: Datadog's `trace_id` and `dd.trace_id` log field.
    pub const fn low_u64(self) -> u64 {
        self.0 as u64
    }

    /// High 64 bits: Datadog's `_dd.p.tid`.
    pub const fn high_u64(self) -> u64 {
        (self.0 >> 64) as u64
    }

    /// Parses 32 lower-case hex digits (W3C form).
    pub fn from_hex(hex: &[u8]) -> Option<Self> {
        if hex.len() != 32 {
            return None;
        }
        parse_hex_u128(hex).and_then(Self::new)
    }

    /// 32 lower-case hex digits.
    pub fn to_hex(self) -> String {
        let mut out = [0u8; 32];
        write_hex(self.0, &mut out);
        hex_string(&out)
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({:032x})", self.0)
    }
}

/// A 64-bit span id; never zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(u64);

impl SpanId {
    /// Wraps a non-zero id.
    pub const fn new(id: u64) -> Option<Self> {
        if id == 0 { None } else { Some(Self(id)) }
    }

    /// The id as an integer (Datadog's `span_id`, `dd.span_id`).
    pub const fn get(self) -> u64 {
        self.0
    }

    /// Parses 16 lower-case hex digits.
    pub fn from_hex(hex: &[u8]) -> Option<Self> {
        if hex.len() != 16 {
            return None;
        }
        parse_hex_u128(hex).and_then(|v| Self::new(v as u64))
    }

    /// 16 lower-case hex digits.
    pub fn to_hex(self) -> String {
        let mut out = [0u8; 16];
        write_hex(u128::from(self.0), &mut out);
        hex_string(&out)
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({:016x})", self.0)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The two hex digits of every byte value.
const HEX_PAIRS: [[u8; 2]; 256] = {
    let mut pairs = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        pairs[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    pairs
};

/// Writes the low `out.len()` hex digits of `value` (lower case, zero-padded) into `out`:
/// a byte at a time from a table when the length is even (ids and flags), a digit at a time
/// otherwise.
pub(crate) fn write_hex(mut value: u128, out: &mut [u8]) {
    if out.len().is_multiple_of(2) && out.len() <= 32 {
        let bytes = value.to_be_bytes();
        let first = 16 - out.len() / 2;
        for (pair, byte) in out.chunks_exact_mut(2).zip(&bytes[first..]) {
            pair.copy_from_slice(&HEX_PAIRS[usize::from(*byte)]);
        }
        return;
    }
    for slot in out.iter_mut().rev() {
        *slot = HEX[(value & 0xf) as usize];
        value >>= 4;
    }
}

/// `value` as 32 lower-case hex digits, without allocating.
///
/// ```
/// assert_eq!(&sdk_core::propagation::hex_u128(0xab), b"000000000000000000000000000000ab");
/// ```
pub fn hex_u128(value: u128) -> [u8; 32] {
    let mut out = [0u8; 32];
    write_hex(value, &mut out);
    out
}

/// Hex digits are ASCII, so this never fails; the fallback keeps the function total.
pub(crate) fn hex_string(digits: &[u8]) -> String {
    String::from_utf8(digits.to_vec()).unwrap_or_default()
}

/// Parses up to 32 lower-case hex digits. Upper case is rejected, as W3C requires.
pub(crate) fn parse_hex_u128(hex: &[u8]) -> Option<u128> {
    if hex.is_empty() || hex.len() > 32 {
        return None;
    }
    let mut value: u128 = 0;
    for &b in hex {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        value = (value << 4) | u128::from(digit);
    }
    Some(value)
}

/// Strips optional whitespace (`OWS`: spaces and tabs) at both ends of a header value or
/// list member.
pub(crate) fn trim_ows(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| matches!(b, b' ' | b'\t');
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// Parses a decimal `u64` with no sign, no spaces and at most 20 digits.
pub(crate) fn parse_decimal_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// A remote or local span's context as carried by headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpanContext {
    /// Trace id.
    pub trace_id: TraceId,
    /// Span id of the sender's span (our parent when extracted).
    pub span_id: SpanId,
    /// Whether the trace is sampled (W3C flag `01`).
    pub sampled: bool,
    /// W3C Level 2 `random-trace-id` flag (`02`): at least the right-most 7 bytes of the trace
    /// id are random. Read from `traceparent` and written back unchanged for the same trace;
    /// [`SpanContext::new`] leaves it off.
    pub random_trace_id: bool,
    /// Datadog sampling priority (-1..=2), when known.
    pub sampling_priority: Option<i8>,
    /// W3C tracestate.
    pub trace_state: TraceState,
    /// Datadog origin (`x-datadog-origin`), e.g. `synthetics`.
    pub origin: Option<String>,
    /// Propagated Datadog `_dd.p.*` tags other than `_dd.p.tid`.
    pub dd_tags: Vec<(String, String)>,
    /// Whether this context came from another process.
    pub is_remote: bool,
}

impl SpanContext {
    /// A context with only the ids and the sampled flag.
    pub fn new(trace_id: TraceId, span_id: SpanId, sampled: bool) -> Self {
        Self {
            trace_id,
            span_id,
            sampled,
            random_trace_id: false,
            sampling_priority: None,
            trace_state: TraceState::default(),
            origin: None,
            dd_tags: Vec::new(),
            is_remote: false,
        }
    }

    /// The Datadog sampling priority: the carried one, else 1 (auto keep) or 0 (auto reject).
    pub fn datadog_priority(&self) -> i8 {
        self.sampling_priority.unwrap_or(i8::from(self.sampled))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digits_match_format_at_every_length() {
        let values = [0, 1, 0xab, 0x0123_4567_89ab_cdef, u128::MAX, u128::MAX / 3];
        for value in values {
            for len in 1..=32 {
                let mut out = vec![0u8; len];
                write_hex(value, &mut out);
                let full = format!("{value:032x}");
                assert_eq!(
                    std::str::from_utf8(&out).ok(),
                    Some(&full[32 - len..]),
                    "{value} {len}"
                );
            }
            assert_eq!(hex_u128(value), *format!("{value:032x}").as_bytes());
        }
    }
}
