//! Sync options: Argo CD's `Name=value` strings parsed once, at the edge, into a typed struct.

use thiserror::Error;

/// The sync options this controller understands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOptions {
    /// `CreateNamespace=true`: create the destination namespace when missing.
    pub create_namespace: bool,
    /// `Prune=false` at the application level is per-resource in Argo CD; here: prune allowed.
    pub prune_last: bool,
    /// `ServerSideApply=true` is the only mode Ferry has; accepted for compatibility.
    pub server_side_apply: bool,
    /// `Validate=false`.
    pub skip_validation: bool,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SyncOptionError {
    #[error("sync option {0:?} is not of the form Name=value")]
    Malformed(String),
    #[error("sync option {name}={value}: expected true or false")]
    NotBool { name: String, value: String },
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
        let mut out = SyncOptions::default();
        let mut unknown = Vec::new();
        for o in options {
            let o = o.as_ref();
            let (name, value) = o
                .split_once('=')
                .ok_or_else(|| SyncOptionError::Malformed(o.into()))?;
            match name {
                "CreateNamespace" => out.create_namespace = boolean(name, value)?,
                "PruneLast" => out.prune_last = boolean(name, value)?,
                "ServerSideApply" => out.server_side_apply = boolean(name, value)?,
                "Validate" => out.skip_validation = !boolean(name, value)?,
                _ => unknown.push(o.to_owned()),
            }
        }
        Ok((out, unknown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_and_keeps_unknown() {
        let (o, unknown) =
            SyncOptions::parse(&["CreateNamespace=true", "Validate=false", "Replace=true"])
                .expect("parses");
        assert!(o.create_namespace && o.skip_validation);
        assert_eq!(unknown, vec!["Replace=true"]);
        assert!(SyncOptions::parse(&["CreateNamespace"]).is_err());
        assert!(SyncOptions::parse(&["CreateNamespace=yes"]).is_err());
    }
}
