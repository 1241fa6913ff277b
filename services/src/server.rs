//! The application assembled from settings, and its HTTP router.

use crate::config::{ConfigError, Settings};
use app::auth::Authenticator;
use app::App;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use engine::Engine;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use projections::{Projector, ReadDb};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use store::{Database, EventLog, StoreError};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("authentication setup: {0}")]
    Auth(#[from] app::auth::AuthError),
    #[error("the channel contract schema does not compile: {0}")]
    Contract(String),
    #[error("cannot prepare the database folder: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Kafka(#[from] bus::BusError),
}

impl AppError {
    pub fn code(&self) -> domain::ErrorCode {
        match self {
            AppError::Config(_) | AppError::Auth(_) | AppError::Contract(_) => {
                domain::ErrorCode::BadConfiguration
            }
            AppError::Store(e) => e.code(),
            AppError::Io(_) => domain::ErrorCode::IoError,
            AppError::Kafka(e) => e.code(),
        }
    }
}

/// A configured omnicase: its settings, its database and event log, and
/// the one application state every transport shares ([`App`], also
/// reached through this by `Deref`: `instance.engine`).
pub struct Instance {
    pub settings: Settings,
    pub db: Database,
    pub log: Arc<dyn EventLog>,
    pub app: Arc<App>,
}

impl std::ops::Deref for Instance {
    type Target = App;

    fn deref(&self) -> &App {
        &self.app
    }
}

/// Makes sure the folder of a SQLite file exists.
fn prepare_sqlite_dir(url: &str) -> Result<(), std::io::Error> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let path = path.split('?').next().unwrap_or(path);
        if let Some(parent) = std::path::Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent)?;
        }
    }
    Ok(())
}

impl Instance {
    /// Connects and migrates; does not start background work.
    pub async fn open(settings: Settings) -> Result<Instance, AppError> {
        metrics_handle();
        prepare_sqlite_dir(&settings.database_url)?;
        let db = Database::connect(&settings.database_url).await?;
        let log = db.log();
        log.migrate().await?;
        let engine = Arc::new(Engine::new(log.clone(), settings.tenants()?));
        let read = ReadDb::new(db.clone());
        let projector = Projector::new(read.clone(), log.clone());
        let intake = Arc::new(
            intake::Intake::new(engine.clone(), read.clone(), settings.intake_registry()?)
                .map_err(AppError::Contract)?,
        );
        let app = Arc::new(App {
            intake,
            engine: engine.clone(),
            read,
            projector,
            auth: Arc::new(
                Authenticator::new(settings.auth()?)?.only_tenants(engine.tenants().ids().cloned()),
            ),
            read_your_writes: Duration::from_secs(2),
            rates: Arc::new(app::rate::Rates::new(settings.rate_limits.config()?)),
        });
        Ok(Instance {
            settings,
            db,
            log,
            app,
        })
    }

    /// The whole HTTP surface; used by `serve` and by tests (`oneshot`).
    pub fn router(&self) -> Router {
        let ops = Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics_text))
            .with_state(self.read.clone());
        let limits = &self.settings.server;
        let exposure = graphql::Exposure {
            dev: self.settings.dev,
            introspection: self.settings.introspection,
        };
        graphql::routes(self.app.clone(), exposure)
            .merge(crate::intake_http::routes(self.app.clone()))
            .layer(middleware::from_fn_with_state(
                self.app.clone(),
                crate::access::admit,
            ))
            .merge(ops)
            .merge(crate::openapi::routes())
            .fallback(|| async { crate::errors::response(domain::ErrorCode::NotFound, "no such route") })
            .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
                Duration::from_secs(limits.body_timeout_secs.max(1)),
            ))
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                Duration::from_secs(limits.request_timeout_secs.max(1)),
            ))
            .layer(middleware::from_fn(crate::errors::coded))
            .layer(middleware::from_fn(track))
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                // Method and path only: bodies and query strings may carry PII.
                tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }))
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
    }
}

/// The process-wide Prometheus recorder.
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder is installed; then ours stays local.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

async fn metrics_text() -> impl IntoResponse {
    metrics_handle().render()
}

async fn readyz(State(read): State<ReadDb>) -> Response {
    match read.generation().await {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.code().as_str()).into_response(),
    }
}

async fn track(req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("omnicase_http_requests_total", "path" => path.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("omnicase_http_request_duration_seconds", "path" => path)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Background work of a serving instance, stopped when `stop` turns true:
/// the read-model projector (from the log feed, or from Kafka when
/// `kafka.projection = "kafka"`), and with Kafka configured the outbox
/// publisher and the intake consumers.
pub fn start_background(
    app: &Instance,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, AppError> {
    let until = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let mut tasks = Vec::new();
    let kafka = app.settings.kafka();
    let from_kafka = app.settings.kafka.projection == crate::config::ProjectionSource::Kafka;
    match (&kafka, from_kafka) {
        (Some(k), true) => {
            let projection = Arc::new(bus::KafkaProjection::new(k, app.projector.clone())?);
            tracing::info!(topic = projection.topic(), "read models fed from Kafka");
            tasks.push(tokio::spawn(projection.run(until(stop.clone()))));
        }
        (None, true) => {
            return Err(AppError::Config(ConfigError::Kafka(
                "kafka.projection = \"kafka\" needs kafka.brokers (KAFKA_BROKERS)",
            )))
        }
        _ => tasks.push(tokio::spawn(app.projector.clone().run(until(stop.clone())))),
    }
    let Some(k) = kafka else {
        return Ok(tasks);
    };
    if app.settings.kafka.publish {
        let publisher = Arc::new(bus::Publisher::new(&k, app.db.clone(), "case-events")?);
        tracing::info!(brokers = %k.brokers, "publishing events to Kafka");
        tasks.push(tokio::spawn(publisher.run(until(stop.clone()))));
    }
    let bindings = app.settings.intake_bindings()?;
    if !bindings.is_empty() {
        let consumer = bus::IntakeConsumer::new(&k, app.intake.clone(), bindings)?;
        tasks.push(tokio::spawn(consumer.run(until(stop))));
    }
    Ok(tasks)
}
