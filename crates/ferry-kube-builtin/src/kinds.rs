//! The registry of built-in kinds: for each (group, kind) its type table, whether it has a
//! `/status` subresource (from the 1.24 discovery documents), which top-level fields bump
//! `metadata.generation` when they change, and the JSON of its Go zero value.
//!
//! The zero value is what `json.Marshal` of an empty typed object gives: non-pointer struct
//! fields are always present (`omitempty` never drops a struct), non-`omitempty` slices, maps and
//! pointers are `null`, non-`omitempty` scalars are `""`/`0`/`false`, and a zero `metav1.Time`
//! is `null`.

use crate::model::Field;
use crate::types_kinds as t;
use crate::types_workloads as w;

/// What the registry knows about one kind.
#[derive(Debug)]
pub(crate) struct KindInfo {
    pub(crate) group: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) root: &'static [Field],
    /// Served with a `/status` subresource: `status` is reset by main-resource writes.
    pub(crate) status: bool,
    /// Top-level fields whose change bumps `metadata.generation`; empty when the kind does not
    /// track a generation.
    pub(crate) generation: &'static [&'static str],
    /// JSON text of the Go zero value.
    pub(crate) zero: &'static str,
    /// The object-valued paths of `zero`.
    pub(crate) zero_paths: &'static [&'static [&'static str]],
}

type Paths = &'static [&'static [&'static str]];

const ZP_META: Paths = &[&["metadata"]];
const ZP_SPEC: Paths = &[&["metadata"], &["spec"]];
const ZP_SPEC_STATUS: Paths = &[&["metadata"], &["spec"], &["status"]];
const ZP_DEPLOYMENT: Paths = &[
    &["metadata"],
    &["spec"],
    &["spec", "template"],
    &["spec", "template", "metadata"],
    &["spec", "template", "spec"],
    &["spec", "strategy"],
    &["status"],
];
const ZP_TEMPLATED: Paths = &[
    &["metadata"],
    &["spec"],
    &["spec", "template"],
    &["spec", "template", "metadata"],
    &["spec", "template", "spec"],
    &["status"],
];
const ZP_UPDATE_STRATEGY: Paths = &[
    &["metadata"],
    &["spec"],
    &["spec", "template"],
    &["spec", "template", "metadata"],
    &["spec", "template", "spec"],
    &["spec", "updateStrategy"],
    &["status"],
];
const ZP_CRON_JOB: Paths = &[
    &["metadata"],
    &["spec"],
    &["spec", "jobTemplate"],
    &["spec", "jobTemplate", "metadata"],
    &["spec", "jobTemplate", "spec"],
    &["spec", "jobTemplate", "spec", "template"],
    &["spec", "jobTemplate", "spec", "template", "metadata"],
    &["spec", "jobTemplate", "spec", "template", "spec"],
    &["status"],
];
const ZP_POD_TEMPLATE: Paths = &[
    &["metadata"],
    &["template"],
    &["template", "metadata"],
    &["template", "spec"],
];
const ZP_LOAD_BALANCED: Paths = &[
    &["metadata"],
    &["spec"],
    &["status"],
    &["status", "loadBalancer"],
];
const ZP_PVC: Paths = &[
    &["metadata"],
    &["spec"],
    &["spec", "resources"],
    &["status"],
];
const ZP_NODE: Paths = &[
    &["metadata"],
    &["spec"],
    &["status"],
    &["status", "daemonEndpoints"],
    &["status", "daemonEndpoints", "kubeletEndpoint"],
    &["status", "nodeInfo"],
];
const ZP_EVENT: Paths = &[&["metadata"], &["involvedObject"], &["source"]];
const ZP_BINDING: Paths = &[&["metadata"], &["roleRef"]];
const ZP_NETWORK_POLICY: Paths = &[
    &["metadata"],
    &["spec"],
    &["spec", "podSelector"],
    &["status"],
];
const ZP_HPA: Paths = &[
    &["metadata"],
    &["spec"],
    &["spec", "scaleTargetRef"],
    &["status"],
];
const ZP_CRD: Paths = &[
    &["metadata"],
    &["spec"],
    &["spec", "names"],
    &["status"],
    &["status", "acceptedNames"],
];
const ZP_TOKEN_REVIEW: Paths = &[&["metadata"], &["spec"], &["status"], &["status", "user"]];

const SPEC: &[&str] = &["spec"];

#[allow(clippy::too_many_arguments)]
const fn k(
    group: &'static str,
    kind: &'static str,
    root: &'static [Field],
    status: bool,
    generation: &'static [&'static str],
    zero: &'static str,
    zero_paths: Paths,
) -> KindInfo {
    KindInfo {
        group,
        kind,
        root,
        status,
        generation,
        zero,
        zero_paths,
    }
}

const META: &str = r#"{"metadata":{"creationTimestamp":null}}"#;

/// All built-in kinds the crate knows.
#[rustfmt::skip]
pub(crate) const KINDS: &[KindInfo] = &[
    // apps
    k("apps", "Deployment", w::DEPLOYMENT, true, SPEC,
      r#"{"metadata":{"creationTimestamp":null},"spec":{"selector":null,"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":null}},"strategy":{}},"status":{}}"#,
      ZP_DEPLOYMENT),
    k("apps", "ReplicaSet", w::REPLICA_SET, true, SPEC,
      r#"{"metadata":{"creationTimestamp":null},"spec":{"selector":null,"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":null}}},"status":{"replicas":0}}"#,
      ZP_TEMPLATED),
    k("apps", "StatefulSet", w::STATEFUL_SET, true, SPEC,
      r#"{"metadata":{"creationTimestamp":null},"spec":{"selector":null,"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":null}},"serviceName":"","updateStrategy":{}},"status":{"replicas":0,"availableReplicas":0}}"#,
      ZP_UPDATE_STRATEGY),
    k("apps", "DaemonSet", w::DAEMON_SET, true, SPEC,
      r#"{"metadata":{"creationTimestamp":null},"spec":{"selector":null,"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":null}},"updateStrategy":{}},"status":{"currentNumberScheduled":0,"numberMisscheduled":0,"desiredNumberScheduled":0,"numberReady":0}}"#,
      ZP_UPDATE_STRATEGY),
    k("apps", "ControllerRevision", w::CONTROLLER_REVISION, false, &[],
      r#"{"metadata":{"creationTimestamp":null},"data":null,"revision":0}"#, ZP_META),
    // batch
    k("batch", "Job", w::JOB, true, SPEC,
      r#"{"metadata":{"creationTimestamp":null},"spec":{"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":null}}},"status":{}}"#,
      ZP_TEMPLATED),
    k("batch", "CronJob", w::CRON_JOB, true, SPEC,
      r#"{"metadata":{"creationTimestamp":null},"spec":{"schedule":"","jobTemplate":{"metadata":{"creationTimestamp":null},"spec":{"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":null}}}}},"status":{}}"#,
      ZP_CRON_JOB),
    // core
    k("", "Pod", w::POD, true, &[],
      r#"{"metadata":{"creationTimestamp":null},"spec":{"containers":null},"status":{}}"#, ZP_SPEC_STATUS),
    k("", "PodTemplate", w::POD_TEMPLATE_KIND, false, &[],
      r#"{"metadata":{"creationTimestamp":null},"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":null}}}"#,
      ZP_POD_TEMPLATE),
    k("", "ReplicationController", w::REPLICATION_CONTROLLER, true, SPEC,
      r#"{"metadata":{"creationTimestamp":null},"spec":{},"status":{"replicas":0}}"#, ZP_SPEC_STATUS),
    k("", "Service", t::SERVICE, true, &[],
      r#"{"metadata":{"creationTimestamp":null},"spec":{},"status":{"loadBalancer":{}}}"#, ZP_LOAD_BALANCED),
    k("", "ConfigMap", t::CONFIG_MAP, false, &[], META, ZP_META),
    k("", "Secret", t::SECRET, false, &[], META, ZP_META),
    k("", "Namespace", t::NAMESPACE, true, &[],
      r#"{"metadata":{"creationTimestamp":null},"spec":{},"status":{}}"#, ZP_SPEC_STATUS),
    k("", "ServiceAccount", t::SERVICE_ACCOUNT, false, &[], META, ZP_META),
    k("", "PersistentVolumeClaim", t::PVC, true, &[],
      r#"{"metadata":{"creationTimestamp":null},"spec":{"resources":{}},"status":{}}"#, ZP_PVC),
    k("", "PersistentVolume", t::PV, true, &[],
      r#"{"metadata":{"creationTimestamp":null},"spec":{},"status":{}}"#, ZP_SPEC_STATUS),
    k("", "Node", t::NODE, true, &[],
      r#"{"metadata":{"creationTimestamp":null},"spec":{},"status":{"daemonEndpoints":{"kubeletEndpoint":{"Port":0}},"nodeInfo":{"machineID":"","systemUUID":"","bootID":"","kernelVersion":"","osImage":"","containerRuntimeVersion":"","kubeletVersion":"","kubeProxyVersion":"","operatingSystem":"","architecture":""}}}"#,
      ZP_NODE),
    k("", "Endpoints", t::ENDPOINTS, false, &[], META, ZP_META),
    k("", "Event", t::EVENT, false, &[],
      r#"{"metadata":{"creationTimestamp":null},"involvedObject":{},"source":{},"firstTimestamp":null,"lastTimestamp":null,"eventTime":null,"reportingComponent":"","reportingInstance":""}"#,
      ZP_EVENT),
    k("", "ResourceQuota", t::RESOURCE_QUOTA, true, &[],
      r#"{"metadata":{"creationTimestamp":null},"spec":{},"status":{}}"#, ZP_SPEC_STATUS),
    k("", "LimitRange", t::LIMIT_RANGE, false, &[],
      r#"{"metadata":{"creationTimestamp":null},"spec":{"limits":null}}"#, ZP_SPEC),
    k("events.k8s.io", "Event", t::HEADER_ONLY, false, &[],
      r#"{"metadata":{"creationTimestamp":null},"eventTime":null,"regarding":{},"deprecatedSource":{},"deprecatedFirstTimestamp":null,"deprecatedLastTimestamp":null}"#,
      &[&["metadata"], &["regarding"], &["deprecatedSource"]]),
    // rbac
    k("rbac.authorization.k8s.io", "Role", t::ROLE, false, &[],
      r#"{"metadata":{"creationTimestamp":null},"rules":null}"#, ZP_META),
    k("rbac.authorization.k8s.io", "ClusterRole", t::CLUSTER_ROLE, false, &[],
      r#"{"metadata":{"creationTimestamp":null},"rules":null}"#, ZP_META),
    k("rbac.authorization.k8s.io", "RoleBinding", t::ROLE_BINDING, false, &[],
      r#"{"metadata":{"creationTimestamp":null},"roleRef":{"apiGroup":"","kind":"","name":""}}"#, ZP_BINDING),
    k("rbac.authorization.k8s.io", "ClusterRoleBinding", t::ROLE_BINDING, false, &[],
      r#"{"metadata":{"creationTimestamp":null},"roleRef":{"apiGroup":"","kind":"","name":""}}"#, ZP_BINDING),
    // networking, policy, autoscaling
    k("networking.k8s.io", "Ingress", t::INGRESS, true, SPEC,
      r#"{"metadata":{"creationTimestamp":null},"spec":{},"status":{"loadBalancer":{}}}"#, ZP_LOAD_BALANCED),
    k("networking.k8s.io", "IngressClass", t::INGRESS_CLASS, false, SPEC,
      r#"{"metadata":{"creationTimestamp":null},"spec":{}}"#, ZP_SPEC),
    k("networking.k8s.io", "NetworkPolicy", t::NETWORK_POLICY, false, SPEC,
      r#"{"metadata":{"creationTimestamp":null},"spec":{"podSelector":{}},"status":{}}"#, ZP_NETWORK_POLICY),
    k("policy", "PodDisruptionBudget", t::POD_DISRUPTION_BUDGET, true, SPEC,
      r#"{"metadata":{"creationTimestamp":null},"spec":{},"status":{"disruptionsAllowed":0,"currentHealthy":0,"desiredHealthy":0,"expectedPods":0}}"#,
      ZP_SPEC_STATUS),
    k("autoscaling", "HorizontalPodAutoscaler", t::HPA, true, &[],
      r#"{"metadata":{"creationTimestamp":null},"spec":{"scaleTargetRef":{"kind":"","name":""},"maxReplicas":0},"status":{"desiredReplicas":0,"currentMetrics":null}}"#,
      ZP_HPA),
    // apiextensions
    k("apiextensions.k8s.io", "CustomResourceDefinition", t::CRD, true, SPEC,
      r#"{"metadata":{"creationTimestamp":null},"spec":{"group":"","names":{"plural":"","kind":""},"scope":"","versions":null},"status":{"conditions":null,"acceptedNames":{"plural":"","kind":""},"storedVersions":null}}"#,
      ZP_CRD),
    // authorization, authentication
    k("authorization.k8s.io", "SelfSubjectAccessReview", t::SUBJECT_ACCESS_REVIEW, false, &[],
      r#"{"metadata":{"creationTimestamp":null},"spec":{},"status":{"allowed":false}}"#, ZP_SPEC_STATUS),
    k("authorization.k8s.io", "SubjectAccessReview", t::SUBJECT_ACCESS_REVIEW, false, &[],
      r#"{"metadata":{"creationTimestamp":null},"spec":{},"status":{"allowed":false}}"#, ZP_SPEC_STATUS),
    k("authorization.k8s.io", "LocalSubjectAccessReview", t::SUBJECT_ACCESS_REVIEW, false, &[],
      r#"{"metadata":{"creationTimestamp":null},"spec":{},"status":{"allowed":false}}"#, ZP_SPEC_STATUS),
    k("authorization.k8s.io", "SelfSubjectRulesReview", t::SELF_SUBJECT_RULES_REVIEW, false, &[],
      r#"{"metadata":{"creationTimestamp":null},"spec":{},"status":{"resourceRules":null,"nonResourceRules":null,"incomplete":false}}"#,
      ZP_SPEC_STATUS),
    k("authentication.k8s.io", "TokenReview", t::TOKEN_REVIEW, false, &[],
      r#"{"metadata":{"creationTimestamp":null},"spec":{},"status":{"user":{}}}"#, ZP_TOKEN_REVIEW),
    // coordination, storage, scheduling, admission, discovery
    k("coordination.k8s.io", "Lease", t::LEASE, false, &[],
      r#"{"metadata":{"creationTimestamp":null},"spec":{}}"#, ZP_SPEC),
    k("storage.k8s.io", "StorageClass", t::STORAGE_CLASS, false, &[],
      r#"{"metadata":{"creationTimestamp":null},"provisioner":""}"#, ZP_META),
    k("scheduling.k8s.io", "PriorityClass", t::PRIORITY_CLASS, false, &[],
      r#"{"metadata":{"creationTimestamp":null},"value":0}"#, ZP_META),
    k("admissionregistration.k8s.io", "MutatingWebhookConfiguration", t::WEBHOOK_CONFIGURATION, false,
      &["webhooks"], META, ZP_META),
    k("admissionregistration.k8s.io", "ValidatingWebhookConfiguration", t::WEBHOOK_CONFIGURATION, false,
      &["webhooks"], META, ZP_META),
    k("discovery.k8s.io", "EndpointSlice", t::ENDPOINT_SLICE, false, &["addressType", "endpoints", "ports"],
      r#"{"metadata":{"creationTimestamp":null},"addressType":"","endpoints":null}"#, ZP_META),
    // header-only kinds, listed for their subresources and generation
    k("flowcontrol.apiserver.k8s.io", "FlowSchema", t::HEADER_ONLY, true, SPEC,
      r#"{"metadata":{"creationTimestamp":null},"spec":{"priorityLevelConfiguration":{"name":""}},"status":{}}"#,
      &[&["metadata"], &["spec"], &["spec", "priorityLevelConfiguration"], &["status"]]),
    k("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration", t::HEADER_ONLY, true, SPEC,
      r#"{"metadata":{"creationTimestamp":null},"spec":{"type":""},"status":{}}"#, ZP_SPEC_STATUS),
    k("certificates.k8s.io", "CertificateSigningRequest", t::HEADER_ONLY, true, &[],
      r#"{"metadata":{"creationTimestamp":null},"spec":{"request":null,"signerName":""},"status":{}}"#,
      ZP_SPEC_STATUS),
    k("apiregistration.k8s.io", "APIService", t::HEADER_ONLY, true, &[],
      r#"{"metadata":{"creationTimestamp":null},"spec":{"groupPriorityMinimum":0,"versionPriority":0},"status":{}}"#,
      ZP_SPEC_STATUS),
    k("storage.k8s.io", "VolumeAttachment", t::HEADER_ONLY, true, &[],
      r#"{"metadata":{"creationTimestamp":null},"spec":{"attacher":"","source":{},"nodeName":""},"status":{"attached":false}}"#,
      &[&["metadata"], &["spec"], &["spec", "source"], &["status"]]),
];

/// `""` and `"core"` both name the core group.
pub(crate) fn normalize_group(group: &str) -> &str {
    if group == "core" { "" } else { group }
}

/// Looks a kind up by group and kind.
pub(crate) fn lookup(group: &str, kind: &str) -> Option<&'static KindInfo> {
    let group = normalize_group(group);
    KINDS.iter().find(|k| k.group == group && k.kind == kind)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::KINDS;
    use crate::json::parse_const;

    fn object_paths(v: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if let Value::Object(m) = v {
            for (k, child) in m {
                if child.is_object() {
                    prefix.push(k.clone());
                    out.push(prefix.clone());
                    object_paths(child, prefix, out);
                    prefix.pop();
                }
            }
        }
    }

    #[test]
    fn zero_values_parse_and_match_their_paths() {
        for k in KINDS {
            let zero: Value = serde_json::from_str(k.zero).expect(k.kind);
            assert_eq!(parse_const(k.zero), zero);
            let mut found = Vec::new();
            object_paths(&zero, &mut Vec::new(), &mut found);
            let mut want: Vec<Vec<String>> = k
                .zero_paths
                .iter()
                .map(|p| p.iter().map(|s| (*s).to_owned()).collect())
                .collect();
            found.sort();
            want.sort();
            assert_eq!(found, want, "{}", k.kind);
        }
    }
}
