//! Test support: a fresh event log per test on either backend, and
//! ready-made tenants, claimants and submissions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, TimeZone, Utc};
use domain::claimant::ClaimantPii;
use domain::*;
use engine::{BenefitConfig, ClaimSubmission, Engine, Envelope, TenantConfig, Tenants};
use sqlx::Connection;
use std::collections::HashMap;
use std::sync::Arc;
use store::{EventLog, PgLog, SqliteLog};

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests create their databases on.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub enum Raw {
    Sqlite(SqliteLog),
    Postgres(PgLog),
}

pub struct TestLog {
    pub log: Arc<dyn EventLog>,
    pub raw: Raw,
    pub url: String,
}

/// A new, empty PostgreSQL database `name` (no schema yet); its URL.
pub async fn empty_postgres_database(name: &str) -> String {
    let admin = admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("TEST_DATABASE_URL has no database part"),
    }
}

/// A fresh, migrated log: its own PostgreSQL database, or its own SQLite file.
pub async fn fresh_log(backend: Backend) -> TestLog {
    let name = format!("omnicase_t_{}", uuid::Uuid::new_v4().simple());
    let (url, raw) = match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join("omnicase-tests");
            std::fs::create_dir_all(&dir).unwrap();
            let url = format!("sqlite://{}", dir.join(format!("{name}.db")).display());
            let log = SqliteLog::connect(&url).await.unwrap();
            (url, Raw::Sqlite(log))
        }
        Backend::Postgres => {
            let url = empty_postgres_database(&name).await;
            let log = PgLog::connect(&url).await.unwrap();
            (url, Raw::Postgres(log))
        }
    };
    let log: Arc<dyn EventLog> = match &raw {
        Raw::Sqlite(log) => Arc::new(log.clone()),
        Raw::Postgres(log) => Arc::new(log.clone()),
    };
    log.migrate().await.unwrap();
    TestLog { log, raw, url }
}

pub fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap()
}

pub fn compensation() -> BenefitType {
    BenefitType::parse("COMPENSATION").unwrap()
}

/// Two agencies, `alpha` and `beta`, each handling COMPENSATION and PENSION.
pub fn tenants() -> Tenants {
    let mut benefit = BenefitConfig::default();
    benefit
        .estimate_days
        .insert(Phase::ClaimReceived, (90, 150));
    benefit
        .estimate_days
        .insert(Phase::GatheringOfEvidence, (60, 120));
    let config = TenantConfig {
        benefits: [
            (compensation(), benefit.clone()),
            (BenefitType::parse("PENSION").unwrap(), benefit),
        ]
        .into_iter()
        .collect(),
        ..TenantConfig::default()
    };
    Tenants::new(HashMap::from([
        (tenant("alpha"), config.clone()),
        (tenant("beta"), config),
    ]))
}

pub struct World {
    pub t: TestLog,
    pub engine: Arc<Engine>,
}

pub async fn world(backend: Backend) -> World {
    World::over(fresh_log(backend).await)
}

impl World {
    /// The two agencies' engine over the log `t`.
    pub fn over(t: TestLog) -> World {
        let engine = Arc::new(Engine::new(t.log.clone(), tenants()));
        World { t, engine }
    }
}

pub fn env(tenant_name: &str, actor: &str) -> Envelope {
    Envelope::new(tenant(tenant_name), ActorId::parse(actor).unwrap())
}

pub fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
}

pub fn pii(file_number: &str) -> ClaimantPii {
    ClaimantPii {
        file_number: FileNumber::parse(file_number).unwrap(),
        identity_number: Some(IdentityNumber::parse("123-45-6789").unwrap()),
        given_name: Text::parse("givenName", "Alex").unwrap(),
        family_name: Text::parse("familyName", "Rivera").unwrap(),
        birth_date: chrono::NaiveDate::from_ymd_opt(1980, 4, 2).unwrap(),
        postcode: Text::parse("postcode", "20420").unwrap(),
        address_lines: vec![],
    }
}

impl World {
    /// Registers a claimant and files a web claim for them; the case id.
    pub async fn web_case(&self, tenant_name: &str, file_number: &str) -> CaseId {
        self.web_claim(tenant_name, file_number).await.1
    }

    /// Registers a claimant and files a web claim for them: who and the case.
    pub async fn web_claim(&self, tenant_name: &str, file_number: &str) -> (ClaimantId, CaseId) {
        let claimant = self.claimant(tenant_name, file_number).await;
        let r = self
            .engine
            .submit_claim(
                &env(tenant_name, "c"),
                submission(claimant, Channel::Web, "w1", at(1, 9)),
            )
            .await
            .unwrap();
        (claimant, CaseId::from_uuid(r.stream_id))
    }

    /// A caseworker of `alpha` moves the case to `to`.
    pub async fn advance(&self, id: CaseId, to: Phase) {
        self.engine
            .execute(
                &env("alpha", "caseworker-1"),
                id,
                CaseCommand::ChangePhase {
                    to,
                    reason: None,
                    estimate: None,
                },
            )
            .await
            .unwrap();
    }

    pub async fn claimant(&self, tenant_name: &str, file_number: &str) -> ClaimantId {
        let r = self
            .engine
            .register_claimant(&env(tenant_name, "clerk-1"), pii(file_number))
            .await
            .unwrap();
        ClaimantId::from_uuid(r.stream_id)
    }
}

pub fn submission(
    claimant: ClaimantId,
    channel: Channel,
    external_id: &str,
    received_at: DateTime<Utc>,
) -> ClaimSubmission {
    ClaimSubmission {
        claimant,
        benefit: compensation(),
        contentions: vec![
            Text::parse("c", "Tinnitus").unwrap(),
            Text::parse("c", "Left knee strain").unwrap(),
        ],
        channel,
        external_id: ExternalId::parse(external_id).unwrap(),
        received_at,
        submitted_by: Submitter::Claimant,
    }
}

/// A stand-in event for log-level tests (payload `{"n": n}`).
pub fn event(n: usize) -> store::NewEvent {
    store::NewEvent {
        event_id: uuid::Uuid::now_v7(),
        event_type: "ContactRecorded".into(),
        schema_version: 1,
        payload: format!("{{\"n\":{n}}}"),
        metadata: "{}".into(),
    }
}

/// Runs an async test body once per backend: `both!(name);` next to
/// `async fn name(backend: Backend)` creates `name::sqlite` and
/// `name::postgres`.
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name($crate::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$name($crate::Backend::Postgres).await
            }
        }
    };
}

impl TestLog {
    /// How many events the log holds (straight from the table).
    pub async fn event_count(&self) -> i64 {
        match &self.raw {
            Raw::Postgres(pg) => sqlx::query_scalar("SELECT count(*) FROM events")
                .fetch_one(pg.pool())
                .await
                .unwrap(),
            Raw::Sqlite(lite) => sqlx::query_scalar("SELECT count(*) FROM events")
                .fetch_one(lite.writer())
                .await
                .unwrap(),
        }
    }

    /// The same database as a `store::Database` (for read models).
    pub fn database(&self) -> store::Database {
        match &self.raw {
            Raw::Postgres(pg) => store::Database::Postgres(pg.clone()),
            Raw::Sqlite(l) => store::Database::Sqlite(l.clone()),
        }
    }

    /// Every event, in feed order. The PostgreSQL feed only shows
    /// transactions below the cluster-wide visibility horizon, which other
    /// tests' open transactions hold back for a moment: count the rows
    /// directly, then wait (bounded) until the feed shows them all.
    pub async fn all_events(&self) -> Vec<store::RecordedEvent> {
        let count = self.event_count().await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let all = self
                .log
                .read_feed(Default::default(), u32::MAX)
                .await
                .unwrap();
            if all.len() as i64 >= count || std::time::Instant::now() > deadline {
                return all;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

/// The whole application on a fresh database: router for `oneshot`
/// requests, projector running in the background, tenants `alpha`/`beta`.
pub struct ApiWorld {
    pub t: TestLog,
    pub app: services::server::Instance,
    pub router: axum::Router,
    projector: tokio::task::JoinHandle<()>,
}

impl Drop for ApiWorld {
    fn drop(&mut self) {
        self.projector.abort();
    }
}

pub async fn api_world(backend: Backend) -> ApiWorld {
    api_world_with(backend, |_| {}).await
}

/// Like [`api_world`], with the settings adjusted first (channels, …).
pub async fn api_world_with(
    backend: Backend,
    adjust: impl FnOnce(&mut services::config::Settings),
) -> ApiWorld {
    use services::config::{RawBenefit, RawTenant, Settings};
    let t = fresh_log(backend).await;
    let mut settings = Settings::load(None, Some(&t.url)).unwrap();
    // Development exposure unless a test adjusts it (tests that check the
    // production defaults set `dev = false` and a secret of their own).
    settings.dev = true;
    let mut benefit = RawBenefit::default();
    benefit
        .estimate_days
        .insert("CLAIM_RECEIVED".into(), [90, 150]);
    benefit
        .estimate_days
        .insert("GATHERING_OF_EVIDENCE".into(), [60, 120]);
    let tenant = RawTenant {
        benefits: [
            ("COMPENSATION".to_owned(), benefit.clone()),
            ("PENSION".to_owned(), benefit),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    };
    settings.tenants = [
        ("alpha".to_owned(), tenant.clone()),
        ("beta".to_owned(), tenant),
    ]
    .into_iter()
    .collect();
    adjust(&mut settings);
    let app = services::server::Instance::open(settings).await.unwrap();
    let router = app.router();
    let projector = tokio::spawn(app.projector.clone().run(std::future::pending()));
    ApiWorld {
        t,
        app,
        router,
        projector,
    }
}

/// Registers the integrator channel PARTNER_API for tenant alpha: it files
/// NEW_CLAIM submissions, sent by the principal `partner-api`.
pub fn register_partner_channel(s: &mut services::config::Settings) {
    let tenant = s.tenants.get_mut("alpha").unwrap();
    tenant.channels.insert(
        "PARTNER_API".into(),
        services::config::RawChannel {
            kinds: vec!["NEW_CLAIM".into()],
            principals: vec!["partner-api".into()],
        },
    );
}

impl ApiWorld {
    pub fn token(
        &self,
        tenant_name: &str,
        subject: &str,
        roles: &[app::auth::Role],
        claimant: Option<ClaimantId>,
        sensitive: bool,
    ) -> String {
        self.token_with_office(tenant_name, subject, roles, claimant, sensitive, None)
    }

    pub fn token_with_office(
        &self,
        tenant_name: &str,
        subject: &str,
        roles: &[app::auth::Role],
        claimant: Option<ClaimantId>,
        sensitive: bool,
        office: Option<&str>,
    ) -> String {
        let auth = &self.app.settings.auth;
        app::auth::mint_hs256(
            auth.hs256_secret.as_deref().unwrap().as_bytes(),
            &auth.issuer,
            &auth.audience,
            &app::auth::DevToken {
                tenant: tenant(tenant_name),
                subject: ActorId::parse(subject).unwrap(),
                roles: roles.to_vec(),
                sensitive,
                claimant,
                office: office.map(str::to_owned),
                ttl: chrono::Duration::hours(1),
            },
            Utc::now(),
        )
        .unwrap()
    }

    /// POSTs a GraphQL request through the router (no socket).
    pub async fn gql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: serde_json::Value,
    ) -> serde_json::Value {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let body = serde_json::json!({ "query": query, "variables": variables }).to_string();
        let mut request =
            axum::http::Request::post("/graphql").header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(axum::body::Body::from(body)).unwrap())
            .await
            .unwrap();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }
}

/// The `extensions.code` of the first error, if any.
pub fn error_code(response: &serde_json::Value) -> Option<&str> {
    response["errors"][0]["extensions"]["code"].as_str()
}

impl ApiWorld {
    /// Serves the router on a real socket (127.0.0.1, port 0) the way
    /// `omnicase serve` does: the same connection limits and timeouts.
    pub async fn serve(&self) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = self.router.clone();
        let limits = self.app.settings.server.connection_limits();
        tokio::spawn(services::http::serve(
            listener,
            router,
            limits,
            std::future::pending(),
        ));
        addr
    }

    /// Waits until the read models hold every committed event.
    pub async fn settle(&self) {
        self.app
            .projector
            .settle(std::time::Duration::from_secs(30))
            .await
            .unwrap();
    }

    /// GETs a path; (status, body as text).
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let request = axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// GETs a path with a bearer token; (status, JSON body).
    pub async fn get_json(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        let request = axum::http::Request::get(path)
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap();
        self.send_json(request).await
    }

    /// Sends a request through the router; (status, JSON body or null).
    async fn send_json(
        &self,
        request: axum::http::Request<axum::body::Body>,
    ) -> (u16, serde_json::Value) {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    /// POSTs raw bytes to an intake endpoint; (status, JSON body).
    pub async fn post(
        &self,
        path: &str,
        token: &str,
        body: impl Into<String>,
    ) -> (u16, serde_json::Value) {
        let request = axum::http::Request::post(path)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::from(body.into()))
            .unwrap();
        self.send_json(request).await
    }
}

/// Runs raw SQL with the append-only triggers out of the way, as someone
/// with direct database access could.
pub async fn tamper(t: &TestLog, sql: &str) {
    match &t.raw {
        Raw::Postgres(pg) => {
            let mut tx = pg.pool().begin().await.unwrap();
            sqlx::query("ALTER TABLE events DISABLE TRIGGER events_no_update")
                .execute(&mut *tx)
                .await
                .unwrap();
            sqlx::query(sql).execute(&mut *tx).await.unwrap();
            sqlx::query("ALTER TABLE events ENABLE TRIGGER events_no_update")
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        Raw::Sqlite(lite) => {
            let mut tx = lite.writer().begin().await.unwrap();
            sqlx::query("DROP TRIGGER events_no_update")
                .execute(&mut *tx)
                .await
                .unwrap();
            sqlx::query("DROP TRIGGER events_no_delete")
                .execute(&mut *tx)
                .await
                .unwrap();
            sqlx::query(sql).execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
        }
    }
}
