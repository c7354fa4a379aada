//! Secrets from SSM Parameter Store and Secrets Manager: the `vals`-style references a
//! rendered manifest (or a helmfile values file) holds (`reference`, pure), the AWS calls
//! behind them (`fetch`), and a resolver that reads the references of one render with one
//! `GetParameters` batch per account and region (`resolver`).

mod fetch;
mod reference;
mod resolver;

pub use fetch::{GET_PARAMETERS_BATCH, Parameters};
pub use reference::{RefError, SecretRef, SecretSource, is_aws_reference, parse_reference};
pub use resolver::{ResolveError, SecretResolver};
