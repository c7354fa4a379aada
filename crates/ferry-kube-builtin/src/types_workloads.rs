//! Type tables for the top level of the workload kinds (1.24): Deployment, ReplicaSet,
//! StatefulSet, DaemonSet, ControllerRevision, Job, CronJob, Pod, PodTemplate and
//! ReplicationController. Every root lists `apiVersion`, `kind` and `metadata` and then the
//! kind's own fields.

use crate::model::Lt::{Atomic, Set};
use crate::model::Ty::{Any, AtomicStrMap, Bool, IntOrStr, List, Num, Str, Struct};
use crate::model::{Field, Ty};
use crate::types_core::{
    API_VERSION, ATOMIC_CONDITIONS, CONDITIONS, KIND, LABEL_SELECTOR, METADATA, OBJECT_REF,
    POD_SPEC, POD_STATUS, POD_TEMPLATE, PVC_SPEC, PVC_STATUS,
};

const INT_OR_STR_ROLLING: Ty = Struct(&[("maxUnavailable", IntOrStr), ("maxSurge", IntOrStr)]);

const PVC_TEMPLATE: Ty = Struct(&[
    API_VERSION,
    KIND,
    METADATA,
    ("spec", Struct(PVC_SPEC)),
    ("status", Struct(PVC_STATUS)),
]);

// --- apps ---

pub(crate) const DEPLOYMENT: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    (
        "spec",
        Struct(&[
            ("replicas", Num),
            ("selector", LABEL_SELECTOR),
            ("template", POD_TEMPLATE),
            (
                "strategy",
                Struct(&[("type", Str), ("rollingUpdate", INT_OR_STR_ROLLING)]),
            ),
            ("minReadySeconds", Num),
            ("revisionHistoryLimit", Num),
            ("paused", Bool),
            ("progressDeadlineSeconds", Num),
        ]),
    ),
    (
        "status",
        Struct(&[
            ("observedGeneration", Num),
            ("replicas", Num),
            ("updatedReplicas", Num),
            ("readyReplicas", Num),
            ("availableReplicas", Num),
            ("unavailableReplicas", Num),
            ("conditions", CONDITIONS),
            ("collisionCount", Num),
        ]),
    ),
];

const REPLICA_STATUS: Ty = Struct(&[
    ("replicas", Num),
    ("fullyLabeledReplicas", Num),
    ("readyReplicas", Num),
    ("availableReplicas", Num),
    ("observedGeneration", Num),
    ("conditions", CONDITIONS),
]);

pub(crate) const REPLICA_SET: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    (
        "spec",
        Struct(&[
            ("replicas", Num),
            ("minReadySeconds", Num),
            ("selector", LABEL_SELECTOR),
            ("template", POD_TEMPLATE),
        ]),
    ),
    ("status", REPLICA_STATUS),
];

pub(crate) const STATEFUL_SET: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    (
        "spec",
        Struct(&[
            ("replicas", Num),
            ("selector", LABEL_SELECTOR),
            ("template", POD_TEMPLATE),
            ("volumeClaimTemplates", List(Atomic, &PVC_TEMPLATE)),
            ("serviceName", Str),
            ("podManagementPolicy", Str),
            (
                "updateStrategy",
                Struct(&[
                    ("type", Str),
                    (
                        "rollingUpdate",
                        Struct(&[("partition", Num), ("maxUnavailable", IntOrStr)]),
                    ),
                ]),
            ),
            ("revisionHistoryLimit", Num),
            ("minReadySeconds", Num),
            (
                "persistentVolumeClaimRetentionPolicy",
                Struct(&[("whenDeleted", Str), ("whenScaled", Str)]),
            ),
        ]),
    ),
    (
        "status",
        Struct(&[
            ("observedGeneration", Num),
            ("replicas", Num),
            ("readyReplicas", Num),
            ("currentReplicas", Num),
            ("updatedReplicas", Num),
            ("currentRevision", Str),
            ("updateRevision", Str),
            ("collisionCount", Num),
            ("conditions", CONDITIONS),
            ("availableReplicas", Num),
        ]),
    ),
];

pub(crate) const DAEMON_SET: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    (
        "spec",
        Struct(&[
            ("selector", LABEL_SELECTOR),
            ("template", POD_TEMPLATE),
            (
                "updateStrategy",
                Struct(&[("type", Str), ("rollingUpdate", INT_OR_STR_ROLLING)]),
            ),
            ("minReadySeconds", Num),
            ("revisionHistoryLimit", Num),
        ]),
    ),
    (
        "status",
        Struct(&[
            ("currentNumberScheduled", Num),
            ("numberMisscheduled", Num),
            ("desiredNumberScheduled", Num),
            ("numberReady", Num),
            ("observedGeneration", Num),
            ("updatedNumberScheduled", Num),
            ("numberAvailable", Num),
            ("numberUnavailable", Num),
            ("collisionCount", Num),
            ("conditions", CONDITIONS),
        ]),
    ),
];

pub(crate) const CONTROLLER_REVISION: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    ("data", Any),
    ("revision", Num),
];

// --- batch ---

const JOB_SPEC: &[Field] = &[
    ("parallelism", Num),
    ("completions", Num),
    ("activeDeadlineSeconds", Num),
    ("backoffLimit", Num),
    ("selector", LABEL_SELECTOR),
    ("manualSelector", Bool),
    ("template", POD_TEMPLATE),
    ("ttlSecondsAfterFinished", Num),
    ("completionMode", Str),
    ("suspend", Bool),
];

pub(crate) const JOB: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    ("spec", Struct(JOB_SPEC)),
    (
        "status",
        Struct(&[
            ("conditions", ATOMIC_CONDITIONS),
            ("startTime", Str),
            ("completionTime", Str),
            ("active", Num),
            ("succeeded", Num),
            ("failed", Num),
            ("completedIndexes", Str),
            (
                "uncountedTerminatedPods",
                Struct(&[("succeeded", List(Set, &Str)), ("failed", List(Set, &Str))]),
            ),
            ("ready", Num),
        ]),
    ),
];

pub(crate) const CRON_JOB: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    (
        "spec",
        Struct(&[
            ("schedule", Str),
            ("timeZone", Str),
            ("startingDeadlineSeconds", Num),
            ("concurrencyPolicy", Str),
            ("suspend", Bool),
            (
                "jobTemplate",
                Struct(&[METADATA, ("spec", Struct(JOB_SPEC))]),
            ),
            ("successfulJobsHistoryLimit", Num),
            ("failedJobsHistoryLimit", Num),
        ]),
    ),
    (
        "status",
        Struct(&[
            ("active", List(Atomic, &OBJECT_REF)),
            ("lastScheduleTime", Str),
            ("lastSuccessfulTime", Str),
        ]),
    ),
];

// --- core ---

pub(crate) const POD: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    ("spec", Struct(POD_SPEC)),
    ("status", Struct(POD_STATUS)),
];

pub(crate) const POD_TEMPLATE_KIND: &[Field] =
    &[API_VERSION, KIND, METADATA, ("template", POD_TEMPLATE)];

pub(crate) const REPLICATION_CONTROLLER: &[Field] = &[
    API_VERSION,
    KIND,
    METADATA,
    (
        "spec",
        Struct(&[
            ("replicas", Num),
            ("minReadySeconds", Num),
            ("selector", AtomicStrMap),
            ("template", POD_TEMPLATE),
        ]),
    ),
    ("status", REPLICA_STATUS),
];
