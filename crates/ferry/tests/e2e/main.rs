//! End to end: a Git repository served over the git protocol, emulated clusters, and the real
//! `ferry controller` binary. Each test reads as Given / When / Then.

mod appsets;
mod aws;
mod aws_secrets;
mod delivery;
mod operations;
mod safety;
mod sources;
mod world;
