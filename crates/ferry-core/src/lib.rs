//! Ferry's vocabulary: the types every layer shares. No IO, no tokio, no network.
//!
//! For now this is the redacting wrapper for credentials; the domain types of the application
//! controller (`ResourceKey`, `Revision`, sync and health status) arrive with it.

pub mod sensitive;

pub use sensitive::Sensitive;
