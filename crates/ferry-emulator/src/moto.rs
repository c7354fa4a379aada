//! moto's server (PyPI's `moto[server]`) as a child process on a free loopback port, for
//! everything that plays AWS beside the emulator: the tests, `ferry quickstart --aws`,
//! `ferry bench --aws`. It exits when its standard input closes, so it goes away with its
//! parent however that ends, and is killed when dropped.
//!
//! Two optional patches, applied in the child before it serves (test plumbing; Ferry calls
//! AWS as it would call AWS):
//! - [`MotoOptions::presigned_sts`]: moto sends a GET it cannot place (a presigned STS
//!   `GetCallerIdentity`, signed in its query) to S3, and reads the caller's key only from
//!   an Authorization header; this sends such requests to STS and reads `X-Amz-Credential`.
//! - [`MotoOptions::eks_endpoint_tags`]: moto invents an EKS cluster's endpoint and CA; with
//!   a tag prefix `P`, a cluster created with tags `P/endpoint` and `P/ca` answers those to
//!   `DescribeCluster`, so that a cluster found by name leads to an emulated one.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, Command, Stdio};

/// What to patch in moto before it serves.
#[derive(Debug, Clone, Default)]
pub struct MotoOptions {
    pub presigned_sts: bool,
    pub eks_endpoint_tags: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error("moto's server is not installed: python3 -m pip install 'moto[server]>=5,<6'")]
    NotInstalled,
    #[error("starting moto's server: {0}")]
    Start(#[from] std::io::Error),
    #[error("moto's server exited before listening:\n{0}")]
    Exited(String),
}

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
}

/// Whether `python3` can import moto's server.
pub fn installed() -> bool {
    Command::new("python3")
        .args(["-c", "import moto.server"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn script(options: &MotoOptions) -> String {
    let mut s = String::from("import os, sys, threading\nfrom moto.server import main\n");
    if options.presigned_sts {
        s.push_str(
            r#"import moto.moto_server.werkzeug_app as dispatch
from moto.core.responses import BaseResponse
dispatch.DEFAULT_SERVICE_REGION = ("sts", "us-east-1")
_header_access_key = BaseResponse.get_access_key
def _access_key(self):
    credential = self.querystring.get("X-Amz-Credential")
    if "Authorization" not in self.headers and credential:
        return credential[0].split("/")[0]
    return _header_access_key(self)
BaseResponse.get_access_key = _access_key
"#,
        );
    }
    if let Some(prefix) = &options.eks_endpoint_tags {
        s.push_str(&format!(
            r#"import moto.eks.models as eks
_init = eks.Cluster.__init__
def _cluster(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    self.endpoint = self.tags.get("{prefix}/endpoint", self.endpoint)
    if "{prefix}/ca" in self.tags:
        self.certificate_authority = {{"data": self.tags["{prefix}/ca"]}}
eks.Cluster.__init__ = _cluster
"#
        ));
    }
    s.push_str(
        "threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()\n\
         main([\"-H\", \"127.0.0.1\", \"-p\", sys.argv[1]])\n",
    );
    s
}

impl Moto {
    /// Starts a server and returns once it listens.
    pub fn start(options: &MotoOptions) -> Result<Moto, MotoError> {
        if !installed() {
            return Err(MotoError::NotInstalled);
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut child = Command::new("python3")
            .args(["-c", &script(options), &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let (Some(stdin), Some(stderr)) = (child.stdin.take(), child.stderr.take()) else {
            let _ = child.kill();
            return Err(MotoError::Exited("no pipes to the child".into()));
        };
        let moto = Moto {
            child,
            _stdin: stdin,
            port,
        };
        // werkzeug says "Running on http://127.0.0.1:PORT" once it listens.
        let mut lines = BufReader::new(stderr);
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            match lines.read_line(&mut line) {
                Ok(0) | Err(_) => return Err(MotoError::Exited(seen)),
                Ok(_) if line.contains("Running on") => break,
                Ok(_) => seen.push_str(&line),
            }
        }
        // Its request log is drained so that it never blocks on a full pipe.
        std::thread::spawn(move || {
            let _ = lines.read_to_end(&mut Vec::new());
        });
        Ok(moto)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
