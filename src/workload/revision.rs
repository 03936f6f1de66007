//! The revision hash: what identifies "the version" of the target in status
//! (`lastAppliedSpec`, `lastPromotedSpec`) and on the primary's pods.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use k8s_openapi::api::core::v1::PodTemplateSpec;
use sha2::{Digest, Sha256};

/// Hex of the first 8 bytes of a digest: short enough for status and annotations,
/// long enough that an accidental collision is not a practical concern.
pub(crate) fn short_hex(digest: &[u8]) -> String {
    digest
        .iter()
        .take(8)
        .fold(String::with_capacity(16), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// Hash of the pod template and the tracked configs' checksums.
///
/// Stable across processes and releases of serin: k8s-openapi serialises struct
/// fields in a fixed order, maps are `BTreeMap`s and unset fields are omitted, so
/// the same template always gives the same bytes. Replicas and Deployment metadata
/// are not part of it, so scaling or relabelling the target starts no rollout.
pub fn revision(template: &PodTemplateSpec, tracked_configs: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"template\0");
    if serde_json::to_writer(&mut hasher, template).is_err() {
        // Unreachable for k8s-openapi types (string map keys, no fallible Serialize);
        // Debug of the same types is just as deterministic, so hashing it keeps the contract.
        hasher.update(format!("{template:?}"));
    }
    hasher.update(b"\0configs\0");
    for (key, checksum) in tracked_configs {
        hasher.update(key);
        hasher.update(b"=");
        hasher.update(checksum);
        hasher.update(b"\n");
    }
    short_hex(&hasher.finalize())
}
