//! The synthetic data generator: deterministic plans, loaded through
//! `omnicase seed --claimants N --claims M` on both stores.

use chrono::{Duration, NaiveDate};
use clap::Parser;
use services::cli::Cli;
use services::generator::{anchor, plan};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::process::ExitCode;
use store::StreamKind;
use tests::*;

async fn omnicase(url: &str, args: &[&str]) -> ExitCode {
    let mut argv = vec!["omnicase", "--database-url", url, "--tenant", "demo"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv).unwrap().run().await.unwrap()
}

const CHANNELS: [&str; 4] = ["CALL_CENTER", "IN_PERSON", "MAIL_SCAN", "WEB"];

#[test]
fn the_same_seed_gives_the_same_plan() {
    let first = plan(42, 30, 40).to_bytes().unwrap();
    assert_eq!(
        first,
        plan(42, 30, 40).to_bytes().unwrap(),
        "byte-identical"
    );
    assert_ne!(first, plan(43, 30, 40).to_bytes().unwrap());
    assert_ne!(first, plan(42, 30, 41).to_bytes().unwrap());
    // A person depends on the seed and their index only: a larger plan of
    // the same seed starts with the same people.
    assert_eq!(
        plan(42, 60, 5).claimants[..30],
        plan(42, 30, 40).claimants[..]
    );
    assert_ne!(plan(42, 30, 40).claimants, plan(43, 30, 40).claimants);
}

#[test]
fn a_plan_is_realistic_and_meets_the_contracts() {
    let p = plan(7, 300, 400);
    let s = &p.stats;

    // People: unique 9-digit file numbers, born 1940–2000, 5-digit postcodes.
    let numbers: HashSet<_> = p.claimants.iter().map(|c| &c.file_number).collect();
    assert_eq!(numbers.len(), 300);
    let (from, to) = (
        NaiveDate::from_ymd_opt(1940, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(2000, 12, 31).unwrap(),
    );
    for c in &p.claimants {
        assert_eq!(c.file_number.len(), 9);
        assert!(c.file_number.bytes().all(|b| b.is_ascii_digit()));
        assert!(c.postcode.len() == 5 && c.postcode.bytes().all(|b| b.is_ascii_digit()));
        assert!((from..=to).contains(&c.birth_date));
        assert!(c.pii().is_ok());
    }
    let families: HashSet<_> = p.claimants.iter().map(|c| &c.family_name).collect();
    assert!(families.len() > 30, "varied names");

    // Claims: every channel, about one in ten arriving twice.
    assert_eq!(s.claims, 400);
    assert_eq!(
        s.by_channel.keys().map(String::as_str).collect::<Vec<_>>(),
        CHANNELS
    );
    assert_eq!(s.by_channel.values().sum::<usize>(), 400);
    assert_eq!(s.cross_channel_duplicates, 40);
    assert!(s.earlier_postmarks > 0);

    // Direct submissions meet the channel-submission contract.
    let contract = intake::Contract::new().unwrap();
    let benefits = ["BURIAL", "COMPENSATION", "PENSION"];
    let oldest = anchor() - Duration::days(131);
    let mut external_ids = HashSet::new();
    for doc in &p.submissions {
        let sub = contract
            .submission(&serde_json::to_vec(doc).unwrap())
            .unwrap_or_else(|e| panic!("{e}: {}", doc.external_id));
        assert!(external_ids.insert(sub.external_id.to_string()));
        assert!((1..=4).contains(&sub.contentions.len()));
        assert!(benefits.contains(&sub.benefit.unwrap().as_str()));
        assert!(sub.received_at > oldest && sub.received_at < anchor());
        assert_ne!(sub.channel.code(), "MAIL_SCAN");
    }
    assert_eq!(p.submissions.len(), s.submissions);

    // Mail: batches of at most 500, unique document ids, bad documents of
    // every kind, letters from nobody.
    let mut ids = HashSet::new();
    let mut bad = BTreeMap::new();
    for batch in &p.batches {
        let docs = &batch.documents;
        assert!(!docs.is_empty() && docs.len() <= 500);
        for d in docs {
            assert!(ids.insert(d.document_id.clone()));
            let kind = if d.page_count == 0 {
                "EMPTY_FILE"
            } else if !d.checksum.starts_with("sha256:") {
                "BAD_CHECKSUM"
            } else if d.storage_ref.is_none() {
                "MISSING_FIELD"
            } else if !intake::DEFAULT_DOCUMENT_TYPES.contains(&d.document_type.as_str()) {
                "UNKNOWN_DOCUMENT_TYPE"
            } else {
                continue;
            };
            *bad.entry(kind).or_insert(0) += 1;
        }
    }
    assert_eq!(ids.len(), s.mail_documents);
    // Every manifest meets the mail-batch contract; the bad documents are
    // refused one by one, never the batch.
    let registry = intake::Registry::default();
    let mut refused = 0;
    for batch in &p.batches {
        let manifest = intake::mail::decode_manifest(
            &contract,
            &registry,
            &tenant("demo"),
            &domain::ActorId::parse(batch.scanned_by).unwrap(),
            &serde_json::to_vec(batch).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{e}: {}", batch.batch_id));
        assert_eq!(manifest.documents.len(), batch.documents.len());
        refused += manifest
            .documents
            .iter()
            .filter(|d| d.submission.is_err())
            .count();
    }
    assert_eq!(refused, s.bad_documents, "exactly the bad documents");
    assert_eq!(
        bad.keys().copied().collect::<Vec<_>>(),
        [
            "BAD_CHECKSUM",
            "EMPTY_FILE",
            "MISSING_FIELD",
            "UNKNOWN_DOCUMENT_TYPE"
        ]
    );
    assert_eq!(bad.values().sum::<usize>(), s.bad_documents);
    let share = |n: usize| n * 100 / s.mail_documents;
    assert!((2..=4).contains(&share(s.bad_documents)), "about 3 % bad");
    assert!(
        (1..=3).contains(&share(s.unidentified_documents)),
        "about 2 % nobody"
    );
    assert!(s.evidence > s.claim_forms, "mostly evidence");
    assert_eq!(
        s.mail_documents,
        s.claim_forms + s.evidence + s.bad_documents + s.unidentified_documents
    );
}

/// A small generated data set loads through the CLI: every claimant is
/// registered, every channel is used, cross-channel duplicates join one
/// case, mail is attached, rejected or left unidentified exactly as
/// planned; loading it again appends nothing.
async fn generated_data_loads_and_reloads_idempotently(backend: Backend) {
    let t = fresh_log(backend).await;
    let args = ["seed", "--claimants", "30", "--claims", "40"];
    let started = std::time::Instant::now();
    assert_eq!(omnicase(&t.url, &args).await, ExitCode::SUCCESS);
    eprintln!(
        "{backend:?}: loaded 30 claimants / 40 claims in {:?}",
        started.elapsed()
    );
    let events = t.all_events().await;
    let p = plan(42, 30, 40);

    let settings = services::config::Settings::load(None, Some(&t.url)).unwrap();
    let app = services::server::Instance::open(settings).await.unwrap();
    app.projector
        .settle(std::time::Duration::from_secs(30))
        .await
        .unwrap();
    let demo = tenant("demo");

    let claimants: HashSet<_> = events
        .iter()
        .filter(|e| e.kind == StreamKind::Claimant)
        .map(|e| e.stream_id)
        .collect();
    assert_eq!(claimants.len(), 30);
    let cases: BTreeSet<_> = events
        .iter()
        .filter(|e| e.kind == StreamKind::Case)
        .map(|e| e.stream_id)
        .collect();
    assert!(cases.len() >= 30 && cases.len() <= 40, "{}", cases.len());

    // Every channel appears among the channel entries; the duplicates
    // joined their case as entries of another channel.
    let mut channels = BTreeSet::new();
    let mut cross_channel = 0;
    let mut entries = HashSet::new();
    for id in &cases {
        let view = app.read.case(&demo, *id).await.unwrap().unwrap();
        entries.extend(view.entries.iter().map(|e| e.external_id.clone()));
        let distinct: BTreeSet<_> = view.entries.iter().map(|e| e.channel.as_str()).collect();
        channels.extend(distinct.iter().map(|c| c.to_string()));
        if distinct.len() >= 2 {
            cross_channel += 1;
            let first = view.entries[0].id;
            assert!(view.entries[1..]
                .iter()
                .all(|e| e.duplicate_of == Some(first)));
            let earliest = view.entries.iter().map(|e| e.received_at).min().unwrap();
            assert_eq!(
                view.claim_date, earliest,
                "an earlier postmark moves the claim date"
            );
        }
    }
    assert_eq!(
        channels.iter().map(String::as_str).collect::<Vec<_>>(),
        CHANNELS
    );
    assert!(cross_channel >= 1);
    // Nothing was refused: every planned submission and claim form is on a case.
    for doc in &p.submissions {
        assert!(entries.contains(&doc.external_id));
    }
    let claim_forms = p
        .batches
        .iter()
        .flat_map(|b| {
            b.documents
                .iter()
                .filter(|d| d.document_type == "CLAIM_FORM")
                .map(move |d| format!("{}/{}", b.batch_id, d.document_id))
        })
        .collect::<Vec<_>>();
    assert_eq!(claim_forms.len(), p.stats.claim_forms);
    assert!(claim_forms.iter().all(|id| entries.contains(id)));
    assert_eq!(
        entries.len(),
        p.submissions.len() + p.stats.claim_forms,
        "one channel entry per arrival"
    );
    assert!(events
        .iter()
        .any(|e| e.event_type == "ChannelEntryAttached"));
    if p.stats.earlier_postmarks > 0 {
        assert!(events.iter().any(|e| e.event_type == "ClaimDateChanged"));
    }

    // Mail: every letter recorded; bad ones rejected with their code,
    // letters from nobody waiting in the unidentified queue, the rest attached.
    let mut statuses = BTreeMap::new();
    let mut codes = BTreeSet::new();
    for batch in &p.batches {
        let docs = app
            .read
            .intake_batch(&demo, "MAIL_SCAN", &batch.batch_id)
            .await
            .unwrap();
        assert_eq!(docs.len(), batch.documents.len());
        for d in docs {
            if d.status == "REJECTED" {
                codes.insert(d.error_code.clone().unwrap());
            }
            *statuses.entry(d.status).or_insert(0) += 1;
        }
    }
    let count = |s: &str| statuses.get(s).copied().unwrap_or(0);
    assert!(count("REJECTED") > 0 && count("UNIDENTIFIED") > 0);
    assert_eq!(count("REJECTED"), p.stats.bad_documents, "{statuses:?}");
    assert_eq!(count("UNIDENTIFIED"), p.stats.unidentified_documents);
    assert_eq!(
        count("ATTACHED"),
        p.stats.mail_documents - p.stats.bad_documents - p.stats.unidentified_documents
    );
    let allowed = [
        "BAD_CHECKSUM",
        "EMPTY_FILE",
        "MISSING_FIELD",
        "UNKNOWN_DOCUMENT_TYPE",
    ];
    assert!(
        codes.iter().all(|c| allowed.contains(&c.as_str())),
        "{codes:?}"
    );
    let queue = app
        .read
        .unidentified_documents(&demo, 1000, None)
        .await
        .unwrap();
    assert_eq!(queue.len(), p.stats.unidentified_documents);

    // The same command again appends nothing.
    assert_eq!(omnicase(&t.url, &args).await, ExitCode::SUCCESS);
    assert_eq!(t.all_events().await.len(), events.len());
}
both!(generated_data_loads_and_reloads_idempotently);
