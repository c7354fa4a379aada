//! `ferry login --sso`: sign in with a browser through the server's identity provider,
//! without the provider ever talking to the CLI. The CLI waits on `127.0.0.1:PORT`, sends the
//! browser to the server's `/auth/login` with that port, a PKCE challenge and a state; the
//! server runs the provider's flow and redirects the browser back to
//! `http://127.0.0.1:PORT/callback` with a one-minute code, which only the holder of the
//! verifier (this process) can trade for a session (`POST /api/v1/session/exchange`).

use std::time::Duration;

use anyhow::{Context as _, bail};
use axum::extract::{Query, State};
use axum::response::Html;
use base64::Engine as _;
use ferry_core::Sensitive;
use serde::Deserialize;
use sha2::Digest as _;
use tokio::sync::mpsc;

use crate::remote::{Remote, Tls};

/// How long the browser has.
const WAIT: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
}

fn random_token() -> String {
    // 256 bits from two v4 UUIDs (the OS's randomness), in PKCE's alphabet.
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The challenge of `verifier` (RFC 7636 `S256`).
pub fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

/// Waits for the browser and trades its code for a session token.
pub async fn sign_in(
    url: &str,
    tls: &Tls,
    provider: Option<&str>,
    port: u16,
    open_browser: bool,
) -> anyhow::Result<Sensitive<String>> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("listening on 127.0.0.1:{port} for the browser to come back"))?;
    let port = listener.local_addr().context("the loopback port")?.port();
    if port < 1024 {
        bail!("--sso-port must be 1024 or more");
    }
    let verifier = random_token();
    let state = random_token();
    let (tx, mut rx) = mpsc::channel::<(String, String)>(1);
    let app = axum::Router::new()
        .route(
            "/callback",
            axum::routing::get(
                |State(tx): State<mpsc::Sender<(String, String)>>, Query(q): Query<Callback>| async move {
                    match (q.code, q.state) {
                        (Some(code), Some(state)) => {
                            let _ = tx.send((code, state)).await;
                            Html("<!doctype html><title>Ferry</title><h1>Signed in</h1><p>You can close this window and go back to the terminal.</p>")
                        }
                        _ => Html("<!doctype html><title>Ferry</title><h1>Sign-in failed</h1><p>The answer had no code; see the terminal.</p>"),
                    }
                },
            ),
        )
        .with_state(tx);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await;
    });
    let mut login = url::Url::parse(&format!("{}/auth/login", url.trim_end_matches('/')))
        .with_context(|| format!("{url} is not a URL"))?;
    {
        let mut q = login.query_pairs_mut();
        if let Some(p) = provider {
            q.append_pair("provider", p);
        }
        q.append_pair("cli_port", &port.to_string())
            .append_pair("cli_challenge", &challenge(&verifier))
            .append_pair("cli_state", &state);
    }
    eprintln!("Open this URL in a browser to sign in (waiting up to 5 minutes):\n\n  {login}\n");
    if open_browser {
        for opener in ["xdg-open", "open"] {
            if std::process::Command::new(opener)
                .arg(login.as_str())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .is_ok()
            {
                break;
            }
        }
    }
    let got = tokio::time::timeout(WAIT, rx.recv()).await;
    let _ = stop_tx.send(());
    let _ = server.await;
    let (code, got_state) = match got {
        Ok(Some(v)) => v,
        Ok(None) => bail!("the loopback listener stopped before the browser came back"),
        Err(_) => bail!("no sign-in within 5 minutes; run `ferry login --sso` again"),
    };
    if got_state != state {
        bail!("the browser came back with another sign-in's state; run `ferry login --sso` again");
    }
    let remote = Remote::new(url, None, tls)?;
    let answer = remote
        .post_json(
            "session/exchange",
            &serde_json::json!({"code": code, "verifier": verifier}),
        )
        .await
        .with_context(|| format!("trading the sign-in code at {url}"))?;
    match answer["token"].as_str() {
        Some(t) if !t.is_empty() => Ok(Sensitive::new(t.to_owned())),
        _ => bail!("{url} answered the code exchange without a session"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_rfc_7636_s256() {
        // The verifier of RFC 7636 appendix B, its challenge computed by Python's hashlib.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWT4XkG0"),
            "FN2awJi5ir6uGWZp4sqZD1d4BbqNxla6ALauJPVXdT4"
        );
        let v = random_token();
        assert_eq!(v.len(), 64);
        assert_ne!(v, random_token());
    }
}
