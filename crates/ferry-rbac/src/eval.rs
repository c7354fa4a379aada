//! Enforcement with its reason: which candidate subject (default role, name, group) and
//! which line decided, in the order Argo CD tries them (`rbac.enforce`,
//! `RBACPolicyEnforcer.EnforceClaims`).

use crate::parse::{Effect, Origin, Rule};
use crate::project::{project_of_request, project_role_of_subject};
use crate::{Layer, Policy, Subject, reachable};

/// Why a request was allowed or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// `policy.default` allowed it, through `line`.
    DefaultRole {
        role: String,
        line: String,
        origin: Origin,
    },
    /// A line allowed it (none denied), for `subject` (the user's name or a group).
    Allowed {
        subject: String,
        line: String,
        origin: Origin,
    },
    /// A line denied it, for `subject`; nothing else allowed it.
    Denied {
        subject: String,
        line: String,
        origin: Origin,
    },
    /// Regex mode: a line reached for `subject` holds a pattern that is not a regular
    /// expression, which fails the enforcement (casbin panics and Argo CD answers no).
    InvalidRegex {
        subject: String,
        line: String,
        origin: Origin,
        error: String,
    },
    /// A project role token asked about another project's object.
    OtherProjectToken {
        token_project: String,
        request_project: String,
    },
    /// No line matched.
    NoRuleMatched,
}

/// The answer of [`Policy::explain`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: Reason,
}

impl Decision {
    /// The policy line that decided, if one did.
    pub fn rule(&self) -> Option<&str> {
        match &self.reason {
            Reason::DefaultRole { line, .. }
            | Reason::Allowed { line, .. }
            | Reason::Denied { line, .. }
            | Reason::InvalidRegex { line, .. } => Some(line),
            Reason::OtherProjectToken { .. } | Reason::NoRuleMatched => None,
        }
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.allowed { "yes" } else { "no" };
        match &self.reason {
            Reason::DefaultRole { role, line, origin } => {
                write!(f, "{verdict}: default role {role} ({origin}: {line})")
            }
            Reason::Allowed {
                subject,
                line,
                origin,
            } => {
                write!(f, "{verdict}: allowed for {subject} ({origin}: {line})")
            }
            Reason::Denied {
                subject,
                line,
                origin,
            } => {
                write!(f, "{verdict}: denied for {subject} ({origin}: {line})")
            }
            Reason::InvalidRegex {
                subject,
                line,
                origin,
                error,
            } => write!(
                f,
                "{verdict}: for {subject}, {origin} is not a valid regular expression ({error}): {line}"
            ),
            Reason::OtherProjectToken {
                token_project,
                request_project,
            } => write!(
                f,
                "{verdict}: a token of project {token_project} cannot act in project {request_project}"
            ),
            Reason::NoRuleMatched => write!(f, "{verdict}: no rule matched"),
        }
    }
}

/// One subject evaluated alone (casbin's `Enforce` with Argo CD's model).
enum Outcome<'a> {
    Allow(&'a Rule),
    Deny(&'a Rule),
    Invalid(&'a Rule, String),
    NoMatch,
}

struct Request<'r> {
    resource: &'r str,
    action: &'r str,
    object: &'r str,
}

/// Checks one line as the matcher does, left to right with short circuits: resource, then
/// action, then object. `Err` when a regex-mode pattern reached does not compile.
fn rule_matches(rule: &Rule, req: &Request<'_>) -> Result<bool, String> {
    Ok(rule.resource.matches(req.resource)?
        && rule.action.matches(req.action)?
        && rule.object.matches(req.object)?)
}

fn evaluate<'a>(subject: &str, layers: &[&'a Layer], req: &Request<'_>) -> Outcome<'a> {
    let roles = reachable(subject, layers);
    // (layer, index) orders rules as loaded: built-in, policy.csv, overlays, project.
    let mut first_allow: Option<(usize, usize, &Rule)> = None;
    let mut first_stop: Option<(usize, usize, Outcome<'a>)> = None;
    for (li, layer) in layers.iter().enumerate() {
        for role in &roles {
            for &ri in layer.by_subject.get(*role).into_iter().flatten() {
                let rule = &layer.rules[ri];
                let key = (li, ri);
                let stop = match rule_matches(rule, req) {
                    Ok(false) => continue,
                    Err(e) => Outcome::Invalid(rule, e),
                    Ok(true) => match rule.effect {
                        Effect::Allow => {
                            if first_allow.is_none_or(|(l, r, _)| key < (l, r)) {
                                first_allow = Some((li, ri, rule));
                            }
                            continue;
                        }
                        Effect::Deny => Outcome::Deny(rule),
                        Effect::Other(_) => continue,
                    },
                };
                if first_stop.as_ref().is_none_or(|(l, r, _)| key < (*l, *r)) {
                    first_stop = Some((li, ri, stop));
                }
            }
        }
    }
    match (first_stop, first_allow) {
        (Some((_, _, stop)), _) => stop,
        (None, Some((_, _, rule))) => Outcome::Allow(rule),
        (None, None) => Outcome::NoMatch,
    }
}

fn allowed(subject: &str, rule: &Rule) -> Decision {
    Decision {
        allowed: true,
        reason: Reason::Allowed {
            subject: subject.to_string(),
            line: rule.text.clone(),
            origin: rule.origin.clone(),
        },
    }
}

/// The refusal worth showing: the first deny or invalid pattern met, else no match.
fn refusal(subject: &str, outcome: &Outcome<'_>, best: &mut Option<Reason>) {
    let reason = match outcome {
        Outcome::Deny(rule) => Reason::Denied {
            subject: subject.to_string(),
            line: rule.text.clone(),
            origin: rule.origin.clone(),
        },
        Outcome::Invalid(rule, error) => Reason::InvalidRegex {
            subject: subject.to_string(),
            line: rule.text.clone(),
            origin: rule.origin.clone(),
            error: error.clone(),
        },
        Outcome::Allow(_) | Outcome::NoMatch => return,
    };
    if best.is_none() {
        *best = Some(reason);
    }
}

/// The default role alone, over `layers`.
fn default_role(
    policy: &Policy,
    layers: &[&Layer],
    req: &Request<'_>,
    best: &mut Option<Reason>,
) -> Option<Decision> {
    let role = policy.default_role.as_ref()?;
    match evaluate(role, layers, req) {
        Outcome::Allow(rule) => Some(Decision {
            allowed: true,
            reason: Reason::DefaultRole {
                role: role.clone(),
                line: rule.text.clone(),
                origin: rule.origin.clone(),
            },
        }),
        other => {
            refusal(role, &other, best);
            None
        }
    }
}

/// The default role, then `subject` alone, over `layers`.
fn default_then(
    policy: &Policy,
    subject: &str,
    layers: &[&Layer],
    req: &Request<'_>,
    best: &mut Option<Reason>,
) -> Option<Decision> {
    if let Some(d) = default_role(policy, layers, req, best) {
        return Some(d);
    }
    match evaluate(subject, layers, req) {
        Outcome::Allow(rule) => Some(allowed(subject, rule)),
        other => {
            refusal(subject, &other, best);
            None
        }
    }
}

fn refused(best: Option<Reason>) -> Decision {
    Decision {
        allowed: false,
        reason: best.unwrap_or(Reason::NoRuleMatched),
    }
}

impl Policy {
    /// [`Policy::enforce`] with the reason: which subject and which line decided.
    pub fn explain(
        &self,
        subject: &Subject,
        resource: &str,
        action: &str,
        object: &str,
    ) -> Decision {
        let req = Request {
            resource,
            action,
            object,
        };
        // Argo CD's `rbac.enforce`: the default role against the global policy, then the
        // claims (`EnforceClaims`), then the empty subject against the global policy (rules
        // written for `""` apply to every token).
        let mut best = None;
        if let Some(d) = default_role(self, &[&self.global], &req, &mut best) {
            return d;
        }
        let decision = self.explain_claims(subject, &req);
        if decision.allowed {
            return decision;
        }
        match evaluate("", &[&self.global], &req) {
            Outcome::Allow(rule) => allowed("", rule),
            _ => decision,
        }
    }

    /// `RBACPolicyEnforcer.EnforceClaims`.
    fn explain_claims(&self, subject: &Subject, req: &Request<'_>) -> Decision {
        let Request {
            resource, object, ..
        } = *req;
        let project =
            project_of_request(resource, object).and_then(|p| self.projects.get_key_value(p));
        let mut layers: Vec<&Layer> = vec![&self.global];
        let mut best = None;
        if let Some((name, layer)) = project {
            if let Some((token_project, _)) = project_role_of_subject(&subject.name) {
                // enforceProjectToken: the token's own project only; default role and the
                // token subject, no groups.
                if token_project != name {
                    return Decision {
                        allowed: false,
                        reason: Reason::OtherProjectToken {
                            token_project: token_project.to_string(),
                            request_project: name.clone(),
                        },
                    };
                }
                layers.push(layer);
                return default_then(self, &subject.name, &layers, req, &mut best)
                    .unwrap_or_else(|| refused(best));
            }
            layers.push(layer);
        }
        if let Some(d) = default_then(self, &subject.name, &layers, req, &mut best) {
            return d;
        }
        for group in &subject.groups {
            // Only groups some `g` line names as a member are tried.
            if !layers.iter().any(|l| l.roles_of.contains_key(group)) {
                continue;
            }
            match evaluate(group, &layers, req) {
                Outcome::Allow(rule) => return allowed(group, rule),
                other => refusal(group, &other, &mut best),
            }
        }
        refused(best)
    }
}

/// `argocd admin settings rbac can`: the default role, then `role`, global policy only.
pub(crate) fn explain_role(
    policy: &Policy,
    role: &str,
    resource: &str,
    action: &str,
    object: &str,
) -> Decision {
    let req = Request {
        resource,
        action,
        object,
    };
    let mut best = None;
    default_then(policy, role, &[&policy.global], &req, &mut best).unwrap_or_else(|| refused(best))
}
