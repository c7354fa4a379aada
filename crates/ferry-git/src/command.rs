//! Running the git CLI: a clean environment (no user or system gitconfig, a private `HOME`,
//! no terminal prompts, English messages), credentials passed only through the environment
//! (`GIT_ASKPASS` reading `FERRY_GIT_USERNAME`/`FERRY_GIT_PASSWORD`, or `GIT_SSH_COMMAND`
//! with a 0600 key file), a timeout that kills git's whole process group, and git's stderr
//! scrubbed of those credentials before anything sees it.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::credentials::Credentials;
use crate::error::{GitError, classify, scrub};
use crate::repourl::RepoUrl;

/// The `GIT_ASKPASS` helper: answers git's prompts from the environment, so a password is
/// never in argv, in a URL, or in a file.
pub(crate) const ASKPASS_SCRIPT: &str = r#"#!/bin/sh
# Ferry's GIT_ASKPASS helper: answers git's username and password prompts from the
# environment of the git process that runs it.
case "$1" in
  [Uu]sername*) printf '%s\n' "${FERRY_GIT_USERNAME:-}" ;;
  *) printf '%s\n' "${FERRY_GIT_PASSWORD:-}" ;;
esac
"#;

/// What git needs to talk to one remote.
pub(crate) struct Remote<'a> {
    pub url: &'a RepoUrl,
    pub credentials: Option<&'a Credentials>,
    pub insecure_skip_tls_verify: bool,
}

/// A finished git command. `stderr` is already scrubbed.
pub(crate) struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs git for one cache root.
pub(crate) struct GitRunner {
    pub binary: PathBuf,
    pub timeout: Duration,
    pub home: PathBuf,
    pub tmp: PathBuf,
    /// The cache root: git never looks for a repository above it.
    pub ceiling: PathBuf,
    pub askpass: PathBuf,
    pub known_hosts: PathBuf,
    pub allow_file: bool,
    /// Variables copied from Ferry's environment (PATH, proxies, CA bundle locations).
    pub passthrough: Vec<(String, OsString)>,
}

// === impl GitRunner ===

impl GitRunner {
    /// Runs a command that talks to `remote`, mapping a failure to its [`GitError`] class.
    pub async fn remote(
        &self,
        command: &'static str,
        git_dir: Option<&Path>,
        args: &[&OsStr],
        remote: &Remote<'_>,
    ) -> Result<Output, GitError> {
        let out = self
            .run(command, git_dir, args, &[], Some(remote), remote.url)
            .await?;
        if out.success {
            Ok(out)
        } else {
            Err(classify(&remote.url.redacted, command, out.stderr))
        }
    }

    /// Runs a local command on the cache; the caller reads `success`.
    pub async fn local(
        &self,
        command: &'static str,
        git_dir: Option<&Path>,
        args: &[&OsStr],
        env: &[(&str, &OsStr)],
        url: &RepoUrl,
    ) -> Result<Output, GitError> {
        self.run(command, git_dir, args, env, None, url).await
    }

    async fn run(
        &self,
        command: &'static str,
        git_dir: Option<&Path>,
        args: &[&OsStr],
        env: &[(&str, &OsStr)],
        remote: Option<&Remote<'_>>,
        url: &RepoUrl,
    ) -> Result<Output, GitError> {
        let mut cmd = tokio::process::Command::new(&self.binary);
        cmd.env_clear();
        for (k, v) in &self.passthrough {
            cmd.env(k, v);
        }
        let protocols = if self.allow_file {
            "https:http:git:ssh:file"
        } else {
            "https:http:git:ssh"
        };
        cmd.env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GCM_INTERACTIVE", "never")
            .env("GIT_ALLOW_PROTOCOL", protocols)
            .env("GIT_NO_REPLACE_OBJECTS", "1")
            .env("LC_ALL", "C")
            .env("LANG", "C")
            .env("TMPDIR", &self.tmp)
            .env("GIT_CEILING_DIRECTORIES", &self.ceiling)
            .env("GIT_ASKPASS", &self.askpass);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut secrets: Vec<String> = url.url_password.iter().cloned().collect();
        let mut _key_file = None;
        if let Some(remote) = remote {
            if remote.insecure_skip_tls_verify {
                cmd.env("GIT_SSL_NO_VERIFY", "true");
            }
            let (key, insecure_host) = match remote.credentials {
                Some(Credentials::Https { username, password }) => {
                    cmd.env("FERRY_GIT_USERNAME", username)
                        .env("FERRY_GIT_PASSWORD", password.expose());
                    secrets.push(password.expose().clone());
                    (None, false)
                }
                Some(Credentials::Ssh {
                    private_key,
                    insecure_ignore_host_key,
                }) => (Some(private_key), *insecure_ignore_host_key),
                None => {
                    if let Some(pw) = &url.url_password {
                        cmd.env("FERRY_GIT_PASSWORD", pw);
                    }
                    (None, false)
                }
            };
            if let Some(key) = key {
                let file = KeyFile::write(&self.tmp, key.expose()).await?;
                cmd.env(
                    "GIT_SSH_COMMAND",
                    ssh_command(Some(&file.0), &self.known_hosts, insecure_host),
                );
                _key_file = Some(file);
            } else {
                cmd.env(
                    "GIT_SSH_COMMAND",
                    ssh_command(None, &self.known_hosts, false),
                );
            }
        }
        if let Some(dir) = git_dir {
            cmd.arg("--git-dir").arg(dir);
        }
        cmd.args(args)
            .current_dir(&self.tmp)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        let child = cmd.spawn().map_err(|source| GitError::Spawn {
            binary: self.binary.clone(),
            source,
        })?;
        let pid = child.id();
        let finished = tokio::time::timeout(self.timeout, child.wait_with_output()).await;
        let output = match finished {
            Ok(Ok(output)) => output,
            Ok(Err(source)) => return Err(GitError::io("wait for git in", &self.tmp, source)),
            Err(_) => {
                kill_group(pid);
                return Err(GitError::Timeout {
                    repo: url.redacted.clone(),
                    command,
                    after: self.timeout,
                });
            }
        };
        let secret_refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        Ok(Output {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: scrub(&String::from_utf8_lossy(&output.stderr), &secret_refs),
        })
    }
}

/// Kills git and everything it started (remote helpers, ssh): git leads its own group.
fn kill_group(pid: Option<u32>) {
    let Some(pid) = pid
        .and_then(|p| i32::try_from(p).ok())
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    if let Err(e) = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL) {
        tracing::debug!(error = %e, "killing a timed-out git process group");
    }
}

/// `GIT_SSH_COMMAND`: no ssh config files, no prompts, only the given key, and host keys
/// either trusted on first use and remembered in `known_hosts`, or (insecure) not checked.
pub(crate) fn ssh_command(key_file: Option<&Path>, known_hosts: &Path, insecure: bool) -> String {
    let mut cmd = String::from("ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes");
    if let Some(key) = key_file {
        cmd.push_str(" -i ");
        cmd.push_str(&shell_quote(&key.to_string_lossy()));
    }
    if insecure {
        cmd.push_str(" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null");
    } else {
        cmd.push_str(" -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=");
        cmd.push_str(&shell_quote(&known_hosts.to_string_lossy()));
    }
    cmd
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A private key written for one command: mode 0600 from creation, removed on drop.
struct KeyFile(PathBuf);

impl KeyFile {
    async fn write(dir: &Path, key: &str) -> Result<Self, GitError> {
        let path = dir.join(format!("ssh-key-{}", uuid::Uuid::new_v4()));
        let mut contents = key.replace("\r\n", "\n");
        if !contents.ends_with('\n') {
            contents.push('\n');
        }
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .await
            .map_err(|e| GitError::io("create the ssh key file", &path, e))?;
        let guard = KeyFile(path);
        file.write_all(contents.as_bytes())
            .await
            .map_err(|e| GitError::io("write the ssh key file", &guard.0, e))?;
        file.flush()
            .await
            .map_err(|e| GitError::io("write the ssh key file", &guard.0, e))?;
        Ok(guard)
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_command_pins_the_key_and_trusts_on_first_use() {
        let cmd = ssh_command(
            Some(Path::new("/var/ferry/tmp/ssh-key-1")),
            Path::new("/var/ferry/home/.ssh/known_hosts"),
            false,
        );
        assert_eq!(
            cmd,
            "ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -i '/var/ferry/tmp/ssh-key-1' \
             -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile='/var/ferry/home/.ssh/known_hosts'"
        );
    }

    #[test]
    fn ssh_command_insecure_skips_host_keys() {
        let cmd = ssh_command(Some(Path::new("/k")), Path::new("/kh"), true);
        assert!(cmd.contains("-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"));
        assert!(!cmd.contains("accept-new"));
    }

    #[test]
    fn ssh_command_quotes_paths() {
        let cmd = ssh_command(Some(Path::new("/a b/it's")), Path::new("/kh"), false);
        assert!(cmd.contains(r"-i '/a b/it'\''s'"), "{cmd}");
    }

    #[tokio::test]
    async fn key_file_is_private_newline_terminated_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let Ok(dir) = dir else { panic!("tempdir") };
        let file = KeyFile::write(
            dir.path(),
            "-----BEGIN KEY-----\r\nabc\r\n-----END KEY-----",
        )
        .await;
        let Ok(file) = file else { panic!("write key") };
        let path = file.0.clone();
        let meta = std::fs::metadata(&path)
            .map(|m| m.permissions().mode() & 0o777)
            .ok();
        assert_eq!(meta, Some(0o600));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(text, "-----BEGIN KEY-----\nabc\n-----END KEY-----\n");
        drop(file);
        assert!(!path.exists());
    }
}
