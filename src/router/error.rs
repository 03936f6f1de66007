//! Errors of the routers, sorted by what the reconciler should do about them.

/// Why a router could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// `spec.provider` (or the controller's default) names no known router.
    #[error("unsupported provider {provider:?}: supported providers are {supported}")]
    UnsupportedProvider { provider: String, supported: String },

    /// The Canary cannot be turned into routing objects; retrying without a
    /// change to the Canary will fail the same way.
    #[error("{0}")]
    InvalidSpec(String),

    /// The API server does not serve the routing object's kind at all: the
    /// provider's CRDs are missing (or too old to serve `version`).
    #[error(
        "the {kind} CRD ({group}/{version}) is not installed: {}",
        install_hint(group)
    )]
    CrdNotInstalled {
        kind: &'static str,
        group: &'static str,
        version: &'static str,
    },

    /// The user's spec saved in `serin.dev/original-configuration` cannot be
    /// read back, so it cannot be restored: someone edited the annotation.
    #[error(
        "cannot restore {kind} {namespace}/{name}: its serin.dev/original-configuration annotation is {reason}"
    )]
    InvalidOriginal {
        kind: &'static str,
        namespace: String,
        name: String,
        reason: String,
    },

    /// Any other API failure (network, permissions, conflicts): worth a retry.
    #[error("could not {action} {kind} {namespace}/{name}")]
    Api {
        action: &'static str,
        kind: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: Box<kube::Error>,
    },
}

impl RouterError {
    /// True when only a person can fix this (a change to the Canary, the
    /// controller's provider, or a mangled annotation), so the reconciler
    /// should report it rather than retry fast.
    pub fn is_invalid_spec(&self) -> bool {
        matches!(
            self,
            RouterError::InvalidSpec(_)
                | RouterError::UnsupportedProvider { .. }
                | RouterError::InvalidOriginal { .. }
        )
    }

    /// Stable CamelCase reason for Kubernetes events and status conditions.
    pub fn reason(&self) -> &'static str {
        match self {
            RouterError::UnsupportedProvider { .. } => "UnsupportedProvider",
            RouterError::InvalidSpec(_) => "InvalidRoutingSpec",
            RouterError::CrdNotInstalled { .. } => "RoutingCrdNotInstalled",
            RouterError::InvalidOriginal { .. } => "InvalidOriginalConfiguration",
            RouterError::Api { .. } => "RoutingApiError",
        }
    }
}

/// How to get the CRDs of a provider's group, for the missing-CRD message:
/// the reader is an operator looking at a Canary's status or events.
pub(crate) fn install_hint(group: &str) -> &'static str {
    match group {
        "gateway.networking.k8s.io" => {
            "install the Gateway API CRDs (kubectl apply -f https://github.com/kubernetes-sigs/gateway-api/releases/latest/download/standard-install.yaml) or those of your gateway implementation"
        }
        "networking.istio.io" => "install Istio (istioctl install, or the istio/base Helm chart)",
        "split.smi-spec.io" => {
            "install the SMI TrafficSplit CRD (for Linkerd: the linkerd-smi extension, linkerd smi install | kubectl apply -f -)"
        }
        _ => "install the provider's CRDs, or choose another provider in spec.provider",
    }
}

/// What a 404 from the API server meant.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NotFound {
    /// The object does not exist (the server names it in the Status details).
    Object,
    /// The resource path itself is unknown: the CRD is missing. The server
    /// then answers with a plain-text body that kube turns into a bare Status.
    Kind,
}

pub(crate) fn not_found(err: &kube::Error) -> Option<NotFound> {
    let kube::Error::Api(status) = err else {
        return None;
    };
    if status.code != 404 {
        return None;
    }
    let names_object = status.details.as_ref().is_some_and(|d| !d.name.is_empty());
    Some(if names_object {
        NotFound::Object
    } else {
        NotFound::Kind
    })
}

/// True for 422 Invalid: the server's schema rejected what serin generated,
/// which comes from the Canary's spec.
pub(crate) fn is_invalid(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 422)
}

/// Turns an API error on one routing object into a [`RouterError`]: a kind
/// the cluster does not serve is a missing CRD, a rejected object is an
/// invalid spec, anything else an API error. Shared by every provider.
pub(crate) fn classify(
    err: kube::Error,
    (kind, group, version): (&'static str, &'static str, &'static str),
    action: &'static str,
    namespace: &str,
    name: &str,
) -> RouterError {
    if not_found(&err) == Some(NotFound::Kind) {
        return RouterError::CrdNotInstalled { kind, group, version };
    }
    if is_invalid(&err) {
        let detail = match &err {
            kube::Error::Api(status) => status.message.clone(),
            other => other.to_string(),
        };
        return RouterError::InvalidSpec(format!(
            "the API server rejected {kind} {namespace}/{name}: {detail}"
        ));
    }
    RouterError::Api {
        action,
        kind,
        namespace: namespace.to_string(),
        name: name.to_string(),
        source: Box::new(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api(status: Status) -> kube::Error {
        kube::Error::Api(status.boxed())
    }

    #[test]
    fn a_404_naming_the_object_is_a_missing_object() {
        // As the API server sends it for a GET of a missing object.
        let status: Status = serde_json::from_value(serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "httproutes.gateway.networking.k8s.io \"podinfo\" not found",
            "reason": "NotFound",
            "details": {"name": "podinfo", "group": "gateway.networking.k8s.io", "kind": "httproutes"},
            "code": 404
        }))
        .expect("a Status");
        assert_eq!(not_found(&api(status)), Some(NotFound::Object));
    }

    #[test]
    fn a_bare_404_is_a_missing_kind() {
        let status = Status::failure("404 page not found", "Failed to parse error data").with_code(404);
        assert_eq!(not_found(&api(status)), Some(NotFound::Kind));
    }

    #[test]
    fn a_missing_kind_is_a_missing_crd_that_says_how_to_install_it() {
        let status = Status::failure("404 page not found", "Failed to parse error data").with_code(404);
        let err = classify(
            api(status),
            ("VirtualService", "networking.istio.io", "v1beta1"),
            "apply",
            "test",
            "podinfo",
        );
        assert!(matches!(
            err,
            RouterError::CrdNotInstalled {
                kind: "VirtualService",
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "the VirtualService CRD (networking.istio.io/v1beta1) is not installed: \
             install Istio (istioctl install, or the istio/base Helm chart)"
        );
    }

    #[test]
    fn other_errors_are_not_not_found() {
        let status = Status::failure("forbidden", "Forbidden").with_code(403);
        assert_eq!(not_found(&api(status)), None);
    }

    #[test]
    fn reasons_are_stable_and_spec_errors_are_flagged() {
        let missing = RouterError::CrdNotInstalled {
            kind: "HTTPRoute",
            group: "gateway.networking.k8s.io",
            version: "v1",
        };
        assert_eq!(
            missing.to_string(),
            "the HTTPRoute CRD (gateway.networking.k8s.io/v1) is not installed: install the Gateway API CRDs \
             (kubectl apply -f https://github.com/kubernetes-sigs/gateway-api/releases/latest/download/standard-install.yaml) \
             or those of your gateway implementation"
        );
        assert_eq!(missing.reason(), "RoutingCrdNotInstalled");
        assert!(!missing.is_invalid_spec());
        let invalid = RouterError::InvalidSpec("service.gatewayRefs is required".into());
        assert!(invalid.is_invalid_spec());
        assert_eq!(invalid.reason(), "InvalidRoutingSpec");
    }
}
