//! Request ids: accept a well-formed incoming `x-request-id`, otherwise make one.

/// The request id header, `x-request-id`.
pub static HEADER_NAME: http::HeaderName =
    http::HeaderName::from_static(sdk_core::semconv::request::HEADER);

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

/// A new random id as 32 lower-case hex digits, without allocating.
pub fn generate_bytes() -> [u8; 32] {
    sdk_core::propagation::hex_u128(sdk_core::trace::random_id_u128())
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
        let id = generate_bytes();
        assert_eq!(id.len(), 32);
        assert!(is_valid(&id));
        assert!(
            id.iter()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(generate_bytes(), id);
    }
}
