//! Secret references while rendering: `ref+awsssm://…` and `ref+awssecrets://…` (vals'
//! syntax, parsed by `ferry_aws::secrets`) in the objects a source renders to, replaced by
//! their values read in the right AWS account, after the render cache (which keeps only the
//! references).
//!
//! - **Whose account.** [`AppAws::for_app`]: the role the Application's AppProject names
//!   (`spec.aws.roleARN`), assumed from the controller's base credentials, wins; an
//!   Application of such a project may name only that role in its annotation. Else the role
//!   an Application names (annotation [`AWS_ROLE_ARN_ANNOTATION`], with
//!   [`AWS_EXTERNAL_ID_ANNOTATION`] and [`AWS_REGION_ANNOTATION`]); else the destination
//!   cluster's own access (an EKS cluster's `awsAuthConfig`). Any other destination has
//!   none, and a reference fails with a message saying so: the controller's own base
//!   credentials are never used for it.
//! - **Where** (`find`): every string of every object, a whole value or embedded in a longer
//!   string as vals reads it.
//! - **How many calls.** The references of one render are resolved by one
//!   `ferry_aws::SecretResolver`: one `GetParameters` per ten names and region of the
//!   account. Values are then kept for the source service's revision TTL (the poll interval)
//!   by (access, region, reference), so an unchanged application does not call SSM every
//!   poll; a refresh (`ferry.dev/refresh`, an operation) reads them again.
//! - **Nothing leaks** (`redact`): values are held as `Sensitive` here; each render answers
//!   the [`Redactions`] that callers apply to any text made from the resolved objects.
//! - **Plugins.** With [`PLUGIN_AWS_CREDENTIALS_ANNOTATION`] `"true"`, a config management
//!   plugin's `init` and `generate` get the same access's temporary credentials as
//!   `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` and
//!   `AWS_DEFAULT_REGION` (helmfile with vals, say). They enter no cache key and no log; the
//!   identity (a digest of the role chain and region) is part of the plugin render's key.

mod find;
mod redact;

pub use redact::Redactions;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_aws::{
    AwsAccess, AwsError, ChainKey, RefError, ResolveError, RoleArn, RoleChain, RoleHop, SessionName,
};
use ferry_core::{Sensitive, locks};
use ferry_render::{Rendered, RenderedObject};
use tokio::time::Instant;

/// Annotation on an Application: the role its references are read with (and its plugins
/// get credentials of), assumed from the controller's own credentials; wins over the
/// destination cluster's role.
pub const AWS_ROLE_ARN_ANNOTATION: &str = "ferry.dev/aws-role-arn";
/// The `ExternalId` the role of [`AWS_ROLE_ARN_ANNOTATION`] requires.
pub const AWS_EXTERNAL_ID_ANNOTATION: &str = "ferry.dev/aws-external-id";
/// The region of references without `?region=` (and of a plugin's `AWS_REGION`).
pub const AWS_REGION_ANNOTATION: &str = "ferry.dev/aws-region";
/// `"true"`: the application's config management plugin gets the account's temporary
/// credentials in its environment.
pub const PLUGIN_AWS_CREDENTIALS_ANNOTATION: &str = "ferry.dev/plugin-aws-credentials";

/// Most values kept across renders; more clears what expired, then everything.
const MAX_VALUES: usize = 16 * 1024;

/// Whose AWS account an application's references are read in.
#[derive(Debug, Clone)]
pub enum SecretAccess {
    Access(AwsAccess),
    /// Why there is none (shown when a reference or a plugin needs one).
    Unavailable(String),
}

impl Default for SecretAccess {
    fn default() -> Self {
        SecretAccess::Unavailable("no AWS access was given for this render".to_owned())
    }
}

/// An application's AWS side of rendering.
#[derive(Debug, Clone, Default)]
pub struct AppAws {
    pub access: SecretAccess,
    /// The plugin gets the access's credentials ([`PLUGIN_AWS_CREDENTIALS_ANNOTATION`]).
    pub plugin_credentials: bool,
}

impl AppAws {
    /// For application `app` (its annotations) of a project whose role is `project` (if it
    /// names one) rendering for cluster `cluster`, whose own AWS access is `destination`
    /// (`None`: not an EKS cluster).
    pub fn for_app(
        app: &ferry_api::Application,
        project: Option<&ferry_api::ProjectAws>,
        destination: Option<&AwsAccess>,
        cluster: &str,
    ) -> AppAws {
        let annotations = app.metadata.annotations.clone().unwrap_or_default();
        let get = |k: &str| {
            annotations
                .get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let plugin_credentials = get(PLUGIN_AWS_CREDENTIALS_ANNOTATION).as_deref() == Some("true");
        let region = get(AWS_REGION_ANNOTATION);
        if let Some(project) = project.filter(|p| !p.role_arn.trim().is_empty()) {
            return AppAws {
                access: project_access(
                    app,
                    project,
                    get(AWS_ROLE_ARN_ANNOTATION),
                    region,
                    destination,
                ),
                plugin_credentials,
            };
        }
        let access = match (get(AWS_ROLE_ARN_ANNOTATION), destination) {
            (Some(arn), dest) => match RoleArn::parse(&arn) {
                Err(e) => {
                    SecretAccess::Unavailable(format!("annotation {AWS_ROLE_ARN_ANNOTATION}: {e}"))
                }
                Ok(arn) => {
                    let name = app.metadata.name.clone().unwrap_or_default();
                    let mut hop =
                        RoleHop::new(arn, SessionName::sanitized(&format!("ferry-{name}")));
                    if let Some(id) = get(AWS_EXTERNAL_ID_ANNOTATION) {
                        hop = hop.external_id(id);
                    }
                    let mut access = AwsAccess::with_chain(RoleChain::single(hop));
                    access.region = region.or_else(|| dest.and_then(|d| d.region.clone()));
                    SecretAccess::Access(access)
                }
            },
            (None, Some(dest)) => {
                let mut access = dest.clone();
                if region.is_some() {
                    access.region = region;
                }
                SecretAccess::Access(access)
            }
            (None, None) => SecretAccess::Unavailable(format!(
                "the destination cluster {cluster} is not an EKS cluster (its Secret has no awsAuthConfig) and the Application names no role (annotation {AWS_ROLE_ARN_ANNOTATION})"
            )),
        };
        AppAws {
            access,
            plugin_credentials,
        }
    }
}

/// The access of an application whose project names a role: that role, unless the
/// application's annotation names another (refused, never used).
fn project_access(
    app: &ferry_api::Application,
    project: &ferry_api::ProjectAws,
    annotated: Option<String>,
    region: Option<String>,
    destination: Option<&AwsAccess>,
) -> SecretAccess {
    let name = app.spec.project.clone();
    let role = project.role_arn.trim();
    let arn = match RoleArn::parse(role) {
        Ok(arn) => arn,
        Err(e) => {
            return SecretAccess::Unavailable(format!("project {name}'s spec.aws.roleARN: {e}"));
        }
    };
    if let Some(other) = annotated.filter(|a| a != role) {
        return SecretAccess::Unavailable(format!(
            "annotation {AWS_ROLE_ARN_ANNOTATION} names {other}, but project {name} reads secrets as {role} only"
        ));
    }
    let mut hop = RoleHop::new(
        arn,
        SessionName::sanitized(&format!("ferry-project-{name}")),
    );
    if let Some(id) = project.external_id.as_deref().filter(|i| !i.is_empty()) {
        hop = hop.external_id(id);
    }
    let mut access = AwsAccess::with_chain(RoleChain::single(hop));
    access.region = region
        .or_else(|| project.region.clone().filter(|r| !r.is_empty()))
        .or_else(|| destination.and_then(|d| d.region.clone()));
    SecretAccess::Access(access)
}

/// Why a render's references (or its plugin's credentials) could not be had. Names
/// references as written, roles and accounts; never a value or a credential.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{reference} cannot be resolved: {reason}")]
    NoAccess { reference: String, reason: String },
    #[error(
        "the plugin's AWS credentials ({PLUGIN_AWS_CREDENTIALS_ANNOTATION}) cannot be had: {reason}"
    )]
    NoPluginAccess { reason: String },
    #[error("{reference} cannot be resolved: this source service has no AWS adapter")]
    NoAdapter { reference: String },
    #[error(transparent)]
    Reference(#[from] RefError),
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error("the plugin's AWS credentials: {0}")]
    Credentials(AwsError),
}

/// (access, its region, reference as written).
type ValueKey = (ChainKey, Option<String>, String);

/// Resolved values kept across renders for a bounded time.
pub(crate) struct SecretValues {
    ttl: Duration,
    values: Mutex<HashMap<ValueKey, (Sensitive<String>, Instant)>>,
}

impl SecretValues {
    pub(crate) fn new(ttl: Duration) -> SecretValues {
        SecretValues {
            ttl,
            values: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, key: &ValueKey) -> Option<Sensitive<String>> {
        let values = locks::lock(&self.values);
        let (v, at) = values.get(key)?;
        (at.elapsed() < self.ttl).then(|| v.clone())
    }

    fn put(&self, key: ValueKey, value: Sensitive<String>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut values = locks::lock(&self.values);
        if values.len() >= MAX_VALUES {
            let ttl = self.ttl;
            values.retain(|_, (_, at)| at.elapsed() < ttl);
            if values.len() >= MAX_VALUES {
                values.clear();
            }
        }
        values.insert(key, (value, Instant::now()));
    }
}

/// The references of `rendered`, resolved: the objects with their values in (a new
/// `Rendered`, never cached), and what to redact. Without references, `rendered` itself.
pub(crate) async fn resolve(
    aws: Option<&ferry_aws::Aws>,
    values: &SecretValues,
    rendered: Arc<Rendered>,
    access: &SecretAccess,
    refresh: bool,
) -> Result<(Arc<Rendered>, Redactions), SecretError> {
    let mut places = Vec::new();
    for o in rendered.objects() {
        for (pointer, reference) in find::references(&o.object) {
            places.push((o, pointer, reference));
        }
    }
    let Some((_, _, first)) = places.first() else {
        return Ok((rendered, Redactions::default()));
    };
    let access = match access {
        SecretAccess::Access(a) => a,
        SecretAccess::Unavailable(reason) => {
            return Err(SecretError::NoAccess {
                reference: first.clone(),
                reason: reason.clone(),
            });
        }
    };
    let Some(aws) = aws else {
        return Err(SecretError::NoAdapter {
            reference: first.clone(),
        });
    };
    let mut distinct: Vec<&str> = places.iter().map(|(_, _, r)| r.as_str()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let key_of = |r: &str| (access.cache_key(), access.region.clone(), r.to_owned());
    let mut resolved: HashMap<&str, Sensitive<String>> = HashMap::new();
    let mut wanted = Vec::new();
    for r in &distinct {
        match values.get(&key_of(r)).filter(|_| !refresh) {
            Some(v) => {
                resolved.insert(r, v);
            }
            None => wanted.push(ferry_aws::parse_reference(r)?),
        }
    }
    if !wanted.is_empty() {
        let read = aws.resolver(access.clone()).resolve(&wanted).await?;
        for (r, v) in wanted.iter().zip(read) {
            values.put(key_of(r.as_str()), v.clone());
            if let Some(text) = distinct.iter().find(|d| **d == r.as_str()) {
                resolved.insert(text, v);
            }
        }
    }
    let mut redactions = Redactions::default();
    for (r, v) in &resolved {
        redactions.add(v, r);
    }
    for (o, pointer, reference) in &places {
        let kind = o.object["kind"].as_str().unwrap_or_default();
        let name = o.object["metadata"]["name"].as_str().unwrap_or_default();
        redactions.place(kind, name, pointer, reference);
    }
    let plain: HashMap<&str, &str> = resolved
        .iter()
        .map(|(r, v)| (*r, v.expose().as_str()))
        .collect();
    let objects: Vec<RenderedObject> = rendered
        .objects()
        .iter()
        .map(|o| {
            let mut o = o.clone();
            find::substitute(&mut o.object, &plain);
            o
        })
        .collect();
    Ok((Arc::new(Rendered::new(objects)), redactions))
}

/// The environment a plugin gets for `aws` (none without the opt-in), and the identity
/// it is for (part of the plugin render's cache key, never the credentials).
pub(crate) async fn plugin_env(
    adapter: Option<&ferry_aws::Aws>,
    aws: &AppAws,
) -> Result<(Vec<(&'static str, Sensitive<String>)>, Option<String>), SecretError> {
    if !aws.plugin_credentials {
        return Ok((Vec::new(), None));
    }
    let access = match &aws.access {
        SecretAccess::Access(a) => a,
        SecretAccess::Unavailable(reason) => {
            return Err(SecretError::NoPluginAccess {
                reason: reason.clone(),
            });
        }
    };
    let Some(adapter) = adapter else {
        return Err(SecretError::NoPluginAccess {
            reason: "this source service has no AWS adapter".to_owned(),
        });
    };
    let credentials = adapter
        .credentials(access)
        .await
        .map_err(SecretError::Credentials)?;
    let region = match &access.region {
        Some(r) => Some(r.clone()),
        None => adapter
            .sdk_config(access, None)
            .await
            .ok()
            .and_then(|c| c.region().map(|r| r.as_ref().to_owned())),
    };
    let mut env = credentials.to_env(region.as_deref().unwrap_or_default());
    env.retain(|(_, v)| !v.expose().is_empty());
    let identity = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        access.cache_key().hash(&mut h);
        region.hash(&mut h);
        format!("aws:{:016x}", h.finish())
    };
    Ok((env, Some(identity)))
}

#[cfg(test)]
mod tests;
