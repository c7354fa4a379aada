//! Installing what Ferry's objects need on the management cluster: the CRDs (waiting until
//! each is Established), Ferry's namespace and the `default` AppProject. Server-side applied
//! as field manager `ferry`, so an upgrade updates them and a second install changes nothing.

use std::time::Duration;

use ferry_cluster::api_resource as ar;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

use crate::RuntimeError;

async fn ensure(
    client: &kube::Client,
    ar: &ApiResource,
    namespace: Option<&str>,
    obj: &Value,
) -> Result<(), kube::Error> {
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    };
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    api.patch(
        name,
        &PatchParams::apply(ferry_api::FIELD_MANAGER).force(),
        &Patch::Apply(obj),
    )
    .await
    .map(|_| ())
}

/// Installs or upgrades the CRDs, Ferry's namespace and the `default` project.
pub async fn install(client: &kube::Client, namespace: &str) -> Result<(), RuntimeError> {
    let crd_ar = ar(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
    );
    for crd in ferry_api::crd::crds() {
        ensure(client, &crd_ar, None, &crd).await?;
    }
    let crds: Api<DynamicObject> = Api::all_with(client.clone(), &crd_ar);
    for crd in ferry_api::crd::crds() {
        let name = crd
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut established = false;
        for _ in 0..100 {
            let c = crds.get(&name).await?;
            let v = serde_json::to_value(&c).unwrap_or(Value::Null);
            established = v
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Established" && c["status"] == "True")
                });
            if established {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !established {
            return Err(RuntimeError::Crds(format!(
                "{name} did not become Established within 10 s"
            )));
        }
    }
    ensure(
        client,
        &ar("", "v1", "Namespace", "namespaces"),
        None,
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
    )
    .await?;
    let project =
        serde_json::to_value(ferry_api::default_project(namespace)).unwrap_or(Value::Null);
    let projects = ar(
        ferry_api::GROUP,
        ferry_api::VERSION,
        "AppProject",
        "appprojects",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &projects);
    if api.get_opt("default").await?.is_none() {
        let obj: DynamicObject =
            serde_json::from_value(project).map_err(|e| RuntimeError::Crds(e.to_string()))?;
        api.create(&PostParams::default(), &obj).await?;
    }
    Ok(())
}
