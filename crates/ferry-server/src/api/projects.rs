//! `/api/v1/projects`: the projects a user may read with their roles (tokens as ids and
//! dates, never the tokens), a role's API tokens made (shown once) and revoked, and
//! `/api/v1/account/can-i/RESOURCE/ACTION/OBJECT` for the asking user.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use kube::api::{Patch, PatchParams};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::User;
use crate::auth::projects::projects_api;
use crate::auth::tokens::{Claims, Purpose, now, random};
use crate::error::ApiError;

pub async fn list(
    State(state): State<AppState>,
    axum::Extension(user): axum::Extension<User>,
) -> Json<Value> {
    let items: Vec<Value> = state
        .auth
        .projects()
        .values()
        .filter(|p| state.auth.allows(&user, "projects", "get", &p.name))
        .map(|p| {
            json!({"name": p.name, "roles": p.roles.iter().map(|r| json!({
                "name": r.name, "description": r.description, "policies": r.policies,
                "groups": r.groups, "tokens": r.tokens})).collect::<Vec<_>>()})
        })
        .collect();
    Json(json!({"items": items}))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenRequest {
    /// Lifetime: `30m`, `24h`, `7d`, or seconds; none: the token does not expire.
    #[serde(default)]
    expires_in: Option<String>,
    /// The token's id (default: random).
    #[serde(default)]
    id: Option<String>,
}

/// `30m`, `24h`, `7d`, `3600s` or `3600` → seconds.
pub fn parse_lifetime(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: i64 = num.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(mult).filter(|v| *v > 0)
}

fn role_index(project: &Value, role: &str) -> Option<usize> {
    project["spec"]["roles"]
        .as_array()?
        .iter()
        .position(|r| r["name"] == role)
}

/// `POST /projects/{name}/roles/{role}/token`: a new API token of the role, answered once.
pub async fn create_token(
    State(state): State<AppState>,
    axum::Extension(user): axum::Extension<User>,
    Path((project, role)): Path<(String, String)>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req: TokenRequest = crate::api::body(&body)?;
    let lifetime = match req.expires_in.as_deref().filter(|e| !e.trim().is_empty()) {
        None => None,
        Some(e) => Some(parse_lifetime(e).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "expiresIn {e:?}: expected a lifetime such as 30m, 24h or 7d"
            ))
        })?),
    };
    let id = req.id.unwrap_or_else(|| random(12));
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiError::BadRequest(
            "id: letters, digits, - and _ only, at most 64".into(),
        ));
    }
    let api = projects_api(&state.client, &state.fleet.namespace);
    let current = api
        .get_opt(&project)
        .await
        .map_err(|e| ApiError::from_kube(&format!("reading AppProject {project}"), &e))?
        .ok_or_else(|| ApiError::NotFound(format!("AppProject {project:?} not found")))?;
    let value = serde_json::to_value(&current).unwrap_or(Value::Null);
    let i = role_index(&value, &role).ok_or_else(|| {
        ApiError::NotFound(format!(
            "AppProject {project} has no role {role:?} (spec.roles)"
        ))
    })?;
    let existing = value["spec"]["roles"][i]["jwtTokens"].as_array().cloned();
    if existing
        .iter()
        .flatten()
        .any(|t| t["id"].as_str() == Some(id.as_str()))
    {
        return Err(ApiError::Conflict(format!(
            "role {role} of {project} already has a token {id:?}"
        )));
    }
    let iat = now();
    let exp = lifetime.map(|l| iat + l);
    let claims = Claims {
        sub: format!("proj:{project}:{role}"),
        iat,
        exp,
        jti: Some(id.clone()),
        ..Default::default()
    };
    let token = state
        .auth
        .settings()
        .keys
        .sign(Purpose::ProjectToken, claims)
        .map_err(|e| ApiError::Unprocessable(format!("no token can be made: {e}")))?;
    let entry = json!({"iat": iat, "exp": exp, "id": id});
    let entry = if exp.is_none() {
        json!({"iat": iat, "id": id})
    } else {
        entry
    };
    let rv = current
        .metadata
        .resource_version
        .clone()
        .unwrap_or_default();
    let path = format!("/spec/roles/{i}/jwtTokens");
    let mut ops = vec![
        json!({"op": "test", "path": "/metadata/resourceVersion", "value": rv}),
        json!({"op": "test", "path": format!("/spec/roles/{i}/name"), "value": role}),
    ];
    if existing.is_some() {
        ops.push(json!({"op": "add", "path": format!("{path}/-"), "value": entry}));
    } else {
        ops.push(json!({"op": "add", "path": path, "value": [entry]}));
    }
    let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops))
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    api.patch(&project, &PatchParams::default(), &Patch::<()>::Json(patch))
        .await
        .map_err(|e| match e {
            kube::Error::Api(s) if s.code == 422 || s.code == 409 => {
                ApiError::Conflict(format!("AppProject {project} changed meanwhile: try again"))
            }
            other => ApiError::from_kube(
                &format!("recording the token in AppProject {project}"),
                &other,
            ),
        })?;
    tracing::info!(user = %user.name, %project, %role, token_id = %id, "made a project token");
    Ok((
        StatusCode::CREATED,
        Json(json!({"token": token, "id": id, "iat": iat, "exp": exp,
            "message": "this token is shown once: keep it now"})),
    ))
}

/// `DELETE /projects/{name}/roles/{role}/token/{id}`: the token stops working at once.
pub async fn delete_token(
    State(state): State<AppState>,
    axum::Extension(user): axum::Extension<User>,
    Path((project, role, id)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let api = projects_api(&state.client, &state.fleet.namespace);
    let current = api
        .get_opt(&project)
        .await
        .map_err(|e| ApiError::from_kube(&format!("reading AppProject {project}"), &e))?
        .ok_or_else(|| ApiError::NotFound(format!("AppProject {project:?} not found")))?;
    let value = serde_json::to_value(&current).unwrap_or(Value::Null);
    let i = role_index(&value, &role)
        .ok_or_else(|| ApiError::NotFound(format!("AppProject {project} has no role {role:?}")))?;
    let j = value["spec"]["roles"][i]["jwtTokens"]
        .as_array()
        .and_then(|ts| {
            ts.iter()
                .position(|t| t["id"].as_str() == Some(id.as_str()))
        })
        .ok_or_else(|| {
            ApiError::NotFound(format!("role {role} of {project} has no token {id:?}"))
        })?;
    let rv = current
        .metadata
        .resource_version
        .clone()
        .unwrap_or_default();
    let ops = json!([
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "remove", "path": format!("/spec/roles/{i}/jwtTokens/{j}")},
    ]);
    let patch: json_patch::Patch =
        serde_json::from_value(ops).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    api.patch(&project, &PatchParams::default(), &Patch::<()>::Json(patch))
        .await
        .map_err(|e| {
            ApiError::from_kube(&format!("revoking the token in AppProject {project}"), &e)
        })?;
    tracing::info!(user = %user.name, %project, %role, token_id = %id, "revoked a project token");
    Ok(Json(json!({"revoked": id})))
}

/// `GET /account/can-i/{resource}/{action}/{*object}`: `yes` or `no` for the asking user.
pub async fn can_i(
    State(state): State<AppState>,
    axum::Extension(user): axum::Extension<User>,
    Path((resource, action, object)): Path<(String, String, String)>,
) -> Json<Value> {
    let allowed = state.auth.allows(&user, &resource, &action, &object);
    Json(json!({"value": if allowed { "yes" } else { "no" }}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_read_as_written() {
        assert_eq!(parse_lifetime("30m"), Some(1800));
        assert_eq!(parse_lifetime("24h"), Some(86_400));
        assert_eq!(parse_lifetime("7d"), Some(604_800));
        assert_eq!(parse_lifetime("90"), Some(90));
        for bad in ["", "0", "-1h", "1y", "h", "99999999999999999999d"] {
            assert_eq!(parse_lifetime(bad), None, "{bad}");
        }
    }
}
