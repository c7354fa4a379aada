//! EKS tokens: their form, moto's STS answering the presigned URL, caching and renewal as
//! configured.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferry_aws::{Aws, Lifetimes};

use crate::support::http;
use crate::support::{PROD, REGION, World, expect, spoke};

fn decode(token: &str) -> String {
    let encoded = token
        .strip_prefix("k8s-aws-v1.")
        .unwrap_or_else(|| panic!("no k8s-aws-v1. prefix"));
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded)
        .unwrap_or_else(|e| panic!("not base64url without padding: {e}"));
    String::from_utf8(bytes).unwrap_or_else(|e| panic!("{e}"))
}

fn param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

#[tokio::test]
async fn a_token_is_a_presigned_get_caller_identity_on_the_configured_sts() {
    let world = World::new();
    let aws = world.aws();
    let access = spoke(PROD, "tokens-blue");
    let token = expect(aws.eks_token(&access, "prod-blue").await, "token");
    let url = decode(token.token.expose());

    // The STS endpoint the standard configuration names (here a profile's endpoint_url).
    assert!(url.starts_with(&format!("{}/?", world.moto_url)), "{url}");
    assert_eq!(param(&url, "Action").as_deref(), Some("GetCallerIdentity"));
    assert_eq!(param(&url, "Version").as_deref(), Some("2011-06-15"));
    assert_eq!(param(&url, "X-Amz-Expires").as_deref(), Some("60"));
    let signed = param(&url, "X-Amz-SignedHeaders").unwrap_or_default();
    assert!(signed.split(';').any(|h| h == "x-k8s-aws-id"), "{signed}");
    // Signed by the spoke's session, for STS in the region.
    let creds = expect(aws.credentials(&access).await, "credentials");
    let credential = param(&url, "X-Amz-Credential").unwrap_or_default();
    assert!(credential.starts_with(creds.access_key_id.expose().as_str()));
    assert!(
        credential.ends_with(&format!("/{REGION}/sts/aws4_request")),
        "{credential}"
    );
    assert_eq!(
        param(&url, "X-Amz-Security-Token").as_ref(),
        creds.session_token.as_ref().map(|t| t.expose())
    );
    // Valid 15 minutes after signing, or until its credentials expire if sooner.
    let life = token
        .expires_at
        .duration_since(token.signed_at)
        .unwrap_or_default();
    assert!(
        life <= Duration::from_secs(15 * 60) && life > Duration::from_secs(14 * 60),
        "{life:?}"
    );

    // What EKS does with it: GET it with the cluster's name in x-k8s-aws-id. STS names the
    // spoke's session (moto as patched in support/moto.rs: it checks no presigned signature).
    let answer = http::request("GET", &url, &[("x-k8s-aws-id", "prod-blue")], "").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer.body.contains(&format!(
            "<Arn>arn:aws:sts::{PROD}:assumed-role/ferry-deployer/ferry-tokens-blue</Arn>"
        )),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn tokens_are_cached_per_cluster_and_renewed_as_configured() {
    let world = World::new();
    let aws = world.aws();
    let access = spoke(PROD, "tokens-cache");

    let first = expect(aws.eks_token(&access, "prod-a").await, "token");
    let again = expect(aws.eks_token(&access, "prod-a").await, "token");
    assert_eq!(first.token, again.token);
    let other = expect(aws.eks_token(&access, "prod-b").await, "token");
    assert_ne!(first.token, other.token);
    assert_eq!(aws.stats().tokens_signed, 2);
    assert_eq!(aws.stats().token_hits, 1);

    // A server refused it: the next one is signed anew.
    aws.forget_eks_token(&access, "prod-a");
    expect(aws.eks_token(&access, "prod-a").await, "token");
    assert_eq!(aws.stats().tokens_signed, 3);

    // Renewal is a setting: renewed on every use here, from the same cached credentials.
    let mut options = world.options();
    options.lifetimes = Lifetimes {
        token_renew_after: Duration::ZERO,
        ..options.lifetimes
    };
    let eager = Aws::new(options);
    for _ in 0..3 {
        expect(eager.eks_token(&access, "prod-a").await, "token");
    }
    let stats = eager.stats();
    assert_eq!(stats.tokens_signed, 3);
    assert_eq!(stats.token_hits, 0);
    assert_eq!(stats.sts_assume_role_calls, 1);
}
