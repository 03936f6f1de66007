//! Pure formatting of Canaries for `get` and `status`: table cells, the
//! "step i of n" computation and the progress bar. Time is passed in so tests
//! can pin it.

use jiff::Timestamp;
use kube::ResourceExt;

use crate::api::{Canary, CanaryStatus, GateWait, MetricCheck, Phase, Verdict};
use crate::rollout::settings::{Settings, Strategy};

pub const HEADERS: [&str; 8] = [
    "NAME",
    "PHASE",
    "WEIGHT",
    "STEP",
    "FAILED",
    "LAST ANALYSIS",
    "WAITING",
    "MESSAGE",
];

/// Longest message shown in the table; `status` prints it in full.
const MESSAGE_WIDTH: usize = 60;

/// Where the rollout stands against its plan: `done` of `total` steps (weights
/// for a canary, iterations for Blue/Green and A/B).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

/// The step counter, or `None` when the spec is invalid (the status message says why).
pub fn progress(canary: &Canary) -> Option<Progress> {
    let settings = Settings::from_spec(&canary.spec).ok()?;
    let status = canary.status.clone().unwrap_or_default();
    Some(progress_of(&settings, &status))
}

pub fn progress_of(settings: &Settings, status: &CanaryStatus) -> Progress {
    match settings.strategy {
        Strategy::BlueGreen { iterations } => Progress {
            done: usize::try_from(status.iterations.clamp(0, iterations)).unwrap_or(0),
            total: usize::try_from(iterations).unwrap_or(0),
        },
        Strategy::Canary => {
            // Once the analysis is over traffic goes back to the primary, so
            // the weight no longer says how far it got: show it as complete.
            let done = if matches!(
                status.phase,
                Phase::WaitingPromotion | Phase::Promoting | Phase::Finalising | Phase::Succeeded
            ) {
                settings.steps.len()
            } else {
                settings
                    .steps
                    .iter()
                    .filter(|w| **w <= status.canary_weight)
                    .count()
            };
            Progress {
                done,
                total: settings.steps.len(),
            }
        }
    }
}

/// `[#####-----] 2/4`, `width` characters between the brackets.
pub fn progress_bar(progress: Progress, width: usize) -> String {
    let filled = (progress.done.min(progress.total) * width)
        .checked_div(progress.total)
        .unwrap_or(width);
    format!(
        "[{}{}] {}/{}",
        "#".repeat(filled),
        "-".repeat(width - filled),
        progress.done,
        progress.total
    )
}

/// The cells of one table row, in [`HEADERS`] order.
pub fn row(canary: &Canary, now: Timestamp) -> Vec<String> {
    let status = canary.status.clone().unwrap_or_default();
    let settings = Settings::from_spec(&canary.spec).ok();
    let step = match (&settings, status.phase.is_active()) {
        (Some(settings), true) => {
            let p = progress_of(settings, &status);
            format!("{}/{}", p.done, p.total)
        }
        (Some(_), false) => "-".to_string(),
        (None, _) => "invalid".to_string(),
    };
    let threshold = settings.as_ref().map_or(1, |s| s.threshold);
    vec![
        canary.name_any(),
        phase_name(status.phase).to_string(),
        weight(status.canary_weight),
        step,
        format!("{}/{}", status.failed_checks, threshold),
        last_analysis(&status.last_analysis),
        status
            .waiting_for
            .as_ref()
            .map_or_else(|| "-".to_string(), |w| waiting(w, now)),
        truncate(status.message.as_deref().unwrap_or("-"), MESSAGE_WIDTH),
    ]
}

pub fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::New => "New",
        other => other.as_str(),
    }
}

/// `canary%/primary%`.
pub fn weight(canary: i32) -> String {
    let canary = canary.clamp(0, 100);
    format!("{canary}%/{}%", 100 - canary)
}

/// Each metric's last value and verdict: `request-success-rate=99.5 ok, latency=- HOLD`.
pub fn last_analysis(checks: &[MetricCheck]) -> String {
    if checks.is_empty() {
        return "-".to_string();
    }
    checks
        .iter()
        .map(|c| {
            let value = c.value.map_or_else(|| "-".to_string(), number);
            let verdict = match c.verdict {
                Verdict::Pass => "ok",
                Verdict::Fail => "FAIL",
                Verdict::Hold => "hold",
            };
            format!("{}={value} {verdict}", c.name)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A metric value with at most two decimals and no trailing zeros.
pub fn number(value: f64) -> String {
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_string()
}

/// `confirm-promotion [approve] 3m12s`: the gate type, the closed gates and how long it has waited.
pub fn waiting(wait: &GateWait, now: Timestamp) -> String {
    let since = now.as_second().saturating_sub(wait.since.0.as_second()).max(0);
    format!(
        "{} [{}] {}",
        wait.type_.as_str(),
        wait.webhooks.join(","),
        age(since)
    )
}

/// Seconds as `45s`, `3m12s`, `2h5m`.
pub fn age(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{}s", s / 60, s % 60),
        s => format!("{}h{}m", s / 3600, (s % 3600) / 60),
    }
}

/// At most `width` characters, with `…` marking a cut.
pub fn truncate(text: &str, width: usize) -> String {
    let text = text.replace('\n', " ");
    if text.chars().count() <= width {
        return text;
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Rows aligned into columns, headers first.
pub fn render(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = HEADERS.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let header: Vec<String> = HEADERS.iter().map(|h| h.to_string()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}", w = *w))
            .collect();
        out.push_str(cells.join("   ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
