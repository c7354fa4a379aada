//! Fixtures shared by the emulator's integration tests.

use std::time::Duration;

use ferry_emulator::{ClusterConfig, Emulator};

pub const ADMIN: &str = "admin-token-for-tests";
pub const LIMITED: &str = "limited-token-for-tests";

/// One cluster with an admin and a `limited` user in group `dev` (as the transcripts expect).
pub async fn emulator() -> Emulator {
    let mut config = ClusterConfig::new("test", ADMIN).user("limited", &["dev"], LIMITED);
    config.http_port = Some(0);
    config.workload_ready_delay = Duration::from_millis(100);
    config.controller_delay = Duration::from_millis(400);
    Emulator::start(vec![config])
        .await
        .expect("emulator starts")
}

/// Path of a file under this crate's `tests/`.
pub fn test_file(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(rel)
}
