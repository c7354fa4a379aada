//! Git push webhooks: receive them from GitHub, GitLab, Bitbucket Cloud, Bitbucket Server or a
//! generic sender, verify them, turn them into [`PushEvent`]s, and tell which application
//! sources an event concerns ([`matches()`]), with Argo CD's semantics
//! (`util/webhook/webhook.go`, "Git Webhook Configuration" in its operator manual).
//!
//! # Endpoints
//!
//! [`router`] serves `POST /api/webhook`, where the provider is told by its headers as in
//! Argo CD, and `POST /api/webhook/generic`:
//!
//! | provider | recognised by | event handled | verified by | secret key |
//! | --- | --- | --- | --- | --- |
//! | GitHub | `X-GitHub-Event` | `push` (`ping` answered) | `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>` | `webhook.github.secret` |
//! | GitLab | `X-Gitlab-Event` | `Push Hook`, `Tag Push Hook`, `System Hook` of kind `push`/`tag_push` | `X-Gitlab-Token` equal to the secret | `webhook.gitlab.secret` |
//! | Bitbucket Cloud | `X-Hook-UUID` (or `X-Event-Key: repo:push`) | `repo:push` | `X-Hook-UUID` equal to the webhook's UUID | `webhook.bitbucket.uuid` |
//! | Bitbucket Server | `X-Event-Key` | `repo:refs_changed` (`diagnostics:ping` answered) | `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>` | `webhook.bitbucketserver.secret` |
//! | generic | the path `/api/webhook/generic` | any | `X-Ferry-Signature-256: sha256=<hex HMAC-SHA256 of the body>` | `webhook.generic.secret` |
//!
//! Signatures are compared in constant time (HMAC `verify_slice`; tokens and UUIDs through
//! SHA-256 digests compared with `subtle`). Gogs, Gitea and Azure DevOps requests are
//! recognised and refused with 400.
//!
//! # Limits
//!
//! A request is refused by its headers whenever it can be, before anything of its body is
//! read: an unknown sender (400), a provider without a secret or a request without a
//! well-formed signature header, a wrong GitLab token or Bitbucket Cloud UUID (401), a
//! `Content-Length` over the limit (413). Bodies are then read within [`WebhookLimits`]:
//! at most `max_payload_bytes` (default 2 MiB; a body without `Content-Length` is cut off as
//! soon as it passes it, 413), at most `max_concurrent_bodies` at once (default 8; a request
//! finding none free is answered 503 with `Retry-After: 1` at once, without waiting or
//! reading), each within `body_timeout` (default 10 s, then 408). The `ferry` binary sets the
//! first two with `--webhook-max-payload-mib` and `--webhook-max-concurrent-bodies`.
//!
//! # The generic format
//!
//! For senders without a supported webhook (a CI job, a Git server hook, a script):
//!
//! ```text
//! POST /api/webhook/generic
//! Content-Type: application/json
//! X-Ferry-Signature-256: sha256=<lower- or upper-case hex HMAC-SHA256 of the exact body, keyed with webhook.generic.secret>
//!
//! {"repoURL": "https://git.example.com/org/repo.git",
//!  "revision": "refs/heads/main",
//!  "commit": "2f1d…",              (optional: the new commit)
//!  "defaultBranch": "main",        (optional: lets HEAD applications match only pushes to it)
//!  "changedFiles": ["apps/a.yaml"]} (optional)
//! ```
//!
//! `revision` is a full reference (`refs/heads/<branch>`, `refs/tags/<tag>`) or a bare name,
//! which matches a `targetRevision` naming a branch or a tag of that name. The signature can
//! be computed with [`signature_header_value`] or
//! `openssl dgst -sha256 -hmac "$SECRET" < body.json`.
//!
//! # Deliberate differences from Argo CD
//!
//! - **A provider without a configured secret is refused** (401), where Argo CD accepts its
//!   payloads unverified. So is every unsigned or wrongly signed payload; each refusal is
//!   logged with `tracing::warn!` naming the provider and the cause, never a secret,
//!   signature or token. Pings are verified like pushes.
//! - Events of a known provider that are not pushes (GitHub `issues`, GitLab `Merge Request
//!   Hook`, …) are answered 200 `{"ignored": …}` after verification; Argo CD answers 400
//!   ("event not defined to be parsed"). A body over the limit is answered 413 (Argo CD: 400),
//!   and the default limit is 2 MiB (Argo CD's `webhook.maxPayloadSizeMB`: 50, read whole
//!   before any check).
//! - Every reference of a Bitbucket push is considered (Argo CD reads only the first change),
//!   and all the repository URLs a payload carries are matched (Argo CD uses the web URL, or
//!   Bitbucket Server's clone URLs).
//! - `refs/heads/x` does not match a push of tag `x`, nor `refs/tags/x` a push of branch `x`
//!   (Argo CD compares only the short names); bare names match both as in Argo CD.
//! - Repository URLs match with any scheme, user name, port, `.git` or trailing `/` on either
//!   side (Argo CD's regular expression wants `http`, `https` or `ssh`, a restricted user name,
//!   and no trailing `/`), but never another host or path.
//! - A GitLab tag push never counts as a push to the default branch (as Argo CD's newest
//!   handler); a GitHub tag named like the default branch does not either (Argo CD compares
//!   the short name). Without a default branch in the payload (Bitbucket), `HEAD` matches any
//!   push, as in Argo CD.
//! - Bitbucket Cloud UUIDs are compared without braces and case.

mod body;
mod error;
mod event;
mod handle;
mod http;
mod matching;
mod payload;
mod secrets;
mod verify;

pub use body::WebhookLimits;
pub use error::{AuthFailure, WebhookError};
pub use event::{Provider, PushEvent, PushedRef, RefKind};
pub use handle::{
    BITBUCKET_EVENT_HEADER, BITBUCKET_SERVER_SIGNATURE_HEADER, BITBUCKET_UUID_HEADER,
    GENERIC_SIGNATURE_HEADER, GITHUB_EVENT_HEADER, GITHUB_SIGNATURE_HEADER, GITLAB_EVENT_HEADER,
    GITLAB_TOKEN_HEADER, Outcome, handle_generic_request, handle_request,
};
pub use http::{PushSink, WebhookState, router};
pub use matching::{matches, repo_url_matches, revision_matches};
pub use secrets::{
    BITBUCKET_SERVER_SECRET_KEY, BITBUCKET_UUID_KEY, GENERIC_SECRET_KEY, GITHUB_SECRET_KEY,
    GITLAB_SECRET_KEY, SecretSource, SharedSecrets, WebhookSecrets,
};
pub use verify::signature_header_value;
