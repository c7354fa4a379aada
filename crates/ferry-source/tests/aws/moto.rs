//! moto's server for these tests: the emulator crate's launcher, with the patch that lets
//! moto answer a presigned `GetCallerIdentity` (see `ferry_emulator::moto`).

use std::sync::OnceLock;

pub use ferry_emulator::moto::Moto;
use ferry_emulator::moto::MotoOptions;

/// A server of its own (killed on drop).
pub fn start() -> Moto {
    Moto::start(&MotoOptions {
        presigned_sts: true,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The server every test shares (distinct names per test keep them apart).
pub fn shared() -> &'static Moto {
    static SHARED: OnceLock<Moto> = OnceLock::new();
    SHARED.get_or_init(start)
}
