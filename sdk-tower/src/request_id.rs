//! Request ids: accept a well-formed incoming `x-request-id`, otherwise make one.

use rand::Rng;

/// Longest incoming request id accepted.
pub const MAX_LEN: usize = 128;

/// Whether `value` is a request id we pass on: 1..=128 bytes of `A-Z a-z 0-9 . _ : -`.
pub fn is_valid(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= MAX_LEN
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// A new random id: 32 lower-case hex digits.
pub fn generate() -> String {
    let value: u128 = rand::rng().random();
    // Rendered like a trace id: 32 hex digits without going through `fmt`.
    sdk_core::propagation::TraceId::new(value.max(1)).map_or_else(String::new, |id| id.to_hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(is_valid(b"req-42_a.b:c"));
        assert!(!is_valid(b""));
        assert!(!is_valid(b"has space"));
        assert!(!is_valid(b"<script>"));
        assert!(!is_valid("é".as_bytes()));
        assert!(!is_valid(&[b'a'; 129]));
        assert!(is_valid(&[b'a'; 128]));
        let id = generate();
        assert_eq!(id.len(), 32);
        assert!(is_valid(id.as_bytes()));
        assert_ne!(generate(), id);
    }
}
