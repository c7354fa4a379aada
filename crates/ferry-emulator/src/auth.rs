//! Who is asking (bearer tokens) and may they (RBAC over the cluster's own Roles, ClusterRoles
//! and bindings, with `system:masters` allowed everything as on a real server).

use std::collections::HashMap;

use ferry_core::Sensitive;
use serde_json::Value;

use crate::store::Store;

/// A user the cluster knows, with the token that authenticates it.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
    pub token: Sensitive<String>,
}

impl User {
    pub fn new(name: &str, groups: &[&str], token: &str) -> Self {
        Self {
            name: name.to_owned(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            token: Sensitive::new(token.to_owned()),
        }
    }

    pub fn is_master(&self) -> bool {
        self.groups.iter().any(|g| g == "system:masters")
    }
}

/// Tokens to users; revoked tokens answer 401.
#[derive(Debug, Clone, Default)]
pub struct Users {
    by_token: HashMap<String, User>,
}

impl Users {
    pub fn add(&mut self, user: User) {
        self.by_token.insert(user.token.expose().clone(), user);
    }

    pub fn revoke(&mut self, token: &str) -> bool {
        self.by_token.remove(token).is_some()
    }

    pub fn authenticate(&self, authorization: Option<&str>) -> Option<&User> {
        let token = authorization?.strip_prefix("Bearer ")?.trim();
        self.by_token.get(token)
    }
}

/// What a request wants to do, in RBAC's terms.
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    pub verb: &'a str,
    pub group: &'a str,
    /// `deployments` or `deployments/status`.
    pub resource: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
}

fn strs(v: &Value) -> impl Iterator<Item = &str> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str)
}

fn rule_allows(rule: &Value, a: &Attributes<'_>) -> bool {
    let any = |v: &Value, want: &str| strs(v).any(|x| x == "*" || x == want);
    if !any(&rule["verbs"], a.verb) || !any(&rule["apiGroups"], a.group) {
        return false;
    }
    let (base, sub) = match a.resource.split_once('/') {
        Some((b, s)) => (b, Some(s)),
        None => (a.resource, None),
    };
    let resource_ok = strs(&rule["resources"]).any(|r| {
        r == "*"
            || r == a.resource
            || (sub.is_some() && r == format!("*/{}", sub.unwrap_or_default()))
            || (sub.is_none() && r == base && !a.resource.contains('/'))
    });
    if !resource_ok {
        return false;
    }
    let names: Vec<&str> = strs(&rule["resourceNames"]).collect();
    names.is_empty() || names.contains(&a.name)
}

fn subject_matches(subject: &Value, user: &User, binding_ns: &str) -> bool {
    let name = subject["name"].as_str().unwrap_or_default();
    match subject["kind"].as_str() {
        Some("User") => name == user.name,
        Some("Group") => user.groups.iter().any(|g| g == name),
        Some("ServiceAccount") => {
            let ns = subject["namespace"].as_str().unwrap_or(binding_ns);
            user.name == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

/// Whether `user` may do `a`, by the RBAC objects in `store`.
pub fn authorize(store: &Store, user: &User, a: &Attributes<'_>) -> bool {
    if user.is_master() {
        return true;
    }
    let rbac = |plural: &str| ("rbac.authorization.k8s.io".to_owned(), plural.to_owned());
    let role_rules = |kind: &str, name: &str, ns: &str| -> Vec<Value> {
        let (res, key) = if kind == "ClusterRole" {
            (rbac("clusterroles"), (String::new(), name.to_owned()))
        } else {
            (rbac("roles"), (ns.to_owned(), name.to_owned()))
        };
        store
            .get(&res, &key)
            .and_then(|r| r["rules"].as_array().cloned())
            .unwrap_or_default()
    };
    let granted = |binding: &Value, ns: &str, rules_ns: &str| -> bool {
        let bound = binding["subjects"]
            .as_array()
            .is_some_and(|subs| subs.iter().any(|s| subject_matches(s, user, ns)));
        if !bound {
            return false;
        }
        let rr = &binding["roleRef"];
        let rules = role_rules(
            rr["kind"].as_str().unwrap_or_default(),
            rr["name"].as_str().unwrap_or_default(),
            rules_ns,
        );
        rules.iter().any(|r| rule_allows(r, a))
    };
    if store
        .list(&rbac("clusterrolebindings"), None)
        .any(|b| granted(b, "", ""))
    {
        return true;
    }
    !a.namespace.is_empty()
        && store
            .list(&rbac("rolebindings"), Some(a.namespace))
            .any(|b| granted(b, a.namespace, a.namespace))
}

/// The API server's 403 message.
pub fn forbidden_message(user: &User, a: &Attributes<'_>) -> String {
    let subject = if a.name.is_empty() {
        a.resource
            .split('/')
            .next()
            .unwrap_or(a.resource)
            .to_owned()
    } else {
        format!(
            "{} \"{}\"",
            a.resource.split('/').next().unwrap_or(a.resource),
            a.name
        )
    };
    let scope = if a.namespace.is_empty() {
        "at the cluster scope".to_owned()
    } else {
        format!("in the namespace \"{}\"", a.namespace)
    };
    format!(
        "{subject} is forbidden: User \"{}\" cannot {} resource \"{}\" in API group \"{}\" {scope}",
        user.name, a.verb, a.resource, a.group
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs<'a>(verb: &'a str, ns: &'a str) -> Attributes<'a> {
        Attributes {
            verb,
            group: "",
            resource: "configmaps",
            namespace: ns,
            name: "",
        }
    }

    #[test]
    fn role_binding_to_a_group_grants_read_only_in_its_namespace() {
        let mut s = Store::new(100);
        let user = User::new("limited", &["dev"], "t");
        assert!(!authorize(&s, &user, &attrs("list", "a")));
        s.put(
            &("rbac.authorization.k8s.io".into(), "roles".into()),
            json!({"metadata": {"name": "r", "namespace": "a"},
                   "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]}),
        );
        s.put(
            &("rbac.authorization.k8s.io".into(), "rolebindings".into()),
            json!({"metadata": {"name": "b", "namespace": "a"}, "roleRef": {"kind": "Role", "name": "r"},
                   "subjects": [{"kind": "Group", "name": "dev"}]}),
        );
        assert!(authorize(&s, &user, &attrs("list", "a")));
        assert!(!authorize(&s, &user, &attrs("create", "a")));
        assert!(!authorize(&s, &user, &attrs("list", "b")));
        assert_eq!(
            forbidden_message(&user, &attrs("create", "a")),
            "configmaps is forbidden: User \"limited\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"a\""
        );
    }

    #[test]
    fn tokens_authenticate_until_revoked() {
        let mut u = Users::default();
        u.add(User::new("admin", &["system:masters"], "secret"));
        assert!(
            u.authenticate(Some("Bearer secret"))
                .is_some_and(User::is_master)
        );
        assert!(u.authenticate(Some("Bearer nope")).is_none());
        assert!(u.revoke("secret"));
        assert!(u.authenticate(Some("Bearer secret")).is_none());
    }
}
