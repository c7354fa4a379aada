//! The status codes Ferry writes, as typed enums serialised exactly as Argo CD writes them
//! (`"Synced"`, `"OutOfSync"`, `"Running"`, ...). Each enum reads leniently: a value it does
//! not know (an empty string from an older status, a code of a newer version) becomes its
//! fallback variant instead of making the whole object unreadable.

use std::fmt;

/// Declares a code enum: its variants with their wire strings, the fallback for unknown
/// strings, and `as_str`/`parse`/`Display`/`Serialize`/`Deserialize`.
macro_rules! codes {
    (
        $(#[$meta:meta])*
        pub enum $name:ident fallback $fallback:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl Default for $name {
            /// The fallback code.
            fn default() -> $name {
                $name::$fallback
            }
        }

        impl $name {
            /// Every code, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The code as written in a status.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            /// The code written as `text`; `None` for anything else.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }

            /// `text` as a code, or the fallback when it is not one.
            pub fn lenient(text: &str) -> $name {
                $name::parse(text).unwrap_or($name::$fallback)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                Ok($name::lenient(&text))
            }
        }
    };
}

codes! {
    /// Whether the live state matches Git (Argo CD's `SyncStatusCode`).
    pub enum SyncCode fallback Unknown {
        Synced => "Synced",
        OutOfSync => "OutOfSync",
        Unknown => "Unknown",
    }
}

codes! {
    /// The health of a resource or an application (Argo CD's `HealthStatusCode`). The
    /// derived order is Argo CD's `healthOrder`, best first: `Healthy < Suspended <
    /// Progressing < Missing < Degraded < Unknown`, so the worst of several is their `max`.
    pub enum HealthCode fallback Unknown {
        /// The resource is fully healthy.
        Healthy => "Healthy",
        /// Paused or suspended on purpose (a paused Deployment, a suspended Job or CronJob).
        Suspended => "Suspended",
        /// Not healthy yet, but still able to get there (a rollout in progress).
        Progressing => "Progressing",
        /// In Git but not in the cluster.
        Missing => "Missing",
        /// Failed, or could not become healthy in time.
        Degraded => "Degraded",
        /// The assessment itself failed (for example a malformed status).
        Unknown => "Unknown",
    }
}

impl HealthCode {
    /// Whether `other` is worse than `self` (Argo CD's `IsWorse(self, other)`).
    pub fn is_worse(self, other: HealthCode) -> bool {
        other > self
    }
}

codes! {
    /// Where an operation stands (Argo CD's `OperationPhase`).
    pub enum OperationPhase fallback Error {
        Running => "Running",
        Terminating => "Terminating",
        Failed => "Failed",
        Error => "Error",
        Succeeded => "Succeeded",
    }
}

impl OperationPhase {
    /// Still going: a reconcile continues it before anything else.
    pub fn is_running(self) -> bool {
        matches!(self, OperationPhase::Running | OperationPhase::Terminating)
    }

    /// Ended without success.
    pub fn is_failure(self) -> bool {
        matches!(self, OperationPhase::Failed | OperationPhase::Error)
    }
}

codes! {
    /// What a sync did to one resource (Argo CD's `ResultCode`).
    pub enum ResultCode fallback SyncFailed {
        Synced => "Synced",
        SyncFailed => "SyncFailed",
        Pruned => "Pruned",
        PruneSkipped => "PruneSkipped",
    }
}

codes! {
    /// Where a hook stands (Argo CD's hook `OperationPhase`).
    pub enum HookPhase fallback Error {
        Running => "Running",
        Succeeded => "Succeeded",
        Failed => "Failed",
        Error => "Error",
        Terminating => "Terminating",
    }
}

codes! {
    /// The phase of a sync a resource or hook belongs to (Argo CD's `SyncPhase`).
    pub enum SyncPhase fallback Sync {
        PreSync => "PreSync",
        Sync => "Sync",
        PostSync => "PostSync",
        SyncFail => "SyncFail",
    }
}

codes! {
    /// The type of an Application's condition (Argo CD's `ApplicationConditionType`, and
    /// Ferry's own), each telling a person what to look at.
    pub enum ConditionType fallback UnknownError {
        /// The source could not be rendered or compared with the cluster.
        ComparisonError => "ComparisonError",
        /// A sync failed, or was refused.
        SyncError => "SyncError",
        /// The Application's spec is wrong (its destination, its sync options).
        InvalidSpecError => "InvalidSpecError",
        /// Something else failed.
        UnknownError => "UnknownError",
        /// An object of this application is tracked by another one and left to it.
        SharedResourceWarning => "SharedResourceWarning",
        /// The cluster Secret cannot be read; its last good config is in use.
        ClusterSecretWarning => "ClusterSecretWarning",
        /// The application is being deleted but its resources cannot be yet.
        DeletionError => "DeletionError",
        /// Ferry's: a sync window of the application's project keeps its automated sync
        /// from running now (Argo CD shows this in its `SyncWindows` view).
        SyncWindowBlocked => "SyncWindowBlocked",
    }
}

/// Deserialises `""` (and a missing field) as `None`, any other string as its code; for
/// optional codes written as empty strings by older statuses.
pub fn empty_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    let text = <Option<String> as serde::Deserialize>::deserialize(d)?;
    match text.as_deref() {
        None | Some("") => Ok(None),
        Some(t) => T::deserialize(serde::de::value::StrDeserializer::<D::Error>::new(t)).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_and_write_as_argo_cd_writes_them() {
        assert_eq!(
            serde_json::to_string(&SyncCode::OutOfSync).ok().as_deref(),
            Some("\"OutOfSync\"")
        );
        let read: Vec<OperationPhase> =
            serde_json::from_str(r#"["Running","Succeeded","Terminating"]"#).unwrap_or_default();
        assert_eq!(
            read,
            [
                OperationPhase::Running,
                OperationPhase::Succeeded,
                OperationPhase::Terminating
            ]
        );
        for c in HealthCode::ALL {
            assert_eq!(HealthCode::parse(c.as_str()), Some(*c));
        }
    }

    #[test]
    fn unknown_and_empty_codes_read_as_the_fallback() {
        let s: SyncCode = serde_json::from_str("\"\"").unwrap_or(SyncCode::Synced);
        assert_eq!(s, SyncCode::Unknown);
        let h: HealthCode = serde_json::from_str("\"Sideways\"").unwrap_or(HealthCode::Healthy);
        assert_eq!(h, HealthCode::Unknown);
        assert_eq!(SyncCode::default().as_str(), "Unknown");
        assert_eq!(HealthCode::default(), HealthCode::Unknown);
    }

    #[test]
    fn health_is_ordered_best_first() {
        assert!(HealthCode::Healthy.is_worse(HealthCode::Degraded));
        assert!(!HealthCode::Unknown.is_worse(HealthCode::Missing));
        assert_eq!(
            HealthCode::Progressing.max(HealthCode::Suspended),
            HealthCode::Progressing
        );
    }

    #[derive(serde::Deserialize)]
    struct Opt {
        #[serde(default, deserialize_with = "empty_as_none")]
        code: Option<ResultCode>,
    }

    #[test]
    fn optional_codes_read_empty_strings_as_none() {
        let o: Opt = serde_json::from_str(r#"{"code": ""}"#).unwrap_or(Opt {
            code: Some(ResultCode::Synced),
        });
        assert_eq!(o.code, None);
        let o: Opt = serde_json::from_str(r#"{"code": "Pruned"}"#).unwrap_or(Opt { code: None });
        assert_eq!(o.code, Some(ResultCode::Pruned));
        let o: Opt = serde_json::from_str("{}").unwrap_or(Opt {
            code: Some(ResultCode::Synced),
        });
        assert_eq!(o.code, None);
    }
}
