//! `ferry appset`: ApplicationSets, what they generated, and a preview of what a set (new
//! or changed) would create, update and delete, without changing anything.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use ferry_api::{Application, ApplicationSet};
use ferry_cluster::api_resource as ar;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::{Value, json};

use crate::mgmt::MgmtArgs;
use crate::output::{Output, emit, emit_list, print_rows};
use crate::remote::{Remote, RemoteArgs, escape};

#[derive(Debug, Args)]
pub struct AppSetArgs {
    #[command(flatten)]
    pub mgmt: MgmtArgs,
    #[command(flatten)]
    pub remote: RemoteArgs,
    #[command(subcommand)]
    pub command: AppSetCommand,
}

#[derive(Debug, Subcommand)]
pub enum AppSetCommand {
    /// ApplicationSets with how many applications they generate and whether they are up to date.
    List {
        #[arg(short, long, value_enum, default_value = "table")]
        output: Output,
    },
    /// One ApplicationSet: its conditions and the applications it generated.
    Get {
        name: String,
        #[arg(short, long, value_enum, default_value = "table")]
        output: Output,
    },
    /// What an ApplicationSet would create, update and delete now (the registered clusters,
    /// the Git repositories its generators read, the Applications that exist), without
    /// changing anything. Exit status 1 when its generators fail.
    Preview {
        /// An ApplicationSet manifest (YAML or JSON; `ferry.dev/v1alpha1` or Argo CD's
        /// `argoproj.io/v1alpha1`); without it, the set NAME as it is on the cluster.
        #[arg(short, long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// The set on the cluster (when no file is given).
        name: Option<String>,
        /// Show the whole generated Application of each creation and the patch of each update.
        #[arg(long)]
        details: bool,
        /// Directory for the Git checkouts (default: a temporary one).
        #[arg(long)]
        git_cache: Option<PathBuf>,
        /// Allow `file://` repository URLs (local experiments).
        #[arg(long)]
        allow_file_urls: bool,
        /// The controller's `--appset-policy`, for a set that does not name its own
        /// (through `--server`, the server's own setting applies instead).
        #[arg(long, default_value = "sync")]
        policy: ferry_appset::Policy,
    },
}

fn sets_api(client: kube::Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        client,
        ns,
        &ferry_controller::appset::applicationsets_resource(),
    )
}

fn parse_set(v: Value, shown: &str) -> anyhow::Result<ApplicationSet> {
    serde_json::from_value(v).with_context(|| format!("{shown} is not an ApplicationSet"))
}

fn condition(set: &ApplicationSet, kind: &str) -> Option<(String, String)> {
    set.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| (c.status.clone(), c.message.clone()))
}

pub async fn run(args: AppSetArgs) -> anyhow::Result<()> {
    if let Some(r) = crate::remote::resolve(&args.remote, &args.mgmt)? {
        return run_remote(&r, args.command).await;
    }
    let client = args.mgmt.client().await?;
    let ns = args.mgmt.namespace.clone();
    let api = sets_api(client.clone(), &ns);
    match args.command {
        AppSetCommand::List { output } => {
            let list = api
                .list(&ListParams::default())
                .await
                .context("listing ApplicationSets")?;
            if emit_list(&list.items, output) {
                return Ok(());
            }
            let mut rows = vec![
                ["NAME", "APPS", "POLICY", "UP-TO-DATE", "ERROR"]
                    .map(String::from)
                    .to_vec(),
            ];
            for o in &list.items {
                let shown = o.metadata.name.clone().unwrap_or_default();
                let set = match parse_set(serde_json::to_value(o)?, &shown) {
                    Ok(set) => set,
                    Err(e) => {
                        rows.push(vec![
                            shown,
                            "-".into(),
                            "-".into(),
                            "-".into(),
                            format!("{e:#}"),
                        ]);
                        continue;
                    }
                };
                let apps = set.status.as_ref().map_or(0, |s| s.resources.len());
                let policy = set
                    .spec
                    .sync_policy
                    .as_ref()
                    .and_then(|p| p.applications_sync)
                    .map_or("(controller's)".to_owned(), |p| p.to_string());
                let up = condition(&set, "ResourcesUpToDate").map_or("-".into(), |c| c.0);
                let error = condition(&set, "ErrorOccurred")
                    .filter(|c| c.0 == "True")
                    .map_or(String::new(), |c| c.1);
                rows.push(vec![shown, apps.to_string(), policy, up, error]);
            }
            print_rows(&rows);
        }
        AppSetCommand::Get { name, output } => {
            let o = match api.get(&name).await {
                Ok(o) => o,
                Err(kube::Error::Api(s)) if s.code == 404 => {
                    return Err(crate::app_cmd::not_found(
                        &api,
                        "ApplicationSet",
                        &name,
                        "ferry appset list",
                    )
                    .await);
                }
                Err(e) => return Err(e).with_context(|| format!("getting ApplicationSet {name}")),
            };
            let v = serde_json::to_value(&o)?;
            if output != Output::Table {
                emit(&v, output);
                return Ok(());
            }
            let set = parse_set(v, &name)?;
            print_set(&name, &set);
        }
        AppSetCommand::Preview {
            file,
            name,
            details,
            git_cache,
            allow_file_urls,
            policy,
        } => {
            let (set, shown) = match (&file, &name) {
                (Some(f), _) => {
                    let text = std::fs::read_to_string(f)
                        .with_context(|| format!("reading {}", f.display()))?;
                    let mut v: Value = serde_saphyr::from_str(&text)
                        .with_context(|| format!("{} is not YAML", f.display()))?;
                    let Some(m) = v.as_object_mut() else {
                        bail!("{}: not an ApplicationSet (a mapping)", f.display());
                    };
                    m.insert("apiVersion".into(), json!(ferry_api::API_VERSION));
                    let mut set = parse_set(v, &f.display().to_string())?;
                    // A change to an existing set: its Applications are the ones it owns.
                    let n = set.metadata.name.clone().unwrap_or_default();
                    match api.get_opt(&n).await {
                        Ok(Some(live)) => set.metadata.uid = live.metadata.uid,
                        Ok(None) => {}
                        // ApplicationSets are not served yet (Ferry's CRDs not installed):
                        // the set is new.
                        Err(kube::Error::Api(s)) if s.code == 404 => {}
                        Err(e) => return Err(e).context(format!("getting ApplicationSet {n}")),
                    }
                    set.metadata.namespace = Some(ns.clone());
                    (set, f.display().to_string())
                }
                (None, Some(n)) => {
                    let o = api
                        .get(n)
                        .await
                        .with_context(|| format!("getting ApplicationSet {n}"))?;
                    (parse_set(serde_json::to_value(&o)?, n)?, n.clone())
                }
                (None, None) => bail!("preview needs --file FILE or the name of a set"),
            };
            let opts = PreviewOpts {
                details,
                git_cache,
                allow_file_urls,
                policy,
            };
            preview(&client, &ns, &set, &shown, opts).await?;
        }
    }
    Ok(())
}

/// `ferry appset` through Ferry's API: the same answers from the server's cache, and the
/// preview computed by the server (which also names the resources each Application would
/// bring or take away).
async fn run_remote(r: &Remote, command: AppSetCommand) -> anyhow::Result<()> {
    match command {
        AppSetCommand::List { output } => {
            let answer = r
                .get("applicationsets")
                .await
                .context("listing ApplicationSets")?;
            let items = answer["items"].as_array().cloned().unwrap_or_default();
            if output != Output::Table {
                emit(&json!({"items": items}), output);
                return Ok(());
            }
            let mut rows = vec![
                ["NAME", "APPS", "POLICY", "UP-TO-DATE", "ERROR"]
                    .map(String::from)
                    .to_vec(),
            ];
            for i in &items {
                let cond = |kind: &str| {
                    i["conditions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|c| c["type"] == kind)
                        .cloned()
                };
                let up = cond("ResourcesUpToDate")
                    .and_then(|c| c["status"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| "-".into());
                let error = cond("ErrorOccurred")
                    .filter(|c| c["status"] == "True")
                    .and_then(|c| c["message"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                rows.push(vec![
                    i["name"].as_str().unwrap_or_default().to_owned(),
                    i["applications"].as_array().map_or(0, Vec::len).to_string(),
                    i["policy"].as_str().unwrap_or("-").to_owned(),
                    up,
                    error,
                ]);
            }
            print_rows(&rows);
        }
        AppSetCommand::Get { name, output } => {
            let set = remote_set(r, &name).await?;
            if output != Output::Table {
                emit(&serde_json::to_value(&set)?, output);
                return Ok(());
            }
            print_set(&name, &set);
        }
        AppSetCommand::Preview {
            file,
            name,
            details,
            git_cache,
            allow_file_urls,
            policy: _,
        } => {
            if git_cache.is_some() || allow_file_urls {
                bail!(
                    "--git-cache and --allow-file-urls are the server's settings when it \
                     previews (`ferry server --allow-file-urls`), not this command's"
                );
            }
            let (body, shown) = match (&file, &name) {
                (Some(f), _) => (
                    std::fs::read(f).with_context(|| format!("reading {}", f.display()))?,
                    f.display().to_string(),
                ),
                (None, Some(n)) => {
                    let set = remote_set(r, n).await?;
                    let doc = json!({"apiVersion": ferry_api::API_VERSION,
                        "kind": "ApplicationSet", "metadata": {"name": n}, "spec": set.spec});
                    (serde_json::to_vec(&doc)?, n.clone())
                }
                (None, None) => bail!("preview needs --file FILE or the name of a set"),
            };
            let answer = r
                .call(
                    http::Method::POST,
                    "applicationsets/preview",
                    Some(("application/yaml", body.into())),
                )
                .await
                .with_context(|| format!("previewing {shown}"))?;
            print_remote_preview(&answer, details);
        }
    }
    Ok(())
}

/// `GET /applicationsets/{name}` as an [`ApplicationSet`]; a 404 names the sets there are.
async fn remote_set(r: &Remote, name: &str) -> anyhow::Result<ApplicationSet> {
    let answer = match r.get(&format!("applicationsets/{}", escape(name))).await {
        Ok(v) => v,
        Err(e) if e.status() == Some(404) => {
            return Err(crate::app_cmd::remote_not_found(r, "ApplicationSet", name).await);
        }
        Err(e) => return Err(e).with_context(|| format!("getting ApplicationSet {name}")),
    };
    parse_set(
        json!({"apiVersion": ferry_api::API_VERSION, "kind": "ApplicationSet",
            "metadata": {"name": name}, "spec": answer["spec"], "status": answer["status"]}),
        name,
    )
}

/// The server's preview, per cluster: each Application's action and the resources it
/// would create, update or delete there.
fn print_remote_preview(answer: &Value, details: bool) {
    let list = |k: &str| answer[k].as_array().cloned().unwrap_or_default();
    let clusters = list("clusters");
    let apps: usize = clusters
        .iter()
        .map(|c| c["applications"].as_array().map_or(0, Vec::len))
        .sum();
    println!(
        "ApplicationSet {}: {apps} application(s) over {} cluster(s), policy {}",
        answer["name"].as_str().unwrap_or_default(),
        clusters.len(),
        answer["policy"].as_str().unwrap_or("-")
    );
    for c in &clusters {
        println!("cluster {}", c["cluster"].as_str().unwrap_or("-"));
        for a in c["applications"].as_array().into_iter().flatten() {
            let resources = a["resources"].as_array().cloned().unwrap_or_default();
            let count = |action: &str| resources.iter().filter(|r| r["action"] == action).count();
            let changed: Vec<&str> = a["changed"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            println!(
                "  {:<9} {}  ({} resource(s): {} create, {} update, {} delete){}",
                a["action"].as_str().unwrap_or("-"),
                a["name"].as_str().unwrap_or_default(),
                resources.len(),
                count("create"),
                count("update"),
                count("delete"),
                if changed.is_empty() {
                    String::new()
                } else {
                    format!("; changes {}", changed.join(", "))
                }
            );
            if let Some(e) = a["resourcesError"].as_str() {
                println!("            resources unknown: {e}");
            }
            if details {
                for res in &resources {
                    let ns = res["namespace"].as_str().unwrap_or_default();
                    println!(
                        "            {:<9} {}/{}{}",
                        res["action"].as_str().unwrap_or("-"),
                        res["kind"].as_str().unwrap_or_default(),
                        if ns.is_empty() {
                            String::new()
                        } else {
                            format!("{ns}/")
                        },
                        res["name"].as_str().unwrap_or_default()
                    );
                }
            }
        }
    }
    for (k, word) in [("refused", "refuse"), ("invalid", "invalid")] {
        for i in list(k) {
            println!(
                "  {word:<9} {}  ({})",
                i["name"].as_str().unwrap_or_default(),
                i["message"].as_str().unwrap_or_default()
            );
        }
    }
}

fn print_set(name: &str, set: &ApplicationSet) {
    println!("Name:        {name}");
    println!(
        "Generators:  {}",
        set.spec
            .generators
            .iter()
            .map(generator_kind)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let status = set.status.clone().unwrap_or_default();
    println!("Conditions:");
    for c in &status.conditions {
        println!("  {:<20} {:<6} {}", c.type_, c.status, c.message);
    }
    let mut rows = vec![["APPLICATION", "SYNC", "HEALTH"].map(String::from).to_vec()];
    for r in &status.resources {
        rows.push(vec![
            r.name.clone(),
            r.status.clone().unwrap_or_default(),
            r.health
                .as_ref()
                .map(|h| h.status.to_string())
                .unwrap_or_default(),
        ]);
    }
    println!();
    print_rows(&rows);
}

fn generator_kind(g: &ferry_api::Generator) -> String {
    serde_json::to_value(g)
        .ok()
        .and_then(|v| {
            v.as_object().and_then(|m| {
                m.iter()
                    .find(|(k, v)| *k != "selector" && !v.is_null())
                    .map(|(k, _)| k.clone())
            })
        })
        .unwrap_or_else(|| "?".into())
}

/// How `ferry appset preview` runs (its flags).
struct PreviewOpts {
    details: bool,
    git_cache: Option<PathBuf>,
    allow_file_urls: bool,
    policy: ferry_appset::Policy,
}

async fn preview(
    client: &kube::Client,
    ns: &str,
    set: &ApplicationSet,
    shown: &str,
    opts: PreviewOpts,
) -> anyhow::Result<()> {
    let PreviewOpts {
        details,
        git_cache,
        allow_file_urls,
        policy: default_policy,
    } = opts;
    let secrets: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns, &ar("", "v1", "Secret", "secrets"));
    let labelled = secrets
        .list(&ListParams::default().labels(ferry_api::SECRET_TYPE_LABEL))
        .await
        .context("listing cluster and repository Secrets")?;
    let mut clusters = Vec::new();
    let mut repo_secrets = Vec::new();
    for s in &labelled.items {
        let v = serde_json::to_value(s)?;
        if ferry_cluster::is_cluster_secret(&v) {
            clusters.extend(ferry_controller::appset::fetched::cluster_info(&v));
        } else {
            repo_secrets.push(v);
        }
    }
    let apps_api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &ferry_controller::applications_resource(),
    );
    let listed = match apps_api.list(&ListParams::default()).await {
        Ok(l) => l.items,
        // Applications are not served yet (Ferry's CRDs not installed): there are none.
        Err(kube::Error::Api(s)) if s.code == 404 => Vec::new(),
        Err(e) => return Err(e).context("listing Applications"),
    };
    let mut apps: Vec<Application> = Vec::new();
    for o in &listed {
        match serde_json::to_value(o).and_then(serde_json::from_value) {
            Ok(a) => apps.push(a),
            Err(e) => eprintln!(
                "warning: Application {} is not readable ({e}); a generated Application of that name would be refused",
                o.metadata.name.as_deref().unwrap_or_default()
            ),
        }
    }

    let tmp = tempfile::tempdir()?;
    let root = git_cache.unwrap_or_else(|| tmp.path().to_path_buf());
    let sources = ferry_source::Sources::for_command(root, allow_file_urls, &repo_secrets)?;

    let uid = set.metadata.uid.clone().unwrap_or_default();
    let (owned, others): (Vec<Application>, Vec<Application>) =
        apps.into_iter().partition(|a| {
            !uid.is_empty()
                && a.metadata.owner_references.iter().flatten().any(|r| {
                    r.controller == Some(true) && r.kind == "ApplicationSet" && r.uid == uid
                })
        });
    let by_name: BTreeMap<String, Application> = others
        .into_iter()
        .map(|a| (a.metadata.name.clone().unwrap_or_default(), a))
        .collect();
    let existing = |n: &str| by_name.get(n).cloned();
    let p = match ferry_controller::appset::preview(
        set,
        clusters,
        owned,
        &existing,
        &sources,
        default_policy,
        true,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => {
            bail!("{shown}: the generators fail, so the controller would change nothing: {e}")
        }
    };
    let set_policy = set
        .spec
        .sync_policy
        .as_ref()
        .and_then(|p| p.applications_sync);
    println!(
        "ApplicationSet {}: {} generated, policy {}{}",
        set.metadata.name.as_deref().unwrap_or_default(),
        p.generated.apps.len(),
        p.policy,
        if set_policy.is_none() {
            " (the controller's default: give --policy if it was started with another)"
        } else {
            ""
        }
    );
    let generated_names: BTreeMap<&str, &Application> = p
        .generated
        .apps
        .iter()
        .filter_map(|a| Some((a.metadata.name.as_deref()?, a)))
        .collect();
    for a in &p.plan.create {
        let d = &a.spec.destination;
        println!(
            "  create  {}  -> {} / {}  ({} {})",
            a.metadata.name.as_deref().unwrap_or_default(),
            d.name
                .clone()
                .or_else(|| d.server.clone())
                .unwrap_or_default(),
            d.namespace.clone().unwrap_or_default(),
            a.spec.source.repo_url,
            a.spec.source.path
        );
        if details {
            print!(
                "{}",
                indent(&ferry_diff::to_yaml(&serde_json::to_value(a)?))
            );
        }
    }
    for u in &p.plan.update {
        println!("  update  {}  ({})", u.name, u.changed.join(", "));
        if details {
            print!("{}", indent(&ferry_diff::to_yaml(&u.patch)));
        }
    }
    for n in &p.plan.delete {
        println!("  delete  {n}");
    }
    for c in &p.plan.conflicts {
        println!("  refuse  {}  ({})", c.name, c.message);
    }
    for i in &p.generated.invalid {
        println!("  invalid {}  ({})", i.name, i.message);
    }
    let held: Vec<&String> = p
        .plan
        .unchanged
        .iter()
        .filter(|n| !generated_names.contains_key(n.as_str()))
        .collect();
    println!(
        "  {} unchanged{}",
        p.plan.unchanged.len(),
        if held.is_empty() {
            String::new()
        } else {
            format!(
                " (of which {} no longer generated but kept by the policy)",
                held.len()
            )
        }
    );
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("          {l}\n")).collect()
}
