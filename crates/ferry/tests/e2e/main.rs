//! End to end: a Git repository served over the git protocol, emulated clusters, and the real
//! `ferry controller` binary. Each test reads as Given / When / Then.

mod appsets;
mod aws;
mod aws_faults;
mod aws_secrets;
mod browser;
mod coownership;
mod delivery;
mod github;
mod http;
mod idp;
mod operations;
mod projects;
mod remote_cli;
mod safety;
mod signin;
mod sources;
mod ui;
mod world;
