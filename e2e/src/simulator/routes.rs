//! The traffic split of whichever routing object a provider wrote for the
//! target: Gateway API HTTPRoute, SMI TrafficSplit or Istio VirtualService.

use kube::api::{DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;
use kube::{Api, Client};
use serde_json::Value;

use super::rules::{Rule, http_route_rules, virtual_service_rules};

/// The rules of the first routing object found; `None` when there is none
/// (or its CRD is not installed), or it routes to neither workload.
pub(crate) async fn rules(client: &Client, namespace: &str, name: &str) -> Option<Vec<Rule>> {
    if let Some(route) = get(
        client,
        namespace,
        "gateway.networking.k8s.io",
        "v1",
        "HTTPRoute",
        "httproutes",
        name,
    )
    .await
    {
        return http_route_rules(&route.data);
    }
    for version in ["v1alpha1", "v1alpha2", "v1alpha3"] {
        if let Some(split) = get(
            client,
            namespace,
            "split.smi-spec.io",
            version,
            "TrafficSplit",
            "trafficsplits",
            name,
        )
        .await
        {
            // A TrafficSplit has no matches: one rule for every request.
            return traffic_split_weights(&split.data).map(|weights| {
                vec![Rule {
                    matches: Vec::new(),
                    weights,
                }]
            });
        }
    }
    for version in ["v1beta1", "v1"] {
        let found = get(
            client,
            namespace,
            "networking.istio.io",
            version,
            "VirtualService",
            "virtualservices",
            name,
        )
        .await;
        if let Some(vs) = found {
            return virtual_service_rules(&vs.data);
        }
    }
    None
}

async fn get(
    client: &Client,
    namespace: &str,
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    name: &str,
) -> Option<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    // A kind whose CRD is missing answers 404 like a missing object: both mean "not this one".
    api.get_opt(name).await.ok().flatten()
}

fn weight(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        // SMI v1alpha1 weights are resource quantities, e.g. "60" (or "600m").
        Value::String(s) => s
            .strip_suffix('m')
            .map_or_else(|| s.parse().ok(), |m| m.parse::<i64>().ok().map(|v| v / 1000)),
        _ => None,
    }
}

pub(crate) fn traffic_split_weights(data: &Value) -> Option<(i64, i64)> {
    let backends = data.pointer("/spec/backends")?.as_array()?;
    let find = |suffix: &str| {
        backends
            .iter()
            .find(|b| {
                b.get("service")
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.ends_with(suffix))
            })
            .and_then(|b| weight(b.get("weight")))
    };
    Some((find("-primary")?, find("-canary")?))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_smi_weights_as_numbers_or_quantities() {
        let v1alpha1 = json!({ "spec": { "backends": [
            { "service": "podinfo-canary", "weight": "40" }, { "service": "podinfo-primary", "weight": "60" } ] } });
        assert_eq!(traffic_split_weights(&v1alpha1), Some((60, 40)));
        let v1alpha2 = json!({ "spec": { "backends": [
            { "service": "podinfo-canary", "weight": 10 }, { "service": "podinfo-primary", "weight": 90 } ] } });
        assert_eq!(traffic_split_weights(&v1alpha2), Some((90, 10)));
    }

    #[test]
    fn reads_the_istio_route_that_has_the_canary() {
        use super::super::rules::weights_for;
        let vs = json!({ "spec": { "http": [ { "route": [
            { "destination": { "host": "podinfo-primary" }, "weight": 70 },
            { "destination": { "host": "podinfo-canary" }, "weight": 30 } ] } ] } });
        let rules = virtual_service_rules(&vs).expect("rules");
        assert_eq!(weights_for(&rules, None), (70, 30));
        let none = json!({ "spec": { "http": [ { "route": [ { "destination": { "host": "other" } } ] } ] } });
        assert_eq!(virtual_service_rules(&none), None);
    }
}
