//! What `ferry quickstart` shows: a short screen of what runs where, the applications as a
//! table that updates in place on a terminal (printed once, when it is settled, elsewhere),
//! and the hints last. Colour only on a terminal and without `NO_COLOR`. Pure rendering,
//! apart from [`Screen::show`], which writes to standard output.

use std::io::Write as _;
use std::path::Path;

use serde_json::Value;

/// One application as the table shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRow {
    pub name: String,
    pub cluster: String,
    pub sync: String,
    pub health: String,
    pub revision: String,
    /// The last operation's message (or what the running one does).
    pub last_sync: String,
    /// The operation's phase (`Running`, `Succeeded`, ...; `-` before the first).
    pub operation: String,
}

impl AppRow {
    /// Reads an Application as the API returns it; absent fields show as `-`.
    pub fn from_application(app: &Value) -> AppRow {
        let text = |pointer: &str| {
            app.pointer(pointer)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or("-")
                .to_owned()
        };
        let revision = text("/status/sync/revision");
        AppRow {
            name: text("/metadata/name"),
            cluster: app
                .pointer("/spec/destination/name")
                .or_else(|| app.pointer("/spec/destination/server"))
                .and_then(Value::as_str)
                .unwrap_or("-")
                .to_owned(),
            sync: text("/status/sync/status"),
            health: text("/status/health/status"),
            revision: revision.get(..7).unwrap_or(&revision).to_owned(),
            last_sync: text("/status/operationState/message"),
            operation: text("/status/operationState/phase"),
        }
    }

    /// Synced and Healthy, with no operation still running.
    pub fn settled(&self) -> bool {
        self.sync == "Synced" && self.health == "Healthy" && self.operation != "Running"
    }
}

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

fn status_colour(status: &str) -> Option<&'static str> {
    match status {
        "Synced" | "Healthy" => Some(GREEN),
        "OutOfSync" | "Progressing" | "Suspended" | "-" => Some(YELLOW),
        "Degraded" | "Missing" | "Unknown" => Some(RED),
        _ => None,
    }
}

/// The applications' table: a header and a row each, columns padded to their widths
/// (padding counted without colour codes), no trailing blanks.
pub fn table(rows: &[AppRow], colour: bool) -> Vec<String> {
    let header = [
        "APPLICATION",
        "CLUSTER",
        "SYNC",
        "HEALTH",
        "REVISION",
        "LAST SYNC",
    ];
    let cells: Vec<[&str; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.name.as_str(),
                &r.cluster,
                &r.sync,
                &r.health,
                &r.revision,
                &r.last_sync,
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[&str], header_line: bool| {
        let mut out = String::from("  ");
        for (i, cell) in cells.iter().enumerate() {
            let last = i + 1 == cells.len();
            let pad = if last {
                0
            } else {
                widths[i] - cell.chars().count() + 2
            };
            let paint = match (colour, header_line, i) {
                (false, ..) => None,
                (true, true, _) => Some(BOLD),
                (true, false, 2 | 3) => status_colour(cell),
                _ => None,
            };
            match paint {
                Some(code) => out.push_str(&format!("{code}{cell}{RESET}")),
                None => out.push_str(cell),
            }
            out.push_str(&" ".repeat(pad));
        }
        out.trim_end().to_owned()
    };
    let mut out = vec![line(&header, true)];
    out.extend(cells.iter().map(|c| line(c, false)));
    out
}

/// Writes to standard output; on a terminal, redraws the table in place.
#[derive(Debug)]
pub struct Screen {
    pub colour: bool,
    /// A terminal: the table is redrawn as it changes.
    pub live: bool,
    drawn: usize,
    last: Vec<AppRow>,
}

impl Screen {
    pub fn new(live: bool, colour: bool) -> Screen {
        Screen {
            colour,
            live,
            drawn: 0,
            last: Vec::new(),
        }
    }

    /// A heading, bold on a colour terminal.
    pub fn heading(&self, text: &str) -> String {
        if self.colour {
            format!("{BOLD}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    /// Shows the rows: on a terminal in place of the table drawn before, when they changed;
    /// elsewhere (a pipe, a file) only the settled table, when `settled`.
    pub fn show(&mut self, rows: &[AppRow], settled: bool) {
        let lines = table(rows, self.colour);
        let mut out = std::io::stdout().lock();
        if !self.live {
            if settled {
                for l in &lines {
                    let _ = writeln!(out, "{l}");
                }
            }
            return;
        }
        if self.drawn > 0 && rows == self.last.as_slice() {
            return;
        }
        if self.drawn > 0 {
            // Up to the first line of the table drawn before, clearing as we go down.
            let _ = write!(out, "\x1b[{}A", self.drawn);
        }
        for l in &lines {
            let _ = writeln!(out, "\x1b[2K{l}");
        }
        for _ in lines.len()..self.drawn {
            let _ = writeln!(out, "\x1b[2K");
        }
        let _ = out.flush();
        self.drawn = lines.len().max(self.drawn);
        self.last = rows.to_vec();
    }
}

/// A path or word as a shell reads it: quoted only when it has to be.
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:@,%".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// How to run `ferry` as the hints print it: nothing when the `ferry` on the `PATH` is
/// this binary, else how to put it there (or this binary's path).
pub fn path_note(this_exe: Option<&Path>, path_var: Option<&std::ffi::OsStr>) -> Option<String> {
    let this = this_exe.and_then(|p| std::fs::canonicalize(p).ok());
    let on_path = path_var.and_then(|paths| {
        std::env::split_paths(paths)
            .map(|d| d.join("ferry"))
            .find(|p| p.is_file())
    });
    match (on_path, &this) {
        (Some(found), Some(this)) if std::fs::canonicalize(&found).ok().as_ref() == Some(this) => {
            None
        }
        (Some(found), _) => Some(format!(
            "(`ferry` on your PATH is {}, another build; `cargo install --path crates/ferry` \
             puts this one there)",
            found.display()
        )),
        (None, this) => Some(format!(
            "(`ferry` is not on your PATH: `cargo install --path crates/ferry` puts it there{})",
            this.as_ref()
                .map(|p| format!(", or run {}", shell_word(&p.to_string_lossy())))
                .unwrap_or_default()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(name: &str, sync: &str, health: &str) -> AppRow {
        AppRow {
            name: name.into(),
            cluster: "prod-blue".into(),
            sync: sync.into(),
            health: health.into(),
            revision: "abc1234".into(),
            last_sync: "-".into(),
            operation: "Succeeded".into(),
        }
    }

    #[test]
    fn an_application_is_read_with_dashes_for_what_it_lacks() {
        let app = json!({"metadata": {"name": "guestbook-prod-blue"},
            "spec": {"destination": {"name": "prod-blue"}},
            "status": {"sync": {"status": "Synced", "revision": "0123456789abcdef"},
                "health": {"status": "Healthy"},
                "operationState": {"phase": "Succeeded",
                    "message": "successfully synced 4 resources, pruned 0"}}});
        let mut r = AppRow::from_application(&app);
        assert_eq!(r.revision, "0123456");
        assert!(r.settled());
        r.operation = "Running".into();
        assert!(!r.settled(), "an operation still running is not settled");
        let bare = AppRow::from_application(&json!({"metadata": {"name": "x"}, "spec": {}}));
        assert_eq!(
            (
                bare.cluster.as_str(),
                bare.sync.as_str(),
                bare.last_sync.as_str()
            ),
            ("-", "-", "-")
        );
        assert!(!bare.settled());
    }

    #[test]
    fn the_table_pads_by_visible_width_with_or_without_colour() {
        let rows = [
            row("guestbook-prod-blue", "Synced", "Healthy"),
            row("b", "OutOfSync", "Missing"),
        ];
        let plain = table(&rows, false);
        assert_eq!(
            plain,
            [
                "  APPLICATION          CLUSTER    SYNC       HEALTH   REVISION  LAST SYNC",
                "  guestbook-prod-blue  prod-blue  Synced     Healthy  abc1234   -",
                "  b                    prod-blue  OutOfSync  Missing  abc1234   -",
            ]
        );
        let coloured = table(&rows, true);
        assert!(
            coloured[1].contains("\x1b[32mSynced\x1b[0m"),
            "{coloured:?}"
        );
        assert!(
            coloured[2].contains("\x1b[31mMissing\x1b[0m"),
            "{coloured:?}"
        );
        let strip = |s: &str| {
            let mut out = String::new();
            let mut esc = false;
            for c in s.chars() {
                match (esc, c) {
                    (false, '\x1b') => esc = true,
                    (true, 'm') => esc = false,
                    (true, _) => {}
                    (false, c) => out.push(c),
                }
            }
            out
        };
        let stripped: Vec<String> = coloured.iter().map(|l| strip(l)).collect();
        assert_eq!(stripped, plain);
    }

    #[test]
    fn words_are_quoted_only_when_a_shell_needs_it() {
        assert_eq!(
            shell_word("ferry-quickstart.kubeconfig"),
            "ferry-quickstart.kubeconfig"
        );
        assert_eq!(shell_word("/tmp/a b/k"), "'/tmp/a b/k'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }

    #[test]
    fn the_path_note_says_how_to_get_ferry_on_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let exe = dir.path().join("ferry");
        std::fs::write(&exe, "").expect("write");
        let other = tempfile::tempdir().expect("tempdir");
        assert_eq!(path_note(Some(&exe), Some(dir.path().as_os_str())), None);
        let note = path_note(Some(&exe), Some(other.path().as_os_str())).expect("a note");
        assert!(note.contains("cargo install --path crates/ferry"), "{note}");
        assert!(note.contains(&exe.to_string_lossy().into_owned()), "{note}");
    }
}
