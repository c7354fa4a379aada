//! Type tables for the top level of the other built-in kinds (1.24): core (Service, ConfigMap,
//! Secret, Namespace, ...), RBAC, networking, policy, autoscaling, apiextensions, authorization
//! and a few more. Every root lists `apiVersion`, `kind` and `metadata` and then the kind's own
//! fields.

use crate::model::Lt::{Atomic, Map as Keyed, Set};
use crate::model::Ty::{
    Any, AtomicStrMap, AtomicStruct, Bool, IntOrStr, List, Map, Num, Str, StrMap, Struct,
};
use crate::model::{Field, Ty};
use crate::types_core::{
    ANY_LIST, API_VERSION, CONDITIONS, KIND, LABEL_SELECTOR, LOCAL_OBJECT_REF, METADATA,
    OBJECT_REF, PVC_SPEC, PVC_STATUS, RESOURCE_LIST, STRS,
};

const SERVICE_PORT: &[Field] = &[
    ("name", Str),
    ("protocol", Str),
    ("appProtocol", Str),
    ("port", Num),
    ("targetPort", IntOrStr),
    ("nodePort", Num),
];
const LOAD_BALANCER_STATUS: Ty = Struct(&[("ingress", ANY_LIST)]);

pub(crate) const SERVICE: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    (
        "spec",
        Struct(&[
            (
                "ports",
                List(
                    Keyed(&["port", "protocol"], &[("protocol", "TCP")]),
                    &Struct(SERVICE_PORT),
                ),
            ),
            ("selector", AtomicStrMap),
            ("clusterIP", Str),
            ("clusterIPs", STRS),
            ("type", Str),
            ("externalIPs", STRS),
            ("sessionAffinity", Str),
            ("loadBalancerIP", Str),
            ("loadBalancerSourceRanges", STRS),
            ("externalName", Str),
            ("externalTrafficPolicy", Str),
            ("healthCheckNodePort", Num),
            ("publishNotReadyAddresses", Bool),
            (
                "sessionAffinityConfig",
                Struct(&[("clientIP", Struct(&[("timeoutSeconds", Num)]))]),
            ),
            ("ipFamilies", STRS),
            ("ipFamilyPolicy", Str),
            ("allocateLoadBalancerNodePorts", Bool),
            ("loadBalancerClass", Str),
            ("internalTrafficPolicy", Str),
        ]),
    ),
    (
        "status",
        Struct(&[
            ("loadBalancer", LOAD_BALANCER_STATUS),
            ("conditions", CONDITIONS),
        ]),
    ),
];

pub(crate) const CONFIG_MAP: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    ("data", StrMap),
    ("binaryData", StrMap),
    ("immutable", Bool),
];

pub(crate) const SECRET: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    ("data", StrMap),
    ("stringData", StrMap),
    ("type", Str),
    ("immutable", Bool),
];

pub(crate) const NAMESPACE: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    ("spec", Struct(&[("finalizers", STRS)])),
    (
        "status",
        Struct(&[("phase", Str), ("conditions", CONDITIONS)]),
    ),
];

pub(crate) const SERVICE_ACCOUNT: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    ("secrets", List(Keyed(&["name"], &[]), &OBJECT_REF)),
    ("imagePullSecrets", List(Atomic, &LOCAL_OBJECT_REF)),
    ("automountServiceAccountToken", Bool),
];

pub(crate) const PVC: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    ("spec", Struct(PVC_SPEC)),
    ("status", Struct(PVC_STATUS)),
];

pub(crate) const PV: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    (
        "spec",
        Struct(&[
            ("capacity", RESOURCE_LIST),
            ("accessModes", STRS),
            ("claimRef", OBJECT_REF),
            ("persistentVolumeReclaimPolicy", Str),
            ("storageClassName", Str),
            ("mountOptions", STRS),
            ("volumeMode", Str),
        ]),
    ),
    (
        "status",
        Struct(&[("phase", Str), ("message", Str), ("reason", Str)]),
    ),
];

pub(crate) const NODE: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    (
        "spec",
        Struct(&[
            ("podCIDR", Str),
            ("podCIDRs", List(Set, &Str)),
            ("providerID", Str),
            ("unschedulable", Bool),
            ("taints", ANY_LIST),
        ]),
    ),
    (
        "status",
        Struct(&[
            ("capacity", RESOURCE_LIST),
            ("allocatable", RESOURCE_LIST),
            ("phase", Str),
            ("conditions", CONDITIONS),
            (
                "addresses",
                List(
                    Keyed(&["type"], &[]),
                    &Struct(&[("type", Str), ("address", Str)]),
                ),
            ),
            ("images", ANY_LIST),
            ("volumesInUse", STRS),
            ("volumesAttached", ANY_LIST),
        ]),
    ),
];

pub(crate) const ENDPOINTS: &[Field] = &[API_VERSION, KIND, METADATA, ("subsets", ANY_LIST)];

pub(crate) const EVENT: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    ("involvedObject", OBJECT_REF),
    ("reason", Str),
    ("message", Str),
    ("source", Struct(&[("component", Str), ("host", Str)])),
    ("firstTimestamp", Str),
    ("lastTimestamp", Str),
    ("count", Num),
    ("type", Str),
    ("eventTime", Str),
    ("action", Str),
    ("reportingComponent", Str),
    ("reportingInstance", Str),
];

pub(crate) const RESOURCE_QUOTA: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    ("spec", Struct(&[("hard", RESOURCE_LIST), ("scopes", STRS)])),
    (
        "status",
        Struct(&[("hard", RESOURCE_LIST), ("used", RESOURCE_LIST)]),
    ),
];

pub(crate) const LIMIT_RANGE: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    ("spec", Struct(&[("limits", ANY_LIST)])),
];

// --- rbac ---

const POLICY_RULE: Ty = Struct(&[
    ("verbs", STRS),
    ("apiGroups", STRS),
    ("resources", STRS),
    ("resourceNames", STRS),
    ("nonResourceURLs", STRS),
]);
const SUBJECT: Ty = Struct(&[
    ("kind", Str),
    ("apiGroup", Str),
    ("name", Str),
    ("namespace", Str),
]);

pub(crate) const ROLE: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    ("rules", List(Atomic, &POLICY_RULE)),
];

pub(crate) const CLUSTER_ROLE: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    ("rules", List(Atomic, &POLICY_RULE)),
    (
        "aggregationRule",
        Struct(&[("clusterRoleSelectors", List(Atomic, &LABEL_SELECTOR))]),
    ),
];

pub(crate) const ROLE_BINDING: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    ("subjects", List(Atomic, &SUBJECT)),
    (
        "roleRef",
        AtomicStruct(&[("apiGroup", Str), ("kind", Str), ("name", Str)]),
    ),
];

// --- networking, policy, autoscaling ---

pub(crate) const INGRESS: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    (
        "spec",
        Struct(&[
            ("ingressClassName", Str),
            ("defaultBackend", Any),
            ("tls", ANY_LIST),
            ("rules", ANY_LIST),
        ]),
    ),
    ("status", Struct(&[("loadBalancer", LOAD_BALANCER_STATUS)])),
];

pub(crate) const INGRESS_CLASS: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    ("spec", Struct(&[("controller", Str), ("parameters", Any)])),
];

pub(crate) const NETWORK_POLICY: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    (
        "spec",
        Struct(&[
            ("podSelector", LABEL_SELECTOR),
            ("ingress", ANY_LIST),
            ("egress", ANY_LIST),
            ("policyTypes", STRS),
        ]),
    ),
    ("status", Struct(&[("conditions", CONDITIONS)])),
];

pub(crate) const POD_DISRUPTION_BUDGET: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    (
        "spec",
        Struct(&[
            ("minAvailable", IntOrStr),
            ("selector", LABEL_SELECTOR),
            ("maxUnavailable", IntOrStr),
        ]),
    ),
    (
        "status",
        Struct(&[
            ("observedGeneration", Num),
            ("disruptedPods", StrMap),
            ("disruptionsAllowed", Num),
            ("currentHealthy", Num),
            ("desiredHealthy", Num),
            ("expectedPods", Num),
            ("conditions", CONDITIONS),
        ]),
    ),
];

const SCALING_RULES: Ty = Struct(&[
    ("stabilizationWindowSeconds", Num),
    ("selectPolicy", Str),
    ("policies", ANY_LIST),
]);

pub(crate) const HPA: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    (
        "spec",
        Struct(&[
            (
                "scaleTargetRef",
                Struct(&[("kind", Str), ("name", Str), ("apiVersion", Str)]),
            ),
            ("minReplicas", Num),
            ("maxReplicas", Num),
            ("targetCPUUtilizationPercentage", Num),
            ("metrics", ANY_LIST),
            (
                "behavior",
                Struct(&[("scaleUp", SCALING_RULES), ("scaleDown", SCALING_RULES)]),
            ),
        ]),
    ),
    (
        "status",
        Struct(&[
            ("observedGeneration", Num),
            ("lastScaleTime", Str),
            ("currentReplicas", Num),
            ("desiredReplicas", Num),
            ("currentCPUUtilizationPercentage", Num),
            ("currentMetrics", ANY_LIST),
            ("conditions", CONDITIONS),
        ]),
    ),
];

// --- apiextensions ---

const CRD_NAMES: Ty = Struct(&[
    ("plural", Str),
    ("singular", Str),
    ("shortNames", STRS),
    ("kind", Str),
    ("listKind", Str),
    ("categories", STRS),
]);

pub(crate) const CRD: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    (
        "spec",
        Struct(&[
            ("group", Str),
            ("names", CRD_NAMES),
            ("scope", Str),
            ("versions", ANY_LIST),
            ("conversion", Struct(&[("strategy", Str), ("webhook", Any)])),
            ("preserveUnknownFields", Bool),
        ]),
    ),
    (
        "status",
        Struct(&[
            ("conditions", CONDITIONS),
            ("acceptedNames", CRD_NAMES),
            ("storedVersions", STRS),
        ]),
    ),
];

// --- authorization, authentication ---

const ACCESS_REVIEW_STATUS: Ty = Struct(&[
    ("allowed", Bool),
    ("denied", Bool),
    ("reason", Str),
    ("evaluationError", Str),
]);
const RESOURCE_ATTRIBUTES: Ty = Struct(&[
    ("namespace", Str),
    ("verb", Str),
    ("group", Str),
    ("version", Str),
    ("resource", Str),
    ("subresource", Str),
    ("name", Str),
]);
const NON_RESOURCE_ATTRIBUTES: Ty = Struct(&[("path", Str), ("verb", Str)]);

pub(crate) const SUBJECT_ACCESS_REVIEW: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    (
        "spec",
        Struct(&[
            ("resourceAttributes", RESOURCE_ATTRIBUTES),
            ("nonResourceAttributes", NON_RESOURCE_ATTRIBUTES),
            ("user", Str),
            ("groups", STRS),
            ("extra", Map(&STRS)),
            ("uid", Str),
        ]),
    ),
    ("status", ACCESS_REVIEW_STATUS),
];

pub(crate) const SELF_SUBJECT_RULES_REVIEW: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    ("spec", Struct(&[("namespace", Str)])),
    (
        "status",
        Struct(&[
            ("resourceRules", ANY_LIST),
            ("nonResourceRules", ANY_LIST),
            ("incomplete", Bool),
            ("evaluationError", Str),
        ]),
    ),
];

pub(crate) const TOKEN_REVIEW: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    ("spec", Struct(&[("token", Str), ("audiences", STRS)])),
    (
        "status",
        Struct(&[
            ("authenticated", Bool),
            ("user", Any),
            ("audiences", STRS),
            ("error", Str),
        ]),
    ),
];

// --- coordination, storage, scheduling, admission ---

pub(crate) const LEASE: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    (
        "spec",
        Struct(&[
            ("holderIdentity", Str),
            ("leaseDurationSeconds", Num),
            ("acquireTime", Str),
            ("renewTime", Str),
            ("leaseTransitions", Num),
        ]),
    ),
];

pub(crate) const STORAGE_CLASS: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    ("provisioner", Str),
    ("parameters", StrMap),
    ("reclaimPolicy", Str),
    ("mountOptions", STRS),
    ("allowVolumeExpansion", Bool),
    ("volumeBindingMode", Str),
    ("allowedTopologies", ANY_LIST),
];

pub(crate) const PRIORITY_CLASS: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    ("value", Num),
    ("globalDefault", Bool),
    ("description", Str),
    ("preemptionPolicy", Str),
];

pub(crate) const WEBHOOK_CONFIGURATION: &[Field] =
    &[API_VERSION, KIND, METADATA, ("webhooks", ANY_LIST)];

pub(crate) const ENDPOINT_SLICE: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    ("addressType", Str),
    ("endpoints", ANY_LIST),
    ("ports", ANY_LIST),
];

/// Roots for kinds whose body we do not describe beyond the object header.
pub(crate) const HEADER_ONLY: &[Field] = &[API_VERSION, KIND, METADATA];
