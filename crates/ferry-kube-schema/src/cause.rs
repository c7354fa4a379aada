//! Validation causes as the API server reports them: `metav1.StatusCause` built from a
//! `field.Error` (`reason`, `message`, `field`), and the `NewInvalid` status message.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use ferry_gofmt::decoded::bad_value;

/// The kind of a validation failure: `field.ErrorType`, serialised as the status cause `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CauseReason {
    /// `FieldValueNotFound`: "Not found".
    #[serde(rename = "FieldValueNotFound")]
    NotFound,
    /// `FieldValueRequired`: "Required value".
    #[serde(rename = "FieldValueRequired")]
    Required,
    /// `FieldValueDuplicate`: "Duplicate value".
    #[serde(rename = "FieldValueDuplicate")]
    Duplicate,
    /// `FieldValueInvalid`: "Invalid value".
    #[serde(rename = "FieldValueInvalid")]
    Invalid,
    /// `FieldValueNotSupported`: "Unsupported value".
    #[serde(rename = "FieldValueNotSupported")]
    NotSupported,
    /// `FieldValueForbidden`: "Forbidden".
    #[serde(rename = "FieldValueForbidden")]
    Forbidden,
    /// `FieldValueTooLong`: "Too long".
    #[serde(rename = "FieldValueTooLong")]
    TooLong,
    /// `FieldValueTooMany`: "Too many".
    #[serde(rename = "FieldValueTooMany")]
    TooMany,
    /// `InternalError`: "Internal error".
    #[serde(rename = "InternalError")]
    Internal,
    /// `FieldValueTypeInvalid`: "Invalid value".
    #[serde(rename = "FieldValueTypeInvalid")]
    TypeInvalid,
}

impl CauseReason {
    /// The wire name (`FieldValueInvalid`).
    pub fn as_str(self) -> &'static str {
        match self {
            CauseReason::NotFound => "FieldValueNotFound",
            CauseReason::Required => "FieldValueRequired",
            CauseReason::Duplicate => "FieldValueDuplicate",
            CauseReason::Invalid => "FieldValueInvalid",
            CauseReason::NotSupported => "FieldValueNotSupported",
            CauseReason::Forbidden => "FieldValueForbidden",
            CauseReason::TooLong => "FieldValueTooLong",
            CauseReason::TooMany => "FieldValueTooMany",
            CauseReason::Internal => "InternalError",
            CauseReason::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// The human text that opens a message (`ErrorType.String()`).
    pub fn text(self) -> &'static str {
        match self {
            CauseReason::NotFound => "Not found",
            CauseReason::Required => "Required value",
            CauseReason::Duplicate => "Duplicate value",
            CauseReason::Invalid | CauseReason::TypeInvalid => "Invalid value",
            CauseReason::NotSupported => "Unsupported value",
            CauseReason::Forbidden => "Forbidden",
            CauseReason::TooLong => "Too long",
            CauseReason::TooMany => "Too many",
            CauseReason::Internal => "Internal error",
        }
    }

    /// Whether the message leaves out the bad value (`ErrorBody`).
    fn hides_value(self) -> bool {
        matches!(
            self,
            CauseReason::Required
                | CauseReason::Forbidden
                | CauseReason::TooLong
                | CauseReason::Internal
        )
    }
}

/// One validation failure, serialised like `metav1.StatusCause`: `{"reason", "message", "field"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cause {
    /// The failure kind.
    pub reason: CauseReason,
    /// `field.Error.ErrorBody()`: `Invalid value: 0: spec.size in body should be ...`.
    pub message: String,
    /// The field path (`spec.items[0].name`); `<nil>` for the object itself.
    pub field: String,
}

impl Cause {
    /// A cause with a bad value and detail, worded like `field.Error.ErrorBody`.
    pub fn new(
        reason: CauseReason,
        field: impl Into<String>,
        value: Option<&Value>,
        detail: &str,
    ) -> Cause {
        let mut message = reason.text().to_owned();
        if !reason.hides_value() {
            message.push_str(": ");
            message.push_str(&value.map_or_else(|| "null".to_owned(), bad_value));
        }
        if !detail.is_empty() {
            message.push_str(": ");
            message.push_str(detail);
        }
        let field = field.into();
        Cause {
            reason,
            message,
            field: if field.is_empty() {
                "<nil>".to_owned()
            } else {
                field
            },
        }
    }

    /// `field.Required`.
    pub fn required(field: impl Into<String>, detail: &str) -> Cause {
        Cause::new(CauseReason::Required, field, None, detail)
    }

    /// `field.Invalid`.
    pub fn invalid(field: impl Into<String>, value: &Value, detail: &str) -> Cause {
        Cause::new(CauseReason::Invalid, field, Some(value), detail)
    }

    /// `field.TypeInvalid`.
    pub fn type_invalid(field: impl Into<String>, value: &Value, detail: &str) -> Cause {
        Cause::new(CauseReason::TypeInvalid, field, Some(value), detail)
    }

    /// `field.Forbidden`.
    pub fn forbidden(field: impl Into<String>, detail: &str) -> Cause {
        Cause::new(CauseReason::Forbidden, field, None, detail)
    }

    /// `field.Duplicate`.
    pub fn duplicate(field: impl Into<String>, value: &Value) -> Cause {
        Cause::new(CauseReason::Duplicate, field, Some(value), "")
    }

    /// `field.NotSupported`: `Unsupported value: "x": supported values: "a", "b"`.
    pub fn not_supported(field: impl Into<String>, value: &Value, supported: &[String]) -> Cause {
        let quoted: Vec<String> = supported
            .iter()
            .map(|s| ferry_gofmt::decoded::quote(s))
            .collect();
        let detail = if quoted.is_empty() {
            String::new()
        } else {
            format!("supported values: {}", quoted.join(", "))
        };
        Cause::new(CauseReason::NotSupported, field, Some(value), &detail)
    }

    /// `field.TooLongMaxLength`: `Too long: may not be longer than 5`.
    pub fn too_long(field: impl Into<String>, max: i64) -> Cause {
        let detail = if max >= 0 {
            format!("may not be longer than {max}")
        } else {
            "value is too long".to_owned()
        };
        Cause::new(CauseReason::TooLong, field, None, &detail)
    }

    /// `field.TooMany`: `Too many: 4: must have at most 3 items`.
    pub fn too_many(field: impl Into<String>, actual: i64, max: i64) -> Cause {
        let detail = if max >= 0 {
            format!("must have at most {max} items")
        } else {
            "has too many items".to_owned()
        };
        Cause::new(
            CauseReason::TooMany,
            field,
            Some(&Value::from(actual)),
            &detail,
        )
    }

    /// `field.Error.Error()`: `spec.size: Invalid value: ...`.
    pub fn error_string(&self) -> String {
        format!("{}: {}", self.field, self.message)
    }
}

/// The message of the `422 Invalid` status the API server returns (`errors.NewInvalid`):
/// `Widget.demo.ferry.test "w2" is invalid: spec.size: Invalid value: ...`. Several causes are
/// joined as `[a, b]`; causes with the same text are reported once.
pub fn full_message(kind: &str, group: &str, name: &str, causes: &[Cause]) -> String {
    let qualified = if group.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}.{group}")
    };
    let head = format!(
        "{qualified} {} is invalid",
        ferry_gofmt::decoded::quote(name)
    );
    let mut seen: Vec<String> = Vec::new();
    for cause in causes {
        let text = cause.error_string();
        if !seen.contains(&text) {
            seen.push(text);
        }
    }
    match seen.len() {
        0 => head,
        1 => format!("{head}: {}", seen[0]),
        _ => format!("{head}: [{}]", seen.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_match_field_error() {
        let c = Cause::invalid(
            "spec.size",
            &json!(0),
            "spec.size in body should be greater than or equal to 1",
        );
        assert_eq!(
            c.message,
            "Invalid value: 0: spec.size in body should be greater than or equal to 1"
        );
        assert_eq!(Cause::required("spec.size", "").message, "Required value");
        assert_eq!(
            Cause::required("spec.x.kind", "must not be empty").message,
            "Required value: must not be empty"
        );
        assert_eq!(
            Cause::too_long("spec.n", 5).message,
            "Too long: may not be longer than 5"
        );
        assert_eq!(
            Cause::too_many("spec.l", 4, 3).message,
            "Too many: 4: must have at most 3 items"
        );
        let ns = Cause::not_supported("spec.c", &json!("x"), &["a".to_owned(), "b".to_owned()]);
        assert_eq!(
            ns.message,
            r#"Unsupported value: "x": supported values: "a", "b""#
        );
        assert_eq!(Cause::required("", "").field, "<nil>");
    }

    #[test]
    fn serialises_like_status_cause() {
        let c = Cause::required("spec.size", "");
        assert_eq!(
            serde_json::to_string(&c).ok(),
            Some(
                r#"{"reason":"FieldValueRequired","message":"Required value","field":"spec.size"}"#
                    .to_owned()
            )
        );
    }

    #[test]
    fn full_message_joins_and_dedups() {
        let a = Cause::invalid(
            "spec.size",
            &json!(0),
            "spec.size in body should be greater than or equal to 1",
        );
        let b = Cause::required("spec.color", "");
        assert_eq!(
            full_message("Widget", "demo.ferry.test", "w2", std::slice::from_ref(&a)),
            "Widget.demo.ferry.test \"w2\" is invalid: spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"
        );
        assert_eq!(
            full_message(
                "Widget",
                "demo.ferry.test",
                "w2",
                &[a.clone(), b.clone(), a.clone()]
            ),
            format!(
                "Widget.demo.ferry.test \"w2\" is invalid: [{}, {}]",
                a.error_string(),
                b.error_string()
            )
        );
        assert_eq!(
            full_message("ConfigMap", "", "x", &[]),
            "ConfigMap \"x\" is invalid"
        );
    }
}
