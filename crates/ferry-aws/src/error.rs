//! [`AwsError`]: what went wrong talking to AWS, in classes a user can act on and a controller
//! can requeue by, built from the SDK's error metadata (code, message, HTTP status). Every
//! message names the role, identity, account, region or endpoint involved and never a
//! credential or a secret value: AWS's own messages are kept, with anything shaped like an
//! access key ID or a secret key cut out.

use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// An error from this crate. `Clone`, because one failed fetch is shared by every caller
/// waiting on the same cache key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// The standard chain (or the named profile) yielded no credentials.
    #[error("no AWS credentials from {from}: {detail}")]
    NoCredentials { from: String, detail: String },

    /// Nothing says which region to call.
    #[error(
        "no AWS region for {what}: give the cluster a region, or set AWS_REGION (or the profile's region)"
    )]
    NoRegion { what: String },

    /// STS refused `AssumeRole`. Almost always the target role's trust policy (it does not
    /// name the identity, or wants another external ID), or the caller's own policy lacking
    /// `sts:AssumeRole` on the role.
    #[error(
        "{identity} may not assume role {role_arn}: {message}. Check that the trust policy of {role_arn} allows {identity} (sts:AssumeRole), and that {identity}'s own policy allows sts:AssumeRole on it.{external_id}"
    )]
    AssumeRoleDenied {
        role_arn: String,
        identity: String,
        external_id: ExternalIdHint,
        message: String,
    },

    /// Any other call refused by IAM.
    #[error(
        "{service} {operation} was denied to {identity} in account {account}: {message}. Check that role's permissions ({needs})"
    )]
    AccessDenied {
        service: &'static str,
        operation: &'static str,
        identity: String,
        account: String,
        needs: &'static str,
        message: String,
    },

    /// AWS is rate-limiting this account (after the SDK's own retries). Retryable.
    #[error(
        "{service} {operation} in {region} was throttled (after retries): {message}; it will be retried"
    )]
    Throttled {
        service: &'static str,
        operation: &'static str,
        region: String,
        message: String,
    },

    /// The credentials used were expired or not valid any more. Retryable: the cache drops
    /// them and the next attempt gets new ones.
    #[error(
        "{service} {operation} refused the credentials of {identity} ({code}): {message}; they have expired or were revoked and are renewed on the next attempt"
    )]
    ExpiredToken {
        service: &'static str,
        operation: &'static str,
        identity: String,
        code: String,
        message: String,
    },

    /// SSM has no parameter of these names (or this identity may not see them).
    #[error(
        "SSM parameter{} {} not found in account {account} ({region})",
        if names.len() == 1 { "" } else { "s" },
        names.join(", ")
    )]
    ParameterNotFound {
        names: Vec<String>,
        account: String,
        region: String,
    },

    /// Secrets Manager has no such secret (or version).
    #[error("secret {name} not found in Secrets Manager of account {account} ({region})")]
    SecretNotFound {
        name: String,
        account: String,
        region: String,
    },

    /// EKS has no cluster of that name in the role's account and region.
    #[error("EKS cluster {name} not found in account {account} ({region})")]
    ClusterNotFound {
        name: String,
        account: String,
        region: String,
    },

    /// The endpoint could not be reached (DNS, refused, TLS, timeout). Retryable.
    #[error("cannot reach {service} at {endpoint}: {cause}")]
    Unreachable {
        service: &'static str,
        endpoint: String,
        cause: String,
    },

    /// AWS answered with an error none of the classes above describes.
    #[error("{service} {operation} failed ({code}): {message}")]
    Service {
        service: &'static str,
        operation: &'static str,
        code: String,
        message: String,
    },

    /// A configuration Ferry cannot use (an endpoint without a host, a signing failure).
    #[error("{0}")]
    Config(String),
}

impl AwsError {
    /// Whether trying again later may succeed without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            AwsError::Throttled { .. }
                | AwsError::ExpiredToken { .. }
                | AwsError::Unreachable { .. }
        )
    }
}

/// Whether an external ID was sent with a refused `AssumeRole` (its value is never shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalIdHint {
    Sent,
    NotSent,
}

impl fmt::Display for ExternalIdHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExternalIdHint::Sent => f.write_str(
                " An externalId is configured and sent: check that the trust policy's sts:ExternalId condition expects that one",
            ),
            ExternalIdHint::NotSent => f.write_str(
                " No externalId is configured: if the trust policy has an sts:ExternalId condition, configure the one it expects",
            ),
        }
    }
}

/// The class of an AWS error code, as the SDK's retry classifier and IAM document them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Throttled,
    Denied,
    Expired,
    NotFound,
    Other,
}

/// Classifies an error by its code (and HTTP status, for services that answer 429 with no
/// code). Pure.
pub(crate) fn class_of(code: Option<&str>, status: Option<u16>) -> Class {
    match code.unwrap_or_default() {
        "Throttling"
        | "ThrottlingException"
        | "ThrottledException"
        | "RequestThrottledException"
        | "TooManyRequestsException"
        | "ProvisionedThroughputExceededException"
        | "TransactionInProgressException"
        | "RequestLimitExceeded"
        | "BandwidthLimitExceeded"
        | "LimitExceededException"
        | "RequestThrottled"
        | "SlowDown"
        | "PriorRequestNotComplete"
        | "EC2ThrottledException" => Class::Throttled,
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "UnauthorizedAccess"
        | "AuthorizationError" => Class::Denied,
        "ExpiredToken"
        | "ExpiredTokenException"
        | "RequestExpired"
        | "TokenRefreshRequired"
        | "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "InvalidAccessKeyId"
        | "InvalidToken"
        | "SignatureDoesNotMatch"
        | "InvalidSignatureException" => Class::Expired,
        "ParameterNotFound"
        | "ParameterVersionNotFound"
        | "ResourceNotFoundException"
        | "NoSuchEntity" => Class::NotFound,
        _ if status == Some(429) => Class::Throttled,
        _ if status == Some(403) => Class::Denied,
        _ => Class::Other,
    }
}

/// One failed SDK call, reduced to what classification needs.
#[derive(Debug)]
pub(crate) enum Failure {
    /// AWS answered with an error.
    Service {
        code: Option<String>,
        message: String,
        status: Option<u16>,
    },
    /// The request never got an answer.
    Unreachable(String),
    /// Anything else (a response that did not parse, a request that could not be built).
    Other(String),
}

impl Failure {
    pub fn from_sdk<E>(err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match err {
            SdkError::ServiceError(ctx) => {
                let e = ctx.err();
                // An error document the SDK could not read (not the protocol's shape) may
                // still say what it is: look for its Code and Message elements.
                let body = ctx.raw().body().bytes().map(String::from_utf8_lossy);
                let element = |name| body.as_deref().and_then(|b| xml_element(b, name));
                let code = e.code().map(str::to_owned).or_else(|| element("Code"));
                let message = e
                    .message()
                    .map(str::to_owned)
                    .or_else(|| element("Message"));
                Failure::Service {
                    code,
                    message: scrub(message.as_deref().unwrap_or("no message")),
                    status: Some(ctx.raw().status().as_u16()),
                }
            }
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                Failure::Unreachable(scrub(&DisplayErrorContext(err).to_string()))
            }
            _ => Failure::Other(scrub(&DisplayErrorContext(err).to_string())),
        }
    }

    pub fn class(&self) -> Class {
        match self {
            Failure::Service { code, status, .. } => class_of(code.as_deref(), *status),
            _ => Class::Other,
        }
    }
}

/// Who and where a call was made, for the words of its error.
#[derive(Debug, Clone)]
pub(crate) struct CallSite {
    pub service: &'static str,
    pub operation: &'static str,
    pub region: String,
    pub endpoint: String,
    pub identity: String,
    pub account: String,
    /// The permission the call needs, for the words of an access-denied error.
    pub needs: &'static str,
}

impl CallSite {
    /// The error for a failure that no caller-specific class (not-found of a parameter, say)
    /// took.
    pub fn error(&self, failure: Failure) -> AwsError {
        let class = failure.class();
        match failure {
            Failure::Unreachable(cause) => AwsError::Unreachable {
                service: self.service,
                endpoint: self.endpoint.clone(),
                cause,
            },
            Failure::Other(message) => AwsError::Service {
                service: self.service,
                operation: self.operation,
                code: "no error code".to_owned(),
                message,
            },
            Failure::Service { code, message, .. } => {
                let code = code.unwrap_or_else(|| "no error code".to_owned());
                match class {
                    Class::Throttled => AwsError::Throttled {
                        service: self.service,
                        operation: self.operation,
                        region: self.region.clone(),
                        message,
                    },
                    Class::Denied => AwsError::AccessDenied {
                        service: self.service,
                        operation: self.operation,
                        identity: self.identity.clone(),
                        account: self.account.clone(),
                        needs: self.needs,
                        message,
                    },
                    Class::Expired => AwsError::ExpiredToken {
                        service: self.service,
                        operation: self.operation,
                        identity: self.identity.clone(),
                        code,
                        message,
                    },
                    Class::NotFound | Class::Other => AwsError::Service {
                        service: self.service,
                        operation: self.operation,
                        code,
                        message,
                    },
                }
            }
        }
    }
}

/// The text of the first `<name>…</name>` in an XML document, if short and plain.
fn xml_element(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let len = body[start..].find(&format!("</{name}>"))?;
    let text = body[start..start + len].trim();
    (!text.is_empty() && text.len() <= 1024 && !text.contains('<')).then(|| text.to_owned())
}

/// AWS messages with anything shaped like a credential removed: access key IDs
/// (`AKIA…`/`ASIA…`, 20 characters) and runs of 40 or more base64 characters (secret keys,
/// session tokens, signatures).
pub(crate) fn scrub(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if looks_secret(word) {
            out.push_str("<redacted>");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in message.chars() {
        if c.is_ascii_alphanumeric() || "+/=".contains(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn looks_secret(word: &str) -> bool {
    let key_id = word.len() == 20
        && (word.starts_with("AKIA") || word.starts_with("ASIA"))
        && word
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    key_id || word.len() >= 40
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified_as_the_sdk_and_iam_name_them() {
        assert_eq!(class_of(Some("Throttling"), Some(400)), Class::Throttled);
        assert_eq!(
            class_of(Some("ThrottlingException"), None),
            Class::Throttled
        );
        assert_eq!(class_of(None, Some(429)), Class::Throttled);
        assert_eq!(class_of(Some("AccessDenied"), Some(403)), Class::Denied);
        assert_eq!(class_of(Some("AccessDeniedException"), None), Class::Denied);
        assert_eq!(class_of(Some("ExpiredToken"), None), Class::Expired);
        assert_eq!(class_of(Some("InvalidClientTokenId"), None), Class::Expired);
        assert_eq!(class_of(Some("ParameterNotFound"), None), Class::NotFound);
        assert_eq!(class_of(Some("ValidationError"), Some(400)), Class::Other);
        assert_eq!(class_of(None, None), Class::Other);
        assert_eq!(class_of(None, Some(403)), Class::Denied);
        let wrapped = "<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: x is not authorized</Message></Error></Errors></ErrorResponse>";
        assert_eq!(
            xml_element(wrapped, "Code").as_deref(),
            Some("AccessDenied")
        );
        assert_eq!(
            xml_element(wrapped, "Message").as_deref(),
            Some("User: x is not authorized")
        );
        assert_eq!(xml_element("<Code></Code>", "Code"), None);
    }

    #[test]
    fn messages_lose_what_looks_like_a_credential() {
        let m = "key ASIAQWERTYUIOPASDFGH with secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY denied for arn:aws:sts::111111111111:assumed-role/r/s";
        let s = scrub(m);
        assert!(!s.contains("ASIAQWERTY"), "{s}");
        assert!(!s.contains("wJalrXUtnFEMI"), "{s}");
        assert!(
            s.contains("arn:aws:sts::111111111111:assumed-role/r/s"),
            "{s}"
        );
        assert_eq!(scrub("Rate exceeded"), "Rate exceeded");
    }

    #[test]
    fn a_denied_assume_role_says_what_to_check() {
        let e = AwsError::AssumeRoleDenied {
            role_arn: "arn:aws:iam::222222222222:role/deployer".into(),
            identity: "arn:aws:sts::111111111111:assumed-role/ferry/ctl".into(),
            external_id: ExternalIdHint::Sent,
            message: "not authorized".into(),
        };
        let s = e.to_string();
        assert!(s.contains("trust policy of arn:aws:iam::222222222222:role/deployer"));
        assert!(s.contains("arn:aws:sts::111111111111:assumed-role/ferry/ctl"));
        assert!(s.contains("sts:ExternalId"));
        assert!(!e.is_retryable());
        let t = CallSite {
            service: "STS",
            operation: "AssumeRole",
            region: "eu-west-1".into(),
            endpoint: "https://sts.eu-west-1.amazonaws.com".into(),
            identity: "x".into(),
            account: "1".into(),
            needs: "sts:AssumeRole",
        }
        .error(Failure::Service {
            code: Some("Throttling".into()),
            message: "Rate exceeded".into(),
            status: Some(400),
        });
        assert!(t.is_retryable());
        assert!(t.to_string().contains("throttled"), "{t}");
    }
}
