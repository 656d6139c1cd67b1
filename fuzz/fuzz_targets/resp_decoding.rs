//! RESP decoding of an encoded request (what a blocking connection is given): any bytes
//! decode to commands or stop, never panic, and each command's masked text stays within
//! its bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sdk_redis::mask::{MAX_TEXT_LEN, masked_packed};

fuzz_target!(|request: &[u8]| {
    let texts = masked_packed(request);
    // Each command is at least `*0\r\n`.
    assert!(texts.len() <= request.len() / 4 + 1);
    for text in &texts {
        assert!(text.len() <= MAX_TEXT_LEN, "{} bytes", text.len());
    }
});
