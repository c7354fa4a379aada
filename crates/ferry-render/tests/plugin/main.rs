//! Config management plugins run for real: `sh` scripts in `plugin.yaml` files written into
//! temporary directories, rendering checkouts made in temporary directories.

mod caching;
mod environment;
mod helmfile;
mod output;
mod running;
mod selection;
mod support;
mod symlinks;
