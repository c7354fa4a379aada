//! Proof of fidelity: every request recorded from a real Kubernetes 1.24 API server
//! (`tests/k8s-transcripts/`, see its README) is replayed against the emulator and the answers
//! are compared by the project's scorer (`tests/replay-transcripts.py`, standard-library
//! Python), which matches the real server on every step.
//!
//! No difference is accepted: the scorer must report every step as passed.

use crate::support::{ADMIN, LIMITED, emulator, test_file};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_recorded_step_matches_a_real_api_server() {
    let emu = emulator().await;
    let cluster = emu.cluster("test").expect("cluster");
    let url = cluster.http_url().expect("plain HTTP for the scorer");
    let script = test_file("replay-transcripts.py");
    let dir = test_file("k8s-transcripts");
    let out = tokio::process::Command::new("python3")
        .arg(&script)
        .args([url.as_str(), ADMIN, LIMITED])
        .arg(&dir)
        .output()
        .await
        .expect("python3 runs the scorer");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(stderr.trim().is_empty(), "scorer crashed:\n{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.ends_with(" 0 failed"),
        "the emulator differs from the recorded server:\n{stdout}"
    );
    assert!(out.status.success(), "scorer exit status {:?}", out.status);
}
