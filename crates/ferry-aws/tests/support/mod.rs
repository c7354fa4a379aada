//! The test world: moto's server with three accounts, and a controller that starts from
//! web-identity credentials in the management account, configured the standard way (a shared
//! config profile with `role_arn`, `web_identity_token_file` and `endpoint_url`).
//!
//! Accounts: management 111111111111 (the controller's role, the hub role), prod
//! 222222222222 and stg 333333333333 (a `ferry-deployer` role each). moto switches accounts
//! by the role an `AssumeRole` names; it creates the role's credentials whether or not the
//! role exists.

pub mod http;
pub mod moto;

use std::path::PathBuf;

use ferry_aws::{
    Aws, AwsAccess, AwsOptions, Lifetimes, RoleArn, RoleChain, RoleHop, SessionName,
    SharedConfigFiles,
};

pub use moto::Moto;

pub const MGMT: &str = "111111111111";
pub const PROD: &str = "222222222222";
pub const STG: &str = "333333333333";
pub const REGION: &str = "eu-west-1";
pub const CONTROLLER_ROLE: &str = "arn:aws:iam::111111111111:role/ferry-controller";
pub const OPS_ROLE: &str = "arn:aws:iam::111111111111:role/ferry-ops";

pub struct World {
    pub moto_url: String,
    _dir: tempfile::TempDir,
    config: PathBuf,
}

impl World {
    /// A world on the shared moto server.
    pub fn new() -> World {
        World::on(moto::shared())
    }

    /// A world on `moto`.
    pub fn on(moto: &Moto) -> World {
        World::with_services(moto, &[])
    }

    /// A world on `moto` but for the services given another endpoint, the standard way (a
    /// `services` section of the shared config file).
    pub fn with_services(moto: &Moto, services: &[(&str, &str)]) -> World {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let token = dir.path().join("token");
        // moto accepts any web identity token.
        std::fs::write(&token, "eyJhbGciOiJSUzI1NiJ9.e30.sig").unwrap_or_else(|e| panic!("{e}"));
        let config = dir.path().join("config");
        // The default profile, and `ops` (Argo CD's `awsAuthConfig.profile` names one).
        let mut text = String::new();
        for (section, role, session) in [
            ("default", CONTROLLER_ROLE, "ferry-controller"),
            ("profile ops", OPS_ROLE, "ferry-ops"),
        ] {
            text.push_str(&format!(
                "[{section}]\nregion = {REGION}\nrole_arn = {role}\nweb_identity_token_file = {}\nrole_session_name = {session}\nendpoint_url = {}\n",
                token.display(),
                moto.url()
            ));
            if !services.is_empty() {
                text.push_str("services = elsewhere\n");
            }
        }
        if !services.is_empty() {
            text.push_str("[services elsewhere]\n");
            for (service, url) in services {
                text.push_str(&format!("{service} =\n  endpoint_url = {url}\n"));
            }
        }
        std::fs::write(&config, text).unwrap_or_else(|e| panic!("{e}"));
        World {
            moto_url: moto.url(),
            _dir: dir,
            config,
        }
    }

    pub fn options(&self) -> AwsOptions {
        AwsOptions {
            shared_config: Some(SharedConfigFiles {
                config: self.config.clone(),
                credentials: None,
            }),
            lifetimes: Lifetimes {
                failure_backoff: std::time::Duration::ZERO,
                ..Lifetimes::default()
            },
            max_attempts: 1,
            ..AwsOptions::default()
        }
    }

    /// A fresh adapter: its own caches and counters.
    pub fn aws(&self) -> Aws {
        Aws::new(self.options())
    }
}

pub fn arn(account: &str, role: &str) -> RoleArn {
    RoleArn::parse(&format!("arn:aws:iam::{account}:role/{role}")).unwrap_or_else(|e| panic!("{e}"))
}

/// One hop into `account`'s `ferry-deployer`, session `ferry-<cluster>`.
pub fn spoke(account: &str, cluster: &str) -> AwsAccess {
    AwsAccess::with_chain(RoleChain::single(RoleHop::new(
        arn(account, "ferry-deployer"),
        SessionName::for_cluster(cluster),
    )))
}

/// The management account's hub role, then `account`'s deployer.
pub fn through_hub(account: &str, cluster: &str) -> AwsAccess {
    AwsAccess::with_chain(
        RoleChain::single(RoleHop::new(
            arn(MGMT, "ferry-hub"),
            SessionName::sanitized("ferry-hub"),
        ))
        .then(RoleHop::new(
            arn(account, "ferry-deployer"),
            SessionName::for_cluster(cluster),
        )),
    )
}

pub fn expect<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}
