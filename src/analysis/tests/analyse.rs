//! `analyse` end to end against a fake API server and a fake Prometheus.
