//! (A copy of `ferry-aws`'s test launcher.)
//!
//! moto's server as a child process on a free loopback port. It is told to exit when its
//! standard input closes, so it goes away with the test process even when the shared fixture
//! (a static, never dropped) is used; a fixture of its own is also killed on drop.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;

/// moto's server, exiting at end of input (the test process closing the pipe), with two
/// gaps filled that EKS tokens fall into (a presigned STS `GetCallerIdentity` GET carries its
/// signature in the query, and no Authorization header):
/// - moto routes a request by its Authorization header, body or path, and sends what it
///   cannot place to S3: send it to STS instead (nothing in these tests uses S3);
/// - moto takes the caller's access key from the Authorization header (or SigV2's
///   `AWSAccessKeyId`), never from SigV4's `X-Amz-Credential`: read that too, so that its
///   `GetCallerIdentity` names whoever signed the URL. (moto checks no presigned signature.)
const SERVE: &str = r#"
import os, sys, threading
import moto.moto_server.werkzeug_app as dispatch
from moto.core.responses import BaseResponse
from moto.server import main

dispatch.DEFAULT_SERVICE_REGION = ("sts", "us-east-1")
_header_access_key = BaseResponse.get_access_key
def _access_key(self):
    credential = self.querystring.get("X-Amz-Credential")
    if "Authorization" not in self.headers and credential:
        return credential[0].split("/")[0]
    return _header_access_key(self)
BaseResponse.get_access_key = _access_key
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
main(["-H", "127.0.0.1", "-p", sys.argv[1]])
"#;

pub struct Moto {
    child: Child,
    _stdin: ChildStdin,
    pub port: u16,
}

impl Moto {
    /// Starts a server and returns once it listens.
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free port: {e}"));
        let mut child = Command::new("python3")
            .args(["-c", SERVE, &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start moto's server (python3 -m pip install 'moto[server]'): {e}")
            });
        let stdin = child.stdin.take().unwrap_or_else(|| panic!("no stdin"));
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        // werkzeug says "Running on http://127.0.0.1:PORT" once it listens.
        let mut lines = BufReader::new(stderr);
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            match lines.read_line(&mut line) {
                Ok(0) | Err(_) => panic!("moto's server exited before listening:\n{seen}"),
                Ok(_) if line.contains("Running on") => break,
                Ok(_) => seen.push_str(&line),
            }
        }
        // Keep draining its log so that it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = lines.read_to_end(&mut sink);
        });
        Moto {
            child,
            _stdin: stdin,
            port,
        }
    }

    /// The server every test shares (distinct names per test keep them apart).
    pub fn shared() -> &'static Moto {
        static SHARED: OnceLock<Moto> = OnceLock::new();
        SHARED.get_or_init(Moto::start)
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
