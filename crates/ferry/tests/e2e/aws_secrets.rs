//! Secret references through the controller (issue 11, the secrets): the same manifests,
//! holding `ref+awsssm://` references, are delivered to EKS clusters of two accounts. An SSM
//! parameter that exists only in prod's account (222222222222) resolves for the prod
//! destination, read as prod's deployer role; for stg (333333333333) the render fails, the
//! Application names the reference and the account, and nothing is applied, until it moves
//! to a project whose renders read secrets as prod's role. The value is never shown: not in the controller's log, the Applications, `ferry app get` or
//! `ferry app diff`.

use ferry_cluster::api_resource as ar;
use kube::api::{Api, DynamicObject};
use serde_json::{Value, json};

use crate::aws::*;
use crate::world::*;

/// The parameter, in prod's account only.
const PARAMETER: &str = "/e2e/db/password";
/// Its value: distinctive enough that any occurrence of it is a leak.
const VALUE: &str = "pr0d-S3cret-7Qk2Vx9LmT4a";

fn reference() -> String {
    format!("ref+awsssm:/{PARAMETER}?region={REGION}")
}

/// The ConfigMap `settings`: `value` is exactly a reference, `url` embeds one.
fn settings_with_references() -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  \
         value: \"{r}\"\n  url: \"postgres://app:{r}+@db:5432/app\"\n",
        r = reference()
    )
}

/// One call of SSM's JSON protocol to moto, acting in `account`.
async fn ssm(w: &AwsWorld, account: &str, action: &str, body: Value) -> (u16, String) {
    let headers =
        format!("Content-Type: application/x-amz-json-1.1\r\nX-Amz-Target: AmazonSSM.{action}\r\n");
    w.moto
        .request(
            Some(("ssm", account)),
            &headers,
            "POST",
            "/",
            &body.to_string(),
        )
        .await
}

/// When an application of `path` to `cluster`'s namespace `demo` is created, automated with
/// prune but without self-heal (a hand edit stays, for `ferry app diff` to show).
async fn app_without_self_heal(w: &AwsWorld, name: &str, path: &str, cluster: &str) {
    let app = json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
        "metadata": {"name": name},
        "spec": {"project": "default",
            "source": {"repoURL": w.repo_url, "targetRevision": "main", "path": path},
            "destination": {"name": cluster, "namespace": "demo"},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": false},
                "syncOptions": ["CreateNamespace=true"]}}});
    apply_object(
        &w.mgmt,
        &ar("ferry.dev", "v1alpha1", "Application", "applications"),
        Some("ferry"),
        app,
    )
    .await;
}

/// `ferry app diff NAME` with the controller's AWS configuration (it renders, and so reads
/// references, itself): whether it succeeded, and its output. Exit status 1 says that
/// something differs.
async fn app_diff(w: &AwsWorld, name: &str) -> (Option<i32>, String) {
    let mut cmd = w.ferry_with_aws();
    cmd.args(["--log", "warn", "app", "--context", "management"])
        .arg("--kubeconfig")
        .arg(&w.kubeconfig)
        .args(["diff", name]);
    let out = tokio::process::Command::from(cmd)
        .output()
        .await
        .expect("ferry app diff runs");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_reference_resolves_only_in_the_account_that_holds_it() {
    // Given moto, the management cluster and the EKS clusters prod and stg, the same
    // manifests (a ConfigMap whose values are references) for each, and stg found by name.
    let mut w = AwsWorld::new(&[
        ("prod/settings.yaml", settings_with_references()),
        ("stg/settings.yaml", settings_with_references()),
    ])
    .await;
    w.create_eks_cluster("stg", STG).await;
    // And a SecureString parameter in prod's account, and none of that name in stg's.
    let (status, answer) = ssm(
        &w,
        PROD,
        "PutParameter",
        json!({"Name": PARAMETER, "Value": VALUE, "Type": "SecureString"}),
    )
    .await;
    assert_eq!(status, 200, "PutParameter: {answer}");
    let (status, answer) = ssm(&w, STG, "GetParameter", json!({"Name": PARAMETER})).await;
    assert!(
        status == 400 && answer.contains("ParameterNotFound"),
        "not in stg's account: {status} {answer}"
    );
    // And the controller, with web-identity credentials in the management account.
    w.start_controller();

    // When both clusters are registered, each with its own account's role, and an
    // application is made for each.
    w.register_prod(&deployer(PROD)).await;
    w.register_stg(&deployer(STG)).await;
    let stg_writes = w.requests("stg").await["writes"].clone();
    app_without_self_heal(&w, "prod-app", "prod", "prod").await;
    app_without_self_heal(&w, "stg-app", "stg", "stg").await;

    // Then prod-app syncs, and prod's live ConfigMap holds the value, read in prod's account:
    // where it is the whole value and where it is embedded in a longer string.
    w.expect_app("prod-app", 60, "Synced and Healthy", synced_healthy)
        .await;
    let live = get_object(&w.prod, "demo", &cm_res(), "settings").await;
    let data = live.as_ref().map(|v| v["data"].clone()).unwrap_or_default();
    assert_eq!(data["value"], VALUE, "{live:?}");
    assert_eq!(
        data["url"],
        format!("postgres://app:{VALUE}@db:5432/app"),
        "{live:?}"
    );

    // And stg-app, whose destination reads stg's account, reports which reference failed
    // and in which account, and applies nothing in stg.
    let s = w
        .expect_app("stg-app", 60, "a ComparisonError", |s| {
            condition(s, "ComparisonError").is_some()
        })
        .await;
    let error = condition(&s, "ComparisonError").unwrap_or_default();
    assert!(
        error.contains(&reference())
            && error.contains(&format!("{PARAMETER} not found"))
            && error.contains(&format!("account {STG}")),
        "{error}"
    );

    // When someone edits prod's ConfigMap by hand (no self-heal: the edit stays)...
    w.hand_edit(&w.prod).await;
    w.expect_app("prod-app", 30, "OutOfSync", |s| {
        s["sync"]["status"] == "OutOfSync"
    })
    .await;
    assert_eq!(w.settings(&w.prod).await.as_deref(), Some("hand-edited"));
    // ...then `ferry app diff` shows that it differs, with the reference as written in the
    // value's place on both sides (what is live in a reference's place is hidden too: it may
    // be a value read before), the embedded reference likewise.
    let (code, prod_diff) = app_diff(&w, "prod-app").await;
    assert_eq!(code, Some(1), "something differs: {prod_diff}");
    let r = reference();
    assert!(
        prod_diff.contains(&format!("-  value: <previous value of {r}>"))
            && prod_diff.contains(&format!("+  value: <{r}>"))
            && prod_diff.contains(&format!("  url: postgres://app:<{r}>@db:5432/app")),
        "{prod_diff}"
    );
    // And for stg it fails as the controller does, naming the reference and the account.
    let (code, stg_diff) = app_diff(&w, "stg-app").await;
    assert_ne!(code, Some(0), "{stg_diff}");
    assert!(
        stg_diff.contains(&reference()) && stg_diff.contains(&format!("account {STG}")),
        "{stg_diff}"
    );

    // And nothing was ever applied in stg: no namespace, no ConfigMap, no write, while
    // stg-app still reports the error.
    let s = w
        .expect_app("stg-app", 10, "still a ComparisonError", |s| {
            condition(s, "ComparisonError").is_some()
        })
        .await;
    assert_ne!(s["sync"]["status"], "Synced", "{s:#}");
    assert_eq!(w.settings(&w.stg).await, None);
    let namespaces: Api<DynamicObject> =
        Api::all_with(w.stg.clone(), &ar("", "v1", "Namespace", "namespaces"));
    let namespace = namespaces.get_opt("demo").await.expect("namespaces of stg");
    assert!(namespace.is_none(), "{namespace:?}");
    assert_eq!(w.requests("stg").await["writes"], stg_writes);

    // When stg-app moves to a project whose renders read secrets as prod's deployer role
    // (AppProject spec.aws), the reference resolves in prod's account and stg-app syncs.
    let projects = ar("ferry.dev", "v1alpha1", "AppProject", "appprojects");
    let project = json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "AppProject",
        "metadata": {"name": "shared-secrets"},
        "spec": {"sourceRepos": ["*"], "destinations": [{"name": "*", "namespace": "*"}],
            "aws": {"roleARN": deployer(PROD), "region": REGION}}});
    apply_object(&w.mgmt, &projects, Some("ferry"), project).await;
    let apps = ar("ferry.dev", "v1alpha1", "Application", "applications");
    let api: Api<DynamicObject> = Api::namespaced_with(w.mgmt.clone(), "ferry", &apps);
    api.patch(
        "stg-app",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"spec": {"project": "shared-secrets"}})),
    )
    .await
    .expect("stg-app moves to project shared-secrets");
    w.expect_app("stg-app", 60, "Synced and Healthy", synced_healthy)
        .await;
    assert_eq!(w.settings(&w.stg).await.as_deref(), Some(VALUE));

    // No value leaks: not in the controller's log, the Applications (statuses and all),
    // `ferry app get` or `ferry app diff` of either app.
    let mut seen = w.controller_log();
    seen.push_str(&w.applications().await);
    for app in ["prod-app", "stg-app"] {
        seen.push_str(&w.ferry("app", &["get", app]).await);
    }
    seen.push_str(&prod_diff);
    seen.push_str(&stg_diff);
    assert!(
        seen.contains("prod-app") && seen.contains(&reference()),
        "the log, statuses and outputs were read: {seen}"
    );
    if let Some(at) = seen.find(VALUE) {
        let from = seen.floor_char_boundary(at.saturating_sub(300));
        let to = seen.ceil_char_boundary(at + VALUE.len() + 100);
        panic!("{VALUE} leaked:\n{}", &seen[from..to.min(seen.len())]);
    }
}
