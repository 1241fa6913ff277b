//! The hash chain detects modified and deleted events.

use domain::*;
use store::TamperKind;
use tests::*;

async fn seeded(backend: Backend) -> (World, CaseId) {
    let w = world(backend).await;
    let id = w.web_case("alpha", "123456789").await;
    for to in [Phase::UnderReview, Phase::GatheringOfEvidence] {
        w.advance(id, to).await;
    }
    (w, id)
}

fn problems(report: &store::VerifyReport) -> Vec<(u64, TamperKind)> {
    report
        .findings
        .iter()
        .map(|f| (f.version, f.problem))
        .collect()
}

async fn intact_log_verifies(backend: Backend) {
    let (w, _) = seeded(backend).await;
    let report = w.t.log.verify().await.unwrap();
    assert_eq!((report.streams, report.findings.len()), (2, 0));
    assert!(report.events >= 5);
}
both!(intact_log_verifies);

async fn events_cannot_be_updated_or_deleted_through_sql(backend: Backend) {
    let (w, _) = seeded(backend).await;
    let (update, delete) = ("UPDATE events SET event_type = 'X'", "DELETE FROM events");
    match &w.t.raw {
        Raw::Postgres(pg) => {
            assert!(sqlx::query(update).execute(pg.pool()).await.is_err());
            assert!(sqlx::query(delete).execute(pg.pool()).await.is_err());
        }
        Raw::Sqlite(lite) => {
            assert!(sqlx::query(update).execute(lite.writer()).await.is_err());
            assert!(sqlx::query(delete).execute(lite.writer()).await.is_err());
        }
    }
}
both!(events_cannot_be_updated_or_deleted_through_sql);

async fn modified_event_is_detected(backend: Backend) {
    let (w, id) = seeded(backend).await;
    let sql = match backend {
        Backend::Postgres => format!("UPDATE events SET payload = '{{\"forged\":true}}' WHERE stream_id = '{id}' AND version = 3"),
        Backend::Sqlite => {
            "UPDATE events SET payload = '{\"forged\":true}' WHERE version = 3 AND kind = 'case'".to_owned()
        }
    };
    tamper(&w.t, &sql).await;
    assert_eq!(
        problems(&w.t.log.verify().await.unwrap()),
        [(3, TamperKind::Modified)]
    );
}
both!(modified_event_is_detected);

async fn deleted_event_is_detected(backend: Backend) {
    let (w, id) = seeded(backend).await;
    let sql = match backend {
        Backend::Postgres => format!("DELETE FROM events WHERE stream_id = '{id}' AND version = 2"),
        Backend::Sqlite => "DELETE FROM events WHERE version = 2 AND kind = 'case'".to_owned(),
    };
    tamper(&w.t, &sql).await;
    assert_eq!(
        problems(&w.t.log.verify().await.unwrap()),
        [(3, TamperKind::Missing)]
    );
}
both!(deleted_event_is_detected);

async fn deleted_last_event_is_detected(backend: Backend) {
    let (w, id) = seeded(backend).await;
    let (_, version) = w.engine.load_case(&tenant("alpha"), id).await.unwrap();
    let sql = match backend {
        Backend::Postgres => {
            format!("DELETE FROM events WHERE stream_id = '{id}' AND version = {version}")
        }
        Backend::Sqlite => {
            format!("DELETE FROM events WHERE version = {version} AND kind = 'case'")
        }
    };
    tamper(&w.t, &sql).await;
    assert_eq!(
        problems(&w.t.log.verify().await.unwrap()),
        [(version, TamperKind::TailMissing)]
    );
}
both!(deleted_last_event_is_detected);
