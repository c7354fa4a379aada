//! The `ferry` binary. All wiring lives in [`cli`]; this file only starts it.

mod app_cmd;
mod appset_cmd;
mod bench;
mod cli;
mod controller_cmd;
mod diff_cmd;
mod emulator_cmd;
mod mgmt;
mod quickstart;

fn main() -> std::process::ExitCode {
    cli::main()
}
