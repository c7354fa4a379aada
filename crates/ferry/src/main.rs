//! The `ferry` binary. All wiring lives in [`cli`]; this file only starts it.

mod admin_cmd;
mod app_cmd;
mod appset_cmd;
mod bench;
mod cli;
mod cluster_cmd;
mod controller_cmd;
mod diff_cmd;
mod emulator_cmd;
mod login_cmd;
mod mgmt;
mod output;
mod quickstart;
mod quickstart_screen;
mod remote;
mod server_cmd;
mod sso;

/// mimalloc instead of glibc's malloc: glibc gives each of the runtime's threads an arena of
/// its own and keeps what was freed in it, so resident memory after a burst of work (a
/// thousand renders on the blocking pool) moved by ±15 MiB from run to run; mimalloc returns
/// freed pages.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
