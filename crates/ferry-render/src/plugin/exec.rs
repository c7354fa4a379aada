//! Running one plugin command: its own process group, a clean environment, no stdin, stdout
//! read up to a limit, the tail of stderr kept, and a deadline after which the whole group
//! is killed (as the CMP server's `runCommand` kills `-pid` with `SIGKILL` when its context
//! ends).
//!
//! Stdout is never held in memory while the command runs: it is read in 64 KiB chunks,
//! counted, and spooled to an unlinked file in the scratch directory (the plugin cannot
//! reach it by name). The moment the count passes [`PluginLimits::max_output_bytes`] the
//! group is killed and the command fails, so a command with endless output costs one chunk
//! of memory and at most the limit of disk, and only a command that ends within the limit has
//! its output read back, into a buffer of exactly its size.
//!
//! Four threads serve one command: stdout, stderr, and a waiter that reports when the
//! process has exited without reaping it (`waitid` with `WNOWAIT`), so the process group ID
//! cannot be reused while this code may still signal it. The group is killed after a
//! successful exit too, so that nothing the plugin left running keeps writing into its
//! scratch directory. A process that leaves the group (`setsid`) and keeps stdout open makes
//! the command time out; its reader thread then lingers until that process closes the pipe.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::Path;
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, WaitId, WaitIdOptions};

use super::{ExitKind, PluginCommand, PluginCommandKind, PluginError, PluginLimits};

/// How long to wait for the rest of stderr once the command was killed.
const KILLED_GRACE: Duration = Duration::from_millis(500);

/// How much of stdout is read at a time.
const CHUNK: usize = 64 * 1024;

static NEXT_SPOOL: AtomicU64 = AtomicU64::new(0);

enum Event {
    Exited,
    StdoutOverflow,
    /// The spool file holding all of stdout, and how many bytes that is.
    Stdout(io::Result<(File, u64)>),
    /// The tail of stderr, and whether anything before it was dropped.
    Stderr(Vec<u8>, bool),
}

/// What one command is run with.
pub(crate) struct Invocation<'a> {
    pub plugin: &'a str,
    pub kind: PluginCommandKind,
    pub command: &'a PluginCommand,
    pub cwd: &'a Path,
    pub env: &'a [(String, OsString)],
    pub limits: &'a PluginLimits,
    /// Where stdout is spooled (the scratch directory, outside the plugin's working copy).
    pub spool_dir: &'a Path,
}

/// Runs the command and returns its stdout, or why it failed.
pub(crate) fn run(inv: &Invocation<'_>) -> Result<Vec<u8>, PluginError> {
    let mut argv = inv.command.argv();
    let spawn_error = |program: &str, source| PluginError::Spawn {
        plugin: inv.plugin.to_string(),
        command: inv.kind,
        program: program.to_string(),
        source,
    };
    let Some(program) = argv.next() else {
        return Err(spawn_error(
            "",
            io::Error::new(io::ErrorKind::InvalidInput, "the command is empty"),
        ));
    };
    let spool = spool_file(inv.spool_dir).map_err(|source| PluginError::Io {
        plugin: inv.plugin.to_string(),
        action: "create the output spool for",
        path: program.to_string(),
        source,
    })?;
    let mut cmd = Command::new(program);
    cmd.args(argv)
        .current_dir(inv.cwd)
        .env_clear()
        .envs(inv.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().map_err(|e| spawn_error(program, e))?;
    let pid = i32::try_from(child.id()).ok().and_then(Pid::from_raw);
    let (tx, rx) = mpsc::channel();
    let started = start_threads(&mut child, pid, &tx, inv.limits, spool);
    drop(tx);
    if let Err(source) = started {
        kill(pid, &mut child);
        let _ = child.wait();
        return Err(PluginError::Io {
            plugin: inv.plugin.to_string(),
            action: "start a thread for",
            path: program.to_string(),
            source,
        });
    }

    let deadline = Instant::now() + inv.limits.timeout;
    let mut exited = false;
    let mut stdout: Option<io::Result<(File, u64)>> = None;
    let mut stderr: Option<(Vec<u8>, bool)> = None;
    let mut timed_out = false;
    let mut overflow = false;
    while !(exited && stdout.is_some() && stderr.is_some()) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Event::Exited) => exited = true,
            Ok(Event::StdoutOverflow) => {
                overflow = true;
                break;
            }
            Ok(Event::Stdout(out)) => stdout = Some(out),
            Ok(Event::Stderr(tail, cut)) => stderr = Some((tail, cut)),
            Err(RecvTimeoutError::Timeout) => {
                timed_out = true;
                break;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    // Whatever happened, nothing of the command's group may outlive it. The leader is not
    // reaped yet, so its group ID still names this group.
    kill(pid, &mut child);
    while !exited {
        match rx.recv() {
            Ok(Event::Exited) | Err(_) => exited = true,
            Ok(Event::Stdout(out)) => stdout = Some(out),
            Ok(Event::Stderr(tail, cut)) => stderr = Some((tail, cut)),
            Ok(Event::StdoutOverflow) => {}
        }
    }
    let status = child.wait();
    if stderr.is_none() {
        let until = Instant::now() + KILLED_GRACE;
        while let Ok(event) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            if let Event::Stderr(tail, cut) = event {
                stderr = Some((tail, cut));
                break;
            }
        }
    }
    let stderr = match &stderr {
        Some((tail, cut)) => tail_text(tail, *cut),
        None => String::new(),
    };
    let plugin = inv.plugin.to_string();
    if overflow {
        return Err(PluginError::OutputTooLarge {
            plugin,
            command: inv.kind,
            limit: inv.limits.max_output_bytes,
        });
    }
    if timed_out {
        return Err(PluginError::Timeout {
            plugin,
            command: inv.kind,
            limit: inv.limits.timeout,
            stderr,
        });
    }
    let status = status.map_err(|source| PluginError::Io {
        plugin: plugin.clone(),
        action: "wait for",
        path: program.to_string(),
        source,
    })?;
    if !status.success() {
        let exit = match (status.code(), status.signal()) {
            (Some(code), _) => ExitKind::Code(code),
            (None, Some(signal)) => ExitKind::Signal(signal),
            (None, None) => ExitKind::Code(-1),
        };
        return Err(PluginError::CommandFailed {
            plugin,
            command: inv.kind,
            exit,
            stderr,
        });
    }
    match stdout.map(|spooled| spooled.and_then(|(file, len)| read_back(file, len))) {
        Some(Ok(out)) => Ok(out),
        Some(Err(source)) => Err(PluginError::Io {
            plugin,
            action: "read the output of",
            path: program.to_string(),
            source,
        }),
        None => Err(PluginError::Io {
            plugin,
            action: "read the output of",
            path: program.to_string(),
            source: io::Error::other("stdout was not collected"),
        }),
    }
}

fn start_threads(
    child: &mut Child,
    pid: Option<Pid>,
    tx: &Sender<Event>,
    limits: &PluginLimits,
    spool: File,
) -> io::Result<()> {
    let missing = || io::Error::other("the child's pipes are missing");
    let stdout = child.stdout.take().ok_or_else(missing)?;
    let stderr = child.stderr.take().ok_or_else(missing)?;
    let max_out = limits.max_output_bytes;
    let max_err = limits.max_stderr_bytes;
    let out_tx = tx.clone();
    thread::Builder::new()
        .name("plugin-stdout".into())
        .spawn(move || read_stdout(stdout, max_out, spool, &out_tx))?;
    let err_tx = tx.clone();
    thread::Builder::new()
        .name("plugin-stderr".into())
        .spawn(move || {
            let (tail, cut) = read_tail(stderr, max_err);
            let _ = err_tx.send(Event::Stderr(tail, cut));
        })?;
    let wait_tx = tx.clone();
    thread::Builder::new()
        .name("plugin-wait".into())
        .spawn(move || {
            if let Some(pid) = pid {
                let options = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT;
                while let Err(rustix::io::Errno::INTR) =
                    rustix::process::waitid(WaitId::Pid(pid), options)
                {}
            }
            let _ = wait_tx.send(Event::Exited);
        })?;
    Ok(())
}

/// A new file in `dir`, already unlinked: only this process holds it.
fn spool_file(dir: &Path) -> io::Result<File> {
    let mut attempt = 0;
    loop {
        let n = NEXT_SPOOL.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("stdout-{n}"));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(file) => {
                fs::remove_file(&path)?;
                return Ok(file);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 16 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Copies stdout into `spool` a chunk at a time, counting; reports an overflow as soon as
/// the count passes `limit` (and stops reading, so the command gets `SIGPIPE` if it is not
/// killed first).
fn read_stdout(mut pipe: ChildStdout, limit: u64, mut spool: File, tx: &Sender<Event>) {
    let mut buf = vec![0u8; CHUNK];
    let mut total: u64 = 0;
    let result = loop {
        match pipe.read(&mut buf) {
            Ok(0) => break Ok((spool, total)),
            Ok(n) => {
                total = total.saturating_add(n as u64);
                if total > limit {
                    let _ = tx.send(Event::StdoutOverflow);
                    return;
                }
                if let Err(e) = spool.write_all(&buf[..n]) {
                    break Err(e);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(e),
        }
    };
    let _ = tx.send(Event::Stdout(result));
}

/// The spooled output, in a buffer of exactly its size.
fn read_back(mut file: File, len: u64) -> io::Result<Vec<u8>> {
    let size = usize::try_from(len).map_err(|_| io::Error::other("the output is too large"))?;
    file.seek(SeekFrom::Start(0))?;
    let mut out = Vec::with_capacity(size);
    file.take(len).read_to_end(&mut out)?;
    if out.len() != size {
        return Err(io::Error::other("the spooled output changed size"));
    }
    Ok(out)
}

/// Everything from `pipe`, keeping only the last `cap` bytes; `true` when some were dropped.
fn read_tail(mut pipe: ChildStderr, cap: usize) -> (Vec<u8>, bool) {
    let mut tail = Vec::new();
    let mut cut = false;
    let mut buf = [0u8; 8192];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > cap.saturating_mul(2).max(buf.len()) {
                    tail.drain(..tail.len() - cap);
                    cut = true;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    if tail.len() > cap {
        tail.drain(..tail.len() - cap);
        cut = true;
    }
    (tail, cut)
}

/// The stderr tail as text for a message: trimmed, marked when cut.
fn tail_text(tail: &[u8], cut: bool) -> String {
    let text = String::from_utf8_lossy(tail);
    let text = text.trim();
    if cut {
        // The first characters may be cut mid-line or mid-character.
        let start = text.find('\n').map(|i| i + 1).unwrap_or(0);
        format!("...{}", text[start..].trim_start())
    } else {
        text.to_string()
    }
}

/// Kills the command's process group and the command itself (should it have left the group).
fn kill(pid: Option<Pid>, child: &mut Child) {
    if let Some(pid) = pid {
        let _ = rustix::process::kill_process_group(pid, Signal::KILL);
    }
    let _ = child.kill();
}
