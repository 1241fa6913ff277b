//! Synthetic data for demos, tests and benchmarks (`omnicase seed
//! --claimants N --claims M`).
//!
//! [`plan`] is pure and deterministic: the same seed, claimant count and
//! claim count always give the same [`Plan`], byte for byte. A plan holds
//! realistic claimants, channel-submission documents (v1) for the claims
//! filed through the web portal, at the counter and by phone, and mail-scan
//! batch manifests (v1) with claim forms, evidence for existing claimants,
//! a few bad documents and a few letters from nobody we know.
//!
//! The documents are typed ([`documents`]): what the load files is what
//! the plan says, with nothing read back by key.
//!
//! [`load`] files a plan through the ordinary paths (engine registration,
//! [`intake::Intake::submit`], [`intake::Intake::ingest_batch`]). Every key
//! is derived from the plan, so loading it again appends nothing.
//!
//! Dates are spread over the 120 days before a fixed [`anchor`] (not the
//! clock), so a plan does not change from one day to the next.

mod documents;
mod load;

pub use documents::{ClaimantRef, Kind, MailBatch, MailDocument, Submission, SubmittedBy, Upload};
pub use load::{load, LoadError, LoadReport};

use chrono::{DateTime, Days, Duration, NaiveDate, Utc};
use domain::{FileNumber, IdentityNumber, Text};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The seed `omnicase seed` uses unless told otherwise.
pub const DEFAULT_SEED: u64 = 42;

/// Benefit types of the built-in `demo` agency (claimed about 10 : 70 : 20).
pub const DEFAULT_BENEFITS: &[&str] = &["BURIAL", "COMPENSATION", "PENSION"];

/// The moment generated dates lead up to: 2026-11-20T17:00:00Z.
pub fn anchor() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_194_000, 0).unwrap_or_default()
}

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub seed: u64,
    pub claimants: usize,
    pub claims: usize,
    /// Dates fall in the 120 days before this.
    pub anchor: DateTime<Utc>,
    /// Benefit types to file claims for; empty: [`DEFAULT_BENEFITS`].
    pub benefits: Vec<String>,
}

impl Options {
    pub fn new(seed: u64, claimants: usize, claims: usize) -> Options {
        Options {
            seed,
            claimants,
            claims,
            anchor: anchor(),
            benefits: Vec::new(),
        }
    }
}

/// One synthetic person (all of it is made up).
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    pub file_number: String,
    pub identity_number: String,
    pub given_name: String,
    pub family_name: String,
    pub birth_date: NaiveDate,
    pub postcode: String,
    pub address_lines: Vec<String>,
}

impl std::fmt::Debug for Person {
    // Synthetic, but treated like real personal data: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Person(<redacted>)")
    }
}

impl Person {
    pub fn pii(&self) -> Result<domain::ClaimantPii, domain::ParseError> {
        Ok(domain::ClaimantPii {
            file_number: FileNumber::parse(&self.file_number)?,
            identity_number: Some(IdentityNumber::parse(&self.identity_number)?),
            given_name: Text::parse("givenName", &self.given_name)?,
            family_name: Text::parse("familyName", &self.family_name)?,
            birth_date: self.birth_date,
            postcode: Text::parse("postcode", &self.postcode)?,
            address_lines: self
                .address_lines
                .iter()
                .map(|l| Text::parse("addressLines", l))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// What a plan intends (the load reports what happened).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub claims: usize,
    /// Claims by the channel they first arrive through.
    pub by_channel: BTreeMap<String, usize>,
    /// Claims that arrive a second time through another channel.
    pub cross_channel_duplicates: usize,
    /// … of which the second arrival has the earlier postmark.
    pub earlier_postmarks: usize,
    pub submissions: usize,
    pub batches: usize,
    pub mail_documents: usize,
    pub claim_forms: usize,
    pub evidence: usize,
    /// Documents a mailroom should reject (no pages, bad checksum, unknown
    /// type, no storage reference).
    pub bad_documents: usize,
    /// Letters that match no claimant.
    pub unidentified_documents: usize,
}

/// A generated data set, in filing order.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub seed: u64,
    /// Registered first (their ids are assigned by the engine).
    pub claimants: Vec<Person>,
    /// Channel submissions v1 (WEB, IN_PERSON, CALL_CENTER), oldest first.
    pub submissions: Vec<Submission>,
    /// Mail-scan batch manifests v1, one or more per scanning day, in order.
    pub batches: Vec<MailBatch>,
    pub stats: Stats,
}

impl Plan {
    /// The plan as JSON bytes (what "byte-identical" compares).
    pub fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}

// ---------------------------------------------------------------------------
// Word lists

#[rustfmt::skip]
const GIVEN_NAMES: &[&str] = &[
    "James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "David", "Linda", "William",
    "Elizabeth", "Carlos", "María", "José", "Guadalupe", "Luis", "Ana", "Wei", "Mei", "Hiroshi",
    "Yuki", "Min-jun", "Ji-woo", "Thanh", "Linh", "Aisha", "Fatima", "Mohammed", "Omar",
    "Kwame", "Amara", "Chinedu", "Ngozi", "Priya", "Arjun", "Sanjay", "Deepa", "Olga", "Dmitri",
    "Katarzyna", "Piotr", "Siobhan", "Liam", "Aroha", "Tane", "Leilani", "Kai", "Ayşe",
    "Mehmet", "Ingrid", "Lars", "Zoë", "Mateo",
];

#[rustfmt::skip]
const FAMILY_NAMES: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson",
    "Taylor", "García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez",
    "Nguyen", "Tran", "Kim", "Park", "Lee", "Chen", "Wang", "Tanaka", "Sato", "Yamamoto",
    "Patel", "Singh", "Sharma", "Khan", "Haddad", "Okafor", "Mensah", "Abebe", "Diallo",
    "Kowalski", "Nowak", "Ivanova", "Petrov", "O'Brien", "Murphy", "Van der Berg", "Müller",
    "Rossi", "Da Silva", "Yılmaz", "Kealoha", "Begay", "Johansson", "Rivera", "Okonkwo",
];

#[rustfmt::skip]
const STREETS: &[&str] = &[
    "Maple", "Oak", "Cedar", "Washington", "Lincoln", "Park", "Lake", "Hill", "Pine", "Elm",
    "Sunset", "River", "Jefferson", "Highland", "Mission", "Magnolia", "Willow", "Church",
];

const STREET_KINDS: &[&str] = &["Street", "Avenue", "Road", "Drive", "Lane", "Court", "Way"];

/// City, state, first three digits of its postcodes.
const CITIES: &[(&str, &str, &str)] = &[
    ("Austin", "TX", "787"),
    ("San Antonio", "TX", "782"),
    ("El Paso", "TX", "799"),
    ("Killeen", "TX", "765"),
    ("Tacoma", "WA", "984"),
    ("Norfolk", "VA", "235"),
    ("Virginia Beach", "VA", "234"),
    ("Jacksonville", "FL", "322"),
    ("Pensacola", "FL", "325"),
    ("San Diego", "CA", "921"),
    ("Fayetteville", "NC", "283"),
    ("Colorado Springs", "CO", "809"),
    ("Honolulu", "HI", "968"),
    ("Anchorage", "AK", "995"),
    ("Columbus", "GA", "319"),
    ("Clarksville", "TN", "370"),
    ("Omaha", "NE", "681"),
    ("Boise", "ID", "837"),
    ("Tucson", "AZ", "857"),
    ("Albuquerque", "NM", "871"),
    ("Detroit", "MI", "482"),
    ("Brooklyn", "NY", "112"),
    ("Chicago", "IL", "606"),
    ("Portland", "ME", "041"),
    ("Window Rock", "AZ", "865"),
];

const COMPENSATION_CONTENTIONS: &[&str] = &[
    "Tinnitus",
    "Bilateral hearing loss",
    "Left knee strain",
    "Right knee strain",
    "Lumbosacral strain (low back pain)",
    "Post-traumatic stress disorder (PTSD)",
    "Migraine headaches",
    "Obstructive sleep apnea",
    "Right shoulder impingement",
    "Plantar fasciitis, both feet",
    "Hypertension",
    "Type 2 diabetes mellitus",
    "Scar, left forearm",
    "Cervical strain (neck pain)",
    "Residuals of traumatic brain injury",
    "Allergic rhinitis",
    "Gastroesophageal reflux disease",
    "Radiculopathy, right lower extremity",
    "Major depressive disorder",
    "Asthma",
];

const PENSION_CONTENTIONS: &[&str] = &[
    "Non-service-connected pension",
    "Aid and attendance",
    "Housebound allowance",
];

const BURIAL_CONTENTIONS: &[&str] = &[
    "Burial allowance",
    "Plot or interment allowance",
    "Transportation of remains",
    "Headstone or marker",
];

const EVIDENCE_TYPES: &[(&str, u32)] = &[
    ("MEDICAL_RECORD", 35),
    ("EVIDENCE", 20),
    ("CORRESPONDENCE", 20),
    ("SERVICE_RECORD", 15),
    ("DD214", 10),
];

const UNKNOWN_DOCUMENT_TYPES: &[&str] = &["PHOTOGRAPH", "GREETING_CARD", "VHS_TAPE", "POSTCARD"];

const COUNTER_CLERKS: &[&str] = &[
    "counter-east-01",
    "counter-east-02",
    "counter-west-01",
    "counter-south-03",
];

const MAILROOMS: &[&str] = &["mailroom-east", "mailroom-west"];

/// File numbers of the demo fixtures: never generated.
const RESERVED_FILE_NUMBERS: &[&str] = &["123456789", "98765432"];

// ---------------------------------------------------------------------------
// Randomness

/// A ChaCha8 stream per (seed, purpose, index): a person depends only on
/// the seed and their index, so a larger plan of the same seed starts
/// with the same people.
struct Gen(ChaCha8Rng);

const PEOPLE: u64 = 1;
const CLAIMS: u64 = 2;
const MAIL: u64 = 3;

impl Gen {
    fn new(seed: u64, purpose: u64, index: u64) -> Gen {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&purpose.to_le_bytes());
        key[16..24].copy_from_slice(&index.to_le_bytes());
        key[24..].copy_from_slice(b"omnicase");
        Gen(ChaCha8Rng::from_seed(key))
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        self.0.random_range(0..n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        self.0.random_range(lo..=hi)
    }

    /// True with probability `percent` / 100.
    fn percent(&mut self, percent: u32) -> bool {
        self.0.random_range(0..100u32) < percent
    }

    /// One of `items`, which must not be empty.
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut roll = self.0.random_range(0..total.max(1));
        for (item, weight) in items {
            if roll < *weight {
                return item;
            }
            roll -= weight;
        }
        &items[items.len() - 1].0
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }

    fn hex(&mut self, n: usize) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        (0..n).map(|_| char::from(HEX[self.below(16)])).collect()
    }

    fn sha256(&mut self) -> String {
        format!("sha256:{}", self.hex(64))
    }
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

// ---------------------------------------------------------------------------
// People

fn person(seed: u64, index: usize, taken: &mut HashSet<String>) -> Person {
    let mut g = Gen::new(seed, PEOPLE, index as u64);
    let given_name = (*g.pick(GIVEN_NAMES)).to_owned();
    let family_name = (*g.pick(FAMILY_NAMES)).to_owned();
    let first = NaiveDate::from_ymd_opt(1940, 1, 1).unwrap_or_default();
    let birth_date = first
        .checked_add_days(Days::new(g.between(0, 22_279) as u64)) // … 2000-12-31
        .unwrap_or(first);
    let file_number = loop {
        let candidate = format!("{}{}", 1 + g.below(9), g.digits(8));
        if !RESERVED_FILE_NUMBERS.contains(&candidate.as_str()) && taken.insert(candidate.clone()) {
            break candidate;
        }
    };
    let area = loop {
        let a = g.between(1, 899);
        if a != 666 {
            break a;
        }
    };
    let identity_number = format!(
        "{area:03}-{:02}-{:04}",
        g.between(1, 99),
        g.between(1, 9999)
    );
    let (city, state, prefix) = *g.pick(CITIES);
    let postcode = format!("{prefix}{:02}", g.between(1, 99));
    let mut address_lines = vec![format!(
        "{} {} {}",
        g.between(1, 9899),
        g.pick(STREETS),
        g.pick(STREET_KINDS)
    )];
    if g.percent(15) {
        address_lines.push(format!(
            "Apt {}{}",
            g.between(1, 24),
            g.pick(&["A", "B", "C"])
        ));
    }
    address_lines.push(format!("{city}, {state}"));
    Person {
        file_number,
        identity_number,
        given_name,
        family_name,
        birth_date,
        postcode,
        address_lines,
    }
}

// ---------------------------------------------------------------------------
// Claims

/// The channel a claim arrives through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Via {
    #[serde(rename = "WEB")]
    Web,
    #[serde(rename = "MAIL_SCAN")]
    Mail,
    #[serde(rename = "IN_PERSON")]
    Counter,
    #[serde(rename = "CALL_CENTER")]
    Call,
}

impl Via {
    const ALL: [Via; 4] = [Via::Web, Via::Mail, Via::Call, Via::Counter];

    fn code(self) -> &'static str {
        match self {
            Via::Web => "WEB",
            Via::Mail => "MAIL_SCAN",
            Via::Counter => "IN_PERSON",
            Via::Call => "CALL_CENTER",
        }
    }

    /// Share of claims first arriving through the channel, in percent.
    fn weight(self) -> u32 {
        match self {
            Via::Web => 40,
            Via::Mail => 25,
            Via::Call => 20,
            Via::Counter => 15,
        }
    }
}

struct Claim {
    claimant: usize,
    benefit: String,
    contentions: Vec<String>,
    arrivals: Vec<(Via, DateTime<Utc>)>,
}

fn benefit_weight(benefit: &str) -> u32 {
    match benefit {
        "COMPENSATION" => 70,
        "PENSION" => 20,
        "BURIAL" => 10,
        _ => 20,
    }
}

fn contentions(g: &mut Gen, benefit: &str) -> Vec<String> {
    let (list, most) = match benefit {
        "PENSION" => (PENSION_CONTENTIONS, 2),
        "BURIAL" => (BURIAL_CONTENTIONS, 2),
        _ => (COMPENSATION_CONTENTIONS, 4),
    };
    let want = 1 + g.below(most);
    let mut picked: Vec<&str> = Vec::with_capacity(want);
    while picked.len() < want.min(list.len()) {
        let c = *g.pick(list);
        if !picked.contains(&c) {
            picked.push(c);
        }
    }
    picked.into_iter().map(str::to_owned).collect()
}

/// A moment in `[anchor - days_back_max, anchor - days_back_min]`.
fn some_time_before(
    g: &mut Gen,
    anchor: DateTime<Utc>,
    days_back_min: i64,
    days_back_max: i64,
) -> DateTime<Utc> {
    let seconds = g.between(days_back_min * 86_400, days_back_max * 86_400);
    anchor - Duration::seconds(seconds)
}

/// The same day, at a time the channel is open: the portal any time, the
/// counter 8–17 h, the phone 7–21 h (UTC, for simplicity).
fn in_opening_hours(g: &mut Gen, via: Via, t: DateTime<Utc>) -> DateTime<Utc> {
    let (open, close) = match via {
        Via::Counter => (8, 17),
        Via::Call => (7, 21),
        Via::Web | Via::Mail => return t,
    };
    midnight(t.date_naive()) + Duration::seconds(g.between(open * 3600, close * 3600))
}

fn claims(options: &Options, benefits: &[String], people: usize) -> Vec<Claim> {
    let mut g = Gen::new(options.seed, CLAIMS, 0);
    let total = if people == 0 { 0 } else { options.claims };
    // The first channel of each claim, in proportion to the channel
    // weights (so a small plan still uses every channel), shuffled.
    let mut first: Vec<Via> = (0..total)
        .map(|i| {
            let at = ((2 * i + 1) * 100 / (2 * total.max(1))) as u32;
            let mut edge = 0;
            Via::ALL
                .into_iter()
                .find(|v| {
                    edge += v.weight();
                    at < edge
                })
                .unwrap_or(Via::Counter)
        })
        .collect();
    g.shuffle(&mut first);
    // About one claim in ten arrives a second time through another channel.
    let mut order: Vec<usize> = (0..total).collect();
    g.shuffle(&mut order);
    let twice: BTreeSet<usize> = order
        .into_iter()
        .take(if total >= 2 { total.div_ceil(10) } else { 0 })
        .collect();
    let weighted: Vec<(&str, u32)> = benefits
        .iter()
        .map(|b| (b.as_str(), benefit_weight(b)))
        .collect();
    let mut held: Vec<BTreeSet<String>> = vec![BTreeSet::new(); people];
    let mut out = Vec::with_capacity(total);
    let mut second_arrivals = 0;
    for (i, via) in first.into_iter().enumerate() {
        let claimant = g.below(people);
        // A benefit the person has not claimed yet, when there is one.
        let open: Vec<(&str, u32)> = weighted
            .iter()
            .filter(|(b, _)| held.get(claimant).is_none_or(|h| !h.contains(*b)))
            .copied()
            .collect();
        let benefit = (*g.weighted(if open.is_empty() { &weighted } else { &open })).to_owned();
        if let Some(h) = held.get_mut(claimant) {
            h.insert(benefit.clone());
        }
        let contentions = contentions(&mut g, &benefit);
        let received = some_time_before(&mut g, options.anchor, 3, 120);
        let received = in_opening_hours(&mut g, via, received);
        let mut arrivals = vec![(via, received)];
        if twice.contains(&i) {
            // Every third time, a letter with an earlier postmark turns up
            // after the claim was filed elsewhere; else a later second filing.
            let earlier = via != Via::Mail && second_arrivals % 3 == 0;
            second_arrivals += 1;
            let (again, when) = if earlier {
                (Via::Mail, received - Duration::days(g.between(1, 10)))
            } else {
                let others: Vec<Via> = Via::ALL.into_iter().filter(|v| *v != via).collect();
                let later = received + Duration::seconds(g.between(86_400, 21 * 86_400));
                (
                    *g.pick(&others),
                    later.min(options.anchor - Duration::days(1)),
                )
            };
            arrivals.push((again, in_opening_hours(&mut g, again, when)));
        }
        out.push(Claim {
            claimant,
            benefit,
            contentions,
            arrivals,
        });
    }
    out
}

// ---------------------------------------------------------------------------
// Documents

fn tag(options: &Options) -> String {
    format!("s{}-{}-{}", options.seed, options.claimants, options.claims)
}

/// A channel submission for a claim arriving through the portal, the
/// counter or the phone.
#[allow(clippy::too_many_arguments)]
fn direct_submission(
    g: &mut Gen,
    tag: &str,
    index: usize,
    arrival: usize,
    via: Via,
    received: DateTime<Utc>,
    p: &Person,
    unique_identity: bool,
    claim: &Claim,
) -> Submission {
    let suffix = if arrival == 0 {
        format!("{index:06}")
    } else {
        format!("{index:06}-{arrival}")
    };
    let (external_id, submitted_by, claimant, bucket) = match via {
        Via::Web => (
            format!("portal-{tag}-{suffix}"),
            SubmittedBy::Claimant,
            ClaimantRef::by_file_number(p),
            "omnicase-portal",
        ),
        Via::Counter => (
            format!("counter-{tag}-{suffix}"),
            SubmittedBy::Staff {
                actor: (*g.pick(COUNTER_CLERKS)).to_owned(),
            },
            ClaimantRef::full_identity(p),
            "omnicase-counter",
        ),
        _ => (
            format!("call-{tag}-{suffix}"),
            SubmittedBy::Staff {
                actor: format!("agent-{:03}", 1 + g.below(40)),
            },
            // Callers often do not have their file number at hand.
            if unique_identity && g.percent(30) {
                ClaimantRef::by_identity(p)
            } else {
                ClaimantRef::by_file_number(p)
            },
            "",
        ),
    };
    let uploads = match via {
        Via::Web if g.percent(30) => 1 + g.below(2),
        Via::Counter if g.percent(40) => 1,
        _ => 0,
    };
    let documents = (0..uploads)
        .map(|k| Upload::new(g, format!("{external_id}-doc{}", k + 1), bucket))
        .collect();
    Submission {
        schema_version: 1,
        channel: via,
        external_id,
        received_at: received,
        submitted_by,
        claimant,
        kind: Kind::NewClaim,
        benefit_type: claim.benefit.clone(),
        contentions: claim.contentions.clone(),
        documents,
    }
}

/// One scanned letter before it gets its document id.
struct Letter {
    received: NaiveDate,
    scanned: DateTime<Utc>,
    document_type: String,
    pages: i64,
    checksum: String,
    has_storage_ref: bool,
    ocr: ClaimantRef,
    benefit: Option<String>,
    contentions: Vec<String>,
}

impl Letter {
    fn new(g: &mut Gen, received: NaiveDate, document_type: &str, ocr: ClaimantRef) -> Letter {
        let pages = match document_type {
            "CLAIM_FORM" => g.between(4, 12),
            "CORRESPONDENCE" => g.between(1, 3),
            "DD214" => g.between(1, 2),
            _ => g.between(1, 60),
        };
        // Scanned one to three days after it arrived, during the working day.
        let scanned = midnight(received)
            + chrono::Duration::days(g.between(1, 3))
            + chrono::Duration::seconds(g.between(8 * 3600, 17 * 3600));
        Letter {
            received,
            scanned,
            document_type: document_type.to_owned(),
            pages,
            checksum: g.sha256(),
            has_storage_ref: true,
            ocr,
            benefit: None,
            contentions: Vec::new(),
        }
    }

    fn document(&self, document_id: &str) -> MailDocument {
        MailDocument {
            document_id: document_id.to_owned(),
            received_at: midnight(self.received),
            scanned_at: self.scanned,
            document_type: self.document_type.clone(),
            page_count: self.pages,
            checksum: self.checksum.clone(),
            storage_ref: self.has_storage_ref.then(|| {
                format!(
                    "s3://omnicase-scans/{}/{document_id}.pdf",
                    self.scanned.date_naive()
                )
            }),
            benefit_type: self.benefit.clone(),
            contentions: self.contentions.clone(),
            ocr: self.ocr.clone(),
        }
    }
}

/// What OCR read off a letter from a known claimant.
fn ocr_of(g: &mut Gen, p: &Person, unique_identity: bool) -> ClaimantRef {
    if unique_identity && g.percent(15) {
        // No file number on the letter: name and birth date only.
        return ClaimantRef {
            family_name: Some(p.family_name.clone()),
            birth_date: Some(p.birth_date),
            given_name: g.percent(60).then(|| p.given_name.clone()),
            ..ClaimantRef::default()
        };
    }
    ClaimantRef {
        family_name: g.percent(50).then(|| p.family_name.clone()),
        ..ClaimantRef::by_file_number(p)
    }
}

/// OCR of a letter from nobody we know.
fn ocr_of_nobody(
    g: &mut Gen,
    taken_numbers: &HashSet<String>,
    identities: &HashMap<(String, NaiveDate), usize>,
) -> ClaimantRef {
    match g.below(3) {
        0 => loop {
            let number = format!("{}{}", 1 + g.below(9), g.digits(8));
            if !taken_numbers.contains(&number) && !RESERVED_FILE_NUMBERS.contains(&number.as_str())
            {
                break ClaimantRef {
                    file_number: Some(number),
                    ..ClaimantRef::default()
                };
            }
        },
        1 => loop {
            let family = (*g.pick(FAMILY_NAMES)).to_owned();
            let birth = NaiveDate::from_ymd_opt(1930, 1, 1)
                .unwrap_or_default()
                .checked_add_days(Days::new(g.between(0, 30_000) as u64))
                .unwrap_or_default();
            if !identities.contains_key(&(family.to_lowercase(), birth)) {
                break ClaimantRef {
                    family_name: Some(family),
                    birth_date: Some(birth),
                    given_name: Some((*g.pick(GIVEN_NAMES)).to_owned()),
                    ..ClaimantRef::default()
                };
            }
        },
        // Smudged: a name and nothing to tell who it is.
        _ => ClaimantRef {
            given_name: Some((*g.pick(GIVEN_NAMES)).to_owned()),
            family_name: Some((*g.pick(FAMILY_NAMES)).to_owned()),
            ..ClaimantRef::default()
        },
    }
}

// ---------------------------------------------------------------------------
// The plan

/// The plan for `seed` with `claimants` people and `claims` claims, for the
/// built-in `demo` agency's benefit types.
pub fn plan(seed: u64, claimants: usize, claims: usize) -> Plan {
    plan_with(&Options::new(seed, claimants, claims))
}

pub fn plan_with(options: &Options) -> Plan {
    let mut benefits: Vec<String> = if options.benefits.is_empty() {
        DEFAULT_BENEFITS.iter().map(|b| (*b).to_owned()).collect()
    } else {
        options.benefits.clone()
    };
    benefits.sort();
    benefits.dedup();
    let tag = tag(options);
    let anchor = options.anchor;

    let mut taken = HashSet::new();
    let people: Vec<Person> = (0..options.claimants)
        .map(|i| person(options.seed, i, &mut taken))
        .collect();
    // Family name + birth date → how many people share it; matching by
    // identity is only used where it names exactly one person.
    let mut identities: HashMap<(String, NaiveDate), usize> = HashMap::new();
    for p in &people {
        *identities
            .entry((p.family_name.to_lowercase(), p.birth_date))
            .or_default() += 1;
    }
    let unique =
        |p: &Person| identities.get(&(p.family_name.to_lowercase(), p.birth_date)) == Some(&1);

    let claims = claims(options, &benefits, people.len());
    let mut stats = Stats {
        claims: claims.len(),
        ..Stats::default()
    };

    let mut g = Gen::new(options.seed, MAIL, 0);
    let mut submissions: Vec<Submission> = Vec::new();
    let mut letters: Vec<Letter> = Vec::new();
    for (index, claim) in claims.iter().enumerate() {
        let Some(p) = people.get(claim.claimant) else {
            continue;
        };
        if let Some((via, _)) = claim.arrivals.first() {
            *stats.by_channel.entry(via.code().to_owned()).or_default() += 1;
        }
        if let [(_, first), (_, second)] = claim.arrivals.as_slice() {
            stats.cross_channel_duplicates += 1;
            if second < first {
                stats.earlier_postmarks += 1;
            }
        }
        for (arrival, (via, received)) in claim.arrivals.iter().enumerate() {
            if *via == Via::Mail {
                let ocr = ocr_of(&mut g, p, unique(p));
                let mut letter = Letter::new(&mut g, received.date_naive(), "CLAIM_FORM", ocr);
                letter.benefit = Some(claim.benefit.clone());
                letter.contentions = claim.contentions.clone();
                letters.push(letter);
                stats.claim_forms += 1;
            } else {
                let doc = direct_submission(
                    &mut g,
                    &tag,
                    index,
                    arrival,
                    *via,
                    *received,
                    p,
                    unique(p),
                    claim,
                );
                submissions.push(doc);
            }
        }
    }

    // Which claimant has which (distinct) benefits, and whether each is on
    // the read models before the first batch (filed through a direct channel).
    let mut claimed: HashMap<usize, BTreeMap<&str, bool>> = HashMap::new();
    for claim in &claims {
        let direct = claim.arrivals.iter().any(|(v, _)| *v != Via::Mail);
        let seen = claimed
            .entry(claim.claimant)
            .or_default()
            .entry(claim.benefit.as_str())
            .or_insert(false);
        *seen |= direct;
    }

    // Evidence: about one and a half letters per claim, sent 4 to 45 days
    // after the claim, to claims old enough to have some.
    let eligible: Vec<&Claim> = claims
        .iter()
        .filter(|c| {
            c.arrivals
                .iter()
                .all(|(_, t)| *t <= anchor - Duration::days(6))
        })
        .collect();
    let evidence = if eligible.is_empty() {
        0
    } else {
        claims.len() + claims.len() / 2
    };
    for _ in 0..evidence {
        let claim = *g.pick(&eligible);
        let Some(p) = people.get(claim.claimant) else {
            continue;
        };
        let latest = claim
            .arrivals
            .iter()
            .map(|(_, t)| *t)
            .max()
            .unwrap_or(anchor);
        let earliest_day = latest.date_naive() + Days::new(4);
        let last_day = (latest + Duration::days(45))
            .min(anchor - Duration::days(1))
            .date_naive();
        let span = (last_day - earliest_day).num_days().max(0);
        let received = earliest_day + Days::new(g.between(0, span) as u64);
        let document_type = *g.weighted(EVIDENCE_TYPES);
        let ocr = ocr_of(&mut g, p, unique(p));
        let mut letter = Letter::new(&mut g, received, document_type, ocr);
        // A letter names its claim unless the person has just one, already
        // on file before the mail is opened.
        let only_one_on_file = claimed
            .get(&claim.claimant)
            .is_some_and(|b| b.len() == 1 && b.values().all(|direct| *direct));
        if !(only_one_on_file && g.percent(50)) {
            letter.benefit = Some(claim.benefit.clone());
        }
        letters.push(letter);
        stats.evidence += 1;
    }

    // About 3 % bad documents and 2 % letters from nobody (at least one of
    // each whenever there is mail).
    let real = letters.len();
    let bad = if real == 0 {
        0
    } else {
        (real * 3).div_ceil(100)
    };
    let nobody = if real == 0 {
        0
    } else {
        (real * 2).div_ceil(100)
    };
    for k in 0..bad {
        let Some(p) = people.get(g.below(people.len())) else {
            break;
        };
        let received = some_time_before(&mut g, anchor, 4, 120).date_naive();
        let document_type = *g.weighted(EVIDENCE_TYPES);
        let mut letter = Letter::new(
            &mut g,
            received,
            document_type,
            ClaimantRef::by_file_number(p),
        );
        match k % 4 {
            0 => letter.pages = 0,
            1 => letter.checksum = format!("md5:{}", g.hex(32)),
            2 => letter.document_type = (*g.pick(UNKNOWN_DOCUMENT_TYPES)).to_owned(),
            _ => letter.has_storage_ref = false,
        }
        letters.push(letter);
    }
    for _ in 0..nobody {
        let received = some_time_before(&mut g, anchor, 4, 120).date_naive();
        let ocr = ocr_of_nobody(&mut g, &taken, &identities);
        let document_type = if g.percent(50) {
            "CORRESPONDENCE"
        } else {
            "EVIDENCE"
        };
        letters.push(Letter::new(&mut g, received, document_type, ocr));
    }
    stats.bad_documents = bad;
    stats.unidentified_documents = nobody;
    stats.mail_documents = letters.len();

    // Batches: each scanning day's mail, at most 500 letters a batch.
    let mut sorted: Vec<(usize, Letter)> = letters.into_iter().enumerate().collect();
    sorted.sort_by(|(i, a), (j, b)| a.scanned.cmp(&b.scanned).then(i.cmp(j)));
    let mut days: BTreeMap<NaiveDate, Vec<MailDocument>> = BTreeMap::new();
    for (n, (_, letter)) in sorted.iter().enumerate() {
        let id = format!("scan-{tag}-{:07}", n + 1);
        days.entry(letter.scanned.date_naive())
            .or_default()
            .push(letter.document(&id));
    }
    let mut batches = Vec::new();
    for (day, entries) in days {
        for (k, chunk) in entries.chunks(500).enumerate() {
            batches.push(MailBatch {
                schema_version: 1,
                batch_id: format!("mail-{tag}-{}-{}", day.format("%Y%m%d"), k + 1),
                scanned_by: g.pick::<&str>(MAILROOMS),
                documents: chunk.to_vec(),
            });
        }
    }
    stats.batches = batches.len();

    submissions.sort_by(|a, b| {
        a.received_at
            .cmp(&b.received_at)
            .then_with(|| a.external_id.cmp(&b.external_id))
    });
    stats.submissions = submissions.len();
    Plan {
        seed: options.seed,
        claimants: people,
        submissions,
        batches,
        stats,
    }
}
