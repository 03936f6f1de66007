//! `serin-bench table FILE`: the figures of a results file (one JSON line
//! per run) as the markdown table e2e/README.md carries.

use serde_json::Value;

const COLUMNS: &[(&str, &str)] = &[
    ("n", "Canaries"),
    ("interval_s", "interval s"),
    ("initialized", "initialized"),
    ("promoted", "promoted"),
    ("peak_rss_mib", "peak RSS MiB"),
    ("steady_rss_mib", "steady RSS MiB"),
    ("cpu_s_total", "CPU s total"),
    ("cpu_s_rollout", "CPU s rollout"),
    ("reaction_p50_ms", "bump→scaled p50 ms"),
    ("reaction_p99_ms", "bump→scaled p99 ms"),
    ("api_reaction_p50_ms", "at API server p50 ms"),
    ("api_reaction_p99_ms", "at API server p99 ms"),
    ("drift_p50_ms", "step drift p50 ms"),
    ("drift_p99_ms", "step drift p99 ms"),
    ("writes_per_step", "writes/step"),
    ("reads_per_step", "reads/step"),
    ("idle_requests", "requests idle 20 s"),
    ("all_promoted_s", "all promoted s"),
    ("date", "date"),
];

pub fn print(path: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let header: Vec<&str> = COLUMNS.iter().map(|(_, title)| *title).collect();
    println!("| {} |", header.join(" | "));
    println!("|{}", "---|".repeat(COLUMNS.len()));
    for line in text.lines().filter(|l| l.starts_with('{')) {
        let run: Value = serde_json::from_str(line)?;
        let cells: Vec<String> = COLUMNS
            .iter()
            .map(|(key, _)| match &run[*key] {
                Value::String(s) => s.chars().take(10).collect(),
                Value::Null => "-".to_string(),
                other => other.to_string(),
            })
            .collect();
        println!("| {} |", cells.join(" | "));
    }
    Ok(())
}
