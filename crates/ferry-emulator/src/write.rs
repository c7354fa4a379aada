//! Writes: create, replace, patch and server-side apply, through one pipeline that does what
//! an API server does in order: decode, default, track managed fields, run the kind's strategy,
//! validate, and store (or, for `dryRun=All`, only answer).

use ferry_fieldpath::{ApplyError, ManagedFields, Scope, Writer, conflict_message};
use serde_json::{Value, json};

use crate::cluster::{ClusterInner, State};
use crate::hooks;
use crate::kinds;
use crate::read::present;
use crate::resources::ResourceType;
use crate::route::Params;
use crate::status::{ApiError, ApiResult, Cause};
use crate::validate;

/// What the client sent.
#[derive(Debug)]
pub enum Body {
    /// `POST`
    Create(Value),
    /// `PUT`
    Replace(Value),
    /// `PATCH` with a JSON, merge or strategic-merge patch.
    Patch(ferry_kube_patch::PatchKind, Vec<u8>),
    /// `PATCH` with `application/apply-patch+yaml`.
    Apply(Value),
}

/// Where the write goes and who makes it.
#[derive(Debug)]
pub struct WriteRequest<'a> {
    pub rt: &'a ResourceType,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
    pub sub: Option<&'a str>,
    pub params: &'a Params,
    /// The field manager (from `fieldManager`, else the client's user agent).
    pub manager: String,
}

pub fn now() -> String {
    let t = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn generated_name(prefix: &str) -> String {
    const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let bytes = *uuid::Uuid::new_v4().as_bytes();
    let suffix: String = bytes
        .iter()
        .take(5)
        .map(|b| CHARS[*b as usize % CHARS.len()] as char)
        .collect();
    format!("{prefix}{suffix}")
}

fn rv_of(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Everything but metadata and status: what bumps `metadata.generation`.
fn spec_part(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    o
}

/// Identity and bookkeeping metadata an update cannot change.
fn carry_metadata(old: &Value, new: &mut Value) {
    for key in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "name",
        "namespace",
    ] {
        let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut) else {
            return;
        };
        match old.pointer(&format!("/metadata/{key}")) {
            Some(v) => meta.insert(key.to_owned(), v.clone()),
            None => meta.remove(key),
        };
    }
}

/// For a status write, everything but `status` stays as it was.
fn only_status(old: &Value, new: &Value) -> Value {
    let mut out = old.clone();
    if let Some(m) = out.as_object_mut() {
        match new.get("status") {
            Some(s) => m.insert("status".into(), s.clone()),
            None => m.remove("status"),
        };
    }
    out
}

/// What the API server answers when an apply patch cannot be converted to its typed form
/// (a 500 without a reason, as recorded): `why` names the path and the cause.
fn typed_patch_error(rt: &ResourceType, config: &Value, why: &str) -> ApiError {
    let m = &config["metadata"];
    let at = format!(
        "{}/{}",
        m["namespace"].as_str().unwrap_or_default(),
        m["name"].as_str().unwrap_or_default()
    );
    let gv = format!("{}, Kind={}", rt.api_version(), rt.kind);
    ApiError::new(
        500,
        None,
        format!("failed to create typed patch object ({at}; {gv}): {why}"),
    )
}

fn decode_type_error(rt: &ResourceType, obj: &Value, apply: bool) -> ApiResult<()> {
    if apply && let Some(path) = kinds::undeclared_field(rt, obj) {
        return Err(typed_patch_error(
            rt,
            obj,
            &format!("{path}: field not declared in schema"),
        ));
    }
    let Some(e) = kinds::type_error(rt, obj) else {
        return Ok(());
    };
    if apply {
        return Err(typed_patch_error(
            rt,
            obj,
            &format!("{}: expected {}, got {}", e.path, e.expected, e.got),
        ));
    }
    Err(ApiError::bad_request(format!(
        "{kind} in version \"{v}\" cannot be handled as a {kind}: json: cannot unmarshal {got} into Go struct field {path} of type {exp}",
        kind = rt.kind,
        v = rt.version,
        got = e.got,
        path = e.path.trim_start_matches('.'),
        exp = e.expected,
    )))
}

/// The common path of a replace and a patch: the new object must match the URL and the
/// resourceVersion it names, is type-checked and defaulted, keeps everything but its status
/// when written through `/status`, and then has its managed fields tracked by `track`.
fn updated(
    req: &WriteRequest<'_>,
    old: &Value,
    mut obj: Value,
    scope: Scope,
    track: impl FnOnce(&Value),
) -> ApiResult<Value> {
    let rt = req.rt;
    validate::identity(&mut obj, rt, false)?;
    validate::placement(&mut obj, req.name, req.namespace, rt)?;
    if let Some(rv) = rv_of(&obj)
        && Some(rv) != rv_of(old)
    {
        return Err(ApiError::stale(
            &rt.plural,
            &rt.group,
            req.name.unwrap_or_default(),
        ));
    }
    decode_type_error(rt, &obj, false)?;
    kinds::apply_defaults(rt, &mut obj);
    if scope == Scope::OnlyStatus {
        obj = only_status(old, &obj);
    }
    track(&obj);
    Ok(obj)
}

/// Runs one write. Answers `(status code, object)`.
pub fn write(
    cluster: &ClusterInner,
    req: &WriteRequest<'_>,
    body: Body,
) -> ApiResult<(u16, Value)> {
    let rt = req.rt;
    let res = rt.storage_key();
    let ns = if rt.namespaced {
        req.namespace.unwrap_or_default()
    } else {
        ""
    };
    let mut state = cluster.lock();
    let old = req
        .name
        .and_then(|n| state.store.get(&res, &(ns.to_owned(), n.to_owned())))
        .cloned();
    let scope = match req.sub {
        Some("status") => Scope::OnlyStatus,
        _ if rt.has_status() => Scope::ExceptStatus,
        _ => Scope::All,
    };
    let time = now();
    let api_version = rt.api_version();
    let writer = Writer {
        manager: &req.manager,
        api_version: &api_version,
        subresource: req.sub,
        time: &time,
    };
    let schema = kinds::schema(rt);
    let mut managed = match &old {
        Some(o) => ManagedFields::from_object(o).unwrap_or_default(),
        None => ManagedFields::default(),
    };
    let not_found = |name: &str| ApiError::not_found(&rt.plural, &rt.group, name);

    let mut new = match body {
        Body::Create(mut obj) => {
            validate::identity(&mut obj, rt, true)?;
            validate::placement(&mut obj, None, req.namespace, rt)?;
            let meta = &mut obj["metadata"];
            if meta["name"].as_str().is_none_or(str::is_empty)
                && let Some(prefix) = meta["generateName"].as_str().filter(|p| !p.is_empty())
            {
                meta["name"] = json!(generated_name(prefix));
            }
            let name = obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if state
                .store
                .get(&res, &(ns.to_owned(), name.clone()))
                .is_some()
            {
                return Err(ApiError::already_exists(&rt.plural, &rt.group, &name));
            }
            decode_type_error(rt, &obj, false)?;
            kinds::apply_defaults(rt, &mut obj);
            managed = ManagedFields::default();
            managed.update(None, &kinds::zero(rt), &obj, &writer, scope, &schema);
            obj
        }
        Body::Replace(obj) => {
            let name = req.name.unwrap_or_default();
            let old = old.as_ref().ok_or_else(|| not_found(name))?;
            updated(req, old, obj, scope, |obj| {
                managed.update(Some(old), &Value::Null, obj, &writer, scope, &schema)
            })?
        }
        Body::Patch(kind, bytes) => {
            let name = req.name.unwrap_or_default();
            let old = old.as_ref().ok_or_else(|| not_found(name))?;
            let builtin_kind = if rt.custom.is_none() {
                Some(rt.kind.as_str())
            } else {
                None
            };
            let obj = ferry_kube_patch::apply_patch(kind, builtin_kind, old, &bytes)
                .map_err(|e| ApiError::new(e.code(), Some(e.reason()), e.status_message()))?;
            updated(req, old, obj, scope, |obj| {
                managed.update(Some(old), &Value::Null, obj, &writer, scope, &schema)
            })?
        }
        Body::Apply(mut config) => {
            if req.params.get("fieldManager").is_none_or(str::is_empty) {
                return Err(ApiError::new(
                    422,
                    Some("Invalid"),
                    "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                )
                .with_details(json!({"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
                    {"reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"}
                ]})));
            }
            validate::identity(&mut config, rt, true)?;
            validate::placement(&mut config, req.name, req.namespace, rt)?;
            decode_type_error(rt, &config, true)?;
            if let (Some(rv), Some(old)) = (rv_of(&config), old.as_ref())
                && Some(rv) != rv_of(old)
            {
                return Err(ApiError::stale(
                    &rt.plural,
                    &rt.group,
                    req.name.unwrap_or_default(),
                ));
            }
            let force = req.params.flag("force");
            let live = old.as_deref();
            let mut obj = managed
                .apply(live, &config, &writer, scope, force, &schema)
                .map_err(|e| match e {
                    ApplyError::Conflicts(conflicts) => {
                        let causes: Vec<Value> = conflicts
                            .iter()
                            .map(|c| json!({"reason": "FieldManagerConflict", "message": c.message, "field": c.field}))
                            .collect();
                        ApiError::new(409, Some("Conflict"), conflict_message(&conflicts))
                            .with_details(json!({"causes": causes}))
                    }
                    // What the API server answers when structured-merge-diff cannot merge.
                    ApplyError::Invalid(why) => typed_patch_error(rt, &config, &why),
                })?;
            kinds::apply_defaults(rt, &mut obj);
            if let Some(old) = &old
                && scope == Scope::OnlyStatus
            {
                obj = only_status(old, &obj);
            }
            obj
        }
    };

    let created = old.is_none();
    let name = new
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match &old {
        Some(old) => {
            carry_metadata(old, &mut new);
            if scope != Scope::OnlyStatus {
                kinds::prepare_for_update(rt, old, &mut new);
            }
            if kinds::has_generation(rt) && spec_part(old) != spec_part(&new) {
                let g = old
                    .pointer("/metadata/generation")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                new["metadata"]["generation"] = json!(g + 1);
            }
        }
        None => {
            let meta = &mut new["metadata"];
            meta["uid"] = json!(uuid::Uuid::new_v4().to_string());
            meta["creationTimestamp"] = json!(time);
            if let Some(m) = meta.as_object_mut() {
                m.remove("resourceVersion");
                m.remove("deletionTimestamp");
                m.remove("deletionGracePeriodSeconds");
            }
            if kinds::has_generation(rt) {
                new["metadata"]["generation"] = json!(1);
            } else if let Some(m) = new["metadata"].as_object_mut() {
                m.remove("generation");
            }
            kinds::prepare_for_create(rt, &mut new);
        }
    }
    managed.write_to(&mut new);

    let mut causes: Vec<Cause> = validate::name_causes(rt, &name);
    causes.extend(validate::metadata_causes(&new));
    causes.extend(kinds::schema_causes(rt, &new));
    causes.extend(hooks::validate(rt, &new));
    if !causes.is_empty() {
        return Err(ApiError::invalid(&rt.kind, &rt.group, &name, causes));
    }
    if created && rt.namespaced {
        hooks::check_namespace(&state, rt, ns, &name)?;
    }
    if created {
        hooks::allocate(&mut state, rt, &mut new);
    }

    let code = if created { 201 } else { 200 };
    if req.params.dry_run() {
        if let (Some(old), Some(m)) = (&old, new["metadata"].as_object_mut()) {
            m.insert(
                "resourceVersion".into(),
                old["metadata"]["resourceVersion"].clone(),
            );
        }
        return Ok((code, present(&new, rt)));
    }
    if let Some(old) = &old
        && **old == new_with_rv(&new, old)
    {
        return Ok((200, present(old, rt)));
    }
    let stored = commit(cluster, &mut state, rt, old.as_deref(), new);
    Ok((code, present(&stored, rt)))
}

fn new_with_rv(new: &Value, old: &Value) -> Value {
    let mut n = new.clone();
    if let Some(m) = n["metadata"].as_object_mut() {
        m.insert(
            "resourceVersion".into(),
            old["metadata"]["resourceVersion"].clone(),
        );
    }
    n
}

/// Stores a written object and starts what follows from it (finishing a deletion, the
/// controllers' reactions).
pub fn commit(
    cluster: &ClusterInner,
    state: &mut State,
    rt: &ResourceType,
    old: Option<&Value>,
    new: Value,
) -> Value {
    let res = rt.storage_key();
    let deleting = new.pointer("/metadata/deletionTimestamp").is_some();
    let finalizers_empty = new
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if deleting && finalizers_empty && !(rt.group.is_empty() && rt.plural == "namespaces") {
        let key = crate::store::obj_key(&new);
        let written = state.store.put(&res, new);
        if let Some(gone) = state.store.remove(&res, &key) {
            hooks::after_remove(cluster, state, rt, &gone);
        }
        cluster.wake.notify_one();
        return (*written).clone();
    }
    let stored = state.store.put(&res, new);
    hooks::after_write(cluster, state, rt, old, &stored);
    cluster.wake.notify_one();
    (*stored).clone()
}

/// A write by one of the cluster's own controllers (no authorization, no dry run).
pub fn controller_write(
    cluster: &ClusterInner,
    rt: &ResourceType,
    obj: &Value,
    sub: Option<&str>,
    manager: &str,
) -> ApiResult<Value> {
    let params = Params::default();
    let name = obj.pointer("/metadata/name").and_then(Value::as_str);
    let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str);
    let req = WriteRequest {
        rt,
        namespace: ns,
        name,
        sub,
        params: &params,
        manager: manager.to_owned(),
    };
    let body = serde_json::to_vec(obj).map_err(|e| ApiError::internal(e.to_string()))?;
    write(
        cluster,
        &req,
        Body::Patch(ferry_kube_patch::PatchKind::Merge, body),
    )
    .map(|(_, v)| v)
}
