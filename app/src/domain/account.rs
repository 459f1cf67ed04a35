//! Accounts: the e-mail address and password rules, and roles.
//!
//! Input is parsed once at the boundary into these types; the browser runs the same
//! functions to show errors as the user types.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The shortest password accepted.
pub const PASSWORD_MIN_CHARS: usize = 10;
/// The longest password accepted (bounds the cost of hashing).
pub const PASSWORD_MAX_CHARS: usize = 256;
const EMAIL_MAX_CHARS: usize = 254;

/// A syntactically valid e-mail address, trimmed and lower-cased.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses an address: one `@`, a non-empty local part, and a domain with a dot,
    /// no spaces, at most 254 characters.
    pub fn parse(input: &str) -> Result<Self, String> {
        let email = input.trim().to_lowercase();
        if email.is_empty() {
            return Err("Enter your e-mail address.".into());
        }
        if email.chars().count() > EMAIL_MAX_CHARS {
            return Err("That e-mail address is too long.".into());
        }
        let shape_error = || "Enter an e-mail address like name@example.com.".to_string();
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(shape_error());
        }
        let (local, domain) = email.split_once('@').ok_or_else(shape_error)?;
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .split('.')
                .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
        if local.is_empty() || !domain_ok {
            return Err(shape_error());
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password that meets the length rules. It deliberately implements neither
/// `Serialize` nor `Display`, and its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(input: &str) -> Result<Self, String> {
        let chars = input.chars().count();
        if chars < PASSWORD_MIN_CHARS {
            return Err(format!(
                "Use at least {PASSWORD_MIN_CHARS} characters ({chars} so far)."
            ));
        }
        if chars > PASSWORD_MAX_CHARS {
            return Err(format!("Use at most {PASSWORD_MAX_CHARS} characters."));
        }
        if input.trim().is_empty() {
            return Err("A password cannot be only spaces.".into());
        }
        Ok(Self(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword([redacted])")
    }
}

/// What a user may do. Checked on the server on every call; the UI only mirrors it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Subscriber,
    Admin,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Subscriber => "subscriber",
            Role::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "subscriber" => Some(Role::Subscriber),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub const fn is_admin(self) -> bool {
        matches!(self, Role::Admin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
    }

    #[test]
    fn email_accepts_common_shapes() {
        for ok in [
            "a@b.co",
            "first.last+tag@sub.example.org",
            "x_y@domain-name.io",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok} should be accepted");
        }
    }

    #[test]
    fn email_rejects_bad_shapes() {
        for bad in [
            "",
            "   ",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@@b.com",
            "a@b@c.com",
            "a b@c.com",
            "a@.com",
            "a@com.",
            "a@b..com",
            "a@-b.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).unwrap_err().contains("too long"));
    }

    #[test]
    fn password_length_rules() {
        assert!(
            NewPassword::parse("123456789")
                .unwrap_err()
                .contains("at least 10")
        );
        assert!(NewPassword::parse("1234567890").is_ok());
        assert!(NewPassword::parse(&"x".repeat(257)).is_err());
        assert!(NewPassword::parse(&"x".repeat(256)).is_ok());
        assert!(
            NewPassword::parse("          ")
                .unwrap_err()
                .contains("spaces")
        );
        // Characters, not bytes: ten multi-byte characters are enough.
        assert!(NewPassword::parse("éééééééééé").is_ok());
    }

    #[test]
    fn password_debug_is_redacted() {
        let p = NewPassword::parse("correct horse battery").unwrap();
        assert_eq!(format!("{p:?}"), "NewPassword([redacted])");
    }

    #[test]
    fn roles_round_trip() {
        for role in [Role::Subscriber, Role::Admin] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
        assert!(Role::Admin.is_admin() && !Role::Subscriber.is_admin());
    }
}
