//! `ferry app list | get | diff | sync | rollback | terminate-op | history | delete`: applications on the
//! cluster, through the usual kubeconfig.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use ferry_api::Application;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::mgmt::MgmtArgs;

#[derive(Debug, Args)]
pub struct AppArgs {
    #[command(flatten)]
    pub mgmt: MgmtArgs,
    #[command(subcommand)]
    pub command: AppCommand,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Applications with their sync and health.
    List {
        #[arg(short, long, value_enum, default_value = "table")]
        output: Output,
    },
    /// One application: source, destination, status, resources, conditions.
    Get {
        name: String,
        #[arg(short, long, value_enum, default_value = "table")]
        output: Output,
        /// Resolve the target revision again before showing.
        #[arg(long)]
        refresh: bool,
    },
    /// What a sync would change, per resource (exit status 1 when something differs).
    Diff { name: String },
    /// Sync now and follow the operation until it finishes.
    Sync {
        name: String,
        /// Delete resources that left Git.
        #[arg(long)]
        prune: bool,
        /// Sync to this revision instead of the target revision.
        #[arg(long)]
        revision: Option<String>,
        /// Compare only; apply nothing.
        #[arg(long)]
        dry_run: bool,
        /// Sync only this resource, as `GROUP:KIND:NAME` or `GROUP:KIND:NAMESPACE/NAME`
        /// (empty group for core kinds: `:Service:web`); repeatable. Hooks do not run.
        #[arg(long = "resource", value_name = "GROUP:KIND:[NAMESPACE/]NAME")]
        resources: Vec<String>,
        /// Give up waiting after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Sync the revision and source of an earlier entry of the history (default: the one
    /// before the current). Refused while automated sync is on.
    Rollback {
        name: String,
        /// The history id (`ferry app history`).
        id: Option<i64>,
        /// Delete resources that the earlier revision does not have.
        #[arg(long)]
        prune: bool,
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Stop the running operation of an application (its running hooks are deleted).
    TerminateOp { name: String },
    /// The recent syncs of an application.
    History {
        name: String,
        #[arg(short, long, value_enum, default_value = "table")]
        output: Output,
    },
    /// Delete an application (and, with `--cascade`, the default, its resources).
    Delete {
        name: String,
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        cascade: bool,
        /// Wait until it is gone.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        wait: bool,
    },
}

fn api(client: kube::Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client, ns, &ferry_controller::applications_resource())
}

fn parse(o: &DynamicObject) -> anyhow::Result<Application> {
    let name = o.metadata.name.clone().unwrap_or_default();
    serde_json::to_value(o)
        .and_then(serde_json::from_value)
        .with_context(|| format!("application {name} does not have the Application shape"))
}

async fn get(api: &Api<DynamicObject>, name: &str) -> anyhow::Result<Application> {
    match api.get(name).await {
        Ok(o) => parse(&o),
        Err(kube::Error::Api(s)) if s.code == 404 => bail!(
            "application {name} not found in namespace {}",
            api.namespace_hint()
        ),
        Err(e) => Err(e).with_context(|| format!("getting application {name}")),
    }
}

trait NamespaceHint {
    fn namespace_hint(&self) -> String;
}

impl NamespaceHint for Api<DynamicObject> {
    fn namespace_hint(&self) -> String {
        self.resource_url()
            .split("/namespaces/")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or("?")
            .to_owned()
    }
}

fn short(rev: &str) -> &str {
    rev.get(..7).unwrap_or(rev)
}

pub(crate) fn print_rows(rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}

/// A listing as JSON or YAML (`{"items": [...]}`); `false` for a table, which the caller
/// prints.
pub(crate) fn emit_list(items: &[DynamicObject], output: Output) -> bool {
    if output == Output::Table {
        return false;
    }
    let items: Vec<Value> = items
        .iter()
        .filter_map(|o| serde_json::to_value(o).ok())
        .collect();
    emit(&json!({"items": items}), output);
    true
}

pub(crate) fn emit(v: &Value, output: Output) {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(v).unwrap_or_default()),
        _ => print!("{}", ferry_diff::to_yaml(v)),
    }
}

fn destination(app: &Application) -> String {
    let d = &app.spec.destination;
    d.name
        .clone()
        .or_else(|| d.server.clone())
        .unwrap_or_default()
}

pub async fn run(args: AppArgs) -> anyhow::Result<()> {
    let client = args.mgmt.client().await?;
    let api = api(client, &args.mgmt.namespace);
    match args.command {
        AppCommand::List { output } => list(&api, output).await?,
        AppCommand::Get {
            name,
            output,
            refresh,
        } => show(&api, name, output, refresh).await?,
        AppCommand::History { name, output } => history(&api, name, output).await?,
        AppCommand::Sync {
            name,
            prune,
            revision,
            dry_run,
            resources,
            timeout,
        } => {
            let resources = resources
                .iter()
                .map(|r| parse_resource(r))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let op = json!({"sync": {"prune": prune, "dryRun": dry_run, "revision": revision,
                "resources": resources}});
            sync(&api, &name, op, timeout).await?
        }
        AppCommand::Rollback {
            name,
            id,
            prune,
            timeout,
        } => rollback(&api, name, id, prune, timeout).await?,
        AppCommand::TerminateOp { name } => terminate(&api, name).await?,
        AppCommand::Delete {
            name,
            cascade,
            wait,
        } => delete(&api, name, cascade, wait).await?,
        AppCommand::Diff { name } => {
            let differs = crate::diff_cmd::diff(&args.mgmt, &api, &name).await?;
            if differs {
                std::process::exit(1);
            }
        }
    }
    Ok(())
}

/// `ferry app list`: applications with their sync and health.
async fn list(api: &Api<DynamicObject>, output: Output) -> anyhow::Result<()> {
    let list = api
        .list(&ListParams::default())
        .await
        .context("listing applications")?;
    if emit_list(&list.items, output) {
        return Ok(());
    }
    let mut rows = vec![
        vec![
            "NAME",
            "CLUSTER",
            "NAMESPACE",
            "SYNC",
            "HEALTH",
            "REVISION",
            "CONDITIONS",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>(),
    ];
    for o in &list.items {
        let app = parse(o)?;
        let s = app.status.clone().unwrap_or_default();
        rows.push(vec![
            app.metadata.name.clone().unwrap_or_default(),
            destination(&app),
            app.spec.destination.namespace.clone().unwrap_or_default(),
            s.sync.status.to_string(),
            s.health.status.to_string(),
            short(&s.sync.revision).to_owned(),
            s.conditions
                .iter()
                .map(|c| c.type_.to_string())
                .collect::<Vec<_>>()
                .join(","),
        ]);
    }
    print_rows(&rows);
    Ok(())
}

/// `ferry app get`: one application's source, destination, status, resources, conditions.
async fn show(
    api: &Api<DynamicObject>,
    name: String,
    output: Output,
    refresh: bool,
) -> anyhow::Result<()> {
    if refresh {
        let patch = Patch::Merge(
            json!({"metadata": {"annotations": {ferry_api::REFRESH_ANNOTATION: "normal"}}}),
        );
        api.patch(&name, &PatchParams::default(), &patch)
            .await
            .with_context(|| format!("refreshing {name}"))?;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let app = get(api, &name).await?;
    if output != Output::Table {
        emit(&serde_json::to_value(&app)?, output);
        return Ok(());
    }
    let s = app.status.clone().unwrap_or_default();
    let src = &app.spec.source;
    println!("Name:        {name}");
    println!(
        "Project:     {}",
        if app.spec.project.is_empty() {
            "default"
        } else {
            &app.spec.project
        }
    );
    println!(
        "Source:      {} {} (path {})",
        src.repo_url,
        if src.target_revision.is_empty() {
            "HEAD"
        } else {
            &src.target_revision
        },
        if src.path.is_empty() { "." } else { &src.path }
    );
    println!(
        "Destination: {} namespace {}",
        destination(&app),
        app.spec.destination.namespace.clone().unwrap_or_default()
    );
    println!("Sync:        {} {}", s.sync.status, short(&s.sync.revision));
    println!("Health:      {} {}", s.health.status, s.health.message);
    if let Some(op) = &s.operation_state {
        match &op.finished_at {
            Some(at) => println!("Last sync:   {} at {at}: {}", op.phase, op.message),
            None => println!(
                "Operation:   {} since {} (sync id {}{}): {}",
                op.phase,
                op.started_at,
                op.sync_id,
                if op.retry_count > 0 {
                    format!(", retry {}", op.retry_count)
                } else {
                    String::new()
                },
                op.message
            ),
        }
    }
    for c in &s.conditions {
        println!("Condition:   {}: {}", c.type_, c.message);
    }
    println!();
    let mut rows = vec![
        ["KIND", "NAMESPACE", "NAME", "SYNC", "HEALTH", ""]
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<_>>(),
    ];
    for r in &s.resources {
        let kind = if r.group.is_empty() {
            r.kind.clone()
        } else {
            format!("{}.{}", r.kind, r.group)
        };
        rows.push(vec![
            kind,
            r.namespace.clone(),
            r.name.clone(),
            r.status.to_string(),
            r.health
                .as_ref()
                .map(|h| h.status.to_string())
                .unwrap_or_default(),
            if r.requires_pruning {
                "requires pruning".into()
            } else {
                String::new()
            },
        ]);
    }
    print_rows(&rows);
    Ok(())
}

/// `ferry app history`: the recent syncs.
async fn history(api: &Api<DynamicObject>, name: String, output: Output) -> anyhow::Result<()> {
    let app = get(api, &name).await?;
    let history = app.status.map(|s| s.history).unwrap_or_default();
    if output != Output::Table {
        emit(&serde_json::to_value(&history)?, output);
        return Ok(());
    }
    let mut rows = vec![
        ["ID", "DEPLOYED AT", "REVISION", "BY"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<_>>(),
    ];
    for h in history.iter().rev() {
        let by = match &h.initiated_by {
            Some(i) if i.automated => "automated".to_owned(),
            Some(i) => i.username.clone().unwrap_or_default(),
            None => String::new(),
        };
        rows.push(vec![
            h.id.to_string(),
            h.deployed_at.clone(),
            h.revision.clone(),
            by,
        ]);
    }
    print_rows(&rows);
    Ok(())
}

/// `ferry app rollback`: syncs the revision and source of an earlier history entry.
async fn rollback(
    api: &Api<DynamicObject>,
    name: String,
    id: Option<i64>,
    prune: bool,
    timeout: u64,
) -> anyhow::Result<()> {
    let app = get(api, &name).await?;
    if app
        .spec
        .sync_policy
        .as_ref()
        .is_some_and(|p| p.automated.is_some())
    {
        bail!(
            "rollback of {name} refused: automated sync is on and would undo it; turn it off first (remove spec.syncPolicy.automated)"
        );
    }
    let history = app.status.map(|s| s.history).unwrap_or_default();
    let entry = match id {
        Some(id) => history.iter().find(|h| h.id == id).with_context(|| {
            format!(
                "{name} has no history entry {id} (it has {})",
                history
                    .iter()
                    .map(|h| h.id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?,
        None => history
            .iter()
            .rev()
            .nth(1)
            .with_context(|| format!("{name} has no earlier sync to roll back to"))?,
    };
    println!(
        "rolling {name} back to history entry {} (revision {})",
        entry.id, entry.revision
    );
    let op = json!({"sync": {"prune": prune, "revision": entry.revision,
        "source": entry.source}});
    sync(api, &name, op, timeout).await
}

/// `ferry app terminate-op`: asks the controller to stop the running operation.
async fn terminate(api: &Api<DynamicObject>, name: String) -> anyhow::Result<()> {
    let app = get(api, &name).await?;
    let running = app
        .status
        .as_ref()
        .and_then(|s| s.operation_state.as_ref())
        .is_some_and(|o| o.phase == ferry_api::OperationPhase::Running);
    if !running {
        bail!("{name} has no running operation");
    }
    let mut body = json!({"status": {"operationState": {"phase": "Terminating"}}});
    body["metadata"] = json!({"resourceVersion": app.metadata.resource_version});
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(body))
        .await
        .with_context(|| format!("terminating the operation of {name}"))?;
    println!("termination of the operation of {name} requested");
    Ok(())
}

/// `ferry app delete`: with or without its resources, waiting until it is gone.
async fn delete(
    api: &Api<DynamicObject>,
    name: String,
    cascade: bool,
    wait: bool,
) -> anyhow::Result<()> {
    let app = get(api, &name).await?;
    let mut finalizers = app.metadata.finalizers.clone().unwrap_or_default();
    let has = finalizers
        .iter()
        .any(|f| ferry_api::is_resources_finalizer(f));
    if cascade != has {
        if cascade {
            finalizers.push(ferry_api::RESOURCES_FINALIZER.into());
        } else {
            finalizers.retain(|f| !ferry_api::is_resources_finalizer(f));
        }
        api.patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": finalizers}})),
        )
        .await?;
    }
    api.delete(&name, &DeleteParams::default())
        .await
        .with_context(|| format!("deleting {name}"))?;
    println!(
        "application {name} deleted{}",
        if cascade {
            "; its resources are being deleted"
        } else {
            "; its resources stay"
        }
    );
    if wait {
        let start = Instant::now();
        while api.get_opt(&name).await?.is_some() {
            if start.elapsed() > Duration::from_secs(300) {
                bail!(
                    "application {name} is still there after 5 minutes (is the controller running?)"
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        println!("application {name} is gone");
    }
    Ok(())
}

/// `GROUP:KIND:NAME` or `GROUP:KIND:NAMESPACE/NAME` (Argo CD's `--resource`).
fn parse_resource(s: &str) -> anyhow::Result<Value> {
    let parts: Vec<&str> = s.splitn(3, ':').collect();
    let [group, kind, rest] = parts.as_slice() else {
        bail!("--resource {s:?}: expected GROUP:KIND:NAME or GROUP:KIND:NAMESPACE/NAME");
    };
    let (namespace, name) = rest.split_once('/').unwrap_or(("", rest));
    if kind.is_empty() || name.is_empty() {
        bail!("--resource {s:?}: the kind and the name must not be empty");
    }
    Ok(json!({"group": group, "kind": kind, "namespace": namespace, "name": name}))
}

/// Asks for an operation and follows it, printing its progress, until it finishes.
async fn sync(
    api: &Api<DynamicObject>,
    name: &str,
    mut operation: Value,
    timeout: u64,
) -> anyhow::Result<()> {
    let before = get(api, name).await?;
    if let Some(op) = before
        .status
        .as_ref()
        .and_then(|s| s.operation_state.as_ref())
        .filter(|o| o.phase.is_running())
    {
        bail!(
            "{name} has an operation in progress (started {}: {}); wait for it or stop it with `ferry app terminate-op {name}`",
            op.started_at,
            op.message
        );
    }
    // Operations are told apart by their sync id (timestamps have one-second resolution, and
    // two operations may start within the same second).
    let previous = before
        .status
        .and_then(|s| s.operation_state)
        .map(|o| (o.sync_id, o.started_at, o.finished_at));
    let user = std::env::var("USER").unwrap_or_else(|_| "ferry-cli".into());
    operation["initiatedBy"] = json!({"username": user});
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"operation": operation})),
    )
    .await
    .with_context(|| format!("requesting a sync of {name}"))?;
    println!("sync of {name} requested; waiting for the controller...");
    let start = Instant::now();
    let mut said = String::new();
    loop {
        if start.elapsed() > Duration::from_secs(timeout) {
            bail!(
                "no result after {timeout} s (is the controller running?); the operation goes on: `ferry app get {name}` follows it"
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let app = get(api, name).await?;
        let Some(op) = app.status.and_then(|s| s.operation_state) else {
            continue;
        };
        let key = (
            op.sync_id.clone(),
            op.started_at.clone(),
            op.finished_at.clone(),
        );
        if Some(&key) == previous.as_ref() {
            continue;
        }
        if op.finished_at.is_none() {
            if op.message != said {
                println!("  {}: {}", op.phase, op.message);
                said = op.message.clone();
            }
            continue;
        }
        if app.operation.is_some() {
            continue;
        }
        for r in op.sync_result.iter().flat_map(|s| &s.resources) {
            let kind = if r.group.is_empty() {
                r.kind.clone()
            } else {
                format!("{}.{}", r.kind, r.group)
            };
            let hook = match (r.hook_type, r.hook_phase) {
                (Some(t), Some(p)) => format!(" ({t} hook {p})"),
                (Some(t), None) => format!(" ({t} hook)"),
                _ => String::new(),
            };
            println!(
                "  {:<10} {:<8} {kind} {}/{}{hook} {}",
                r.status.map(|c| c.as_str()).unwrap_or_default(),
                r.sync_phase.map(|c| c.as_str()).unwrap_or_default(),
                r.namespace,
                r.name,
                r.message
            );
        }
        println!("{}: {}", op.phase, op.message);
        if op.phase != ferry_api::OperationPhase::Succeeded {
            bail!("sync of {name} {}", op.phase.as_str().to_lowercase());
        }
        return Ok(());
    }
}
