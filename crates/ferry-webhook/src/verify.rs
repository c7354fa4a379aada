//! Constant-time checks of HMAC signatures and shared tokens.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::AuthFailure;

type HmacSha256 = Hmac<Sha256>;

/// The `sha256=<hex>` header value for `body` signed with `secret`: what GitHub sends in
/// `X-Hub-Signature-256`, Bitbucket Server in `X-Hub-Signature`, and what a generic sender
/// must send in `X-Ferry-Signature-256`.
pub fn signature_header_value(secret: &[u8], body: &[u8]) -> String {
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this branch is unreachable.
        Err(_) => return String::new(),
    };
    Mac::update(&mut mac, body);
    let tag = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for byte in tag.iter() {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Checks a `sha256=<hex>` header against the HMAC-SHA256 of `body` under `secret`, in
/// constant time (`verify_slice`). `header` is only used to name the header in the failure.
pub(crate) fn verify_hmac_sha256(
    header: &'static str,
    value: Option<&str>,
    secret: &str,
    body: &[u8],
) -> Result<(), AuthFailure> {
    let tag = signature_tag(header, value)?;
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
        .map_err(|_| AuthFailure::Mismatch { header })?;
    Mac::update(&mut mac, body);
    mac.verify_slice(&tag)
        .map_err(|_| AuthFailure::Mismatch { header })
}

/// The HMAC tag of a `sha256=<64 hex digits>` header, or why there is none: what can be
/// checked of a signature before the body it signs is read.
pub(crate) fn signature_tag(
    header: &'static str,
    value: Option<&str>,
) -> Result<Vec<u8>, AuthFailure> {
    let value = value.ok_or(AuthFailure::Missing { header })?;
    let hex = value
        .trim()
        .strip_prefix("sha256=")
        .ok_or(AuthFailure::Malformed { header })?;
    let tag = decode_hex(hex).ok_or(AuthFailure::Malformed { header })?;
    if tag.len() != 32 {
        return Err(AuthFailure::Malformed { header });
    }
    Ok(tag)
}

/// Compares a shared token with the configured one in constant time, also hiding its length
/// (both are hashed first).
pub(crate) fn verify_token(
    header: &'static str,
    value: Option<&str>,
    secret: &str,
) -> Result<(), AuthFailure> {
    let value = value.ok_or(AuthFailure::Missing { header })?;
    if tokens_equal(value, secret) {
        Ok(())
    } else {
        Err(AuthFailure::Mismatch { header })
    }
}

pub(crate) fn tokens_equal(a: &str, b: &str) -> bool {
    let a = Sha256::digest(a.as_bytes());
    let b = Sha256::digest(b.as_bytes());
    bool::from(a.as_slice().ct_eq(b.as_slice()))
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let bytes = hex.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "X-Hub-Signature-256";

    #[test]
    fn known_vector() {
        // RFC 4231 test case 2.
        let sig = signature_header_value(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
        assert_eq!(
            signature_header_value(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn verifies() {
        let body = b"{}";
        let good = signature_header_value(b"s3cret", body);
        assert_eq!(verify_hmac_sha256(H, Some(&good), "s3cret", body), Ok(()));
        assert_eq!(
            verify_hmac_sha256(
                H,
                Some(&good.to_ascii_uppercase().replace("SHA256=", "sha256=")),
                "s3cret",
                body
            ),
            Ok(())
        );
        assert_eq!(
            verify_hmac_sha256(H, Some(&good), "other", body),
            Err(AuthFailure::Mismatch { header: H })
        );
        assert_eq!(
            verify_hmac_sha256(H, Some(&good), "s3cret", b"{ }"),
            Err(AuthFailure::Mismatch { header: H })
        );
        assert_eq!(
            verify_hmac_sha256(H, None, "s3cret", body),
            Err(AuthFailure::Missing { header: H })
        );
        for bad in [
            "",
            "sha256=",
            "sha1=abcd",
            "sha256=zz",
            "sha256=abc",
            &good[7..],
            "sha256=00",
        ] {
            assert_eq!(
                verify_hmac_sha256(H, Some(bad), "s3cret", body),
                Err(AuthFailure::Malformed { header: H }),
                "{bad}"
            );
        }
    }

    #[test]
    fn tokens() {
        assert_eq!(verify_token("X-Gitlab-Token", Some("abc"), "abc"), Ok(()));
        assert!(verify_token("X-Gitlab-Token", Some("abd"), "abc").is_err());
        assert!(verify_token("X-Gitlab-Token", Some("abcd"), "abc").is_err());
        assert!(verify_token("X-Gitlab-Token", Some(""), "abc").is_err());
        assert!(verify_token("X-Gitlab-Token", None, "abc").is_err());
    }
}
