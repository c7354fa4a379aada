//! Parsing request paths and query parameters into what the request is about.

use std::collections::HashMap;

use crate::resources::Registry;
use crate::status::{ApiError, ApiResult};

/// Where a request goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    Version,
    Health,
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/{group}`
    Group(String),
    /// `/api/v1`, `/apis/{group}/{version}`
    ResourceList(String, String),
    OpenApiV2,
    /// `/openapi/v3` (root) or `/openapi/v3/api/v1`, `/openapi/v3/apis/{group}/{version}`.
    OpenApiV3(Option<(String, String)>),
    Resource(Target),
}

/// A resource request: `/apis/apps/v1/namespaces/web/deployments/api/status`.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
}

/// Query parameters, decoded.
#[derive(Debug, Clone, Default)]
pub struct Params(pub HashMap<String, String>);

impl Params {
    pub fn parse(query: Option<&str>) -> Self {
        let mut m = HashMap::new();
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            m.insert(dec(k), dec(v));
        }
        Self(m)
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    pub fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true" | "1"))
    }

    pub fn dry_run(&self) -> bool {
        self.get("dryRun") == Some("All")
    }
}

/// Resolves a path against the cluster's registry.
pub fn route(path: &str, registry: &Registry) -> ApiResult<Route> {
    let segs: Vec<&str> = path
        .trim_end_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segs.as_slice() {
        ["version"] => Ok(Route::Version),
        ["healthz" | "readyz" | "livez", ..] => Ok(Route::Health),
        ["openapi", "v2"] => Ok(Route::OpenApiV2),
        ["openapi", "v3"] => Ok(Route::OpenApiV3(None)),
        ["openapi", "v3", "api", v] => Ok(Route::OpenApiV3(Some((String::new(), (*v).to_owned())))),
        ["openapi", "v3", "apis", g, v] => {
            Ok(Route::OpenApiV3(Some(((*g).to_owned(), (*v).to_owned()))))
        }
        ["api"] => Ok(Route::CoreVersions),
        ["apis"] => Ok(Route::Groups),
        ["api", "v1"] => Ok(Route::ResourceList(String::new(), "v1".into())),
        ["apis", g] => {
            if registry.groups().iter().any(|(name, _)| name == g) {
                Ok(Route::Group((*g).to_owned()))
            } else {
                Err(ApiError::page_not_found())
            }
        }
        ["apis", g, v] => {
            if registry.serves(g, v) {
                Ok(Route::ResourceList((*g).to_owned(), (*v).to_owned()))
            } else {
                Err(ApiError::page_not_found())
            }
        }
        ["api", "v1", rest @ ..] => resource("", "v1", rest, registry),
        ["apis", g, v, rest @ ..] => {
            if !registry.serves(g, v) {
                return Err(ApiError::page_not_found());
            }
            resource(g, v, rest, registry)
        }
        _ => Err(ApiError::page_not_found()),
    }
}

fn resource(group: &str, version: &str, rest: &[&str], registry: &Registry) -> ApiResult<Route> {
    let known = |plural: &str| registry.find(group, version, plural);
    let t = |plural: &str, ns: Option<&str>, name: Option<&str>, sub: Option<&str>| {
        Ok(Route::Resource(Target {
            group: group.to_owned(),
            version: version.to_owned(),
            plural: plural.to_owned(),
            namespace: ns.map(str::to_owned),
            name: name.map(str::to_owned),
            sub: sub.map(str::to_owned),
        }))
    };
    let namespaced_plural = |p: &str| known(p).is_some_and(|r| r.namespaced);
    match rest {
        [plural] if known(plural).is_some() => t(plural, None, None, None),
        ["namespaces", ns, plural] if group.is_empty() && namespaced_plural(plural) => {
            t(plural, Some(ns), None, None)
        }
        ["namespaces", ns, plural] if !group.is_empty() && namespaced_plural(plural) => {
            t(plural, Some(ns), None, None)
        }
        ["namespaces", ns, plural, name] if namespaced_plural(plural) => {
            t(plural, Some(ns), Some(name), None)
        }
        ["namespaces", ns, plural, name, sub] if namespaced_plural(plural) => {
            t(plural, Some(ns), Some(name), Some(sub))
        }
        [plural, name] if known(plural).is_some_and(|r| !r.namespaced) => {
            t(plural, None, Some(name), None)
        }
        [plural, name, sub] if known(plural).is_some_and(|r| !r.namespaced) => {
            t(plural, None, Some(name), Some(sub))
        }
        _ => Err(ApiError::page_not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_core_and_group_paths() {
        let r = Registry::builtin();
        let got = route("/api/v1/namespaces/a/configmaps/x", &r).expect("route");
        let Route::Resource(t) = got else {
            panic!("not a resource")
        };
        assert_eq!(
            (t.plural.as_str(), t.namespace.as_deref(), t.name.as_deref()),
            ("configmaps", Some("a"), Some("x"))
        );
        let Ok(Route::Resource(ns)) = route("/api/v1/namespaces/a", &r) else {
            panic!("namespace")
        };
        assert_eq!(
            (ns.plural.as_str(), ns.name.as_deref()),
            ("namespaces", Some("a"))
        );
        let Ok(Route::Resource(st)) = route("/api/v1/namespaces/a/status", &r) else {
            panic!("ns status")
        };
        assert_eq!(st.sub.as_deref(), Some("status"));
        let Ok(Route::Resource(d)) = route("/apis/apps/v1/namespaces/a/deployments/web/status", &r)
        else {
            panic!("deployment status")
        };
        assert_eq!(d.sub.as_deref(), Some("status"));
        assert!(route("/apis/nosuch.example.com/v1", &r).is_err());
        assert_eq!(
            route("/apis/apps/v1", &r).ok(),
            Some(Route::ResourceList("apps".into(), "v1".into()))
        );
    }

    #[test]
    fn decodes_query() {
        let p = Params::parse(Some("labelSelector=tier%20in%20(web,db)&watch=true&x"));
        assert_eq!(p.get("labelSelector"), Some("tier in (web,db)"));
        assert!(p.flag("watch"));
        assert_eq!(p.get("x"), Some(""));
    }
}
