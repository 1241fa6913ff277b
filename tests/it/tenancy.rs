//! Nothing crosses tenants: not at the store, not through the engine.

use domain::*;
use store::{AppendBatch, IdempotencyRecord, NewEvent, StreamKind, StreamWrite, UniqueKey};
use tests::*;
use uuid::Uuid;

async fn store_queries_never_cross_tenants(backend: Backend) {
    let t = fresh_log(backend).await;
    let (alpha, beta) = (tenant("alpha"), tenant("beta"));
    let stream = Uuid::now_v7();
    let key = UniqueKey {
        scope: "open-claim".into(),
        key: "k".into(),
    };
    let batch = AppendBatch {
        streams: vec![StreamWrite {
            stream_id: stream,
            kind: StreamKind::Case,
            expected_version: 0,
            events: vec![NewEvent {
                event_id: Uuid::now_v7(),
                event_type: "ContactRecorded".into(),
                schema_version: 1,
                payload: "{}".into(),
                metadata: "{}".into(),
            }],
        }],
        claim_keys: vec![(key.clone(), stream)],
        idempotency: Some(IdempotencyRecord {
            key: "idem-1".into(),
            fingerprint: "f".into(),
            result: "{}".into(),
        }),
        ..Default::default()
    };
    t.log.append(&alpha, &batch).await.unwrap();

    assert_eq!(t.log.read_stream(&alpha, stream, 0).await.unwrap().len(), 1);
    assert!(t
        .log
        .read_stream(&beta, stream, 0)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(t.log.key_holder(&alpha, &key).await.unwrap(), Some(stream));
    assert_eq!(t.log.key_holder(&beta, &key).await.unwrap(), None);
    assert!(t
        .log
        .idempotency_record(&alpha, "idem-1")
        .await
        .unwrap()
        .is_some());
    assert!(t
        .log
        .idempotency_record(&beta, "idem-1")
        .await
        .unwrap()
        .is_none());

    // Beta cannot extend alpha's stream: it is not there for beta.
    let mut append_to_alpha = batch.clone();
    append_to_alpha.streams[0].expected_version = 1;
    append_to_alpha.streams[0].events[0].event_id = Uuid::now_v7();
    append_to_alpha.claim_keys.clear();
    append_to_alpha.idempotency = None;
    match t.log.append(&beta, &append_to_alpha).await {
        Err(store::StoreError::VersionConflict { current, .. }) => assert_eq!(current, 0),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // The same key and idempotency key are independent per tenant.
    let mut beta_batch = batch.clone();
    beta_batch.streams[0].events[0].event_id = Uuid::now_v7();
    t.log.append(&beta, &beta_batch).await.unwrap();
    assert_eq!(t.log.read_stream(&alpha, stream, 0).await.unwrap().len(), 1);
    let feed = t.all_events().await;
    let tenants: Vec<_> = feed.iter().map(|e| e.tenant.as_str()).collect();
    assert_eq!(tenants, ["alpha", "beta"]);
}
both!(store_queries_never_cross_tenants);

async fn engine_commands_never_cross_tenants(backend: Backend) {
    let w = world(backend).await;
    let (claimant, case) = w.web_claim("alpha", "123456789").await;

    let beta = env("beta", "agent");
    let err = w
        .engine
        .execute(&beta, case, CaseCommand::Withdraw { reason: None })
        .await
        .unwrap_err();
    assert_eq!(err.code().as_str(), "CLAIM_NOT_FOUND");
    let err = w
        .engine
        .submit_claim(&beta, submission(claimant, Channel::Web, "w2", at(1, 9)))
        .await
        .unwrap_err();
    assert_eq!(err.code().as_str(), "CLAIMANT_NOT_FOUND");
    let (state, version) = w.engine.load_case(&tenant("beta"), case).await.unwrap();
    assert_eq!((state, version), (Case::Nonexistent, 0));
    assert_eq!(
        w.engine
            .find_claimant(&tenant("beta"), &FileNumber::parse("123456789").unwrap())
            .await
            .unwrap(),
        None
    );
    // Beta registers its own person with the same file number: no clash.
    let beta_claimant = w.claimant("beta", "123456789").await;
    assert_ne!(beta_claimant, claimant);
    let (alpha_case, _) = w.engine.load_case(&tenant("alpha"), case).await.unwrap();
    assert_eq!(
        alpha_case.file().unwrap().citizen_status(),
        CitizenStatus::Received
    );
}
both!(engine_commands_never_cross_tenants);
