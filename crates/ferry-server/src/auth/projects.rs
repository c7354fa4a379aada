//! Project roles (`AppProject.spec.roles`, Argo CD's shape): their policies and groups join
//! RBAC as subject `proj:PROJECT:ROLE`, and their `jwtTokens` list the API tokens that stand
//! (an id removed from the list is a revoked token). Read from a watch of the AppProjects.

use std::collections::BTreeMap;

use ferry_cluster::api_resource as ar;
use futures::StreamExt as _;
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch as tokio_watch;

use super::Auth;

/// One issued token as the role records it (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRef {
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Role {
    pub name: String,
    pub description: String,
    pub policies: Vec<String>,
    pub groups: Vec<String>,
    pub tokens: Vec<TokenRef>,
}

/// A project's roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectRoles {
    pub name: String,
    pub roles: Vec<Role>,
}

/// `proj:PROJECT:ROLE` → (`PROJECT`, `ROLE`).
pub fn parse_subject(sub: &str) -> Option<(&str, &str)> {
    let rest = sub.strip_prefix("proj:")?;
    let (p, r) = rest.split_once(':')?;
    (!p.is_empty() && !r.is_empty() && !r.contains(':')).then_some((p, r))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// The roles of an AppProject object (what does not parse is left out, never guessed).
pub fn roles_of(project: &Value) -> ProjectRoles {
    let roles = project["spec"]["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some(Role {
                name: r["name"].as_str().filter(|n| !n.is_empty())?.to_owned(),
                description: r["description"].as_str().unwrap_or_default().to_owned(),
                policies: strings(&r["policies"]),
                groups: strings(&r["groups"]),
                tokens: r["jwtTokens"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| serde_json::from_value(t.clone()).ok())
                    .collect(),
            })
        })
        .collect();
    ProjectRoles {
        name: project["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        roles,
    }
}

pub(crate) fn projects_api(client: &kube::Client, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        client.clone(),
        namespace,
        &ar(
            ferry_api::GROUP,
            ferry_api::VERSION,
            "AppProject",
            "appprojects",
        ),
    )
}

/// Follows the AppProjects into `auth`; `ready` once the first list is in.
pub(super) fn watch(
    auth: &Auth,
    client: &kube::Client,
    namespace: &str,
    stop: &tokio_watch::Receiver<bool>,
    ready: tokio::sync::mpsc::Sender<()>,
) {
    let api = projects_api(client, namespace);
    let auth = auth.clone();
    let mut stop = stop.clone();
    tokio::spawn(async move {
        let mut stream = watcher(api, watcher::Config::default()).boxed();
        let mut current: BTreeMap<String, ProjectRoles> = BTreeMap::new();
        let mut listing: Option<BTreeMap<String, ProjectRoles>> = None;
        let mut ready = Some(ready);
        loop {
            let ev = tokio::select! { e = stream.next() => e, _ = stop.changed() => return };
            let of = |o: &DynamicObject| serde_json::to_value(o).map(|v| roles_of(&v)).ok();
            match ev {
                None => return,
                Some(Ok(watcher::Event::Init)) => listing = Some(BTreeMap::new()),
                Some(Ok(watcher::Event::InitApply(o))) => {
                    if let (Some(l), Some(p)) = (listing.as_mut(), of(&o)) {
                        l.insert(p.name.clone(), p);
                    }
                }
                Some(Ok(watcher::Event::InitDone)) => {
                    current = listing.take().unwrap_or_default();
                    auth.set_projects(current.clone());
                    if let Some(r) = ready.take() {
                        let _ = r.send(()).await;
                    }
                }
                Some(Ok(watcher::Event::Apply(o))) => {
                    if let Some(p) = of(&o)
                        && current.get(&p.name) != Some(&p)
                    {
                        current.insert(p.name.clone(), p);
                        auth.set_projects(current.clone());
                    }
                }
                Some(Ok(watcher::Event::Delete(o))) => {
                    if let Some(name) = o.metadata.name.as_deref()
                        && current.remove(name).is_some()
                    {
                        auth.set_projects(current.clone());
                    }
                }
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "AppProject watch failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subjects_and_roles_read_as_argo_cd_writes_them() {
        assert_eq!(parse_subject("proj:team-a:ci"), Some(("team-a", "ci")));
        for bad in [
            "proj:team-a",
            "proj::ci",
            "team-a:ci",
            "proj:a:b:c",
            "proj:a:",
        ] {
            assert_eq!(parse_subject(bad), None, "{bad}");
        }
        let p = roles_of(&json!({"metadata": {"name": "team-a"}, "spec": {"roles": [
            {"name": "ci", "policies": ["p, proj:team-a:ci, applications, sync, team-a/*, allow"],
             "groups": ["acme:ci"], "jwtTokens": [{"iat": 10, "exp": 20, "id": "t1"}, {"iat": 5}]},
            {"description": "no name: left out"}]}}));
        assert_eq!(p.name, "team-a");
        assert_eq!(p.roles.len(), 1);
        assert_eq!(p.roles[0].groups, ["acme:ci"]);
        assert_eq!(
            p.roles[0].tokens,
            [
                TokenRef {
                    iat: 10,
                    exp: Some(20),
                    id: Some("t1".into())
                },
                TokenRef {
                    iat: 5,
                    exp: None,
                    id: None
                }
            ]
        );
    }
}
