//! The apex, `-primary` and `-canary` ClusterIP Services.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{canary_namespace, controller_owner, copy_annotations, non_empty};
use super::{CANARY_SUFFIX, SelectorLabel, WorkloadError, primary_name, selector_label};
use crate::api::{Canary, CustomMetadata};

/// Sidecars whose ports belong to the mesh, not to the application.
const PROXY_CONTAINERS: [&str; 3] = ["istio-proxy", "envoy", "linkerd-proxy"];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceNames {
    /// `spec.service.name`, or `targetRef.name`: what clients address.
    pub apex: String,
    pub primary: String,
    pub canary: String,
}

pub fn service_names(canary: &Canary) -> ServiceNames {
    let apex = canary
        .spec
        .service
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| canary.spec.target_ref.name.clone());
    ServiceNames {
        primary: primary_name(&apex),
        canary: format!("{apex}{CANARY_SUFFIX}"),
        apex,
    }
}

/// `[apex, primary, canary]`. The apex and primary Services select the primary's
/// pods; routers that split traffic by Service send the canary's share to the canary one.
pub fn services(canary: &Canary, target: &Deployment) -> Result<[Service; 3], WorkloadError> {
    let label = selector_label(target)?;
    let names = service_names(canary);
    let ports = ports(canary, target);
    let svc = &canary.spec.service;
    let build = |name: String, selector: BTreeMap<String, String>, custom: Option<&CustomMetadata>| {
        service(canary, &label, name, selector, custom, ports.clone())
    };
    Ok([
        build(names.apex, label.primary_selector(), svc.apex.as_ref())?,
        build(names.primary, label.primary_selector(), svc.primary.as_ref())?,
        build(names.canary, label.canary_selector(), svc.canary.as_ref())?,
    ])
}

fn service(
    canary: &Canary,
    label: &SelectorLabel,
    name: String,
    selector: BTreeMap<String, String>,
    custom: Option<&CustomMetadata>,
    ports: Vec<ServicePort>,
) -> Result<Service, WorkloadError> {
    let mut labels = custom.map(|c| c.labels.clone()).unwrap_or_default();
    // Flagger labels each Service `<selector label>: <service name>`; dashboards and
    // ServiceMonitors select on it. A label the user set explicitly wins.
    labels.entry(label.key.clone()).or_insert_with(|| name.clone());
    Ok(Service {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(canary_namespace(canary)?),
            labels: non_empty(labels),
            annotations: copy_annotations(custom.map(|c| &c.annotations)),
            owner_references: Some(vec![controller_owner(canary)?]),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_string()),
            selector: Some(selector),
            ports: Some(ports),
            ..ServiceSpec::default()
        }),
        status: None,
    })
}

fn ports(canary: &Canary, target: &Deployment) -> Vec<ServicePort> {
    let svc = &canary.spec.service;
    let target_port = svc.target_port.clone().unwrap_or(IntOrString::Int(svc.port));
    let main = ServicePort {
        name: Some(svc.port_name.clone().unwrap_or_else(|| "http".to_string())),
        port: svc.port,
        target_port: Some(target_port.clone()),
        app_protocol: svc.app_protocol.clone(),
        protocol: Some("TCP".to_string()),
        ..ServicePort::default()
    };
    let mut ports = vec![main];
    if !svc.port_discovery {
        return ports;
    }
    let containers = target
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|s| s.containers.as_slice())
        .unwrap_or_default();
    for discovered in discovered_ports(containers, &target_port) {
        // The API server rejects two ports with the same name or the same number and protocol.
        let clash = ports.iter().any(|p| {
            p.name == discovered.name || (p.port == discovered.port && p.protocol == discovered.protocol)
        });
        if !clash {
            ports.push(discovered);
        }
    }
    ports
}

/// Container ports of the application, except the one the main port already targets.
fn discovered_ports(containers: &[Container], main_target: &IntOrString) -> Vec<ServicePort> {
    let app_containers = containers
        .iter()
        .filter(|c| !PROXY_CONTAINERS.contains(&c.name.as_str()));
    let mut found = Vec::new();
    for container in app_containers {
        for (i, cp) in container.ports.iter().flatten().enumerate() {
            let is_main = match main_target {
                IntOrString::Int(port) => cp.container_port == *port,
                IntOrString::String(name) => cp.name.as_ref() == Some(name),
            };
            if is_main {
                continue;
            }
            let protocol = cp.protocol.clone().unwrap_or_else(|| "TCP".to_string());
            let name = cp
                .name
                .clone()
                .unwrap_or_else(|| format!("{}-{}-{i}", protocol.to_ascii_lowercase(), container.name));
            found.push(ServicePort {
                name: Some(name),
                port: cp.container_port,
                target_port: Some(IntOrString::Int(cp.container_port)),
                protocol: Some(protocol),
                ..ServicePort::default()
            });
        }
    }
    found
}
