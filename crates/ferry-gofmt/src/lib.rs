//! How Go prints the JSON values that end up in Kubernetes API server error messages, so
//! that the emulator's engines answer in the server's words (pure: no IO).
//!
//! The API server decodes JSON two ways, and prints what it decoded:
//! - [`decoded`]: as its request decoding does (integers that fit in an `int64` are
//!   `int64`, other numbers `float64`): `%v` of numbers, `%q` of strings, `%#v` of maps and
//!   slices (`map[string]interface {}{...}`) — the words of schema validation.
//! - [`float64`]: as `encoding/json` into `interface{}` does (every number a `float64`):
//!   `%v` of any value (`map[k:v]`, `[a b]`, `<nil>`), Go's type names and JSON kinds, and
//!   `encoding/json`'s syntax errors — the words of patches.

#![forbid(unsafe_code)]

pub mod decoded;
pub mod float64;
