//! `ferry app list | get | diff | sync | rollback | terminate-op | history | delete`: applications on the
//! cluster, through the usual kubeconfig, or through Ferry's API with `--server` (the same
//! output either way; `-o json|yaml` shows the API's shapes there).

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use ferry_api::Application;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::mgmt::MgmtArgs;
use crate::output::{Output, emit, emit_list, print_rows};
use crate::remote::{Follow, Remote, RemoteArgs, escape};

#[derive(Debug, Args)]
pub struct AppArgs {
    #[command(flatten)]
    pub mgmt: MgmtArgs,
    #[command(flatten)]
    pub remote: RemoteArgs,
    #[command(subcommand)]
    pub command: AppCommand,
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Applications with their sync and health.
    List {
        #[arg(short, long, value_enum, default_value = "table")]
        output: Output,
        #[command(flatten)]
        filter: ListFilter,
    },
    /// One application: source, destination, status, resources, conditions.
    Get {
        name: String,
        #[arg(short, long, value_enum, default_value = "table")]
        output: Output,
        /// Resolve the target revision again before showing.
        #[arg(long)]
        refresh: bool,
        /// Render the source again too before showing (a hard refresh).
        #[arg(long, conflicts_with = "refresh")]
        hard_refresh: bool,
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

/// Which applications `ferry app list` shows (all of them combined with AND; the API's
/// query parameters).
#[derive(Debug, Clone, Default, Args)]
pub struct ListFilter {
    /// Only this project's.
    #[arg(long)]
    project: Option<String>,
    /// Only those delivering to this cluster (its name or server URL).
    #[arg(long)]
    cluster: Option<String>,
    /// Only those with this sync status (Synced, OutOfSync, Unknown).
    #[arg(long)]
    sync: Option<String>,
    /// Only those with this health (Healthy, Progressing, Degraded, Missing, Suspended,
    /// Unknown).
    #[arg(long)]
    health: Option<String>,
    /// Only those with these labels, `key=value[,key2=value2]`.
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// Only those whose name contains this.
    #[arg(long, value_name = "TEXT")]
    search: Option<String>,
}

impl ListFilter {
    /// The API's query string (`?project=...&sync=...`), empty when nothing is asked.
    fn query(&self) -> String {
        let pairs: Vec<String> = [
            ("project", &self.project),
            ("cluster", &self.cluster),
            ("sync", &self.sync),
            ("health", &self.health),
            ("selector", &self.selector),
            ("q", &self.search),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| format!("{k}={}", escape(v))))
        .collect();
        if pairs.is_empty() {
            String::new()
        } else {
            format!("?{}", pairs.join("&"))
        }
    }

    /// `key=value,...` pairs of `--selector`.
    fn labels(&self) -> anyhow::Result<Vec<(String, String)>> {
        let Some(s) = self.selector.as_deref().filter(|s| !s.trim().is_empty()) else {
            return Ok(Vec::new());
        };
        s.split(',')
            .map(|pair| {
                pair.split_once('=')
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .with_context(|| {
                        format!("--selector {pair:?} is not key=value (key=value,key2=value2)")
                    })
            })
            .collect()
    }

    /// Whether `app` is shown (as the server filters).
    fn keeps(&self, app: &Application, labels: &[(String, String)]) -> bool {
        let eq = |want: &Option<String>, got: &str| {
            want.as_deref()
                .filter(|w| !w.is_empty())
                .is_none_or(|w| w.eq_ignore_ascii_case(got))
        };
        let s = app.status.clone().unwrap_or_default();
        let d = &app.spec.destination;
        let app_labels = app.metadata.labels.clone().unwrap_or_default();
        eq(&self.project, &app.spec.project)
            && self
                .cluster
                .as_deref()
                .filter(|c| !c.is_empty())
                .is_none_or(|c| {
                    d.name.as_deref() == Some(c)
                        || d.server.as_deref().map(|s| s.trim_end_matches('/'))
                            == Some(c.trim_end_matches('/'))
                })
            && eq(&self.sync, s.sync.status.as_str())
            && eq(&self.health, s.health.status.as_str())
            && labels
                .iter()
                .all(|(k, v)| app_labels.get(k).is_some_and(|l| l == v))
            && self.search.as_deref().is_none_or(|q| {
                app.metadata
                    .name
                    .as_deref()
                    .unwrap_or_default()
                    .contains(q.trim())
            })
    }
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
        Err(kube::Error::Api(s)) if s.code == 404 => {
            Err(not_found(api, "application", name, "ferry app list").await)
        }
        Err(e) => Err(e).with_context(|| format!("getting application {name}")),
    }
}

/// What a 404 for `name` means, and what to do: the object is not there (the names that
/// are, the closest first), or the cluster does not serve the kind at all (Ferry's CRDs
/// are not on it: another cluster than the management cluster).
pub(crate) async fn not_found(
    api: &Api<DynamicObject>,
    what: &str,
    name: &str,
    list_command: &str,
) -> anyhow::Error {
    let ns = api.namespace_hint();
    match api.list(&ListParams::default()).await {
        Ok(list) => {
            let names: Vec<&str> = list
                .items
                .iter()
                .filter_map(|o| o.metadata.name.as_deref())
                .collect();
            let guess = closest(name, &names)
                .map(|n| format!(" (did you mean {n}?)"))
                .unwrap_or_default();
            let there = match names.len() {
                0 => format!("there are none in namespace {ns}"),
                n => format!("`{list_command}` lists the {n} there"),
            };
            anyhow::anyhow!("{what} {name} not found in namespace {ns}{guess}; {there}")
        }
        Err(kube::Error::Api(s)) if s.code == 404 => anyhow::anyhow!(crds_missing()),
        Err(e) => anyhow::anyhow!("{what} {name} not found in namespace {ns} (listing: {e})"),
    }
}

/// A management cluster that serves no `ferry.dev` kinds is another cluster.
pub(crate) fn crds_missing() -> String {
    "this cluster does not serve Ferry's kinds (its CRDs are not installed): is \
     --kubeconfig/--context the management cluster? (`ferry controller` installs the CRDs; \
     in the quickstart the context is `management`)"
        .to_owned()
}

/// The name of `names` closest to a mistyped `name`: within two edits per five characters.
fn closest<'a>(name: &str, names: &[&'a str]) -> Option<&'a str> {
    let distance = |a: &str, b: &str| {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut previous = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let substitute = previous + usize::from(ca != *cb);
                previous = row[j + 1];
                row[j + 1] = substitute.min(row[j] + 1).min(previous + 1);
            }
        }
        row[b.len()]
    };
    let whole = names
        .iter()
        .map(|n| (distance(name, n), *n))
        .filter(|(d, n)| *d <= 2.max(n.len() / 5) && *d > 0)
        .min()
        .map(|(_, n)| n);
    // Else the name typed as the start of one (`guestbok` for `guestbook-prod-blue`), when
    // only one starts so.
    whole.or_else(|| {
        let starts: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| *n != name)
            .filter(|n| {
                let head: String = n.chars().take(name.chars().count() + 1).collect();
                distance(name, &head) <= 1 || n.starts_with(name)
            })
            .collect();
        match starts.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    })
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

fn destination(app: &Application) -> String {
    let d = &app.spec.destination;
    d.name
        .clone()
        .or_else(|| d.server.clone())
        .unwrap_or_default()
}

/// Where the applications are read and changed: the management cluster through a kubeconfig,
/// or Ferry's API.
enum Backend {
    Kube(Api<DynamicObject>),
    Remote(Remote),
}

impl Backend {
    /// The application `name`, as the kubeconfig path reads it (from the API: its summary's
    /// labels, `spec`, `status` and requested `operation`).
    async fn get(&self, name: &str) -> anyhow::Result<Application> {
        match self {
            Backend::Kube(api) => get(api, name).await,
            Backend::Remote(r) => match remote_get(r, name).await? {
                Some((app, _)) => Ok(app),
                None => Err(remote_not_found(r, "application", name).await),
            },
        }
    }

    /// `None` once it is gone.
    async fn get_opt(&self, name: &str) -> anyhow::Result<Option<Application>> {
        match self {
            Backend::Kube(api) => match api.get_opt(name).await? {
                Some(o) => parse(&o).map(Some),
                None => Ok(None),
            },
            Backend::Remote(r) => Ok(remote_get(r, name).await?.map(|(a, _)| a)),
        }
    }

    /// Waits a moment for `name` to change (the event stream tells, with a server).
    async fn wait(&self, follow: &mut Option<Follow>, name: &str, kube_poll: Duration) {
        match follow {
            Some(f) => f.wait("Application", name, Duration::from_secs(2)).await,
            None => tokio::time::sleep(kube_poll).await,
        }
    }

    async fn follow(&self) -> Option<Follow> {
        match self {
            Backend::Kube(_) => None,
            Backend::Remote(r) => Some(Follow::open(r).await),
        }
    }
}

/// `GET /applications/{name}` as an [`Application`] and the answer itself; `None` for a 404.
async fn remote_get(r: &Remote, name: &str) -> anyhow::Result<Option<(Application, Value)>> {
    let answer = match r.get(&format!("applications/{}", escape(name))).await {
        Ok(v) => v,
        Err(e) if e.status() == Some(404) => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("getting application {name}")),
    };
    let app = json!({"apiVersion": ferry_api::API_VERSION, "kind": "Application",
        "metadata": {"name": name, "labels": answer["summary"]["labels"]},
        "spec": answer["spec"], "status": answer["status"], "operation": answer["operation"]});
    let app: Application = serde_json::from_value(app).with_context(|| {
        format!("the server's answer for application {name} is not an Application")
    })?;
    Ok(Some((app, answer)))
}

/// A name the server does not know: its message, the closest name it has, and where the list
/// is (as [`not_found`] says it for the kubeconfig).
pub(crate) async fn remote_not_found(r: &Remote, what: &str, name: &str) -> anyhow::Error {
    let (list_path, list_command) = if what == "application" {
        ("applications", "ferry app list")
    } else {
        ("applicationsets", "ferry appset list")
    };
    match r.get(list_path).await {
        Ok(list) => {
            let names: Vec<&str> = list["items"]
                .as_array()
                .map(|items| items.iter().filter_map(|i| i["name"].as_str()).collect())
                .unwrap_or_default();
            let guess = closest(name, &names)
                .map(|n| format!(" (did you mean {n}?)"))
                .unwrap_or_default();
            let there = match names.len() {
                0 => format!("the server at {} has none", r.url()),
                n => format!("`{list_command}` lists the {n} there"),
            };
            anyhow::anyhow!("{what} {name} not found{guess}; {there}")
        }
        Err(e) => anyhow::anyhow!("{what} {name} not found (listing: {e})"),
    }
}

/// The operation a command asks for: the `operation` the kubeconfig path writes, and the API
/// call that asks for the same.
struct Ask {
    operation: Value,
    path: &'static str,
    body: Value,
}

pub async fn run(args: AppArgs) -> anyhow::Result<()> {
    let backend = match crate::remote::resolve(&args.remote, &args.mgmt)? {
        Some(r) => Backend::Remote(r),
        None => Backend::Kube(api(args.mgmt.client().await?, &args.mgmt.namespace)),
    };
    match args.command {
        AppCommand::List { output, filter } => list(&backend, output, &filter).await?,
        AppCommand::Get {
            name,
            output,
            refresh,
            hard_refresh,
        } => {
            let refresh = match (refresh, hard_refresh) {
                (_, true) => Some("hard"),
                (true, false) => Some("normal"),
                _ => None,
            };
            show(&backend, name, output, refresh).await?
        }
        AppCommand::History { name, output } => history(&backend, name, output).await?,
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
            let mut body = json!({"prune": prune, "dryRun": dry_run});
            if let Some(r) = &revision {
                body["revision"] = json!(r);
            }
            if !resources.is_empty() {
                body["resources"] = json!(resources);
            }
            let ask = Ask {
                operation: json!({"sync": {"prune": prune, "dryRun": dry_run, "revision": revision,
                    "resources": resources}}),
                path: "sync",
                body,
            };
            sync(&backend, &name, ask, timeout).await?
        }
        AppCommand::Rollback {
            name,
            id,
            prune,
            timeout,
        } => rollback(&backend, name, id, prune, timeout).await?,
        AppCommand::TerminateOp { name } => terminate(&backend, name).await?,
        AppCommand::Delete {
            name,
            cascade,
            wait,
        } => delete(&backend, name, cascade, wait).await?,
        AppCommand::Diff { name } => {
            let differs = match &backend {
                Backend::Kube(api) => crate::diff_cmd::diff(&args.mgmt, api, &name).await?,
                Backend::Remote(r) => remote_diff(r, &name).await?,
            };
            if differs {
                std::process::exit(1);
            }
        }
    }
    Ok(())
}

/// `ferry app diff` through the API (`GET /applications/{name}/diff`), printed as the
/// kubeconfig path prints it; whether anything differs.
async fn remote_diff(r: &Remote, name: &str) -> anyhow::Result<bool> {
    let diff = match r.get(&format!("applications/{}/diff", escape(name))).await {
        Ok(d) => d,
        Err(e) if e.status() == Some(404) && remote_get(r, name).await?.is_none() => {
            return Err(remote_not_found(r, "application", name).await);
        }
        Err(e) => return Err(e).with_context(|| format!("comparing {name}")),
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    println!(
        "comparing {name} at {} with cluster {}",
        text(&diff["revision"]),
        text(&diff["cluster"])
    );
    let items = diff["items"].as_array().cloned().unwrap_or_default();
    for i in &items {
        let key = ferry_core::ResourceKey::new(
            text(&i["group"]),
            text(&i["kind"]),
            text(&i["namespace"]),
            text(&i["name"]),
        );
        let body = text(&i["diff"]);
        match i["status"].as_str().unwrap_or_default() {
            "OutOfSync" => {
                println!("===== {key}");
                print!("{body}");
                if !body.ends_with('\n') && !body.is_empty() {
                    println!();
                }
            }
            "Shared" => {
                println!("===== {key} (shared: a sync leaves it as it is)");
                println!("{body}");
            }
            "Prune" => println!("===== {} {}/{} ({body})", key.kind, key.namespace, key.name),
            // `Missing` (would be created) and anything a newer server adds.
            _ => println!("===== {key} ({body})"),
        }
    }
    if items.is_empty() {
        println!("no differences");
    }
    Ok(!items.is_empty())
}

/// `ferry app list`: applications with their sync and health.
async fn list(b: &Backend, output: Output, filter: &ListFilter) -> anyhow::Result<()> {
    let labels = filter.labels()?;
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
    match b {
        Backend::Kube(api) => {
            let mut params = ListParams::default();
            if !labels.is_empty() {
                let selector: Vec<String> =
                    labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                params = params.labels(&selector.join(","));
            }
            let mut listed = api.list(&params).await.context("listing applications")?;
            let mut apps = Vec::new();
            let mut kept = Vec::new();
            for o in listed.items.drain(..) {
                let app = parse(&o)?;
                if filter.keeps(&app, &labels) {
                    apps.push(app);
                    kept.push(o);
                }
            }
            if emit_list(&kept, output) {
                return Ok(());
            }
            for app in &apps {
                let s = app.status.clone().unwrap_or_default();
                rows.push(vec![
                    app.metadata.name.clone().unwrap_or_default(),
                    destination(app),
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
        }
        Backend::Remote(r) => {
            let answer = r
                .get(&format!("applications{}", filter.query()))
                .await
                .context("listing applications")?;
            if output != Output::Table {
                emit(&answer, output);
                return Ok(());
            }
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            for a in answer["items"].as_array().into_iter().flatten() {
                let conditions: Vec<String> = a["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| text(&c["type"]))
                    .collect();
                rows.push(vec![
                    text(&a["name"]),
                    text(&a["cluster"]),
                    text(&a["namespace"]),
                    text(&a["sync"]["status"]),
                    text(&a["health"]["status"]),
                    short(a["sync"]["revision"].as_str().unwrap_or_default()).to_owned(),
                    conditions.join(","),
                ]);
            }
        }
    }
    print_rows(&rows);
    Ok(())
}

/// `ferry app get`: one application's source, destination, status, resources, conditions.
async fn show(
    b: &Backend,
    name: String,
    output: Output,
    refresh: Option<&str>,
) -> anyhow::Result<()> {
    if let Some(kind) = refresh {
        match b {
            Backend::Kube(api) => {
                let patch = Patch::Merge(
                    json!({"metadata": {"annotations": {ferry_api::REFRESH_ANNOTATION: kind}}}),
                );
                match api.patch(&name, &PatchParams::default(), &patch).await {
                    Err(kube::Error::Api(s)) if s.code == 404 => {
                        return Err(not_found(api, "application", &name, "ferry app list").await);
                    }
                    other => other.with_context(|| format!("refreshing {name}"))?,
                };
            }
            Backend::Remote(r) => {
                let path = format!("applications/{}/refresh", escape(&name));
                match r.post_json(&path, &json!({"hard": kind == "hard"})).await {
                    Err(e) if e.status() == Some(404) => {
                        return Err(remote_not_found(r, "application", &name).await);
                    }
                    other => other.with_context(|| format!("refreshing {name}"))?,
                };
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let app = match b {
        Backend::Remote(r) if output != Output::Table => {
            let Some((_, answer)) = remote_get(r, &name).await? else {
                return Err(remote_not_found(r, "application", &name).await);
            };
            emit(&answer, output);
            return Ok(());
        }
        _ => b.get(&name).await?,
    };
    if output != Output::Table {
        emit(&serde_json::to_value(&app)?, output);
        return Ok(());
    }
    print_app(&name, &app);
    Ok(())
}

fn print_app(name: &str, app: &Application) {
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
        destination(app),
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
    // The namespace CreateNamespace made is a resource of the last sync (and counted in its
    // message) though not one of Git's: listed too, so that the counts agree.
    let created_namespaces = s
        .operation_state
        .iter()
        .flat_map(|op| op.sync_result.iter().flat_map(|r| &r.resources))
        .filter(|r| {
            r.kind == "Namespace"
                && r.group.is_empty()
                && r.sync_phase == Some(ferry_api::SyncPhase::PreSync)
                && r.hook_type.is_none()
                && !s
                    .resources
                    .iter()
                    .any(|l| l.kind == "Namespace" && l.group.is_empty() && l.name == r.name)
        });
    for r in created_namespaces {
        rows.push(vec![
            "Namespace".into(),
            String::new(),
            r.name.clone(),
            r.status.map(|c| c.as_str().to_owned()).unwrap_or_default(),
            String::new(),
            "created by CreateNamespace".into(),
        ]);
    }
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
}

/// `ferry app history`: the recent syncs.
async fn history(b: &Backend, name: String, output: Output) -> anyhow::Result<()> {
    let app = b.get(&name).await?;
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
    b: &Backend,
    name: String,
    id: Option<i64>,
    prune: bool,
    timeout: u64,
) -> anyhow::Result<()> {
    let app = b.get(&name).await?;
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
    let ask = Ask {
        operation: json!({"sync": {"prune": prune, "revision": entry.revision,
            "source": entry.source}}),
        path: "rollback",
        body: json!({"id": entry.id, "prune": prune}),
    };
    sync(b, &name, ask, timeout).await
}

/// `ferry app terminate-op`: asks the controller to stop the running operation.
async fn terminate(b: &Backend, name: String) -> anyhow::Result<()> {
    let app = b.get(&name).await?;
    let running = app
        .status
        .as_ref()
        .and_then(|s| s.operation_state.as_ref())
        .is_some_and(|o| o.phase == ferry_api::OperationPhase::Running);
    if !running {
        bail!("{name} has no running operation");
    }
    match b {
        Backend::Kube(api) => {
            let mut body = json!({"status": {"operationState": {"phase": "Terminating"}}});
            body["metadata"] = json!({"resourceVersion": app.metadata.resource_version});
            api.patch_status(&name, &PatchParams::default(), &Patch::Merge(body))
                .await
                .with_context(|| format!("terminating the operation of {name}"))?;
        }
        Backend::Remote(r) => {
            r.post_json(
                &format!("applications/{}/terminate", escape(&name)),
                &json!({}),
            )
            .await
            .with_context(|| format!("terminating the operation of {name}"))?;
        }
    }
    println!("termination of the operation of {name} requested");
    Ok(())
}

/// `ferry app delete`: with or without its resources, waiting until it is gone.
async fn delete(b: &Backend, name: String, cascade: bool, wait: bool) -> anyhow::Result<()> {
    let app = b.get(&name).await?;
    let mut follow = b.follow().await;
    match b {
        Backend::Kube(api) => {
            let current = app.metadata.finalizers.clone().unwrap_or_default();
            if let Some(finalizers) = ferry_api::finalizers_for_cascade(&current, cascade) {
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
        }
        Backend::Remote(r) => {
            let path = format!("applications/{}?cascade={cascade}", escape(&name));
            r.call(http::Method::DELETE, &path, None)
                .await
                .with_context(|| format!("deleting {name}"))?;
        }
    }
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
        while b.get_opt(&name).await?.is_some() {
            if start.elapsed() > Duration::from_secs(300) {
                bail!(
                    "application {name} is still there after 5 minutes (is the controller running?)"
                );
            }
            b.wait(&mut follow, &name, Duration::from_millis(250)).await;
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
async fn sync(b: &Backend, name: &str, ask: Ask, timeout: u64) -> anyhow::Result<()> {
    let before = b.get(name).await?;
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
    // With a server, the event stream is opened first, so that no change is missed.
    let mut follow = b.follow().await;
    match b {
        Backend::Kube(api) => {
            let mut operation = ask.operation;
            let user = std::env::var("USER").unwrap_or_else(|_| "ferry-cli".into());
            operation["initiatedBy"] = json!({"username": user});
            api.patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"operation": operation})),
            )
            .await
            .with_context(|| format!("requesting a sync of {name}"))?;
        }
        Backend::Remote(r) => {
            let path = format!("applications/{}/{}", escape(name), ask.path);
            r.post_json(&path, &ask.body)
                .await
                .with_context(|| format!("requesting a {} of {name}", ask.path))?;
        }
    }
    println!("sync of {name} requested; waiting for the controller...");
    let start = Instant::now();
    let mut said = String::new();
    loop {
        if start.elapsed() > Duration::from_secs(timeout) {
            bail!(
                "no result after {timeout} s (is the controller running?); the operation goes on: `ferry app get {name}` follows it"
            );
        }
        b.wait(&mut follow, name, Duration::from_millis(300)).await;
        let app = b.get(name).await?;
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

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn a_mistyped_name_finds_the_one_meant() {
        let names = ["guestbook-prod-blue", "guestbook-prod-green", "web"];
        assert_eq!(
            closest("guestbok-prod-blue", &names),
            Some("guestbook-prod-blue")
        );
        assert_eq!(closest("wbe", &names), Some("web"));
        assert_eq!(closest("guestbok", &names), None, "two start so");
        assert_eq!(
            closest("guestbok", &["guestbook-prod-blue", "web"]),
            Some("guestbook-prod-blue")
        );
        assert_eq!(closest("nothing-like-it", &names), None);
        assert_eq!(
            closest("web", &names),
            None,
            "the same name is no suggestion"
        );
    }
}
