//! Serde for the enums that have a stable code: documents that store them
//! (the read models) carry the code (`"GATHERING_OF_EVIDENCE"`), one code
//! per variant from the enum's own `code()`, and an unknown code is an
//! error that names it, never a guess.

/// Serialize as `code()`, deserialize with `from_code()`.
macro_rules! serde_by_code {
    ($($ty:ty => $what:literal),* $(,)?) => {$(
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let code = String::deserialize(d)?;
                <$ty>::from_code(&code).ok_or_else(|| {
                    serde::de::Error::custom(format_args!("unknown {} `{}`", $what, code))
                })
            }
        }
    )*};
}

serde_by_code! {
    crate::status::Phase => "phase",
    crate::status::CitizenStatus => "claim status",
    crate::status::RequestStatus => "request status",
    crate::case::Adjudication => "adjudication",
    crate::case::ClaimOutcome => "claim outcome",
    crate::case::DecisionStatus => "decision status",
    crate::case::RequestKind => "request kind",
}
