//! Metric ids (`v6-…`, as web-vitals makes them) and the decimal digits they are written
//! with (no `core::fmt`, which would weigh on the bundle).

/// `v6-<ms since epoch>-<random 13 digits>`, web-vitals' id shape.
pub(super) fn unique_id() -> String {
    let mut id = String::from("v6-");
    push_integer(&mut id, js_sys::Date::now());
    id.push('-');
    push_integer(
        &mut id,
        (js_sys::Math::random() * (9e12 - 1.0)).floor() + 1e12,
    );
    id
}

pub(crate) fn push_integer(out: &mut String, value: f64) {
    let mut digits = [0u8; 20];
    let mut n = value as u64;
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    for &digit in &digits[at..] {
        out.push(char::from(digit));
    }
}
