//! Role chains: web identity in management, then one or two `AssumeRole` hops into prod and
//! stg; the cache makes one STS call per hop for any number of callers.

use ferry_aws::AwsAccess;

use crate::support::{MGMT, PROD, STG, World, expect, spoke, through_hub};

#[tokio::test]
async fn a_chain_ends_in_the_spoke_role_and_sts_says_so() {
    let world = World::new();
    let aws = world.aws();

    let base = expect(
        aws.caller_identity(&AwsAccess::base()).await,
        "base identity",
    );
    assert_eq!(
        base.arn,
        format!("arn:aws:sts::{MGMT}:assumed-role/ferry-controller/ferry-controller")
    );

    let prod = expect(
        aws.caller_identity(&spoke(PROD, "chains-prod")).await,
        "prod identity",
    );
    assert_eq!(
        prod.arn,
        format!("arn:aws:sts::{PROD}:assumed-role/ferry-deployer/ferry-chains-prod")
    );
    assert_eq!(prod.account, PROD);

    let stg = expect(
        aws.caller_identity(&through_hub(STG, "chains-stg")).await,
        "stg identity through the hub",
    );
    assert_eq!(
        stg.arn,
        format!("arn:aws:sts::{STG}:assumed-role/ferry-deployer/ferry-chains-stg")
    );

    let stats = aws.stats();
    // Web identity once; prod: one hop; stg: hub + deployer.
    assert_eq!(stats.base_credential_fetches, 1);
    assert_eq!(stats.sts_assume_role_calls, 3);
    assert_eq!(stats.sts_get_caller_identity_calls, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_callers_make_one_sts_call_per_hop_and_share_the_hub() {
    let world = World::new();
    let aws = world.aws();
    let prod = through_hub(PROD, "cache-prod");
    let stg = through_hub(STG, "cache-stg");

    let mut tasks = Vec::new();
    for i in 0..64 {
        let (aws, access) = (
            aws.clone(),
            if i % 2 == 0 {
                prod.clone()
            } else {
                stg.clone()
            },
        );
        tasks.push(tokio::spawn(async move { aws.credentials(&access).await }));
    }
    let mut keys = std::collections::BTreeSet::new();
    for t in tasks {
        let creds = expect(expect(t.await, "task"), "credentials");
        keys.insert(creds.access_key_id.expose().clone());
    }
    // Two chains, two sets of credentials.
    assert_eq!(keys.len(), 2);
    let stats = aws.stats();
    assert_eq!(stats.base_credential_fetches, 1, "{stats:?}");
    // The hub once for both chains, then prod's and stg's deployer.
    assert_eq!(stats.sts_assume_role_calls, 3, "{stats:?}");
    assert_eq!(stats.credential_misses, 4, "{stats:?}");

    // Within the credentials' life, nothing more is asked of STS.
    for _ in 0..100 {
        expect(aws.credentials(&prod).await, "cached credentials");
        expect(aws.eks_token(&stg, "cache-stg").await, "token");
    }
    let after = aws.stats();
    assert_eq!(after.sts_calls(), stats.sts_calls(), "{after:?}");
    // A hundred lookups, and one by the token's signing.
    assert_eq!(
        after.credential_hits,
        stats.credential_hits + 101,
        "{after:?}"
    );
    // The token was signed once; its credentials are not even looked up while it is fresh.
    assert_eq!(
        (after.tokens_signed, after.token_hits),
        (1, 99),
        "{after:?}"
    );
}

#[tokio::test]
async fn handed_out_credentials_act_in_the_spoke_account() {
    let world = World::new();
    let aws = world.aws();
    let access = spoke(PROD, "env-prod");
    let creds = expect(aws.credentials(&access).await, "credentials");
    assert!(creds.session_token.is_some());
    assert!(creds.expires_at.is_some());
    let env = creds.to_env("eu-west-1");
    let names: Vec<&str> = env.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        names,
        [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
            "AWS_DEFAULT_REGION"
        ]
    );
    // The same credentials through an SDK client of our own: STS sees the spoke role.
    let sdk = expect(aws.sdk_config(&access, None).await, "sdk config");
    let sts = aws_sdk_sts::Client::new(&sdk);
    let who = expect(sts.get_caller_identity().send().await, "GetCallerIdentity");
    assert_eq!(who.account(), Some(PROD));
}

#[tokio::test]
async fn a_named_profile_is_a_base_of_its_own() {
    let world = World::new();
    let aws = world.aws();
    let ops = AwsAccess::base().profile("ops");
    let who = expect(aws.caller_identity(&ops).await, "ops identity");
    assert_eq!(
        who.arn,
        format!("arn:aws:sts::{MGMT}:assumed-role/ferry-ops/ferry-ops")
    );

    let mut prod = spoke(PROD, "profile-prod");
    prod.profile = Some("ops".to_owned());
    let via_ops = expect(aws.credentials(&prod).await, "prod via ops");
    let via_default = expect(
        aws.credentials(&spoke(PROD, "profile-prod")).await,
        "prod via default",
    );
    // Same role, another base: other credentials, each cached under its own key.
    assert_ne!(via_ops.access_key_id, via_default.access_key_id);
    assert_eq!(aws.stats().base_credential_fetches, 2);
}
