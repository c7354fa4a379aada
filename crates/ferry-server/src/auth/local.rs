//! The local `admin` account, for bootstrap: its password hashed with argon2id (a PHC string
//! in `ferry-secret`'s `admin.password`), the server's signing key beside it, both made at
//! the first start when missing; the generated first password is left in
//! `ferry-initial-admin-secret` for the operator to read once and delete (as Argo CD's
//! `argocd-initial-admin-secret`). `admin.enabled: "false"` in `ferry-cm` turns the account
//! (password and admin token) off.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, password_hash::rand_core::OsRng};
use base64::Engine as _;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::json;

use super::settings::{INITIAL_ADMIN_SECRET, SECRET};
use super::tokens::random;

/// The local account's name.
pub const ADMIN: &str = "admin";

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("hashing the password: {0}")]
    Hash(String),
    #[error(
        "{SECRET} admin.password is not an argon2 hash ({0}); set one made by `ferry admin hash-password`"
    )]
    BadHash(String),
    #[error("the Secret {namespace}/{name}: {cause}")]
    Secret {
        namespace: String,
        name: String,
        cause: String,
    },
}

/// An argon2id PHC string of `password`, with a random salt.
pub fn hash_password(password: &str) -> Result<String, LocalError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| LocalError::Hash(e.to_string()))
}

/// Whether `password` is the one `hash` was made of (constant time in the hash's crate).
pub fn verify_password(hash: &str, password: &str) -> Result<bool, LocalError> {
    if hash.starts_with("$2") {
        return Err(LocalError::BadHash(
            "it is a bcrypt hash, as Argo CD's".into(),
        ));
    }
    let parsed = PasswordHash::new(hash).map_err(|e| LocalError::BadHash(e.to_string()))?;
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

fn secrets(client: &kube::Client, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        client.clone(),
        namespace,
        &ferry_cluster::api_resource("", "v1", "Secret", "secrets"),
    )
}

/// Makes what is missing of `ferry-secret`: the signing key, and the admin password (a
/// random one, also written to `ferry-initial-admin-secret`). Several replicas starting at
/// once agree: creation races end in one winner that every loser reads.
pub async fn bootstrap(client: &kube::Client, namespace: &str) -> Result<(), LocalError> {
    let api = secrets(client, namespace);
    let err = |name: &str, cause: String| LocalError::Secret {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        cause,
    };
    let current = api
        .get_opt(SECRET)
        .await
        .map_err(|e| err(SECRET, ferry_cluster::cause(&e)))?;
    let has = |key: &str| {
        current
            .as_ref()
            .and_then(|o| o.data["data"].get(key))
            .and_then(|v| v.as_str())
            .is_some_and(|v| !v.is_empty())
    };
    let mut add = serde_json::Map::new();
    if !has("server.secretkey") {
        add.insert("server.secretkey".into(), json!(random(32)));
    }
    let mut initial = None;
    if !has("admin.password") {
        let password = random(15);
        add.insert("admin.password".into(), json!(hash_password(&password)?));
        add.insert(
            "admin.passwordMtime".into(),
            json!(ferry_core::timestamp::now()),
        );
        initial = Some(password);
    }
    if add.is_empty() {
        return Ok(());
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let data: serde_json::Map<String, serde_json::Value> = add
        .iter()
        .map(|(k, v)| (k.clone(), json!(b64.encode(v.as_str().unwrap_or_default()))))
        .collect();
    match current {
        None => {
            let obj: DynamicObject = serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": SECRET, "namespace": namespace,
                    "labels": {"app.kubernetes.io/part-of": "ferry"}},
                "type": "Opaque", "data": data}))
            .map_err(|e| err(SECRET, e.to_string()))?;
            match api.create(&PostParams::default(), &obj).await {
                Ok(_) => {}
                // Another replica made it first: its key and password stand.
                Err(kube::Error::Api(s)) if s.code == 409 => return Ok(()),
                Err(e) => return Err(err(SECRET, ferry_cluster::cause(&e))),
            }
        }
        Some(o) => {
            // Only the missing keys, guarded by the resourceVersion read.
            let patch = json!({"metadata": {"resourceVersion": o.metadata.resource_version},
                "data": data});
            match api
                .patch(SECRET, &PatchParams::default(), &Patch::Merge(patch))
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 409 => return Ok(()),
                Err(e) => return Err(err(SECRET, ferry_cluster::cause(&e))),
            }
        }
    }
    if let Some(password) = initial {
        let obj: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": INITIAL_ADMIN_SECRET, "namespace": namespace,
                "labels": {"app.kubernetes.io/part-of": "ferry"}},
            "type": "Opaque", "data": {"password": b64.encode(&password)}}))
        .map_err(|e| err(INITIAL_ADMIN_SECRET, e.to_string()))?;
        match api.create(&PostParams::default(), &obj).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {
                api.replace(INITIAL_ADMIN_SECRET, &PostParams::default(), &obj)
                    .await
                    .map_err(|e| err(INITIAL_ADMIN_SECRET, ferry_cluster::cause(&e)))?;
            }
            Err(e) => return Err(err(INITIAL_ADMIN_SECRET, ferry_cluster::cause(&e))),
        }
        tracing::info!(
            secret = %format!("{namespace}/{INITIAL_ADMIN_SECRET}"),
            "made the admin account's first password; read it from the Secret, sign in, and delete the Secret"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_hash_only() {
        let h = hash_password("correct horse").expect("hashed");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains("correct horse"));
        assert!(verify_password(&h, "correct horse").expect("verified"));
        assert!(!verify_password(&h, "Correct horse").expect("verified"));
        assert!(!verify_password(&h, "").expect("verified"));
        let e = verify_password("$2a$10$abcdefghijklmnopqrstuv", "x").expect_err("bcrypt");
        assert!(e.to_string().contains("bcrypt"), "{e}");
        assert!(verify_password("plain", "plain").is_err());
    }
}
