//! The `Canary` resource: what to roll out, how traffic reaches it, and how
//! each step is judged.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::{CanaryAnalysis, CanaryService, CanaryStatus};

#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "serin.dev",
    version = "v1beta1",
    kind = "Canary",
    namespaced,
    status = "CanaryStatus",
    category = "all",
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Weight","type":"integer","jsonPath":".status.canaryWeight"}"#,
    printcolumn = r#"{"name":"FailedChecks","type":"integer","jsonPath":".status.failedChecks"}"#,
    printcolumn = r#"{"name":"LastTransitionTime","type":"string","jsonPath":".status.lastTransitionTime"}"#,
    printcolumn = r#"{"name":"Message","type":"string","jsonPath":".status.message","priority":1}"#
)]
#[serde(rename_all = "camelCase")]
pub struct CanarySpec {
    /// Traffic provider for this Canary: `gatewayapi`, `gatewayapi:v1`, `gatewayapi:v1beta1`, `kubernetes`,
    /// `linkerd` (an HTTPRoute with `service.gatewayRefs`, else an SMI TrafficSplit), `istio`, `smi`,
    /// `smi:v1alpha1`..`smi:v1alpha3` (optionally `:<mesh>`). Flagger's other provider names are admitted
    /// and refused by the controller as unsupported. Defaults to the controller's `--provider`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[x_kube(validation = Rule::new("self.matches('^(gatewayapi(:v1|:v1beta1)?|kubernetes|linkerd|istio|smi(:v1alpha[123])?(:[a-z0-9-]+)?|nginx|contour|gloo|traefik|skipper|apisix|kuma|osm|appmesh(:v1beta2)?|knative)$')").message("unknown provider: use gatewayapi, kubernetes, linkerd, istio or smi:v1alpha1..3"))]
    pub provider: Option<String>,

    /// Prometheus URL for the builtin metrics, overriding the controller's `--metrics-server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_server: Option<String>,

    /// The workload to roll out.
    pub target_ref: TargetRef,

    /// A HorizontalPodAutoscaler (autoscaling/v2) that scales the target; serin creates a primary copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaler_ref: Option<AutoscalerRef>,

    /// How Services and routes are generated.
    pub service: CanaryService,

    /// How the new version is validated and how traffic moves to it.
    pub analysis: CanaryAnalysis,

    /// Seconds the canary or primary may take to become ready before the rollout fails. Default 600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub progress_deadline_seconds: Option<i32>,

    /// Promote without analysis (the canary must still become ready).
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip_analysis: bool,

    /// On deletion, restore the target's replicas and the routes before the Canary goes.
    #[serde(default, skip_serializing_if = "is_false")]
    pub revert_on_deletion: bool,

    /// Stop acting on this Canary, including an analysis in flight, until unset.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Reference to the workload under rollout.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetRef {
    #[serde(default = "apps_v1")]
    pub api_version: String,
    #[x_kube(validation = Rule::new("self == 'Deployment'").message("targetRef.kind must be Deployment"))]
    pub kind: String,
    #[schemars(length(min = 1))]
    pub name: String,
}

fn apps_v1() -> String {
    "apps/v1".to_string()
}

#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoscalerRef {
    #[serde(default = "autoscaling_v2")]
    pub api_version: String,
    #[x_kube(validation = Rule::new("self == 'HorizontalPodAutoscaler'").message("autoscalerRef.kind must be HorizontalPodAutoscaler"))]
    pub kind: String,
    #[schemars(length(min = 1))]
    pub name: String,
    /// Min/max replicas for the primary's autoscaler, overriding the copied values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_scaler_replicas: Option<ScalerReplicas>,
}

fn autoscaling_v2() -> String {
    "autoscaling/v2".to_string()
}

#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalerReplicas {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub min_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_replicas: Option<i32>,
}
