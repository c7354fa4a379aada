//! The shape of the type tables: a small static description of the Go API types, enough to
//! answer "what list type / map type is at this path" (server-side apply) and "which JSON type
//! does this field take" (typed conversion). Paths the tables do not describe are unknown: the
//! schema answers `None` (atomic) and the type check accepts anything there.

/// A field of a struct: its JSON name and type.
pub(crate) type Field = (&'static str, Ty);

/// The type of a value, as structured-merge-diff sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ty {
    /// A string (`string`, `metav1.Time`, enums).
    Str,
    /// A number (`int32`, `int64`, `float64`): SMD's "numeric (int or float)".
    Num,
    /// A boolean.
    Bool,
    /// `intstr.IntOrString`: a string or a number.
    IntOrStr,
    /// `resource.Quantity`: a string or a number.
    Quantity,
    /// Not described (raw JSON, `runtime.RawExtension`, elements of atomic lists we do not type).
    Any,
    /// `map[string]string`, granular: each key owned separately.
    StrMap,
    /// `map[string]string` with `+mapType=atomic`.
    AtomicStrMap,
    /// `map[string]T`, granular.
    Map(&'static Ty),
    /// A struct, granular.
    Struct(&'static [Field]),
    /// A struct with `+structType=atomic`.
    AtomicStruct(&'static [Field]),
    /// A list of the given kind with elements of the given type.
    List(Lt, &'static Ty),
}

/// A list's merge type (`+listType`, or the default SMD derives from the patch strategy).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lt {
    /// Replaced as a whole.
    Atomic,
    /// A set of scalars.
    Set,
    /// An associative list keyed by these fields, with string defaults for key fields.
    Map(
        &'static [&'static str],
        &'static [(&'static str, &'static str)],
    ),
}

/// Resolves a type path (field names, `"[]"` for list elements, map keys as plain segments)
/// from a root struct.
pub(crate) fn resolve(root: &'static [Field], path: &[&str]) -> Option<Ty> {
    let mut ty = Ty::Struct(root);
    for seg in path {
        ty = match ty {
            Ty::Struct(fields) | Ty::AtomicStruct(fields) => field(fields, seg)?,
            Ty::List(_, elem) if *seg == ferry_fieldpath::LIST_ELEMENT => *elem,
            Ty::Map(value) => *value,
            Ty::StrMap | Ty::AtomicStrMap => Ty::Str,
            _ => return None,
        };
    }
    Some(ty)
}

/// The type of a struct's field.
pub(crate) fn field(fields: &'static [Field], name: &str) -> Option<Ty> {
    fields.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
