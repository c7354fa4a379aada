//! Cluster errors in words. A kube-rs error prints as `ServiceError: client error (Connect)`
//! or as a Rust debug structure of the API server's `Status`; neither tells a user which
//! cluster failed, at which URL, why, or what to check. [`explain`] says all four:
//! `cluster blue (https://10.0.0.1:6443): connection refused: nothing listens at that
//! address — check that the API server runs and the server URL's host and port`.
//!
//! The cause is found by walking the error's sources: an I/O error's kind (refused, reset,
//! timed out), a name that does not resolve, a TLS failure, or an HTTP status with the
//! server's own message (401 and 403 get what to check next). Nothing here echoes a request
//! or a credential: only the server URL, status codes and the server's message.

use std::error::Error as StdError;
use std::io::ErrorKind;

use kube::core::Status;
use kube::runtime::watcher;

use crate::registry::Cluster;

/// `cluster NAME (URL): CAUSE`, for any error of a request to `cluster`.
pub fn explain(cluster: &Cluster, e: &kube::Error) -> String {
    format!(
        "cluster {} ({}): {}",
        cluster.name(),
        cluster.spec.server,
        cluster.cause(e)
    )
}

/// The cause of a failed request in words, with what to check next.
pub fn cause(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => status_cause(status),
        other => transport_cause(other),
    }
}

/// The cause of a failed watch in words.
pub fn watch_cause(e: &watcher::Error) -> String {
    match e {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => cause(e),
        watcher::Error::WatchError(status) => status_cause(status),
        watcher::Error::NoResourceVersion => {
            "the API server's list answer has no resourceVersion (the resource cannot be watched)"
                .into()
        }
    }
}

/// An API server's refusal: the status, the server's message, and for the statuses a user
/// can fix, what to check.
pub fn status_cause(s: &Status) -> String {
    let reason = if s.reason.is_empty() {
        String::new()
    } else {
        format!(" {}", s.reason)
    };
    let message = if s.message.is_empty() {
        String::new()
    } else {
        format!(": {}", s.message)
    };
    let hint = match s.code {
        401 => {
            " — the cluster did not accept Ferry's credentials: check the bearerToken or client \
             certificate in the cluster Secret (expired, revoked, or for another cluster)"
        }
        403 => {
            " — the credentials are accepted but not allowed this: check the RBAC bindings of \
             Ferry's identity in that cluster"
        }
        429 => " — the API server is throttling requests; Ferry retries",
        500..=599 => " — the API server failed to answer; Ferry retries",
        _ => "",
    };
    format!("HTTP {}{reason}{message}{hint}", s.code)
}

/// A request that got no HTTP answer: why, from the error's sources.
fn transport_cause(e: &kube::Error) -> String {
    let mut messages = Vec::new();
    let mut io_kind = None;
    let mut current: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            io_kind.get_or_insert(io.kind());
        }
        messages.push(err.to_string());
        current = err.source();
    }
    let all = messages.join(": ").to_lowercase();
    let deepest = messages.last().cloned().unwrap_or_default();
    if all.contains("dns error") || all.contains("failed to lookup address") {
        return format!(
            "the server's host name does not resolve ({deepest}) — check the server URL and DNS"
        );
    }
    match io_kind {
        Some(ErrorKind::ConnectionRefused) => {
            return "connection refused: nothing listens at that address — check that the API \
                    server runs and the server URL's host and port"
                .into();
        }
        Some(
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::UnexpectedEof,
        ) => {
            return format!(
                "the connection was closed before an answer ({deepest}) — the API server or a \
                 proxy or load balancer in front of it dropped it; Ferry retries"
            );
        }
        Some(ErrorKind::TimedOut) => return timed_out(),
        Some(ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable) => {
            return format!(
                "the address is unreachable ({deepest}) — check the network path (routes, \
                 security groups, firewalls)"
            );
        }
        _ => {}
    }
    if all.contains("certificate") || all.contains("tls") || all.contains("handshake") {
        return format!(
            "TLS handshake failed ({deepest}) — check the cluster Secret's tlsClientConfig: \
             caData (the cluster's CA), serverName, or the client certificate"
        );
    }
    if all.contains("timed out") || all.contains("deadline") || all.contains("elapsed") {
        return timed_out();
    }
    if deepest.is_empty() {
        e.to_string()
    } else {
        format!("no answer from the API server ({deepest})")
    }
}

fn timed_out() -> String {
    "timed out: the API server did not answer — check the network path (firewalls, security \
     groups) and that the server URL is the cluster's"
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, reason: &str, message: &str) -> kube::Error {
        let mut s = Status::failure(message, reason);
        s.code = code;
        kube::Error::Api(Box::new(s))
    }

    #[test]
    fn a_401_is_a_sentence_with_what_to_check_not_a_debug_structure() {
        let text = cause(&status(401, "Unauthorized", "Unauthorized"));
        assert!(
            text.starts_with("HTTP 401 Unauthorized: Unauthorized"),
            "{text}"
        );
        assert!(text.contains("bearerToken"), "{text}");
        assert!(!text.contains("Status {"), "{text}");
        assert!(!text.contains("ListMeta"), "{text}");
    }

    #[test]
    fn a_403_names_rbac() {
        let text = cause(&status(403, "Forbidden", "configmaps is forbidden"));
        assert!(text.contains("configmaps is forbidden"), "{text}");
        assert!(text.contains("RBAC"), "{text}");
    }

    #[test]
    fn an_io_error_deep_in_the_chain_names_its_kind() {
        #[derive(Debug, thiserror::Error)]
        #[error("client error (Connect)")]
        struct Outer(#[source] std::io::Error);
        let io = std::io::Error::new(ErrorKind::ConnectionRefused, "Connection refused");
        let e = kube::Error::Service(Box::new(Outer(io)));
        let text = cause(&e);
        assert!(text.starts_with("connection refused"), "{text}");
        assert!(text.contains("host and port"), "{text}");
    }

    #[test]
    fn dns_and_tls_failures_are_told_apart() {
        #[derive(Debug, thiserror::Error)]
        #[error("{0}")]
        struct Msg(String);
        let dns = kube::Error::Service(Box::new(Msg(
            "dns error: failed to lookup address information".into(),
        )));
        assert!(cause(&dns).contains("does not resolve"), "{}", cause(&dns));
        let tls = kube::Error::Service(Box::new(Msg(
            "invalid peer certificate: UnknownIssuer".into()
        )));
        assert!(cause(&tls).contains("caData"), "{}", cause(&tls));
    }
}
