//! Given/when/then tests of the Claimant decider.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use domain::claimant::*;
use domain::*;
use support::*;

use ClaimantCommand as C;
use ClaimantEvent as E;

fn pii() -> ClaimantPii {
    ClaimantPii {
        file_number: FileNumber::parse("123456789").unwrap(),
        identity_number: Some(IdentityNumber::parse("987-65-4321").unwrap()),
        given_name: text("Ada"),
        family_name: text("Lovelace"),
        birth_date: day(1970, 5, 17),
        postcode: text("20420"),
        address_lines: vec![text("810 Vermont Avenue NW")],
    }
}

fn corrected_pii() -> ClaimantPii {
    ClaimantPii {
        family_name: text("King"),
        ..pii()
    }
}

fn registered() -> Vec<ClaimantEvent> {
    vec![E::ClaimantRegistered {
        id: claimant_id(1),
        pii: pii(),
    }]
}

fn representative() -> Representative {
    Representative {
        actor: actor_id("rep-42"),
        poa_code: text("074"),
    }
}

fn guardian() -> Guardian {
    Guardian {
        actor: actor_id("guardian-3"),
        relationship: text("Spouse"),
    }
}

fn flags() -> Flags {
    Flags {
        safety: vec![text("Threat history: do not visit alone")],
        accessibility: vec![text("Large print")],
    }
}

fn every_non_register_command() -> Vec<ClaimantCommand> {
    vec![
        C::CorrectPii {
            pii: corrected_pii(),
        },
        C::SetRepresentative(Some(representative())),
        C::SetGuardian(Some(guardian())),
        C::SetFlags(flags()),
        C::SetRestriction(Some(Restriction::AgencyEmployee { office: None })),
    ]
}

#[test]
fn an_unknown_claimant_is_registered() {
    let then = given_claimant([])
        .when(C::Register {
            id: claimant_id(1),
            pii: pii(),
        })
        .then(registered());
    let record = then.record();
    assert_eq!(record.id, claimant_id(1));
    assert_eq!(record.pii, pii());
    assert_eq!(record.representative, None);
    assert_eq!(record.guardian, None);
    assert_eq!(record.flags, Flags::default());
    assert_eq!(record.restriction, None);
}

#[test]
fn a_claimant_is_registered_once() {
    given_claimant(registered())
        .when(C::Register {
            id: claimant_id(1),
            pii: pii(),
        })
        .then_err("CLAIMANT_ALREADY_REGISTERED");
}

#[test]
fn every_other_command_needs_a_registered_claimant() {
    for command in every_non_register_command() {
        given_claimant([])
            .when(command)
            .then_error(DomainError::ClaimantNotFound);
    }
}

#[test]
fn pii_is_corrected() {
    let then = given_claimant(registered())
        .when(C::CorrectPii {
            pii: corrected_pii(),
        })
        .then(vec![E::PiiCorrected {
            pii: corrected_pii(),
        }]);
    assert_eq!(then.record().pii.family_name, text("King"));
}

#[test]
fn unchanged_settings_produce_no_event() {
    let history = vec![
        E::ClaimantRegistered {
            id: claimant_id(1),
            pii: pii(),
        },
        E::RepresentativeChanged {
            representative: Some(representative()),
        },
        E::GuardianChanged {
            guardian: Some(guardian()),
        },
        E::FlagsChanged { flags: flags() },
        E::RestrictionChanged {
            restriction: Some(Restriction::ProtectedAddress),
        },
    ];
    for command in [
        C::CorrectPii { pii: pii() },
        C::SetRepresentative(Some(representative())),
        C::SetGuardian(Some(guardian())),
        C::SetFlags(flags()),
        C::SetRestriction(Some(Restriction::ProtectedAddress)),
    ] {
        given_claimant(history.clone()).when(command).then_nothing();
    }
    // Clearing what was never set is also a no-op.
    for command in [
        C::SetRepresentative(None),
        C::SetGuardian(None),
        C::SetFlags(Flags::default()),
        C::SetRestriction(None),
    ] {
        given_claimant(registered()).when(command).then_nothing();
    }
}

#[test]
fn a_representative_is_set_and_cleared() {
    let then = given_claimant(registered())
        .when(C::SetRepresentative(Some(representative())))
        .then(vec![E::RepresentativeChanged {
            representative: Some(representative()),
        }]);
    assert_eq!(then.record().representative, Some(representative()));
    let then = given_claimant(then.history)
        .when(C::SetRepresentative(None))
        .then(vec![E::RepresentativeChanged {
            representative: None,
        }]);
    assert_eq!(then.record().representative, None);
}

#[test]
fn a_guardian_is_set_and_cleared() {
    let then = given_claimant(registered())
        .when(C::SetGuardian(Some(guardian())))
        .then(vec![E::GuardianChanged {
            guardian: Some(guardian()),
        }]);
    assert_eq!(then.record().guardian, Some(guardian()));
    let then = given_claimant(then.history)
        .when(C::SetGuardian(None))
        .then(vec![E::GuardianChanged { guardian: None }]);
    assert_eq!(then.record().guardian, None);
}

#[test]
fn safety_and_accessibility_flags_are_set() {
    let then = given_claimant(registered())
        .when(C::SetFlags(flags()))
        .then(vec![E::FlagsChanged { flags: flags() }]);
    assert_eq!(then.record().flags, flags());
}

#[test]
fn a_record_is_restricted_and_the_restriction_changes() {
    let then = given_claimant(registered())
        .when(C::SetRestriction(Some(Restriction::AgencyEmployee {
            office: None,
        })))
        .then(vec![E::RestrictionChanged {
            restriction: Some(Restriction::AgencyEmployee { office: None }),
        }]);
    assert_eq!(
        then.record().restriction,
        Some(Restriction::AgencyEmployee { office: None })
    );
    let then = given_claimant(then.history)
        .when(C::SetRestriction(Some(Restriction::ProtectedAddress)))
        .then(vec![E::RestrictionChanged {
            restriction: Some(Restriction::ProtectedAddress),
        }]);
    assert_eq!(
        then.record().restriction,
        Some(Restriction::ProtectedAddress)
    );
    let then = given_claimant(then.history)
        .when(C::SetRestriction(None))
        .then(vec![E::RestrictionChanged { restriction: None }]);
    assert_eq!(then.record().restriction, None);
}

#[test]
fn events_before_registration_are_ignored_by_the_fold() {
    let state: Claimant = fold(&[E::FlagsChanged { flags: flags() }]);
    assert_eq!(state, Claimant::Unknown);
}

#[test]
fn pii_never_appears_in_debug_output() {
    let outputs = [
        format!("{:?}", pii()),
        format!("{:?}", registered()),
        format!(
            "{:?}",
            C::Register {
                id: claimant_id(1),
                pii: pii()
            }
        ),
        format!("{:?}", fold::<Claimant>(&registered())),
    ];
    for out in outputs {
        for secret in ["123456789", "987654321", "Ada", "Lovelace", "1970", "20420"] {
            assert!(!out.contains(secret), "{secret} leaked in {out}");
        }
    }
}

#[test]
fn event_names_are_stable() {
    let names: Vec<_> = [
        registered().remove(0),
        E::PiiCorrected { pii: pii() },
        E::RepresentativeChanged {
            representative: None,
        },
        E::GuardianChanged { guardian: None },
        E::FlagsChanged { flags: flags() },
        E::RestrictionChanged { restriction: None },
    ]
    .iter()
    .map(|e| e.name())
    .collect();
    assert_eq!(
        names,
        [
            "ClaimantRegistered",
            "PiiCorrected",
            "RepresentativeChanged",
            "GuardianChanged",
            "FlagsChanged",
            "RestrictionChanged"
        ]
    );
}
