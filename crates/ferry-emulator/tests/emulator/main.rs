//! Integration tests of the emulator: one binary, one module per concern.

mod aws;
mod support;

mod behaviour;
mod clients;
mod eks;
mod tables;
mod transcripts;
