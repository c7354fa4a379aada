//! Sign-in with a GitHub (or GitHub Enterprise) OAuth app, without a broker: GitHub is not
//! an OpenID provider, so the flow is its documented web flow — `GET /login/oauth/authorize`,
//! `POST /login/oauth/access_token` — then the REST API's `/user`, `/user/orgs` and
//! `/user/teams` for the groups, as dex's GitHub connector makes them: `ORG` and
//! `ORG:TEAM` (team name, slug or both by `teamNameField`), within the configured `orgs`
//! (a user in none of them is refused), or every org and team with `loadAllGroups`.
//! The access token is used for those calls only and then dropped.

use std::collections::BTreeMap;

use ferry_core::Sensitive;
use serde_json::Value;

use super::http::{HttpClient, HttpError, json_of};
use super::oidc::Identity;
use super::settings::{GithubConfig, TeamName};

#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    #[error("GitHub ({web}) refused the sign-in: {cause}")]
    Refused { web: String, cause: String },
    #[error("{login} is not a member of the GitHub organizations this server allows ({orgs})")]
    NotInOrgs { login: String, orgs: String },
    #[error(transparent)]
    Http(#[from] HttpError),
}

/// The scopes asked for: the user, and org and team membership.
pub const SCOPES: &str = "read:user user:email read:org";

/// Where to send the browser.
pub fn authorize_url(cfg: &GithubConfig, redirect_uri: &str, state: &str) -> String {
    let mut u =
        url::Url::parse(&format!("{}/login/oauth/authorize", cfg.web_url)).unwrap_or_else(|_| {
            url::Url::parse("https://github.com/login/oauth/authorize")
                .unwrap_or_else(|_| unreachable!("a constant URL"))
        });
    u.query_pairs_mut()
        .append_pair("client_id", &cfg.client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", SCOPES)
        .append_pair("state", state)
        .append_pair("allow_signup", "false");
    u.to_string()
}

/// The callback: the code exchanged for an access token, the user and its groups read.
pub async fn finish(
    cfg: &GithubConfig,
    redirect_uri: &str,
    code: &str,
) -> Result<Identity, GithubError> {
    let http = HttpClient::new(cfg.root_ca.as_deref())?;
    let token = exchange(cfg, &http, redirect_uri, code).await?;
    let auth = format!("Bearer {}", token.expose());
    let headers = [
        ("authorization", auth.as_str()),
        ("user-agent", "ferry"),
        ("x-github-api-version", "2022-11-28"),
    ];
    let user = http
        .get_json(&format!("{}/user", cfg.api_url), &headers)
        .await?;
    let login = user["login"].as_str().unwrap_or_default().to_owned();
    if login.is_empty() {
        return Err(GithubError::Refused {
            web: cfg.web_url.clone(),
            cause: "/user answered without a login".into(),
        });
    }
    let orgs = pages(&http, &format!("{}/user/orgs", cfg.api_url), &headers).await?;
    let teams = pages(&http, &format!("{}/user/teams", cfg.api_url), &headers).await?;
    let org_names: Vec<String> = orgs
        .iter()
        .filter_map(|o| o["login"].as_str().map(str::to_owned))
        .collect();
    let team_list: Vec<(String, String, String)> = teams
        .iter()
        .filter_map(|t| {
            Some((
                t["organization"]["login"].as_str()?.to_owned(),
                t["name"].as_str().unwrap_or_default().to_owned(),
                t["slug"].as_str().unwrap_or_default().to_owned(),
            ))
        })
        .collect();
    let groups = groups(cfg, &login, &org_names, &team_list)?;
    let id = user["id"]
        .as_i64()
        .map(|i| i.to_string())
        .unwrap_or_default();
    let mut extra = BTreeMap::new();
    if let Some(e) = user["email"].as_str().filter(|e| !e.is_empty()) {
        extra.insert("email".to_owned(), e.to_owned());
    }
    Ok(Identity {
        subject: if cfg.use_login_as_id || id.is_empty() {
            login.clone()
        } else {
            id
        },
        name: login,
        groups,
        extra,
    })
}

async fn exchange(
    cfg: &GithubConfig,
    http: &HttpClient,
    redirect_uri: &str,
    code: &str,
) -> Result<Sensitive<String>, GithubError> {
    let url = format!("{}/login/oauth/access_token", cfg.web_url);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &cfg.client_id)
        .append_pair("client_secret", cfg.client_secret.expose())
        .append_pair("code", code)
        .append_pair("redirect_uri", redirect_uri)
        .finish();
    let req = http::Request::post(&url)
        .header(http::header::ACCEPT, "application/json")
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::USER_AGENT, "ferry")
        .body(body.into_bytes())
        .map_err(|e| GithubError::Refused {
            web: cfg.web_url.clone(),
            cause: e.to_string(),
        })?;
    let v = json_of(&url, http.send(req).await?)?;
    // GitHub answers 200 with `error` for a bad code.
    if let Some(e) = v["error"].as_str() {
        return Err(GithubError::Refused {
            web: cfg.web_url.clone(),
            cause: format!(
                "{e}: {}",
                v["error_description"].as_str().unwrap_or_default()
            ),
        });
    }
    v["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(|t| Sensitive::new(t.to_owned()))
        .ok_or_else(|| GithubError::Refused {
            web: cfg.web_url.clone(),
            cause: "the token answer has no access_token".into(),
        })
}

/// Every item of a paged list (100 a page, at most 10 pages).
async fn pages(
    http: &HttpClient,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<Vec<Value>, GithubError> {
    let mut out = Vec::new();
    for page in 1..=10 {
        let v = http
            .get_json(&format!("{url}?per_page=100&page={page}"), headers)
            .await?;
        let items = v.as_array().cloned().unwrap_or_default();
        let n = items.len();
        out.extend(items);
        if n < 100 {
            break;
        }
    }
    Ok(out)
}

/// The groups of a user in `orgs` with `teams` (org, name, slug), as dex makes them.
pub fn groups(
    cfg: &GithubConfig,
    login: &str,
    orgs: &[String],
    teams: &[(String, String, String)],
) -> Result<Vec<String>, GithubError> {
    let team_groups = |org: &str, filter: &[String]| -> Vec<String> {
        let mut out = Vec::new();
        for (o, name, slug) in teams.iter().filter(|(o, _, _)| o.eq_ignore_ascii_case(org)) {
            if !filter.is_empty()
                && !filter
                    .iter()
                    .any(|f| f.eq_ignore_ascii_case(name) || f.eq_ignore_ascii_case(slug))
            {
                continue;
            }
            match cfg.team_name {
                TeamName::Name => out.push(format!("{o}:{name}")),
                TeamName::Slug => out.push(format!("{o}:{slug}")),
                TeamName::Both => {
                    out.push(format!("{o}:{name}"));
                    if slug != name {
                        out.push(format!("{o}:{slug}"));
                    }
                }
            }
        }
        out
    };
    let mut groups = Vec::new();
    if cfg.load_all_groups || cfg.orgs.is_empty() {
        if cfg.load_all_groups {
            for o in orgs {
                groups.push(o.clone());
                groups.extend(team_groups(o, &[]));
            }
        }
        return Ok(groups);
    }
    let mut member = false;
    for want in &cfg.orgs {
        let Some(org) = orgs.iter().find(|o| o.eq_ignore_ascii_case(&want.name)) else {
            continue;
        };
        if want.teams.is_empty() {
            member = true;
            groups.push(org.clone());
            groups.extend(team_groups(org, &[]));
        } else {
            let t = team_groups(org, &want.teams);
            if !t.is_empty() {
                member = true;
                groups.extend(t);
            }
        }
    }
    if !member {
        return Err(GithubError::NotInOrgs {
            login: login.to_owned(),
            orgs: cfg
                .orgs
                .iter()
                .map(|o| {
                    if o.teams.is_empty() {
                        o.name.clone()
                    } else {
                        format!("{} teams {}", o.name, o.teams.join(", "))
                    }
                })
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    groups.dedup();
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::settings::GithubOrg;

    fn cfg(orgs: Vec<GithubOrg>, team_name: TeamName, all: bool) -> GithubConfig {
        GithubConfig {
            id: "github".into(),
            name: "GitHub".into(),
            client_id: "id".into(),
            client_secret: Sensitive::new("secret".into()),
            orgs,
            web_url: "https://github.com".into(),
            api_url: "https://api.github.com".into(),
            team_name,
            load_all_groups: all,
            use_login_as_id: false,
            root_ca: None,
        }
    }

    fn teams() -> Vec<(String, String, String)> {
        vec![
            (
                "acme".into(),
                "Platform Team".into(),
                "platform-team".into(),
            ),
            ("acme".into(), "SRE".into(), "sre".into()),
            ("other".into(), "x".into(), "x".into()),
        ]
    }

    #[test]
    fn groups_follow_dex_within_the_configured_orgs() {
        let orgs = vec!["acme".to_owned(), "other".to_owned()];
        let c = cfg(
            vec![GithubOrg {
                name: "acme".into(),
                teams: vec!["sre".into()],
            }],
            TeamName::Slug,
            false,
        );
        assert_eq!(
            groups(&c, "alice", &orgs, &teams()).expect("member"),
            ["acme:sre"]
        );
        let c = cfg(
            vec![GithubOrg {
                name: "acme".into(),
                teams: vec![],
            }],
            TeamName::Name,
            false,
        );
        assert_eq!(
            groups(&c, "alice", &orgs, &teams()).expect("member"),
            ["acme", "acme:Platform Team", "acme:SRE"]
        );
        let c = cfg(
            vec![GithubOrg {
                name: "acme".into(),
                teams: vec!["dev".into()],
            }],
            TeamName::Slug,
            false,
        );
        let e = groups(&c, "mallory", &orgs, &teams()).expect_err("not in dev");
        assert!(e.to_string().contains("mallory is not a member"), "{e}");
        let c = cfg(vec![], TeamName::Both, true);
        let all = groups(&c, "alice", &orgs, &teams()).expect("all");
        assert!(
            all.contains(&"acme:platform-team".to_owned()) && all.contains(&"other".to_owned())
        );
        assert!(
            groups(&cfg(vec![], TeamName::Name, false), "a", &orgs, &teams())
                .expect("ok")
                .is_empty()
        );
    }

    #[test]
    fn the_authorize_url_carries_the_app_and_the_state() {
        let c = cfg(vec![], TeamName::Name, false);
        let u = authorize_url(&c, "https://ferry.example.com/auth/callback", "st4te");
        assert!(
            u.starts_with("https://github.com/login/oauth/authorize?client_id=id&"),
            "{u}"
        );
        assert!(u.contains("state=st4te") && u.contains("read%3Aorg"), "{u}");
        assert!(!u.contains("secret"), "{u}");
    }
}
