//! The fake GitHub driven over HTTP as Ferry's server will drive it (no browser).

use super::*;
use crate::http::{Answer, get as http_get, param, post_form, query_of, request};

const CALLBACK: &str = "http://127.0.0.1:9/auth/github/callback";

/// The user `login` authorizes with `scope`: the page, the button, the redirect's code.
async fn authorize(gh: &FakeGitHub, login: &str, scope: &str, extra: &[(&str, &str)]) -> String {
    let mut q = vec![
        ("client_id", "ferry-gh"),
        ("redirect_uri", CALLBACK),
        ("state", "st-1"),
        ("scope", scope),
    ];
    q.extend_from_slice(extra);
    let page = http_get(
        &format!(
            "{}/login/oauth/authorize?{}",
            gh.base_url(),
            form_encode(&q)
        ),
        &[],
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(&format!("id=\"authorize-{login}\"")),
        "a button for {login}: {}",
        page.body
    );
    // What clicking the button submits: the form's hidden fields and the button's value.
    let mut form = q.clone();
    form.push(("login", login));
    let back = post_form(
        &format!("{}/login/oauth/authorize", gh.base_url()),
        &[],
        &form,
    )
    .await;
    assert_eq!(back.status, 302, "{}", back.body);
    let to = back.header("location").unwrap_or_default().to_owned();
    assert!(to.starts_with(CALLBACK), "{to}");
    assert_eq!(param(query_of(&to), "state").as_deref(), Some("st-1"));
    param(query_of(&to), "code").unwrap_or_else(|| panic!("a code: {to}"))
}

async fn exchange(gh: &FakeGitHub, secret: &str, code: &str, accept: Option<&str>) -> Answer {
    let mut headers = Vec::new();
    if let Some(a) = accept {
        headers.push(("accept", a));
    }
    post_form(
        &format!("{}/login/oauth/access_token", gh.base_url()),
        &headers,
        &[
            ("client_id", "ferry-gh"),
            ("client_secret", secret),
            ("code", code),
            ("redirect_uri", CALLBACK),
        ],
    )
    .await
}

async fn api(gh: &FakeGitHub, path: &str, authorization: &str) -> Answer {
    http_get(
        &format!("{}{path}", gh.api_url()),
        &[
            ("authorization", authorization),
            ("accept", "application/vnd.github+json"),
        ],
    )
    .await
}

#[tokio::test]
async fn the_fake_github_signs_users_in_and_answers_their_orgs_teams_and_emails() {
    // Given the fake GitHub with Ferry's OAuth app.
    let gh = FakeGitHub::start(GitHubApp::new("ferry-gh", "gh-secret", CALLBACK)).await;

    // When alice authorizes and the code is exchanged with a wrong secret, then it is
    // refused as GitHub does (200 with an error); with the right one, a token comes back
    // in JSON with the granted scopes.
    let code = authorize(&gh, "alice", "read:org user:email", &[]).await;
    let wrong = exchange(&gh, "not-the-secret", &code, Some("application/json")).await;
    assert_eq!(
        (wrong.status, wrong.json()["error"].clone()),
        (200, json!("incorrect_client_credentials"))
    );
    let ok = exchange(&gh, "gh-secret", &code, Some("application/json"))
        .await
        .json();
    assert_eq!(
        (ok["token_type"].clone(), ok["scope"].clone()),
        (json!("bearer"), json!("read:org,user:email")),
        "{ok}"
    );
    let token = ok["access_token"].as_str().expect("a token").to_owned();
    // The code a second time: refused.
    let again = exchange(&gh, "gh-secret", &code, Some("application/json")).await;
    assert_eq!(again.json()["error"], "bad_verification_code");

    // Then the API answers alice, her org and her teams with their organization, under
    // either authorization scheme.
    let user = api(&gh, "/user", &format!("Bearer {token}")).await;
    assert_eq!(user.status, 200);
    assert_eq!(user.header("x-oauth-scopes"), Some("read:org, user:email"));
    let user = user.json();
    assert_eq!(
        (
            user["login"].clone(),
            user["id"].clone(),
            user["email"].clone()
        ),
        (json!("alice"), json!(1001), json!("alice@example.com"))
    );
    let orgs = api(&gh, "/user/orgs", &format!("token {token}"))
        .await
        .json();
    assert_eq!(
        orgs.as_array()
            .map(|o| o.iter().map(|o| o["login"].clone()).collect::<Vec<_>>()),
        Some(vec![json!("acme")])
    );
    let teams = api(&gh, "/user/teams", &format!("token {token}"))
        .await
        .json();
    let teams: Vec<(String, String, String)> = teams
        .as_array()
        .expect("teams")
        .iter()
        .map(|t| {
            (
                t["organization"]["login"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                t["slug"].as_str().unwrap_or_default().to_owned(),
                t["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        teams,
        [
            ("acme".into(), "platform".into(), "Platform".into()),
            ("acme".into(), "sre".into(), "SRE".into())
        ]
    );
    // A bad token, or none: 401.
    let bad = api(&gh, "/user", "Bearer gho_not-a-token").await;
    assert_eq!(
        (bad.status, bad.json()["message"].clone()),
        (401, json!("Bad credentials"))
    );
    assert_eq!(
        http_get(&format!("{}/user", gh.api_url()), &[])
            .await
            .status,
        401
    );

    // When bob (no public email) authorizes and the code is exchanged without asking for
    // JSON, then the answer is form-encoded; his email is only in /user/emails.
    let code = authorize(&gh, "bob", "read:org user:email", &[]).await;
    let form = exchange(&gh, "gh-secret", &code, None).await;
    assert!(
        form.header("content-type")
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")),
        "{form:?}"
    );
    let token = param(&form.body, "access_token").expect("a token in the form");
    assert_eq!(param(&form.body, "token_type").as_deref(), Some("bearer"));
    assert_eq!(
        api(&gh, "/user", &format!("Bearer {token}")).await.json()["email"],
        Value::Null
    );
    let emails = api(&gh, "/user/emails", &format!("Bearer {token}"))
        .await
        .json();
    assert_eq!(
        emails[0],
        json!({"email": "bob@example.com", "verified": true, "primary": true, "visibility": "private"})
    );
    let teams = api(&gh, "/user/teams", &format!("Bearer {token}"))
        .await
        .json();
    assert_eq!(
        (
            teams[0]["slug"].clone(),
            teams[0]["organization"]["login"].clone()
        ),
        (json!("dev"), json!("acme"))
    );

    // When mallory authorizes without read:org, then her orgs are hidden and teams refused.
    let code = authorize(&gh, "mallory", "", &[]).await;
    let token = exchange(&gh, "gh-secret", &code, Some("application/json"))
        .await
        .json()["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        api(&gh, "/user/orgs", &format!("Bearer {token}"))
            .await
            .json(),
        json!([])
    );
    assert_eq!(
        api(&gh, "/user/teams", &format!("Bearer {token}"))
            .await
            .status,
        403
    );
    assert_eq!(
        api(&gh, "/user/emails", &format!("Bearer {token}"))
            .await
            .status,
        404
    );

    // When a code expires before it is exchanged, then it is refused.
    let code = authorize(&gh, "mallory", "read:org", &[]).await;
    gh.expire_codes();
    assert_eq!(
        exchange(&gh, "gh-secret", &code, Some("application/json"))
            .await
            .json()["error"],
        "bad_verification_code"
    );

    // When a code was asked for with PKCE, then only the right verifier redeems it.
    let verifier = "a-verifier-of-at-least-forty-three-characters-0123";
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    use base64::Engine as _;
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    let pkce = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let code = authorize(&gh, "alice", "read:org", &pkce).await;
    let body = json!({"client_id": "ferry-gh", "client_secret": "gh-secret", "code": code, "code_verifier": "wrong"}).to_string();
    let json_headers = [
        ("content-type", "application/json"),
        ("accept", "application/json"),
    ];
    let url = format!("{}/login/oauth/access_token", gh.base_url());
    assert_eq!(
        request("POST", &url, &json_headers, Some(body))
            .await
            .json()["error"],
        "bad_verification_code"
    );
    let code = authorize(&gh, "alice", "read:org", &pkce).await;
    let body = json!({"client_id": "ferry-gh", "client_secret": "gh-secret", "code": code, "code_verifier": verifier}).to_string();
    assert!(
        request("POST", &url, &json_headers, Some(body))
            .await
            .json()["access_token"]
            .is_string()
    );

    // When a redirect_uri off the registered callback is asked for, then GitHub sends the
    // browser to the callback with redirect_uri_mismatch.
    let off = http_get(
        &format!(
            "{}/login/oauth/authorize?{}",
            gh.base_url(),
            form_encode(&[
                ("client_id", "ferry-gh"),
                ("redirect_uri", "http://evil.example/cb"),
                ("state", "s")
            ])
        ),
        &[],
    )
    .await;
    assert!(
        off.header("location")
            .is_some_and(|l| l.starts_with(CALLBACK) && l.contains("error=redirect_uri_mismatch")),
        "{off:?}"
    );

    // When tokens are revoked, then the API says 401.
    gh.revoke_tokens();
    assert_eq!(
        api(&gh, "/user", &format!("Bearer {token}")).await.status,
        401
    );

    // And every call was counted.
    assert_eq!(gh.calls(Endpoint::Authorize), 7);
    assert_eq!(gh.calls(Endpoint::AccessToken), 8);
    assert_eq!(
        (
            gh.calls(Endpoint::User),
            gh.calls(Endpoint::Orgs),
            gh.calls(Endpoint::Teams),
            gh.calls(Endpoint::Emails)
        ),
        (5, 2, 3, 2)
    );
}

#[test]
fn a_redirect_uri_matches_as_on_github() {
    let cb = "https://ferry.example/auth/github/callback";
    assert!(redirect_allowed(cb, cb));
    assert!(redirect_allowed(
        cb,
        "https://ferry.example/auth/github/callback/more"
    ));
    assert!(!redirect_allowed(
        cb,
        "https://ferry.example/auth/github/callbackx"
    ));
    assert!(!redirect_allowed(
        cb,
        "https://ferry.example:8443/auth/github/callback"
    ));
    assert!(!redirect_allowed(
        cb,
        "http://ferry.example/auth/github/callback"
    ));
    assert!(redirect_allowed(
        "http://127.0.0.1/callback",
        "http://127.0.0.1:5555/callback"
    ));
}
