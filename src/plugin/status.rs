//! `kubectl serin status NAME [--wait] [--timeout 10m]`.

use std::process::ExitCode;

use futures::StreamExt;
use jiff::Timestamp;
use kube::runtime::watcher::{self, Event};
use kube::{Api, ResourceExt};

use super::get::is_end;
use super::table;
use super::{PluginError, StatusArgs, Target};
use crate::api::{Canary, Phase, parse_duration};

pub(crate) async fn run(target: &Target, args: &StatusArgs) -> Result<ExitCode, PluginError> {
    let api: Api<Canary> = Api::namespaced(target.client.clone(), &target.namespace);
    let timeout = parse_duration(&args.timeout).map_err(PluginError::Timeout)?;
    let canary = api.get(&args.name).await.map_err(|source| PluginError::Api {
        action: "getting",
        name: args.name.clone(),
        source,
    })?;
    let canary = if args.wait && !is_end(phase(&canary)) {
        match tokio::time::timeout(timeout, until_end(api, &args.name)).await {
            Ok(result) => result?,
            Err(_) => {
                eprintln!(
                    "timed out after {} waiting for the rollout of {} to end",
                    args.timeout, args.name
                );
                return Ok(ExitCode::from(2));
            }
        }
    } else {
        canary
    };
    print!("{}", describe(&canary, Timestamp::now()));
    Ok(exit_code(phase(&canary)))
}

fn phase(canary: &Canary) -> Phase {
    canary.status.as_ref().map(|s| s.phase).unwrap_or_default()
}

/// 1 for a rolled-back revision, 0 otherwise.
pub(crate) fn exit_code(phase: Phase) -> ExitCode {
    if phase == Phase::Failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Watches the Canary until its phase is one in which no rollout is under way.
async fn until_end(api: Api<Canary>, name: &str) -> Result<Canary, PluginError> {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = watcher::watcher(api, config).boxed();
    while let Some(event) = stream.next().await {
        match event.map_err(PluginError::Watch)? {
            Event::Apply(c) | Event::InitApply(c) if is_end(phase(&c)) => return Ok(c),
            Event::Delete(_) => return Err(PluginError::Deleted(name.to_string())),
            _ => {}
        }
    }
    Err(PluginError::WatchEnded(name.to_string()))
}

/// The status in full, one fact per line.
pub(crate) fn describe(canary: &Canary, now: Timestamp) -> String {
    let status = canary.status.clone().unwrap_or_default();
    let cells = table::row(canary, now);
    let mut out = format!(
        "Canary {}/{}\n  phase:          {}\n  weight:         {}\n",
        canary.namespace().unwrap_or_default(),
        canary.name_any(),
        cells[1],
        cells[2]
    );
    if let Some(p) = table::progress(canary).filter(|_| status.phase.is_active()) {
        out.push_str(&format!("  step:           {}\n", table::progress_bar(p, 20)));
    }
    out.push_str(&format!("  failed checks:  {}\n", cells[4]));
    if let Some(wait) = &status.waiting_for {
        out.push_str(&format!("  waiting for:    {}\n", table::waiting(wait, now)));
    }
    for check in &status.last_analysis {
        out.push_str(&format!(
            "  metric {}: {} ({:?})\n",
            check.name,
            check.value.map_or_else(|| "no value".to_string(), table::number),
            check.verdict
        ));
    }
    if let Some(message) = &status.message {
        out.push_str(&format!("  message:        {message}\n"));
    }
    out
}
