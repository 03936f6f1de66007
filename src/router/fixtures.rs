//! A Canary as the API server would return it, for the routers' unit tests.

use crate::api::Canary;

pub(crate) fn canary() -> Canary {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "serin.dev/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test", "uid": "0000-1111"},
        "spec": {
            "provider": "gatewayapi:v1",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {
                "port": 9898,
                "gatewayRefs": [{"name": "public", "namespace": "gateways"}],
                "hosts": ["app.example.com"]
            },
            "analysis": {"interval": "1m", "stepWeight": 10, "maxWeight": 50}
        }
    }))
    .expect("the fixture is a valid Canary")
}
