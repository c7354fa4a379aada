//! EKS `DescribeCluster`, called as the cluster's [`AwsAccess`] (so in the role's account):
//! what a cluster Secret that gives only `clusterName` and a region needs to be reached. Not
//! cached: the caller asks again when a cluster may have been replaced (blue/green: same
//! name, new endpoint and CA).

use aws_config::identity::IdentityCache;
use aws_types::region::Region;

use crate::access::AwsAccess;
use crate::error::{AwsError, Class, Failure};
use crate::{Aws, Calls};

/// What EKS says about a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EksCluster {
    pub name: String,
    pub arn: String,
    /// The account the cluster is in (from its ARN).
    pub account: String,
    pub region: String,
    /// `https://….eks.amazonaws.com`; `None` while the cluster is being created.
    pub endpoint: Option<String>,
    /// The cluster CA bundle, base64 of PEM as EKS gives it (`certificateAuthority.data`;
    /// Argo CD's `tlsClientConfig.caData` takes it as is).
    pub certificate_authority_data: Option<String>,
    /// Kubernetes version, `1.31` say.
    pub version: Option<String>,
    pub platform_version: Option<String>,
    /// `ACTIVE`, `CREATING`, `UPDATING`, `DELETING`, `FAILED`, `PENDING`.
    pub status: Option<String>,
}

impl EksCluster {
    /// Whether the cluster can be used (active, with an endpoint).
    pub fn is_active(&self) -> bool {
        self.status.as_deref() == Some("ACTIVE") && self.endpoint.is_some()
    }
}

// === impl Aws ===

impl Aws {
    /// `DescribeCluster` of `cluster_name` in the region of `access`.
    pub async fn describe_cluster(
        &self,
        access: &AwsAccess,
        cluster_name: &str,
    ) -> Result<EksCluster, AwsError> {
        let held = self.held(access, access.chain.hops().len()).await?;
        let sdk = self.base_config(access).await;
        let region = self.region_of(access, &sdk, "EKS DescribeCluster")?;
        let conf = aws_sdk_eks::config::Builder::from(&sdk)
            .region(Region::new(region.clone()))
            .credentials_provider(held.credentials.clone())
            .identity_cache(IdentityCache::no_cache())
            .build();
        let client = aws_sdk_eks::Client::from_conf(conf);
        Calls::bump(&self.inner.calls.describe_cluster);
        let result = client.describe_cluster().name(cluster_name).send().await;
        let out = match result {
            Ok(out) => out,
            Err(e) => {
                let failure = Failure::from_sdk(&e);
                let call = ("EKS", "DescribeCluster", "eks:DescribeCluster");
                let site = self.call_site(access, &sdk, &held, call, &region).await;
                if failure.class() == Class::NotFound {
                    return Err(AwsError::ClusterNotFound {
                        name: cluster_name.to_owned(),
                        account: site.account,
                        region,
                    });
                }
                return Err(self.after_failure(access, site.error(failure)));
            }
        };
        let Some(c) = out.cluster() else {
            return Err(AwsError::Service {
                service: "EKS",
                operation: "DescribeCluster",
                code: "no cluster".to_owned(),
                message: format!(
                    "EKS answered DescribeCluster of {cluster_name} without a cluster"
                ),
            });
        };
        let arn = c.arn().unwrap_or_default().to_owned();
        Ok(EksCluster {
            name: c.name().unwrap_or(cluster_name).to_owned(),
            account: arn.split(':').nth(4).unwrap_or_default().to_owned(),
            arn,
            region,
            endpoint: c.endpoint().map(str::to_owned),
            certificate_authority_data: c
                .certificate_authority()
                .and_then(|ca| ca.data())
                .map(str::to_owned),
            version: c.version().map(str::to_owned),
            platform_version: c.platform_version().map(str::to_owned),
            status: c.status().map(|s| s.as_str().to_owned()),
        })
    }
}
