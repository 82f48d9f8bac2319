//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): HMAC-SHA-1, 30-second
//! steps, 6 digits — what every authenticator app implements.

use super::digest::DigestAlg;
use super::hmac::Hmac;
use super::Result;

/// Seconds per time step.
pub const STEP: u64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;

/// The HOTP value of `secret` at counter `step` (RFC 4226 §5.3).
pub fn code(secret: &[u8], step: u64) -> Result<u32> {
    let mut mac = Hmac::new(DigestAlg::Sha1, secret)?;
    mac.update(&step.to_be_bytes());
    let h = mac.finish();
    let offset = usize::from(h[h.len() - 1] & 0x0f);
    let bin = u32::from_be_bytes([
        h[offset] & 0x7f,
        h[offset + 1],
        h[offset + 2],
        h[offset + 3],
    ]);
    Ok(bin % 10u32.pow(DIGITS as u32))
}

/// The time step a code typed at `unix_seconds` matches: the current step or one either
/// side (clock drift), or None.
pub fn matching_step(secret: &[u8], typed: &[u8], unix_seconds: u64) -> Result<Option<u64>> {
    let Some(typed) = std::str::from_utf8(typed)
        .ok()
        .filter(|t| t.len() == DIGITS && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<u32>().ok())
    else {
        return Ok(None);
    };
    let now = unix_seconds / STEP;
    for step in [now, now.saturating_sub(1), now + 1] {
        // Constant time is not needed here: the code is only checked after the PIN unlocked
        // the master key, and each step is accepted once.
        if code(secret, step)? == typed {
            return Ok(Some(step));
        }
    }
    Ok(None)
}

/// The `otpauth://` URI authenticator apps enrol from (Key URI Format).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let secret = data_encoding::BASE32_NOPAD.encode(secret);
    format!(
        "otpauth://totp/{}:{}?secret={secret}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        enc(issuer),
        enc(account),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (8-digit values; their last 6 digits).
    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890";
        for (t, expect) in [
            (59u64, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(code(secret, t / STEP).unwrap(), expect % 1_000_000, "t={t}");
        }
    }

    #[test]
    fn codes_match_their_step_and_neighbours_only() {
        let s = b"secret-secret-secret";
        let t = 1_700_000_000;
        let c = format!("{:06}", code(s, t / STEP).unwrap());
        assert_eq!(matching_step(s, c.as_bytes(), t).unwrap(), Some(t / STEP));
        assert_eq!(
            matching_step(s, c.as_bytes(), t + STEP).unwrap(),
            Some(t / STEP)
        );
        assert_eq!(matching_step(s, c.as_bytes(), t + 3 * STEP).unwrap(), None);
        assert_eq!(matching_step(s, b"12a456", t).unwrap(), None);
        assert!(
            otpauth_uri("Keyward", "alice", s).starts_with("otpauth://totp/Keyward:alice?secret=")
        );
    }
}
