//! `vals`-style secret references, parsed (pure). The accepted syntax, and how it maps to AWS
//! calls, follows helmfile/vals (`vals.go` and its `ssm` / `awssecrets` providers):
//!
//! ```text
//! ref+awsssm://PATH[?region=R][&version=N]                    one parameter
//! ref+awsssm://PATH?mode=singleparam[&region=R]#/K1/K2        one parameter, read as YAML/JSON
//! ref+awsssm://PREFIX[?region=R][&recursive=true]#/K1/K2      the parameters under PREFIX
//! ref+awssecrets://NAME[?region=R][&version_stage=S][&version_id=I][#/K1/K2]
//! ```
//!
//! - SSM: the text between `://` and `?`/`#` is the parameter name, percent-decoded, with a
//!   `/` put in front when it has none, as vals does: `ref+awsssm://foo/bar` and
//!   `ref+awsssm:///foo/bar` both name `/foo/bar`.
//! - Without `mode=singleparam`, an SSM fragment digs into the *parameters under the path*
//!   (vals' `GetParametersByPath` form): `ref+awsssm://foo/bar#/a` is parameter `/foo/bar/a`,
//!   and `ref+awsssm://foo?recursive=true#/bar/a` too (without `recursive=true` only the
//!   path's direct children are read). With `mode=singleparam` it digs into the parameter's
//!   value read as a YAML (or JSON) mapping: `ref+awsssm://foo/bar?mode=singleparam#/BAR`.
//! - Secrets Manager: the name (or full ARN) is taken as written after `://`, percent-decoded
//!   and not given a `/` (`ref+awssecrets:///x` names `/x`, as in vals). A fragment digs into
//!   the secret's value read as YAML or JSON.
//! - A fragment is `#/` followed by keys separated by `/`; `#` or `#/` alone is no fragment.
//!   The value found must be a string, number or boolean.
//! - Query parameters other than those above are refused rather than ignored, and so are
//!   vals' `role_arn` and `profile`: Ferry reads a reference as the role of the destination
//!   (or the one configured for the application), never one a manifest picks.
//! - Unlike vals, a key missing from a document is an error, not an empty value.

use std::fmt;

/// A reference that is not one Ferry can resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    /// Not `ref+awsssm://` or `ref+awssecrets://` (another vals provider, or no reference).
    #[error("{reference}: not an AWS reference (ref+awsssm:// or ref+awssecrets://)")]
    NotAws { reference: String },
    #[error("{reference}: {reason}")]
    Invalid { reference: String, reason: String },
}

/// Where a reference's value lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretSource {
    /// One SSM parameter (`GetParameters`, with decryption). `version` selects a version
    /// (`NAME:N`); `document`: the value is a YAML/JSON mapping the fragment digs into
    /// (`mode=singleparam`).
    SsmParameter {
        name: String,
        version: Option<u64>,
        document: bool,
    },
    /// The SSM parameters under a path (`GetParametersByPath`), as a tree the fragment digs
    /// into.
    SsmPath { path: String, recursive: bool },
    /// A Secrets Manager secret (`GetSecretValue`); with a fragment, its value is read as a
    /// YAML/JSON mapping.
    Secret {
        id: String,
        version_stage: Option<String>,
        version_id: Option<String>,
    },
}

/// A parsed reference. It holds no secret: printing it shows what was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretRef {
    text: String,
    pub source: SecretSource,
    /// `?region=`; `None`: the region of the access it is resolved with.
    pub region: Option<String>,
    /// The keys of `#/K1/K2`, in order; empty: the whole value.
    pub keys: Vec<String>,
}

impl SecretRef {
    /// The reference as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Whether `s` is an AWS reference this module parses (it may still be malformed).
pub fn is_aws_reference(s: &str) -> bool {
    s.starts_with("ref+awsssm://") || s.starts_with("ref+awssecrets://")
}

/// Parses one reference (see the module documentation for the syntax).
pub fn parse_reference(s: &str) -> Result<SecretRef, RefError> {
    let invalid = |reason: String| RefError::Invalid {
        reference: s.to_owned(),
        reason,
    };
    let (ssm, rest) = if let Some(rest) = s.strip_prefix("ref+awsssm://") {
        (true, rest)
    } else if let Some(rest) = s.strip_prefix("ref+awssecrets://") {
        (false, rest)
    } else {
        return Err(RefError::NotAws {
            reference: s.to_owned(),
        });
    };
    let (before_fragment, fragment) = match rest.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (rest, None),
    };
    let (raw_path, query) = match before_fragment.split_once('?') {
        Some((p, q)) => (p, q),
        None => (before_fragment, ""),
    };
    let mut path = decode(raw_path).map_err(|e| invalid(format!("the path {e}")))?;
    if path.is_empty() || path == "/" {
        return Err(invalid("no parameter or secret name".to_owned()));
    }
    if path.chars().any(char::is_whitespace) {
        return Err(invalid("the name contains whitespace".to_owned()));
    }
    let keys = match fragment {
        None => Vec::new(),
        Some(f) => {
            let f = decode(f).map_err(|e| invalid(format!("the fragment {e}")))?;
            let f = f.strip_prefix('/').unwrap_or(&f);
            if f.is_empty() {
                Vec::new()
            } else {
                let keys: Vec<String> = f.split('/').map(str::to_owned).collect();
                if keys.iter().any(String::is_empty) {
                    return Err(invalid(format!("empty key in the fragment #/{f}")));
                }
                keys
            }
        }
    };

    let mut region = None;
    let mut mode = None;
    let mut recursive = false;
    let mut version = None;
    let mut version_stage = None;
    let mut version_id = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = decode(&v.replace('+', " ")).map_err(|e| invalid(format!("parameter {k} {e}")))?;
        let set = |slot: &mut Option<String>| {
            if slot.is_some() {
                return Err(invalid(format!("{k} is given twice")));
            }
            *slot = Some(v.clone());
            Ok(())
        };
        match (k, ssm) {
            ("region", _) => set(&mut region)?,
            ("mode", true) => set(&mut mode)?,
            ("recursive", true) => match v.as_str() {
                "true" => recursive = true,
                "false" => recursive = false,
                _ => return Err(invalid(format!("recursive={v}: expected true or false"))),
            },
            ("version", true) => set(&mut version)?,
            ("version_stage", false) => set(&mut version_stage)?,
            ("version_id", false) => set(&mut version_id)?,
            ("role_arn" | "profile", _) => {
                return Err(invalid(format!(
                    "{k} is not supported: Ferry reads references as the destination's role (or the role configured for the application or project)"
                )));
            }
            _ => return Err(invalid(format!("unknown parameter {k:?}"))),
        }
    }
    if region.as_deref() == Some("") {
        return Err(invalid("region= is empty".to_owned()));
    }

    let source = if ssm {
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        let single = match mode.as_deref() {
            None => false,
            Some("singleparam") => true,
            Some(other) => {
                return Err(invalid(format!(
                    "mode={other}: the only mode is singleparam"
                )));
            }
        };
        let version = version
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| invalid(format!("version={v}: expected a number")))
            })
            .transpose()?;
        if keys.is_empty() || single {
            SecretSource::SsmParameter {
                name: path,
                version,
                document: !keys.is_empty(),
            }
        } else {
            if version.is_some() {
                return Err(invalid(
                    "version= selects one parameter; with a #fragment and no mode=singleparam the reference reads every parameter under the path".to_owned(),
                ));
            }
            SecretSource::SsmPath {
                path: path.trim_end_matches('/').to_owned(),
                recursive,
            }
        }
    } else {
        SecretSource::Secret {
            id: path,
            version_stage,
            version_id,
        }
    };
    Ok(SecretRef {
        text: s.to_owned(),
        source,
        region,
        keys,
    })
}

fn decode(s: &str) -> Result<String, &'static str> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| "is not UTF-8 once percent-decoded")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> SecretRef {
        parse_reference(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn ssm(name: &str) -> SecretSource {
        SecretSource::SsmParameter {
            name: name.into(),
            version: None,
            document: false,
        }
    }

    #[test]
    fn ssm_names_get_a_leading_slash_as_vals_gives_them() {
        assert_eq!(parse("ref+awsssm://foo/bar").source, ssm("/foo/bar"));
        assert_eq!(parse("ref+awsssm:///foo/bar").source, ssm("/foo/bar"));
        assert_eq!(parse("ref+awsssm://foo").source, ssm("/foo"));
        let r = parse("ref+awsssm://kubernetes/datadog/apiKey?region=ap-northeast-1");
        assert_eq!(r.source, ssm("/kubernetes/datadog/apiKey"));
        assert_eq!(r.region.as_deref(), Some("ap-northeast-1"));
        assert!(r.keys.is_empty());
        assert_eq!(
            r.to_string(),
            "ref+awsssm://kubernetes/datadog/apiKey?region=ap-northeast-1"
        );
        assert_eq!(parse("ref+awsssm://a%2Fb").source, ssm("/a/b"));
    }

    #[test]
    fn ssm_fragments_dig_into_the_path_or_with_singleparam_into_the_value() {
        let r = parse("ref+awsssm://foo#/bar/a");
        assert_eq!(
            r.source,
            SecretSource::SsmPath {
                path: "/foo".into(),
                recursive: false
            }
        );
        assert_eq!(r.keys, ["bar", "a"]);
        let r = parse("ref+awsssm://foo?recursive=true#/bar/a");
        assert_eq!(
            r.source,
            SecretSource::SsmPath {
                path: "/foo".into(),
                recursive: true
            }
        );
        let r = parse("ref+awsssm://foo/bar?mode=singleparam&region=eu-west-1#/BAR");
        assert_eq!(
            r.source,
            SecretSource::SsmParameter {
                name: "/foo/bar".into(),
                version: None,
                document: true
            }
        );
        assert_eq!(r.keys, ["BAR"]);
        // `#` or `#/` alone is no fragment.
        assert_eq!(parse("ref+awsssm://foo/bar#").source, ssm("/foo/bar"));
        assert_eq!(parse("ref+awsssm://foo/bar?#/").source, ssm("/foo/bar"));
        let v = parse("ref+awsssm://foo/bar?version=3").source;
        assert_eq!(
            v,
            SecretSource::SsmParameter {
                name: "/foo/bar".into(),
                version: Some(3),
                document: false
            }
        );
    }

    #[test]
    fn secret_names_are_taken_as_written() {
        let r = parse("ref+awssecrets://myteam/mydoc?region=us-west-2#/foo/bar");
        assert_eq!(
            r.source,
            SecretSource::Secret {
                id: "myteam/mydoc".into(),
                version_stage: None,
                version_id: None
            }
        );
        assert_eq!(r.keys, ["foo", "bar"]);
        let r = parse("ref+awssecrets:///myteam/mykey?version_stage=AWSPREVIOUS");
        assert_eq!(
            r.source,
            SecretSource::Secret {
                id: "/myteam/mykey".into(),
                version_stage: Some("AWSPREVIOUS".into()),
                version_id: None
            }
        );
        let arn = "arn:aws:secretsmanager:ap-southeast-2:222222222222:secret:/myteam/mydoc/";
        let r = parse(&format!(
            "ref+awssecrets://{arn}?region=ap-southeast-2#/secret/key"
        ));
        assert_eq!(
            r.source,
            SecretSource::Secret {
                id: arn.into(),
                version_stage: None,
                version_id: None
            }
        );
    }

    #[test]
    fn what_ferry_refuses_is_refused_with_a_reason() {
        assert!(matches!(
            parse_reference("ref+vault://mykv/foo#/bar"),
            Err(RefError::NotAws { .. })
        ));
        assert!(!is_aws_reference("ref+vault://x"));
        assert!(is_aws_reference("ref+awsssm://x"));
        for (bad, why) in [
            ("ref+awsssm://", "no parameter"),
            (
                "ref+awsssm://x?role_arn=arn:aws:iam::1:role/r",
                "destination's role",
            ),
            ("ref+awsssm://x?profile=p", "not supported"),
            ("ref+awsssm://x?regoin=eu-west-1", "unknown parameter"),
            ("ref+awsssm://x?region=a&region=b", "twice"),
            ("ref+awsssm://x?mode=json#/a", "singleparam"),
            ("ref+awsssm://x?version=latest", "number"),
            ("ref+awsssm://x?version=2#/a", "one parameter"),
            ("ref+awsssm://x#/a//b", "empty key"),
            ("ref+awssecrets://x?mode=singleparam", "unknown parameter"),
            ("ref+awsssm://a b", "whitespace"),
            ("ref+awsssm://x?region=", "empty"),
        ] {
            match parse_reference(bad) {
                Err(RefError::Invalid { reference, reason }) => {
                    assert_eq!(reference, bad);
                    assert!(reason.contains(why), "{bad}: {reason}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
