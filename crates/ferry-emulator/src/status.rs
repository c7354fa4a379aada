//! `Status` answers: the errors (and delete successes) an API server sends, in its shapes.

use serde_json::{Map, Value, json};

/// An error answer: HTTP code, `reason`, message and details, as a `Status` object. Boxed, so
/// that results stay small on the happy path.
#[derive(Debug, Clone)]
pub struct ApiError(Box<ErrorBody>);

/// The parts of an [`ApiError`].
#[derive(Debug, Clone)]
pub struct ErrorBody {
    pub code: u16,
    pub reason: Option<&'static str>,
    pub message: String,
    pub details: Option<Value>,
    /// Some answers are not `Status` JSON (`404 page not found` for unknown paths).
    pub plain: bool,
    pub retry_after: Option<u32>,
}

pub type ApiResult<T> = Result<T, ApiError>;

fn details(kind: &str, name: Option<&str>, group: &str) -> Value {
    let mut d = Map::new();
    if let Some(n) = name {
        d.insert("name".into(), json!(n));
    }
    if !group.is_empty() {
        d.insert("group".into(), json!(group));
    }
    d.insert("kind".into(), json!(kind));
    Value::Object(d)
}

// === impl ApiError ===

impl std::ops::Deref for ApiError {
    type Target = ErrorBody;
    fn deref(&self) -> &ErrorBody {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorBody {
        &mut self.0
    }
}

impl ApiError {
    pub fn new(code: u16, reason: Option<&'static str>, message: impl Into<String>) -> Self {
        Self(Box::new(ErrorBody {
            code,
            reason,
            message: message.into(),
            details: None,
            plain: false,
            retry_after: None,
        }))
    }

    pub fn with_details(mut self, d: Value) -> Self {
        self.details = Some(d);
        self
    }

    pub fn page_not_found() -> Self {
        let mut e = Self::new(404, Some("NotFound"), "404 page not found\n");
        e.plain = true;
        e
    }

    pub fn not_found(plural: &str, group: &str, name: &str) -> Self {
        let what = if group.is_empty() {
            plural.to_owned()
        } else {
            format!("{plural}.{group}")
        };
        Self::new(
            404,
            Some("NotFound"),
            format!("{what} \"{name}\" not found"),
        )
        .with_details(details(plural, Some(name), group))
    }

    pub fn already_exists(plural: &str, group: &str, name: &str) -> Self {
        let what = if group.is_empty() {
            plural.to_owned()
        } else {
            format!("{plural}.{group}")
        };
        Self::new(
            409,
            Some("AlreadyExists"),
            format!("{what} \"{name}\" already exists"),
        )
        .with_details(details(plural, Some(name), group))
    }

    pub fn conflict(plural: &str, group: &str, name: &str, why: &str) -> Self {
        let what = if group.is_empty() {
            plural.to_owned()
        } else {
            format!("{plural}.{group}")
        };
        Self::new(
            409,
            Some("Conflict"),
            format!("Operation cannot be fulfilled on {what} \"{name}\": {why}"),
        )
        .with_details(details(plural, Some(name), group))
    }

    pub fn stale(plural: &str, group: &str, name: &str) -> Self {
        Self::conflict(
            plural,
            group,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, Some("BadRequest"), message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, Some("MethodNotAllowed"), message)
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, Some("UnsupportedMediaType"), message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, Some("InternalError"), message)
    }

    /// A 422 with field causes: `Kind "name" is invalid: field: message`.
    pub fn invalid(kind: &str, group: &str, name: &str, causes: Vec<Cause>) -> Self {
        let qualified = if group.is_empty() {
            kind.to_owned()
        } else {
            format!("{kind}.{group}")
        };
        let parts: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let joined = if parts.len() == 1 {
            parts.join("")
        } else {
            format!("[{}]", parts.join(", "))
        };
        let mut d = details(kind, Some(name), group);
        d["causes"] = Value::Array(causes.iter().map(Cause::to_json).collect());
        Self::new(
            422,
            Some("Invalid"),
            format!("{qualified} \"{name}\" is invalid: {joined}"),
        )
        .with_details(d)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, Some("Unauthorized"), "Unauthorized")
    }

    /// The body of this error.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message,
        });
        if let Some(r) = self.reason {
            s["reason"] = json!(r);
        }
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s["code"] = json!(self.code);
        s
    }
}

/// One field error of a 422.
#[derive(Debug, Clone)]
pub struct Cause {
    pub reason: String,
    pub field: String,
    pub message: String,
}

impl Cause {
    pub fn new(reason: &str, field: &str, message: impl Into<String>) -> Self {
        Self {
            reason: reason.to_owned(),
            field: field.to_owned(),
            message: message.into(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({"reason": self.reason, "message": self.message, "field": self.field})
    }
}

/// The `Status` a successful immediate delete answers.
pub fn delete_success(plural: &str, group: &str, name: &str, uid: &str) -> Value {
    let mut d = details(plural, Some(name), group);
    d["uid"] = json!(uid);
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": d})
}
