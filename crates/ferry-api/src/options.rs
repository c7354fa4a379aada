//! Sync options: Argo CD's `Name=value` strings parsed once, at the edge, into a typed struct.

use thiserror::Error;

/// How a prune or a cascading delete removes dependents (Argo CD's `PrunePropagationPolicy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Propagation {
    /// Dependents first, then the object (Argo CD's default).
    #[default]
    Foreground,
    Background,
    Orphan,
}

/// The sync options this controller understands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOptions {
    /// `CreateNamespace=true`: create the destination namespace when missing.
    pub create_namespace: bool,
    /// `PruneLast=true`: prune after every other wave is applied and healthy.
    pub prune_last: bool,
    /// `ServerSideApply=true` is the only apply mode Ferry has; accepted for compatibility.
    pub server_side_apply: bool,
    /// `Validate=false`: the API server ignores unknown fields instead of refusing them.
    pub skip_validation: bool,
    /// `Replace=true`: replace (or create) the object instead of applying it.
    pub replace: bool,
    /// `PrunePropagationPolicy=foreground|background|orphan`.
    pub prune_propagation: Propagation,
    /// `Prune=false` (per resource): never prune it; the application stays OutOfSync.
    pub no_prune: bool,
    /// `Delete=false` (per resource): keep it when the application is deleted.
    pub no_delete: bool,
    /// `ApplyOutOfSyncOnly=true`: apply only the resources that differ.
    pub apply_out_of_sync_only: bool,
    /// `RespectIgnoreDifferences=true`: ignored fields keep their live values on sync.
    pub respect_ignore_differences: bool,
    /// `FailOnSharedResource=true`: a sync fails when an object it would apply is tracked by
    /// another Application. Without it the sync leaves such objects to their owner (and the
    /// application reports them in a `SharedResourceWarning` condition); either way Ferry
    /// never overwrites another application's object.
    pub fail_on_shared_resource: bool,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SyncOptionError {
    #[error("sync option {0:?} is not of the form Name=value")]
    Malformed(String),
    #[error("sync option {name}={value}: expected true or false")]
    NotBool { name: String, value: String },
    #[error("sync option {name}={value}: expected one of {expected}")]
    NotOneOf {
        name: String,
        value: String,
        expected: &'static str,
    },
}

fn boolean(name: &str, value: &str) -> Result<bool, SyncOptionError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(SyncOptionError::NotBool {
            name: name.into(),
            value: value.into(),
        }),
    }
}

impl SyncOptions {
    /// Parses options; options this version does not know are returned, not rejected, so that
    /// Argo CD manifests keep working.
    pub fn parse<S: AsRef<str>>(
        options: &[S],
    ) -> Result<(SyncOptions, Vec<String>), SyncOptionError> {
        SyncOptions::default().overridden_by(options)
    }

    /// These options with `options` (later ones win) applied on top: a resource's
    /// `sync-options` annotation over its application's.
    pub fn overridden_by<S: AsRef<str>>(
        &self,
        options: &[S],
    ) -> Result<(SyncOptions, Vec<String>), SyncOptionError> {
        let mut out = self.clone();
        let mut unknown = Vec::new();
        for o in options {
            let o = o.as_ref().trim();
            if o.is_empty() {
                continue;
            }
            let (name, value) = o
                .split_once('=')
                .ok_or_else(|| SyncOptionError::Malformed(o.into()))?;
            match name {
                "CreateNamespace" => out.create_namespace = boolean(name, value)?,
                "PruneLast" => out.prune_last = boolean(name, value)?,
                "ServerSideApply" => out.server_side_apply = boolean(name, value)?,
                "Validate" => out.skip_validation = !boolean(name, value)?,
                "Replace" => out.replace = boolean(name, value)?,
                "Prune" => out.no_prune = !boolean(name, value)?,
                "Delete" => out.no_delete = !boolean(name, value)?,
                "ApplyOutOfSyncOnly" => out.apply_out_of_sync_only = boolean(name, value)?,
                "RespectIgnoreDifferences" => {
                    out.respect_ignore_differences = boolean(name, value)?
                }
                "FailOnSharedResource" => out.fail_on_shared_resource = boolean(name, value)?,
                "PrunePropagationPolicy" => {
                    out.prune_propagation = match value {
                        "foreground" => Propagation::Foreground,
                        "background" => Propagation::Background,
                        "orphan" => Propagation::Orphan,
                        _ => {
                            return Err(SyncOptionError::NotOneOf {
                                name: name.into(),
                                value: value.into(),
                                expected: "foreground, background, orphan",
                            });
                        }
                    }
                }
                _ => unknown.push(o.to_owned()),
            }
        }
        Ok((out, unknown))
    }

    /// The options of an object: its `sync-options` annotation over these; an annotation
    /// that does not parse leaves these as they are.
    pub fn of_object(&self, obj: &serde_json::Value) -> SyncOptions {
        self.for_resource(crate::annotation(obj, "sync-options"))
            .unwrap_or_else(|_| self.clone())
    }

    /// The options of a resource: its `sync-options` annotation (comma-separated) over
    /// these.
    pub fn for_resource(&self, annotation: Option<&str>) -> Result<SyncOptions, SyncOptionError> {
        match annotation {
            None => Ok(self.clone()),
            Some(a) => {
                let list: Vec<&str> = a.split(',').collect();
                self.overridden_by(&list).map(|(o, _)| o)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_and_keeps_unknown() {
        let (o, unknown) = SyncOptions::parse(&[
            "CreateNamespace=true",
            "Validate=false",
            "FailOnSharedResource=true",
            "SomeFutureOption=true",
        ])
        .expect("parses");
        assert!(o.create_namespace && o.skip_validation && o.fail_on_shared_resource);
        assert_eq!(unknown, vec!["SomeFutureOption=true"]);
        assert!(SyncOptions::parse(&["CreateNamespace"]).is_err());
        assert!(SyncOptions::parse(&["CreateNamespace=yes"]).is_err());
    }

    #[test]
    fn resource_annotations_override_the_application() {
        let (app, _) = SyncOptions::parse(&["PrunePropagationPolicy=background"]).expect("parses");
        assert_eq!(app.prune_propagation, Propagation::Background);
        let r = app
            .for_resource(Some("Prune=false, Delete=false,Replace=true"))
            .expect("parses");
        assert!(r.no_prune && r.no_delete && r.replace);
        assert_eq!(r.prune_propagation, Propagation::Background);
        assert!(
            app.for_resource(Some("PrunePropagationPolicy=sideways"))
                .is_err()
        );
        assert_eq!(
            SyncOptions::default().prune_propagation,
            Propagation::Foreground
        );
    }
}
