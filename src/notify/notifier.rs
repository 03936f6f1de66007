//! Sends a notification to every alert of a Canary that admits its
//! severity: reads the AlertProvider and its Secret, formats, posts.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, ResourceExt};

use super::{DEFAULT_CHANNEL, DEFAULT_USERNAME, Envelope, Notification, admits, format_for};
use crate::api::{AlertProvider, Canary, CanaryAlert};

/// A chat service that does not answer within this is given up on: alerts
/// are sent after the status write but still inside the reconcile.
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("AlertProvider {namespace}/{name} does not exist")]
    ProviderNotFound { namespace: String, name: String },
    #[error("could not read {what}")]
    Read {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("AlertProvider type {0:?} is not supported")]
    UnknownType(String),
    #[error("Secret {namespace}/{name} (secretRef of the AlertProvider) does not exist")]
    SecretNotFound { namespace: String, name: String },
    #[error("Secret {namespace}/{name} has no key {key}")]
    SecretKeyMissing {
        namespace: String,
        name: String,
        key: &'static str,
    },
    #[error("Secret {namespace}/{name}: key {key} is not UTF-8 text")]
    SecretKeyNotText {
        namespace: String,
        name: String,
        key: &'static str,
    },
    #[error("the AlertProvider has no address: set spec.address or key address in its secretRef Secret")]
    NoAddress,
    #[error("invalid proxy {proxy:?}")]
    InvalidProxy {
        proxy: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("could not build an HTTP client")]
    Client(#[source] reqwest::Error),
    // The URL stays out of messages: chat webhook URLs are credentials.
    #[error("request failed")]
    Transport(#[source] reqwest::Error),
    #[error("answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
}

/// What happened to one alert.
#[derive(Debug)]
pub struct SendOutcome {
    /// The alert's `name`.
    pub alert: String,
    /// `<namespace>/<name>` of its AlertProvider.
    pub provider: String,
    pub result: Result<(), NotifyError>,
}

/// Where and how to post, read from an AlertProvider (and its Secret).
struct Target {
    type_: String,
    address: String,
    token: Option<String>,
    proxy: Option<String>,
    channel: String,
    username: String,
}

#[derive(Debug, Default)]
pub struct Notifier {}

impl Notifier {
    pub fn new() -> Self {
        Notifier {}
    }

    /// Sends `n` through every alert of `canary` that admits its severity,
    /// concurrently. Never fails: each outcome says what happened.
    pub async fn send(&self, client: &kube::Client, canary: &Canary, n: &Notification) -> Vec<SendOutcome> {
        let namespace = canary.namespace().unwrap_or_default();
        let sends = canary
            .spec
            .analysis
            .alerts
            .iter()
            .filter(|alert| admits(alert.severity, n.severity))
            .map(|alert| {
                let provider_ns = alert
                    .provider_ref
                    .namespace
                    .clone()
                    .filter(|ns| !ns.is_empty())
                    .unwrap_or_else(|| namespace.clone());
                async move {
                    let provider = format!("{provider_ns}/{}", alert.provider_ref.name);
                    let result = self.send_one(client, canary, alert, &provider_ns, n).await;
                    SendOutcome {
                        alert: alert.name.clone(),
                        provider,
                        result,
                    }
                }
            });
        futures::future::join_all(sends).await
    }

    async fn send_one(
        &self,
        client: &kube::Client,
        canary: &Canary,
        alert: &CanaryAlert,
        provider_ns: &str,
        n: &Notification,
    ) -> Result<(), NotifyError> {
        let target = target(client, provider_ns, &alert.provider_ref.name).await?;
        let format =
            format_for(&target.type_).ok_or_else(|| NotifyError::UnknownType(target.type_.clone()))?;
        let envelope = Envelope {
            name: canary.name_any(),
            namespace: canary.namespace().unwrap_or_default(),
            channel: target.channel.clone(),
            username: target.username.clone(),
            timestamp: Timestamp::now(),
        };
        let body = format(&envelope, n);

        // One client per send: alerts are rare, and a proxy is per provider.
        let mut builder = reqwest::Client::builder().timeout(TIMEOUT);
        if let Some(proxy) = &target.proxy {
            let proxy = reqwest::Proxy::all(proxy).map_err(|source| NotifyError::InvalidProxy {
                proxy: proxy.clone(),
                source,
            })?;
            builder = builder.proxy(proxy);
        }
        let http = builder.build().map_err(NotifyError::Client)?;
        let mut request = http.post(&target.address).json(&body);
        // Chat services authenticate by the URL; only the generic webhook takes a token.
        if let (Some(token), "webhook") = (&target.token, target.type_.as_str()) {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|e| NotifyError::Transport(e.without_url()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        // At most 64 KiB is read, and quoted on one printable line: a chat service's
        // error page is not buffered whole nor passed on with its control characters.
        let head = crate::webhook::read_head(response).await.unwrap_or_default();
        Err(NotifyError::Status {
            status: status.as_u16(),
            body: crate::webhook::quote(&head),
        })
    }
}

async fn target(client: &kube::Client, namespace: &str, name: &str) -> Result<Target, NotifyError> {
    let providers: Api<AlertProvider> = Api::namespaced(client.clone(), namespace);
    let provider = providers
        .get_opt(name)
        .await
        .map_err(|source| NotifyError::Read {
            what: format!("AlertProvider {namespace}/{name}"),
            source,
        })?
        .ok_or_else(|| NotifyError::ProviderNotFound {
            namespace: namespace.to_string(),
            name: name.to_string(),
        })?;
    let spec = provider.spec;
    let (mut address, mut token) = (non_empty(spec.address), None);
    if let Some(secret_ref) = &spec.secret_ref {
        let data = secret_data(client, namespace, &secret_ref.name).await?;
        let key = |key: &'static str| -> Result<Option<String>, NotifyError> {
            let Some(bytes) = data.get(key) else {
                return Ok(None);
            };
            let text = String::from_utf8(bytes.0.clone()).map_err(|_| NotifyError::SecretKeyNotText {
                namespace: namespace.to_string(),
                name: secret_ref.name.clone(),
                key,
            })?;
            // `kubectl create secret --from-file` keeps the file's final newline.
            Ok(non_empty(Some(text.trim().to_string())))
        };
        token = key("token")?;
        // The Secret's address wins: it is where users keep the real URL.
        match (key("address")?, &address) {
            (Some(from_secret), _) => address = Some(from_secret),
            (None, Some(_)) => {}
            (None, None) => {
                return Err(NotifyError::SecretKeyMissing {
                    namespace: namespace.to_string(),
                    name: secret_ref.name.clone(),
                    key: "address",
                });
            }
        }
    }
    Ok(Target {
        address: address.ok_or(NotifyError::NoAddress)?,
        token,
        type_: spec.type_,
        proxy: non_empty(spec.proxy),
        channel: non_empty(spec.channel).unwrap_or_else(|| DEFAULT_CHANNEL.to_string()),
        username: non_empty(spec.username).unwrap_or_else(|| DEFAULT_USERNAME.to_string()),
    })
}

async fn secret_data(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<std::collections::BTreeMap<String, k8s_openapi::ByteString>, NotifyError> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = secrets
        .get_opt(name)
        .await
        .map_err(|source| NotifyError::Read {
            what: format!("Secret {namespace}/{name}"),
            source,
        })?
        .ok_or_else(|| NotifyError::SecretNotFound {
            namespace: namespace.to_string(),
            name: name.to_string(),
        })?;
    Ok(secret.data.unwrap_or_default())
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
}
