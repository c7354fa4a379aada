//! Whose access an application's references are read with (pure), and renders without
//! references or without access (no AWS call).

use std::collections::BTreeMap;

use super::*;

fn app(annotations: &[(&str, &str)]) -> ferry_api::Application {
    let mut app: ferry_api::Application = serde_json::from_value(serde_json::json!({
        "apiVersion": "ferry.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "web", "namespace": "ferry"},
        "spec": {
            "source": {"repoURL": "https://git.example/r.git"},
            "destination": {"name": "prod"},
        },
    }))
    .expect("an Application");
    app.metadata.annotations = Some(
        annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    );
    app
}

fn eks() -> AwsAccess {
    let arn = RoleArn::parse("arn:aws:iam::222222222222:role/ferry-deployer").expect("an ARN");
    AwsAccess::with_chain(RoleChain::single(RoleHop::new(
        arn,
        SessionName::for_cluster("prod"),
    )))
    .region("eu-west-1")
}

fn access(aws: &AppAws) -> &AwsAccess {
    match &aws.access {
        SecretAccess::Access(a) => a,
        SecretAccess::Unavailable(why) => panic!("no access: {why}"),
    }
}

#[test]
fn the_destination_clusters_role_reads_references_unless_the_application_names_one() {
    let dest = eks();
    let plain = AppAws::for_app(&app(&[]), None, Some(&dest), "prod");
    assert_eq!(access(&plain), &dest);
    assert!(!plain.plugin_credentials);

    let named = AppAws::for_app(
        &app(&[
            (
                AWS_ROLE_ARN_ANNOTATION,
                "arn:aws:iam::444444444444:role/web-secrets",
            ),
            (AWS_EXTERNAL_ID_ANNOTATION, "xid"),
            (PLUGIN_AWS_CREDENTIALS_ANNOTATION, "true"),
        ]),
        None,
        Some(&dest),
        "prod",
    );
    let a = access(&named);
    assert_eq!(a.account(), Some("444444444444"));
    assert_eq!(a.chain.hops().len(), 1, "assumed from the base credentials");
    assert_eq!(a.chain.hops()[0].external_id.as_deref(), Some("xid"));
    assert_eq!(a.chain.hops()[0].session_name.as_str(), "ferry-web");
    assert_eq!(
        a.region.as_deref(),
        Some("eu-west-1"),
        "the destination's region"
    );
    assert!(named.plugin_credentials);

    let region = AppAws::for_app(
        &app(&[(AWS_REGION_ANNOTATION, "us-east-1")]),
        None,
        Some(&dest),
        "prod",
    );
    assert_eq!(access(&region).region.as_deref(), Some("us-east-1"));
    assert_eq!(access(&region).chain, dest.chain);
}

#[test]
fn without_an_eks_destination_or_a_role_there_is_no_access_and_it_says_why() {
    let none = AppAws::for_app(&app(&[]), None, None, "in-cluster");
    let SecretAccess::Unavailable(why) = none.access else {
        panic!("the controller's own credentials must not be used");
    };
    assert!(
        why.contains("in-cluster") && why.contains(AWS_ROLE_ARN_ANNOTATION),
        "{why}"
    );
    let bad = AppAws::for_app(
        &app(&[(AWS_ROLE_ARN_ANNOTATION, "arn:aws:iam::1:role/x")]),
        None,
        None,
        "c",
    );
    let SecretAccess::Unavailable(why) = bad.access else {
        panic!("an invalid ARN is no access");
    };
    assert!(why.contains("12 digits"), "{why}");
    // Only "true" opts in.
    assert!(
        !AppAws::for_app(
            &app(&[(PLUGIN_AWS_CREDENTIALS_ANNOTATION, "yes")]),
            None,
            None,
            "c"
        )
        .plugin_credentials
    );
}

fn rendered(objects: Vec<serde_json::Value>) -> Arc<Rendered> {
    Arc::new(Rendered::new(
        objects
            .into_iter()
            .map(|object| RenderedObject {
                file: "x.yaml".into(),
                document: 1,
                item: None,
                object,
            })
            .collect(),
    ))
}

#[tokio::test]
async fn renders_without_references_pass_through_and_references_without_access_fail_by_name() {
    let values = SecretValues::new(Duration::from_secs(60));
    let plain = rendered(vec![
        serde_json::json!({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}),
    ]);
    let (out, redactions) = resolve(
        None,
        &values,
        plain.clone(),
        &SecretAccess::default(),
        false,
    )
    .await
    .expect("nothing to resolve");
    assert!(Arc::ptr_eq(&out, &plain));
    assert!(redactions.is_empty());

    let with_ref = rendered(vec![
        serde_json::json!({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "ref+awsssm://db/password"}}),
    ]);
    let none = AppAws::for_app(&app(&[]), None, None, "in-cluster");
    let err = resolve(None, &values, with_ref.clone(), &none.access, false)
        .await
        .expect_err("no access");
    let msg = err.to_string();
    assert!(
        msg.contains("ref+awsssm://db/password") && msg.contains("in-cluster"),
        "{msg}"
    );
    let err = resolve(None, &values, with_ref, &SecretAccess::Access(eks()), false)
        .await
        .expect_err("no adapter");
    assert!(err.to_string().contains("no AWS adapter"), "{err}");
}

fn project(role: &str) -> ferry_api::ProjectAws {
    ferry_api::ProjectAws {
        role_arn: role.into(),
        external_id: Some("proj-xid".into()),
        region: Some("ap-northeast-1".into()),
    }
}

#[test]
fn a_projects_role_wins_and_an_application_may_name_only_that_one() {
    let dest = eks();
    let role = "arn:aws:iam::555555555555:role/platform-secrets";
    let mut web = app(&[]);
    web.spec.project = "platform".into();
    let aws = AppAws::for_app(&web, Some(&project(role)), Some(&dest), "prod");
    let a = access(&aws);
    let hop = &a.chain.hops()[0];
    assert_eq!(hop.role_arn.as_str(), role);
    assert_eq!(hop.external_id.as_deref(), Some("proj-xid"));
    assert_eq!(hop.session_name.as_str(), "ferry-project-platform");
    assert_eq!(a.region.as_deref(), Some("ap-northeast-1"));

    // The same role in the annotation is fine; another one is refused, naming both.
    let mut same = app(&[(AWS_ROLE_ARN_ANNOTATION, role)]);
    same.spec.project = "platform".into();
    let aws = AppAws::for_app(&same, Some(&project(role)), Some(&dest), "prod");
    assert_eq!(access(&aws).chain.hops()[0].role_arn.as_str(), role);
    let mut other = app(&[(
        AWS_ROLE_ARN_ANNOTATION,
        "arn:aws:iam::444444444444:role/web-secrets",
    )]);
    other.spec.project = "platform".into();
    let aws = AppAws::for_app(&other, Some(&project(role)), Some(&dest), "prod");
    let SecretAccess::Unavailable(why) = &aws.access else {
        panic!("another role than the project's was used");
    };
    assert!(
        why.contains("web-secrets") && why.contains("project platform") && why.contains(role),
        "{why}"
    );

    // A project role that is not an ARN says so.
    let aws = AppAws::for_app(&web, Some(&project("deployer")), Some(&dest), "prod");
    let SecretAccess::Unavailable(why) = &aws.access else {
        panic!("an invalid role was used");
    };
    assert!(why.contains("spec.aws.roleARN"), "{why}");
}
