//! `judge_answer` with any status and body: Flagger's pass rule holds, and
//! the message is one bounded, printable line starting with the status.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serin::webhook::{MAX_ANSWER_MESSAGE, judge_answer};

fuzz_target!(|data: &[u8]| {
    let (status, body) = match data {
        [a, b, body @ ..] => (u16::from_le_bytes([*a, *b]), body),
        _ => (200, data),
    };
    let answer = judge_answer(status, body);
    assert_eq!(answer.passed, status <= 202);
    assert!(answer.message.len() <= MAX_ANSWER_MESSAGE, "{}", answer.message.len());
    assert!(answer.message.starts_with(&format!("HTTP {status}")));
    assert!(
        !answer.message.chars().any(char::is_control),
        "control character in {:?}",
        answer.message
    );
});
