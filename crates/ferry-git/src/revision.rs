//! Revisions: [`CommitId`], what a `targetRevision` looks like, and picking a commit out of
//! `git ls-remote`'s answer.

/// A full commit id (the vocabulary's): 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.
pub use ferry_core::{CommitId, InvalidCommitId};

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(crate) fn is_full_sha(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && is_hex(s)
}

/// Argo CD's `IsTruncatedCommitSHA`: 7 or more hex digits (and not a full id).
pub(crate) fn is_abbreviated_sha(s: &str) -> bool {
    s.len() >= 7 && s.len() < 64 && !is_full_sha(s) && is_hex(s)
}

/// The refs a remote advertises (`git ls-remote` output), in its order.
#[derive(Debug, Default)]
pub(crate) struct RemoteRefs(Vec<(String, String)>);

// === impl RemoteRefs ===

impl RemoteRefs {
    /// Parses `<sha>\t<ref>` lines; anything else is ignored.
    pub fn parse(stdout: &str) -> Self {
        RemoteRefs(
            stdout
                .lines()
                .filter_map(|line| {
                    let (sha, name) = line.split_once('\t')?;
                    is_full_sha(sha).then(|| (name.trim().to_owned(), sha.to_ascii_lowercase()))
                })
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.as_str())
    }

    /// The commit of a ref, peeling annotated tags (`<ref>^{}`).
    fn commit_of(&self, name: &str) -> Option<CommitId> {
        let peeled = format!("{name}^{{}}");
        self.get(&peeled)
            .or_else(|| self.get(name))
            .and_then(|s| CommitId::parse(s).ok())
    }

    /// `""`/`HEAD` → the remote HEAD; a full ref name (`refs/...`) → that ref; otherwise the
    /// branch `refs/heads/<rev>`, then the tag `refs/tags/<rev>` (a branch wins over a tag
    /// of the same name, as in Argo CD, whose `ls-remote` order lists heads first).
    pub fn resolve(&self, revision: &str) -> Option<CommitId> {
        if revision.is_empty() || revision == "HEAD" {
            return self.commit_of("HEAD");
        }
        if revision.starts_with("refs/") {
            return self.commit_of(revision);
        }
        self.commit_of(&format!("refs/heads/{revision}"))
            .or_else(|| self.commit_of(&format!("refs/tags/{revision}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "79bf3d13481e057d2e48c5e9d4e6dd9860901812";
    const T: &str = "8393547335b74797b1abeee5475576c238325ece";
    const C: &str = "31abe43b15836451ed0bfdf94305aba709727b29";
    const L: &str = "1111111111111111111111111111111111111111";

    fn refs() -> RemoteRefs {
        RemoteRefs::parse(&format!(
            "{A}\tHEAD\n{A}\trefs/heads/main\n{L}\trefs/heads/same\n{T}\trefs/tags/v1\n{C}\trefs/tags/v1^{{}}\n{C}\trefs/tags/same\n{L}\trefs/tags/light\nwarning: junk\n"
        ))
    }

    fn resolved(rev: &str) -> Option<String> {
        refs().resolve(rev).map(String::from)
    }

    #[test]
    fn resolves_like_argo() {
        assert_eq!(resolved("").as_deref(), Some(A));
        assert_eq!(resolved("HEAD").as_deref(), Some(A));
        assert_eq!(resolved("main").as_deref(), Some(A));
        assert_eq!(resolved("refs/heads/main").as_deref(), Some(A));
        assert_eq!(
            resolved("v1").as_deref(),
            Some(C),
            "annotated tags are peeled"
        );
        assert_eq!(resolved("refs/tags/v1").as_deref(), Some(C));
        assert_eq!(resolved("light").as_deref(), Some(L));
        assert_eq!(resolved("same").as_deref(), Some(L), "branch before tag");
        assert_eq!(resolved("nope"), None);
        assert_eq!(resolved("heads/main"), None);
    }

    #[test]
    fn sha_shapes() {
        assert!(is_full_sha(A));
        assert!(is_full_sha(&"a".repeat(64)));
        assert!(!is_full_sha("main"));
        assert!(is_abbreviated_sha("79bf3d1"));
        assert!(!is_abbreviated_sha("79bf3d"));
        assert!(!is_abbreviated_sha(A));
        assert!(!is_abbreviated_sha("release"));
        assert_eq!(
            CommitId::parse(&A.to_uppercase())
                .map(String::from)
                .ok()
                .as_deref(),
            Some(A)
        );
        assert!(CommitId::parse("79bf3d1").is_err());
    }
}
