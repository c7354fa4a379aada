//! EKS `DescribeCluster` in the role's account: what a cluster Secret with only a name and
//! a region is completed with.

use aws_sdk_eks::types::VpcConfigRequest;
use ferry_aws::AwsError;

use crate::support::{PROD, REGION, STG, World, expect, spoke};

#[tokio::test]
async fn a_cluster_is_described_in_the_account_of_the_role() {
    let world = World::new();
    let aws = world.aws();
    let prod = spoke(PROD, "clusters-blue");

    // The cluster exists in prod (created there with prod's credentials).
    let sdk = expect(aws.sdk_config(&prod, None).await, "sdk config");
    let eks = aws_sdk_eks::Client::new(&sdk);
    expect(
        eks.create_cluster()
            .name("prod-blue")
            .version("1.31")
            .role_arn(format!("arn:aws:iam::{PROD}:role/eks-cluster"))
            .resources_vpc_config(VpcConfigRequest::builder().build())
            .send()
            .await,
        "CreateCluster",
    );

    let cluster = expect(
        aws.describe_cluster(&prod, "prod-blue").await,
        "DescribeCluster",
    );
    assert_eq!(cluster.name, "prod-blue");
    assert_eq!(cluster.account, PROD);
    assert_eq!(cluster.region, REGION);
    assert_eq!(
        cluster.arn,
        format!("arn:aws:eks:{REGION}:{PROD}:cluster/prod-blue")
    );
    assert_eq!(cluster.version.as_deref(), Some("1.31"));
    assert!(cluster.is_active(), "{cluster:?}");
    assert!(
        cluster
            .endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("https://")),
        "{cluster:?}"
    );
    assert!(cluster.certificate_authority_data.is_some(), "{cluster:?}");
    assert_eq!(aws.stats().eks_describe_cluster_calls, 1);

    // Not in stg: the error names the cluster, the account and the region.
    let err = aws
        .describe_cluster(&spoke(STG, "clusters-blue"), "prod-blue")
        .await
        .err()
        .unwrap_or_else(|| panic!("prod's cluster found in stg"));
    assert!(
        matches!(&err, AwsError::ClusterNotFound { account, .. } if account == STG),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("EKS cluster prod-blue not found in account {STG} ({REGION})")
    );
}
