//! The Claimant aggregate: identity (PII) and the flags agents must see.
//!
//! All personally identifying data of a claimant lives in [`ClaimantPii`],
//! carried by exactly two events in exactly one field, so that it can be
//! encrypted per person (and crypto-shredded) without touching any other
//! event. Case events refer to the claimant by [`ClaimantId`] only.

use crate::error::DomainError;
use crate::ids::{ActorId, ClaimantId, FileNumber, IdentityNumber};
use crate::text::Text;
use crate::Ctx;
use chrono::NaiveDate;

/// Personally identifying data. Never logged (its `Debug` is redacted).
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimantPii {
    pub file_number: FileNumber,
    pub identity_number: Option<IdentityNumber>,
    pub given_name: Text,
    pub family_name: Text,
    pub birth_date: NaiveDate,
    /// Postal code; with names and birth date it identifies unmatched mail.
    pub postcode: Text,
    pub address_lines: Vec<Text>,
}

impl std::fmt::Debug for ClaimantPii {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClaimantPii(<redacted>)")
    }
}

/// Someone holding power of attorney for the claimant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Representative {
    /// The representative's principal (as it appears in their tokens).
    pub actor: ActorId,
    /// Power-of-attorney code of the accredited organization.
    pub poa_code: Text,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guardian {
    pub actor: ActorId,
    pub relationship: Text,
}

/// Why a record is restricted (needs the `SENSITIVE` permission).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Restriction {
    /// The claimant works for the agency; colleagues (staff of the same
    /// `office`) must not handle it at all.
    AgencyEmployee {
        office: Option<Text>,
    },
    ProtectedAddress,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// Safety flags agents must see first (e.g. threat history).
    pub safety: Vec<Text>,
    /// Accessibility needs (e.g. large print, interpreter).
    pub accessibility: Vec<Text>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimantCommand {
    Register { id: ClaimantId, pii: ClaimantPii },
    CorrectPii { pii: ClaimantPii },
    SetRepresentative(Option<Representative>),
    SetGuardian(Option<Guardian>),
    SetFlags(Flags),
    SetRestriction(Option<Restriction>),
}

impl ClaimantCommand {
    /// The command's name, for metrics, event metadata and fingerprints.
    pub fn name(&self) -> &'static str {
        match self {
            ClaimantCommand::Register { .. } => "RegisterClaimant",
            ClaimantCommand::CorrectPii { .. } => "CorrectPii",
            ClaimantCommand::SetRepresentative(_) => "SetRepresentative",
            ClaimantCommand::SetGuardian(_) => "SetGuardian",
            ClaimantCommand::SetFlags(_) => "SetFlags",
            ClaimantCommand::SetRestriction(_) => "SetRestriction",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimantEvent {
    ClaimantRegistered {
        id: ClaimantId,
        pii: ClaimantPii,
    },
    PiiCorrected {
        pii: ClaimantPii,
    },
    RepresentativeChanged {
        representative: Option<Representative>,
    },
    GuardianChanged {
        guardian: Option<Guardian>,
    },
    FlagsChanged {
        flags: Flags,
    },
    RestrictionChanged {
        restriction: Option<Restriction>,
    },
}

impl ClaimantEvent {
    pub fn name(&self) -> &'static str {
        match self {
            ClaimantEvent::ClaimantRegistered { .. } => "ClaimantRegistered",
            ClaimantEvent::PiiCorrected { .. } => "PiiCorrected",
            ClaimantEvent::RepresentativeChanged { .. } => "RepresentativeChanged",
            ClaimantEvent::GuardianChanged { .. } => "GuardianChanged",
            ClaimantEvent::FlagsChanged { .. } => "FlagsChanged",
            ClaimantEvent::RestrictionChanged { .. } => "RestrictionChanged",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimantRecord {
    pub id: ClaimantId,
    pub pii: ClaimantPii,
    pub representative: Option<Representative>,
    pub guardian: Option<Guardian>,
    pub flags: Flags,
    pub restriction: Option<Restriction>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Claimant {
    #[default]
    Unknown,
    Registered(Box<ClaimantRecord>),
}

impl Restriction {
    pub fn code(&self) -> &'static str {
        match self {
            Restriction::AgencyEmployee { .. } => "AGENCY_EMPLOYEE",
            Restriction::ProtectedAddress => "PROTECTED_ADDRESS",
        }
    }

    /// The office whose staff must not handle this record.
    pub fn office(&self) -> Option<&Text> {
        match self {
            Restriction::AgencyEmployee { office } => office.as_ref(),
            Restriction::ProtectedAddress => None,
        }
    }
}

impl Claimant {
    pub fn record(&self) -> Option<&ClaimantRecord> {
        match self {
            Claimant::Unknown => None,
            Claimant::Registered(r) => Some(r),
        }
    }

    pub fn evolve(self, event: &ClaimantEvent) -> Claimant {
        let mut record = match (self, event) {
            (Claimant::Unknown, ClaimantEvent::ClaimantRegistered { id, pii }) => {
                return Claimant::Registered(Box::new(ClaimantRecord {
                    id: *id,
                    pii: pii.clone(),
                    representative: None,
                    guardian: None,
                    flags: Flags::default(),
                    restriction: None,
                }))
            }
            (Claimant::Unknown, _) => return Claimant::Unknown,
            (Claimant::Registered(r), _) => r,
        };
        match event {
            ClaimantEvent::ClaimantRegistered { .. } => {}
            ClaimantEvent::PiiCorrected { pii } => record.pii = pii.clone(),
            ClaimantEvent::RepresentativeChanged { representative } => {
                record.representative = representative.clone()
            }
            ClaimantEvent::GuardianChanged { guardian } => record.guardian = guardian.clone(),
            ClaimantEvent::FlagsChanged { flags } => record.flags = flags.clone(),
            ClaimantEvent::RestrictionChanged { restriction } => {
                record.restriction = restriction.clone()
            }
        }
        Claimant::Registered(record)
    }

    /// Unchanged values produce no event, so repeated settings are harmless.
    pub fn decide(
        &self,
        command: &ClaimantCommand,
        _ctx: &Ctx,
    ) -> Result<Vec<ClaimantEvent>, DomainError> {
        use ClaimantCommand as C;
        use ClaimantEvent as E;
        let record = match (self, command) {
            (Claimant::Unknown, C::Register { id, pii }) => {
                return Ok(vec![E::ClaimantRegistered {
                    id: *id,
                    pii: pii.clone(),
                }])
            }
            (Claimant::Registered(_), C::Register { .. }) => {
                return Err(DomainError::ClaimantAlreadyRegistered)
            }
            (Claimant::Unknown, _) => return Err(DomainError::ClaimantNotFound),
            (Claimant::Registered(r), _) => r,
        };
        let changed = |same: bool, event: E| if same { Vec::new() } else { vec![event] };
        Ok(match command {
            C::Register { .. } => return Err(DomainError::ClaimantAlreadyRegistered),
            C::CorrectPii { pii } => {
                changed(record.pii == *pii, E::PiiCorrected { pii: pii.clone() })
            }
            C::SetRepresentative(rep) => changed(
                record.representative == *rep,
                E::RepresentativeChanged {
                    representative: rep.clone(),
                },
            ),
            C::SetGuardian(g) => changed(
                record.guardian == *g,
                E::GuardianChanged {
                    guardian: g.clone(),
                },
            ),
            C::SetFlags(flags) => changed(
                record.flags == *flags,
                E::FlagsChanged {
                    flags: flags.clone(),
                },
            ),
            C::SetRestriction(r) => changed(
                record.restriction == *r,
                E::RestrictionChanged {
                    restriction: r.clone(),
                },
            ),
        })
    }
}
