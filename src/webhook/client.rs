//! The HTTP side of a webhook call: timeout, retries, and an answer turned
//! into a [`HookResult`] whose message says what happened.

use std::sync::OnceLock;
use std::time::Duration;

use super::Payload;
use crate::api::CanaryWebhook;
use crate::rollout::HookResult;

/// Flagger's default per-call timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an answer's body is read; the rest is never downloaded.
pub const BODY_LIMIT: usize = 64 * 1024;
/// How much of a body a message quotes, in bytes (a cut body ends in `…`).
pub const QUOTE_LIMIT: usize = 300;
/// The longest message [`judge_answer`] returns: `HTTP <status>: ` and the quote.
pub const MAX_ANSWER_MESSAGE: usize = "HTTP 65535: ".len() + QUOTE_LIMIT + "…".len();
/// First pause between retries; doubles up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Calls webhooks. Cheap to clone; connections are pooled per TLS mode.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    /// Tests shorten the pause between retries.
    first_backoff: Option<Duration>,
}

enum Attempt {
    Answered { status: u16, body: Vec<u8> },
    Failed(String),
}

impl Caller {
    pub fn new() -> Self {
        Caller::default()
    }

    #[cfg(test)]
    pub fn with_backoff(first_backoff: Duration) -> Self {
        Caller {
            first_backoff: Some(first_backoff),
        }
    }

    /// Calls one webhook, retrying transport errors and 5xx/429 answers up to
    /// `retries` times. Never fails: the outcome is in the result.
    pub async fn call(&self, hook: &CanaryWebhook, payload: &Payload) -> HookResult {
        let timeout = timeout_of(hook);
        let retries = hook.retries.unwrap_or(0).clamp(0, 10);
        let mut backoff = self.first_backoff.unwrap_or(FIRST_BACKOFF);
        let mut attempt = 0;
        loop {
            let outcome = self.attempt(hook, payload, timeout).await;
            let retryable = match &outcome {
                Attempt::Answered { status, .. } => *status >= 500 || *status == 429,
                Attempt::Failed(_) => true,
            };
            if !retryable || attempt >= retries {
                return result(hook, outcome, attempt + 1, timeout);
            }
            attempt += 1;
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn attempt(&self, hook: &CanaryWebhook, payload: &Payload, timeout: Duration) -> Attempt {
        let client = match shared_client(hook.disable_tls) {
            Ok(client) => client,
            Err(err) => return Attempt::Failed(err),
        };
        let request = client.post(&hook.url).json(payload).timeout(timeout).send();
        // The reqwest timeout covers the body too, but not a server that
        // trickles bytes forever once headers are in: bound the whole call.
        let call = async {
            let response = request.await.map_err(describe)?;
            let status = response.status().as_u16();
            let body = read_head(response).await.map_err(describe)?;
            Ok::<_, String>((status, body))
        };
        match tokio::time::timeout(timeout, call).await {
            Ok(Ok((status, body))) => Attempt::Answered { status, body },
            Ok(Err(err)) => Attempt::Failed(err),
            Err(_) => Attempt::Failed(format!("no answer within {}s", timeout.as_secs_f64())),
        }
    }
}

/// The per-call timeout: the webhook's `timeout`, or [`DEFAULT_TIMEOUT`]
/// when it is absent, zero or unparsable (the CRD rejects the latter).
pub(super) fn timeout_of(hook: &CanaryWebhook) -> Duration {
    hook.timeout
        .as_ref()
        .and_then(|t| t.parse().ok())
        .filter(|t: &Duration| !t.is_zero())
        .unwrap_or(DEFAULT_TIMEOUT)
}

fn result(hook: &CanaryWebhook, outcome: Attempt, attempts: i32, timeout: Duration) -> HookResult {
    let tries = if attempts > 1 {
        format!(" after {attempts} attempts")
    } else {
        String::new()
    };
    let (passed, message) = match outcome {
        Attempt::Answered { status, body } => {
            let answer = judge_answer(status, &body);
            let message = match answer.message.split_once(": ") {
                Some((head, quoted)) => format!("{head}{tries}: {quoted}"),
                None => format!("{}{tries}", answer.message),
            };
            (answer.passed, message)
        }
        Attempt::Failed(err) if err.contains("timed out") => (
            false,
            format!("no answer within {}s{tries}", timeout.as_secs_f64()),
        ),
        Attempt::Failed(err) => (false, format!("{err}{tries}")),
    };
    HookResult {
        name: hook.name.clone(),
        passed,
        message,
    }
}

/// What a webhook's answer means, before retries and timeouts are considered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// Flagger's rule: a status of 202 or below passes, whatever the body.
    pub passed: bool,
    /// `HTTP <status>`, then `: ` and the start of the body when it has any text;
    /// one line, no control characters, at most [`MAX_ANSWER_MESSAGE`] bytes.
    pub message: String,
}

/// Judges an answer from its status and (the first [`BODY_LIMIT`] bytes of) its body.
/// Pure, so it can be fuzzed: any bytes give a bounded, printable message.
pub fn judge_answer(status: u16, body: &[u8]) -> Answer {
    let quoted = quote(body);
    let message = if quoted.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {quoted}")
    };
    Answer {
        passed: status <= 202,
        message,
    }
}

/// The start of a body on one line, for events and status. A body that is
/// not text (invalid UTF-8, NUL bytes) is described, not quoted. At most
/// [`QUOTE_LIMIT`] bytes and `…`; no control characters.
pub fn quote(body: &[u8]) -> String {
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        // Only a character cut by BODY_LIMIT at the very end: still text.
        Err(err) if err.error_len().is_none() => {
            std::str::from_utf8(&body[..err.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return format!("<{} bytes of binary data>", body.len()),
    };
    if text.contains('\0') {
        return format!("<{} bytes of binary data>", body.len());
    }
    // Whitespace collapses to one space; other control characters (terminal
    // escapes, say) are shown as U+FFFD rather than passed on to kubectl.
    let mut line = String::with_capacity(text.len().min(QUOTE_LIMIT + 4));
    for word in text.split_whitespace() {
        if !line.is_empty() {
            line.push(' ');
        }
        line.extend(word.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }));
        if line.len() > QUOTE_LIMIT {
            break;
        }
    }
    if line.len() <= QUOTE_LIMIT {
        return line;
    }
    let mut end = QUOTE_LIMIT;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line.truncate(end);
    line.push('…');
    line
}

/// The first [`BODY_LIMIT`] bytes of a response's body; the rest is not downloaded.
pub async fn read_head(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = BODY_LIMIT.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= BODY_LIMIT {
            break;
        }
    }
    Ok(body)
}

fn describe(err: reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "request timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else if err.is_builder() {
        "invalid webhook URL"
    } else {
        "request failed"
    };
    format!("{kind}: {}", crate::error::chain(&err))
}

fn shared_client(disable_tls: bool) -> Result<reqwest::Client, String> {
    static VERIFYING: OnceLock<reqwest::Client> = OnceLock::new();
    static INSECURE: OnceLock<reqwest::Client> = OnceLock::new();
    let cell = if disable_tls { &INSECURE } else { &VERIFYING };
    if let Some(client) = cell.get() {
        return Ok(client.clone());
    }
    let client = reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(disable_tls)
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    Ok(cell.get_or_init(|| client).clone())
}
