//! String formats the API server checks (`strfmt.Default` in kube-openapi): `date-time`,
//! `date`, `uuid`, `email`, `hostname`, `ipv4`, `ipv6`, `cidr`, `mac`, `byte`, ...
//! Each check follows the Go validator closely enough for the values CRDs usually carry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `value` is valid for `format` (one of the supported formats; others always pass).
pub(crate) fn is_valid(format: &str, value: &str) -> bool {
    match format.replace('-', "").as_str() {
        "bsonobjectid" => value.len() == 24 && value.bytes().all(|b| b.is_ascii_hexdigit()),
        "uri" => is_uri(value),
        "email" => is_email(value),
        "hostname" => is_hostname(value),
        "ipv4" => value.parse::<Ipv4Addr>().is_ok(),
        "ipv6" => value.parse::<IpAddr>().is_ok() && value.contains(':'),
        "cidr" => is_cidr(value),
        "mac" => is_mac(value),
        "uuid" => is_uuid(value, None),
        "uuid3" => is_uuid(value, Some(b'3')),
        "uuid4" => is_uuid(value, Some(b'4')),
        "uuid5" => is_uuid(value, Some(b'5')),
        "isbn" => is_isbn10(value) || is_isbn13(value),
        "isbn10" => is_isbn10(value),
        "isbn13" => is_isbn13(value),
        "creditcard" => is_credit_card(value),
        "ssn" => is_ssn(value),
        "hexcolor" => is_hex_color(value),
        "rgbcolor" => is_rgb_color(value),
        "byte" => is_base64(value),
        "date" => is_date(value),
        "duration" => is_duration(value),
        "datetime" => is_date_time(value),
        _ => true,
    }
}

fn is_uri(s: &str) -> bool {
    // Go's url.ParseRequestURI: an absolute URI (scheme:...) or an absolute path.
    if s.is_empty() || s.contains(' ') {
        return false;
    }
    if s.starts_with('/') {
        return true;
    }
    match s.split_once(':') {
        Some((scheme, _)) => {
            let mut chars = scheme.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

fn is_email(s: &str) -> bool {
    // net/mail.ParseAddress accepts `Name <a@b>`; the common case is a bare address.
    let addr = match (s.find('<'), s.strip_suffix('>')) {
        (Some(i), Some(rest)) => &rest[i + 1..],
        _ => s,
    };
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !addr
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !local.starts_with('.')
        && !local.ends_with('.')
}

fn is_hostname(s: &str) -> bool {
    if s.is_empty() || s.len() > 255 {
        return false;
    }
    let labels: Vec<&str> = s.split('.').collect();
    let ok_char =
        |c: char| c.is_alphanumeric() || c == '-' || (!c.is_ascii() && !c.is_whitespace());
    for label in &labels {
        let n = label.chars().count();
        if n == 0 || n > 63 || !label.chars().all(ok_char) || label.starts_with('-') {
            return false;
        }
    }
    if labels.len() > 1 {
        // The top-level label is letters only, at least two.
        let tld = labels.last().copied().unwrap_or_default();
        if tld.chars().count() < 2 || !tld.chars().all(char::is_alphabetic) {
            return false;
        }
        if labels.iter().any(|l| l.ends_with('-')) {
            return false;
        }
    }
    true
}

fn is_cidr(s: &str) -> bool {
    let Some((addr, bits)) = s.split_once('/') else {
        return false;
    };
    if bits.is_empty()
        || !bits.bytes().all(|b| b.is_ascii_digit())
        || (bits.len() > 1 && bits.starts_with('0'))
    {
        return false;
    }
    let Ok(bits) = bits.parse::<u32>() else {
        return false;
    };
    if addr.parse::<Ipv4Addr>().is_ok() {
        bits <= 32
    } else if addr.parse::<Ipv6Addr>().is_ok() {
        bits <= 128
    } else {
        false
    }
}

fn is_mac(s: &str) -> bool {
    // net.ParseMAC: 6, 8 or 20 octets as xx:xx:.., xx-xx-.. or xxxx.xxxx.xxxx.
    let hex = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit());
    for sep in [':', '-'] {
        let parts: Vec<&str> = s.split(sep).collect();
        if [6, 8, 20].contains(&parts.len()) && parts.iter().all(|p| hex(p, 2)) {
            return true;
        }
    }
    let parts: Vec<&str> = s.split('.').collect();
    [3, 4, 10].contains(&parts.len()) && parts.iter().all(|p| hex(p, 4))
}

fn is_uuid(s: &str, version: Option<u8>) -> bool {
    let b = s.as_bytes();
    if b.len() != 36 {
        return false;
    }
    for (i, c) in b.iter().enumerate() {
        let ok = if [8, 13, 18, 23].contains(&i) {
            *c == b'-'
        } else {
            c.is_ascii_hexdigit()
        };
        if !ok {
            return false;
        }
    }
    match version {
        None => true,
        Some(v) => {
            b[14] == v
                && (v == b'3' || matches!(b[19].to_ascii_lowercase(), b'8' | b'9' | b'a' | b'b'))
        }
    }
}

fn isbn_digits(s: &str) -> Vec<char> {
    s.chars().filter(|c| *c != ' ' && *c != '-').collect()
}

fn is_isbn10(s: &str) -> bool {
    let d = isbn_digits(s);
    if d.len() != 10 {
        return false;
    }
    let mut sum = 0;
    for (i, c) in d.iter().enumerate() {
        let v = match c {
            '0'..='9' => *c as u32 - '0' as u32,
            'X' if i == 9 => 10,
            _ => return false,
        };
        sum += (i as u32 + 1) * v;
    }
    sum.is_multiple_of(11)
}

fn is_isbn13(s: &str) -> bool {
    let d = isbn_digits(s);
    if d.len() != 13 || !d.iter().all(char::is_ascii_digit) {
        return false;
    }
    let sum: u32 = d
        .iter()
        .take(12)
        .enumerate()
        .map(|(i, c)| (*c as u32 - '0' as u32) * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    let check = (10 - sum % 10) % 10;
    d.get(12).is_some_and(|c| *c as u32 - '0' as u32 == check)
}

fn is_credit_card(s: &str) -> bool {
    let digits: Vec<u32> = s
        .chars()
        .filter(char::is_ascii_digit)
        .map(|c| c as u32 - '0' as u32)
        .collect();
    if s.chars()
        .any(|c| !(c.is_ascii_digit() || c == ' ' || c == '-'))
        || !(13..=19).contains(&digits.len())
    {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                *d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn is_ssn(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
    match b.len() {
        9 => digits(b),
        11 => {
            digits(&b[0..3])
                && matches!(b[3], b'-' | b' ')
                && digits(&b[4..6])
                && matches!(b[6], b'-' | b' ')
                && digits(&b[7..])
        }
        10 => {
            // One separator only.
            (digits(&b[0..3]) && matches!(b[3], b'-' | b' ') && digits(&b[4..]))
                || (digits(&b[0..5]) && matches!(b[5], b'-' | b' ') && digits(&b[6..]))
        }
        _ => false,
    }
}

fn is_hex_color(s: &str) -> bool {
    let h = s.strip_prefix('#').unwrap_or(s);
    (h.len() == 3 || h.len() == 6) && h.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_rgb_color(s: &str) -> bool {
    let Some(inner) = s.strip_prefix("rgb(").and_then(|r| r.strip_suffix(')')) else {
        return false;
    };
    let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|b| b.is_ascii_digit())
                && !(p.len() > 1 && p.starts_with('0'))
                && p.parse::<u32>().is_ok_and(|v| v <= 255)
        })
}

fn is_base64(s: &str) -> bool {
    // base64.StdEncoding.DecodeString: padded, standard alphabet; CR/LF are ignored.
    let b: Vec<u8> = s.bytes().filter(|c| *c != b'\n' && *c != b'\r').collect();
    if !b.len().is_multiple_of(4) {
        return false;
    }
    let pad = b.iter().rev().take_while(|c| **c == b'=').count();
    if pad > 2 {
        return false;
    }
    b[..b.len() - pad]
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
}

fn digits_n(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    let (Some(y), Some(m), Some(d)) = (digits_n(y, 4), digits_n(m, 2), digits_n(d, 2)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

fn is_time(s: &str) -> bool {
    // HH:MM:SS with an optional fraction.
    let (hms, frac) = match s.split_once('.') {
        Some((hms, frac)) => (hms, Some(frac)),
        None => (s, None),
    };
    if let Some(frac) = frac
        && (frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    let parts: Vec<&str> = hms.split(':').collect();
    let [h, m, sec] = parts.as_slice() else {
        return false;
    };
    matches!(
        (digits_n(h, 2), digits_n(m, 2), digits_n(sec, 2)),
        (Some(h), Some(m), Some(sec)) if h < 24 && m < 60 && sec < 60
    )
}

fn is_zone(z: &str) -> bool {
    if z == "Z" {
        return true;
    }
    let Some(rest) = z.strip_prefix('+').or_else(|| z.strip_prefix('-')) else {
        return false;
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() == 4 => rest.split_at(2),
        None => return false,
    };
    matches!((digits_n(h, 2), digits_n(m, 2)), (Some(h), Some(m)) if h < 24 && m < 60)
}

fn is_date_time(s: &str) -> bool {
    // strfmt.ParseDateTime: RFC 3339 (with or without fractions, `Z` or an offset) and the
    // ISO 8601 local form without a zone.
    let Some((date, rest)) = s.split_once('T') else {
        return false;
    };
    if !is_date(date) {
        return false;
    }
    let zone_at = rest.find(['Z', '+', '-']);
    match zone_at {
        Some(i) => is_time(&rest[..i]) && is_zone(&rest[i..]),
        None => is_time(rest),
    }
}

fn is_duration(s: &str) -> bool {
    is_go_duration(s) || is_strfmt_duration(s)
}

/// Go's `time.ParseDuration`: `[-+]?(\d*\.?\d+unit)+` or `0`.
fn is_go_duration(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    if s == "0" {
        return true;
    }
    if s.is_empty() {
        return false;
    }
    let units = ["ns", "us", "µs", "μs", "ms", "s", "m", "h"];
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return false;
        }
        rest = &rest[num_len..];
        let Some(unit) = units
            .iter()
            .filter(|u| rest.starts_with(**u))
            .max_by_key(|u| u.len())
        else {
            return false;
        };
        rest = &rest[unit.len()..];
    }
    true
}

/// strfmt's own form: `<n> <unit>` with long unit names (`3 days`, `1 week`).
fn is_strfmt_duration(s: &str) -> bool {
    let units = [
        "ns", "us", "µs", "ms", "s", "sec", "secs", "second", "seconds", "m", "min", "mins",
        "minute", "minutes", "h", "hr", "hrs", "hour", "hours", "d", "day", "days", "w", "wk",
        "wks", "week", "weeks",
    ];
    let t = s.trim();
    let t = t.strip_prefix('-').map(str::trim_start).unwrap_or(t);
    let num_len = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    num_len > 0 && units.contains(&t[num_len..].trim_start())
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn date_time() {
        assert!(is_valid("date-time", "2024-01-02T03:04:05Z"));
        assert!(is_valid("date-time", "2024-01-02T03:04:05.123+01:00"));
        assert!(is_valid("date-time", "2024-01-02T03:04:05"));
        assert!(!is_valid("date-time", "2024-01-02 03:04:05Z"));
        assert!(!is_valid("date-time", "2024-02-30T03:04:05Z"));
        assert!(!is_valid("date-time", "yesterday"));
    }

    #[test]
    fn dates_and_durations() {
        assert!(is_valid("date", "2024-02-29"));
        assert!(!is_valid("date", "2023-02-29"));
        assert!(is_valid("duration", "1h30m"));
        assert!(is_valid("duration", "1.5s"));
        assert!(is_valid("duration", "3 days"));
        assert!(!is_valid("duration", "soon"));
    }

    #[test]
    fn network_formats() {
        assert!(is_valid("ipv4", "10.0.0.1"));
        assert!(!is_valid("ipv4", "10.0.0.256"));
        assert!(is_valid("ipv6", "::1"));
        assert!(!is_valid("ipv6", "10.0.0.1"));
        assert!(is_valid("cidr", "10.0.0.0/8"));
        assert!(!is_valid("cidr", "10.0.0.0/33"));
        assert!(is_valid("mac", "00:1a:2b:3c:4d:5e"));
        assert!(!is_valid("mac", "00:1a:2b"));
        assert!(is_valid("hostname", "example.com"));
        assert!(is_valid("hostname", "localhost"));
        assert!(!is_valid("hostname", "-bad.com"));
        assert!(!is_valid("hostname", "a b"));
        assert!(is_valid("uri", "https://example.com/x"));
        assert!(!is_valid("uri", "example"));
        assert!(is_valid("email", "a@example.com"));
        assert!(!is_valid("email", "a.example.com"));
    }

    #[test]
    fn identifiers() {
        assert!(is_valid("uuid", "123e4567-e89b-12d3-a456-426614174000"));
        assert!(!is_valid("uuid", "123e4567e89b12d3a456426614174000"));
        assert!(is_valid("uuid4", "123e4567-e89b-42d3-a456-426614174000"));
        assert!(!is_valid("uuid4", "123e4567-e89b-12d3-a456-426614174000"));
        assert!(is_valid("byte", "aGVsbG8="));
        assert!(!is_valid("byte", "aGVsbG8"));
        assert!(is_valid("isbn10", "0-306-40615-2"));
        assert!(is_valid("isbn13", "978-0-306-40615-7"));
        assert!(is_valid("creditcard", "4111 1111 1111 1111"));
        assert!(!is_valid("creditcard", "4111 1111 1111 1112"));
        assert!(is_valid("ssn", "123-45-6789"));
        assert!(is_valid("hexcolor", "#fff"));
        assert!(is_valid("rgbcolor", "rgb(1, 2, 255)"));
        assert!(!is_valid("rgbcolor", "rgb(1, 2, 256)"));
        assert!(is_valid("password", "anything"));
        assert!(is_valid("bsonobjectid", "507f1f77bcf86cd799439011"));
    }
}
