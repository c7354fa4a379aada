//! The printers of the built-in kinds: their columns and the cells of one object, as
//! the kube-apiserver's `pkg/printers/internalversion` prints them.

use serde_json::{Value, json};

use super::cells::*;
/// One column of a table, as `meta.k8s.io/v1 TableColumnDefinition`.
pub(super) struct Column {
    pub(super) name: &'static str,
    pub(super) kind: &'static str,
    pub(super) priority: i64,
    pub(super) description: &'static str,
}

const NAME_DOC: &str = "Name must be unique within a namespace. Is required when creating \
    resources, although some resources may allow a client to request the generation of an \
    appropriate name automatically. Name is primarily intended for creation idempotence and \
    configuration definition. Cannot be updated. More info: \
    https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
pub(super) const CREATED_DOC: &str = "CreationTimestamp is a timestamp representing the server time when \
    this object was created. It is not guaranteed to be set in happens-before order across \
    separate operations. Clients may not set this value. It is represented in RFC3339 form \
    and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: \
    https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

pub(super) const fn col(name: &'static str, description: &'static str) -> Column {
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

pub(super) const NAME: Column = col("Name", NAME_DOC);
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
pub(super) fn printer(group: &str, kind: &str) -> Option<(Vec<Column>, Cells)> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
