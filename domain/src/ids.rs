//! Identifiers and small value types. Parse, don't validate: a value of one
//! of these types is valid by construction.

use crate::error::ParseError;
use std::fmt;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh time-ordered (v7) id. Call it outside `decide`.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A case: the aggregate and its stream id.
    CaseId
);
uuid_id!(
    /// A claimant (person); the claimant aggregate's stream id.
    ClaimantId
);
uuid_id!(
    /// One channel entry (submission) on a case.
    EntryId
);
uuid_id!(
    /// A document received on a case.
    DocumentId
);
uuid_id!(
    /// An evidence request (tracked item).
    RequestId
);
uuid_id!(
    /// One contention (issue claimed) of a case.
    ContentionId
);
uuid_id!(
    /// A recorded contact or note.
    ContactId
);
uuid_id!(
    /// One stored event.
    EventId
);

/// Checks `raw` against a simple character-class pattern and length bounds.
fn code_like(
    field: &'static str,
    raw: &str,
    min: usize,
    max: usize,
    first: fn(char) -> bool,
    rest: fn(char) -> bool,
) -> Result<String, ParseError> {
    let mut chars = raw.chars();
    let len = raw.chars().count();
    if len < min || len > max {
        return Err(ParseError::new(field, "has the wrong length"));
    }
    match chars.next() {
        Some(c) if first(c) => {}
        _ => return Err(ParseError::new(field, "has an invalid first character")),
    }
    if !chars.all(rest) {
        return Err(ParseError::new(field, "contains invalid characters"));
    }
    Ok(raw.to_owned())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $field:literal, $min:expr, $max:expr, $first:expr, $rest:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, ParseError> {
                code_like($field, raw, $min, $max, $first, $rest).map(Self)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

fn lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}
fn slug_char(c: char) -> bool {
    lower_alnum(c) || c == '-'
}
fn upper(c: char) -> bool {
    c.is_ascii_uppercase()
}
fn upper_code_char(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'
}
fn visible(c: char) -> bool {
    printable(c) && !c.is_whitespace()
}
fn printable(c: char) -> bool {
    !c.is_control() && !crate::text::is_hidden_format(c)
}

string_id!(
    /// An agency using this deployment: a lowercase slug (`va-east`). Taken
    /// from the authenticated principal, never from request data.
    TenantId, "tenant", 1, 63, lower_alnum, slug_char
);
string_id!(
    /// Who acts: a staff id, a citizen's subject, an integrator or `system`.
    ActorId, "actor", 1, 128, visible, visible
);
string_id!(
    /// The id a channel gives a submission (portal submission id, scan
    /// document id, counter receipt number, call id).
    ExternalId, "externalId", 1, 200, visible, printable
);
string_id!(
    /// A client's idempotency key for a command (scoped by the caller).
    ClientKey, "idempotencyKey", 1, 200, visible, printable
);
string_id!(
    /// A tenant-configured benefit type code (`COMPENSATION`, `PENSION`).
    BenefitType, "benefitType", 1, 40, upper, upper_code_char
);
string_id!(
    /// A work team (`intake-east`).
    TeamCode, "team", 1, 63, lower_alnum, slug_char
);
string_id!(
    /// A document type code (`DD214`, `MEDICAL_RECORD`, `CLAIM_FORM`).
    DocumentType, "documentType", 1, 40, upper_code_char, upper_code_char
);
string_id!(
    /// Where the document's bytes live (object key, DMS reference).
    StorageRef, "storageRef", 1, 1024, visible, printable
);

/// A claimant's file number: 8 or 9 digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileNumber(String);

impl FileNumber {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let raw = raw.trim();
        if !(8..=9).contains(&raw.len()) || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::new("fileNumber", "must be 8 or 9 digits"));
        }
        Ok(Self(raw.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// All but the last four digits hidden: `*****6789`.
    pub fn masked(&self) -> String {
        let keep = &self.0[self.0.len() - 4..];
        format!("{}{keep}", "*".repeat(self.0.len() - 4))
    }
}

/// A national identity number (9 digits), shown masked by default.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdentityNumber(String);

impl IdentityNumber {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let digits: String = raw.chars().filter(|c| *c != '-').collect();
        if digits.len() != 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::new("identityNumber", "must be 9 digits"));
        }
        Ok(Self(digits))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// `***-**-6789`.
    pub fn masked(&self) -> String {
        format!("***-**-{}", &self.0[5..])
    }
}

impl fmt::Debug for IdentityNumber {
    // Never print the full number, even in debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityNumber({})", self.masked())
    }
}

/// A document checksum, `sha256:` followed by 64 lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Checksum(String);

impl Checksum {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let hex = raw
            .strip_prefix("sha256:")
            .ok_or(ParseError::new("checksum", "must start with sha256:"))?;
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(ParseError::new(
                "checksum",
                "must be 64 lowercase hex digits",
            ));
        }
        Ok(Self(raw.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_number_is_8_or_9_digits() {
        assert!(FileNumber::parse("12345678").is_ok());
        assert!(FileNumber::parse("123456789").is_ok());
        assert!(FileNumber::parse("1234567").is_err());
        assert!(FileNumber::parse("1234567890").is_err());
        assert!(FileNumber::parse("12345678a").is_err());
        assert_eq!(
            FileNumber::parse("123456789").map(|f| f.masked()),
            Ok("*****6789".to_owned())
        );
    }

    #[test]
    fn identity_number_masks_and_hides_in_debug() {
        let n = IdentityNumber::parse("123-45-6789");
        assert_eq!(n.as_ref().map(|n| n.masked()), Ok("***-**-6789".to_owned()));
        assert_eq!(
            n.map(|n| format!("{n:?}")),
            Ok("IdentityNumber(***-**-6789)".to_owned())
        );
    }

    #[test]
    fn codes_and_slugs() {
        assert!(TenantId::parse("va-east").is_ok());
        assert!(TenantId::parse("VA").is_err());
        assert!(TenantId::parse("-x").is_err());
        assert!(BenefitType::parse("COMPENSATION").is_ok());
        assert!(BenefitType::parse("compensation").is_err());
        assert!(ExternalId::parse("").is_err());
        assert!(ExternalId::parse("scan 42/7").is_ok());
        assert!(Checksum::parse(&format!("sha256:{}", "a".repeat(64))).is_ok());
        assert!(Checksum::parse("md5:abc").is_err());
    }
}
