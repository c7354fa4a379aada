//! The base configuration: one `SdkConfig` per shared-config profile, loaded once with the
//! AWS SDK's standard chain (`aws_config::defaults(BehaviorVersion::latest())`): credentials
//! from the environment, shared config and credentials files, web identity
//! (`AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`, or a profile's `web_identity_token_file`),
//! EKS Pod Identity and instance metadata; region and endpoints from `AWS_REGION`,
//! `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>` and the profile, as any AWS SDK reads them.
//!
//! Every client shares one HTTPS client: the SDK's hyper 1 + rustls client on `ring`, the
//! workspace's TLS provider (see the root `Cargo.toml` for why not aws-lc).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_types::SdkConfig;
use aws_types::region::Region;
use aws_types::service_config::ServiceConfigKey;
use tokio::sync::OnceCell;

use crate::options::AwsOptions;

pub(crate) struct BaseConfigs {
    options: AwsOptions,
    http: SharedHttpClient,
    loaded: Mutex<HashMap<Option<String>, Arc<OnceCell<SdkConfig>>>>,
}

impl BaseConfigs {
    pub fn new(options: AwsOptions) -> Self {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        Self {
            options,
            http,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    pub fn options(&self) -> &AwsOptions {
        &self.options
    }

    /// The configuration of `profile` (`None`: the standard chain's own choice).
    pub async fn get(&self, profile: Option<&str>) -> SdkConfig {
        let cell = {
            let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
            loaded
                .entry(profile.map(str::to_owned))
                .or_default()
                .clone()
        };
        cell.get_or_init(|| self.load(profile)).await.clone()
    }

    async fn load(&self, profile: Option<&str>) -> SdkConfig {
        let o = &self.options;
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(self.http.clone())
            .retry_config(RetryConfig::standard().with_max_attempts(o.max_attempts.max(1)))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(o.connect_timeout)
                    .operation_timeout(o.operation_timeout)
                    .build(),
            );
        if let Some(profile) = profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &o.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &o.endpoint_url {
            loader = loader.endpoint_url(url.clone());
        }
        if let Some(files) = &o.shared_config {
            let mut b = EnvConfigFiles::builder()
                .include_default_config_file(false)
                .include_default_credentials_file(false)
                .with_file(EnvConfigFileKind::Config, &files.config);
            if let Some(credentials) = &files.credentials {
                b = b.with_file(EnvConfigFileKind::Credentials, credentials);
            }
            loader = loader.profile_files(b.build());
        }
        loader.load().await
    }
}

/// The endpoint a client of `service_id` built from `sdk` calls, when one is configured
/// (`AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`, a profile's `endpoint_url`, or
/// [`AwsOptions::endpoint_url`]) — the precedence of the generated `From<&SdkConfig>` of every
/// `aws-sdk-*` crate. `None`: the service's regional endpoint.
pub(crate) fn configured_endpoint(sdk: &SdkConfig, service_id: &str) -> Option<String> {
    if sdk.get_origin("endpoint_url").is_client_config() {
        return sdk.endpoint_url().map(str::to_owned);
    }
    let key = ServiceConfigKey::builder()
        .service_id(service_id)
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .ok();
    key.and_then(|key| sdk.service_config().and_then(|c| c.load_config(key)))
        .or_else(|| sdk.endpoint_url().map(str::to_owned))
}

/// An endpoint in words, for errors: the configured URL, or the regional default.
pub(crate) fn endpoint_label(sdk: &SdkConfig, service_id: &str, region: &str) -> String {
    configured_endpoint(sdk, service_id).unwrap_or_else(|| {
        format!(
            "the regional {} endpoint of {region}",
            service_id.to_ascii_lowercase()
        )
    })
}
