//! The unique keys the engine claims in the log (an open claim, an active
//! appeal, a file number) and the fingerprint of a person's data.

use domain::case::AppealLink;
use domain::claimant::ClaimantPii;
use domain::*;
use sha2::{Digest, Sha256};
use store::UniqueKey;

/// The open claim of a claimant for a benefit: at most one case holds it.
pub(crate) fn open_claim_key(claimant: ClaimantId, benefit: &BenefitType) -> UniqueKey {
    UniqueKey {
        scope: "open-claim".into(),
        key: format!("{claimant}:{benefit}"),
    }
}

pub(crate) fn appeal_key(link: &AppealLink) -> UniqueKey {
    UniqueKey {
        scope: "active-appeal".into(),
        key: format!("{}:{}", link.original_case, link.contention),
    }
}

/// File numbers are kept out of the index in clear text.
pub(crate) fn file_number_key(file_number: &FileNumber) -> UniqueKey {
    UniqueKey {
        scope: "file-number".into(),
        key: store::file_number_digest(file_number),
    }
}

pub(crate) fn sha256_hex(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

pub(crate) fn pii_fingerprint(pii: &ClaimantPii) -> String {
    let birth = pii.birth_date.to_string();
    let mut parts = vec![
        pii.file_number.as_str(),
        pii.given_name.as_str(),
        pii.family_name.as_str(),
        birth.as_str(),
        pii.postcode.as_str(),
    ];
    if let Some(n) = &pii.identity_number {
        parts.push(n.as_str());
    }
    parts.extend(pii.address_lines.iter().map(|l| l.as_str()));
    sha256_hex(&parts)
}
