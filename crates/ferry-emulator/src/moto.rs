//! moto's server (PyPI's `moto[server]`) as a child process on a free loopback port, for
//! everything that plays AWS beside the emulator: the tests, `ferry quickstart --aws`,
//! `ferry bench --aws`. It exits when its standard input closes, so it goes away with its
//! parent however that ends, and is killed when dropped.
//!
//! Optional patches, applied in the child before it serves (test plumbing; Ferry calls AWS as
//! it would call AWS):
//! - [`MotoOptions::presigned_sts`]: moto sends a GET it cannot place (a presigned STS
//!   `GetCallerIdentity`, signed in its query) to S3, and reads the caller's key only from
//!   an Authorization header; this sends such requests to STS and reads `X-Amz-Credential`.
//! - [`MotoOptions::eks_endpoint_tags`]: moto invents an EKS cluster's endpoint and CA; with
//!   a tag prefix `P`, a cluster created with tags `P/endpoint` and `P/ca` answers those to
//!   `DescribeCluster`, so that a cluster found by name leads to an emulated one.
//! - [`MotoOptions::trust_policies`]: moto lets anyone assume any role, even one that does
//!   not exist; this refuses `AssumeRole` as STS does (`403 AccessDenied`, `User: … is not
//!   authorized to perform: sts:AssumeRole on resource: …`) unless the role exists in IAM of
//!   its account and its trust policy allows the caller: a `Principal.AWS` of `*`, the
//!   caller's account (`123…` or `arn:aws:iam::123…:root`), its role or its session, with
//!   `StringEquals`/`StringLike` conditions on `sts:ExternalId` met. Other condition keys are
//!   not understood and so never met; `AssumeRoleWithWebIdentity` is not checked.
//! - [`MotoOptions::faults`]: errors on demand, as AWS would answer them, set through
//!   `POST /_ferry/faults` with `{"action": "AssumeRole", "roleArn": …, "status": 400, "code":
//!   "Throttling", "message": "Rate exceeded", "times": -1}` (`roleArn` and `times`
//!   optional; `times: -1` until cleared), read with `GET` (each fault with its `hits`) and
//!   cleared with `DELETE`. The action is the query protocol's `Action` or the JSON
//!   protocol's `X-Amz-Target` operation; errors are shaped for the protocol.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, Command, Stdio};

/// What to patch in moto before it serves.
#[derive(Debug, Clone, Default)]
pub struct MotoOptions {
    pub presigned_sts: bool,
    pub eks_endpoint_tags: Option<String>,
    pub trust_policies: bool,
    pub faults: bool,
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
    if options.trust_policies || options.faults {
        s.push_str(&format!(
            "FERRY_TRUST = {}\nFERRY_FAULTS = {}\n",
            if options.trust_policies {
                "True"
            } else {
                "False"
            },
            if options.faults { "True" } else { "False" },
        ));
        s.push_str(MIDDLEWARE);
    }
    s.push_str(
        "threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()\n\
         main([\"-H\", \"127.0.0.1\", \"-p\", sys.argv[1]])\n",
    );
    s
}

/// The WSGI wrapper of [`MotoOptions::trust_policies`] and [`MotoOptions::faults`], around
/// moto's dispatcher. Reads the form body (and puts it back) to know the action.
const MIDDLEWARE: &str = r#"import io, json, urllib.parse, fnmatch
from xml.sax.saxutils import escape
import moto.moto_server.werkzeug_app as _dispatch
_ferry_faults = []
_ferry_lock = threading.Lock()
_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}

def _ferry_params(environ):
    params = {k: v[0] for k, v in urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).items()}
    if environ.get("REQUEST_METHOD") == "POST" and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items():
            params[k] = v[0]
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target and "Action" not in params:
        params["Action"] = target.rsplit(".", 1)[-1]
    return params

def _ferry_answer(start_response, status, body, content_type):
    data = body.encode()
    start_response(f"{status} {_REASONS.get(status, 'Error')}", [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]

def _ferry_error(environ, start_response, status, code, message):
    if environ.get("HTTP_X_AMZ_TARGET"):
        return _ferry_answer(start_response, status, json.dumps({"__type": code, "message": message}), "application/x-amz-json-1.1")
    body = (f'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
            f'<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error><RequestId>ferry-moto</RequestId></ErrorResponse>')
    return _ferry_answer(start_response, status, body, "text/xml")

def _ferry_caller(environ):
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" not in auth:
        return None
    key = auth.split("Credential=", 1)[1].split("/", 1)[0]
    from moto.sts.models import sts_backends
    from moto.iam.models import iam_backends
    for account in list(sts_backends.keys()):
        for partition in list(sts_backends[account].keys()):
            role = sts_backends[account][partition].get_assumed_role_from_access_key(key)
            if role:
                return role.arn
    for account in list(iam_backends.keys()):
        for partition in list(iam_backends[account].keys()):
            user = iam_backends[account][partition].get_user_from_access_key_id(key)
            if user:
                return user.arn
    return None

def _ferry_principals(caller):
    account = caller.split(":")[4]
    names = {"*", account, f"arn:aws:iam::{account}:root", caller}
    if ":assumed-role/" in caller:
        role = caller.split(":assumed-role/", 1)[1].split("/")[0]
        names.add(f"arn:aws:iam::{account}:role/{role}")
    return names

def _ferry_listed(value):
    return value if isinstance(value, list) else [value]

def _ferry_conditions_met(condition, params):
    for operator, tests in (condition or {}).items():
        for key, wanted in tests.items():
            if key.lower() != "sts:externalid" or operator not in ("StringEquals", "StringLike"):
                return False
            got = params.get("ExternalId")
            if got is None:
                return False
            match = (lambda w: got == w) if operator == "StringEquals" else (lambda w: fnmatch.fnmatchcase(got, w))
            if not any(match(w) for w in _ferry_listed(wanted)):
                return False
    return True

def _ferry_trusted(role_arn, caller, params):
    from moto.iam.models import iam_backends
    try:
        account = role_arn.split(":")[4]
        role = iam_backends[account]["aws"].get_role_by_arn(role_arn)
        policy = json.loads(urllib.parse.unquote(role.assume_role_policy_document or "{}"))
    except Exception:
        return False
    principals = _ferry_principals(caller)
    allowed = False
    for statement in _ferry_listed(policy.get("Statement", [])):
        actions = _ferry_listed(statement.get("Action", []))
        if not any(fnmatch.fnmatchcase("sts:AssumeRole", a) for a in actions):
            continue
        principal = statement.get("Principal", {})
        named = ["*"] if principal == "*" else _ferry_listed(principal.get("AWS", []))
        if not any(p in principals for p in named):
            continue
        if not _ferry_conditions_met(statement.get("Condition"), params):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed

_ferry_call = _dispatch.DomainDispatcherApplication.__call__
def _ferry_wsgi(self, environ, start_response):
    if FERRY_FAULTS and environ.get("PATH_INFO") == "/_ferry/faults":
        method = environ.get("REQUEST_METHOD")
        with _ferry_lock:
            if method == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                fault = json.loads(environ["wsgi.input"].read(length) or b"{}")
                fault.setdefault("times", -1)
                fault.setdefault("status", 400)
                fault["hits"] = 0
                _ferry_faults.append(fault)
            elif method == "DELETE":
                _ferry_faults.clear()
            answer = json.dumps({"faults": _ferry_faults})
        return _ferry_answer(start_response, 200, answer, "application/json")
    params = _ferry_params(environ)
    action = params.get("Action")
    if FERRY_FAULTS and action:
        with _ferry_lock:
            for fault in _ferry_faults:
                if fault.get("action") != action or fault["times"] == 0:
                    continue
                if "roleArn" in fault and fault["roleArn"] != params.get("RoleArn"):
                    continue
                fault["hits"] += 1
                if fault["times"] > 0:
                    fault["times"] -= 1
                return _ferry_error(environ, start_response, fault["status"], fault.get("code", "InternalFailure"), fault.get("message", "injected fault"))
    if FERRY_TRUST and action == "AssumeRole":
        caller = _ferry_caller(environ)
        role_arn = params.get("RoleArn", "")
        if caller and not _ferry_trusted(role_arn, caller, params):
            return _ferry_error(environ, start_response, 403, "AccessDenied",
                f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}")
    return _ferry_call(self, environ, start_response)
_dispatch.DomainDispatcherApplication.__call__ = _ferry_wsgi
"#;

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
