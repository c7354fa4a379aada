//! Cluster Secrets in Argo CD's declarative format: label
//! `argocd.argoproj.io/secret-type: cluster`, keys `name`, `server`, `namespaces`,
//! `clusterResources`, and `config` (JSON with `bearerToken`, `tlsClientConfig`,
//! `awsAuthConfig`).

use base64::Engine as _;
use ferry_core::Sensitive;
use serde::Deserialize;
use serde_json::Value;

/// A registered cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSpec {
    pub name: String,
    pub server: String,
    /// Namespaces Ferry may manage (empty: all).
    pub namespaces: Vec<String>,
    /// Whether cluster-scoped resources may be managed (default true when no namespaces set).
    pub cluster_resources: bool,
    pub auth: ClusterAuth,
    pub tls: TlsConfig,
    /// The Secret's labels and annotations (for ApplicationSet cluster generators).
    pub labels: Vec<(String, String)>,
    /// Where the registration came from (`ferry/cluster-prod-blue`).
    pub source: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ClusterAuth {
    Bearer(Sensitive<String>),
    /// `awsAuthConfig`: an EKS token for the cluster, made as the role chain says.
    Aws(AwsClusterAuth),
    /// The management cluster's own credentials.
    InCluster,
    None,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsConfig {
    pub insecure: bool,
    /// PEM of the CA (decoded from `caData`).
    pub ca_pem: Option<Vec<u8>>,
    pub server_name: Option<String>,
    pub cert_pem: Option<Vec<u8>>,
    pub key_pem: Option<Sensitive<Vec<u8>>>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ClusterSecretError {
    #[error("cluster Secret {secret}: missing key {key:?}")]
    Missing { secret: String, key: &'static str },
    #[error("cluster Secret {secret}: key {key:?} is not valid base64 UTF-8")]
    Encoding { secret: String, key: &'static str },
    /// `reason` names the field and what was expected, never the value found: `config`
    /// holds tokens and keys.
    #[error("cluster Secret {secret}: key \"config\": {reason}")]
    Config { secret: String, reason: String },
    #[error("cluster Secret {secret}: tlsClientConfig.{field} is not valid base64")]
    TlsData { secret: String, field: &'static str },
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Config {
    #[serde(default)]
    bearer_token: Option<String>,
    #[serde(default)]
    tls_client_config: TlsClientConfig,
    #[serde(default)]
    aws_auth_config: Option<AwsAuthConfig>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct TlsClientConfig {
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    ca_data: Option<String>,
    #[serde(default)]
    cert_data: Option<String>,
    #[serde(default)]
    key_data: Option<String>,
    #[serde(default)]
    server_name: Option<String>,
}

/// A cluster Secret's `awsAuthConfig` as Ferry reads it: Argo CD's fields and Ferry's own.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsClusterAuth {
    /// The EKS cluster's name: what its tokens are for (`x-k8s-aws-id`) and what
    /// `DescribeCluster` is asked about when the Secret gives no `server`.
    pub cluster_name: String,
    /// Who Ferry is for it: the profile, the chain of roles (`roleChain`, then `roleARN`),
    /// the region of STS and EKS.
    pub access: ferry_aws::AwsAccess,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AwsAuthConfig {
    cluster_name: String,
    /// Argo CD's: the role assumed for the token (the last hop of the chain).
    #[serde(default, rename = "roleARN")]
    role_arn: Option<String>,
    /// Argo CD's: a shared-config profile name.
    #[serde(default)]
    profile: Option<String>,
    /// Ferry's: roles assumed before `roleARN`, in order (hub → spoke).
    #[serde(default)]
    role_chain: Vec<AwsRoleHop>,
    /// Ferry's: the external id `roleARN`'s trust policy asks for.
    #[serde(default)]
    external_id: Option<String>,
    /// Ferry's: the session name of `roleARN` (default `ferry-<cluster name>`).
    #[serde(default)]
    session_name: Option<String>,
    /// Ferry's: the session duration of `roleARN` in seconds (default 900).
    #[serde(default)]
    session_duration_seconds: Option<u64>,
    /// Ferry's: the region of STS and EKS (default: the controller's).
    #[serde(default)]
    region: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AwsRoleHop {
    #[serde(rename = "roleARN")]
    role_arn: String,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    session_name: Option<String>,
    #[serde(default)]
    session_duration_seconds: Option<u64>,
}

/// One hop of a chain from its fields; `field` names it in errors.
fn hop(
    field: &str,
    role_arn: &str,
    external_id: Option<String>,
    session_name: Option<String>,
    duration: Option<u64>,
    cluster: &str,
) -> Result<ferry_aws::RoleHop, String> {
    let arn = ferry_aws::RoleArn::parse(role_arn).map_err(|e| format!("{field}: {e}"))?;
    let session = match session_name {
        Some(s) => ferry_aws::SessionName::sanitized(&s),
        None => ferry_aws::SessionName::for_cluster(cluster),
    };
    let mut hop = ferry_aws::RoleHop::new(arn, session);
    if let Some(id) = external_id.filter(|i| !i.is_empty()) {
        hop = hop.external_id(id);
    }
    if let Some(secs) = duration {
        hop = hop.duration(std::time::Duration::from_secs(secs));
    }
    Ok(hop)
}

impl AwsAuthConfig {
    fn into_auth(self) -> Result<AwsClusterAuth, String> {
        if self.cluster_name.trim().is_empty() {
            return Err("config.awsAuthConfig.clusterName is empty".into());
        }
        let cluster = self.cluster_name.clone();
        let mut hops = Vec::new();
        for (i, h) in self.role_chain.into_iter().enumerate() {
            // A hop before the last is shared by every cluster behind it (a hub): its session
            // is named for Ferry, not for one cluster, so its credentials are shared too.
            let session = h.session_name.or_else(|| Some("ferry".to_owned()));
            hops.push(hop(
                &format!("config.awsAuthConfig.roleChain[{i}].roleARN"),
                &h.role_arn,
                h.external_id,
                session,
                h.session_duration_seconds,
                &cluster,
            )?);
        }
        if let Some(arn) = self.role_arn.filter(|a| !a.trim().is_empty()) {
            hops.push(hop(
                "config.awsAuthConfig.roleARN",
                &arn,
                self.external_id,
                self.session_name,
                self.session_duration_seconds,
                &cluster,
            )?);
        }
        let mut access = ferry_aws::AwsAccess::with_chain(ferry_aws::RoleChain::new(hops));
        if let Some(p) = self.profile.filter(|p| !p.is_empty()) {
            access = access.profile(p);
        }
        if let Some(r) = self.region.filter(|r| !r.is_empty()) {
            access = access.region(r);
        }
        Ok(AwsClusterAuth {
            cluster_name: self.cluster_name,
            access,
        })
    }
}

fn b64(v: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(v.trim())
        .ok()
}

/// A `config` that does not parse, said without its content: the field (`config.
/// tlsClientConfig.insecure`), what kind of value was found and what was expected, and where.
/// serde's own message quotes the value (`invalid type: string "<the token>", expected a
/// boolean`), and a misplaced token is exactly what a wrong type often is.
fn config_error(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let inner = e.inner();
    let path = e.path().to_string();
    let field = if path.is_empty() || path == "." {
        "config".to_owned()
    } else {
        format!("config.{path}")
    };
    let at = format!("(line {}, column {})", inner.line(), inner.column());
    use serde_json::error::Category;
    match inner.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            format!("not valid JSON {at}: {}", syntax_kind(inner))
        }
        Category::Data => {
            let text = inner.to_string();
            let expected = text
                .rsplit_once(", expected ")
                .map(|(_, x)| x.split(" at line ").next().unwrap_or(x).to_owned());
            let found = text
                .strip_prefix("invalid type: ")
                .map(|rest| {
                    rest.split(['"', '`', ','])
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_owned()
                })
                .filter(|k| !k.is_empty());
            if let Some(missing) = text.strip_prefix("missing field ") {
                let name = missing.split(" at line ").next().unwrap_or(missing);
                format!("{field}: missing field {name} {at}")
            } else {
                match (found, expected) {
                    (Some(found), Some(expected)) => {
                        format!("{field}: wrong type: a {found} where {expected} is expected {at}")
                    }
                    (None, Some(expected)) => {
                        format!("{field}: invalid value, expected {expected} {at}")
                    }
                    _ => format!("{field}: invalid value {at}"),
                }
            }
        }
    }
}

/// What kind of syntax error, in serde_json's words without the position (given apart).
fn syntax_kind(e: &serde_json::Error) -> String {
    let text = e.to_string();
    text.split(" at line ").next().unwrap_or(&text).to_owned()
}

/// Whether a Secret is a cluster registration.
pub fn is_cluster_secret(secret: &Value) -> bool {
    secret
        .pointer("/metadata/labels")
        .and_then(|l| l.get(ferry_api::SECRET_TYPE_LABEL))
        .and_then(Value::as_str)
        == Some("cluster")
}

/// Reads a cluster Secret (`data` base64-encoded, or `stringData` as written by hand).
pub fn parse_cluster_secret(secret: &Value) -> Result<ClusterSpec, ClusterSecretError> {
    let meta = &secret["metadata"];
    let source = format!(
        "{}/{}",
        meta["namespace"].as_str().unwrap_or_default(),
        meta["name"].as_str().unwrap_or_default()
    );
    let get = |key: &'static str| -> Result<Option<String>, ClusterSecretError> {
        if let Some(v) = secret
            .pointer(&format!("/stringData/{key}"))
            .and_then(Value::as_str)
        {
            return Ok(Some(v.to_owned()));
        }
        match secret
            .pointer(&format!("/data/{key}"))
            .and_then(Value::as_str)
        {
            None => Ok(None),
            Some(v) => b64(v)
                .and_then(|b| String::from_utf8(b).ok())
                .map(Some)
                .ok_or(ClusterSecretError::Encoding {
                    secret: source.clone(),
                    key,
                }),
        }
    };
    let config: Config = match get("config")? {
        Some(c) if !c.trim().is_empty() => {
            let mut de = serde_json::Deserializer::from_str(&c);
            serde_path_to_error::deserialize(&mut de).map_err(|e| ClusterSecretError::Config {
                secret: source.clone(),
                reason: config_error(&e),
            })?
        }
        _ => Config::default(),
    };
    // An EKS cluster may be named only: its endpoint and CA come from `DescribeCluster`.
    let server = match get("server")?.filter(|s| !s.trim().is_empty()) {
        Some(s) => s,
        None if config.aws_auth_config.is_some() => String::new(),
        None => {
            return Err(ClusterSecretError::Missing {
                secret: source.clone(),
                key: "server",
            });
        }
    };
    let name = get("name")?
        .filter(|n| !n.is_empty())
        .or_else(|| {
            config
                .aws_auth_config
                .as_ref()
                .map(|a| a.cluster_name.clone())
        })
        .unwrap_or_else(|| server.clone());
    let namespaces: Vec<String> = get("namespaces")?
        .map(|n| {
            n.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let cluster_resources = match get("clusterResources")? {
        Some(v) => v == "true",
        None => namespaces.is_empty(),
    };
    let tls_field =
        |v: Option<String>, field: &'static str| -> Result<Option<Vec<u8>>, ClusterSecretError> {
            v.map(|d| {
                b64(&d).ok_or(ClusterSecretError::TlsData {
                    secret: source.clone(),
                    field,
                })
            })
            .transpose()
        };
    let t = config.tls_client_config;
    let tls = TlsConfig {
        insecure: t.insecure,
        ca_pem: tls_field(t.ca_data, "caData")?,
        server_name: t.server_name,
        cert_pem: tls_field(t.cert_data, "certData")?,
        key_pem: tls_field(t.key_data, "keyData")?.map(Sensitive::new),
    };
    let auth = match (config.bearer_token, config.aws_auth_config) {
        (Some(t), _) if !t.is_empty() => ClusterAuth::Bearer(Sensitive::new(t)),
        (_, Some(a)) => {
            ClusterAuth::Aws(a.into_auth().map_err(|reason| ClusterSecretError::Config {
                secret: source.clone(),
                reason,
            })?)
        }
        _ if server == ferry_api::IN_CLUSTER_SERVER => ClusterAuth::InCluster,
        _ => ClusterAuth::None,
    };
    let labels = meta["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    Ok(ClusterSpec {
        name,
        server,
        namespaces,
        cluster_resources,
        auth,
        tls,
        labels,
        source,
    })
}

/// The management cluster itself, as Argo CD's `in-cluster`.
pub fn in_cluster() -> ClusterSpec {
    ClusterSpec {
        name: "in-cluster".into(),
        server: ferry_api::IN_CLUSTER_SERVER.into(),
        namespaces: Vec::new(),
        cluster_resources: true,
        auth: ClusterAuth::InCluster,
        tls: TlsConfig::default(),
        labels: Vec::new(),
        source: "built-in".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn enc(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn reads_argo_cd_cluster_secrets() {
        let config = json!({"bearerToken": "tok", "tlsClientConfig": {"insecure": false, "caData": enc("PEM")}}).to_string();
        let s = json!({"metadata": {"name": "c1", "namespace": "ferry", "labels": {"argocd.argoproj.io/secret-type": "cluster", "env": "prod"}},
            "data": {"name": enc("prod-blue"), "server": enc("https://1.2.3.4"), "config": enc(&config), "namespaces": enc("a, b")}});
        assert!(is_cluster_secret(&s));
        let c = parse_cluster_secret(&s).expect("parses");
        assert_eq!(c.name, "prod-blue");
        assert_eq!(c.namespaces, vec!["a", "b"]);
        assert!(!c.cluster_resources);
        assert_eq!(c.tls.ca_pem.as_deref(), Some(b"PEM".as_slice()));
        assert!(matches!(c.auth, ClusterAuth::Bearer(ref t) if t.expose() == "tok"));
        assert!(
            !format!("{c:?}").contains("tok\""),
            "the token never prints"
        );
    }

    #[test]
    fn string_data_and_errors_name_the_secret() {
        let s = json!({"metadata": {"name": "c2", "namespace": "ferry"}, "stringData": {"server": "https://x", "config": "{not json"}});
        let e = parse_cluster_secret(&s).expect_err("bad config");
        assert!(e.to_string().contains("ferry/c2"), "{e}");
        let s = json!({"metadata": {"name": "c3", "namespace": "ferry"}, "data": {}});
        assert_eq!(
            parse_cluster_secret(&s),
            Err(ClusterSecretError::Missing {
                secret: "ferry/c3".into(),
                key: "server"
            })
        );
        let aws = json!({"metadata": {"name": "c4"}, "stringData": {"server": "https://eks", "config": "{\"awsAuthConfig\":{\"clusterName\":\"blue\",\"roleARN\":\"arn:aws:iam::222222222222:role/x\"}}"}});
        assert!(matches!(
            parse_cluster_secret(&aws).expect("aws").auth,
            ClusterAuth::Aws(_)
        ));
    }

    #[test]
    fn cluster_secret_config_errors_name_the_field_never_the_value() {
        let token = "s3cr3t-token-value, expected nothing";
        let cases = [
            json!({"tlsClientConfig": {"insecure": token}}).to_string(),
            json!({"bearerToken": {"nested": token}}).to_string(),
            json!({"tlsClientConfig": {"caData": 12345}}).to_string(),
            json!({"awsAuthConfig": {"roleARN": token}}).to_string(),
            format!("{{\"bearerToken\": \"{token}\", oops}}"),
        ];
        let expect = [
            "config.tlsClientConfig.insecure: wrong type: a string where a boolean is expected",
            "config.bearerToken: wrong type: a map where a string is expected",
            "config.tlsClientConfig.caData: wrong type: a integer where a string is expected",
            "config.awsAuthConfig: missing field `clusterName`",
            "not valid JSON (line 1, column",
        ];
        for (config, want) in cases.iter().zip(expect) {
            let s = json!({"metadata": {"name": "c5", "namespace": "ferry"},
                "stringData": {"server": "https://x", "config": config}});
            let e = parse_cluster_secret(&s)
                .expect_err("bad config")
                .to_string();
            assert!(e.contains("ferry/c5"), "{e}");
            assert!(e.contains(want), "{e} should contain {want}");
            assert!(!e.contains("s3cr3t"), "the value leaked: {e}");
            assert!(!e.contains("12345"), "the value leaked: {e}");
        }
    }

    #[test]
    fn an_eks_cluster_secret_reads_argo_cds_fields_and_ferrys_chain() {
        let config = json!({"awsAuthConfig": {
            "clusterName": "prod-blue",
            "roleARN": "arn:aws:iam::222222222222:role/ferry-deployer",
            "externalId": "ext-1",
            "region": "ap-northeast-1",
            "roleChain": [{"roleARN": "arn:aws:iam::111111111111:role/hub"}],
        }});
        let s = json!({"metadata": {"name": "c6", "namespace": "ferry"},
            "stringData": {"config": config.to_string()}});
        let c = parse_cluster_secret(&s).expect("an EKS cluster found by name");
        assert_eq!(c.name, "prod-blue", "the name defaults to clusterName");
        assert_eq!(c.server, "", "the server comes from DescribeCluster");
        let ClusterAuth::Aws(aws) = &c.auth else {
            panic!("not AWS: {:?}", c.auth)
        };
        assert_eq!(aws.cluster_name, "prod-blue");
        let hops = aws.access.chain.hops();
        assert_eq!(hops.len(), 2);
        assert_eq!(hops[0].role_arn.account(), "111111111111");
        assert_eq!(hops[1].role_arn.account(), "222222222222");
        assert_eq!(hops[1].external_id.as_deref(), Some("ext-1"));
        assert_eq!(hops[1].session_name.as_str(), "ferry-prod-blue");
        assert_eq!(aws.access.region.as_deref(), Some("ap-northeast-1"));

        let bad =
            json!({"awsAuthConfig": {"clusterName": "x", "roleARN": "arn:aws:iam::1:role/x"}});
        let s = json!({"metadata": {"name": "c7", "namespace": "ferry"},
            "stringData": {"config": bad.to_string()}});
        let e = parse_cluster_secret(&s).expect_err("a bad ARN").to_string();
        assert!(
            e.contains("config.awsAuthConfig.roleARN") && e.contains("12 digits"),
            "{e}"
        );
        let typo = json!({"awsAuthConfig": {"clusterName": "x", "roleArn": "arn"}});
        let s = json!({"metadata": {"name": "c8", "namespace": "ferry"},
            "stringData": {"config": typo.to_string()}});
        let e = parse_cluster_secret(&s)
            .expect_err("an unknown field")
            .to_string();
        assert!(e.contains("config.awsAuthConfig"), "{e}");
        let none = json!({"metadata": {"name": "c9", "namespace": "ferry"}, "stringData": {}});
        assert!(
            parse_cluster_secret(&none).is_err(),
            "no server and no awsAuthConfig"
        );
    }
}
