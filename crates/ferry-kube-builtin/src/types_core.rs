//! Type tables for the shared building blocks of the 1.24 API: `ObjectMeta`, `LabelSelector`,
//! conditions, and the whole `PodSpec` (containers, volumes, probes, security contexts).
//!
//! Tags follow `k8s.io/api` 1.24: `+listType`/`+listMapKey`, `+structType=atomic`,
//! `+mapType=atomic`; untagged lists with `patchStrategy=merge` + `patchMergeKey` are maps
//! keyed by the merge key, all other untagged lists are atomic.

use crate::model::Lt::{Atomic, Map as Keyed, Set};
use crate::model::Ty::{
    Any, AtomicStrMap, AtomicStruct, Bool, IntOrStr, List, Map, Num, Quantity, Str, StrMap, Struct,
};
use crate::model::{Field, Ty};

/// A list of strings, atomic.
pub(crate) const STRS: Ty = List(Atomic, &Str);
/// A list of anything, atomic (contents not described).
pub(crate) const ANY_LIST: Ty = List(Atomic, &Any);
/// `map[string]Quantity` (resource lists), granular.
pub(crate) const RESOURCE_LIST: Ty = Map(&Quantity);

const CONDITION: &[Field] = &[
    ("type", Str),
    ("status", Str),
    ("observedGeneration", Num),
    ("lastProbeTime", Str),
    ("lastHeartbeatTime", Str),
    ("lastUpdateTime", Str),
    ("lastTransitionTime", Str),
    ("reason", Str),
    ("message", Str),
];
/// `conditions` keyed by `type` (`patchMergeKey=type` or `+listMapKey=type`).
pub(crate) const CONDITIONS: Ty = List(Keyed(&["type"], &[]), &Struct(CONDITION));
/// `conditions` with `+listType=atomic` (Job).
pub(crate) const ATOMIC_CONDITIONS: Ty = List(Atomic, &Struct(CONDITION));

const OWNER_REFERENCE: &[Field] = &[
    ("apiVersion", Str),
    ("kind", Str),
    ("name", Str),
    ("uid", Str),
    ("controller", Bool),
    ("blockOwnerDeletion", Bool),
];

/// `metav1.ObjectMeta`.
pub(crate) const OBJECT_META: &[Field] = &[
    ("name", Str),
    ("generateName", Str),
    ("namespace", Str),
    ("selfLink", Str),
    ("uid", Str),
    ("resourceVersion", Str),
    ("generation", Num),
    ("creationTimestamp", Str),
    ("deletionTimestamp", Str),
    ("deletionGracePeriodSeconds", Num),
    ("labels", StrMap),
    ("annotations", StrMap),
    (
        "ownerReferences",
        List(Keyed(&["uid"], &[]), &AtomicStruct(OWNER_REFERENCE)),
    ),
    ("finalizers", List(Set, &Str)),
    ("clusterName", Str),
    ("managedFields", ANY_LIST),
];
/// The `metadata` field of every object and template.
pub(crate) const METADATA: Field = ("metadata", Struct(OBJECT_META));
/// `apiVersion` and `kind`.
pub(crate) const API_VERSION: Field = ("apiVersion", Str);
pub(crate) const KIND: Field = ("kind", Str);

const LABEL_SELECTOR_REQUIREMENT: &[Field] = &[("key", Str), ("operator", Str), ("values", STRS)];
const LABEL_SELECTOR_FIELDS: &[Field] = &[
    ("matchLabels", StrMap),
    (
        "matchExpressions",
        List(Atomic, &Struct(LABEL_SELECTOR_REQUIREMENT)),
    ),
];
/// `metav1.LabelSelector` (`+structType=atomic`).
pub(crate) const LABEL_SELECTOR: Ty = AtomicStruct(LABEL_SELECTOR_FIELDS);

/// `LocalObjectReference` (`+structType=atomic`).
pub(crate) const LOCAL_OBJECT_REF: Ty = AtomicStruct(&[("name", Str)]);
/// `ObjectReference` (`+structType=atomic`).
pub(crate) const OBJECT_REF: Ty = AtomicStruct(&[
    ("kind", Str),
    ("namespace", Str),
    ("name", Str),
    ("uid", Str),
    ("apiVersion", Str),
    ("resourceVersion", Str),
    ("fieldPath", Str),
]);
/// `TypedLocalObjectReference` (`+structType=atomic`).
pub(crate) const TYPED_LOCAL_REF: Ty =
    AtomicStruct(&[("apiGroup", Str), ("kind", Str), ("name", Str)]);

/// `ResourceRequirements`.
pub(crate) const RESOURCES: Ty = Struct(&[("limits", RESOURCE_LIST), ("requests", RESOURCE_LIST)]);

// --- probes and handlers ---

const EXEC: Ty = Struct(&[("command", STRS)]);
const HTTP_GET: Ty = Struct(&[
    ("path", Str),
    ("port", IntOrStr),
    ("host", Str),
    ("scheme", Str),
    (
        "httpHeaders",
        List(Atomic, &Struct(&[("name", Str), ("value", Str)])),
    ),
]);
const TCP_SOCKET: Ty = Struct(&[("port", IntOrStr), ("host", Str)]);
const PROBE: Ty = Struct(&[
    ("exec", EXEC),
    ("httpGet", HTTP_GET),
    ("tcpSocket", TCP_SOCKET),
    ("grpc", Struct(&[("port", Num), ("service", Str)])),
    ("initialDelaySeconds", Num),
    ("timeoutSeconds", Num),
    ("periodSeconds", Num),
    ("successThreshold", Num),
    ("failureThreshold", Num),
    ("terminationGracePeriodSeconds", Num),
]);
const HANDLER: Ty = Struct(&[
    ("exec", EXEC),
    ("httpGet", HTTP_GET),
    ("tcpSocket", TCP_SOCKET),
]);

// --- security ---

const SE_LINUX: Ty = Struct(&[("user", Str), ("role", Str), ("type", Str), ("level", Str)]);
const WINDOWS: Ty = Struct(&[
    ("gmsaCredentialSpecName", Str),
    ("gmsaCredentialSpec", Str),
    ("runAsUserName", Str),
    ("hostProcess", Bool),
]);
const SECCOMP: Ty = Struct(&[("type", Str), ("localhostProfile", Str)]);
const SECURITY_CONTEXT: Ty = Struct(&[
    ("capabilities", Struct(&[("add", STRS), ("drop", STRS)])),
    ("privileged", Bool),
    ("seLinuxOptions", SE_LINUX),
    ("windowsOptions", WINDOWS),
    ("runAsUser", Num),
    ("runAsGroup", Num),
    ("runAsNonRoot", Bool),
    ("readOnlyRootFilesystem", Bool),
    ("allowPrivilegeEscalation", Bool),
    ("procMount", Str),
    ("seccompProfile", SECCOMP),
]);
const POD_SECURITY_CONTEXT: Ty = Struct(&[
    ("seLinuxOptions", SE_LINUX),
    ("windowsOptions", WINDOWS),
    ("runAsUser", Num),
    ("runAsGroup", Num),
    ("runAsNonRoot", Bool),
    ("supplementalGroups", List(Atomic, &Num)),
    ("fsGroup", Num),
    (
        "sysctls",
        List(Atomic, &Struct(&[("name", Str), ("value", Str)])),
    ),
    ("fsGroupChangePolicy", Str),
    ("seccompProfile", SECCOMP),
]);

// --- containers ---

const KEY_SELECTOR: Ty = AtomicStruct(&[("name", Str), ("key", Str), ("optional", Bool)]);
const ENV_VAR: &[Field] = &[
    ("name", Str),
    ("value", Str),
    (
        "valueFrom",
        Struct(&[
            (
                "fieldRef",
                AtomicStruct(&[("apiVersion", Str), ("fieldPath", Str)]),
            ),
            (
                "resourceFieldRef",
                AtomicStruct(&[
                    ("containerName", Str),
                    ("resource", Str),
                    ("divisor", Quantity),
                ]),
            ),
            ("configMapKeyRef", KEY_SELECTOR),
            ("secretKeyRef", KEY_SELECTOR),
        ]),
    ),
];
const ENV_FROM: &[Field] = &[
    ("prefix", Str),
    ("configMapRef", Struct(&[("name", Str), ("optional", Bool)])),
    ("secretRef", Struct(&[("name", Str), ("optional", Bool)])),
];
const CONTAINER_PORT: &[Field] = &[
    ("name", Str),
    ("hostPort", Num),
    ("containerPort", Num),
    ("protocol", Str),
    ("hostIP", Str),
];
const VOLUME_MOUNT: &[Field] = &[
    ("name", Str),
    ("readOnly", Bool),
    ("mountPath", Str),
    ("subPath", Str),
    ("mountPropagation", Str),
    ("subPathExpr", Str),
];

/// `Container` (and `EphemeralContainer`, which adds `targetContainerName`).
const CONTAINER: &[Field] = &[
    ("name", Str),
    ("image", Str),
    ("command", STRS),
    ("args", STRS),
    ("workingDir", Str),
    (
        "ports",
        List(
            Keyed(&["containerPort", "protocol"], &[("protocol", "TCP")]),
            &Struct(CONTAINER_PORT),
        ),
    ),
    ("envFrom", List(Atomic, &Struct(ENV_FROM))),
    ("env", List(Keyed(&["name"], &[]), &Struct(ENV_VAR))),
    ("resources", RESOURCES),
    (
        "volumeMounts",
        List(Keyed(&["mountPath"], &[]), &Struct(VOLUME_MOUNT)),
    ),
    (
        "volumeDevices",
        List(
            Keyed(&["devicePath"], &[]),
            &Struct(&[("name", Str), ("devicePath", Str)]),
        ),
    ),
    ("livenessProbe", PROBE),
    ("readinessProbe", PROBE),
    ("startupProbe", PROBE),
    (
        "lifecycle",
        Struct(&[("postStart", HANDLER), ("preStop", HANDLER)]),
    ),
    ("terminationMessagePath", Str),
    ("terminationMessagePolicy", Str),
    ("imagePullPolicy", Str),
    ("securityContext", SECURITY_CONTEXT),
    ("stdin", Bool),
    ("stdinOnce", Bool),
    ("tty", Bool),
    ("targetContainerName", Str),
];
const CONTAINERS: Ty = List(Keyed(&["name"], &[]), &Struct(CONTAINER));

// --- volumes ---

const KEY_TO_PATHS: Ty = List(
    Atomic,
    &Struct(&[("key", Str), ("path", Str), ("mode", Num)]),
);

/// `PersistentVolumeClaimSpec`.
pub(crate) const PVC_SPEC: &[Field] = &[
    ("accessModes", STRS),
    ("selector", LABEL_SELECTOR),
    ("resources", RESOURCES),
    ("volumeName", Str),
    ("storageClassName", Str),
    ("volumeMode", Str),
    ("dataSource", TYPED_LOCAL_REF),
    ("dataSourceRef", TYPED_LOCAL_REF),
];
/// `PersistentVolumeClaimStatus`.
pub(crate) const PVC_STATUS: &[Field] = &[
    ("phase", Str),
    ("accessModes", STRS),
    ("capacity", RESOURCE_LIST),
    ("conditions", CONDITIONS),
    ("allocatedResources", RESOURCE_LIST),
    ("resizeStatus", Str),
];

const VOLUME: &[Field] = &[
    ("name", Str),
    ("hostPath", Struct(&[("path", Str), ("type", Str)])),
    (
        "emptyDir",
        Struct(&[("medium", Str), ("sizeLimit", Quantity)]),
    ),
    (
        "secret",
        Struct(&[
            ("secretName", Str),
            ("items", KEY_TO_PATHS),
            ("defaultMode", Num),
            ("optional", Bool),
        ]),
    ),
    (
        "configMap",
        Struct(&[
            ("name", Str),
            ("items", KEY_TO_PATHS),
            ("defaultMode", Num),
            ("optional", Bool),
        ]),
    ),
    (
        "persistentVolumeClaim",
        Struct(&[("claimName", Str), ("readOnly", Bool)]),
    ),
    (
        "downwardAPI",
        Struct(&[("items", ANY_LIST), ("defaultMode", Num)]),
    ),
    (
        "projected",
        Struct(&[("sources", ANY_LIST), ("defaultMode", Num)]),
    ),
    (
        "nfs",
        Struct(&[("server", Str), ("path", Str), ("readOnly", Bool)]),
    ),
    (
        "csi",
        Struct(&[
            ("driver", Str),
            ("readOnly", Bool),
            ("fsType", Str),
            ("volumeAttributes", StrMap),
            ("nodePublishSecretRef", LOCAL_OBJECT_REF),
        ]),
    ),
    (
        "ephemeral",
        Struct(&[(
            "volumeClaimTemplate",
            Struct(&[METADATA, ("spec", Struct(PVC_SPEC))]),
        )]),
    ),
];

// --- scheduling ---

const NODE_SELECTOR_TERM: Ty =
    AtomicStruct(&[("matchExpressions", ANY_LIST), ("matchFields", ANY_LIST)]);
const NODE_SELECTOR: Ty = AtomicStruct(&[("nodeSelectorTerms", List(Atomic, &NODE_SELECTOR_TERM))]);
const POD_AFFINITY: Ty = Struct(&[
    ("requiredDuringSchedulingIgnoredDuringExecution", ANY_LIST),
    ("preferredDuringSchedulingIgnoredDuringExecution", ANY_LIST),
]);
const AFFINITY: Ty = Struct(&[
    (
        "nodeAffinity",
        Struct(&[
            (
                "requiredDuringSchedulingIgnoredDuringExecution",
                NODE_SELECTOR,
            ),
            ("preferredDuringSchedulingIgnoredDuringExecution", ANY_LIST),
        ]),
    ),
    ("podAffinity", POD_AFFINITY),
    ("podAntiAffinity", POD_AFFINITY),
]);
const TOLERATION: &[Field] = &[
    ("key", Str),
    ("operator", Str),
    ("value", Str),
    ("effect", Str),
    ("tolerationSeconds", Num),
];
const TOPOLOGY_SPREAD: &[Field] = &[
    ("maxSkew", Num),
    ("topologyKey", Str),
    ("whenUnsatisfiable", Str),
    ("labelSelector", LABEL_SELECTOR),
    ("minDomains", Num),
];

/// `PodSpec`.
pub(crate) const POD_SPEC: &[Field] = &[
    ("volumes", List(Keyed(&["name"], &[]), &Struct(VOLUME))),
    ("initContainers", CONTAINERS),
    ("containers", CONTAINERS),
    ("ephemeralContainers", CONTAINERS),
    ("restartPolicy", Str),
    ("terminationGracePeriodSeconds", Num),
    ("activeDeadlineSeconds", Num),
    ("dnsPolicy", Str),
    ("nodeSelector", AtomicStrMap),
    ("serviceAccountName", Str),
    ("serviceAccount", Str),
    ("automountServiceAccountToken", Bool),
    ("nodeName", Str),
    ("hostNetwork", Bool),
    ("hostPID", Bool),
    ("hostIPC", Bool),
    ("shareProcessNamespace", Bool),
    ("securityContext", POD_SECURITY_CONTEXT),
    (
        "imagePullSecrets",
        List(Keyed(&["name"], &[]), &LOCAL_OBJECT_REF),
    ),
    ("hostname", Str),
    ("subdomain", Str),
    ("affinity", AFFINITY),
    ("schedulerName", Str),
    ("tolerations", List(Atomic, &Struct(TOLERATION))),
    (
        "hostAliases",
        List(
            Keyed(&["ip"], &[]),
            &Struct(&[("ip", Str), ("hostnames", STRS)]),
        ),
    ),
    ("priorityClassName", Str),
    ("priority", Num),
    (
        "dnsConfig",
        Struct(&[
            ("nameservers", STRS),
            ("searches", STRS),
            (
                "options",
                List(Atomic, &Struct(&[("name", Str), ("value", Str)])),
            ),
        ]),
    ),
    (
        "readinessGates",
        List(Atomic, &Struct(&[("conditionType", Str)])),
    ),
    ("runtimeClassName", Str),
    ("enableServiceLinks", Bool),
    ("preemptionPolicy", Str),
    ("overhead", RESOURCE_LIST),
    (
        "topologySpreadConstraints",
        List(
            Keyed(&["topologyKey", "whenUnsatisfiable"], &[]),
            &Struct(TOPOLOGY_SPREAD),
        ),
    ),
    ("setHostnameAsFQDN", Bool),
    ("os", Struct(&[("name", Str)])),
];

/// `PodTemplateSpec`.
pub(crate) const POD_TEMPLATE: Ty = Struct(&[METADATA, ("spec", Struct(POD_SPEC))]);

/// `PodStatus`.
pub(crate) const POD_STATUS: &[Field] = &[
    ("phase", Str),
    ("conditions", CONDITIONS),
    ("message", Str),
    ("reason", Str),
    ("nominatedNodeName", Str),
    ("hostIP", Str),
    ("podIP", Str),
    ("podIPs", List(Keyed(&["ip"], &[]), &Struct(&[("ip", Str)]))),
    ("startTime", Str),
    ("initContainerStatuses", ANY_LIST),
    ("containerStatuses", ANY_LIST),
    ("qosClass", Str),
    ("ephemeralContainerStatuses", ANY_LIST),
];
