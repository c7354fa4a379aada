//! The push webhook listener: `POST /api/webhook` and `/api/webhook/generic`
//! (`ferry-webhook`), with its secrets read from a Secret that may change at any time, and
//! each verified push handed to both controllers (applications and ApplicationSets whose
//! sources it touched are refreshed).

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use ferry_cluster::api_resource as ar;
use ferry_controller::ControllerCtx;
use ferry_controller::appset::AppSetCtx;
use kube::api::DynamicObject;
use serde_json::Value;
use tokio::sync::watch;

use crate::RuntimeError;

/// The Secret (in Ferry's namespace) with the webhook secrets, under Argo CD's key names
/// (`webhook.github.secret`, `webhook.gitlab.secret`, `webhook.bitbucket.uuid`,
/// `webhook.bitbucketserver.secret`) and `webhook.generic.secret`.
pub const WEBHOOK_SECRET_NAME: &str = "ferry-secret";

/// The webhook routes (`/api/webhook`, `/api/webhook/generic`), their secrets followed
/// from the Secret until `stop` changes; served by [`listen`] on a listener of their own, or
/// by the server on its one listener.
pub fn router(
    limits: ferry_webhook::WebhookLimits,
    apps: &Arc<ControllerCtx>,
    sets: Option<Arc<AppSetCtx>>,
    client: &kube::Client,
    stop: &watch::Receiver<bool>,
) -> axum::Router {
    let secrets = Arc::new(ferry_webhook::SharedSecrets::new(
        ferry_webhook::WebhookSecrets::default(),
    ));
    let shared = secrets.clone();
    ferry_controller::watch_named(
        client,
        &apps.config.namespace,
        ar("", "v1", "Secret", "secrets"),
        WEBHOOK_SECRET_NAME,
        stop.clone(),
        move |secret| {
            shared.set(secret.map(webhook_secrets).unwrap_or_default());
        },
    );
    let apps = apps.clone();
    let sink = move |event: ferry_webhook::PushEvent| {
        let sets = sets
            .as_ref()
            .map_or(0, |s| s.refresh_repo(|url, rev| event.matches(url, rev)));
        apps.refresh_matching(&event) + sets
    };
    let state = ferry_webhook::WebhookState::new(secrets, Arc::new(sink)).with_limits(limits);
    ferry_webhook::router(state)
}

/// Listens at `addr` until `stop` changes.
pub(crate) async fn listen(
    addr: SocketAddr,
    limits: ferry_webhook::WebhookLimits,
    apps: &Arc<ControllerCtx>,
    sets: Option<Arc<AppSetCtx>>,
    client: &kube::Client,
    stop: &watch::Receiver<bool>,
) -> Result<(), RuntimeError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| RuntimeError::Webhook { addr, source })?;
    let router = router(limits, apps, sets, client, stop);
    let mut stop = stop.clone();
    tracing::info!(%addr, "webhook endpoint listening");
    tokio::spawn(async move {
        let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
            let _ = stop.changed().await;
        });
        if let Err(e) = serve.await {
            tracing::warn!(error = %e, "webhook endpoint stopped");
        }
    });
    Ok(())
}

/// The webhook secrets of a Secret (`data` is base64 in JSON, as the API server sends it).
fn webhook_secrets(secret: &DynamicObject) -> ferry_webhook::WebhookSecrets {
    let data = secret
        .data
        .get("data")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let decoded: Vec<(String, Vec<u8>)> = data
        .iter()
        .filter_map(|(k, v)| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(v.as_str()?)
                .ok()?;
            Some((k.clone(), bytes))
        })
        .collect();
    ferry_webhook::WebhookSecrets::from_secret_data(decoded)
}
