//! Which applications a push concerns: Argo CD's `GetWebURLRegex` + `sourceRevisionHasChanged`.
//!
//! Argo CD builds, for each repository URL in the payload, the regular expression
//! `(?i)^((https?|ssh)://)?(<user>@)?((alt)?ssh\.)?<host>(:\d+)?[:/]<path>(\.git)?$` from the
//! payload URL's host and path, and refreshes a source whose `repoURL` matches it. Ferry parses
//! both URLs into a host and a path instead and compares those, which accepts everything that
//! regular expression accepts with the same path, and also: any scheme (`git://`,
//! `git+ssh://`), any user name, a trailing `/`, and `.git` on either side. It never matches a
//! different host or path.

use crate::event::{PushEvent, RefKind};

/// Whether an application source (`repoURL`, `targetRevision`) is concerned by `event`: one of
/// the event's repository URLs names the same repository as `repo_url`
/// ([`repo_url_matches`]) and the push moved the revision the source follows
/// ([`revision_matches`]). This is the test Argo CD applies to every source of every
/// application before refreshing it.
pub fn matches(event: &PushEvent, repo_url: &str, target_revision: &str) -> bool {
    event
        .repo_urls
        .iter()
        .any(|url| repo_url_matches(url, repo_url))
        && revision_matches(event, target_revision)
}

/// Whether `target_revision` follows a reference `event` moved, as Argo CD's
/// `sourceRevisionHasChanged`:
///
/// - `HEAD` or empty: the push moved the default branch ([`PushEvent::touches_default_branch`];
///   always true when the payload does not name the default branch, as in Argo CD).
/// - `refs/heads/<b>`: a pushed branch `<b>`; `refs/tags/<t>`: a pushed tag `<t>`. (Argo CD
///   compares only the short names, so a push to branch `x` also refreshes `refs/tags/x`;
///   Ferry knows the kind from the payload and does not.)
/// - any other `refs/…`: a pushed reference of exactly that name.
/// - a plain name: a pushed branch or tag of that name (branch names may contain `/`).
///
/// A commit id as `targetRevision` never matches (neither does it in Argo CD): a pinned
/// commit does not move.
pub fn revision_matches(event: &PushEvent, target_revision: &str) -> bool {
    let target = target_revision.trim();
    if target.is_empty() || target == "HEAD" {
        return event.touches_default_branch();
    }
    event.refs.iter().any(|pushed| {
        if let Some(branch) = target.strip_prefix("refs/heads/") {
            matches!(pushed.kind, RefKind::Branch | RefKind::Unqualified) && pushed.name == branch
        } else if let Some(tag) = target.strip_prefix("refs/tags/") {
            matches!(pushed.kind, RefKind::Tag | RefKind::Unqualified) && pushed.name == tag
        } else if target.starts_with("refs/") {
            pushed.kind == RefKind::Other && pushed.name == target
        } else {
            pushed.kind != RefKind::Other && pushed.name == target
        }
    })
}

/// Whether an application's `app_repo_url` names the repository a payload calls
/// `event_repo_url`: same host and same path, compared case-insensitively, whatever the
/// scheme, user, port, `.git` suffix or trailing `/`, and whether either is written as a URL
/// (`https://host/org/repo`, `ssh://git@host:22/org/repo`) or scp-like (`git@host:org/repo`).
/// As in Argo CD, the application's host may carry an extra `ssh.` or `altssh.` label
/// (`ssh.github.com`, `altssh.gitlab.com`: SSH over port 443).
pub fn repo_url_matches(event_repo_url: &str, app_repo_url: &str) -> bool {
    let (Some(event), Some(app)) = (
        RepoLocation::parse(event_repo_url),
        RepoLocation::parse(app_repo_url),
    ) else {
        return false;
    };
    let same_host = app.host == event.host
        || ["ssh.", "altssh."]
            .iter()
            .any(|label| app.host.strip_prefix(label) == Some(event.host.as_str()));
    same_host && app.path == event.path
}

/// A repository URL reduced to what identifies the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RepoLocation {
    /// Lower-case host name without user, port or brackets.
    pub(crate) host: String,
    /// Lower-case path without leading or trailing `/` and without `.git`.
    pub(crate) path: String,
}

impl RepoLocation {
    /// Parses `scheme://[user@]host[:port]/path`, scp-like `[user@]host:path` (also Argo's
    /// `host:port:path`) and scheme-less `host/path`. `None` when there is no host or no path.
    pub(crate) fn parse(url: &str) -> Option<Self> {
        let url = url.trim().to_ascii_lowercase();
        let (host, path) = match url.split_once("://") {
            Some((scheme, rest)) if is_scheme(scheme) => split_url_authority(rest)?,
            Some(_) => return None,
            None => split_scp_like(&url)?,
        };
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let path = path.trim_matches('/');
        let path = path
            .strip_suffix(".git")
            .unwrap_or(path)
            .trim_end_matches('/');
        if host.is_empty() || path.is_empty() {
            return None;
        }
        Some(Self {
            host: host.to_owned(),
            path: path.to_owned(),
        })
    }
}

fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// `[user@]host[:port][/path]` after `scheme://`. A non-numeric "port" is Argo's
/// `ssh://git@host:org/repo` spelling: the path starts there.
fn split_url_authority(rest: &str) -> Option<(&str, String)> {
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = host_port.strip_prefix('[') {
        let (host, _port) = v6.split_once(']')?;
        return Some((host, path.to_owned()));
    }
    match host_port.split_once(':') {
        Some((host, port)) if port.is_empty() || port.bytes().all(|b| b.is_ascii_digit()) => {
            Some((host, path.to_owned()))
        }
        Some((host, first_segment)) => Some((host, format!("{first_segment}/{path}"))),
        None => Some((host_port, path.to_owned())),
    }
}

/// `[user@]host:path` (a `:` before any `/`) or `host/path`.
fn split_scp_like(url: &str) -> Option<(&str, String)> {
    let colon = url.find(':');
    let slash = url.find('/');
    match (colon, slash) {
        (Some(c), s) if s.is_none_or(|s| c < s) => {
            let (user_host, path) = url.split_at(c);
            let path = &path[1..];
            let host = user_host.rsplit_once('@').map_or(user_host, |(_, h)| h);
            // Argo CD's regular expression also accepts `host:22:org/repo`.
            let path = match path.split_once(':') {
                Some((port, rest))
                    if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    rest
                }
                _ => path,
            };
            Some((host, path.to_owned()))
        }
        (_, Some(s)) => {
            let (user_host, path) = url.split_at(s);
            let host = user_host.rsplit_once('@').map_or(user_host, |(_, h)| h);
            Some((host, path.to_owned()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Provider, PushedRef};

    fn loc(url: &str) -> Option<(String, String)> {
        RepoLocation::parse(url).map(|l| (l.host, l.path))
    }

    fn hp(host: &str, path: &str) -> Option<(String, String)> {
        Some((host.to_owned(), path.to_owned()))
    }

    #[test]
    fn parses_url_forms() {
        assert_eq!(
            loc("https://github.com/Org/Repo"),
            hp("github.com", "org/repo")
        );
        assert_eq!(
            loc("https://github.com/org/repo.git"),
            hp("github.com", "org/repo")
        );
        assert_eq!(
            loc("https://github.com/org/repo/"),
            hp("github.com", "org/repo")
        );
        assert_eq!(
            loc("https://github.com/org/repo.git/"),
            hp("github.com", "org/repo")
        );
        assert_eq!(loc("http://user:pw@host:8080/a/b"), hp("host", "a/b"));
        assert_eq!(
            loc("ssh://git@host:7999/proj/repo.git"),
            hp("host", "proj/repo")
        );
        assert_eq!(loc("ssh://git@host:org/repo.git"), hp("host", "org/repo"));
        assert_eq!(
            loc("git://github.com/org/repo.git"),
            hp("github.com", "org/repo")
        );
        assert_eq!(
            loc("git@github.com:org/repo.git"),
            hp("github.com", "org/repo")
        );
        assert_eq!(loc("github.com:org/repo"), hp("github.com", "org/repo"));
        assert_eq!(
            loc("GIT@EXAMPLE.COM:22:ORG/REPO"),
            hp("example.com", "org/repo")
        );
        assert_eq!(loc("example.com/org/repo"), hp("example.com", "org/repo"));
        assert_eq!(loc("https://[::1]:8443/org/repo"), hp("::1", "org/repo"));
        assert_eq!(loc("https://host/org/repo?x=1#f"), hp("host", "org/repo"));
        assert_eq!(loc("https://host/"), None);
        assert_eq!(loc("https://host"), None);
        assert_eq!(loc("not a url"), None);
        assert_eq!(loc(""), None);
        assert_eq!(loc("%%"), None);
    }

    /// Argo CD's `Test_GetWebURLRegex` cases, with Ferry's answer where it differs.
    #[test]
    fn argo_web_url_cases() {
        let cases: &[(bool, &str, &str)] = &[
            (
                false,
                "https://example.com/org/a..d",
                "https://example.com/org/abcd",
            ),
            (
                false,
                "https://an.example.com/org/repo",
                "https://an-example.com/org/repo",
            ),
            (
                true,
                "https://example.com/org/repo",
                "https://example.com/org/repo",
            ),
            (
                false,
                "https://example.com/org/repo",
                "https://example.com/org/repo-2",
            ),
            (
                true,
                "https://example.com/org/repo",
                "https://example.com/org/repo.git",
            ),
            (
                true,
                "https://example.com/org/repo",
                "git@example.com:org/repo",
            ),
            (
                true,
                "https://example.com/org/repo",
                "user@example.com:org/repo",
            ),
            (
                true,
                "https://example.com/org/repo",
                "ssh://git@example.com/org/repo",
            ),
            (
                true,
                "https://example.com/org/repo",
                "ssh://git@example.com:22/org/repo",
            ),
            (
                true,
                "https://example.com:443/org/repo",
                "ssh://git@example.com:22/org/repo",
            ),
            (
                true,
                "https://example.com:443/org/repo",
                "ssh://git@ssh.example.com:443/org/repo",
            ),
            (
                true,
                "https://example.com:443/org/repo",
                "ssh://git@altssh.example.com:443/org/repo",
            ),
            (
                false,
                "https://example.com:443/org/repo",
                "ssh://git@unknown.example.com:443/org/repo",
            ),
            (
                true,
                "https://example.com/org/repo",
                "ssh://user-name@example.com/org/repo",
            ),
            // Argo refuses a user name starting with '-'; Ferry ignores user names.
            (
                true,
                "https://example.com/org/repo",
                "ssh://-user-name@example.com/org/repo",
            ),
            (
                true,
                "https://example.com:443/org/repo",
                "GIT@EXAMPLE.COM:22:ORG/REPO",
            ),
            (
                true,
                "https://example.com/org/repo%20",
                "https://example.com/org/repo%20",
            ),
            (
                true,
                "https://user@example.com/org/repo",
                "http://example.com/org/repo",
            ),
            (
                true,
                "https://user@example.com/org/repo",
                "https://example.com/org/repo",
            ),
            (
                true,
                "http://example.com/org/repo",
                "https://user@example.com/org/repo",
            ),
            (
                true,
                "https://example.com/org/repo",
                "https://user@example.com/org/repo",
            ),
            (
                true,
                "https://user@example.com/org/repo",
                "ssh://example.com/org/repo",
            ),
        ];
        for (want, event_url, app_url) in cases {
            assert_eq!(
                repo_url_matches(event_url, app_url),
                *want,
                "{event_url} vs {app_url}"
            );
        }
    }

    #[test]
    fn never_matches_another_path_or_host() {
        let event = "https://github.com/org/repo";
        for other in [
            "https://github.com/org/repo2",
            "https://github.com/org/rep",
            "https://github.com/other/org/repo",
            "https://github.com/org/repo/sub",
            "https://github.com/org",
            "https://gitlab.com/org/repo",
            "git@github.com:org/repo2.git",
            "https://github.com.evil.example/org/repo",
            "https://evilgithub.com/org/repo",
            "ssh://git@ssh.other.com/org/repo",
            // scp-like: `22/org/repo` is a path there (git's reading), not a port.
            "git@github.com:22/org/repo",
        ] {
            assert!(!repo_url_matches(event, other), "{other}");
        }
        // The `ssh.` allowance is one-way: the payload names the canonical host.
        assert!(!repo_url_matches(
            "https://ssh.github.com/org/repo",
            "https://github.com/org/repo"
        ));
    }

    #[test]
    fn extra_permissiveness_over_argo() {
        let event = "https://github.com/org/repo";
        for same in [
            "https://github.com/org/repo/",
            "git://github.com/org/repo.git",
            "git+ssh://git@github.com/org/repo.git",
            "HTTPS://GITHUB.COM/ORG/REPO.GIT",
            "  https://github.com/org/repo  ",
        ] {
            assert!(repo_url_matches(event, same), "{same}");
        }
        // A payload clone URL with `.git` matches an application URL without it (Argo would not).
        assert!(repo_url_matches(
            "https://bitbucket.example.com/scm/proj/repo.git",
            "https://bitbucket.example.com/scm/proj/repo"
        ));
    }

    fn event(refs: Vec<PushedRef>, default_branch: Option<&str>) -> PushEvent {
        PushEvent {
            provider: Provider::Generic,
            repo_urls: vec!["https://example.com/org/repo".to_owned()],
            refs,
            default_branch: default_branch.map(str::to_owned),
            changed_files: None,
        }
    }

    /// Argo CD's `TestAppRevisionHasChanged` and `Test_affectedRevisionInfo_appRevisionHasChanged`.
    #[test]
    fn argo_revision_cases() {
        let branch = |name: &str| {
            event(
                vec![PushedRef::from_ref(&format!("refs/heads/{name}"), None)],
                Some("master"),
            )
        };
        assert!(revision_matches(&branch("master"), ""));
        assert!(revision_matches(&branch("master"), "HEAD"));
        assert!(!revision_matches(&branch("dev"), ""));
        assert!(!revision_matches(&branch("master"), "dev"));
        assert!(revision_matches(&branch("dev"), "dev"));
        assert!(!revision_matches(&branch("master"), "refs/heads/dev"));
        assert!(revision_matches(&branch("dev"), "refs/heads/dev"));
        assert!(revision_matches(&branch("env/test"), "env/test"));
        assert!(revision_matches(&branch("env/test"), "refs/heads/env/test"));
        assert!(revision_matches(&branch("has/slashes"), "has/slashes"));
        assert!(revision_matches(&branch("no-slashes"), "no-slashes"));

        // Bitbucket Cloud sends bare names with a type; a branch literally named refs/heads/x
        // does not match `x` or `refs/heads/x`, but does match `refs/heads/refs/heads/x`.
        let bb = |name: &str| event(vec![PushedRef::named(RefKind::Branch, name, None)], None);
        assert!(!revision_matches(&bb("refs/heads/x"), "refs/heads/x"));
        assert!(!revision_matches(&bb("refs/heads/x"), "x"));
        assert!(revision_matches(
            &bb("refs/heads/x"),
            "refs/heads/refs/heads/x"
        ));
        assert!(revision_matches(&bb("x"), "refs/heads/x"));
    }

    #[test]
    fn branch_and_tag_are_told_apart_when_qualified() {
        let tag = event(
            vec![PushedRef::from_ref("refs/tags/v1", Some("abc"))],
            Some("main"),
        );
        assert!(revision_matches(&tag, "v1"));
        assert!(revision_matches(&tag, "refs/tags/v1"));
        assert!(!revision_matches(&tag, "refs/heads/v1"));
        assert!(
            !revision_matches(&tag, "HEAD"),
            "a tag push does not move the default branch"
        );

        let branch = event(
            vec![PushedRef::from_ref("refs/heads/v1", Some("abc"))],
            Some("main"),
        );
        assert!(revision_matches(&branch, "v1"));
        assert!(revision_matches(&branch, "refs/heads/v1"));
        assert!(!revision_matches(&branch, "refs/tags/v1"));

        // The generic endpoint's bare names match either form.
        let bare = event(vec![PushedRef::from_ref("v1", None)], None);
        assert!(revision_matches(&bare, "refs/heads/v1"));
        assert!(revision_matches(&bare, "refs/tags/v1"));
        assert!(revision_matches(&bare, "v1"));
    }

    #[test]
    fn head_follows_the_default_branch() {
        let main = event(
            vec![PushedRef::from_ref("refs/heads/main", None)],
            Some("main"),
        );
        assert!(revision_matches(&main, "HEAD"));
        assert!(revision_matches(&main, ""));
        assert!(revision_matches(&main, " HEAD "));
        let feature = event(
            vec![PushedRef::from_ref("refs/heads/feature", None)],
            Some("main"),
        );
        assert!(!revision_matches(&feature, "HEAD"));
        // A tag named like the default branch is not the default branch.
        let tag_main = event(
            vec![PushedRef::from_ref("refs/tags/main", None)],
            Some("main"),
        );
        assert!(!revision_matches(&tag_main, "HEAD"));
        // Unknown default branch: any push, as Argo CD's touchedHead = true for Bitbucket.
        let unknown = event(vec![PushedRef::from_ref("refs/heads/feature", None)], None);
        assert!(revision_matches(&unknown, "HEAD"));
    }

    #[test]
    fn commits_and_other_refs() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let pushed = event(
            vec![PushedRef::from_ref("refs/heads/main", Some(sha))],
            Some("main"),
        );
        assert!(!revision_matches(&pushed, sha));
        let pull = event(
            vec![PushedRef::from_ref("refs/pull/1/head", None)],
            Some("main"),
        );
        assert!(revision_matches(&pull, "refs/pull/1/head"));
        assert!(!revision_matches(&pull, "pull/1/head"));
        assert!(!revision_matches(&pull, "HEAD"));
    }

    #[test]
    fn matches_needs_both_repository_and_revision() {
        let ev = event(
            vec![PushedRef::from_ref("refs/heads/main", None)],
            Some("main"),
        );
        assert!(matches(&ev, "git@example.com:org/repo.git", "main"));
        assert!(matches(&ev, "https://example.com/org/repo", "HEAD"));
        assert!(!matches(&ev, "https://example.com/org/other", "main"));
        assert!(!matches(&ev, "https://example.com/org/repo", "dev"));
    }
}
