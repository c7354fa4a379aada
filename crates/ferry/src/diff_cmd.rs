//! `ferry app diff`: renders the application's source here, asks its cluster for a
//! server-side-apply dry run of every object, and prints what a sync would change (Secret
//! values masked). Uses the same code as the controller (`ferry_controller::diff`, which the
//! server's `/diff` answers from too). Secret references are resolved as the controller
//! resolves them (the destination's, the project's or the Application's AWS role, with this
//! command's own base credentials), and every value they resolved to, as well as the value
//! deployed before in their place, is shown as `<ref+…>`.

use anyhow::Context as _;
use ferry_api::Application;
use ferry_controller::diff::{Change, DiffOptions};
use kube::api::{Api, DynamicObject};

use crate::mgmt::MgmtArgs;

/// Prints the diff of application `name`; whether anything differs.
pub async fn diff(mgmt: &MgmtArgs, apps: &Api<DynamicObject>, name: &str) -> anyhow::Result<bool> {
    let o = apps
        .get(name)
        .await
        .with_context(|| format!("getting application {name}"))?;
    let app: Application =
        serde_json::from_value(serde_json::to_value(&o)?).context("not an Application")?;
    let config = mgmt.config().await?;
    let options = DiffOptions {
        git_root: std::env::temp_dir().join("ferry-cli-git"),
        allow_file_urls: false,
    };
    let diff = ferry_controller::diff::app_diff(config, &mgmt.namespace, &app, &options).await?;
    println!(
        "comparing {name} at {} with cluster {}",
        diff.commit, diff.cluster
    );
    for item in &diff.items {
        match &item.change {
            Change::Differs(unified) => {
                println!("===== {}", item.key);
                print!("{unified}");
            }
            Change::Create(why) => {
                println!(
                    "===== {} (would be created; dry run refused: {why})",
                    item.key
                );
            }
            Change::Shared(note) => {
                println!("===== {} (shared: a sync leaves it as it is)", item.key);
                println!("{note}");
            }
            Change::Prune => println!(
                "===== {} {}/{} (in the cluster, no longer in Git: pruned by a sync with prune)",
                item.key.kind, item.key.namespace, item.key.name
            ),
        }
    }
    if diff.items.is_empty() {
        println!("no differences");
    }
    Ok(!diff.items.is_empty())
}
