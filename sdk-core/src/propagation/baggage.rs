//! W3C Baggage.

use super::context::{BAGGAGE_MAX_LEN, BAGGAGE_MAX_MEMBERS, is_token};
use super::{Baggage, BaggageEntry, Extractor, Injector, Malformed, PropagationFormat};
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

/// `baggage` header name.
pub const BAGGAGE: &str = "baggage";

/// Characters escaped in values: everything outside W3C's `baggage-octet`.
const VALUE_ESCAPES: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b',')
    .add(b';')
    .add(b'\\')
    .add(b'%');

fn malformed(reason: &'static str) -> Malformed {
    Malformed {
        format: PropagationFormat::Baggage,
        reason,
    }
}

/// Parses a `baggage` value. Entries beyond the member limit are dropped; a malformed
/// entry or an oversized header rejects the whole header.
pub fn parse(value: &[u8]) -> Result<Baggage, Malformed> {
    if value.len() > BAGGAGE_MAX_LEN {
        return Err(malformed("longer than 8192 bytes"));
    }
    let text = std::str::from_utf8(value).map_err(|_| malformed("not UTF-8"))?;
    let mut baggage = Baggage::default();
    for member in text.split(',') {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        let (pair, properties) = match member.split_once(';') {
            Some((pair, props)) => (pair, Some(props.trim().to_owned())),
            None => (member, None),
        };
        let (key, value) = pair
            .split_once('=')
            .ok_or(malformed("member without '='"))?;
        let key = key.trim_matches([' ', '\t']);
        if !is_token(key) {
            return Err(malformed("key is not a token"));
        }
        let value = value.trim_matches([' ', '\t']);
        let decoded = percent_decode_str(value)
            .decode_utf8()
            .map_err(|_| malformed("value is not UTF-8 after decoding"))?;
        if baggage.len() < BAGGAGE_MAX_MEMBERS {
            baggage.push_entry(BaggageEntry {
                key: key.to_owned(),
                value: decoded.into_owned(),
                properties,
            });
        }
    }
    Ok(baggage)
}

/// Extracts the `baggage` header.
pub fn extract<E: Extractor + ?Sized>(carrier: &E) -> Result<Option<Baggage>, Malformed> {
    carrier.get(BAGGAGE).map(parse).transpose()
}

/// The header value, stopping before it would exceed 8192 bytes.
pub fn header_value(baggage: &Baggage) -> String {
    let mut out = String::new();
    for entry in baggage.iter() {
        let mut member = format!(
            "{}={}",
            entry.key,
            utf8_percent_encode(&entry.value, VALUE_ESCAPES)
        );
        if let Some(props) = &entry.properties {
            member.push(';');
            member.push_str(props);
        }
        let extra = usize::from(!out.is_empty());
        if out.len() + extra + member.len() > BAGGAGE_MAX_LEN {
            break;
        }
        if extra == 1 {
            out.push(',');
        }
        out.push_str(&member);
    }
    out
}

/// Writes a non-empty `baggage` header.
pub fn inject<I: Injector + ?Sized>(baggage: &Baggage, carrier: &mut I) {
    if !baggage.is_empty() {
        carrier.set(BAGGAGE, header_value(baggage));
    }
}
