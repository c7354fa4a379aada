//! Command-line wiring: the one place that reads flags and environment variables (each flag's
//! environment variable is listed in `--help`), sets up logging, and starts the subcommands.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::app_cmd::AppArgs;
use crate::bench::BenchArgs;
use crate::controller_cmd::ControllerArgs;
use crate::emulator_cmd::EmulatorArgs;
use crate::quickstart::QuickstartArgs;

/// Ferry delivers what is in Git to many Kubernetes clusters across many AWS accounts.
#[derive(Debug, Parser)]
#[command(
    name = "ferry",
    version,
    about = "Ferry delivers what is in Git to many Kubernetes clusters across many AWS accounts.",
    long_about = None,
    after_help = "Start with `ferry quickstart`: a local demo that prints what to try next.\n\
                  The management cluster's flags go before or after the subcommand, as with \
                  kubectl:\n  ferry --kubeconfig K --context C app list\n  \
                  ferry app --kubeconfig K --context C list"
)]
pub struct Cli {
    /// Log filter, e.g. `info`, `ferry=debug`.
    #[arg(long, env = "FERRY_LOG", default_value = "info", global = true)]
    pub log: String,

    #[command(flatten)]
    pub mgmt: GlobalMgmt,

    #[command(flatten)]
    pub remote: crate::remote::TopRemote,

    #[command(subcommand)]
    pub command: Command,
}

/// The management cluster's flags, also accepted before the subcommand (`ferry --kubeconfig
/// K app list`). They share their ids with the subcommands' own flags (`MgmtArgs`, and the
/// `--kubeconfig` of `quickstart`, `emulator` and `bench`), so clap hands a value given here
/// to the subcommand; they have no environment variable or default of their own, so that only
/// what is typed here moves down (a `KUBECONFIG` in the environment never becomes the file
/// `ferry quickstart` writes).
#[derive(Debug, Args)]
#[command(next_help_heading = "Management cluster (before or after the subcommand)")]
pub struct GlobalMgmt {
    /// Kubeconfig of the management cluster (default: `KUBECONFIG`, `~/.kube/config`, or
    /// in-cluster). For `quickstart` and `emulator`: where they write theirs.
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Context in the kubeconfig (app, appset, cluster, controller).
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// Ferry's namespace on the management cluster (app, appset, cluster, controller;
    /// default `ferry`).
    #[arg(long, global = true)]
    pub namespace: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a Kubernetes API emulator: one or more local clusters for tests, demos and benchmarks.
    Emulator(EmulatorArgs),
    /// Start a local demo: emulated clusters, a Git server with an example application, and
    /// the controller delivering it; writes a kubeconfig to look inside.
    Quickstart(QuickstartArgs),
    /// Run the application and ApplicationSet controllers.
    Controller(ControllerArgs),
    /// Serve the HTTP API and the web UI for the whole fleet at one URL.
    Server(crate::server_cmd::ServerArgs),
    /// Run the controllers and the server in one process (the API, the web UI and the push
    /// webhooks on one listener).
    All(crate::server_cmd::AllArgs),
    /// Work with applications: list, get, diff, sync, history, delete.
    App(AppArgs),
    /// Work with ApplicationSets: list, get, and preview what a set would create, update
    /// and delete.
    Appset(crate::appset_cmd::AppSetArgs),
    /// Work with clusters: list, get, and add an EKS cluster reached by role.
    Cluster(crate::cluster_cmd::ClusterArgs),
    /// Measure Ferry against emulated clusters, with baselines from the same run.
    Bench(BenchArgs),
    /// Sign in to a Ferry server (with a browser, the admin password or a token) and store
    /// the session, so that `app`, `appset` and `cluster` talk to its API.
    Login(crate::login_cmd::LoginArgs),
    /// Forget the token `ferry login` stored.
    Logout(crate::login_cmd::LogoutArgs),
    /// Operator tools: `can-i` (answer from the RBAC policy), `hash-password`.
    Admin(crate::admin_cmd::AdminArgs),
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Command::Emulator(_) => "emulator",
            Command::Quickstart(_) => "quickstart",
            Command::Controller(_) => "controller",
            Command::Server(_) => "server",
            Command::All(_) => "all",
            Command::App(_) => "app",
            Command::Appset(_) => "appset",
            Command::Cluster(_) => "cluster",
            Command::Bench(_) => "bench",
            Command::Login(_) => "login",
            Command::Logout(_) => "logout",
            Command::Admin(_) => "admin",
        }
    }
}

/// A management-cluster flag given to a command that has no management cluster (the
/// demo and the emulator make their own clusters, `bench` names its contexts itself):
/// said rather than ignored.
fn misplaced_flag(cli: &Cli) -> Option<String> {
    let talks_to_management = matches!(
        cli.command,
        Command::Controller(_)
            | Command::Server(_)
            | Command::All(_)
            | Command::App(_)
            | Command::Appset(_)
            | Command::Cluster(_)
            | Command::Admin(_)
    );
    if talks_to_management {
        return None;
    }
    let flag = if cli.mgmt.context.is_some() {
        "--context"
    } else if cli.mgmt.namespace.is_some() {
        "--namespace"
    } else {
        return None;
    };
    let cmd = cli.command.name();
    let instead = match cmd {
        "bench" => "; `ferry bench` takes `--management-context` and `--target-contexts`",
        "quickstart" | "emulator" => {
            "; it makes its own clusters (their contexts are in the kubeconfig it writes)"
        }
        _ => "",
    };
    Some(format!(
        "{flag} names the management cluster of `ferry app`, `appset`, `cluster` and \
         `controller`, and `ferry {cmd}` has none{instead}"
    ))
}

/// Whether to colour what goes to `stream`: only on a terminal, and never when `NO_COLOR`
/// is set to anything but the empty string (<https://no-color.org>).
pub fn colour(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Where the logs go: standard error, or (for `ferry quickstart` without `--verbose`) a file
/// whose name the quickstart prints, so that its screen stays its own.
fn log_file(command: &Command) -> Option<PathBuf> {
    match command {
        Command::Quickstart(q) if !q.verbose => Some(q.log_file()),
        _ => None,
    }
}

fn init_logging(cli: &Cli) -> Result<(), String> {
    let mut filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // kube-rs logs every failed request as `failed with error client error (Connect)`,
    // naming no cluster or application; Ferry reports those errors itself, with both and the
    // cause in words. Asking for `kube_client` logs by name brings them back.
    if !cli.log.contains("kube_client") {
        for quiet in ["kube_client=error", "kube_client::client::builder=off"] {
            if let Ok(directive) = quiet.parse() {
                filter = filter.add_directive(directive);
            }
        }
    }
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match log_file(&cli.command) {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            let file = std::fs::File::create(&path).map_err(|e| {
                format!(
                    "cannot write the log file {}: {e} (with --verbose the logs go to the \
                     terminal instead)",
                    path.display()
                )
            })?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init();
        }
        None => builder
            .with_ansi(colour(std::io::stderr().is_terminal()))
            .with_writer(std::io::stderr)
            .init(),
    }
    Ok(())
}

pub fn main() -> ExitCode {
    let mut cli = Cli::parse();
    if let Err(message) = hand_down_remote(&mut cli) {
        eprintln!("error: {message}");
        return ExitCode::from(2);
    }
    if let Some(message) = misplaced_flag(&cli) {
        eprintln!("error: {message}");
        return ExitCode::from(2);
    }
    if let Err(message) = init_logging(&cli) {
        eprintln!("error: {message}");
        return ExitCode::FAILURE;
    }
    // Blocking work (rendering, generating ApplicationSets, file IO) is bounded by the
    // controllers' workers (8 and 2 by default); a small pool keeps a burst of it from
    // leaving idle threads, each with allocator memory of its own, behind: with 32 threads
    // the peak resident memory of 1,000 applications was 106-109 MiB, with 12 it is 79-86.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(12)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mgmt = management_args(&cli.command);
    let result = runtime.block_on(async {
        match cli.command {
            Command::Emulator(args) => crate::emulator_cmd::run(args).await,
            Command::Quickstart(args) => crate::quickstart::run(args).await,
            Command::Controller(args) => crate::controller_cmd::run(args).await,
            Command::Server(args) => crate::server_cmd::run_server(args).await,
            Command::All(args) => crate::server_cmd::run_all(args).await,
            Command::App(args) => crate::app_cmd::run(args).await,
            Command::Appset(args) => crate::appset_cmd::run(args).await,
            Command::Cluster(args) => crate::cluster_cmd::run(args).await,
            Command::Bench(args) => crate::bench::run(args).await,
            Command::Login(args) => crate::login_cmd::login(args).await,
            Command::Logout(args) => crate::login_cmd::logout(args).await,
            Command::Admin(args) => crate::admin_cmd::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match runtime.block_on(explain_failure(&e, mgmt.as_ref())) {
                Some(words) => eprintln!("error: {e}: {words}"),
                None => eprintln!("error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

/// The server's flags typed before the subcommand (`ferry --server URL app list`) go to the
/// subcommands that talk to a server; any other command refuses them.
fn hand_down_remote(cli: &mut Cli) -> Result<(), String> {
    let top = &cli.remote;
    match &mut cli.command {
        Command::App(a) => top.hand_down(&mut a.remote),
        Command::Appset(a) => top.hand_down(&mut a.remote),
        Command::Cluster(a) => top.hand_down(&mut a.remote),
        other if top.is_given() => {
            return Err(format!(
                "--server, --token, --server-ca and --insecure-skip-tls-verify go with `ferry \
                 app`, `appset` and `cluster`, and `ferry {}` takes none of them",
                other.name()
            ));
        }
        _ => {}
    }
    Ok(())
}

fn management_args(command: &Command) -> Option<crate::mgmt::MgmtArgs> {
    match command {
        Command::App(a) => Some(a.mgmt.clone()),
        Command::Appset(a) => Some(a.mgmt.clone()),
        Command::Cluster(a) => Some(a.mgmt.clone()),
        Command::Admin(a) => Some(a.mgmt.clone()),
        Command::Controller(a) => Some(a.mgmt.clone()),
        Command::Server(a) => Some(a.mgmt.clone()),
        Command::All(a) => Some(a.controller.mgmt.clone()),
        _ => None,
    }
}

/// A failed request to the management cluster in words, with what to do next: a cluster
/// that does not answer (named by its URL), or one that serves no `ferry.dev` kinds (not
/// the management cluster). `None` for everything else, which says enough itself.
async fn explain_failure(
    e: &anyhow::Error,
    mgmt: Option<&crate::mgmt::MgmtArgs>,
) -> Option<String> {
    let mgmt = mgmt?;
    let kube_error = e.chain().find_map(|c| c.downcast_ref::<kube::Error>())?;
    match kube_error {
        // A path the server does not serve: its CRDs are not there (a real server answers
        // `404 page not found` for an unknown group, `the server could not find the
        // requested resource` for an unknown resource of a known one).
        kube::Error::Api(s)
            if s.code == 404
                && (s.message.contains("could not find the requested resource")
                    || s.message.contains("page not found")) =>
        {
            Some(crate::app_cmd::crds_missing())
        }
        kube::Error::Api(_) => None,
        other => {
            let url = mgmt.config().await.ok()?.cluster_url;
            Some(format!(
                "the management cluster at {url} does not answer: {}. Is it running? \
                 (`ferry quickstart`'s clusters stop when it stops: start it again; or point \
                 --kubeconfig/--context at another cluster)",
                ferry_cluster::cause(other)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    fn parse(args: &[&str]) -> Cli {
        match Cli::try_parse_from(std::iter::once("ferry").chain(args.iter().copied())) {
            Ok(cli) => cli,
            Err(e) => panic!("ferry {args:?}: {e}"),
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    fn app_mgmt(cli: &Cli) -> &crate::mgmt::MgmtArgs {
        match &cli.command {
            Command::App(a) => &a.mgmt,
            other => panic!("not app: {other:?}"),
        }
    }

    #[test]
    fn management_flags_work_before_and_after_the_subcommand() {
        for args in [
            &[
                "--kubeconfig",
                "k.yaml",
                "--context",
                "c",
                "--namespace",
                "n",
                "app",
                "list",
            ][..],
            &[
                "app",
                "--kubeconfig",
                "k.yaml",
                "--context",
                "c",
                "--namespace",
                "n",
                "list",
            ],
            &[
                "app",
                "list",
                "--kubeconfig",
                "k.yaml",
                "--context",
                "c",
                "--namespace",
                "n",
            ],
            &[
                "--kubeconfig",
                "k.yaml",
                "app",
                "--context",
                "c",
                "list",
                "--namespace",
                "n",
            ],
        ] {
            let cli = parse(args);
            let m = app_mgmt(&cli);
            assert_eq!(m.kubeconfig.as_deref(), Some("k.yaml".as_ref()), "{args:?}");
            assert_eq!(m.context.as_deref(), Some("c"), "{args:?}");
            assert_eq!(m.namespace, "n", "{args:?}");
        }
        let cli = parse(&["app", "list"]);
        assert_eq!(app_mgmt(&cli).namespace, ferry_api::NAMESPACE);
    }

    #[test]
    fn the_quickstart_kubeconfig_is_only_what_was_typed() {
        let Command::Quickstart(q) = parse(&["quickstart"]).command else {
            panic!("quickstart")
        };
        assert_eq!(q.kubeconfig, PathBuf::from("ferry-quickstart.kubeconfig"));
        for args in [
            &["--kubeconfig", "q.yaml", "quickstart"][..],
            &["quickstart", "--kubeconfig", "q.yaml"],
        ] {
            let Command::Quickstart(q) = parse(args).command else {
                panic!("quickstart")
            };
            assert_eq!(q.kubeconfig, PathBuf::from("q.yaml"), "{args:?}");
        }
    }

    #[test]
    fn a_context_for_a_command_without_a_management_cluster_is_refused() {
        let cli = parse(&["--context", "management", "quickstart"]);
        let message = misplaced_flag(&cli).expect("refused");
        assert!(
            message.contains("--context") && message.contains("quickstart"),
            "{message}"
        );
        assert!(misplaced_flag(&parse(&["--context", "c", "app", "list"])).is_none());
    }
}
