//! Each provider's push payload, reduced to a [`PushEvent`]. Only the fields Ferry reads are
//! declared; everything is optional so that a provider adding or dropping a field does not
//! make a payload malformed, except the repository and the reference.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::event::{Provider, PushEvent, PushedRef, RefKind};

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))
}

/// Adds `url` to `urls` unless empty or already there.
fn push_url(urls: &mut Vec<String>, url: Option<&str>) {
    if let Some(url) = url.map(str::trim).filter(|u| !u.is_empty())
        && !urls.iter().any(|u| u == url)
    {
        urls.push(url.to_owned());
    }
}

fn require_urls(urls: Vec<String>) -> Result<Vec<String>, String> {
    if urls.is_empty() {
        Err("the payload names no repository URL".to_owned())
    } else {
        Ok(urls)
    }
}

/// Added, modified and removed paths of `commits`, each once, in order; `None` when the
/// payload lists no commit (a tag or a deletion) or says the list is truncated.
fn changed_files<'a>(
    commits: impl IntoIterator<Item = &'a Commit>,
    truncated: bool,
) -> Option<Vec<String>> {
    let mut files: Vec<String> = Vec::new();
    let mut any = false;
    for commit in commits {
        any = true;
        for path in commit
            .added
            .iter()
            .chain(&commit.modified)
            .chain(&commit.removed)
            .flatten()
        {
            if !files.contains(path) {
                files.push(path.clone());
            }
        }
    }
    (any && !truncated).then_some(files)
}

/// A commit of a GitHub or GitLab push (the same three lists in both).
#[derive(Deserialize)]
struct Commit {
    added: Option<Vec<String>>,
    modified: Option<Vec<String>>,
    removed: Option<Vec<String>>,
}

// ---------------------------------------------------------------------------------------------
// GitHub: https://docs.github.com/en/webhooks/webhook-events-and-payloads#push

#[derive(Deserialize)]
struct GitHubPush {
    #[serde(rename = "ref")]
    reference: Option<String>,
    after: Option<String>,
    repository: Option<GitHubRepository>,
    commits: Option<Vec<Commit>>,
}

#[derive(Deserialize)]
struct GitHubRepository {
    html_url: Option<String>,
    clone_url: Option<String>,
    ssh_url: Option<String>,
    git_url: Option<String>,
    default_branch: Option<String>,
}

/// A GitHub `push` event.
pub(crate) fn github_push(body: &[u8]) -> Result<PushEvent, String> {
    let push: GitHubPush = parse(body)?;
    let repo = push.repository.ok_or("missing repository")?;
    let reference = push
        .reference
        .filter(|r| !r.is_empty())
        .ok_or("missing ref")?;
    let mut urls = Vec::new();
    for url in [
        &repo.html_url,
        &repo.clone_url,
        &repo.ssh_url,
        &repo.git_url,
    ] {
        push_url(&mut urls, url.as_deref());
    }
    Ok(PushEvent {
        provider: Provider::GitHub,
        repo_urls: require_urls(urls)?,
        refs: vec![PushedRef::from_ref(&reference, push.after.as_deref())],
        default_branch: repo.default_branch.filter(|b| !b.is_empty()),
        changed_files: changed_files(push.commits.iter().flatten(), false),
    })
}

// ---------------------------------------------------------------------------------------------
// GitLab: https://docs.gitlab.com/user/project/integrations/webhook_events/#push-events
// (also tag events and the system hook's push / tag_push, which share the shape).

#[derive(Deserialize)]
struct GitLabPush {
    #[serde(rename = "ref")]
    reference: Option<String>,
    after: Option<String>,
    checkout_sha: Option<String>,
    project: Option<GitLabProject>,
    repository: Option<GitLabRepository>,
    commits: Option<Vec<Commit>>,
    total_commits_count: Option<u64>,
}

#[derive(Deserialize)]
struct GitLabProject {
    web_url: Option<String>,
    git_http_url: Option<String>,
    git_ssh_url: Option<String>,
    default_branch: Option<String>,
}

/// The older `repository` block, still sent next to `project`.
#[derive(Deserialize)]
struct GitLabRepository {
    homepage: Option<String>,
    git_http_url: Option<String>,
    git_ssh_url: Option<String>,
}

/// A GitLab `Push Hook` or `Tag Push Hook` (or a system hook of kind `push` / `tag_push`).
pub(crate) fn gitlab_push(body: &[u8]) -> Result<PushEvent, String> {
    let push: GitLabPush = parse(body)?;
    let reference = push
        .reference
        .filter(|r| !r.is_empty())
        .ok_or("missing ref")?;
    let mut urls = Vec::new();
    let mut default_branch = None;
    if let Some(project) = &push.project {
        for url in [
            &project.web_url,
            &project.git_http_url,
            &project.git_ssh_url,
        ] {
            push_url(&mut urls, url.as_deref());
        }
        default_branch = project.default_branch.clone().filter(|b| !b.is_empty());
    }
    if let Some(repo) = &push.repository {
        for url in [&repo.homepage, &repo.git_http_url, &repo.git_ssh_url] {
            push_url(&mut urls, url.as_deref());
        }
    }
    if push.project.is_none() && push.repository.is_none() {
        return Err("missing project".to_owned());
    }
    let commits = push.commits.unwrap_or_default();
    let truncated = push
        .total_commits_count
        .is_some_and(|total| total > commits.len() as u64);
    // `checkout_sha` is the commit (for an annotated tag `after` is the tag object); it is
    // null for a deletion, when `after` is all zeros.
    let commit = push.checkout_sha.as_deref().or(push.after.as_deref());
    Ok(PushEvent {
        provider: Provider::GitLab,
        repo_urls: require_urls(urls)?,
        refs: vec![PushedRef::from_ref(&reference, commit)],
        default_branch,
        changed_files: changed_files(&commits, truncated),
    })
}

// ---------------------------------------------------------------------------------------------
// Bitbucket Cloud: https://support.atlassian.com/bitbucket-cloud/docs/event-payloads/#Push

#[derive(Deserialize)]
struct BitbucketPush {
    repository: Option<BitbucketRepository>,
    push: Option<BitbucketChanges>,
}

#[derive(Deserialize)]
struct BitbucketRepository {
    full_name: Option<String>,
    links: Option<BitbucketRepositoryLinks>,
    mainbranch: Option<BitbucketBranch>,
}

#[derive(Deserialize)]
struct BitbucketRepositoryLinks {
    html: Option<BitbucketLink>,
}

#[derive(Deserialize)]
struct BitbucketLink {
    href: Option<String>,
}

#[derive(Deserialize)]
struct BitbucketBranch {
    name: Option<String>,
}

#[derive(Deserialize)]
struct BitbucketChanges {
    changes: Option<Vec<BitbucketChange>>,
}

#[derive(Deserialize)]
struct BitbucketChange {
    new: Option<BitbucketRefState>,
    old: Option<BitbucketRefState>,
}

#[derive(Deserialize)]
struct BitbucketRefState {
    #[serde(rename = "type")]
    kind: Option<String>,
    name: Option<String>,
    target: Option<BitbucketTarget>,
}

#[derive(Deserialize)]
struct BitbucketTarget {
    hash: Option<String>,
}

fn bitbucket_kind(kind: Option<&str>) -> RefKind {
    match kind {
        Some("branch" | "named_branch") => RefKind::Branch,
        Some("tag") => RefKind::Tag,
        _ => RefKind::Unqualified,
    }
}

/// A Bitbucket Cloud `repo:push`: every change, a deleted reference with its old name.
pub(crate) fn bitbucket_cloud_push(body: &[u8]) -> Result<PushEvent, String> {
    let push: BitbucketPush = parse(body)?;
    let repo = push.repository.ok_or("missing repository")?;
    let mut urls = Vec::new();
    let html = repo.links.and_then(|l| l.html).and_then(|h| h.href);
    push_url(&mut urls, html.as_deref());
    if let Some(full_name) = repo
        .full_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        // The clone URLs Bitbucket Cloud shows, which are what applications use.
        push_url(
            &mut urls,
            Some(&format!("https://bitbucket.org/{full_name}")),
        );
        push_url(
            &mut urls,
            Some(&format!("https://bitbucket.org/{full_name}.git")),
        );
        push_url(
            &mut urls,
            Some(&format!("git@bitbucket.org:{full_name}.git")),
        );
    }
    let mut refs = Vec::new();
    for change in push.push.and_then(|p| p.changes).unwrap_or_default() {
        let (state, commit) = match (&change.new, &change.old) {
            (Some(new), _) => (new, new.target.as_ref().and_then(|t| t.hash.as_deref())),
            (None, Some(old)) => (old, None),
            (None, None) => continue,
        };
        let Some(name) = state.name.as_deref().filter(|n| !n.is_empty()) else {
            continue;
        };
        refs.push(PushedRef::named(
            bitbucket_kind(state.kind.as_deref()),
            name,
            commit,
        ));
    }
    if refs.is_empty() {
        return Err("push.changes names no reference".to_owned());
    }
    Ok(PushEvent {
        provider: Provider::BitbucketCloud,
        repo_urls: require_urls(urls)?,
        refs,
        default_branch: repo
            .mainbranch
            .and_then(|b| b.name)
            .filter(|b| !b.is_empty()),
        changed_files: None,
    })
}

// ---------------------------------------------------------------------------------------------
// Bitbucket Server / Data Center:
// https://confluence.atlassian.com/bitbucketserver/event-payload-938025882.html#Eventpayload-Push

#[derive(Deserialize)]
struct BitbucketServerPush {
    repository: Option<BitbucketServerRepository>,
    changes: Option<Vec<BitbucketServerChange>>,
}

#[derive(Deserialize)]
struct BitbucketServerRepository {
    links: Option<BitbucketServerLinks>,
}

#[derive(Deserialize)]
struct BitbucketServerLinks {
    clone: Option<Vec<BitbucketServerCloneLink>>,
}

#[derive(Deserialize)]
struct BitbucketServerCloneLink {
    href: Option<String>,
}

#[derive(Deserialize)]
struct BitbucketServerChange {
    #[serde(rename = "ref")]
    reference: Option<BitbucketServerRef>,
    #[serde(rename = "refId")]
    ref_id: Option<String>,
    #[serde(rename = "toHash")]
    to_hash: Option<String>,
    #[serde(rename = "type")]
    change_type: Option<String>,
}

#[derive(Deserialize)]
struct BitbucketServerRef {
    id: Option<String>,
    #[serde(rename = "displayId")]
    display_id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// A Bitbucket Server `repo:refs_changed`: every change (Argo CD reads only the first).
pub(crate) fn bitbucket_server_push(body: &[u8]) -> Result<PushEvent, String> {
    let push: BitbucketServerPush = parse(body)?;
    let repo = push.repository.ok_or("missing repository")?;
    let mut urls = Vec::new();
    for link in repo.links.and_then(|l| l.clone).unwrap_or_default() {
        push_url(&mut urls, link.href.as_deref());
    }
    let mut refs = Vec::new();
    for change in push.changes.unwrap_or_default() {
        let commit = if change.change_type.as_deref() == Some("DELETE") {
            None
        } else {
            change.to_hash.as_deref()
        };
        let reference = change.reference.as_ref();
        let full = reference
            .and_then(|r| r.id.as_deref())
            .or(change.ref_id.as_deref())
            .filter(|r| !r.is_empty());
        let pushed = match (full, reference) {
            (Some(full), _) => PushedRef::from_ref(full, commit),
            (None, Some(r)) => {
                let Some(name) = r.display_id.as_deref().filter(|n| !n.is_empty()) else {
                    continue;
                };
                let kind = match r.kind.as_deref() {
                    Some("BRANCH") => RefKind::Branch,
                    Some("TAG") => RefKind::Tag,
                    _ => RefKind::Unqualified,
                };
                PushedRef::named(kind, name, commit)
            }
            (None, None) => continue,
        };
        refs.push(pushed);
    }
    if refs.is_empty() {
        return Err("changes names no reference".to_owned());
    }
    Ok(PushEvent {
        provider: Provider::BitbucketServer,
        repo_urls: require_urls(urls)?,
        refs,
        default_branch: None,
        changed_files: None,
    })
}

// ---------------------------------------------------------------------------------------------
// Ferry's generic format.

#[derive(Deserialize)]
struct GenericPush {
    #[serde(rename = "repoURL")]
    repo_url: Option<String>,
    revision: Option<String>,
    commit: Option<String>,
    #[serde(rename = "defaultBranch")]
    default_branch: Option<String>,
    #[serde(rename = "changedFiles")]
    changed_files: Option<Vec<String>>,
}

/// A generic push: `{"repoURL": …, "revision": …, "commit"?: …, "defaultBranch"?: …,
/// "changedFiles"?: […]}`.
pub(crate) fn generic_push(body: &[u8]) -> Result<PushEvent, String> {
    let push: GenericPush = parse(body)?;
    let repo_url = push
        .repo_url
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .ok_or("missing repoURL")?;
    if crate::matching::RepoLocation::parse(&repo_url).is_none() {
        return Err(format!("repoURL {repo_url:?} is not a repository URL"));
    }
    let revision = push
        .revision
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
        .ok_or("missing revision")?;
    if revision == "HEAD" {
        return Err("revision must name the pushed branch or tag, not HEAD".to_owned());
    }
    Ok(PushEvent {
        provider: Provider::Generic,
        repo_urls: vec![repo_url],
        refs: vec![PushedRef::from_ref(&revision, push.commit.as_deref())],
        default_branch: push.default_branch.filter(|b| !b.is_empty()),
        changed_files: push.changed_files,
    })
}
