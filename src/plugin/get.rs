//! `kubectl serin get [NAME] [--watch]`.
//!
//! `--watch` uses the watch API, never polling. On a terminal it redraws the
//! table with a progress bar per rollout; otherwise (CI logs, tests) it
//! prints one line per change so the output can be captured and read.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use futures::StreamExt;
use jiff::Timestamp;
use kube::api::ListParams;
use kube::runtime::watcher::{self, Event};
use kube::{Api, ResourceExt};

use super::table::{self, Progress};
use super::{GetArgs, PluginError, Target};
use crate::api::{Canary, Phase};

pub(crate) async fn run(target: &Target, args: &GetArgs) -> Result<ExitCode, PluginError> {
    let api: Api<Canary> = if args.all_namespaces {
        Api::all(target.client.clone())
    } else {
        Api::namespaced(target.client.clone(), &target.namespace)
    };
    if args.watch {
        return watch(api, args.name.as_deref(), args.all_namespaces).await;
    }
    let canaries = match &args.name {
        Some(name) => vec![api.get(name).await.map_err(|source| PluginError::Api {
            action: "getting",
            name: name.clone(),
            source,
        })?],
        None => {
            api.list(&ListParams::default())
                .await
                .map_err(|source| PluginError::Api {
                    action: "listing",
                    name: "*".to_string(),
                    source,
                })?
                .items
        }
    };
    let now = Timestamp::now();
    let rows: Vec<Vec<String>> = canaries
        .iter()
        .map(|c| full_row(c, now, args.all_namespaces))
        .collect();
    print(&table_text(&rows))?;
    Ok(ExitCode::SUCCESS)
}

/// A table row; with `-A` the name is shown as `namespace/name`.
fn full_row(canary: &Canary, now: Timestamp, qualified: bool) -> Vec<String> {
    let mut row = table::row(canary, now);
    if qualified {
        row[0] = format!("{}/{}", canary.namespace().unwrap_or_default(), canary.name_any());
    }
    row
}

fn table_text(rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return "No Canaries found.\n".to_string();
    }
    table::render(rows)
}

fn print(text: &str) -> Result<(), PluginError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(PluginError::Output)
}

/// Ends a named watch: a rollout seen in progress has reached its end.
#[derive(Default)]
struct RolloutEnd {
    seen_in_progress: bool,
}

impl RolloutEnd {
    fn observe(&mut self, phase: Phase) -> bool {
        if is_end(phase) {
            self.seen_in_progress
        } else {
            if phase != Phase::New {
                self.seen_in_progress = true;
            }
            false
        }
    }
}

/// Phases in which no rollout is under way.
pub(crate) fn is_end(phase: Phase) -> bool {
    matches!(phase, Phase::Succeeded | Phase::Failed | Phase::Initialized)
}

async fn watch(api: Api<Canary>, name: Option<&str>, qualified: bool) -> Result<ExitCode, PluginError> {
    let mut config = watcher::Config::default();
    if let Some(name) = name {
        config = config.fields(&format!("metadata.name={name}"));
    }
    let terminal = std::io::stdout().is_terminal();
    let mut canaries: BTreeMap<(String, String), Canary> = BTreeMap::new();
    let mut printed: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut end = RolloutEnd::default();
    let mut stream = watcher::watcher(api, config).boxed();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let event = tokio::select! {
            _ = &mut ctrl_c => return Ok(ExitCode::SUCCESS),
            event = stream.next() => event,
        };
        let Some(event) = event else {
            return Err(PluginError::WatchEnded(name.unwrap_or("*").to_string()));
        };
        let mut finished = false;
        match event.map_err(PluginError::Watch)? {
            Event::Apply(c) | Event::InitApply(c) => {
                let phase = c.status.as_ref().map(|s| s.phase).unwrap_or_default();
                finished = name.is_some() && end.observe(phase);
                canaries.insert(key(&c), c);
            }
            Event::Delete(c) => {
                canaries.remove(&key(&c));
                if name.is_some() {
                    print(&format!("{} deleted\n", c.name_any()))?;
                    return Err(PluginError::Deleted(c.name_any()));
                }
            }
            Event::Init => canaries.clear(),
            Event::InitDone => {}
        }
        let now = Timestamp::now();
        if terminal {
            print(&redraw(&canaries, now, qualified))?;
        } else {
            // One line per change: only rows whose text changed are printed.
            for (k, canary) in &canaries {
                let line = line(canary, now, qualified);
                if printed.get(k) != Some(&line) {
                    print(&format!("{line}\n"))?;
                    printed.insert(k.clone(), line);
                }
            }
        }
        if finished {
            return Ok(ExitCode::SUCCESS);
        }
    }
}

fn key(canary: &Canary) -> (String, String) {
    (canary.namespace().unwrap_or_default(), canary.name_any())
}

/// The row as one line with `|` between cells, the weight first readable
/// in logs: `podinfo | Progressing | 20%/80% | 2/5 | ...`. The WAITING age is
/// left out so that a line is printed on a change of the Canary, not of the clock.
fn line(canary: &Canary, now: Timestamp, qualified: bool) -> String {
    let mut row = full_row(canary, now, qualified);
    if let Some(wait) = canary.status.as_ref().and_then(|s| s.waiting_for.as_ref()) {
        row[6] = format!("{} [{}]", wait.type_.as_str(), wait.webhooks.join(","));
    }
    row.join(" | ")
}

/// The whole screen: the table, then a progress bar for each rollout under way.
fn redraw(canaries: &BTreeMap<(String, String), Canary>, now: Timestamp, qualified: bool) -> String {
    let rows: Vec<Vec<String>> = canaries.values().map(|c| full_row(c, now, qualified)).collect();
    // Clear the screen and home the cursor before drawing.
    let mut out = String::from("\x1b[H\x1b[2J");
    out.push_str(&table_text(&rows));
    for canary in canaries.values() {
        let phase = canary.status.as_ref().map(|s| s.phase).unwrap_or_default();
        if !phase.is_active() {
            continue;
        }
        let progress = table::progress(canary).unwrap_or(Progress { done: 0, total: 0 });
        out.push_str(&format!(
            "\n{} {} {}\n",
            canary.name_any(),
            table::progress_bar(progress, 30),
            table::phase_name(phase)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_watch_ends_only_after_a_rollout_it_saw() {
        let mut end = RolloutEnd::default();
        assert!(!end.observe(Phase::Succeeded), "an old result is not the end");
        assert!(!end.observe(Phase::Progressing));
        assert!(!end.observe(Phase::Promoting));
        assert!(end.observe(Phase::Succeeded));
        let mut end = RolloutEnd::default();
        assert!(!end.observe(Phase::Initialized));
        assert!(!end.observe(Phase::Progressing));
        assert!(end.observe(Phase::Failed));
    }
}
