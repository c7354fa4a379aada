//! How sign-in and permissions are configured, read from three objects in Ferry's namespace
//! with Argo CD's keys, so that an Argo CD setup carries over:
//!
//! - ConfigMap `ferry-cm` (`argocd-cm`): `url` (the external URL, for redirect URIs),
//!   `admin.enabled`, `users.anonymous.enabled`, `oidc.config` (Argo CD's keys: `name`,
//!   `issuer`, `clientID`, `clientSecret`, `requestedScopes`, `rootCA`, `logoutURL`; Ferry adds
//!   `groupsClaim` and `usernameClaim`), and `dex.config` — whose `github` connectors Ferry
//!   speaks to itself, without Dex (`clientID`, `clientSecret`, `orgs` with `teams`,
//!   `hostName`, `teamNameField`, `loadAllGroups`, `useLoginAsID`, `rootCA`; Ferry adds
//!   `baseURL`/`apiURL` for a GitHub Enterprise reached by a full URL).
//! - ConfigMap `ferry-rbac-cm` (`argocd-rbac-cm`): `policy.csv` and every `policy.*.csv`,
//!   `policy.default`, `policy.matchMode`, `scopes`.
//! - Secret `ferry-secret` (`argocd-secret`): `server.secretkey`, `admin.password` (an
//!   argon2 PHC string; Argo CD's bcrypt hashes are refused in words), `admin.passwordMtime`,
//!   and the values that `$key` references in the two ConfigMaps name.
//!
//! Parsing is pure and never fails as a whole: a broken key becomes a problem in words
//! ([`Settings::problems`]) and that provider is left out, so a typo cannot lock everyone
//! out of what still works.

use std::collections::BTreeMap;

use ferry_core::Sensitive;
use serde::Deserialize;

use super::tokens::Keys;

pub const SETTINGS_CM: &str = "ferry-cm";
pub const RBAC_CM: &str = "ferry-rbac-cm";
pub const SECRET: &str = "ferry-secret";
/// Where the generated first admin password is left for the operator (as Argo CD's
/// `argocd-initial-admin-secret`).
pub const INITIAL_ADMIN_SECRET: &str = "ferry-initial-admin-secret";

/// The OIDC provider's id in sign-in URLs.
pub const OIDC_ID: &str = "oidc";

/// An OpenID Connect provider.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<Sensitive<String>>,
    pub scopes: Vec<String>,
    pub root_ca: Option<String>,
    pub logout_url: Option<String>,
    /// The claim that carries groups (default `groups`).
    pub groups_claim: String,
    /// The claim shown as the user's name (default: `email`, else `preferred_username`,
    /// else `sub`).
    pub username_claim: Option<String>,
}

/// How a GitHub team becomes a group (dex's `teamNameField`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamName {
    Slug,
    Name,
    Both,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubOrg {
    pub name: String,
    /// Empty: every team of the org.
    pub teams: Vec<String>,
}

/// A GitHub (or GitHub Enterprise) OAuth app.
#[derive(Debug, Clone)]
pub struct GithubConfig {
    pub id: String,
    pub name: String,
    pub client_id: String,
    pub client_secret: Sensitive<String>,
    /// Users must be in one of them (empty: anyone with an account may sign in, and RBAC
    /// decides what they see).
    pub orgs: Vec<GithubOrg>,
    /// `https://github.com`, `https://HOST` or the configured `baseURL`.
    pub web_url: String,
    /// `https://api.github.com`, `https://HOST/api/v3` or the configured `apiURL`.
    pub api_url: String,
    pub team_name: TeamName,
    pub load_all_groups: bool,
    pub use_login_as_id: bool,
    pub root_ca: Option<String>,
}

/// `ferry-rbac-cm`'s data, read by `ferry-rbac` (`policy.csv` and every `policy.*.csv`,
/// `policy.default`, `policy.matchMode`, `scopes`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RbacConfig {
    pub data: BTreeMap<String, String>,
}

/// Everything read, at one moment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub url: Option<String>,
    pub admin_enabled: bool,
    pub anonymous_enabled: bool,
    pub oidc: Option<OidcConfig>,
    pub github: Vec<GithubConfig>,
    pub rbac: RbacConfig,
    pub keys: Keys,
    pub admin_hash: Option<Sensitive<String>>,
    /// When the admin password last changed (sessions from before end).
    pub admin_password_mtime: i64,
    /// What could not be read, in words (never a value).
    pub problems: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        parse(&BTreeMap::new(), &BTreeMap::new(), &BTreeMap::new())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OidcYaml {
    #[serde(default)]
    name: String,
    issuer: String,
    #[serde(rename = "clientID")]
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    requested_scopes: Vec<String>,
    #[serde(default, rename = "rootCA")]
    root_ca: Option<String>,
    #[serde(default, rename = "logoutURL")]
    logout_url: Option<String>,
    #[serde(default)]
    groups_claim: Option<String>,
    #[serde(default)]
    username_claim: Option<String>,
}

#[derive(Deserialize)]
struct DexYaml {
    #[serde(default)]
    connectors: Vec<DexConnector>,
}

#[derive(Deserialize)]
struct DexConnector {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    config: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GithubYaml {
    #[serde(rename = "clientID")]
    client_id: String,
    client_secret: String,
    #[serde(default)]
    orgs: Vec<GithubOrgYaml>,
    #[serde(default)]
    host_name: Option<String>,
    #[serde(default, rename = "baseURL")]
    base_url: Option<String>,
    #[serde(default, rename = "apiURL")]
    api_url: Option<String>,
    #[serde(default)]
    team_name_field: Option<String>,
    #[serde(default)]
    load_all_groups: bool,
    #[serde(default, rename = "useLoginAsID")]
    use_login_as_id: bool,
    #[serde(default, rename = "rootCA")]
    root_ca: Option<String>,
}

#[derive(Deserialize)]
struct GithubOrgYaml {
    name: String,
    #[serde(default)]
    teams: Vec<String>,
}

fn truthy(v: Option<&String>, default: bool) -> bool {
    match v.map(|s| s.trim().to_ascii_lowercase()) {
        None => default,
        Some(s) if s.is_empty() => default,
        Some(s) => s == "true",
    }
}

/// `$key` → `ferry-secret`'s value of `key`; anything else is the value itself.
fn resolve(
    value: &str,
    secret: &BTreeMap<String, Vec<u8>>,
    what: &str,
    problems: &mut Vec<String>,
) -> Option<String> {
    let Some(key) = value.trim().strip_prefix('$') else {
        return Some(value.trim().to_owned());
    };
    if key.contains(':') {
        problems.push(format!(
            "{what}: `${key}` names another Secret; Ferry reads `$KEY` references from {SECRET} only"
        ));
        return None;
    }
    match secret
        .get(key)
        .map(|v| String::from_utf8_lossy(v).trim().to_owned())
    {
        Some(v) if !v.is_empty() => Some(v),
        _ => {
            problems.push(format!("{what}: the Secret {SECRET} has no key `{key}`"));
            None
        }
    }
}

/// Reads the three objects' data (`secret` already base64-decoded).
pub fn parse(
    cm: &BTreeMap<String, String>,
    rbac_cm: &BTreeMap<String, String>,
    secret: &BTreeMap<String, Vec<u8>>,
) -> Settings {
    let mut problems = Vec::new();
    let url = cm
        .get("url")
        .map(|u| u.trim().trim_end_matches('/').to_owned())
        .filter(|u| !u.is_empty());
    if let Some(u) = &url
        && url::Url::parse(u).is_err()
    {
        problems.push(format!("{SETTINGS_CM} url: `{u}` is not a URL"));
    }
    let oidc = cm
        .get("oidc.config")
        .filter(|t| !t.trim().is_empty())
        .and_then(|text| parse_oidc(text, secret, &mut problems));
    let github = cm
        .get("dex.config")
        .filter(|t| !t.trim().is_empty())
        .map(|text| parse_dex(text, secret, &mut problems))
        .unwrap_or_default();
    if (oidc.is_some() || !github.is_empty()) && url.is_none() {
        problems.push(format!(
            "{SETTINGS_CM} has sign-in providers but no `url`: redirect URIs are made from the address the browser used"
        ));
    }
    let key = secret.get("server.secretkey").cloned().unwrap_or_default();
    let admin_hash = secret
        .get("admin.password")
        .map(|h| String::from_utf8_lossy(h).trim().to_owned())
        .filter(|h| !h.is_empty())
        .map(Sensitive::new);
    let admin_password_mtime = secret
        .get("admin.passwordMtime")
        .and_then(|v| {
            let s = String::from_utf8_lossy(v);
            ferry_core::timestamp::parse(s.trim())
        })
        .unwrap_or(0);
    Settings {
        url,
        admin_enabled: truthy(cm.get("admin.enabled"), true),
        anonymous_enabled: truthy(cm.get("users.anonymous.enabled"), false),
        oidc,
        github,
        rbac: parse_rbac(rbac_cm),
        keys: Keys::new(Sensitive::new(key)),
        admin_hash,
        admin_password_mtime,
        problems,
    }
}

fn parse_oidc(
    text: &str,
    secret: &BTreeMap<String, Vec<u8>>,
    problems: &mut Vec<String>,
) -> Option<OidcConfig> {
    let y: OidcYaml = match serde_saphyr::from_str(text) {
        Ok(y) => y,
        Err(e) => {
            problems.push(format!("{SETTINGS_CM} oidc.config: {e}"));
            return None;
        }
    };
    if url::Url::parse(y.issuer.trim()).is_err() {
        problems.push(format!(
            "{SETTINGS_CM} oidc.config issuer: `{}` is not a URL",
            y.issuer
        ));
        return None;
    }
    let client_id = resolve(&y.client_id, secret, "oidc.config clientID", problems)?;
    let client_secret = match y.client_secret.as_deref() {
        Some(s) if !s.trim().is_empty() => Some(Sensitive::new(resolve(
            s,
            secret,
            "oidc.config clientSecret",
            problems,
        )?)),
        _ => None,
    };
    let mut scopes = if y.requested_scopes.is_empty() {
        vec!["openid".into(), "profile".into(), "email".into()]
    } else {
        y.requested_scopes
    };
    if !scopes.iter().any(|s| s == "openid") {
        scopes.insert(0, "openid".into());
    }
    Some(OidcConfig {
        name: if y.name.trim().is_empty() {
            "SSO".into()
        } else {
            y.name.trim().to_owned()
        },
        issuer: y.issuer.trim().to_owned(),
        client_id,
        client_secret,
        scopes,
        root_ca: y.root_ca.filter(|c| !c.trim().is_empty()),
        logout_url: y.logout_url.filter(|u| !u.trim().is_empty()),
        groups_claim: y
            .groups_claim
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(|| "groups".into()),
        username_claim: y.username_claim.filter(|c| !c.trim().is_empty()),
    })
}

fn parse_dex(
    text: &str,
    secret: &BTreeMap<String, Vec<u8>>,
    problems: &mut Vec<String>,
) -> Vec<GithubConfig> {
    let y: DexYaml = match serde_saphyr::from_str(text) {
        Ok(y) => y,
        Err(e) => {
            problems.push(format!("{SETTINGS_CM} dex.config: {e}"));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, c) in y.connectors.into_iter().enumerate() {
        let what = format!(
            "{SETTINGS_CM} dex.config connector {}",
            if c.id.is_empty() {
                i.to_string()
            } else {
                c.id.clone()
            }
        );
        if c.kind != "github" {
            problems.push(format!(
                "{what}: type `{}` is not spoken by Ferry (it signs in with GitHub itself; other providers go in oidc.config)",
                c.kind
            ));
            continue;
        }
        let g: GithubYaml = match serde_json::from_value(c.config) {
            Ok(g) => g,
            Err(e) => {
                problems.push(format!("{what} config: {e}"));
                continue;
            }
        };
        let Some(client_id) = resolve(&g.client_id, secret, &format!("{what} clientID"), problems)
        else {
            continue;
        };
        let Some(client_secret) = resolve(
            &g.client_secret,
            secret,
            &format!("{what} clientSecret"),
            problems,
        ) else {
            continue;
        };
        let host = g
            .host_name
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty());
        let web_url = g
            .base_url
            .as_deref()
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .or_else(|| host.map(|h| format!("https://{h}")))
            .unwrap_or_else(|| "https://github.com".into());
        let api_url = g
            .api_url
            .as_deref()
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .unwrap_or_else(|| {
                if web_url == "https://github.com" {
                    "https://api.github.com".into()
                } else {
                    format!("{web_url}/api/v3")
                }
            });
        let team_name = match g.team_name_field.as_deref().unwrap_or("name") {
            "slug" => TeamName::Slug,
            "both" => TeamName::Both,
            "name" | "" => TeamName::Name,
            other => {
                problems.push(format!(
                    "{what} teamNameField: `{other}` is none of name, slug, both; using name"
                ));
                TeamName::Name
            }
        };
        let id = if c.id.trim().is_empty() {
            "github".to_owned()
        } else {
            c.id.trim().to_owned()
        };
        out.push(GithubConfig {
            name: if c.name.trim().is_empty() {
                "GitHub".into()
            } else {
                c.name.trim().to_owned()
            },
            id,
            client_id,
            client_secret: Sensitive::new(client_secret),
            orgs: g
                .orgs
                .into_iter()
                .map(|o| GithubOrg {
                    name: o.name,
                    teams: o.teams,
                })
                .collect(),
            web_url,
            api_url,
            team_name,
            load_all_groups: g.load_all_groups,
            use_login_as_id: g.use_login_as_id,
            root_ca: g.root_ca.filter(|c| !c.trim().is_empty()),
        });
    }
    out
}

/// `ferry-rbac-cm` as `ferry-rbac` reads it.
pub fn parse_rbac(cm: &BTreeMap<String, String>) -> RbacConfig {
    RbacConfig { data: cm.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn secret(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn an_argo_cd_oidc_config_carries_over_with_its_secret_reference() {
        let cm = map(&[
            ("url", "https://ferry.example.com/"),
            (
                "oidc.config",
                "name: Okta\nissuer: https://example.okta.com\nclientID: aaabbbccc\nclientSecret: $oidc.okta.clientSecret\nrequestedScopes: [\"openid\", \"profile\", \"email\", \"groups\"]\n",
            ),
        ]);
        let s = parse(
            &cm,
            &BTreeMap::new(),
            &secret(&[("oidc.okta.clientSecret", "shh")]),
        );
        assert!(s.problems.is_empty(), "{:?}", s.problems);
        assert_eq!(s.url.as_deref(), Some("https://ferry.example.com"));
        let o = s.oidc.expect("oidc");
        assert_eq!(o.name, "Okta");
        assert_eq!(
            o.client_secret.as_ref().map(|c| c.expose().as_str()),
            Some("shh")
        );
        assert_eq!(o.scopes, ["openid", "profile", "email", "groups"]);
        assert_eq!(o.groups_claim, "groups");
        assert!(s.admin_enabled && !s.anonymous_enabled);
    }

    #[test]
    fn a_dex_github_connector_is_spoken_natively_and_others_are_named() {
        let cm = map(&[
            ("url", "https://ferry.example.com"),
            (
                "dex.config",
                "connectors:\n- type: github\n  id: github\n  name: GitHub\n  config:\n    clientID: abc\n    clientSecret: $dex.github.clientSecret\n    orgs:\n    - name: acme\n      teams: [platform]\n- type: github\n  id: ghe\n  config:\n    clientID: def\n    clientSecret: x\n    hostName: github.acme.internal\n    teamNameField: slug\n- type: ldap\n  id: corp\n",
            ),
        ]);
        let s = parse(
            &cm,
            &BTreeMap::new(),
            &secret(&[("dex.github.clientSecret", "s")]),
        );
        assert_eq!(s.github.len(), 2);
        assert_eq!(s.github[0].web_url, "https://github.com");
        assert_eq!(s.github[0].api_url, "https://api.github.com");
        assert_eq!(s.github[0].orgs[0].teams, ["platform"]);
        assert_eq!(s.github[1].web_url, "https://github.acme.internal");
        assert_eq!(s.github[1].api_url, "https://github.acme.internal/api/v3");
        assert_eq!(s.github[1].team_name, TeamName::Slug);
        assert_eq!(s.problems.len(), 1, "{:?}", s.problems);
        assert!(s.problems[0].contains("`ldap`"), "{:?}", s.problems);
    }

    #[test]
    fn broken_keys_are_problems_in_words_without_values() {
        let cm = map(&[
            ("oidc.config", "issuer: [not a url\n"),
            (
                "dex.config",
                "connectors:\n- type: github\n  id: gh\n  config:\n    clientID: a\n    clientSecret: $missing.key\n",
            ),
            ("admin.enabled", "false"),
        ]);
        let s = parse(&cm, &BTreeMap::new(), &secret(&[("other", "topsecret")]));
        assert!(s.oidc.is_none() && s.github.is_empty());
        assert!(!s.admin_enabled);
        let all = s.problems.join("\n");
        assert!(all.contains("oidc.config"), "{all}");
        assert!(all.contains("has no key `missing.key`"), "{all}");
        assert!(!all.contains("topsecret"), "{all}");
    }
}
