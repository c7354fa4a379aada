//! EKS clusters authenticate like EKS: tokens presigned for moto's STS, roles of two accounts
//! (prod 222222222222, stg 333333333333), `aws-auth` applied through the API, access entries
//! changed while the cluster runs, RBAC on the mapped groups.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use ferry_emulator::{AccessEntry, ClusterConfig, EksConfig, EksStats, Emulator, StsDialect};
use http_body_util::Full;
use kube::api::{Api, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

use crate::aws::{Creds, Moto, eks_token, get, http};
use crate::support::{ADMIN, client};

const PROD: &str = "222222222222";
const STG: &str = "333333333333";

fn eks_stats(emu: &Emulator, cluster: &str) -> EksStats {
    emu.cluster(cluster)
        .and_then(|c| c.eks_stats())
        .expect("an EKS cluster")
}

async fn create(client: &kube::Client, api_version: &str, kind: &str, plural: &str, obj: Value) {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let ar = ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: api_version.into(),
        kind: kind.into(),
        plural: plural.into(),
    };
    let ns = obj
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), &ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    let obj: DynamicObject = serde_json::from_value(obj).expect("object");
    api.create(&PostParams::default(), &obj)
        .await
        .expect("created");
}

/// `aws-auth` mapping the prod deployer (path dropped) and an auditor without permissions, and
/// RBAC letting the deployers' group read ConfigMaps.
async fn apply_aws_auth_and_rbac(client: &kube::Client) {
    create(
        client,
        "v1",
        "ConfigMap",
        "configmaps",
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "aws-auth", "namespace": "kube-system"},
            "data": {"mapRoles": format!(
"- rolearn: arn:aws:iam::{PROD}:role/deployer
  username: ferry:{{{{SessionName}}}}
  groups:
    - ferry-deployers
- rolearn: arn:aws:iam::{PROD}:role/auditor
  username: auditor
  groups: [auditors]
")}}),
    )
    .await;
    create(
        client,
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        "clusterroles",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "configmap-reader"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]}),
    )
    .await;
    create(
        client,
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "ferry-deployers"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "configmap-reader"},
            "subjects": [{"kind": "Group", "name": "ferry-deployers"}]}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eks_clusters_verify_tokens_with_sts_and_map_roles_by_account() {
    let moto = Moto::start().await;
    let deployer = moto.create_role(PROD, "/ferry/", "deployer").await;
    let auditor = moto.create_role(PROD, "/", "auditor").await;
    let ops = moto.create_role(PROD, "/", "ops").await;
    let stg_deployer = moto.create_role(STG, "/", "deployer").await;
    assert_eq!(deployer, format!("arn:aws:iam::{PROD}:role/ferry/deployer"));

    let eks = |name: &str| {
        EksConfig::new(name, PROD, "us-east-1")
            .sts_endpoint(&moto.url)
            .sts_dialect(StsDialect::Moto)
    };
    let mut prod = ClusterConfig::new("prod", ADMIN).eks(eks("prod-use1"));
    prod.http_port = Some(0);
    // A cluster whose tokens live two seconds, granting the deployer admin by an access entry.
    let mut short = ClusterConfig::new("short", ADMIN).eks(
        eks("short-use1")
            .token_lifetime(Duration::from_secs(2))
            .access_entry(AccessEntry::new(&deployer, None, &["system:masters"])),
    );
    short.http_port = Some(0);
    let emu = Emulator::start_with_control(vec![prod, short], Some(0))
        .await
        .expect("emulator starts");
    let url = |c: &str, path: &str| {
        format!(
            "{}{path}",
            emu.cluster(c).and_then(|c| c.http_url()).expect("http")
        )
    };
    let configmaps = url("prod", "/api/v1/namespaces/default/configmaps");
    let now = SystemTime::now;

    let prod_creds = moto.assume_role(&deployer, "ferry-prod").await;
    let prod_token = eks_token(&moto.url, &prod_creds, "prod-use1", now());

    // Before aws-auth exists the role maps to nothing: 401, as EKS answers.
    let (status, body) = get(&configmaps, &prod_token).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains(r#""reason":"Unauthorized""#), "{body}");
    let refusal = eks_stats(&emu, "prod").last_refusal.unwrap_or_default();
    assert_eq!(
        refusal,
        format!("arn:aws:iam::{PROD}:role/deployer maps to nothing in access entries or aws-auth")
    );
    assert!(!refusal.contains(&prod_creds.access_key_id));

    // aws-auth is an ordinary object: applied through the API, it counts at once.
    let admin = client(&emu.cluster("prod").expect("prod").kubeconfig()).await;
    apply_aws_auth_and_rbac(&admin).await;
    let (status, body) = get(&configmaps, &prod_token).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""kind":"ConfigMapList""#), "{body}");
    // The mapped user is authorized by RBAC: no Secrets for the deployers.
    let (status, body) = get(
        &url("prod", "/api/v1/namespaces/default/secrets"),
        &prod_token,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains(r#"User \"ferry:ferry-prod\" cannot list resource \"secrets\""#),
        "{body}"
    );

    // STS is asked once per token: the identity verified by the first request (whose mapping
    // failed) serves every request after it.
    let before = eks_stats(&emu, "prod");
    for _ in 0..20 {
        assert_eq!(get(&configmaps, &prod_token).await.0, 200);
    }
    let after = eks_stats(&emu, "prod");
    assert_eq!(before.sts_calls, 1, "{before:?}");
    assert_eq!(after.sts_calls, before.sts_calls, "{after:?}");
    assert_eq!(after.cache_hits, before.cache_hits + 20);
    // Requests that arrive together with a new token share one STS call.
    let fresh = eks_token(
        &moto.url,
        &prod_creds,
        "prod-use1",
        now() - Duration::from_secs(5),
    );
    let together = futures::future::join_all((0..10).map(|_| get(&configmaps, &fresh))).await;
    assert!(together.iter().all(|(status, _)| *status == 200));
    assert_eq!(eks_stats(&emu, "prod").sts_calls, after.sts_calls + 1);

    // A role of the other account is not in this cluster's mapping: 401.
    let stg_creds = moto.assume_role(&stg_deployer, "ferry-stg").await;
    let stg_token = eks_token(&moto.url, &stg_creds, "prod-use1", now());
    assert_eq!(get(&configmaps, &stg_token).await.0, 401);
    assert_eq!(
        eks_stats(&emu, "prod").last_refusal.unwrap_or_default(),
        format!("arn:aws:iam::{STG}:role/deployer maps to nothing in access entries or aws-auth")
    );

    // Mapped to a group that RBAC grants nothing: authenticated, then forbidden.
    let auditor_token = eks_token(
        &moto.url,
        &moto.assume_role(&auditor, "audit").await,
        "prod-use1",
        now(),
    );
    let (status, body) = get(&configmaps, &auditor_token).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains(r#"User \"auditor\" cannot list"#), "{body}");

    // Refused before STS is asked: an expired token, one for another STS host.
    let calls = eks_stats(&emu, "prod").sts_calls;
    let old = eks_token(
        &moto.url,
        &prod_creds,
        "prod-use1",
        now() - Duration::from_secs(16 * 60),
    );
    assert_eq!(get(&configmaps, &old).await.0, 401);
    assert!(
        eks_stats(&emu, "prod")
            .last_refusal
            .unwrap_or_default()
            .starts_with("the token expired at "),
    );
    let elsewhere = eks_token(
        "https://sts.eu-west-1.amazonaws.com",
        &prod_creds,
        "prod-use1",
        now(),
    );
    assert_eq!(get(&configmaps, &elsewhere).await.0, 401);
    assert_eq!(
        eks_stats(&emu, "prod").last_refusal.as_deref(),
        Some(
            format!(
                "the presigned URL points at https://sts.eu-west-1.amazonaws.com, not at this \
                 cluster's STS endpoint {}",
                moto.url
            )
            .as_str()
        )
    );
    assert_eq!(eks_stats(&emu, "prod").sts_calls, calls);
    // A token that is not an EKS token at all.
    assert_eq!(get(&configmaps, "k8s-aws-v1.bm90IGEgdXJs").await.0, 401);

    // An access entry added while the cluster runs, through the control endpoint.
    let ops_token = eks_token(
        &moto.url,
        &moto.assume_role(&ops, "on-call").await,
        "prod-use1",
        now(),
    );
    assert_eq!(get(&configmaps, &ops_token).await.0, 401);
    let control = format!("http://{}", emu.control_addr().expect("control endpoint"));
    let change = |body: Value| {
        http::Request::post(format!("{control}/clusters/prod/faults"))
            .header("authorization", format!("Bearer {ADMIN}"))
            .header("content-type", "application/json")
            .body(Full::from(body.to_string()))
            .expect("request")
    };
    let (status, body) = http(change(json!({"addAccessEntry": {
        "principalArn": ops, "username": "ops:{{SessionName}}", "kubernetesGroups": ["ferry-deployers"]}})))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(get(&configmaps, &ops_token).await.0, 200);
    let (status, body) = http(change(json!({"addAccessEntry": {
        "principalArn": ops, "username": "system:ops"}})))
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = http(change(json!({"removeAccessEntry": ops}))).await;
    assert_eq!(status, 200);
    assert_eq!(get(&configmaps, &ops_token).await.0, 401);
    let (status, body) = http(
        http::Request::get(format!("{control}/clusters/prod/stats"))
            .header("authorization", format!("Bearer {ADMIN}"))
            .body(Full::default())
            .expect("request"),
    )
    .await;
    assert_eq!(status, 200);
    let stats: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        stats["eks"]["stsCalls"], 5,
        "prod twice, stg, auditor, ops: {body}"
    );

    // A cluster with a shortened lifetime: a verified, cached token stops working when it ends.
    let short_token = eks_token(&moto.url, &prod_creds, "short-use1", now());
    let short_cms = url("short", "/api/v1/namespaces/default/configmaps");
    assert_eq!(get(&short_cms, &short_token).await.0, 200);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(
        get(&short_cms, &short_token).await.0,
        401,
        "cached, but expired"
    );
    assert!(
        eks_stats(&emu, "short")
            .last_refusal
            .unwrap_or_default()
            .starts_with("the token expired at ")
    );
    // Static bearer tokens still work on an EKS cluster.
    assert_eq!(get(&configmaps, ADMIN).await.0, 200);
}

/// What a stub STS saw: the headers of each request.
type Seen = Arc<Mutex<Vec<http::HeaderMap>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_sts_refuses_is_refused_and_never_shown() {
    let seen: Seen = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let sts = format!("http://{}", listener.local_addr().expect("addr"));
    let recorder = seen.clone();
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move |headers: http::HeaderMap| {
            let recorder = recorder.clone();
            async move {
                if let Ok(mut s) = recorder.lock() {
                    s.push(headers);
                }
                (
                    http::StatusCode::FORBIDDEN,
                    "<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>\
                     <Message>The request signature we calculated does not match</Message></Error></ErrorResponse>",
                )
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let mut config = ClusterConfig::new("prod", ADMIN)
        .eks(EksConfig::new("prod-use1", PROD, "us-east-1").sts_endpoint(&sts));
    config.http_port = Some(0);
    let emu = Emulator::start(vec![config])
        .await
        .expect("emulator starts");
    let cms = format!(
        "{}/api/v1/namespaces/default/configmaps",
        emu.cluster("prod")
            .and_then(|c| c.http_url())
            .expect("http")
    );
    let creds = Creds {
        access_key_id: "ASIAFORGED0000000000".into(),
        secret_access_key: "forged".into(),
        session_token: Some("forged-session".into()),
    };
    let token = eks_token(&sts, &creds, "prod-use1", SystemTime::now());
    let (status, body) = get(&cms, &token).await;
    assert_eq!(status, 401, "{body}");
    let stats = eks_stats(&emu, "prod");
    let refusal = stats.last_refusal.clone().unwrap_or_default();
    assert_eq!(
        refusal,
        format!("STS ({sts}) did not verify the token: 403 SignatureDoesNotMatch")
    );
    // A refusal is not cached: the next request asks again.
    assert_eq!(get(&cms, &token).await.0, 401);
    assert_eq!(eks_stats(&emu, "prod").sts_calls, 2);

    // The verifier sent what aws-iam-authenticator sends, and no Authorization header.
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2);
    let h = &seen[0];
    assert_eq!(
        h.get("x-k8s-aws-id").and_then(|v| v.to_str().ok()),
        Some("prod-use1")
    );
    assert_eq!(
        h.get("accept").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    assert!(h.get("authorization").is_none());
    // Nothing of the credential is in what a user sees.
    for secret in ["forged-session", "ASIAFORGED", &token[12..40]] {
        assert!(
            !refusal.contains(secret) && !body.contains(secret),
            "{secret}"
        );
    }
}
