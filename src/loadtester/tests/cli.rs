//! `serin loadtester` flags.

use clap::Parser;

use super::super::{ConfigMapRef, LoadtesterArgs};
use super::*;
use crate::cli::{Cli, Command};

fn parse(args: &[&str]) -> Result<LoadtesterArgs, clap::Error> {
    let cli = Cli::try_parse_from(["serin", "loadtester"].iter().chain(args))?;
    match cli.command {
        Command::Loadtester(args) => Ok(args),
        other => panic!("loadtester subcommand expected, got {other:?}"),
    }
}

#[test]
fn defaults() {
    let args = parse(&[]).expect("valid");
    assert_eq!(args.addr.to_string(), "0.0.0.0:8080");
    assert_eq!(args.timeout, Duration::from_secs(3600));
    assert_eq!(args.state_configmap, None);
    assert!(args.allow_namespace.is_empty());
}

#[test]
fn every_flag_parses() {
    let args = parse(&[
        "--addr=127.0.0.1:0",
        "--timeout=30m",
        "--state-configmap=test/gates",
        "--namespace-regexp=team-.*",
        "--allow-namespace=a,b",
    ])
    .expect("valid");
    assert_eq!(args.timeout, Duration::from_secs(1800));
    assert_eq!(
        args.state_configmap,
        Some(ConfigMapRef {
            namespace: "test".to_string(),
            name: "gates".to_string()
        })
    );
    assert_eq!(args.allow_namespace, ["a", "b"]);
}

#[test]
fn bad_flags_are_refused() {
    for bad in [
        &["--state-configmap=gates"][..],
        &["--state-configmap=a/b/c"],
        &["--timeout=ten"],
        &["--state-configmap=a/b", "--state-file=/tmp/x"],
    ] {
        assert!(parse(bad).is_err(), "{bad:?} accepted");
    }
}
