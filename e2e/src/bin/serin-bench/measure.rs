//! What the benchmark records while serin runs: its memory and CPU from
//! /proc, and the API requests it made from the API server's audit log.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use serde::Deserialize;
use tokio::time::Instant;

/// One reading of serin's process.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub at: Instant,
    pub rss_kib: u64,
    pub cpu_ticks: u64,
}

/// Reads /proc/PID every `every` until the process is gone.
pub fn sample_process(pid: u32, every: Duration) -> Arc<Mutex<Vec<Sample>>> {
    let samples = Arc::new(Mutex::new(Vec::new()));
    let out = samples.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let Some(sample) = read_proc(pid) else { break };
            if let Ok(mut samples) = out.lock() {
                samples.push(sample);
            }
        }
    });
    samples
}

fn read_proc(pid: u32) -> Option<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 of `rest`.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Sample {
        at: Instant::now(),
        rss_kib,
        cpu_ticks: utime + stime,
    })
}

/// Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux).
pub const TICKS_PER_SECOND: f64 = 100.0;

/// One line of the API server's audit log (level Metadata), as far as the benchmark reads it.
#[derive(Deserialize)]
struct Entry {
    verb: String,
    user: User,
    #[serde(rename = "objectRef")]
    object_ref: Option<ObjectRef>,
    #[serde(rename = "requestReceivedTimestamp", default)]
    received: String,
    #[serde(rename = "stageTimestamp", default)]
    completed: String,
}

#[derive(Deserialize)]
struct User {
    username: String,
}

#[derive(Deserialize)]
struct ObjectRef {
    resource: Option<String>,
    subresource: Option<String>,
    name: Option<String>,
}

/// The API requests of one user in a byte range of the audit log, by
/// `verb resource[/subresource]`.
pub fn audit_counts(log: &Path, from: u64, to: u64, user: &str) -> anyhow::Result<BTreeMap<String, u64>> {
    let bytes = std::fs::read(log)?;
    let end = (to as usize).min(bytes.len());
    let start = (from as usize).min(end);
    let mut counts = BTreeMap::new();
    for line in bytes[start..end].split(|b| *b == b'\n') {
        let Ok(entry) = serde_json::from_slice::<Entry>(line) else {
            continue;
        };
        if entry.user.username != user {
            continue;
        }
        let resource = entry
            .object_ref
            .map(|o| match (o.resource, o.subresource) {
                (Some(r), Some(s)) => format!("{r}/{s}"),
                (Some(r), None) => r,
                _ => "-".to_string(),
            })
            .unwrap_or_else(|| "-".to_string());
        *counts.entry(format!("{} {resource}", entry.verb)).or_insert(0) += 1;
    }
    Ok(counts)
}

/// Seconds from each image bump (a deployment patch by someone else) to
/// serin's first patch of the same Deployment, by the API server's clock:
/// serin's reaction including the watch delivering the change to it.
pub fn api_reactions(log: &Path, from: u64, to: u64, user: &str) -> anyhow::Result<Vec<f64>> {
    let bytes = std::fs::read(log)?;
    let end = (to as usize).min(bytes.len());
    let start = (from as usize).min(end);
    let mut bumped: HashMap<String, Timestamp> = HashMap::new();
    let mut reacted: HashMap<String, Timestamp> = HashMap::new();
    for line in bytes[start..end].split(|b| *b == b'\n') {
        let Ok(entry) = serde_json::from_slice::<Entry>(line) else {
            continue;
        };
        let Some(ObjectRef {
            resource: Some(resource),
            subresource: None,
            name: Some(name),
        }) = entry.object_ref
        else {
            continue;
        };
        if entry.verb != "patch" || resource != "deployments" || name.ends_with("-primary") {
            continue;
        }
        if entry.user.username == user {
            if let Ok(at) = entry.received.parse::<Timestamp>()
                && bumped.contains_key(&name)
            {
                reacted.entry(name).or_insert(at);
            }
        } else if let Ok(at) = entry.completed.parse::<Timestamp>() {
            bumped.entry(name).or_insert(at);
        }
    }
    Ok(reacted
        .iter()
        .filter_map(|(name, at)| Some(at.duration_since(*bumped.get(name)?).as_secs_f64()))
        .collect())
}

pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Percentile `p` (0–100) of `values`, nearest rank; `None` when empty.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

pub const WRITE_VERBS: [&str; 4] = ["create", "update", "patch", "delete"];
pub const READ_VERBS: [&str; 2] = ["get", "list"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(50.0));
        assert_eq!(percentile(&values, 99.0), Some(99.0));
        assert_eq!(percentile(&[3.0], 99.0), Some(3.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
