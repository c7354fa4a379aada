//! [`Redactions`]: the values a render's references resolved to, and what to show instead
//! (pure). Whatever text is made from resolved objects and leaves the process (a dry run's
//! refusal in `ComparisonError`, a sync result's message, `ferry app diff`'s unified diff) goes
//! through [`Redactions::redact`] first.

use std::fmt;

use ferry_core::Sensitive;
use serde_json::Value;

/// Resolved values and the text shown in their place, `<ref+awsssm://…>` (the reference as
/// written, in angle brackets). Cheap to clone; `Debug` shows only how many there are.
#[derive(Clone, Default)]
pub struct Redactions {
    /// Longest first, so that a value containing another is replaced whole.
    entries: Vec<Entry>,
    /// Where each reference is: (kind, name, JSON pointer of the string, reference).
    places: Vec<Place>,
}

#[derive(Clone)]
struct Entry {
    value: Sensitive<String>,
    shown: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Place {
    kind: String,
    name: String,
    pointer: String,
    reference: String,
}

impl fmt::Debug for Redactions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactions({} values)", self.entries.len())
    }
}

impl Redactions {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many texts are replaced (each value, and its escaped forms).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Adds `value`, resolved from `reference`: the value itself, and the forms it takes
    /// when printed inside JSON (escaped) or single-quoted YAML (`'` doubled), and each line
    /// of a value of several lines (a YAML block scalar prints them one by one).
    pub(crate) fn add(&mut self, value: &Sensitive<String>, reference: &str) {
        let shown = format!("<{reference}>");
        let v = value.expose();
        let mut forms = vec![v.clone()];
        if let Ok(json) = serde_json::to_string(v) {
            forms.push(json[1..json.len() - 1].to_owned());
        }
        forms.push(v.replace('\'', "''"));
        if v.contains('\n') {
            forms.extend(
                v.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned),
            );
        }
        for form in forms {
            if form.is_empty() || self.entries.iter().any(|e| e.value.expose() == &form) {
                continue;
            }
            self.entries.push(Entry {
                value: Sensitive::new(form),
                shown: shown.clone(),
            });
        }
        self.entries
            .sort_by_key(|e| std::cmp::Reverse(e.value.expose().len()));
    }

    /// Records that object `kind`/`name` holds `reference` in the string at `pointer`.
    pub(crate) fn place(&mut self, kind: &str, name: &str, pointer: &str, reference: &str) {
        let place = Place {
            kind: kind.to_owned(),
            name: name.to_owned(),
            pointer: pointer.to_owned(),
            reference: reference.to_owned(),
        };
        if !self.places.contains(&place) {
            self.places.push(place);
        }
    }

    /// `text` with every resolved value replaced by `<reference>`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for e in &self.entries {
            if out.contains(e.value.expose().as_str()) {
                out = out.replace(e.value.expose().as_str(), &e.shown);
            }
        }
        out
    }

    /// These redactions, and also the strings `live` (the cluster's copy of object
    /// `kind`/`name`) holds where the rendered object has a reference, when they differ
    /// from what was resolved: the value deployed before, shown as `<previous value of
    /// ref+…>` in a diff.
    pub fn with_live(&self, kind: &str, name: &str, live: Option<&Value>) -> Redactions {
        let mut out = self.clone();
        let Some(live) = live else {
            return out;
        };
        for p in self
            .places
            .iter()
            .filter(|p| p.kind == kind && p.name == name)
        {
            if let Some(Value::String(old)) = live.pointer(&p.pointer) {
                let old = Sensitive::new(old.clone());
                if self.redact(old.expose()) != *old.expose() {
                    // Still (or partly) what was resolved: covered already.
                    continue;
                }
                out.add(&old, &format!("previous value of {}", p.reference));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redactions(pairs: &[(&str, &str)]) -> Redactions {
        let mut r = Redactions::default();
        for (value, reference) in pairs {
            r.add(&Sensitive::new(value.to_string()), reference);
        }
        r
    }

    #[test]
    fn values_and_their_printed_forms_become_the_reference() {
        let r = redactions(&[
            ("hunter2", "ref+awsssm://db/password"),
            ("hunter2-extended", "ref+awsssm://db/long"),
            ("say \"hi\"\nit's me", "ref+awssecrets://greeting"),
        ]);
        assert_eq!(
            r.redact("admission webhook denied: password hunter2 is weak; hunter2-extended too"),
            "admission webhook denied: password <ref+awsssm://db/password> is weak; <ref+awsssm://db/long> too"
        );
        for printed in [
            r#"{"greeting":"say \"hi\"\nit's me"}"#,
            "greeting: 'say \"hi\"\nit''s me'",
            "+  greeting: |\n+    say \"hi\"\n+    it's me",
        ] {
            let out = r.redact(printed);
            assert!(
                !out.contains("hi\\\"") && !out.contains("it's me") && !out.contains("it''s"),
                "{out}"
            );
            assert!(out.contains("<ref+awssecrets://greeting>"), "{out}");
        }
        assert_eq!(format!("{r:?}"), format!("Redactions({} values)", r.len()));
        assert!(!format!("{r:?}").contains("hunter2"));
        assert_eq!(Redactions::default().redact("plain"), "plain");
    }

    #[test]
    fn a_diff_hides_the_value_deployed_before_too() {
        let mut r = redactions(&[("new-pass", "ref+awsssm://db/password")]);
        r.place(
            "ConfigMap",
            "db",
            "/data/password",
            "ref+awsssm://db/password",
        );
        let live = json!({"kind": "ConfigMap", "data": {"password": "old-pass", "user": "app"}});
        let with = r.with_live("ConfigMap", "db", Some(&live));
        let diff = "-  password: old-pass\n+  password: new-pass\n   user: app\n";
        assert_eq!(
            with.redact(diff),
            "-  password: <previous value of ref+awsssm://db/password>\n+  password: <ref+awsssm://db/password>\n   user: app\n"
        );
        // Another object's copy says nothing of this one.
        assert_eq!(
            r.with_live("ConfigMap", "other", Some(&live)).len(),
            r.len()
        );
    }
}
