//! How a cached value is laid out in Redis, and [`Compression`] of large values.
//!
//! A value that needs nothing but its JSON is stored as that JSON, exactly as earlier
//! versions of [`Cache`](super::Cache) wrote it, so that they can still read it during a
//! rolling upgrade. A value with a fresh-until time (stale-while-revalidate) or a
//! compressed payload gets an envelope:
//!
//! ```text
//! byte 0      0xCA, the marker: never the first byte of JSON text
//! byte 1      flags: bit 0 = LZ4 block payload, bit 1 = fresh-until present; others 0
//! [8 bytes]   fresh-until, milliseconds since the Unix epoch, big-endian (bit 1)
//! [4 bytes]   length of the uncompressed JSON, little-endian (bit 0)
//! payload     the JSON, LZ4-compressed when bit 0 is set
//! ```
//!
//! Reading accepts all three shapes (legacy JSON, envelope, compressed envelope) whatever
//! the cache's own [`Compression`]; anything else is [`Unreadable`], which the cache counts
//! and treats as a miss.

/// First byte of an envelope. JSON text starts with whitespace, `{`, `[`, `"`, `-`, a
/// digit, `t`, `f` or `n`, never with this byte (it is not even valid UTF-8 on its own).
const MARKER: u8 = 0xCA;
/// Flag: the payload is an LZ4 block.
const LZ4: u8 = 0b01;
/// Flag: a fresh-until time follows the flags.
const FRESH_UNTIL: u8 = 0b10;

/// Compression of large cached values with LZ4 (the pure-Rust `lz4_flex` block format).
///
/// LZ4 rather than zstd: cache reads sit on the request path, and LZ4 decompresses several
/// times faster than zstd at a lower, but for JSON still large, ratio (a JSON list of
/// records typically shrinks 3–10×); `lz4_flex` is maintained, has no C toolchain
/// dependency and no `unsafe` code in the configuration used here (`safe-encode`,
/// `safe-decode`, `checked-decode`).
///
/// Off by default ([`Compression::off`]): values then stay plain JSON, readable by earlier
/// versions of the cache. [`Compression::lz4`] compresses values whose JSON is at least
/// [`DEFAULT_MIN_SIZE`](Self::DEFAULT_MIN_SIZE) (1 KiB) and keeps the compressed form only
/// when it is smaller. Either way, compressed values are read, up to
/// [`max_decompressed`](Self::max_decompressed) bytes (default 16 MiB): a value claiming
/// more, or more than LZ4 can expand its payload to, is refused before any allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    min_size: Option<usize>,
    max_decompressed: usize,
}

impl Default for Compression {
    fn default() -> Self {
        Self::off()
    }
}

impl Compression {
    /// Values whose JSON is shorter than this many bytes are not compressed (1 KiB).
    pub const DEFAULT_MIN_SIZE: usize = 1024;
    /// Largest uncompressed size a compressed value may claim (16 MiB).
    pub const DEFAULT_MAX_DECOMPRESSED: usize = 16 * 1024 * 1024;

    /// No compression when writing; compressed values are still read.
    pub const fn off() -> Self {
        Self {
            min_size: None,
            max_decompressed: Self::DEFAULT_MAX_DECOMPRESSED,
        }
    }

    /// LZ4 for values of at least [`DEFAULT_MIN_SIZE`](Self::DEFAULT_MIN_SIZE) bytes.
    pub const fn lz4() -> Self {
        Self {
            min_size: Some(Self::DEFAULT_MIN_SIZE),
            max_decompressed: Self::DEFAULT_MAX_DECOMPRESSED,
        }
    }

    /// Compresses values whose JSON is at least `bytes` long (when compression is on).
    pub const fn min_size(mut self, bytes: usize) -> Self {
        if self.min_size.is_some() {
            self.min_size = Some(bytes);
        }
        self
    }

    /// The largest uncompressed size a compressed value may claim.
    pub const fn max_decompressed_size(&self) -> usize {
        self.max_decompressed
    }

    /// Refuses compressed values claiming more than `bytes` once decompressed.
    pub const fn max_decompressed(mut self, bytes: usize) -> Self {
        self.max_decompressed = bytes;
        self
    }
}

/// A value ready to be stored, and what compression saved.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub(crate) bytes: Vec<u8>,
    /// Bytes saved against the same value stored uncompressed.
    pub(crate) saved: u64,
}

/// Lays out `json` for Redis.
pub(crate) fn encode(
    json: Vec<u8>,
    fresh_until: Option<u64>,
    compression: &Compression,
) -> Encoded {
    let mut header = Vec::with_capacity(14);
    let mut flags = 0;
    if let Some(at) = fresh_until {
        flags |= FRESH_UNTIL;
        header.extend_from_slice(&at.to_be_bytes());
    }
    let wants_lz4 = compression.min_size.is_some_and(|min| json.len() >= min)
        && u32::try_from(json.len()).is_ok()
        && json.len() <= compression.max_decompressed;
    if wants_lz4 {
        let compressed = lz4_flex::block::compress(&json);
        // marker, flags, header, length: 2 + header + 4 bytes against 2 + header (or none).
        let plain_len = if flags == 0 {
            json.len()
        } else {
            2 + header.len() + json.len()
        };
        let packed_len = 2 + header.len() + 4 + compressed.len();
        if packed_len < plain_len {
            let mut bytes = Vec::with_capacity(packed_len);
            bytes.extend_from_slice(&[MARKER, flags | LZ4]);
            bytes.extend_from_slice(&header);
            bytes.extend_from_slice(&(json.len() as u32).to_le_bytes());
            bytes.extend_from_slice(&compressed);
            return Encoded {
                bytes,
                saved: (plain_len - packed_len) as u64,
            };
        }
    }
    if flags == 0 {
        return Encoded {
            bytes: json,
            saved: 0,
        };
    }
    let mut bytes = Vec::with_capacity(2 + header.len() + json.len());
    bytes.extend_from_slice(&[MARKER, flags]);
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(&json);
    Encoded { bytes, saved: 0 }
}

/// A stored value, read back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Decoded {
    /// The value's JSON.
    pub(crate) json: Vec<u8>,
    /// Until when the value is fresh (milliseconds since the Unix epoch); `None`: always.
    pub(crate) fresh_until: Option<u64>,
}

/// Why a stored value could not be read (the `error.type` of `sdk.cache.unreadable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreadable {
    /// A marker with unknown flags, or a header cut short.
    Format,
    /// A compressed value claiming more than the limit once decompressed.
    TooLarge,
    /// A compressed payload that does not decompress to its claimed length.
    Decompress,
    /// JSON that is not a value of the requested type.
    Decode,
}

impl Unreadable {
    /// The label value.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Format => "format",
            Self::TooLarge => "too_large",
            Self::Decompress => "decompress",
            Self::Decode => "decode",
        }
    }
}

/// Reads a stored value; never allocates more than `max_decompressed` bytes for it.
pub(crate) fn decode(bytes: Vec<u8>, max_decompressed: usize) -> Result<Decoded, Unreadable> {
    if bytes.first() != Some(&MARKER) {
        return Ok(Decoded {
            json: bytes,
            fresh_until: None,
        });
    }
    let flags = *bytes.get(1).ok_or(Unreadable::Format)?;
    if flags & !(LZ4 | FRESH_UNTIL) != 0 {
        return Err(Unreadable::Format);
    }
    let mut rest = &bytes[2..];
    let fresh_until = if flags & FRESH_UNTIL != 0 {
        let (at, tail) = rest.split_first_chunk::<8>().ok_or(Unreadable::Format)?;
        rest = tail;
        Some(u64::from_be_bytes(*at))
    } else {
        None
    };
    if flags & LZ4 == 0 {
        return Ok(Decoded {
            json: rest.to_vec(),
            fresh_until,
        });
    }
    let (claimed, payload) = rest.split_first_chunk::<4>().ok_or(Unreadable::Format)?;
    let claimed = u32::from_le_bytes(*claimed) as usize;
    if claimed > max_decompressed {
        return Err(Unreadable::TooLarge);
    }
    // An LZ4 block expands at most 255 bytes per input byte: a larger claim is a lie, and
    // is refused before the buffer is allocated.
    if claimed > payload.len().saturating_mul(255).saturating_add(16) {
        return Err(Unreadable::Decompress);
    }
    let mut json = vec![0; claimed];
    match lz4_flex::block::decompress_into(payload, &mut json) {
        Ok(written) if written == claimed => Ok(Decoded { json, fresh_until }),
        _ => Err(Unreadable::Decompress),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big() -> Vec<u8> {
        serde_json::to_vec(&vec!["the same record, again and again"; 100]).unwrap()
    }

    #[test]
    fn plain_json_stays_plain_and_legacy_values_read_back() {
        let json = b"[1,2,3]".to_vec();
        let encoded = encode(json.clone(), None, &Compression::lz4());
        assert_eq!(encoded.bytes, json, "small: not compressed, no envelope");
        assert_eq!(encoded.saved, 0);
        let decoded = decode(json.clone(), 1 << 20).unwrap();
        assert_eq!((decoded.json, decoded.fresh_until), (json, None));
        let off = encode(big(), None, &Compression::off());
        assert_eq!(off.bytes, big());
    }

    #[test]
    fn envelopes_round_trip_compressed_or_not() {
        for compression in [Compression::off(), Compression::lz4()] {
            for fresh_until in [None, Some(1_700_000_000_123)] {
                for json in [b"{\"a\":1}".to_vec(), big()] {
                    let encoded = encode(json.clone(), fresh_until, &compression);
                    let decoded = decode(encoded.bytes.clone(), 1 << 20).unwrap();
                    assert_eq!(decoded.json, json);
                    assert_eq!(decoded.fresh_until, fresh_until);
                    let plain = json.len() + if fresh_until.is_some() { 10 } else { 0 };
                    assert_eq!(encoded.saved as usize, plain - encoded.bytes.len());
                }
            }
        }
        let compressed = encode(big(), None, &Compression::lz4());
        assert!(
            compressed.bytes.len() * 5 < big().len(),
            "{}",
            compressed.bytes.len()
        );
    }

    #[test]
    fn hostile_values_are_refused_without_panicking_or_allocating() {
        let mut claims_4_gib = vec![MARKER, LZ4];
        claims_4_gib.extend_from_slice(&u32::MAX.to_le_bytes());
        claims_4_gib.extend_from_slice(&[0; 64]);
        assert_eq!(decode(claims_4_gib, 1 << 24), Err(Unreadable::TooLarge));
        let mut claims_too_much_for_its_payload = vec![MARKER, LZ4];
        claims_too_much_for_its_payload.extend_from_slice(&(1u32 << 20).to_le_bytes());
        claims_too_much_for_its_payload.extend_from_slice(&[0x1f; 8]);
        assert_eq!(
            decode(claims_too_much_for_its_payload, 1 << 24),
            Err(Unreadable::Decompress)
        );
        let mut garbage = vec![MARKER, LZ4];
        garbage.extend_from_slice(&100u32.to_le_bytes());
        garbage.extend_from_slice(&[0xff; 40]);
        assert_eq!(decode(garbage, 1 << 24), Err(Unreadable::Decompress));
        assert_eq!(decode(vec![MARKER], 1 << 24), Err(Unreadable::Format));
        assert_eq!(decode(vec![MARKER, 0x80], 1 << 24), Err(Unreadable::Format));
        assert_eq!(
            decode(vec![MARKER, FRESH_UNTIL, 1, 2], 1 << 24),
            Err(Unreadable::Format)
        );
        // Every truncation of a valid compressed value: an error or a shorter value, never a panic.
        let valid = encode(big(), Some(5), &Compression::lz4()).bytes;
        for end in 0..valid.len() {
            let _ = decode(valid[..end].to_vec(), 1 << 24);
        }
        // A compressed value over a lower reading limit is refused.
        assert_eq!(decode(valid, 100), Err(Unreadable::TooLarge));
    }
}
