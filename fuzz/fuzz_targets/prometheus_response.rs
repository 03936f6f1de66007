//! `parse_response` with any status and body: never panics, never returns NaN
//! as a value, and every error message stays short whatever the server sent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serin::analysis::prometheus::{MAX_ERROR_MESSAGE_BYTES, parse_response};

fuzz_target!(|data: &[u8]| {
    let (status, body) = match data {
        [a, b, body @ ..] => (u16::from_le_bytes([*a, *b]), body),
        _ => (200, data),
    };
    match parse_response(status, body) {
        Ok(value) => assert!(!value.is_nan(), "NaN is no data, not a value"),
        Err(err) => {
            let message = err.to_string();
            assert!(
                message.len() <= MAX_ERROR_MESSAGE_BYTES,
                "{} bytes: {message:.200}",
                message.len()
            );
        }
    }
});
