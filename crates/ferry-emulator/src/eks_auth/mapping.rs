//! From the caller STS names to a Kubernetes user and groups, as EKS maps IAM principals.
//!
//! - The STS ARN is canonicalised as aws-iam-authenticator's `arn.Canonicalize` does:
//!   `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION` becomes `arn:aws:iam::ACCT:role/ROLE`
//!   (STS names the role without its path, so the canonical ARN has none); IAM users, roles,
//!   the root user and federated users are kept as they are; anything else is refused.
//! - Access entries come first (EKS `API_AND_CONFIG_MAP`: an access entry wins over
//!   `aws-auth`). An entry's principal ARN may carry a path, which is dropped when it is matched.
//!   Without a username the entry maps a role to `arn:aws:sts::ACCT:assumed-role/ROLE/{{SessionName}}`
//!   and a user to its ARN.
//! - Then `kube-system/aws-auth`: `mapRoles` and `mapUsers` (YAML lists, entry keys matched
//!   case-insensitively as Go's `encoding/json` does, top-level keys case-sensitively, bad
//!   entries skipped) matched case-insensitively against the canonical ARN, a role's `rolearn`
//!   without a path; then `mapAccounts` (every principal of a listed account, as its canonical
//!   ARN with no groups).
//! - Usernames and groups are templates: `{{AccountID}}`, `{{SessionName}}` (`@` → `-`),
//!   `{{SessionNameRaw}}`, `{{AccessKeyID}}`. `{{EC2PrivateDNSName}}` needs EC2 and is refused.
//!
//! What maps to nothing is refused, which the API server answers with 401.

use ferry_core::Sensitive;
use serde_json::Value;

const PARTITIONS: [&str; 8] = [
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// Username prefixes an access entry may not give (EKS `CreateAccessEntry`).
const RESERVED_USERNAME_PREFIXES: [&str; 5] = ["system:", "eks:", "aws:", "amazon:", "iam:"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("{0:?} is not an ARN of an IAM or STS principal")]
    Arn(String),
    #[error("STS answered the ARN {arn:?} for the account {account:?}")]
    AccountMismatch { arn: String, account: String },
    #[error("STS answered a malformed UserId for {0:?}")]
    UserId(String),
    #[error("{0} maps to nothing in access entries or aws-auth")]
    NotMapped(String),
    #[error(
        "the template {0:?} needs {{{{EC2PrivateDNSName}}}}, which this cluster cannot resolve"
    )]
    Ec2Template(String),
    #[error("{0} maps to an empty username")]
    EmptyUsername(String),
    #[error("an access entry needs the ARN of an IAM role or user, not {0:?}")]
    EntryPrincipal(String),
    #[error("an access entry's username may not start with {0:?}")]
    ReservedUsername(&'static str),
}

/// What kind of principal an ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    Role,
    AssumedRole,
    User,
    Root,
    FederatedUser,
}

struct Arn<'a> {
    partition: &'a str,
    service: &'a str,
    account: &'a str,
    resource: &'a str,
}

fn parse_arn(arn: &str) -> Option<Arn<'_>> {
    let mut it = arn.splitn(6, ':');
    let (prefix, partition, service, _region, account, resource) = (
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    );
    (prefix == "arn" && PARTITIONS.contains(&partition) && !resource.is_empty()).then_some(Arn {
        partition,
        service,
        account,
        resource,
    })
}

/// The kind of principal and its canonical ARN (`arn.Canonicalize`).
pub fn canonicalize(arn: &str) -> Result<(PrincipalKind, String), MappingError> {
    let bad = || MappingError::Arn(arn.to_owned());
    let a = parse_arn(arn).ok_or_else(bad)?;
    let parts: Vec<&str> = a.resource.split('/').collect();
    let kind = match (a.service, parts[0]) {
        ("sts", "federated-user") => PrincipalKind::FederatedUser,
        ("sts", "assumed-role") => {
            if parts.len() < 3 {
                return Err(bad());
            }
            let role = parts[1..parts.len() - 1].join("/");
            let canonical = format!("arn:{}:iam::{}:role/{role}", a.partition, a.account);
            return Ok((PrincipalKind::AssumedRole, canonical));
        }
        ("iam", "role") => PrincipalKind::Role,
        ("iam", "user") => PrincipalKind::User,
        ("iam", "root") => PrincipalKind::Root,
        _ => return Err(bad()),
    };
    Ok((kind, arn.to_owned()))
}

/// A role ARN without its path (`arn:aws:iam::A:role/team/x` → `arn:aws:iam::A:role/x`);
/// other ARNs unchanged.
pub fn strip_path(arn: &str) -> String {
    match parse_arn(arn) {
        Some(a) if a.service == "iam" && a.resource.starts_with("role/") => {
            let name = a.resource.rsplit('/').next().unwrap_or_default();
            format!("arn:{}:iam::{}:role/{name}", a.partition, a.account)
        }
        _ => arn.to_owned(),
    }
}

/// Who the caller is, as STS answered and the authenticator reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The ARN STS answered, e.g. `arn:aws:sts::222222222222:assumed-role/deployer/ferry`.
    pub arn: String,
    /// `arn:aws:iam::222222222222:role/deployer`.
    pub canonical_arn: String,
    pub kind: PrincipalKind,
    pub account_id: String,
    /// The role's or user's unique id (`AROA…`).
    pub user_id: String,
    /// The session name of an assumed role, else empty.
    pub session_name: String,
    pub access_key_id: Sensitive<String>,
}

impl Identity {
    /// The identity of an STS `GetCallerIdentity` answer (`getIdentityFromSTSResponse`).
    pub fn from_sts(
        arn: &str,
        account: &str,
        user_id: &str,
        access_key_id: Sensitive<String>,
    ) -> Result<Self, MappingError> {
        let (kind, canonical_arn) = canonicalize(arn)?;
        if parse_arn(arn).map(|a| a.account) != Some(account) {
            return Err(MappingError::AccountMismatch {
                arn: arn.to_owned(),
                account: account.to_owned(),
            });
        }
        let (user_id, session_name) = match kind {
            PrincipalKind::User | PrincipalKind::Root | PrincipalKind::FederatedUser => {
                (user_id.to_owned(), String::new())
            }
            PrincipalKind::Role | PrincipalKind::AssumedRole => {
                let parts: Vec<&str> = user_id.split(':').collect();
                match parts[..] {
                    [id, session] => (id.to_owned(), session.to_owned()),
                    _ => return Err(MappingError::UserId(arn.to_owned())),
                }
            }
        };
        Ok(Self {
            arn: arn.to_owned(),
            canonical_arn,
            kind,
            account_id: account.to_owned(),
            user_id,
            session_name,
            access_key_id,
        })
    }
}

/// An EKS access entry: an IAM principal, the username it gets (a template) and its
/// Kubernetes groups. Access policies are not emulated: permissions come from RBAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEntry {
    /// `arn:aws:iam::ACCT:role/[PATH/]NAME` or `arn:aws:iam::ACCT:user/[PATH/]NAME`.
    pub principal_arn: String,
    /// `None`: EKS's default (the assumed-role ARN with `{{SessionName}}`, or the user ARN).
    pub username: Option<String>,
    pub groups: Vec<String>,
}

impl AccessEntry {
    pub fn new(principal_arn: &str, username: Option<&str>, groups: &[&str]) -> Self {
        Self {
            principal_arn: principal_arn.to_owned(),
            username: username.map(str::to_owned),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    /// What EKS `CreateAccessEntry` checks: an IAM role or user, no reserved username.
    pub fn validate(&self) -> Result<(), MappingError> {
        match canonicalize(&self.principal_arn) {
            Ok((PrincipalKind::Role | PrincipalKind::User, _)) => {}
            _ => return Err(MappingError::EntryPrincipal(self.principal_arn.clone())),
        }
        if let Some(u) = &self.username
            && let Some(p) = RESERVED_USERNAME_PREFIXES
                .iter()
                .find(|p| u.starts_with(**p))
        {
            return Err(MappingError::ReservedUsername(p));
        }
        Ok(())
    }

    fn matches(&self, identity: &Identity) -> bool {
        strip_path(&self.principal_arn).eq_ignore_ascii_case(&identity.canonical_arn)
    }

    fn default_username(&self, identity: &Identity) -> String {
        match (identity.kind, parse_arn(&identity.canonical_arn)) {
            (PrincipalKind::AssumedRole | PrincipalKind::Role, Some(a)) => format!(
                "arn:{}:sts::{}:assumed-role/{}/{{{{SessionName}}}}",
                a.partition,
                a.account,
                a.resource.rsplit('/').next().unwrap_or_default()
            ),
            _ => identity.canonical_arn.clone(),
        }
    }
}

/// One `mapRoles` or `mapUsers` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub arn: String,
    pub username: String,
    pub groups: Vec<String>,
}

/// The mappings of a `kube-system/aws-auth` ConfigMap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsAuth {
    pub roles: Vec<Mapping>,
    pub users: Vec<Mapping>,
    pub accounts: Vec<String>,
    /// Entries that were skipped, in words (the authenticator logs these).
    pub skipped: Vec<String>,
}

impl AwsAuth {
    /// Reads the ConfigMap's `data` (`ParseMap`): what parses is kept, the rest skipped.
    pub fn parse(data: &Value) -> Self {
        let mut out = Self::default();
        let text = |key: &str| {
            data.get(key)
                .and_then(Value::as_str)
                .filter(|s| !skippable(s))
        };
        if let Some(t) = text("mapRoles") {
            out.roles = out.entries("mapRoles", t, "rolearn");
        }
        if let Some(t) = text("mapUsers") {
            out.users = out.entries("mapUsers", t, "userarn");
        }
        if let Some(t) = text("mapAccounts") {
            match serde_saphyr::from_str::<Value>(t) {
                Ok(Value::Array(items)) => {
                    out.accounts = items
                        .iter()
                        .filter_map(|a| match a {
                            Value::String(s) => Some(s.clone()),
                            Value::Number(n) => Some(n.to_string()),
                            _ => None,
                        })
                        .collect();
                }
                _ => out.skipped.push("mapAccounts is not a YAML list".into()),
            }
        }
        out
    }

    fn entries(&mut self, key: &str, text: &str, arn_key: &str) -> Vec<Mapping> {
        let items = match serde_saphyr::from_str::<Value>(text) {
            Ok(Value::Array(items)) => items,
            _ => {
                self.skipped.push(format!("{key} is not a YAML list"));
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let field = |name: &str| {
                item.as_object().and_then(|o| {
                    o.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v)
                })
            };
            let Some(arn) = field(arn_key)
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty())
            else {
                self.skipped.push(format!(
                    "{key}[{i}] has no {arn_key} (SSO entries are not emulated)"
                ));
                continue;
            };
            let groups = match field("groups") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(gs)) => gs
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                Some(_) => {
                    self.skipped
                        .push(format!("{key}[{i}].groups is not a list"));
                    continue;
                }
            };
            out.push(Mapping {
                arn: arn.to_owned(),
                username: field("username")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                groups,
            });
        }
        out
    }
}

fn skippable(data: &str) -> bool {
    matches!(data.trim(), "" | "``" | "\"\"" | "''")
}

/// A Kubernetes user and groups an identity maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub username: String,
    pub groups: Vec<String>,
    /// Which mapping matched: `access entry`, `aws-auth mapRoles`, ...
    pub via: &'static str,
}

/// Maps an identity through the access entries, then `aws-auth` (see the module docs).
pub fn map(
    identity: &Identity,
    entries: &[AccessEntry],
    aws_auth: Option<&AwsAuth>,
) -> Result<Mapped, MappingError> {
    let found = if let Some(e) = entries.iter().find(|e| e.matches(identity)) {
        let username = e
            .username
            .clone()
            .unwrap_or_else(|| e.default_username(identity));
        Some((username, e.groups.clone(), "access entry"))
    } else if let Some(auth) = aws_auth {
        let is = |m: &&Mapping| m.arn.eq_ignore_ascii_case(&identity.canonical_arn);
        if let Some(m) = auth.roles.iter().find(is) {
            Some((m.username.clone(), m.groups.clone(), "aws-auth mapRoles"))
        } else if let Some(m) = auth.users.iter().find(is) {
            Some((m.username.clone(), m.groups.clone(), "aws-auth mapUsers"))
        } else if auth.accounts.contains(&identity.account_id) {
            Some((
                identity.canonical_arn.clone(),
                Vec::new(),
                "aws-auth mapAccounts",
            ))
        } else {
            None
        }
    } else {
        None
    };
    let (username, groups, via) =
        found.ok_or_else(|| MappingError::NotMapped(identity.canonical_arn.clone()))?;
    let username = render(&username, identity)?;
    if username.is_empty() {
        return Err(MappingError::EmptyUsername(identity.canonical_arn.clone()));
    }
    let groups = groups
        .iter()
        .map(|g| render(g, identity))
        .collect::<Result<_, _>>()?;
    Ok(Mapped {
        username,
        groups,
        via,
    })
}

/// Fills a username or group template (`renderTemplate`).
pub fn render(template: &str, identity: &Identity) -> Result<String, MappingError> {
    if template.contains("{{EC2PrivateDNSName}}") {
        return Err(MappingError::Ec2Template(template.to_owned()));
    }
    Ok(template
        .replace("{{AccountID}}", &identity.account_id)
        .replace("{{SessionName}}", &identity.session_name.replace('@', "-"))
        .replace("{{SessionNameRaw}}", &identity.session_name)
        .replace("{{AccessKeyID}}", identity.access_key_id.expose()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn assumed(account: &str, role: &str, session: &str) -> Identity {
        Identity::from_sts(
            &format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
            account,
            &format!("AROAEXAMPLE:{session}"),
            Sensitive::new("ASIAEXAMPLE".into()),
        )
        .expect("identity")
    }

    #[test]
    fn arns_are_canonicalised_as_the_authenticator_does() {
        let c = canonicalize;
        assert_eq!(
            c("arn:aws:sts::222222222222:assumed-role/deployer/ferry-prod"),
            Ok((
                PrincipalKind::AssumedRole,
                "arn:aws:iam::222222222222:role/deployer".into()
            ))
        );
        // Were a path there, it would be kept between the resource type and the session.
        assert_eq!(
            c("arn:aws-cn:sts::1:assumed-role/team/deployer/s").map(|(_, a)| a),
            Ok("arn:aws-cn:iam::1:role/team/deployer".into())
        );
        for kept in [
            "arn:aws:iam::1:role/x",
            "arn:aws:iam::1:user/path/bob",
            "arn:aws:iam::1:root",
            "arn:aws:sts::1:federated-user/bob",
        ] {
            assert_eq!(c(kept).map(|(_, a)| a), Ok(kept.to_owned()));
        }
        for bad in [
            "arn:aws:sts::123456789012:user/moto",
            "arn:aws:sts::1:assumed-role/only-role",
            "arn:aws:s3:::bucket",
            "arn:other:iam::1:role/x",
            "not-an-arn",
        ] {
            assert!(c(bad).is_err(), "{bad}");
        }
        assert_eq!(
            strip_path("arn:aws:iam::1:role/ferry/team/deployer"),
            "arn:aws:iam::1:role/deployer"
        );
        assert_eq!(
            strip_path("arn:aws:iam::1:user/p/bob"),
            "arn:aws:iam::1:user/p/bob"
        );
    }

    #[test]
    fn identities_split_the_session_and_agree_on_the_account() {
        let id = assumed("222222222222", "deployer", "ferry@prod");
        assert_eq!(id.user_id, "AROAEXAMPLE");
        assert_eq!(id.session_name, "ferry@prod");
        let key = || Sensitive::new(String::new());
        assert!(matches!(
            Identity::from_sts("arn:aws:sts::2:assumed-role/r/s", "3", "AROA:s", key()),
            Err(MappingError::AccountMismatch { .. })
        ));
        assert!(matches!(
            Identity::from_sts("arn:aws:sts::2:assumed-role/r/s", "2", "AROA", key()),
            Err(MappingError::UserId(_))
        ));
        let user = Identity::from_sts("arn:aws:iam::2:user/bob", "2", "AIDA", key()).expect("user");
        assert_eq!(
            (user.user_id.as_str(), user.session_name.as_str()),
            ("AIDA", "")
        );
    }

    const AWS_AUTH: &str = "- rolearn: arn:aws:iam::222222222222:role/deployer
  username: ferry:{{SessionName}}
  groups:
    - ferry-deployers
    - acct-{{AccountID}}
- RoleArn: arn:aws:iam::222222222222:role/NodeRole
  UserName: system:node:{{EC2PrivateDNSName}}
  Groups: [system:nodes]
- username: no-arn
";

    #[test]
    fn map_roles_are_templated_and_matched_on_the_canonical_arn() {
        let auth = AwsAuth::parse(&json!({
            "mapRoles": AWS_AUTH,
            "mapUsers": "- userarn: arn:aws:iam::222222222222:user/ops/alice\n  username: alice\n  groups: [ops]\n",
            "mapAccounts": "- 444444444444\n- \"555555555555\"\n",
        }));
        assert_eq!(auth.roles.len(), 2);
        assert_eq!(auth.accounts, ["444444444444", "555555555555"]);
        assert_eq!(auth.skipped.len(), 1, "{:?}", auth.skipped);

        let m = map(
            &assumed("222222222222", "deployer", "ci@ferry"),
            &[],
            Some(&auth),
        );
        assert_eq!(
            m,
            Ok(Mapped {
                username: "ferry:ci-ferry".into(),
                groups: vec!["ferry-deployers".into(), "acct-222222222222".into()],
                via: "aws-auth mapRoles",
            })
        );
        // Keys are case-insensitive, the ARN too; EC2 templates cannot be filled here.
        assert!(matches!(
            map(
                &assumed("222222222222", "noderole", "i-1"),
                &[],
                Some(&auth)
            ),
            Err(MappingError::Ec2Template(_))
        ));
        // A role of another account maps to nothing.
        assert_eq!(
            map(&assumed("333333333333", "deployer", "s"), &[], Some(&auth)),
            Err(MappingError::NotMapped(
                "arn:aws:iam::333333333333:role/deployer".into()
            ))
        );
        let key = Sensitive::new("AKIA".to_owned());
        let alice = Identity::from_sts(
            "arn:aws:iam::222222222222:user/ops/alice",
            "222222222222",
            "AIDA",
            key,
        )
        .expect("user");
        assert_eq!(
            map(&alice, &[], Some(&auth)).map(|m| m.username),
            Ok("alice".into())
        );
        let other = assumed("444444444444", "anything", "s");
        assert_eq!(
            map(&other, &[], Some(&auth)).map(|m| (m.username, m.groups.len())),
            Ok(("arn:aws:iam::444444444444:role/anything".into(), 0))
        );
        assert!(map(&other, &[], None).is_err());
    }

    #[test]
    fn top_level_keys_are_case_sensitive_and_empty_values_skipped() {
        let auth = AwsAuth::parse(&json!({"maproles": AWS_AUTH, "mapUsers": "''"}));
        assert_eq!(auth, AwsAuth::default());
        let broken = AwsAuth::parse(&json!({"mapRoles": "rolearn: x"}));
        assert!(broken.roles.is_empty() && broken.skipped.len() == 1);
    }

    #[test]
    fn access_entries_win_drop_paths_and_default_to_the_session_arn() {
        let auth = AwsAuth::parse(&json!({"mapRoles": AWS_AUTH}));
        let id = assumed("222222222222", "deployer", "ferry-prod");
        let entry = AccessEntry::new(
            "arn:aws:iam::222222222222:role/ferry/deployer",
            None,
            &["viewers"],
        );
        assert_eq!(entry.validate(), Ok(()));
        assert_eq!(
            map(&id, std::slice::from_ref(&entry), Some(&auth)),
            Ok(Mapped {
                username: "arn:aws:sts::222222222222:assumed-role/deployer/ferry-prod".into(),
                groups: vec!["viewers".into()],
                via: "access entry",
            })
        );
        let named = AccessEntry::new(
            "arn:aws:iam::333333333333:role/deployer",
            Some("stg:{{SessionName}}"),
            &[],
        );
        assert_eq!(
            map(&assumed("333333333333", "deployer", "x"), &[named], None).map(|m| m.username),
            Ok("stg:x".into())
        );
        assert_eq!(
            AccessEntry::new("arn:aws:iam::1:role/x", Some("system:admin"), &[]).validate(),
            Err(MappingError::ReservedUsername("system:"))
        );
        assert!(
            AccessEntry::new("arn:aws:sts::1:assumed-role/x/s", None, &[])
                .validate()
                .is_err()
        );
    }
}
