//! Across AWS accounts when AWS says no (issue 11): a trust policy that does not trust the
//! controller, an `sts:ExternalId` that does not match, STS throttling and credentials STS
//! calls expired. Each is said where a user looks (the application's conditions for a
//! cluster that cannot be registered, `ferry cluster get` for one whose renewals fail),
//! nothing deployed is touched, the other account keeps delivering, and each recovers by
//! itself once fixed.
//!
//! moto plays STS with trust policies enforced and faults on demand (see
//! `ferry_emulator::moto::MotoOptions`): the throttling and expiry answers are AWS's own
//! error codes, as the SDK classifies them. Each fault meets a registration (a Secret changed
//! to a new external id makes a new `AssumeRole`); a renewal that fails the same way keeps
//! the credentials held, which `ferry_aws`'s cache tests show.

use std::time::Duration;

use serde_json::{Value, json};

use crate::aws::*;
use crate::world::*;

/// Any condition of an application status whose message contains every one of `words`.
fn condition_with(s: &Value, words: &[&str]) -> Option<String> {
    s["conditions"]
        .as_array()?
        .iter()
        .filter_map(|c| c["message"].as_str())
        .find(|m| words.iter().all(|w| m.contains(w)))
        .map(str::to_owned)
}

impl AwsWorld {
    /// `ferry cluster get NAME -o json`.
    async fn cluster_info(&self, name: &str) -> Value {
        let out = self.ferry("cluster", &["get", name, "-o", "json"]).await;
        let json = out.find('{').map(|at| &out[at..]).unwrap_or("null");
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    /// Then, within `secs`, `ferry cluster get NAME` shows what `ok` accepts.
    async fn expect_cluster(
        &self,
        name: &str,
        secs: u64,
        what: &str,
        ok: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let info = self.cluster_info(name).await;
            if ok(&info) {
                return info;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "cluster {name}: not {what} within {secs}s: {info:#}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Then, within a minute, prod-app warns that prod's Secret cannot be used, with a
    /// message containing `word`, and is still Synced and Healthy on the last good config.
    async fn expect_secret_warning(&self, word: &str) -> String {
        let s = self
            .expect_app("prod-app", 60, "a ClusterSecretWarning", |s| {
                condition(s, "ClusterSecretWarning").is_some_and(|m| m.contains(word))
            })
            .await;
        assert!(synced_healthy(&s), "{s:#}");
        condition(&s, "ClusterSecretWarning")
            .unwrap_or_default()
            .to_owned()
    }

    /// Then, within a minute and a half (the registration is retried after 10 s, then 20,
    /// 40), prod-app has no ClusterSecretWarning and is Synced and Healthy.
    async fn expect_no_secret_warning(&self) {
        self.expect_app("prod-app", 90, "no ClusterSecretWarning", |s| {
            condition(s, "ClusterSecretWarning").is_none() && synced_healthy(s)
        })
        .await;
    }

    /// The resourceVersion of `demo/settings` in prod, to show it was not touched.
    async fn prod_settings_version(&self) -> Value {
        get_object(&self.prod, "demo", &cm_res(), "settings")
            .await
            .map(|v| v["metadata"]["resourceVersion"].clone())
            .unwrap_or(Value::Null)
    }
}

fn last_error(info: &Value) -> &str {
    info["status"]["lastError"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_roles_throttling_and_expired_credentials_are_said_and_recover_without_touching_what_is_deployed()
 {
    // Given prod and stg, where stg's deployer role trusts another account only (the
    // controller's role is not in its trust policy).
    let mut w = AwsWorld::new(&[
        ("prod/settings.yaml", cm("settings", "prod-1")),
        ("stg/settings.yaml", cm("settings", "stg-1")),
    ])
    .await;
    w.create_eks_cluster("stg", STG).await;
    w.set_deployer_trust(
        STG,
        &trust_policy(&["arn:aws:iam::999999999999:root"], None),
    )
    .await;
    w.start_controller();
    w.register_prod(&deployer(PROD)).await;
    w.app("prod-app", "prod", "prod").await;
    w.expect_app("prod-app", 60, "Synced and Healthy", synced_healthy)
        .await;

    // When stg is registered by name with `ferry cluster add eks`, its AssumeRole is
    // refused: stg-app says which role, which identity and what to check, and `ferry
    // cluster get stg` says the same.
    let added = w
        .ferry(
            "cluster",
            &[
                "add",
                "eks",
                "stg",
                "--cluster-name",
                &eks_name("stg"),
                "--role-arn",
                &deployer(STG),
                "--region",
                REGION,
                "--label",
                "env=stg",
            ],
        )
        .await;
    assert!(added.contains("Secret ferry/cluster-stg"), "{added}");
    w.app("stg-app", "stg", "stg").await;
    let denied_words = [
        "cluster stg",
        "assumed-role/ferry-controller",
        "may not assume role arn:aws:iam::333333333333:role/ferry-deployer",
        "not authorized to perform: sts:AssumeRole",
        "trust policy of arn:aws:iam::333333333333:role/ferry-deployer",
    ];
    let s = w
        .expect_app("stg-app", 60, "a condition naming the denied role", |s| {
            condition_with(s, &denied_words).is_some()
        })
        .await;
    assert_ne!(s["sync"]["status"], "Synced", "{s:#}");
    let info = w
        .expect_cluster("stg", 30, "the denial", |i| {
            last_error(i).contains("may not assume role")
        })
        .await;
    assert_eq!(info["status"]["registered"], false, "{info:#}");
    // And prod, in the other account, keeps delivering meanwhile.
    commit_files(
        &w.repo,
        &[("prod/settings.yaml", Some(cm("settings", "prod-2")))],
        "prod-2",
    );
    w.expect_settings(&w.prod, 30, "prod-2").await;

    // When the trust policy is fixed in IAM, stg registers by itself and syncs.
    w.set_deployer_trust(STG, &trust_policy(&[MGMT], None))
        .await;
    w.expect_app("stg-app", 90, "Synced and Healthy", synced_healthy)
        .await;
    assert_eq!(w.settings(&w.stg).await.as_deref(), Some("stg-1"));
    let info = w
        .expect_cluster("stg", 30, "reachable, in stg's account", |i| {
            i["status"]["reachable"] == true
        })
        .await;
    assert_eq!(info["status"]["eks"]["account"], STG, "{info:#}");
    assert_eq!(
        info["status"]["eks"]["clusterName"],
        eks_name("stg"),
        "{info:#}"
    );

    // When prod's trust policy starts asking for an external id and the Secret is changed to
    // send it while STS throttles every AssumeRole of prod's role, the new config cannot be
    // used yet: prod-app warns that STS is throttling (after the SDK's own retries) and that
    // it is retried, prod keeps its last good config, and delivery to prod goes on; stg,
    // in the other account, is not held up.
    w.set_deployer_trust(PROD, &trust_policy(&[MGMT], Some("ferry-prod-7")))
        .await;
    w.moto
        .fault(json!({"action": "AssumeRole", "roleArn": deployer(PROD),
            "status": 400, "code": "Throttling", "message": "Rate exceeded"}))
        .await;
    w.register_prod_with(&deployer(PROD), Some("ferry-prod-7"))
        .await;
    let warning = w.expect_secret_warning("throttled").await;
    assert!(
        warning.contains("STS AssumeRole in eu-west-1 was throttled (after retries)")
            && warning.contains("Rate exceeded")
            && warning.contains("retried")
            && warning.contains("last good config of cluster prod"),
        "{warning}"
    );
    commit_files(
        &w.repo,
        &[
            ("prod/settings.yaml", Some(cm("settings", "prod-3"))),
            ("stg/settings.yaml", Some(cm("settings", "stg-2"))),
        ],
        "prod-3, stg-2",
    );
    w.expect_settings(&w.prod, 30, "prod-3").await;
    w.expect_settings(&w.stg, 30, "stg-2").await;
    // And once STS answers again, prod registers with the new config by itself.
    let faults = w.moto.clear_faults().await;
    assert!(
        faults["faults"][0]["hits"].as_u64() > Some(0),
        "STS was asked while it throttled: {faults}"
    );
    w.expect_no_secret_warning().await;

    // When the external id is rotated (the trust policy takes the old and the new one) and
    // STS calls the controller's own credentials expired meanwhile (as when a web-identity
    // session runs out unrenewed), the warning says so; once that passes, it is gone.
    w.set_deployer_trust(
        PROD,
        &trust_policy(&[MGMT], Some("ferry-prod-7"))
            .replace("\"ferry-prod-7\"", "[\"ferry-prod-7\",\"ferry-prod-8\"]"),
    )
    .await;
    w.moto
        .fault(json!({"action": "AssumeRole", "roleArn": deployer(PROD),
            "status": 400, "code": "ExpiredToken",
            "message": "The security token included in the request is expired"}))
        .await;
    w.register_prod_with(&deployer(PROD), Some("ferry-prod-8"))
        .await;
    let warning = w.expect_secret_warning("ExpiredToken").await;
    assert!(
        warning.contains("expired or were revoked") && warning.contains("last good config"),
        "{warning}"
    );
    w.moto.clear_faults().await;
    w.expect_no_secret_warning().await;

    // When the Secret sends an external id the trust policy does not expect, the warning
    // names what to check (never the id itself), prod keeps its last good config and what
    // is deployed is untouched.
    w.set_deployer_trust(PROD, &trust_policy(&[MGMT], Some("ferry-prod-8")))
        .await;
    let deployed = w.prod_settings_version().await;
    w.register_prod_with(&deployer(PROD), Some("ferry-prod-9"))
        .await;
    let warning = w.expect_secret_warning("may not assume role").await;
    assert!(
        warning.contains("may not assume role arn:aws:iam::222222222222:role/ferry-deployer")
            && warning.contains("sts:ExternalId condition expects that one")
            && warning.contains("last good config"),
        "{warning}"
    );
    assert!(
        !warning.contains("ferry-prod-9"),
        "the external id is not shown: {warning}"
    );
    assert_eq!(w.prod_settings_version().await, deployed);
    // And with the right external id, the warning goes and Git reaches prod again.
    w.register_prod_with(&deployer(PROD), Some("ferry-prod-8"))
        .await;
    w.expect_no_secret_warning().await;
    commit_files(
        &w.repo,
        &[("prod/settings.yaml", Some(cm("settings", "prod-4")))],
        "prod-4",
    );
    w.expect_settings(&w.prod, 30, "prod-4").await;

    // Through all of it, nothing was deleted in either cluster, and no credential was
    // logged or stored.
    for cluster in ["prod", "stg"] {
        let requests = w.requests(cluster).await;
        assert_eq!(
            requests["deletes"].as_u64().unwrap_or_default(),
            0,
            "{cluster}: {requests}"
        );
    }
    let mut seen = w.controller_log();
    seen.push_str(&w.applications().await);
    seen.push_str(&w.ferry("cluster", &["list", "-o", "json"]).await);
    for secret in w.session_secrets().await {
        assert!(!seen.contains(&secret), "a session credential leaked");
    }
}
