//! One policy line split into fields as Argo CD reads it: Go's `encoding/csv` reader on a
//! single line with `TrimLeadingSpace` (util/rbac `loadPolicyLine`). Leading white space of a
//! field is dropped, trailing white space is kept; a field that starts with `"` is quoted
//! (`""` inside stands for one quote, and the closing quote must end the field); a quote
//! anywhere else is an error, as it is for Go's reader without `LazyQuotes`.

/// Why a line is not CSV, in the words of Go's `encoding/csv`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("bare \" in non-quoted field (column {column})")]
    BareQuote { column: usize },
    #[error("extraneous or missing \" in quoted field (column {column})")]
    Quote { column: usize },
}

/// Splits one (already trimmed, non-empty) line into its fields.
pub fn split_line(line: &str) -> Result<Vec<String>, CsvError> {
    let chars: Vec<char> = line.chars().collect();
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        // TrimLeadingSpace: Go's unicode.IsSpace, which char::is_whitespace follows.
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let mut field = String::new();
        if i < chars.len() && chars[i] == '"' {
            let open = i;
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(CsvError::Quote { column: open + 1 }),
                    Some('"') if chars.get(i + 1) == Some(&'"') => {
                        field.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        match chars.get(i) {
                            None => {
                                fields.push(field);
                                return Ok(fields);
                            }
                            Some(',') => {
                                i += 1;
                                break;
                            }
                            Some(_) => return Err(CsvError::Quote { column: i + 1 }),
                        }
                    }
                    Some(c) => {
                        field.push(*c);
                        i += 1;
                    }
                }
            }
            fields.push(field);
        } else {
            loop {
                match chars.get(i) {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => {
                        i += 1;
                        break;
                    }
                    Some('"') => return Err(CsvError::BareQuote { column: i + 1 }),
                    Some(c) => {
                        field.push(*c);
                        i += 1;
                    }
                }
            }
            fields.push(field);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Vec<String> {
        split_line(line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn leading_space_is_dropped_and_trailing_space_kept() {
        assert_eq!(ok("p,  a , b"), ["p", "a ", "b"]);
    }

    #[test]
    fn quoted_fields_keep_commas_and_doubled_quotes() {
        assert_eq!(
            ok(r#"p, "role,admin", "say ""hi""""#),
            ["p", "role,admin", r#"say "hi""#]
        );
        assert_eq!(ok(r#"g, "", x"#), ["g", "", "x"]);
    }

    #[test]
    fn empty_trailing_field_counts() {
        assert_eq!(ok("g, a,"), ["g", "a", ""]);
    }

    #[test]
    fn stray_quotes_are_errors() {
        assert_eq!(
            split_line(r#"p, a"b"#),
            Err(CsvError::BareQuote { column: 5 })
        );
        assert!(matches!(
            split_line(r#"p, "ab"#),
            Err(CsvError::Quote { .. })
        ));
        assert!(matches!(
            split_line(r#"p, "a"b, c"#),
            Err(CsvError::Quote { .. })
        ));
        assert!(matches!(
            split_line(r#"p, "a" , c"#),
            Err(CsvError::Quote { .. })
        ));
    }
}
