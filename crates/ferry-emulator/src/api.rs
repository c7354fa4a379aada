//! The HTTP front of one cluster: faults, authentication (bearer tokens of the configured
//! users, then EKS tokens on an EKS cluster), routing, authorization, and dispatch to reads,
//! writes and deletes.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body as HttpBody;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};

use crate::auth::{Attributes, User, authorize, forbidden_message};
use crate::cluster::ClusterInner;
use crate::delete::{DeleteOptions, delete, delete_collection};
use crate::discovery;
use crate::read;
use crate::route::{Params, Route, Target, route};
use crate::status::{ApiError, ApiResult};
use crate::table;
use crate::write::{Body, WriteRequest, write};

/// Largest request body accepted (the API server's limit is 3 MiB for objects).
const MAX_BODY: usize = 3 * 1024 * 1024;

fn json_response(code: u16, v: &Value, content_type: &str) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, content_type)
        .body(HttpBody::from(body))
        .unwrap_or_default()
}

pub fn error_response(e: &ApiError) -> Response {
    if e.plain {
        return Response::builder()
            .status(StatusCode::from_u16(e.code).unwrap_or(StatusCode::NOT_FOUND))
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(HttpBody::from(e.message.clone()))
            .unwrap_or_default();
    }
    let mut r = json_response(e.code, &e.to_status(), "application/json");
    if let Some(s) = e.retry_after
        && let Ok(v) = s.to_string().parse()
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

fn injected(code: u16) -> ApiError {
    let (reason, message) = match code {
        429 => (
            Some("TooManyRequests"),
            "the server has received too many requests and has asked us to try again later",
        ),
        500 => (
            Some("InternalError"),
            "an error on the server (\"injected fault\") has prevented the request from succeeding",
        ),
        503 => (
            Some("ServiceUnavailable"),
            "the server is currently unable to handle the request",
        ),
        _ => (None, "injected fault"),
    };
    let mut e = ApiError::new(code, reason, message);
    if code == 429 {
        e.retry_after = Some(1);
    }
    e
}

/// Answers one request.
pub async fn handle(cluster: Arc<ClusterInner>, req: Request<HttpBody>) -> Response {
    let latency = cluster.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(code) = cluster.faults.take_failure() {
        return error_response(&injected(code));
    }
    let (parts, body) = req.into_parts();
    cluster
        .stats
        .count(parts.method.as_str(), parts.uri.path(), parts.uri.query());
    let auth = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let user = cluster.lock().users.authenticate(auth).cloned();
    let user = match user {
        Some(u) => Some(u),
        None => crate::eks_auth::authenticate(&cluster, auth).await,
    };
    let Some(user) = user else {
        return error_response(&ApiError::unauthorized());
    };
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return error_response(&ApiError::bad_request(format!("reading request body: {e}")));
        }
    };
    if body.len() > MAX_BODY {
        return error_response(&ApiError::new(
            413,
            Some("RequestEntityTooLarge"),
            "Request entity too large: limit is 3145728",
        ));
    }
    let params = Params::parse(parts.uri.query());
    match serve(
        &cluster,
        &user,
        &parts.method,
        parts.uri.path(),
        &parts.headers,
        &params,
        body,
    ) {
        Ok(Served::Json(code, v, ct)) => json_response(code, &v, ct),
        Ok(Served::Stream(body)) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::TRANSFER_ENCODING, "chunked")
            .body(body)
            .unwrap_or_default(),
        Err(e) => error_response(&e),
    }
}

enum Served {
    Json(u16, Value, &'static str),
    Stream(HttpBody),
}

fn ok(v: Value) -> ApiResult<Served> {
    Ok(Served::Json(200, v, "application/json"))
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> &str {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn serve(
    cluster: &Arc<ClusterInner>,
    user: &User,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    params: &Params,
    body: Bytes,
) -> ApiResult<Served> {
    let accept = header_str(headers, header::ACCEPT);
    let route = {
        let state = cluster.lock();
        route(path, &state.registry)?
    };
    let aggregated =
        discovery::wants_aggregated(accept).filter(|_| cluster.config.aggregated_discovery);
    let state = || cluster.lock();
    match route {
        Route::Version => ok(discovery::version(&cluster.config.kubernetes_version)),
        Route::Health => Ok(Served::Json(200, json!("ok"), "application/json")),
        Route::CoreVersions | Route::Groups if aggregated.is_some() => {
            let version = aggregated.unwrap_or("v2");
            let core = route == Route::CoreVersions;
            Ok(Served::Json(
                200,
                discovery::aggregated(&state().registry, core, version),
                discovery::aggregated_content_type(version),
            ))
        }
        Route::CoreVersions => ok(discovery::core_versions(header_str(headers, header::HOST))),
        Route::Groups => ok(discovery::groups(&state().registry)),
        Route::Group(g) => ok(discovery::group(&state().registry, &g)),
        Route::ResourceList(g, v) => ok(discovery::resource_list(&state().registry, &g, &v)),
        Route::OpenApiV2 => ok(discovery::openapi_v2(&cluster.config.kubernetes_version)),
        Route::OpenApiV3(None) => ok(discovery::openapi_v3_root(&state().registry)),
        Route::OpenApiV3(Some((g, v))) => {
            discovery::openapi_v3_group_version(&state().registry, &g, &v)
                .map(ok)
                .unwrap_or_else(|| Err(ApiError::page_not_found()))
        }
        Route::Resource(t) => resource(cluster, user, method, headers, params, body, &t),
    }
}

fn verb(method: &Method, t: &Target, params: &Params) -> ApiResult<&'static str> {
    Ok(match (method.as_str(), t.name.is_some()) {
        ("GET", _) if params.flag("watch") => "watch",
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", true) => "update",
        ("PATCH", true) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => {
            return Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            ));
        }
    })
}

fn parse_body(body: &[u8], content_type: &str) -> ApiResult<Value> {
    if content_type.contains("yaml") {
        let text = std::str::from_utf8(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
        return serde_saphyr::from_str::<Value>(text).map_err(|e| {
            ApiError::bad_request(format!(
                "error decoding YAML: error converting YAML to JSON: yaml: {e}"
            ))
        });
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("json: {e}")))
}

fn resource(
    cluster: &Arc<ClusterInner>,
    user: &User,
    method: &Method,
    headers: &HeaderMap,
    params: &Params,
    body: Bytes,
    t: &Target,
) -> ApiResult<Served> {
    let verb = verb(method, t, params)?;
    let rt = {
        let state = cluster.lock();
        state
            .registry
            .find(&t.group, &t.version, &t.plural)
            .cloned()
    }
    .ok_or_else(ApiError::page_not_found)?;
    if let Some(sub) = &t.sub
        && !rt.subresources.iter().any(|s| s == sub)
    {
        return Err(ApiError::page_not_found());
    }
    let resource_name = match &t.sub {
        Some(s) => format!("{}/{}", t.plural, s),
        None => t.plural.clone(),
    };
    let name = t.name.as_deref().unwrap_or_default();
    // A cluster-scoped collection read across namespaces, or a namespaced object.
    let ns = if rt.namespaced {
        t.namespace.as_deref()
    } else {
        None
    };
    let attrs = Attributes {
        verb,
        group: &t.group,
        resource: &resource_name,
        namespace: ns.unwrap_or_default(),
        name,
    };
    let review = t.group == "authorization.k8s.io"
        && matches!(
            t.plural.as_str(),
            "selfsubjectaccessreviews" | "selfsubjectrulesreviews"
        );
    if !review && !authorize(&cluster.lock().store, user, &attrs) {
        let mut details = json!({"kind": t.plural});
        if !name.is_empty() {
            details["name"] = json!(name);
        }
        if !t.group.is_empty() {
            details["group"] = json!(t.group);
        }
        return Err(
            ApiError::new(403, Some("Forbidden"), forbidden_message(user, &attrs))
                .with_details(details),
        );
    }
    let content_type = header_str(headers, header::CONTENT_TYPE);
    let manager = params
        .get("fieldManager")
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let ua = header_str(headers, header::USER_AGENT);
            let m = ua.split('/').next().unwrap_or_default();
            if m.is_empty() {
                "unknown".to_owned()
            } else {
                m.chars().take(128).collect()
            }
        });
    let req = WriteRequest {
        rt: &rt,
        namespace: ns,
        name: t.name.as_deref(),
        sub: t.sub.as_deref(),
        params,
        manager,
    };
    let accept = header_str(headers, header::ACCEPT);
    match verb {
        "get" => {
            let obj = read::get(cluster, &rt, ns, name)?;
            if table::wants_table(accept) {
                return ok(table::table(&rt, std::slice::from_ref(&obj), None, params));
            }
            ok(obj)
        }
        "list" => {
            let list = read::list(cluster, &rt, ns, params)?;
            if table::wants_table(accept) {
                let items: Vec<Value> = list["items"].as_array().cloned().unwrap_or_default();
                return ok(table::table(&rt, &items, list.get("metadata"), params));
            }
            ok(list)
        }
        "watch" => {
            let body = read::watch(
                cluster.clone(),
                rt.clone(),
                ns.map(str::to_owned),
                params,
                Duration::from_secs(60),
            )?;
            Ok(Served::Stream(body))
        }
        "create" if review => {
            let obj = parse_body(&body, content_type)?;
            Ok(Served::Json(
                201,
                crate::review::self_subject_access_review(cluster, user, &rt, obj, &req.manager)?,
                "application/json",
            ))
        }
        "create" => {
            let obj = parse_body(&body, content_type)?;
            let (code, v) = write(cluster, &req, Body::Create(obj))?;
            Ok(Served::Json(code, v, "application/json"))
        }
        "update" => {
            let obj = parse_body(&body, content_type)?;
            let (code, v) = write(cluster, &req, Body::Replace(obj))?;
            Ok(Served::Json(code, v, "application/json"))
        }
        "patch" => {
            let ct = content_type.split(';').next().unwrap_or_default().trim();
            let body = if ct == "application/apply-patch+yaml" {
                Body::Apply(parse_body(&body, "yaml")?)
            } else {
                let kind = ferry_kube_patch::PatchKind::from_content_type(ct).ok_or_else(|| {
                    ApiError::unsupported_media_type(format!(
                        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml{}",
                        if rt.custom.is_none() { ", application/strategic-merge-patch+json" } else { "" }
                    ))
                })?;
                Body::Patch(kind, body.to_vec())
            };
            let (code, v) = write(cluster, &req, body)?;
            Ok(Served::Json(code, v, "application/json"))
        }
        "delete" => {
            let opts = DeleteOptions::parse(&body, params)?;
            let (code, v) = delete(cluster, &rt, ns, name, &opts)?;
            Ok(Served::Json(code, v, "application/json"))
        }
        "deletecollection" => {
            let opts = DeleteOptions::parse(&body, params)?;
            let (code, v) = delete_collection(cluster, &rt, ns, params, &opts)?;
            Ok(Served::Json(code, v, "application/json"))
        }
        _ => Err(ApiError::method_not_allowed("unsupported verb")),
    }
}
