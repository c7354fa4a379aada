//! Repository URLs as Argo CD compares them with project `sourceRepos`
//! (`git.NormalizeGitURL`): trimmed, lower case, `user@host:path` SSH URLs written as
//! `user@host/path`, an `ssh://` prefix and a `.git` suffix dropped.

/// The form of `url` that project rules compare.
pub fn normalize(url: &str) -> String {
    let mut repo = url.trim().to_lowercase();
    if is_ssh(&repo) && !repo.starts_with("ssh://") {
        repo = repo.replacen(':', "/", 1);
    }
    let repo = repo.strip_suffix(".git").unwrap_or(&repo);
    repo.strip_prefix("ssh://").unwrap_or(repo).to_owned()
}

/// `^(ssh://)?([^/:]*?)@[^@]+$`: a user before the host, one `@` only.
fn is_ssh(url: &str) -> bool {
    let rest = url.strip_prefix("ssh://").unwrap_or(url);
    match rest.split_once('@') {
        Some((user, host)) => !user.contains(['/', ':']) && !host.is_empty() && !host.contains('@'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_normalise_as_argo_cd_compares_them() {
        for (url, want) in [
            (
                "https://GitHub.com/Org/Repo.git",
                "https://github.com/org/repo",
            ),
            (
                "  https://github.com/org/repo ",
                "https://github.com/org/repo",
            ),
            ("git@github.com:org/repo.git", "git@github.com/org/repo"),
            (
                "ssh://git@github.com/org/repo.git",
                "git@github.com/org/repo",
            ),
            ("https://user@host/a@b", "https://user@host/a@b"),
        ] {
            assert_eq!(super::normalize(url), want, "{url}");
        }
    }
}
