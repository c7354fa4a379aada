//! The `ferry` binary. All wiring lives in [`cli`]; this file only starts it.

mod cli;
mod emulator_cmd;

fn main() -> std::process::ExitCode {
    cli::main()
}
