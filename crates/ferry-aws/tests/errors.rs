//! Errors in words: a denied `AssumeRole` (moto enforcing IAM), throttling and expired
//! credentials (a server answering with AWS's own error documents: moto produces neither),
//! and an endpoint that is not there.

use ferry_aws::{Aws, AwsAccess, AwsError, ExternalIdHint, RoleChain, RoleHop, SessionName};

use crate::support::http::{self, Fault};
use crate::support::{MGMT, Moto, PROD, REGION, World, arn, expect, moto, spoke};

const THROTTLED: &str = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>"#;
const EXPIRED: &str = r#"{"__type":"ExpiredTokenException","message":"The security token included in the request is expired"}"#;

#[tokio::test]
async fn a_throttled_assume_role_is_retried_then_reported_as_retryable() {
    let world = World::new();
    let sts = Fault::start(400, "text/xml", THROTTLED).await;
    let mut options = world.options();
    // Every client at the fault server (the web identity exchange keeps the profile's).
    options.endpoint_url = Some(sts.url.clone());
    options.max_attempts = 2;
    let aws = Aws::new(options);

    let err = aws
        .credentials(&spoke(PROD, "throttled"))
        .await
        .err()
        .unwrap_or_else(|| panic!("throttled AssumeRole succeeded"));
    assert!(
        matches!(&err, AwsError::Throttled { service: "STS", operation: "AssumeRole", region, .. } if region == REGION),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(err.to_string().contains("Rate exceeded"), "{err}");
    // The SDK's standard retry tried again before giving up.
    assert_eq!(sts.requests(), 2);
}

#[tokio::test]
async fn expired_credentials_are_retryable_and_renewed_on_the_next_attempt() {
    let ssm = Fault::start(400, "application/x-amz-json-1.1", EXPIRED).await;
    let world = World::with_services(moto::shared(), &[("ssm", &ssm.url)]);
    let aws = world.aws();
    let access = spoke(PROD, "expired");

    let names = vec!["/any".to_owned()];
    let err = aws
        .get_parameters(&access, None, &names)
        .await
        .err()
        .unwrap_or_else(|| panic!("expired credentials accepted"));
    match &err {
        AwsError::ExpiredToken {
            service,
            identity,
            code,
            ..
        } => {
            assert_eq!(*service, "SSM");
            assert_eq!(code, "ExpiredTokenException");
            assert!(
                identity.contains(":assumed-role/ferry-deployer/ferry-expired"),
                "{identity}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_retryable());
    assert_eq!(aws.stats().sts_assume_role_calls, 1);
    // The refused credentials were dropped: the next attempt assumes the role again.
    let _ = aws.get_parameters(&access, None, &names).await;
    assert_eq!(aws.stats().sts_assume_role_calls, 2);
}

#[tokio::test]
async fn an_endpoint_that_is_not_there_is_named() {
    let world = World::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| format!("http://{a}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut options = world.options();
    options.endpoint_url = Some(closed.clone());
    let aws = Aws::new(options);
    let err = aws
        .credentials(&spoke(PROD, "unreachable"))
        .await
        .err()
        .unwrap_or_else(|| panic!("reached a closed port"));
    match &err {
        AwsError::Unreachable {
            service, endpoint, ..
        } => {
            assert_eq!(*service, "STS");
            assert_eq!(endpoint, &closed);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_retryable());
}

const MOTO_IAM: &str = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20250101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0";

/// An IAM call in the management account, before moto enforces anything.
async fn iam(moto: &Moto, params: &[(&str, &str)]) {
    let body: Vec<String> = params
        .iter()
        .chain(&[("Version", "2010-05-08")])
        .map(|(k, v)| {
            format!(
                "{k}={}",
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect();
    let answer = http::request(
        "POST",
        &format!("{}/", moto.url()),
        &[
            ("x-moto-account-id", MGMT),
            ("Authorization", MOTO_IAM),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &body.join("&"),
    )
    .await;
    assert_eq!(answer.status, 200, "{params:?}: {}", answer.body);
}

#[tokio::test]
async fn a_denied_assume_role_names_the_role_the_identity_and_what_to_check() {
    // A server of its own: this test makes moto enforce IAM policies and signatures.
    let moto = moto::start();
    let world = World::on(&moto);
    let anyone = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
    let with_external_id = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"right-id"}}}]}"#;
    let may_assume_deployers = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111111111111:role/deployer-*"}]}"#;
    iam(
        &moto,
        &[
            ("Action", "CreateRole"),
            ("RoleName", "ferry-controller"),
            ("AssumeRolePolicyDocument", anyone),
        ],
    )
    .await;
    iam(
        &moto,
        &[
            ("Action", "PutRolePolicy"),
            ("RoleName", "ferry-controller"),
            ("PolicyName", "assume"),
            ("PolicyDocument", may_assume_deployers),
        ],
    )
    .await;
    iam(
        &moto,
        &[
            ("Action", "CreateRole"),
            ("RoleName", "deployer-extid"),
            ("AssumeRolePolicyDocument", with_external_id),
        ],
    )
    .await;
    iam(
        &moto,
        &[
            ("Action", "CreateRole"),
            ("RoleName", "other"),
            ("AssumeRolePolicyDocument", anyone),
        ],
    )
    .await;

    let aws = world.aws();
    // The web identity exchange is unsigned, which moto cannot check: made before it checks.
    expect(
        aws.credentials(&AwsAccess::base()).await,
        "base credentials",
    );
    let on = http::request(
        "POST",
        &format!("{}/moto-api/reset-auth", moto.url()),
        &[],
        "0",
    )
    .await;
    assert_eq!(on.status, 200, "{}", on.body);

    let controller = format!("arn:aws:sts::{MGMT}:assumed-role/ferry-controller/ferry-controller");
    let hop = |role: &str| RoleHop::new(arn(MGMT, role), SessionName::sanitized("ferry-denied"));

    // The trust policy wants another external ID.
    let access = AwsAccess::with_chain(RoleChain::single(
        hop("deployer-extid").external_id("wrong-id"),
    ));
    let err = aws
        .credentials(&access)
        .await
        .err()
        .unwrap_or_else(|| panic!("wrong external ID accepted"));
    match &err {
        AwsError::AssumeRoleDenied {
            role_arn,
            identity,
            external_id,
            ..
        } => {
            assert_eq!(
                role_arn,
                &format!("arn:aws:iam::{MGMT}:role/deployer-extid")
            );
            assert_eq!(identity, &controller);
            assert_eq!(*external_id, ExternalIdHint::Sent);
        }
        other => panic!("{other:?}"),
    }
    let words = err.to_string();
    assert!(
        words.contains("trust policy of arn:aws:iam::111111111111:role/deployer-extid"),
        "{words}"
    );
    assert!(words.contains("sts:ExternalId"), "{words}");
    assert!(!words.contains("wrong-id"), "{words}");
    assert!(!err.is_retryable());

    // The controller's own policy does not allow this role.
    let access = AwsAccess::with_chain(RoleChain::single(hop("other")));
    let err = aws
        .credentials(&access)
        .await
        .err()
        .unwrap_or_else(|| panic!("other role assumed"));
    assert!(
        matches!(&err, AwsError::AssumeRoleDenied { external_id: ExternalIdHint::NotSent, identity, .. } if identity == &controller),
        "{err:?}"
    );

    // The right external ID: assumed, and STS (checking signatures now) names the role.
    let access = AwsAccess::with_chain(RoleChain::single(
        hop("deployer-extid").external_id("right-id"),
    ));
    let who = expect(
        aws.caller_identity(&access).await,
        "assumed with the right external ID",
    );
    assert_eq!(
        who.arn,
        format!("arn:aws:sts::{MGMT}:assumed-role/deployer-extid/ferry-denied")
    );
}
