//! Listeners: HTTPS (and optionally plain HTTP) on loopback, one hyper connection task per
//! client, each request answered by [`crate::api::handle`]. While a cluster is "unreachable"
//! new connections are closed at once and requests on open ones fail at the transport.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cluster::ClusterInner;

#[derive(Debug, Clone, Copy)]
struct Down;

impl std::fmt::Display for Down {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cluster unreachable (injected fault)")
    }
}

impl std::error::Error for Down {}

async fn serve_connection<IO>(io: IO, cluster: Arc<ClusterInner>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let cluster = cluster.clone();
        async move {
            if cluster.faults.is_unreachable() {
                return Err(Down);
            }
            let req = req.map(Body::new);
            Ok::<_, Down>(crate::api::handle(cluster, req).await)
        }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    if let Err(e) = builder.serve_connection(TokioIo::new(io), service).await {
        tracing::trace!(error = %e, "connection ended");
    }
}

/// Accepts connections until `stop` changes.
pub async fn run(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    cluster: Arc<ClusterInner>,
    mut stop: watch::Receiver<bool>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let (stream, _peer): (tokio::net::TcpStream, SocketAddr) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        if cluster.faults.is_unreachable() {
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let cluster = cluster.clone();
        let acceptor = acceptor.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let conn = async {
                match acceptor {
                    Some(acc) => match acc.accept(stream).await {
                        Ok(tls) => serve_connection(tls, cluster).await,
                        Err(e) => tracing::debug!(error = %e, "TLS handshake failed"),
                    },
                    None => serve_connection(stream, cluster).await,
                }
            };
            tokio::select! {
                _ = conn => {}
                _ = stop.changed() => {}
            }
        });
    }
}
