//! The AWS calls behind secret references, as an [`AwsAccess`] in a region: SSM
//! `GetParameters` (with decryption, at most 10 names a call), `GetParametersByPath`, and
//! Secrets Manager `GetSecretValue`. Values come back [`Sensitive`]; errors name the
//! parameter or secret and the account, never a value.

use std::collections::BTreeMap;

use aws_config::identity::IdentityCache;
use aws_types::SdkConfig;
use aws_types::region::Region;
use ferry_core::Sensitive;

use crate::access::AwsAccess;
use crate::credentials::Held;
use crate::error::{AwsError, Class, Failure};
use crate::{Aws, Calls};

/// SSM's limit on names per `GetParameters`.
pub const GET_PARAMETERS_BATCH: usize = 10;
/// A bound on `GetParametersByPath` pages (10 parameters each), against a path that never ends.
const MAX_PATH_PAGES: usize = 1000;

/// The answer of [`Aws::get_parameters`].
#[derive(Debug, Default)]
pub struct Parameters {
    /// By the name as asked (with its `:version` selector, if any).
    pub values: BTreeMap<String, Sensitive<String>>,
    /// Names SSM does not have (or does not show this identity), as asked.
    pub missing: Vec<String>,
}

struct Client<C> {
    client: C,
    held: Held,
    sdk: SdkConfig,
    region: String,
}

// === impl Aws ===

impl Aws {
    /// `GetParameters` with decryption for `names` (any number: one call per 10), as
    /// `access` in `region` (`None`: the access's region).
    pub async fn get_parameters(
        &self,
        access: &AwsAccess,
        region: Option<&str>,
        names: &[String],
    ) -> Result<Parameters, AwsError> {
        let mut out = Parameters::default();
        if names.is_empty() {
            return Ok(out);
        }
        let c = self.ssm(access, region).await?;
        for batch in names.chunks(GET_PARAMETERS_BATCH) {
            Calls::bump(&self.inner.calls.get_parameters);
            let result = c
                .client
                .get_parameters()
                .set_names(Some(batch.to_vec()))
                .with_decryption(true)
                .send()
                .await;
            let answer = match result {
                Ok(a) => a,
                Err(e) => {
                    let failure = Failure::from_sdk(&e);
                    let call = ("SSM", "GetParameters", "ssm:GetParameters and kms:Decrypt");
                    let site = self
                        .call_site(access, &c.sdk, &c.held, call, &c.region)
                        .await;
                    return Err(self.after_failure(access, site.error(failure)));
                }
            };
            for p in answer.parameters() {
                let (Some(name), Some(value)) = (p.name(), p.value()) else {
                    continue;
                };
                // SSM names a parameter asked as `NAME:3` by `NAME` plus its `Selector`
                // (`:3`); without a selector, match what was asked by name or by version.
                let asked: Vec<String> = match p.selector() {
                    Some(sel) => vec![format!("{name}{sel}")],
                    None => [name.to_owned(), format!("{name}:{}", p.version())]
                        .into_iter()
                        .filter(|n| batch.contains(n))
                        .collect(),
                };
                for n in asked {
                    out.values.insert(n, Sensitive::new(value.to_owned()));
                }
            }
            out.missing
                .extend(answer.invalid_parameters().iter().cloned());
        }
        // A name SSM neither returned nor listed as invalid is missing all the same.
        for n in names {
            if !out.values.contains_key(n) && !out.missing.contains(n) {
                out.missing.push(n.clone());
            }
        }
        Ok(out)
    }

    /// `GetParametersByPath` with decryption: every parameter under `path` (its direct
    /// children, or all descendants when `recursive`), by full name.
    pub async fn get_parameters_by_path(
        &self,
        access: &AwsAccess,
        region: Option<&str>,
        path: &str,
        recursive: bool,
    ) -> Result<BTreeMap<String, Sensitive<String>>, AwsError> {
        let c = self.ssm(access, region).await?;
        let mut values = BTreeMap::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_PATH_PAGES {
            Calls::bump(&self.inner.calls.get_parameters_by_path);
            let result = c
                .client
                .get_parameters_by_path()
                .path(path)
                .recursive(recursive)
                .with_decryption(true)
                .set_next_token(next.take())
                .send()
                .await;
            let page = match result {
                Ok(p) => p,
                Err(e) => {
                    let failure = Failure::from_sdk(&e);
                    let call = (
                        "SSM",
                        "GetParametersByPath",
                        "ssm:GetParametersByPath and kms:Decrypt",
                    );
                    let site = self
                        .call_site(access, &c.sdk, &c.held, call, &c.region)
                        .await;
                    return Err(self.after_failure(access, site.error(failure)));
                }
            };
            for p in page.parameters() {
                if let (Some(name), Some(value)) = (p.name(), p.value()) {
                    values.insert(name.to_owned(), Sensitive::new(value.to_owned()));
                }
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_owned()),
                _ => return Ok(values),
            }
        }
        Err(AwsError::Service {
            service: "SSM",
            operation: "GetParametersByPath",
            code: "too many pages".to_owned(),
            message: format!("more than {MAX_PATH_PAGES} pages of parameters under {path}"),
        })
    }

    /// `GetSecretValue` of `secret_id` (a name or an ARN): its `SecretString`, or its
    /// `SecretBinary` when that is UTF-8.
    pub async fn get_secret_value(
        &self,
        access: &AwsAccess,
        region: Option<&str>,
        secret_id: &str,
        version_stage: Option<&str>,
        version_id: Option<&str>,
    ) -> Result<Sensitive<String>, AwsError> {
        let held = self.held(access, access.chain.hops().len()).await?;
        let sdk = self.base_config(access).await;
        let region = match region {
            Some(r) => r.to_owned(),
            None => self.region_of(access, &sdk, "Secrets Manager")?,
        };
        let conf = aws_sdk_secretsmanager::config::Builder::from(&sdk)
            .region(Region::new(region.clone()))
            .credentials_provider(held.credentials.clone())
            .identity_cache(IdentityCache::no_cache())
            .build();
        let client = aws_sdk_secretsmanager::Client::from_conf(conf);
        Calls::bump(&self.inner.calls.get_secret_value);
        let result = client
            .get_secret_value()
            .secret_id(secret_id)
            .set_version_stage(version_stage.map(str::to_owned))
            .set_version_id(version_id.map(str::to_owned))
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e) => {
                let failure = Failure::from_sdk(&e);
                let call = (
                    "Secrets Manager",
                    "GetSecretValue",
                    "secretsmanager:GetSecretValue and kms:Decrypt",
                );
                let site = self.call_site(access, &sdk, &held, call, &region).await;
                if failure.class() == Class::NotFound {
                    return Err(AwsError::SecretNotFound {
                        name: secret_id.to_owned(),
                        account: site.account,
                        region,
                    });
                }
                return Err(self.after_failure(access, site.error(failure)));
            }
        };
        if let Some(s) = out.secret_string() {
            return Ok(Sensitive::new(s.to_owned()));
        }
        match out
            .secret_binary()
            .map(|b| String::from_utf8(b.as_ref().to_vec()))
        {
            Some(Ok(s)) => Ok(Sensitive::new(s)),
            Some(Err(_)) => Err(AwsError::Service {
                service: "Secrets Manager",
                operation: "GetSecretValue",
                code: "binary secret".to_owned(),
                message: format!("secret {secret_id} is binary and not UTF-8 text"),
            }),
            None => Err(AwsError::Service {
                service: "Secrets Manager",
                operation: "GetSecretValue",
                code: "empty secret".to_owned(),
                message: format!("secret {secret_id} has neither SecretString nor SecretBinary"),
            }),
        }
    }

    async fn ssm(
        &self,
        access: &AwsAccess,
        region: Option<&str>,
    ) -> Result<Client<aws_sdk_ssm::Client>, AwsError> {
        let held = self.held(access, access.chain.hops().len()).await?;
        let sdk = self.base_config(access).await;
        let region = match region {
            Some(r) => r.to_owned(),
            None => self.region_of(access, &sdk, "SSM")?,
        };
        let conf = aws_sdk_ssm::config::Builder::from(&sdk)
            .region(Region::new(region.clone()))
            .credentials_provider(held.credentials.clone())
            .identity_cache(IdentityCache::no_cache())
            .build();
        Ok(Client {
            client: aws_sdk_ssm::Client::from_conf(conf),
            held,
            sdk,
            region,
        })
    }
}
