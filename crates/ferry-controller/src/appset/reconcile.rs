//! One reconcile of an ApplicationSet: fetch what its generators read, generate, plan
//! against the Applications it owns, act within its policy, write its status; and the
//! finalizing of a set being deleted. [`preview`] is the same without acting.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ferry_api::{
    Application, ApplicationSet, ApplicationSetCondition, ApplicationSetResource,
    ApplicationSetStatus,
};
use ferry_appset::{ClusterInfo, Policy};
use futures::StreamExt as _;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::fetched::Fetched;
use super::{AppSetCtx, REFRESH_ANNOTATION, now, read};
use ferry_source::Sources;

/// One reconcile of set `name`; answers when to look again (`None`: when something changes).
pub(super) async fn reconcile(ctx: &AppSetCtx, name: &str) -> Option<Duration> {
    let set = read(&ctx.sets).get(name).cloned()?;
    if !ctx.clusters_listed.load(Ordering::SeqCst) || !ctx.apps_listed.load(Ordering::SeqCst) {
        return Some(Duration::from_millis(200));
    }
    let result = if set.metadata.deletion_timestamp.is_some() {
        finalize(ctx, &set).await.map(|()| None)
    } else {
        sync(ctx, &set).await
    };
    match result {
        Ok(again) => again,
        Err(kube::Error::Api(s)) if s.code == 409 => {
            tracing::debug!(applicationset = %name, "changed while reconciling; again");
            Some(Duration::from_millis(200))
        }
        Err(e) => {
            tracing::warn!(applicationset = %name, error = %e, "ApplicationSet not reconciled");
            Some(Duration::from_secs(30))
        }
    }
}

fn preserves(set: &ApplicationSet) -> bool {
    set.spec
        .sync_policy
        .as_ref()
        .and_then(|p| p.preserve_resources_on_deletion)
        .unwrap_or(true)
}

/// The Applications `set` controls (by the uid in their controller owner reference).
fn owned_by(ctx: &AppSetCtx, set: &ApplicationSet) -> Vec<Application> {
    let Some(uid) = set.metadata.uid.as_deref().filter(|u| !u.is_empty()) else {
        return Vec::new();
    };
    read(&ctx.apps)
        .values()
        .filter(|k| k.owner.as_deref() == Some(uid))
        .filter_map(|k| k.app.as_deref().cloned())
        .collect()
}

/// An Application of the namespace by name, as the plan needs one it does not own: its
/// name and owners.
fn known_app(ctx: &AppSetCtx, name: &str) -> Option<Application> {
    let apps = read(&ctx.apps);
    let k = apps.get(name)?;
    Some(k.app.as_deref().cloned().unwrap_or_else(|| {
        let mut a = Application::default();
        a.metadata.name = Some(name.to_owned());
        a
    }))
}

/// What a set generates now and what its controller would do about it.
#[derive(Debug)]
pub struct Preview {
    pub generated: ferry_appset::Generated,
    pub plan: ferry_appset::Plan,
    pub policy: Policy,
}

/// Runs `set`'s generators against `clusters` and the Git repositories they name (fetched
/// through `sources`), and plans against the Applications it `owned` and any other
/// Application of its namespace `existing` finds by name, changing nothing. The error says
/// which generator failed and why.
pub async fn preview(
    set: &ApplicationSet,
    clusters: Vec<ClusterInfo>,
    owned: Vec<Application>,
    existing: &(dyn Fn(&str) -> Option<Application> + Sync),
    sources: &Sources,
    default_policy: Policy,
    refresh: bool,
) -> Result<Preview, String> {
    let git = ferry_appset::git_sources(set);
    let fetched = fetch(sources, set, clusters, &git, refresh).await?;
    let set2 = set.clone();
    let generated = tokio::task::spawn_blocking(move || ferry_appset::generate(&set2, &fetched))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    // Of the Applications the set does not own, only those with a generated name matter.
    let mine: std::collections::HashSet<&str> = owned
        .iter()
        .filter_map(|a| a.metadata.name.as_deref())
        .collect();
    let others: Vec<Application> = generated
        .apps
        .iter()
        .filter_map(|a| a.metadata.name.as_deref())
        .filter(|n| !mine.contains(n))
        .filter_map(existing)
        .collect();
    let policy = ferry_appset::policy_of(set, default_policy);
    let plan = ferry_appset::plan(set, policy, &generated, &owned, &others);
    Ok(Preview {
        generated,
        plan,
        policy,
    })
}

/// Generates, plans and acts; answers when to look again.
async fn sync(ctx: &AppSetCtx, set: &ApplicationSet) -> Result<Option<Duration>, kube::Error> {
    let name = set.metadata.name.clone().unwrap_or_default();
    let has_finalizer = set
        .metadata
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|f| f == ferry_api::APPLICATIONSET_FINALIZER));
    if !has_finalizer {
        // Held in deletion until its Applications are released or their resources kept.
        let mut finalizers = set.metadata.finalizers.clone().unwrap_or_default();
        finalizers.push(ferry_api::APPLICATIONSET_FINALIZER.into());
        ctx.sets_api
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": finalizers,
                    "resourceVersion": set.metadata.resource_version}})),
            )
            .await?;
        return Ok(None);
    }
    let asked = set
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(REFRESH_ANNOTATION));
    let git = ferry_appset::git_sources(set);
    // Git is asked again when the set's own interval has passed (the shared resolve cache
    // trusts a commit for the application controller's poll interval, which may be longer).
    let refresh = asked || (!git.is_empty() && ctx.git_due(&name, git_poll(ctx, set)));
    let owned = owned_by(ctx, set);
    let clusters: Vec<ClusterInfo> = read(&ctx.clusters).values().cloned().collect();
    let existing = |n: &str| known_app(ctx, n);
    let Preview {
        generated,
        plan,
        policy,
    } = match preview(
        set,
        clusters,
        owned,
        &existing,
        &ctx.sources,
        ctx.config.default_policy,
        refresh,
    )
    .await
    {
        Ok(p) => p,
        Err(message) => {
            // Nothing is created, changed or deleted: what was generated before stays.
            tracing::warn!(applicationset = %name, error = %message, "generators failed; nothing changed");
            let mut status = set.status.clone().unwrap_or_default();
            condition(
                &mut status,
                "ErrorOccurred",
                true,
                "ApplicationGenerationError",
                &message,
            );
            condition(
                &mut status,
                "ParametersGenerated",
                false,
                "ApplicationGenerationError",
                &message,
            );
            condition(
                &mut status,
                "ResourcesUpToDate",
                false,
                "ApplicationGenerationError",
                "the generators failed; the generated Applications were left as they are",
            );
            write_status(ctx, set, status).await?;
            return Ok(Some(Duration::from_secs(30)));
        }
    };
    let mut problems: Vec<String> = Vec::new();

    let (failed, existed) = create_all(&ctx.apps_api, &name, plan.create.clone()).await;
    problems.extend(failed);

    for u in &plan.update {
        match ctx
            .apps_api
            .patch(&u.name, &PatchParams::default(), &Patch::Merge(&u.patch))
            .await
        {
            Ok(_) => {
                tracing::info!(applicationset = %name, app = %u.name, changed = %u.changed.join(", "), "Application updated")
            }
            Err(e) => problems.push(format!("updating {}: {e}", u.name)),
        }
    }
    for n in &plan.delete {
        if let Err(e) = delete_app(ctx, n).await {
            problems.push(format!("deleting {n}: {e}"));
        }
    }

    let mut status = set.status.clone().unwrap_or_default();
    condition(
        &mut status,
        "ErrorOccurred",
        !problems.is_empty(),
        if problems.is_empty() {
            "ApplicationSetUpToDate"
        } else {
            "UpdateApplicationError"
        },
        &problems.join("; "),
    );
    condition(
        &mut status,
        "ParametersGenerated",
        true,
        "ParametersGenerated",
        "the generators produced their parameters",
    );
    let mut refused: Vec<String> = generated
        .invalid
        .iter()
        .chain(plan.conflicts.iter())
        .map(|i| format!("{}: {}", i.name, i.message))
        .collect();
    refused.extend(problems.iter().cloned());
    let up_to_date = refused.is_empty();
    let message = if up_to_date {
        format!("every generated Application is as the template says, within policy {policy}")
    } else {
        let n = refused.len();
        let mut m = refused.into_iter().take(3).collect::<Vec<_>>().join("; ");
        if n > 3 {
            m.push_str(&format!(" (and {} more)", n - 3));
        }
        m
    };
    condition(
        &mut status,
        "ResourcesUpToDate",
        up_to_date,
        if up_to_date {
            "ApplicationSetUpToDate"
        } else {
            "ApplicationsNotUpToDate"
        },
        &message,
    );
    status.resources = resources_of(ctx, &generated, &plan.conflicts);
    write_status(ctx, set, status).await?;
    if refresh {
        ctx.sets_api
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"annotations": {REFRESH_ANNOTATION: null}}})),
            )
            .await?;
    }
    tracing::debug!(applicationset = %name, created = plan.create.len(), updated = plan.update.len(), deleted = plan.delete.len(), "ApplicationSet reconciled");
    Ok(if existed {
        Some(Duration::from_millis(500))
    } else if !problems.is_empty() || !plan.conflicts.is_empty() {
        // A write the API server refused is tried again, and a name taken by an Application
        // the set does not own is looked at again (it may have been deleted).
        Some(Duration::from_secs(30))
    } else if git.is_empty() {
        None
    } else {
        Some(git_poll(ctx, set))
    })
}

/// The shortest `requeueAfterSeconds` of the set's git generators, else the controller's.
fn git_poll(ctx: &AppSetCtx, set: &ApplicationSet) -> Duration {
    fn walk(v: &Value, out: &mut Vec<u64>) {
        match v {
            Value::Object(m) => {
                if let Some(s) = m
                    .get("git")
                    .and_then(|g| g.get("requeueAfterSeconds"))
                    .and_then(Value::as_u64)
                {
                    out.push(s.max(1));
                }
                m.values().for_each(|v| walk(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(
        &serde_json::to_value(&set.spec.generators).unwrap_or(Value::Null),
        &mut found,
    );
    found
        .into_iter()
        .min()
        .map_or(ctx.config.git_poll, Duration::from_secs)
}

/// Clusters and checkouts for the generators.
async fn fetch(
    sources: &Sources,
    set: &ApplicationSet,
    clusters: Vec<ClusterInfo>,
    git: &[(String, String)],
    refresh: bool,
) -> Result<Fetched, String> {
    let mut fetched = Fetched {
        clusters,
        trees: HashMap::new(),
    };
    for (url, revision) in git {
        let wanted = if revision.is_empty() {
            "HEAD"
        } else {
            revision
        };
        let path = sources.checkout(url, wanted, refresh).await.map_err(|e| {
            format!(
                "{}: {url} at {wanted}: {e}",
                generator_naming(set, url, revision)
            )
        })?;
        fetched.trees.insert((url.clone(), revision.clone()), path);
    }
    Ok(fetched)
}

/// `generators[i] (kind)` of the first generator of `set` that reads `url` at `revision`,
/// as `ferry-appset` names generators in its errors.
fn generator_naming(set: &ApplicationSet, url: &str, revision: &str) -> String {
    let pair = (url.to_owned(), revision.to_owned());
    set.spec
        .generators
        .iter()
        .enumerate()
        .find(|(_, g)| {
            let mut one = set.clone();
            one.spec.generators = vec![(*g).clone()];
            ferry_appset::git_sources(&one).contains(&pair)
        })
        .map(|(i, g)| {
            let kind = serde_json::to_value(g)
                .ok()
                .and_then(|v| {
                    ["git", "matrix", "merge"]
                        .into_iter()
                        .find(|k| v.get(*k).is_some_and(|x| !x.is_null()))
                })
                .unwrap_or("git");
            format!("generators[{i}] ({kind})")
        })
        .unwrap_or_else(|| "a git generator".into())
}

/// Deletes a generated Application; one whose cluster is no longer registered loses its
/// resources finalizer first (its resources cannot be reached, and must not hold it forever).
async fn delete_app(ctx: &AppSetCtx, name: &str) -> Result<(), kube::Error> {
    let app = read(&ctx.apps)
        .get(name)
        .and_then(|k| k.app.as_deref().cloned());
    if let Some(app) = app {
        let dest = &app.spec.destination;
        let known = read(&ctx.clusters).values().any(|c| {
            dest.server.as_deref() == Some(c.server.as_str())
                || dest.name.as_deref() == Some(c.name.as_str())
        }) || dest.server.as_deref() == Some(ferry_api::IN_CLUSTER_SERVER)
            || dest.name.as_deref() == Some("in-cluster");
        if !known {
            strip_resource_finalizers(ctx, &app).await?;
        }
    }
    // Only the Application the plan was made for: one deleted and re-created meanwhile
    // under the same name (perhaps not the set's) is left alone.
    let uid = read(&ctx.apps)
        .get(name)
        .and_then(|k| k.app.as_ref()?.metadata.uid.clone());
    let params = DeleteParams {
        preconditions: uid.map(|uid| kube::api::Preconditions {
            uid: Some(uid),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match ctx.apps_api.delete(name, &params).await {
        Ok(_) => {
            tracing::info!(app = %name, "generated Application deleted");
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

async fn strip_resource_finalizers(ctx: &AppSetCtx, app: &Application) -> Result<(), kube::Error> {
    let Some(finalizers) = &app.metadata.finalizers else {
        return Ok(());
    };
    let left: Vec<&String> = finalizers
        .iter()
        .filter(|f| !ferry_api::is_resources_finalizer(f))
        .collect();
    if left.len() == finalizers.len() {
        return Ok(());
    }
    let name = app.metadata.name.clone().unwrap_or_default();
    ctx.apps_api
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": list_or_null(&left)}})),
        )
        .await
        .map(|_| ())
}

/// A set being deleted: its Applications are released (policy without deletion) or keep
/// their resources (unless `preserveResourcesOnDeletion: false`); then its finalizer goes
/// and garbage collection deletes the Applications it still owns.
async fn finalize(ctx: &AppSetCtx, set: &ApplicationSet) -> Result<(), kube::Error> {
    let name = set.metadata.name.clone().unwrap_or_default();
    let Some(finalizers) = &set.metadata.finalizers else {
        return Ok(());
    };
    // Ferry's finalizer, or Argo CD's (which its documentation tells users to put on sets).
    let ours = |f: &String| {
        f == ferry_api::APPLICATIONSET_FINALIZER || f == ferry_api::ARGOCD_APPLICATIONSET_FINALIZER
    };
    if !finalizers.iter().any(ours) {
        return Ok(());
    }
    // From the API server, not the watch: an Application created a moment ago counts too.
    let uid = set.metadata.uid.clone().unwrap_or_default();
    let owned: Vec<DynamicObject> = ctx
        .apps_api
        .list(&kube::api::ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|o| {
            !uid.is_empty()
                && o.metadata.owner_references.iter().flatten().any(|r| {
                    r.controller == Some(true) && r.kind == "ApplicationSet" && r.uid == uid
                })
        })
        .collect();
    let release = !ferry_appset::policy_of(set, ctx.config.default_policy).allows_delete();
    for app in &owned {
        let n = app.metadata.name.clone().unwrap_or_default();
        let mut metadata = serde_json::Map::new();
        // Conditioned on the version read: a change meanwhile means looking again.
        metadata.insert(
            "resourceVersion".into(),
            json!(app.metadata.resource_version),
        );
        if release {
            let refs: Vec<_> = app
                .metadata
                .owner_references
                .iter()
                .flatten()
                .filter(|r| r.uid != uid)
                .collect();
            metadata.insert("ownerReferences".into(), list_or_null(&refs));
        } else if preserves(set) {
            let Some(fs) = &app.metadata.finalizers else {
                continue;
            };
            let left: Vec<&String> = fs
                .iter()
                .filter(|f| !ferry_api::is_resources_finalizer(f))
                .collect();
            if left.len() == fs.len() {
                continue;
            }
            metadata.insert("finalizers".into(), list_or_null(&left));
        } else {
            continue;
        }
        ctx.apps_api
            .patch(
                &n,
                &PatchParams::default(),
                &Patch::Merge(json!({ "metadata": metadata })),
            )
            .await?;
        if release {
            tracing::info!(applicationset = %name, app = %n, "Application released: the policy does not allow deleting it");
        }
    }
    let left: Vec<&String> = finalizers.iter().filter(|f| !ours(f)).collect();
    ctx.sets_api
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": list_or_null(&left),
                "resourceVersion": set.metadata.resource_version}})),
        )
        .await?;
    Ok(())
}

/// Sets condition `kind`, keeping its transition time when its truth did not change.
fn condition(
    status: &mut ApplicationSetStatus,
    kind: &str,
    truth: bool,
    reason: &str,
    message: &str,
) {
    let word = if truth { "True" } else { "False" };
    let at = status
        .conditions
        .iter()
        .find(|c| c.type_ == kind && c.status == word)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or_else(now);
    status.conditions.retain(|c| c.type_ != kind);
    status.conditions.push(ApplicationSetCondition {
        type_: kind.into(),
        status: word.into(),
        message: message.into(),
        reason: reason.into(),
        last_transition_time: Some(at),
    });
    status.conditions.sort_by(|a, b| a.type_.cmp(&b.type_));
}

async fn write_status(
    ctx: &AppSetCtx,
    set: &ApplicationSet,
    status: ApplicationSetStatus,
) -> Result<(), kube::Error> {
    if set.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let name = set.metadata.name.clone().unwrap_or_default();
    // Every field spelled out, so that what became empty is cleared by the merge.
    let body = json!({"status": {"conditions": status.conditions, "resources": status.resources}});
    match ctx
        .sets_api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(body))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// The set's view of the Applications it generates (not those whose name another
/// Application holds): their sync and health.
fn resources_of(
    ctx: &AppSetCtx,
    generated: &ferry_appset::Generated,
    conflicts: &[ferry_appset::InvalidApp],
) -> Vec<ApplicationSetResource> {
    let apps = read(&ctx.apps);
    generated
        .apps
        .iter()
        .filter_map(|a| a.metadata.name.as_ref())
        .filter(|n| !conflicts.iter().any(|c| &c.name == *n))
        .map(|n| {
            let known = apps.get(n);
            ApplicationSetResource {
                name: n.clone(),
                status: known.and_then(|k| k.sync).map(|s| s.as_str().to_owned()),
                health: known.and_then(|k| k.health.clone()),
            }
        })
        .collect()
}

/// Creates generated Applications, eight at a time; answers what failed, and whether one
/// already existed (created by an earlier reconcile whose result the watch has not brought
/// yet: not an error, but a reason to look again soon).
async fn create_all(
    api: &Api<DynamicObject>,
    set: &str,
    apps: Vec<Application>,
) -> (Vec<String>, bool) {
    let results = futures::stream::iter(apps.into_iter().map(|app| {
        let api = api.clone();
        let set = set.to_owned();
        async move {
            let n = app.metadata.name.clone().unwrap_or_default();
            let obj: DynamicObject = serde_json::to_value(&app)
                .and_then(serde_json::from_value)
                .map_err(|e| format!("{n}: {e}"))?;
            match api.create(&PostParams::default(), &obj).await {
                Ok(_) => {
                    tracing::info!(applicationset = %set, app = %n, "Application created");
                    Ok(false)
                }
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(true),
                Err(e) => Err(format!("creating {n}: {e}")),
            }
        }
    }))
    .buffer_unordered(8)
    .collect::<Vec<Result<bool, String>>>()
    .await;
    let existed = results.iter().any(|r| matches!(r, Ok(true)));
    (
        results.into_iter().filter_map(Result::err).collect(),
        existed,
    )
}

/// A list for a merge patch: `null` when empty (which removes the field).
fn list_or_null<T: serde::Serialize>(items: &[T]) -> Value {
    if items.is_empty() {
        Value::Null
    } else {
        json!(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_lists_are_null_when_empty() {
        assert_eq!(list_or_null::<String>(&[]), Value::Null);
        assert_eq!(list_or_null(&["a"]), json!(["a"]));
    }
}
