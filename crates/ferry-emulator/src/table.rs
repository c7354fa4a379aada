//! `Table` answers, as `kubectl get` asks for them (`Accept:
//! application/json;as=Table;g=meta.k8s.io;v=v1`): the columns and cells a kube-apiserver
//! prints for its built-in kinds (its `pkg/printers/internalversion`), the
//! `additionalPrinterColumns` of a CRD version (the apiextensions table convertor: `type:
//! date` as an age, `Age` by default when a version has none), and `Name`, `Created At` for
//! kinds without a printer (the default table convertor: Roles, CRDs, LimitRanges, ...).
//!
//! As a real server does, the answer carries every column with its `priority`, the wide
//! ones included; kubectl shows priority > 0 columns only with `-o wide`. Rows carry the
//! object as `includeObject` asks: `PartialObjectMetadata` by default, the object, or none.

use serde_json::{Value, json};

use crate::resources::ResourceType;
use crate::route::Params;

/// Whether the client asked for a `Table` first (as `kubectl get` does).
pub fn wants_table(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|f| f.contains("as=Table"))
}

/// One column of a table, as `meta.k8s.io/v1 TableColumnDefinition`.
struct Column {
    name: &'static str,
    kind: &'static str,
    priority: i64,
    description: &'static str,
}

const NAME_DOC: &str = "Name must be unique within a namespace. Is required when creating \
    resources, although some resources may allow a client to request the generation of an \
    appropriate name automatically. Name is primarily intended for creation idempotence and \
    configuration definition. Cannot be updated. More info: \
    https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const CREATED_DOC: &str = "CreationTimestamp is a timestamp representing the server time when \
    this object was created. It is not guaranteed to be set in happens-before order across \
    separate operations. Clients may not set this value. It is represented in RFC3339 form \
    and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: \
    https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

const fn col(name: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind: "string",
        priority: 0,
        description,
    }
}

const fn int(name: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind: "integer",
        priority: 0,
        description,
    }
}

const fn wide(name: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind: "string",
        priority: 1,
        description,
    }
}

const NAME: Column = col("Name", NAME_DOC);
const AGE: Column = col("Age", CREATED_DOC);
const CONTAINERS: Column = wide("Containers", "Names of each container in the template.");
const IMAGES: Column = wide(
    "Images",
    "Images referenced by each container in the template.",
);
const SELECTOR: Column = wide("Selector", "A label query over pods.");

type Cells = fn(&Value) -> Vec<Value>;

/// The printer of a built-in kind: its columns and the cells of one object (all columns,
/// the wide ones too).
fn printer(group: &str, kind: &str) -> Option<(Vec<Column>, Cells)> {
    let p: (Vec<Column>, Cells) = match (group, kind) {
        ("", "Pod") => (
            vec![
                NAME,
                col(
                    "Ready",
                    "The aggregate readiness state of this pod for accepting traffic.",
                ),
                col(
                    "Status",
                    "The aggregate status of the containers in this pod.",
                ),
                col(
                    "Restarts",
                    "The number of times the containers in this pod have been restarted and \
                     when the last container in this pod has restarted.",
                ),
                AGE,
                wide("IP", "IP address allocated to the pod."),
                wide("Node", "The node the pod is scheduled onto."),
                wide("Nominated Node", "The node the pod is nominated to run on."),
                wide("Readiness Gates", "Pod readiness gates."),
            ],
            pod,
        ),
        ("", "PodTemplate") => (
            vec![
                NAME,
                col("Containers", "Names of each container in the template."),
                col(
                    "Images",
                    "Images referenced by each container in the template.",
                ),
                col("Pod Labels", "The labels for the pod template."),
            ],
            |o| {
                let (names, images) = containers(o, "/template/spec/containers");
                vec![
                    name(o),
                    json!(names),
                    json!(images),
                    json!(labels(o.pointer("/template/metadata/labels"))),
                ]
            },
        ),
        ("", "ReplicationController") | ("apps", "ReplicaSet") => (
            vec![
                NAME,
                int("Desired", "Replicas is the number of desired replicas."),
                int(
                    "Current",
                    "Replicas is the most recently observed number of replicas.",
                ),
                int(
                    "Ready",
                    "The number of ready replicas for this replica set.",
                ),
                AGE,
                CONTAINERS,
                IMAGES,
                SELECTOR,
            ],
            |o| {
                let (names, images) = containers(o, "/spec/template/spec/containers");
                let selector = match o.pointer("/spec/selector/matchLabels") {
                    Some(_) => label_selector(o.pointer("/spec/selector")),
                    None => labels(o.pointer("/spec/selector")),
                };
                vec![
                    name(o),
                    json!(int_at(o, "/spec/replicas")),
                    json!(int_at(o, "/status/replicas")),
                    json!(int_at(o, "/status/readyReplicas")),
                    age(o),
                    json!(names),
                    json!(images),
                    json!(selector),
                ]
            },
        ),
        ("apps", "Deployment") => (
            vec![
                NAME,
                col("Ready", "Number of the pod with ready state"),
                col(
                    "Up-to-date",
                    "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
                ),
                col(
                    "Available",
                    "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
                ),
                AGE,
                CONTAINERS,
                IMAGES,
                SELECTOR,
            ],
            |o| {
                let (names, images) = containers(o, "/spec/template/spec/containers");
                vec![
                    name(o),
                    json!(format!(
                        "{}/{}",
                        int_at(o, "/status/readyReplicas"),
                        int_at(o, "/spec/replicas")
                    )),
                    json!(int_at(o, "/status/updatedReplicas")),
                    json!(int_at(o, "/status/availableReplicas")),
                    age(o),
                    json!(names),
                    json!(images),
                    json!(label_selector(o.pointer("/spec/selector"))),
                ]
            },
        ),
        ("apps", "StatefulSet") => (
            vec![
                NAME,
                col("Ready", "Number of the pod with ready state"),
                AGE,
                CONTAINERS,
                IMAGES,
            ],
            |o| {
                let (names, images) = containers(o, "/spec/template/spec/containers");
                vec![
                    name(o),
                    json!(format!(
                        "{}/{}",
                        int_at(o, "/status/readyReplicas"),
                        int_at(o, "/spec/replicas")
                    )),
                    age(o),
                    json!(names),
                    json!(images),
                ]
            },
        ),
        ("apps", "DaemonSet") => (
            vec![
                NAME,
                int(
                    "Desired",
                    "The total number of nodes that should be running the daemon pod.",
                ),
                int(
                    "Current",
                    "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.",
                ),
                int(
                    "Ready",
                    "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.",
                ),
                int(
                    "Up-to-date",
                    "The total number of nodes that are running updated daemon pod",
                ),
                int(
                    "Available",
                    "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available.",
                ),
                col(
                    "Node Selector",
                    "NodeSelector is a selector which must be true for the pod to fit on a node.",
                ),
                AGE,
                CONTAINERS,
                IMAGES,
                SELECTOR,
            ],
            |o| {
                let (names, images) = containers(o, "/spec/template/spec/containers");
                vec![
                    name(o),
                    json!(int_at(o, "/status/desiredNumberScheduled")),
                    json!(int_at(o, "/status/currentNumberScheduled")),
                    json!(int_at(o, "/status/numberReady")),
                    json!(int_at(o, "/status/updatedNumberScheduled")),
                    json!(int_at(o, "/status/numberAvailable")),
                    json!(labels(o.pointer("/spec/template/spec/nodeSelector"))),
                    age(o),
                    json!(names),
                    json!(images),
                    json!(label_selector(o.pointer("/spec/selector"))),
                ]
            },
        ),
        ("batch", "Job") => (
            vec![
                NAME,
                col(
                    "Completions",
                    "The number of pods which reached phase Succeeded.",
                ),
                col("Duration", "Time required to complete the job."),
                AGE,
                CONTAINERS,
                IMAGES,
                SELECTOR,
            ],
            job,
        ),
        ("batch", "CronJob") => (
            vec![
                NAME,
                col(
                    "Schedule",
                    "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
                ),
                Column {
                    kind: "boolean",
                    ..col(
                        "Suspend",
                        "This flag tells the controller to suspend subsequent executions.",
                    )
                },
                int("Active", "A list of pointers to currently running jobs."),
                col(
                    "Last Schedule",
                    "Information when was the last time the job was successfully scheduled.",
                ),
                AGE,
                CONTAINERS,
                IMAGES,
                SELECTOR,
            ],
            |o| {
                let (names, images) =
                    containers(o, "/spec/jobTemplate/spec/template/spec/containers");
                let suspend = match o.pointer("/spec/suspend").and_then(Value::as_bool) {
                    Some(true) => "True",
                    Some(false) => "False",
                    None => "<unset>",
                };
                let active = o
                    .pointer("/status/active")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                vec![
                    name(o),
                    json!(text(o, "/spec/schedule")),
                    json!(suspend),
                    json!(active),
                    json!(
                        time_at(o, "/status/lastScheduleTime").map_or("<none>".to_owned(), since)
                    ),
                    age(o),
                    json!(names),
                    json!(images),
                    json!(label_selector(o.pointer("/spec/jobTemplate/spec/selector"))),
                ]
            },
        ),
        ("", "Service") => (
            vec![
                NAME,
                col("Type", "type determines how the Service is exposed."),
                col("Cluster-IP", "clusterIP is the IP address of the service."),
                col(
                    "External-IP",
                    "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
                ),
                col(
                    "Port(s)",
                    "The list of ports that are exposed by this service.",
                ),
                AGE,
                wide(
                    "Selector",
                    "Route service traffic to pods with label keys and values matching this selector.",
                ),
            ],
            service,
        ),
        ("", "Endpoints") => (
            vec![
                NAME,
                col(
                    "Endpoints",
                    "The set of all endpoints is the union of all subsets.",
                ),
                AGE,
            ],
            |o| vec![name(o), json!(endpoints(o)), age(o)],
        ),
        ("discovery.k8s.io", "EndpointSlice") => (
            vec![
                NAME,
                col(
                    "AddressType",
                    "addressType specifies the type of address carried by this EndpointSlice.",
                ),
                col(
                    "Ports",
                    "ports specifies the list of network ports exposed by each endpoint in this slice.",
                ),
                col(
                    "Endpoints",
                    "endpoints is a list of unique endpoints in this slice.",
                ),
                AGE,
            ],
            |o| {
                let ports: Vec<String> = items(o, "/ports")
                    .iter()
                    .map(|p| {
                        match (
                            p.get("port").and_then(Value::as_i64),
                            p.get("name").and_then(Value::as_str),
                        ) {
                            (Some(n), _) => n.to_string(),
                            (None, Some(n)) => n.to_owned(),
                            _ => "*".to_owned(),
                        }
                    })
                    .collect();
                let addresses: Vec<String> = items(o, "/endpoints")
                    .iter()
                    .flat_map(|e| {
                        e.get("addresses")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default()
                    })
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .collect();
                vec![
                    name(o),
                    json!(text(o, "/addressType")),
                    json!(at_most_three(&ports, "<unset>")),
                    json!(at_most_three(&addresses, "<unset>")),
                    age(o),
                ]
            },
        ),
        ("networking.k8s.io", "Ingress") => (
            vec![
                NAME,
                col(
                    "Class",
                    "The name of the IngressClass resource that should be used for additional configuration",
                ),
                col(
                    "Hosts",
                    "Hosts that incoming requests are matched against before the ingress rule",
                ),
                col(
                    "Address",
                    "Address is a list containing ingress points for the load-balancer",
                ),
                col("Ports", "Ports of TLS configurations that open"),
                AGE,
            ],
            |o| {
                let hosts: Vec<String> = items(o, "/spec/rules")
                    .iter()
                    .filter_map(|r| r.get("host").and_then(Value::as_str))
                    .filter(|h| !h.is_empty())
                    .map(str::to_owned)
                    .collect();
                let class = o
                    .pointer("/spec/ingressClassName")
                    .and_then(Value::as_str)
                    .unwrap_or("<none>");
                let ports = if items(o, "/spec/tls").is_empty() {
                    "80"
                } else {
                    "80, 443"
                };
                vec![
                    name(o),
                    json!(class),
                    json!(at_most_three(&hosts, "*")),
                    json!(load_balancer(o)),
                    json!(ports),
                    age(o),
                ]
            },
        ),
        ("networking.k8s.io", "IngressClass") => (
            vec![
                NAME,
                col(
                    "Controller",
                    "Controller that is responsible for handling this class",
                ),
                col(
                    "Parameters",
                    "A reference to a resource with additional parameters",
                ),
                AGE,
            ],
            |o| {
                let parameters = match o.pointer("/spec/parameters") {
                    Some(p) => {
                        let group = p
                            .get("apiGroup")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        let kind = p.get("kind").and_then(Value::as_str).unwrap_or_default();
                        let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
                        if group.is_empty() {
                            format!("{kind}/{name}")
                        } else {
                            format!("{kind}.{group}/{name}")
                        }
                    }
                    None => "<none>".to_owned(),
                };
                vec![
                    name(o),
                    json!(text(o, "/spec/controller")),
                    json!(parameters),
                    age(o),
                ]
            },
        ),
        ("networking.k8s.io", "NetworkPolicy") => (
            vec![
                NAME,
                col(
                    "Pod-Selector",
                    "Selects the pods to which this NetworkPolicy object applies.",
                ),
                AGE,
            ],
            |o| {
                vec![
                    name(o),
                    json!(label_selector(o.pointer("/spec/podSelector"))),
                    age(o),
                ]
            },
        ),
        ("", "Namespace") => (
            vec![NAME, col("Status", "The status of the namespace"), AGE],
            |o| vec![name(o), json!(text(o, "/status/phase")), age(o)],
        ),
        ("", "Secret") => (
            vec![
                NAME,
                col(
                    "Type",
                    "Used to facilitate programmatic handling of secret data.",
                ),
                col("Data", "Data contains the secret data."),
                AGE,
            ],
            |o| {
                vec![
                    name(o),
                    json!(text(o, "/type")),
                    json!(keys(o, "/data")),
                    age(o),
                ]
            },
        ),
        ("", "ConfigMap") => (
            vec![
                NAME,
                col("Data", "Data contains the configuration data."),
                AGE,
            ],
            |o| {
                vec![
                    name(o),
                    json!(keys(o, "/data") + keys(o, "/binaryData")),
                    age(o),
                ]
            },
        ),
        ("", "ServiceAccount") => (
            vec![
                NAME,
                col(
                    "Secrets",
                    "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
                ),
                AGE,
            ],
            |o| vec![name(o), json!(items(o, "/secrets").len()), age(o)],
        ),
        ("", "PersistentVolumeClaim") => (
            vec![
                NAME,
                col(
                    "Status",
                    "phase represents the current phase of PersistentVolumeClaim.",
                ),
                col(
                    "Volume",
                    "volumeName is the binding reference to the PersistentVolume backing this claim.",
                ),
                col(
                    "Capacity",
                    "capacity represents the actual resources of the underlying volume.",
                ),
                col(
                    "Access Modes",
                    "accessModes contains the actual access modes the volume backing the PVC has.",
                ),
                col("StorageClass", "StorageClass of the pvc"),
                AGE,
                wide(
                    "VolumeMode",
                    "volumeMode defines what type of volume is required by the claim.",
                ),
            ],
            |o| {
                let bound = !text(o, "/spec/volumeName").is_empty();
                let (capacity, modes) = if bound {
                    (
                        text(o, "/status/capacity/storage"),
                        access_modes(o, "/status/accessModes"),
                    )
                } else {
                    (String::new(), String::new())
                };
                vec![
                    name(o),
                    json!(text(o, "/status/phase")),
                    json!(text(o, "/spec/volumeName")),
                    json!(capacity),
                    json!(modes),
                    json!(storage_class(o)),
                    age(o),
                    json!(or_unset(&text(o, "/spec/volumeMode"))),
                ]
            },
        ),
        ("", "PersistentVolume") => (
            vec![
                NAME,
                col(
                    "Capacity",
                    "capacity is the description of the persistent volume's resources and capacity.",
                ),
                col(
                    "Access Modes",
                    "accessModes contains all ways the volume can be mounted.",
                ),
                col(
                    "Reclaim Policy",
                    "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim.",
                ),
                col(
                    "Status",
                    "phase indicates if a volume is available, bound to a claim, or released by a claim.",
                ),
                col(
                    "Claim",
                    "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.",
                ),
                col("StorageClass", "StorageClass of the pv"),
                col(
                    "Reason",
                    "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.",
                ),
                AGE,
                wide(
                    "VolumeMode",
                    "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.",
                ),
            ],
            |o| {
                let claim = match (
                    o.pointer("/spec/claimRef/namespace")
                        .and_then(Value::as_str),
                    o.pointer("/spec/claimRef/name").and_then(Value::as_str),
                ) {
                    (Some(ns), Some(n)) => format!("{ns}/{n}"),
                    _ => String::new(),
                };
                vec![
                    name(o),
                    json!(text(o, "/spec/capacity/storage")),
                    json!(access_modes(o, "/spec/accessModes")),
                    json!(text(o, "/spec/persistentVolumeReclaimPolicy")),
                    json!(text(o, "/status/phase")),
                    json!(claim),
                    json!(storage_class(o)),
                    json!(text(o, "/status/reason")),
                    age(o),
                    json!(or_unset(&text(o, "/spec/volumeMode"))),
                ]
            },
        ),
        ("", "Node") => (
            vec![
                NAME,
                col("Status", "The status of the node"),
                col("Roles", "The roles of the node"),
                AGE,
                col("Version", "Kubelet Version reported by the node."),
                wide("Internal-IP", "List of addresses reachable to the node."),
                wide("External-IP", "List of addresses reachable to the node."),
                wide(
                    "OS-Image",
                    "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
                ),
                wide(
                    "Kernel-Version",
                    "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
                ),
                wide(
                    "Container-Runtime",
                    "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
                ),
            ],
            node,
        ),
        ("", "Event") | ("events.k8s.io", "Event") => (
            vec![
                col(
                    "Last Seen",
                    "The time at which the most recent occurrence of this event was recorded.",
                ),
                col(
                    "Type",
                    "Type of this event (Normal, Warning), new types could be added in the future",
                ),
                col(
                    "Reason",
                    "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
                ),
                col("Object", "The object that this event is about."),
                wide(
                    "Subobject",
                    "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement.",
                ),
                wide(
                    "Source",
                    "The component reporting this event. Should be a short machine understandable string.",
                ),
                col(
                    "Message",
                    "A human-readable description of the status of this operation.",
                ),
                wide(
                    "First Seen",
                    "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
                ),
                wide("Count", "The number of times this event has occurred."),
                Column {
                    priority: 1,
                    ..NAME
                },
            ],
            event,
        ),
        ("autoscaling", "HorizontalPodAutoscaler") => (
            vec![
                NAME,
                col(
                    "Reference",
                    "reference to scaled resource; horizontal pod autoscaler will learn the current resource consumption and will set the desired number of pods by using its Scale subresource.",
                ),
                col(
                    "Targets",
                    "metrics contains the specifications for which to use to calculate the desired replica count.",
                ),
                col(
                    "MinPods",
                    "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.",
                ),
                col(
                    "MaxPods",
                    "maxReplicas is the upper limit for the number of pods that can be set by the autoscaler.",
                ),
                col(
                    "Replicas",
                    "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.",
                ),
                AGE,
            ],
            hpa,
        ),
        ("policy", "PodDisruptionBudget") => (
            vec![
                NAME,
                col(
                    "Min Available",
                    "The minimum number of pods that must be available.",
                ),
                col(
                    "Max Unavailable",
                    "The maximum number of pods that may be unavailable.",
                ),
                int(
                    "Allowed Disruptions",
                    "Calculated number of pods that may be disrupted at this time.",
                ),
                AGE,
            ],
            |o| {
                let or_na = |p: &str| match o.pointer(p) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => "N/A".to_owned(),
                };
                vec![
                    name(o),
                    json!(or_na("/spec/minAvailable")),
                    json!(or_na("/spec/maxUnavailable")),
                    json!(int_at(o, "/status/disruptionsAllowed")),
                    age(o),
                ]
            },
        ),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => (
            vec![
                NAME,
                col(
                    "Role",
                    "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.",
                ),
                AGE,
                wide("Users", "Users in the roleBinding"),
                wide("Groups", "Groups in the roleBinding"),
                wide("ServiceAccounts", "ServiceAccounts in the roleBinding"),
            ],
            |o| {
                let subjects = |kind: &str| -> String {
                    items(o, "/subjects")
                        .iter()
                        .filter(|s| s.get("kind").and_then(Value::as_str) == Some(kind))
                        .map(|s| {
                            let n = s.get("name").and_then(Value::as_str).unwrap_or_default();
                            match s.get("namespace").and_then(Value::as_str) {
                                Some(ns) if kind == "ServiceAccount" => format!("{ns}/{n}"),
                                _ => n.to_owned(),
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                vec![
                    name(o),
                    json!(format!(
                        "{}/{}",
                        text(o, "/roleRef/kind"),
                        text(o, "/roleRef/name")
                    )),
                    age(o),
                    json!(subjects("User")),
                    json!(subjects("Group")),
                    json!(subjects("ServiceAccount")),
                ]
            },
        ),
        ("coordination.k8s.io", "Lease") => (
            vec![
                NAME,
                col(
                    "Holder",
                    "holderIdentity contains the identity of the holder of a current lease.",
                ),
                AGE,
            ],
            |o| vec![name(o), json!(text(o, "/spec/holderIdentity")), age(o)],
        ),
        ("storage.k8s.io", "StorageClass") => (
            vec![
                NAME,
                col(
                    "Provisioner",
                    "provisioner indicates the type of the provisioner.",
                ),
                col(
                    "ReclaimPolicy",
                    "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class.",
                ),
                col(
                    "VolumeBindingMode",
                    "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.",
                ),
                col(
                    "AllowVolumeExpansion",
                    "allowVolumeExpansion shows whether the storage class allow volume expand.",
                ),
                AGE,
            ],
            |o| {
                let default = [
                    "storageclass.kubernetes.io/is-default-class",
                    "storageclass.beta.kubernetes.io/is-default-class",
                ]
                .iter()
                .any(|a| {
                    o.pointer(&format!("/metadata/annotations/{}", a.replace('/', "~1")))
                        .and_then(Value::as_str)
                        == Some("true")
                });
                let shown = if default {
                    format!("{} (default)", text(o, "/metadata/name"))
                } else {
                    text(o, "/metadata/name")
                };
                let or_default = |p: &str, d: &str| {
                    let v = text(o, p);
                    if v.is_empty() { d.to_owned() } else { v }
                };
                vec![
                    json!(shown),
                    json!(text(o, "/provisioner")),
                    json!(or_default("/reclaimPolicy", "Delete")),
                    json!(or_default("/volumeBindingMode", "Immediate")),
                    json!(
                        if o.pointer("/allowVolumeExpansion").and_then(Value::as_bool) == Some(true)
                        {
                            "true"
                        } else {
                            "false"
                        }
                    ),
                    age(o),
                ]
            },
        ),
        ("scheduling.k8s.io", "PriorityClass") => (
            vec![
                NAME,
                int("Value", "The value of this priority class."),
                Column {
                    kind: "boolean",
                    ..col(
                        "Global-Default",
                        "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class.",
                    )
                },
                AGE,
            ],
            |o| {
                vec![
                    name(o),
                    json!(int_at(o, "/value")),
                    json!(
                        o.pointer("/globalDefault")
                            .and_then(Value::as_bool)
                            .unwrap_or(false)
                    ),
                    age(o),
                ]
            },
        ),
        ("node.k8s.io", "RuntimeClass") => (
            vec![
                NAME,
                col(
                    "Handler",
                    "handler specifies the underlying runtime and configuration that the CRI implementation will use to handle pods of this class.",
                ),
                AGE,
            ],
            |o| vec![name(o), json!(text(o, "/handler")), age(o)],
        ),
        ("apps", "ControllerRevision") => (
            vec![
                NAME,
                col("Controller", "Controller of the object"),
                col(
                    "Revision",
                    "Revision indicates the revision of the state represented by Data.",
                ),
                AGE,
            ],
            |o| {
                let controller = items(o, "/metadata/ownerReferences")
                    .iter()
                    .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
                    .map(|r| {
                        let api = r
                            .get("apiVersion")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        let group = api.split_once('/').map(|(g, _)| g).unwrap_or_default();
                        let kind = r
                            .get("kind")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_lowercase();
                        let n = r.get("name").and_then(Value::as_str).unwrap_or_default();
                        if group.is_empty() {
                            format!("{kind}/{n}")
                        } else {
                            format!("{kind}.{group}/{n}")
                        }
                    })
                    .unwrap_or_else(|| "<none>".to_owned());
                vec![
                    name(o),
                    json!(controller),
                    json!(int_at(o, "/revision")),
                    age(o),
                ]
            },
        ),
        (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration",
        ) => (
            vec![
                NAME,
                int(
                    "Webhooks",
                    "Webhooks indicates the number of webhooks registered in this configuration",
                ),
                AGE,
            ],
            |o| vec![name(o), json!(items(o, "/webhooks").len()), age(o)],
        ),
        ("storage.k8s.io", "VolumeAttachment") => (
            vec![
                NAME,
                col(
                    "Attacher",
                    "attacher indicates the name of the volume driver that MUST handle this request.",
                ),
                col(
                    "PV",
                    "persistentVolumeName represents the name of the persistent volume to attach.",
                ),
                col(
                    "Node",
                    "nodeName represents the node that the volume should be attached to.",
                ),
                Column {
                    kind: "boolean",
                    ..col(
                        "Attached",
                        "attached indicates the volume is successfully attached.",
                    )
                },
                AGE,
            ],
            |o| {
                vec![
                    name(o),
                    json!(text(o, "/spec/attacher")),
                    json!(text(o, "/spec/source/persistentVolumeName")),
                    json!(text(o, "/spec/nodeName")),
                    json!(
                        o.pointer("/status/attached")
                            .and_then(Value::as_bool)
                            .unwrap_or(false)
                    ),
                    age(o),
                ]
            },
        ),
        ("storage.k8s.io", "CSINode") => (
            vec![
                NAME,
                int(
                    "Drivers",
                    "Drivers indicates the number of CSI drivers registered on the node",
                ),
                AGE,
            ],
            |o| vec![name(o), json!(items(o, "/spec/drivers").len()), age(o)],
        ),
        ("storage.k8s.io", "CSIDriver") => (
            vec![
                NAME,
                Column {
                    kind: "boolean",
                    ..col(
                        "AttachRequired",
                        "attachRequired indicates this CSI volume driver requires an attach operation.",
                    )
                },
                Column {
                    kind: "boolean",
                    ..col(
                        "PodInfoOnMount",
                        "podInfoOnMount indicates this CSI volume driver requires additional pod information during mount operations.",
                    )
                },
                Column {
                    kind: "boolean",
                    ..col(
                        "StorageCapacity",
                        "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider the storage capacity.",
                    )
                },
                col(
                    "TokenRequests",
                    "tokenRequests indicates the CSI driver needs pods' service account tokens it is mounting volume for to do necessary authentication.",
                ),
                Column {
                    kind: "boolean",
                    ..col(
                        "RequiresRepublish",
                        "requiresRepublish indicates the CSI driver wants NodePublishVolume being periodically called to reflect any possible change in the mounted volume.",
                    )
                },
                col(
                    "Modes",
                    "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports.",
                ),
                AGE,
            ],
            |o| {
                let flag =
                    |p: &str, d: bool| json!(o.pointer(p).and_then(Value::as_bool).unwrap_or(d));
                let joined = |p: &str, field: Option<&str>| {
                    let v: Vec<String> = items(o, p)
                        .iter()
                        .filter_map(|x| match field {
                            Some(f) => x.get(f).and_then(Value::as_str),
                            None => x.as_str(),
                        })
                        .map(str::to_owned)
                        .collect();
                    if v.is_empty() {
                        "<unset>".to_owned()
                    } else {
                        v.join(",")
                    }
                };
                vec![
                    name(o),
                    flag("/spec/attachRequired", true),
                    flag("/spec/podInfoOnMount", false),
                    flag("/spec/storageCapacity", false),
                    json!(joined("/spec/tokenRequests", Some("audience"))),
                    flag("/spec/requiresRepublish", false),
                    json!(joined("/spec/volumeLifecycleModes", None)),
                    age(o),
                ]
            },
        ),
        ("storage.k8s.io", "CSIStorageCapacity") => (
            vec![
                NAME,
                col(
                    "StorageClassName",
                    "The name of the StorageClass that the reported capacity applies to.",
                ),
                col(
                    "Capacity",
                    "Capacity is the value reported by the CSI driver in its GetCapacityResponse for a GetCapacityRequest with topology and parameters that match the previous fields.",
                ),
            ],
            |o| {
                let capacity = match o.get("capacity") {
                    Some(Value::String(c)) => c.clone(),
                    _ => "<unset>".to_owned(),
                };
                vec![
                    name(o),
                    json!(text(o, "/storageClassName")),
                    json!(capacity),
                ]
            },
        ),
        ("certificates.k8s.io", "CertificateSigningRequest") => (
            vec![
                NAME,
                AGE,
                col("SignerName", "Requested signer for the request."),
                col("Requestor", "Name of the user that created the request."),
                col(
                    "RequestedDuration",
                    "The requested duration of validity of the issued certificate.",
                ),
                col("Condition", "Conditions applied to the request."),
            ],
            |o| {
                let signer = text(o, "/spec/signerName");
                let duration = o
                    .pointer("/spec/expirationSeconds")
                    .and_then(Value::as_i64)
                    .map_or("<none>".to_owned(), human_duration);
                let mut approved = false;
                let mut denied = false;
                let mut failed = false;
                for c in items(o, "/status/conditions") {
                    match c.get("type").and_then(Value::as_str) {
                        Some("Approved") => approved = true,
                        Some("Denied") => denied = true,
                        Some("Failed") => failed = true,
                        _ => {}
                    }
                }
                let mut condition = Vec::new();
                if approved {
                    condition.push("Approved");
                }
                if denied {
                    condition.push("Denied");
                }
                if failed {
                    condition.push("Failed");
                }
                if o.pointer("/status/certificate")
                    .and_then(Value::as_str)
                    .is_some_and(|c| !c.is_empty())
                {
                    condition.push("Issued");
                }
                let condition = if condition.is_empty() {
                    "Pending".to_owned()
                } else {
                    condition.join(",")
                };
                vec![
                    name(o),
                    age(o),
                    json!(if signer.is_empty() {
                        "<none>".to_owned()
                    } else {
                        signer
                    }),
                    json!(text(o, "/spec/username")),
                    json!(duration),
                    json!(condition),
                ]
            },
        ),
        ("", "ResourceQuota") => (
            vec![
                NAME,
                AGE,
                col(
                    "Request",
                    "Request represents a minimum amount of cpu/memory that a container may consume.",
                ),
                col(
                    "Limit",
                    "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
                ),
            ],
            |o| {
                // The quota controller copies spec.hard to status.hard, which the printer
                // reads; the emulator runs none, so spec.hard stands in (used: 0).
                let hard = o
                    .pointer("/status/hard")
                    .or_else(|| o.pointer("/spec/hard"))
                    .and_then(Value::as_object);
                let mut keys: Vec<&String> = hard.map(|h| h.keys().collect()).unwrap_or_default();
                keys.sort();
                let (mut request, mut limit) = (Vec::new(), Vec::new());
                for k in keys {
                    let quantity = |m: &str| {
                        o.pointer(&format!(
                            "/status/{m}/{}",
                            k.replace('~', "~0").replace('/', "~1")
                        ))
                        .map(|v| match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                    };
                    let hard_q = hard
                        .and_then(|h| h.get(k))
                        .map(|v| match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .unwrap_or_default();
                    let used = quantity("used").unwrap_or_else(|| "0".to_owned());
                    let cell = format!("{k}: {used}/{hard_q}");
                    if k.starts_with("limits.") {
                        limit.push(cell)
                    } else {
                        request.push(cell)
                    }
                }
                vec![
                    name(o),
                    age(o),
                    json!(request.join(", ")),
                    json!(limit.join(", ")),
                ]
            },
        ),
        ("apiregistration.k8s.io", "APIService") => (
            vec![
                NAME,
                col(
                    "Service",
                    "The reference to the service that hosts this API endpoint.",
                ),
                col("Available", "Whether this service is available."),
                AGE,
            ],
            |o| {
                let service = match (
                    o.pointer("/spec/service/namespace").and_then(Value::as_str),
                    o.pointer("/spec/service/name").and_then(Value::as_str),
                ) {
                    (Some(ns), Some(n)) => format!("{ns}/{n}"),
                    _ => "Local".to_owned(),
                };
                let available = items(o, "/status/conditions")
                    .iter()
                    .find(|c| c.get("type").and_then(Value::as_str) == Some("Available"))
                    .map(|c| {
                        let status = c.get("status").and_then(Value::as_str).unwrap_or("Unknown");
                        match c.get("reason").and_then(Value::as_str) {
                            Some(r) if status != "True" && !r.is_empty() => {
                                format!("{status} ({r})")
                            }
                            _ => status.to_owned(),
                        }
                    })
                    .unwrap_or_else(|| "Unknown".to_owned());
                vec![name(o), json!(service), json!(available), age(o)]
            },
        ),
        _ => return None,
    };
    Some(p)
}

/// A `meta.k8s.io/v1 Table` of objects (one, or a list with its `metadata`).
pub fn table(
    rt: &ResourceType,
    objects: &[Value],
    list_meta: Option<&Value>,
    params: &Params,
) -> Value {
    let (columns, rows): (Vec<Value>, Vec<Vec<Value>>) = match &rt.custom {
        Some(custom) => custom_columns(&custom.printer_columns, objects),
        None => match printer(&rt.group, &rt.kind) {
            Some((columns, cells)) => (
                columns.iter().map(definition).collect(),
                objects.iter().map(cells).collect(),
            ),
            None => (
                vec![
                    definition(&NAME),
                    definition(&Column {
                        kind: "date",
                        ..col("Created At", CREATED_DOC)
                    }),
                ],
                objects
                    .iter()
                    .map(|o| vec![name(o), json!(text(o, "/metadata/creationTimestamp"))])
                    .collect(),
            ),
        },
    };
    let include = params.get("includeObject").unwrap_or("Metadata");
    let rows: Vec<Value> = objects
        .iter()
        .zip(rows)
        .map(|(o, cells)| {
            let object = match include {
                "None" => Value::Null,
                "Object" => o.clone(),
                _ => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                    "metadata": o["metadata"].clone()}),
            };
            let mut row = json!({"cells": cells, "object": object});
            if rt.group.is_empty() && rt.kind == "Pod" {
                let (reason, message) = match text(o, "/status/phase").as_str() {
                    "Succeeded" => ("Succeeded", "The pod has completed successfully."),
                    "Failed" => ("Failed", "The pod failed."),
                    _ => ("", ""),
                };
                if !reason.is_empty() {
                    row["conditions"] = json!([{"type": "Completed", "status": "True",
                        "reason": reason, "message": message}]);
                }
            }
            row
        })
        .collect();
    let mut metadata = json!({});
    for key in ["resourceVersion", "continue", "remainingItemCount"] {
        if let Some(v) = list_meta
            .and_then(|m| m.get(key))
            .filter(|v| !v.is_null() && v.as_str() != Some(""))
        {
            metadata[key] = v.clone();
        }
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
        "columnDefinitions": columns, "rows": rows})
}

fn definition(c: &Column) -> Value {
    let format = if matches!(c.name, "Name" | "Attacher") {
        "name"
    } else {
        ""
    };
    json!({"name": c.name, "type": c.kind, "format": format,
        "description": c.description, "priority": c.priority})
}

/// A CRD version's columns, as the apiextensions server's table convertor makes them.
fn custom_columns(printer_columns: &[Value], objects: &[Value]) -> (Vec<Value>, Vec<Vec<Value>>) {
    let default_age = [
        json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
        "description": CREATED_DOC}),
    ];
    let printer_columns = if printer_columns.is_empty() {
        &default_age[..]
    } else {
        printer_columns
    };
    let mut columns = vec![definition(&NAME)];
    for p in printer_columns {
        let path = p["jsonPath"].as_str().unwrap_or_default();
        let description = p["description"]
            .as_str()
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| {
                format!("Custom resource definition column (in JSONPath format): {path}")
            });
        columns.push(json!({"name": p["name"], "type": p["type"],
            "format": p["format"].as_str().unwrap_or_default(),
            "description": description, "priority": p["priority"].as_i64().unwrap_or(0)}));
    }
    let rows = objects
        .iter()
        .map(|o| {
            let mut cells = vec![name(o)];
            for p in printer_columns {
                let path = p["jsonPath"].as_str().unwrap_or_default();
                let kind = p["type"].as_str().unwrap_or("string");
                cells.push(match jsonpath_first(o, path) {
                    None => Value::Null,
                    Some(v) => custom_cell(kind, &v),
                });
            }
            cells
        })
        .collect();
    (columns, rows)
}

/// A custom column's cell: strings printed as JSONPath prints them, the other types as
/// their JSON value when it has that type, and `date` as an age.
fn custom_cell(kind: &str, v: &Value) -> Value {
    match (kind, v) {
        (_, Value::Null) => Value::Null,
        ("string", Value::String(s)) => json!(s),
        ("string", Value::Number(_) | Value::Bool(_)) => json!(v.to_string()),
        ("string", _) => json!(v.to_string()),
        ("integer", Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map_or(Value::Null, |i| json!(i)),
        ("number", Value::Number(n)) => n.as_f64().map_or(Value::Null, |f| json!(f)),
        ("boolean", Value::Bool(b)) => json!(b),
        ("date", Value::String(s)) => match parse_time(s) {
            Some(t) => json!(since(t)),
            None => json!("<invalid>"),
        },
        _ => Value::Null,
    }
}

/// The first value a printer column's JSONPath finds: `.a.b`, `['a.b']`, `[0]`, `[*]`,
/// and filters `[?(@.type=="Ready")]` (`==`, `!=`), optionally wrapped in `{}`.
fn jsonpath_first(o: &Value, path: &str) -> Option<Value> {
    let path = path.trim();
    let path = path
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or(path);
    let mut current = vec![o.clone()];
    let mut rest = path.trim_start_matches('$');
    while !rest.is_empty() {
        let (step, after) = if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            (Step::Key(key.to_owned()), &r[end..])
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = closing_bracket(r)?;
            let inner = r[..end].trim();
            let step = if inner == "*" {
                Step::All
            } else if let Some(filter) = inner.strip_prefix("?(").and_then(|f| f.strip_suffix(')'))
            {
                Step::Filter(filter.to_owned())
            } else if let Some(q) = inner
                .strip_prefix('\'')
                .and_then(|q| q.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|q| q.strip_suffix('"')))
            {
                Step::Key(q.to_owned())
            } else {
                Step::Index(inner.parse().ok()?)
            };
            (step, &r[end + 1..])
        } else {
            return None;
        };
        current = current.iter().flat_map(|v| step.apply(v)).collect();
        rest = after;
    }
    current.into_iter().next()
}

fn closing_bracket(s: &str) -> Option<usize> {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[' | '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ']') if depth == 0 => return Some(i),
            (None, ']') => depth -= 1,
            _ => {}
        }
    }
    None
}

enum Step {
    Key(String),
    Index(i64),
    All,
    Filter(String),
}

impl Step {
    fn apply(&self, v: &Value) -> Vec<Value> {
        match self {
            Step::Key(k) if k.is_empty() => vec![v.clone()],
            Step::Key(k) => v.get(k).cloned().into_iter().collect(),
            Step::Index(i) => {
                let Some(a) = v.as_array() else {
                    return Vec::new();
                };
                let i = if *i < 0 { a.len() as i64 + i } else { *i };
                usize::try_from(i)
                    .ok()
                    .and_then(|i| a.get(i))
                    .cloned()
                    .into_iter()
                    .collect()
            }
            Step::All => match v {
                Value::Array(a) => a.clone(),
                Value::Object(m) => m.values().cloned().collect(),
                _ => Vec::new(),
            },
            Step::Filter(f) => {
                let Some(a) = v.as_array() else {
                    return Vec::new();
                };
                let (lhs, op, rhs) = match f.split_once("==") {
                    Some((l, r)) => (l, true, r),
                    None => match f.split_once("!=") {
                        Some((l, r)) => (l, false, r),
                        None => return Vec::new(),
                    },
                };
                let want = rhs.trim().trim_matches(|c| c == '"' || c == '\'');
                let field = lhs.trim().trim_start_matches('@');
                a.iter()
                    .filter(|item| {
                        let got = jsonpath_first(item, field).map(|g| match g {
                            Value::String(s) => s,
                            other => other.to_string(),
                        });
                        (got.as_deref() == Some(want)) == op
                    })
                    .cloned()
                    .collect()
            }
        }
    }
}

// --- cells ---

fn text(o: &Value, pointer: &str) -> String {
    o.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn int_at(o: &Value, pointer: &str) -> i64 {
    o.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn items<'a>(o: &'a Value, pointer: &str) -> &'a [Value] {
    o.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn keys(o: &Value, pointer: &str) -> usize {
    o.pointer(pointer)
        .and_then(Value::as_object)
        .map_or(0, |m| m.len())
}

fn name(o: &Value) -> Value {
    json!(text(o, "/metadata/name"))
}

fn or_unset(s: &str) -> String {
    if s.is_empty() {
        "<unset>".to_owned()
    } else {
        s.to_owned()
    }
}

fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

fn time_at(o: &Value, pointer: &str) -> Option<time::OffsetDateTime> {
    o.pointer(pointer)
        .and_then(Value::as_str)
        .and_then(parse_time)
}

fn since(t: time::OffsetDateTime) -> String {
    human_duration((time::OffsetDateTime::now_utc() - t).whole_seconds())
}

/// The object's age, `<unknown>` without a creation time.
fn age(o: &Value) -> Value {
    json!(time_at(o, "/metadata/creationTimestamp").map_or("<unknown>".to_owned(), since))
}

/// apimachinery's `duration.HumanDuration`: two significant units while they say more.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let days = (hours / 24) % 365;
        return if days == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{days}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// Container names and images, comma-separated.
fn containers(o: &Value, pointer: &str) -> (String, String) {
    let list = items(o, pointer);
    let field = |k: &str| {
        list.iter()
            .map(|c| c.get(k).and_then(Value::as_str).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(",")
    };
    (field("name"), field("image"))
}

/// `labels.FormatLabels`: `k=v` sorted by key, `<none>` when empty.
fn labels(map: Option<&Value>) -> String {
    let Some(m) = map.and_then(Value::as_object).filter(|m| !m.is_empty()) else {
        return "<none>".into();
    };
    let mut pairs: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    pairs.sort();
    pairs.join(",")
}

/// A label selector as `metav1.LabelSelectorAsSelector(...).String()` prints it:
/// requirements sorted by key, `<none>` for a missing one.
fn label_selector(selector: Option<&Value>) -> String {
    let Some(s) = selector.filter(|s| !s.is_null()) else {
        return "<none>".into();
    };
    let mut parts: Vec<(String, String)> = Vec::new();
    if let Some(m) = s.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            parts.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())));
        }
    }
    for e in s
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
        let mut values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        values.sort_unstable();
        let values = values.join(",");
        let part = match e
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "In" => format!("{key} in ({values})"),
            "NotIn" => format!("{key} notin ({values})"),
            "Exists" => key.to_owned(),
            "DoesNotExist" => format!("!{key}"),
            _ => continue,
        };
        parts.push((key.to_owned(), part));
    }
    parts.sort();
    parts
        .into_iter()
        .map(|(_, p)| p)
        .collect::<Vec<_>>()
        .join(",")
}

/// At most three items, then `+ N more...`; `empty` when there are none.
fn at_most_three(list: &[String], empty: &str) -> String {
    if list.is_empty() {
        return empty.to_owned();
    }
    let shown = list.iter().take(3).cloned().collect::<Vec<_>>().join(",");
    if list.len() > 3 {
        format!("{shown} + {} more...", list.len() - 3)
    } else {
        shown
    }
}

fn storage_class(o: &Value) -> String {
    let annotated = text(
        o,
        "/metadata/annotations/volume.beta.kubernetes.io~1storage-class",
    );
    if !annotated.is_empty() {
        return annotated;
    }
    text(o, "/spec/storageClassName")
}

fn access_modes(o: &Value, pointer: &str) -> String {
    let modes: Vec<&str> = items(o, pointer).iter().filter_map(Value::as_str).collect();
    let mut out = Vec::new();
    for (mode, short) in [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ] {
        if modes.contains(&mode) {
            out.push(short);
        }
    }
    out.join(",")
}

/// A load balancer's ingress points (IPs, else host names), comma-separated.
fn load_balancer(o: &Value) -> String {
    items(o, "/status/loadBalancer/ingress")
        .iter()
        .filter_map(|i| {
            i.get("ip")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .or_else(|| i.get("hostname").and_then(Value::as_str))
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn service(o: &Value) -> Vec<Value> {
    let kind = text(o, "/spec/type");
    let cluster_ip = items(o, "/spec/clusterIPs")
        .first()
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| "<none>".to_owned());
    let external: Vec<&str> = items(o, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let external_ip = match kind.as_str() {
        "ClusterIP" | "NodePort" if !external.is_empty() => external.join(","),
        "ClusterIP" | "NodePort" => "<none>".to_owned(),
        "LoadBalancer" => {
            let lb = load_balancer(o);
            let mut all: Vec<&str> = lb.split(',').filter(|s| !s.is_empty()).collect();
            all.extend(&external);
            if all.is_empty() {
                "<pending>".to_owned()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => text(o, "/spec/externalName"),
        _ => "<unknown>".to_owned(),
    };
    let ports: Vec<String> = items(o, "/spec/ports")
        .iter()
        .map(|p| {
            let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
            let protocol = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            match p.get("nodePort").and_then(Value::as_i64).filter(|n| *n > 0) {
                Some(node) => format!("{port}:{node}/{protocol}"),
                None => format!("{port}/{protocol}"),
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".to_owned()
    } else {
        ports.join(",")
    };
    vec![
        name(o),
        json!(kind),
        json!(cluster_ip),
        json!(external_ip),
        json!(ports),
        age(o),
        json!(labels(o.pointer("/spec/selector"))),
    ]
}

fn endpoints(o: &Value) -> String {
    let mut list = Vec::new();
    let mut count = 0;
    for subset in items(o, "/subsets") {
        let addresses: Vec<&str> = subset
            .get("addresses")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.get("ip").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        let ports: Vec<i64> = subset
            .get("ports")
            .and_then(Value::as_array)
            .map(|p| {
                p.iter()
                    .filter_map(|x| x.get("port").and_then(Value::as_i64))
                    .collect()
            })
            .unwrap_or_default();
        if ports.is_empty() {
            for ip in &addresses {
                if list.len() < 3 {
                    list.push((*ip).to_owned());
                }
                count += 1;
            }
        } else {
            for port in &ports {
                for ip in &addresses {
                    if list.len() < 3 {
                        list.push(if ip.contains(':') {
                            format!("[{ip}]:{port}")
                        } else {
                            format!("{ip}:{port}")
                        });
                    }
                    count += 1;
                }
            }
        }
    }
    if count == 0 {
        return "<none>".to_owned();
    }
    let shown = list.join(",");
    if count > 3 {
        format!("{shown} + {} more...", count - 3)
    } else {
        shown
    }
}

fn pod(o: &Value) -> Vec<Value> {
    let total = items(o, "/spec/containers").len();
    let mut ready = 0;
    let mut restarts = 0;
    let mut last_restart: Option<time::OffsetDateTime> = None;
    let mut reason = text(o, "/status/phase");
    if !text(o, "/status/reason").is_empty() {
        reason = text(o, "/status/reason");
    }
    let note_restart = |c: &Value, last: &mut Option<time::OffsetDateTime>| {
        if let Some(t) = c
            .pointer("/lastState/terminated/finishedAt")
            .and_then(Value::as_str)
            .and_then(parse_time)
            && last.is_none_or(|l| l < t)
        {
            *last = Some(t);
        }
    };
    let init_total = items(o, "/spec/initContainers").len();
    let mut initializing = false;
    for (i, c) in items(o, "/status/initContainerStatuses").iter().enumerate() {
        restarts += c.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
        note_restart(c, &mut last_restart);
        let terminated = c.pointer("/state/terminated");
        let exit = terminated
            .and_then(|t| t.get("exitCode"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let waiting_reason = c
            .pointer("/state/waiting/reason")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if terminated.is_some() && exit == 0 {
            continue;
        }
        reason = if let Some(t) = terminated {
            let r = t.get("reason").and_then(Value::as_str).unwrap_or_default();
            let signal = t.get("signal").and_then(Value::as_i64).unwrap_or(0);
            match (r.is_empty(), signal) {
                (false, _) => format!("Init:{r}"),
                (true, 0) => format!("Init:ExitCode:{exit}"),
                (true, s) => format!("Init:Signal:{s}"),
            }
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{init_total}")
        };
        initializing = true;
        break;
    }
    if !initializing {
        restarts = 0;
        let mut running = false;
        for c in items(o, "/status/containerStatuses").iter().rev() {
            restarts += c.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
            note_restart(c, &mut last_restart);
            let waiting = c
                .pointer("/state/waiting/reason")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let terminated = c.pointer("/state/terminated");
            let terminated_reason = terminated
                .and_then(|t| t.get("reason"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !waiting.is_empty() {
                reason = waiting.to_owned();
            } else if !terminated_reason.is_empty() {
                reason = terminated_reason.to_owned();
            } else if let Some(t) = terminated {
                let signal = t.get("signal").and_then(Value::as_i64).unwrap_or(0);
                let exit = t.get("exitCode").and_then(Value::as_i64).unwrap_or(0);
                reason = if signal != 0 {
                    format!("Signal:{signal}")
                } else {
                    format!("ExitCode:{exit}")
                };
            } else if c.get("ready").and_then(Value::as_bool) == Some(true)
                && c.pointer("/state/running").is_some()
            {
                running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && running {
            let pod_ready = items(o, "/status/conditions").iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            });
            reason = if pod_ready { "Running" } else { "NotReady" }.to_owned();
        }
    }
    if o.pointer("/metadata/deletionTimestamp").is_some() {
        reason = if text(o, "/status/reason") == "NodeLost" {
            "Unknown".to_owned()
        } else {
            "Terminating".to_owned()
        };
    }
    let restarts = match last_restart {
        Some(t) => format!("{restarts} ({} ago)", since(t)),
        None => restarts.to_string(),
    };
    let none = |s: String| if s.is_empty() { "<none>".to_owned() } else { s };
    // The kubelet sets both; the printer reads `podIPs`, a status with only `podIP` (as
    // older kubelets and the workload simulator write) shows that one.
    let ip = items(o, "/status/podIPs")
        .first()
        .and_then(|p| p.get("ip"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| text(o, "/status/podIP"));
    let gates = items(o, "/spec/readinessGates");
    let gates = if gates.is_empty() {
        "<none>".to_owned()
    } else {
        let conditions = items(o, "/status/conditions");
        let true_ = gates
            .iter()
            .filter(|g| {
                let t = g.get("conditionType").and_then(Value::as_str);
                conditions.iter().any(|c| {
                    c.get("type").and_then(Value::as_str) == t
                        && c.get("status").and_then(Value::as_str) == Some("True")
                })
            })
            .count();
        format!("{true_}/{}", gates.len())
    };
    vec![
        name(o),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts),
        age(o),
        json!(none(ip)),
        json!(none(text(o, "/spec/nodeName"))),
        json!(none(text(o, "/status/nominatedNodeName"))),
        json!(gates),
    ]
}

fn job(o: &Value) -> Vec<Value> {
    let succeeded = int_at(o, "/status/succeeded");
    let completions = match o.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match o.pointer("/spec/parallelism").and_then(Value::as_i64) {
            Some(p) if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (
        time_at(o, "/status/startTime"),
        time_at(o, "/status/completionTime"),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => since(start),
        (Some(start), Some(end)) => human_duration((end - start).whole_seconds()),
    };
    let (names, images) = containers(o, "/spec/template/spec/containers");
    vec![
        name(o),
        json!(completions),
        json!(duration),
        age(o),
        json!(names),
        json!(images),
        json!(label_selector(o.pointer("/spec/selector"))),
    ]
}

fn node(o: &Value) -> Vec<Value> {
    let conditions = items(o, "/status/conditions");
    let mut status: Vec<String> = conditions
        .iter()
        .filter(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
        .map(|c| match c.get("status").and_then(Value::as_str) {
            Some("True") => "Ready".to_owned(),
            _ => "NotReady".to_owned(),
        })
        .collect();
    if status.is_empty() {
        status.push("Unknown".into());
    }
    if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled".into());
    }
    let mut roles: Vec<String> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                        Some(role.to_owned())
                    } else if k == "kubernetes.io/role" {
                        v.as_str().map(str::to_owned)
                    } else {
                        None
                    }
                })
                .filter(|r| !r.is_empty())
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    let roles = if roles.is_empty() {
        "<none>".to_owned()
    } else {
        roles.join(",")
    };
    let address = |kind: &str| {
        items(o, "/status/addresses")
            .iter()
            .find(|a| a.get("type").and_then(Value::as_str) == Some(kind))
            .and_then(|a| a.get("address").and_then(Value::as_str))
            .unwrap_or("<none>")
            .to_owned()
    };
    let info = |k: &str| {
        let v = text(o, &format!("/status/nodeInfo/{k}"));
        if v.is_empty() {
            "<unknown>".to_owned()
        } else {
            v
        }
    };
    vec![
        name(o),
        json!(status.join(",")),
        json!(roles),
        age(o),
        json!(text(o, "/status/nodeInfo/kubeletVersion")),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

fn event(o: &Value) -> Vec<Value> {
    // core/v1 and events.k8s.io/v1 name the same things differently.
    let first = |paths: &[&str]| {
        paths
            .iter()
            .map(|p| text(o, p))
            .find(|s| !s.is_empty())
            .unwrap_or_default()
    };
    let regarding = o
        .get("involvedObject")
        .or_else(|| o.get("regarding"))
        .cloned()
        .unwrap_or(Value::Null);
    let object = format!(
        "{}/{}",
        regarding["kind"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase(),
        regarding["name"].as_str().unwrap_or_default()
    );
    let last = first(&[
        "/lastTimestamp",
        "/deprecatedLastTimestamp",
        "/eventTime",
        "/series/lastObservedTime",
    ]);
    let first_seen = first(&["/firstTimestamp", "/deprecatedFirstTimestamp", "/eventTime"]);
    let ago = |s: &str| parse_time(s).map_or("<unknown>".to_owned(), since);
    let source = first(&["/source/component", "/reportingController"]);
    let count = o
        .get("count")
        .or_else(|| o.pointer("/series/count"))
        .and_then(Value::as_i64)
        .unwrap_or(1);
    vec![
        json!(ago(&last)),
        json!(text(o, "/type")),
        json!(text(o, "/reason")),
        json!(object),
        json!(regarding["fieldPath"].as_str().unwrap_or_default()),
        json!(source),
        json!(first(&["/message", "/note"]).trim().to_owned()),
        json!(ago(&first_seen)),
        json!(count.to_string()),
        name(o),
    ]
}

fn hpa(o: &Value) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        text(o, "/spec/scaleTargetRef/kind"),
        text(o, "/spec/scaleTargetRef/name")
    );
    // autoscaling/v1's single target, or v2's resource metrics as utilization.
    let mut targets: Vec<String> = Vec::new();
    if let Some(t) = o
        .pointer("/spec/targetCPUUtilizationPercentage")
        .and_then(Value::as_i64)
    {
        let current = o
            .pointer("/status/currentCPUUtilizationPercentage")
            .and_then(Value::as_i64)
            .map_or("<unknown>".to_owned(), |c| format!("{c}%"));
        targets.push(format!("{current}/{t}%"));
    }
    for (i, m) in items(o, "/spec/metrics").iter().enumerate() {
        let Some(t) = m
            .pointer("/resource/target/averageUtilization")
            .and_then(Value::as_i64)
        else {
            continue;
        };
        let current = o
            .pointer(&format!(
                "/status/currentMetrics/{i}/resource/current/averageUtilization"
            ))
            .and_then(Value::as_i64)
            .map_or("<unknown>".to_owned(), |c| format!("{c}%"));
        let resource = m
            .pointer("/resource/name")
            .and_then(Value::as_str)
            .unwrap_or("cpu");
        targets.push(format!("{resource}: {current}/{t}%"));
    }
    let targets = if targets.is_empty() {
        "<none>".to_owned()
    } else if targets.len() > 2 {
        format!(
            "{} + {} more...",
            targets[..2].join(", "),
            targets.len() - 2
        )
    } else {
        targets.join(", ")
    };
    let min = o
        .pointer("/spec/minReplicas")
        .and_then(Value::as_i64)
        .map_or("<unset>".to_owned(), |m| m.to_string());
    vec![
        name(o),
        json!(reference),
        json!(targets),
        json!(min),
        json!(int_at(o, "/spec/maxReplicas").to_string()),
        json!(int_at(o, "/status/currentReplicas").to_string()),
        age(o),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_kubectl_prints_them() {
        for (secs, want) in [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (125, "2m5s"),
            (600, "10m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600 + 60, "3h1m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (50 * 3600, "2d2h"),
            (8 * 24 * 3600, "8d"),
            (2 * 365 * 24 * 3600, "2y"),
            (2 * 365 * 24 * 3600 + 24 * 3600, "2y1d"),
            (9 * 365 * 24 * 3600, "9y"),
        ] {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn printer_column_paths_find_what_kubectl_finds() {
        let o = json!({"status": {"conditions": [
            {"type": "Progressing", "status": "False"},
            {"type": "Ready", "status": "True", "reason": "Done"}]},
            "spec": {"a.b": {"c": 3}, "list": [1, 2, 3]}});
        let find = |p: &str| jsonpath_first(&o, p);
        assert_eq!(
            find(r#".status.conditions[?(@.type=="Ready")].status"#),
            Some(json!("True"))
        );
        assert_eq!(
            find(r#".status.conditions[?(@.type!="Ready")].type"#),
            Some(json!("Progressing"))
        );
        assert_eq!(find(".spec['a.b'].c"), Some(json!(3)));
        assert_eq!(find(".spec.list[1]"), Some(json!(2)));
        assert_eq!(find(".spec.list[-1]"), Some(json!(3)));
        assert_eq!(find(".spec.list[*]"), Some(json!(1)));
        assert_eq!(find("{.spec.list[0]}"), Some(json!(1)));
        assert_eq!(find(".spec.missing"), None);
    }

    #[test]
    fn selectors_and_labels_print_as_the_server_prints_them() {
        let s = json!({"matchLabels": {"b": "2", "a": "1"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]},
                {"key": "gone", "operator": "DoesNotExist"}]});
        assert_eq!(label_selector(Some(&s)), "a=1,b=2,!gone,tier in (api,web)");
        assert_eq!(label_selector(None), "<none>");
        assert_eq!(labels(Some(&json!({"z": "1", "a": "2"}))), "a=2,z=1");
        assert_eq!(labels(Some(&json!({}))), "<none>");
    }

    #[test]
    fn a_service_shows_its_type_addresses_and_ports() {
        let svc = json!({"metadata": {"name": "web"},
            "spec": {"type": "NodePort", "clusterIPs": ["10.96.0.7"],
                "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"},
                    {"port": 53, "protocol": "UDP"}], "selector": {"app": "web"}}});
        let cells = service(&svc);
        assert_eq!(
            cells[1..5],
            [
                json!("NodePort"),
                json!("10.96.0.7"),
                json!("<none>"),
                json!("80:30080/TCP,53/UDP")
            ]
        );
        assert_eq!(cells[6], json!("app=web"));
        let lb = json!({"spec": {"type": "LoadBalancer", "clusterIPs": ["10.0.0.1"]}});
        assert_eq!(service(&lb)[3], json!("<pending>"));
    }

    #[test]
    fn a_pod_shows_readiness_status_and_restarts() {
        let p = json!({"metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 1, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 2,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let cells = pod(&p);
        assert_eq!(
            cells[1..4],
            [json!("1/2"), json!("CrashLoopBackOff"), json!("3")]
        );
        let init = json!({"spec": {"containers": [{"name": "a"}], "initContainers": [{"name": "i"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "i", "restartCount": 0, "state": {"running": {}}}]}});
        assert_eq!(pod(&init)[2], json!("Init:0/1"));
    }

    #[test]
    fn a_job_shows_completions_and_duration() {
        let j = json!({"metadata": {"name": "j"}, "spec": {"completions": 3},
            "status": {"succeeded": 2, "startTime": "2024-01-01T00:00:00Z",
                "completionTime": "2024-01-01T00:02:05Z"}});
        let cells = job(&j);
        assert_eq!(cells[1..3], [json!("2/3"), json!("2m5s")]);
        let parallel = json!({"spec": {"parallelism": 4}, "status": {}});
        assert_eq!(job(&parallel)[1..3], [json!("0/1 of 4"), json!("")]);
    }

    #[test]
    fn quotas_requests_and_apiservices_read_as_the_server_prints_them() {
        let (_, cells) = printer("", "ResourceQuota").expect("a printer");
        let q = json!({"metadata": {"name": "q"}, "spec": {"hard": {"limits.cpu": "2",
            "requests.cpu": "1", "pods": "10"}}, "status": {"used": {"pods": "3"}}});
        let row = cells(&q);
        assert_eq!(row[2], json!("pods: 3/10, requests.cpu: 0/1"));
        assert_eq!(row[3], json!("limits.cpu: 0/2"));
        let (_, cells) =
            printer("certificates.k8s.io", "CertificateSigningRequest").expect("a printer");
        let csr = json!({"metadata": {"name": "c"}, "spec": {"signerName": "kubernetes.io/kubelet-serving",
            "username": "alice", "expirationSeconds": 3600},
            "status": {"conditions": [{"type": "Approved"}], "certificate": "Zm9v"}});
        assert_eq!(
            cells(&csr)[2..],
            [
                json!("kubernetes.io/kubelet-serving"),
                json!("alice"),
                json!("60m"),
                json!("Approved,Issued")
            ]
        );
        let (_, cells) = printer("apiregistration.k8s.io", "APIService").expect("a printer");
        let local = json!({"metadata": {"name": "v1.apps"}, "spec": {},
            "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Local"}]}});
        assert_eq!(cells(&local)[1..3], [json!("Local"), json!("True")]);
        let remote = json!({"metadata": {"name": "v1beta1.metrics.k8s.io"},
            "spec": {"service": {"namespace": "kube-system", "name": "metrics-server"}},
            "status": {"conditions": [{"type": "Available", "status": "False",
                "reason": "MissingEndpoints"}]}});
        assert_eq!(
            cells(&remote)[1..3],
            [
                json!("kube-system/metrics-server"),
                json!("False (MissingEndpoints)")
            ]
        );
    }

    #[test]
    fn custom_columns_keep_priority_and_show_dates_as_ages() {
        let columns = [
            json!({"name": "Sync", "type": "string", "jsonPath": ".status.sync"}),
            json!({"name": "Rev", "type": "string", "jsonPath": ".status.rev", "priority": 10}),
            json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}),
            json!({"name": "N", "type": "integer", "jsonPath": ".spec.n"}),
        ];
        let created = (time::OffsetDateTime::now_utc() - time::Duration::seconds(30))
            .format(&time::format_description::well_known::Rfc3339)
            .expect("format");
        let o = json!({"metadata": {"name": "x", "creationTimestamp": created},
            "status": {"sync": "Synced"}, "spec": {"n": 4.0}});
        let (defs, rows) = custom_columns(&columns, &[o]);
        let names: Vec<&str> = defs.iter().filter_map(|d| d["name"].as_str()).collect();
        assert_eq!(names, ["Name", "Sync", "Rev", "Age", "N"], "one Age column");
        assert_eq!(defs[2]["priority"], 10);
        assert_eq!(rows[0][1], json!("Synced"));
        assert_eq!(rows[0][2], Value::Null, "a missing value is an empty cell");
        assert!(
            rows[0][3].as_str().is_some_and(|a| a.ends_with('s')),
            "{}",
            rows[0][3]
        );
        assert_eq!(rows[0][4], json!(4));
        let (defs, _) = custom_columns(&[], &[]);
        let names: Vec<&str> = defs.iter().filter_map(|d| d["name"].as_str()).collect();
        assert_eq!(names, ["Name", "Age"], "a version without columns gets Age");
    }
}
