//! Integration tests of the emulator: one binary, one module per concern.

mod support;

mod behaviour;
mod clients;
mod transcripts;
