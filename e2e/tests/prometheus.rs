//! The local Prometheus scrapes a target that the test itself serves on
//! loopback and answers PromQL about it, including a change of value.

use std::time::Duration;

use serin_e2e::prometheus::{Exporter, Prometheus};
use serin_e2e::{wait, with_namespace};

fn probe_metrics(value: u32) -> String {
    format!("# TYPE serin_e2e_probe gauge\nserin_e2e_probe{{answer=\"yes\"}} {value}\n")
}

async fn wait_for_probe(prom: &Prometheus, exporter: &Exporter, expected: f64) -> anyhow::Result<()> {
    let query = format!("serin_e2e_probe{{e2e_exporter=\"{}\"}}", exporter.id);
    let what = format!("{query} == {expected}");
    wait::poll_until(
        &what,
        Duration::from_secs(60),
        Duration::from_millis(500),
        || async {
            let samples = prom.query(&query).await?;
            Ok(samples.iter().any(|s| s.value == expected).then_some(()))
        },
    )
    .await
}

#[tokio::test]
async fn prometheus_answers_promql_for_a_loopback_target() {
    with_namespace("prometheus", |_ctx| async move {
        let prom = Prometheus::from_env();
        let exporter = Exporter::start(&probe_metrics(42)).await?;

        wait_for_probe(&prom, &exporter, 42.0).await?;
        let up = prom
            .query(&format!("up{{instance=\"{}\"}}", exporter.address))
            .await?;
        assert_eq!(up.len(), 1, "one scrape target for {}: {up:?}", exporter.address);
        assert_eq!(up[0].value, 1.0);
        assert_eq!(up[0].labels.get("e2e_exporter"), Some(&exporter.id));

        // A new value proves the samples come from live scrapes of this target.
        exporter.set_body(&probe_metrics(7));
        wait_for_probe(&prom, &exporter, 7.0).await?;

        let rejected = prom.query("sum(").await;
        assert!(rejected.is_err(), "invalid PromQL must be rejected");
        Ok(())
    })
    .await;
}
