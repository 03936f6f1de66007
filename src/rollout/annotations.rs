//! Operator requests carried by the Canary's annotations.
//!
//! Annotations instead of spec fields so that GitOps tools, which own the
//! spec, do not revert them. `promote`, `abort` and `retry` hold a token: any
//! new value is one request, carried out once and remembered in
//! `status.handledRequests`, so re-applying the same manifest or restarting
//! the controller never repeats it. `pause` is a level: "true" holds the
//! rollout for as long as it is set.

use std::collections::BTreeMap;

use super::OperatorRequests;

pub const PROMOTE: &str = "serin.dev/promote";
pub const ABORT: &str = "serin.dev/abort";
pub const RETRY: &str = "serin.dev/retry";
pub const PAUSE: &str = "serin.dev/pause";

/// The token-valued annotations, in the order their requests are reported.
pub const TOKENS: [&str; 3] = [ABORT, PROMOTE, RETRY];

pub fn requests_from(annotations: &BTreeMap<String, String>) -> OperatorRequests {
    let token = |key: &str| {
        annotations
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    OperatorRequests {
        promote: token(PROMOTE),
        abort: token(ABORT),
        retry: token(RETRY),
        paused: annotations
            .get(PAUSE)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
    }
}

/// The token of a request annotation as read, whether handled or not.
pub fn token<'a>(requests: &'a OperatorRequests, annotation: &str) -> Option<&'a str> {
    match annotation {
        PROMOTE => requests.promote.as_deref(),
        ABORT => requests.abort.as_deref(),
        RETRY => requests.retry.as_deref(),
        _ => None,
    }
}

/// What the request asks for, in words for events.
pub fn verb(annotation: &str) -> &'static str {
    match annotation {
        PROMOTE => "promote",
        ABORT => "abort",
        RETRY => "retry",
        _ => "request",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_tokens_and_pause() {
        let requests = requests_from(&annotations(&[
            (PROMOTE, "a"),
            (ABORT, " b "),
            (RETRY, "c"),
            (PAUSE, "True"),
            ("other", "x"),
        ]));
        assert_eq!(
            requests,
            OperatorRequests {
                promote: Some("a".into()),
                abort: Some("b".into()),
                retry: Some("c".into()),
                paused: true,
            }
        );
    }

    #[test]
    fn empty_tokens_and_other_pause_values_request_nothing() {
        let requests = requests_from(&annotations(&[(PROMOTE, ""), (ABORT, "  "), (PAUSE, "yes")]));
        assert_eq!(requests, OperatorRequests::default());
    }
}
