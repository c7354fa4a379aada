//! ferry-aws against moto's server on loopback (`python3 -m pip install 'moto[server]'`):
//! role chains across three accounts, the credential cache, EKS tokens and `DescribeCluster`,
//! SSM and Secrets Manager references, and errors in words.

mod support;

mod chains;
mod clusters;
mod errors;
mod secrets;
mod tokens;
