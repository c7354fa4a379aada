//! SSM and Secrets Manager references resolved as the destination's role: values from the
//! right account, one `GetParameters` per ten names, caching within a render, and errors that
//! name the reference, the parameter and the account but never a value.

use aws_sdk_ssm::types::ParameterType;
use ferry_aws::{AwsError, ResolveError, SecretRef, parse_reference};

use crate::support::{PROD, REGION, STG, World, expect, spoke};

fn refs(texts: &[String]) -> Vec<SecretRef> {
    texts
        .iter()
        .map(|t| expect(parse_reference(t), "reference"))
        .collect()
}

/// Puts parameters and a secret into prod.
async fn seed_prod(world: &World, prefix: &str) {
    let aws = world.aws();
    let sdk = expect(
        aws.sdk_config(&spoke(PROD, "seed"), None).await,
        "sdk config",
    );
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let mut params: Vec<(String, String)> = (0..23)
        .map(|i| (format!("{prefix}/batch/p{i}"), format!("value-{i}")))
        .collect();
    params.push((
        format!("{prefix}/doc"),
        r#"{"apiKey":"dd-key-1","port":8126}"#.to_owned(),
    ));
    params.push((format!("{prefix}/tree/a"), "tree-a".to_owned()));
    params.push((format!("{prefix}/tree/b"), "tree-b".to_owned()));
    for (name, value) in params {
        expect(
            ssm.put_parameter()
                .name(name)
                .value(value)
                .r#type(ParameterType::SecureString)
                .send()
                .await,
            "PutParameter",
        );
    }
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    expect(
        sm.create_secret()
            .name(format!("{}/db", prefix.trim_start_matches('/')))
            .secret_string(r#"{"user":"app","password":"pw-prod-1"}"#)
            .send()
            .await,
        "CreateSecret",
    );
}

#[tokio::test]
async fn references_resolve_in_prod_with_one_get_parameters_per_ten_names() {
    let world = World::new();
    let prefix = "/secrets-test/resolve";
    seed_prod(&world, prefix).await;
    let secret = prefix.trim_start_matches('/');

    let mut texts: Vec<String> = (0..23)
        .map(|i| format!("ref+awsssm:/{prefix}/batch/p{i}?region={REGION}"))
        .collect();
    // The same parameters again, written the other way vals accepts (three slashes).
    texts.extend((0..3).map(|i| format!("ref+awsssm://{prefix}/batch/p{i}")));
    texts.push(format!("ref+awsssm:/{prefix}/doc?mode=singleparam#/apiKey"));
    texts.push(format!("ref+awsssm:/{prefix}/doc?mode=singleparam#/port"));
    texts.push(format!("ref+awsssm:/{prefix}/tree#/b"));
    texts.push(format!(
        "ref+awssecrets://{secret}/db?region={REGION}#/password"
    ));
    texts.push(format!("ref+awssecrets://{secret}/db"));
    let refs = refs(&texts);

    let aws = world.aws();
    let mut resolver = aws.resolver(spoke(PROD, "secrets-render"));
    let values = expect(resolver.resolve(&refs).await, "resolve");
    let values: Vec<&str> = values.iter().map(|v| v.expose().as_str()).collect();
    for (i, v) in values[..23].iter().enumerate() {
        assert_eq!(*v, format!("value-{i}"));
    }
    assert_eq!(&values[23..26], ["value-0", "value-1", "value-2"]);
    assert_eq!(values[26], "dd-key-1");
    assert_eq!(values[27], "8126");
    assert_eq!(values[28], "tree-b");
    assert_eq!(values[29], "pw-prod-1");
    assert!(values[30].contains("\"password\""));

    let stats = aws.stats();
    // 24 distinct names (23 + the document): three batches of at most ten.
    assert_eq!(stats.ssm_get_parameters_calls, 3, "{stats:?}");
    assert_eq!(stats.ssm_get_parameters_by_path_calls, 1, "{stats:?}");
    assert_eq!(stats.secrets_get_secret_value_calls, 1, "{stats:?}");
    assert_eq!(stats.sts_assume_role_calls, 1, "{stats:?}");

    // The same render again: everything from the resolver's cache.
    expect(resolver.resolve(&refs).await, "resolve again");
    let after = aws.stats();
    let calls = |s: ferry_aws::AwsStats| {
        (
            s.ssm_get_parameters_calls,
            s.ssm_get_parameters_by_path_calls,
            s.secrets_get_secret_value_calls,
            s.sts_calls(),
        )
    };
    assert_eq!(calls(after), calls(stats));
}

#[tokio::test]
async fn a_parameter_only_in_prod_fails_in_stg_naming_it_and_the_account() {
    let world = World::new();
    let prefix = "/secrets-test/stg";
    seed_prod(&world, prefix).await;
    let secret = prefix.trim_start_matches('/');
    let aws = world.aws();

    let text = format!("ref+awsssm:/{prefix}/batch/p1?region={REGION}");
    let prod = expect(
        aws.resolver(spoke(PROD, "p"))
            .resolve(&refs(std::slice::from_ref(&text)))
            .await,
        "prod",
    );
    assert_eq!(prod[0].expose(), "value-1");

    let err = aws
        .resolver(spoke(STG, "s"))
        .resolve(&refs(std::slice::from_ref(&text)))
        .await
        .err()
        .unwrap_or_else(|| panic!("prod's parameter resolved in stg"));
    match &err {
        ResolveError::Aws {
            reference,
            source:
                AwsError::ParameterNotFound {
                    names,
                    account,
                    region,
                },
        } => {
            assert_eq!(reference, &text[..]);
            assert_eq!(names, &[format!("{prefix}/batch/p1")]);
            assert_eq!(account, STG);
            assert_eq!(region, REGION);
        }
        other => panic!("{other:?}"),
    }
    let shown = err.to_string();
    assert_eq!(
        shown,
        format!("{text}: SSM parameter {prefix}/batch/p1 not found in account {STG} ({REGION})")
    );
    assert!(!shown.contains("value-1"));

    let text = format!("ref+awssecrets://{secret}/db#/password");
    let err = aws
        .resolver(spoke(STG, "s"))
        .resolve(&refs(&[text]))
        .await
        .err()
        .unwrap_or_else(|| panic!("prod's secret resolved in stg"));
    assert!(
        matches!(&err, ResolveError::Aws { source: AwsError::SecretNotFound { account, .. }, .. } if account == STG),
        "{err:?}"
    );
    assert!(!err.to_string().contains("pw-prod"), "{err}");

    // A key the document does not have: named, with no value in the words.
    let text = format!("ref+awsssm:/{prefix}/doc?mode=singleparam#/nope");
    let err = aws
        .resolver(spoke(PROD, "p"))
        .resolve(&refs(&[text]))
        .await
        .err()
        .unwrap_or_else(|| panic!("a missing key resolved"));
    assert!(err.to_string().contains("no key #/nope"), "{err}");
    assert!(!err.to_string().contains("dd-key"), "{err}");
}
