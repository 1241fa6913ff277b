//! Kafka. The event log is the outbox: [`Publisher`] relays every event, in
//! feed order, to `{prefix}omnicase.case-events.v1`, keyed by stream id (so
//! a case's events stay in order on one partition), value = the stored
//! event's JSON payload, with CloudEvents Kafka-binding headers. It
//! checkpoints only after the broker acknowledged every message of a batch:
//! a crash or an outage re-sends (same `ce_id`, for consumer dedup), never
//! skips.

use chrono::SecondsFormat;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use store::{Database, EventLog, FeedCursor, RecordedEvent};

pub const CASE_EVENTS_TOPIC: &str = "omnicase.case-events.v1";
const BATCH: u32 = 500;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("checkpoint: {0}")]
    Db(#[from] sqlx::Error),
}

impl BusError {
    pub fn code(&self) -> &'static str {
        match self {
            BusError::Kafka(_) => "BROKER_UNAVAILABLE",
            BusError::Store(e) => e.code(),
            BusError::Db(_) => "STORE_UNAVAILABLE",
        }
    }
}

/// Where Kafka is and how to talk to it.
#[derive(Clone, Debug, Default)]
pub struct KafkaConfig {
    /// `host:port,host:port`.
    pub brokers: String,
    /// Prepended to every topic name (e.g. `prod.`).
    pub topic_prefix: String,
    /// Passed to librdkafka as is (security.protocol, sasl.*, …).
    pub extra: BTreeMap<String, String>,
}

impl KafkaConfig {
    pub fn topic(&self, name: &str) -> String {
        format!("{}{name}", self.topic_prefix)
    }

    pub fn client(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        for (k, v) in &self.extra {
            c.set(k, v);
        }
        c
    }
}

/// The relay from the log to `omnicase.case-events.v1`.
pub struct Publisher {
    db: Database,
    log: Arc<dyn EventLog>,
    producer: FutureProducer,
    topic: String,
    name: String,
}

/// CloudEvents (Kafka binding) and omnicase headers of one event.
pub fn headers(e: &RecordedEvent) -> OwnedHeaders {
    let kind = e.kind.as_str();
    let ce_type = format!("omnicase.{kind}.{}", e.event_type);
    let source = format!("/omnicase/{}", e.tenant);
    let time = e.recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true);
    let id = e.event_id.to_string();
    let subject = e.stream_id.to_string();
    let schema = e.schema_version.to_string();
    let version = e.version.to_string();
    let position = e.position.to_string();
    [
        ("ce_specversion", "1.0"),
        ("ce_id", id.as_str()),
        ("ce_type", ce_type.as_str()),
        ("ce_source", source.as_str()),
        ("ce_time", time.as_str()),
        ("ce_subject", subject.as_str()),
        ("content-type", "application/json"),
        ("omnicase_schema_version", schema.as_str()),
        ("omnicase_tenant", e.tenant.as_str()),
        ("omnicase_stream_version", version.as_str()),
        ("omnicase_position", position.as_str()),
    ]
    .into_iter()
    .fold(OwnedHeaders::new(), |h, (key, value)| {
        h.insert(Header {
            key,
            value: Some(value),
        })
    })
}

impl Publisher {
    /// `name` tells relays apart (one checkpoint each).
    pub fn new(config: &KafkaConfig, db: Database, name: &str) -> Result<Self, BusError> {
        let producer: FutureProducer = config
            .client()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "30000")
            .set("linger.ms", "5")
            .create()?;
        Ok(Self {
            log: db.log(),
            db,
            producer,
            topic: config.topic(CASE_EVENTS_TOPIC),
            name: name.to_owned(),
        })
    }

    async fn checkpoint(&self) -> Result<FeedCursor, BusError> {
        let insert = "INSERT INTO outbox_checkpoints (name, tx, position) VALUES ($1, 0, 0) ON CONFLICT (name) DO NOTHING";
        let select = "SELECT tx, position FROM outbox_checkpoints WHERE name = $1";
        let (tx, position): (i64, i64) = match &self.db {
            Database::Postgres(pg) => {
                sqlx::query(insert)
                    .bind(&self.name)
                    .execute(pg.pool())
                    .await?;
                sqlx::query_as(select)
                    .bind(&self.name)
                    .fetch_one(pg.pool())
                    .await?
            }
            Database::Sqlite(lite) => {
                sqlx::query(&insert.replace('$', "?"))
                    .bind(&self.name)
                    .execute(lite.writer())
                    .await?;
                sqlx::query_as(&select.replace('$', "?"))
                    .bind(&self.name)
                    .fetch_one(lite.writer())
                    .await?
            }
        };
        Ok(FeedCursor { tx, position })
    }

    async fn save(&self, to: FeedCursor) -> Result<(), BusError> {
        let update = "UPDATE outbox_checkpoints SET tx = $1, position = $2 WHERE name = $3";
        match &self.db {
            Database::Postgres(pg) => {
                sqlx::query(update)
                    .bind(to.tx)
                    .bind(to.position)
                    .bind(&self.name)
                    .execute(pg.pool())
                    .await?;
            }
            Database::Sqlite(lite) => {
                sqlx::query(&update.replace('$', "?"))
                    .bind(to.tx)
                    .bind(to.position)
                    .bind(&self.name)
                    .execute(lite.writer())
                    .await?;
            }
        }
        Ok(())
    }

    /// Publishes one batch; returns how many events it published.
    pub async fn publish_once(&self) -> Result<usize, BusError> {
        let from = self.checkpoint().await?;
        let events = self.log.read_feed(from, BATCH).await?;
        let Some(last) = events.last() else {
            return Ok(0);
        };
        let mut pending = Vec::with_capacity(events.len());
        for e in &events {
            let key = e.stream_id.to_string();
            loop {
                let record = FutureRecord::to(&self.topic)
                    .key(&key)
                    .payload(&e.payload)
                    .headers(headers(e));
                match self.producer.send_result(record) {
                    Ok(delivery) => {
                        pending.push(delivery);
                        break;
                    }
                    // Local queue full: let deliveries drain, then retry.
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        self.producer.poll(Duration::from_millis(100));
                    }
                    Err((err, _)) => return Err(err.into()),
                }
            }
        }
        for delivery in pending {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((err, _))) => return Err(err.into()),
                Err(_canceled) => return Err(KafkaError::Canceled.into()),
            }
        }
        // Every message of the batch is acknowledged: move on.
        self.save(last.cursor()).await?;
        tracing::debug!(events = events.len(), "published");
        Ok(events.len())
    }

    /// Publishes until the feed is empty.
    pub async fn catch_up(&self) -> Result<usize, BusError> {
        let mut total = 0;
        loop {
            match self.publish_once().await? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }

    /// Runs until `shutdown`: polls the feed, and when the broker is down
    /// waits with backoff (up to 30 s) and resumes where it stopped.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut backoff = Duration::from_millis(200);
        loop {
            let pause = match self.catch_up().await {
                Ok(_) => {
                    backoff = Duration::from_millis(200);
                    Duration::from_millis(100)
                }
                Err(e) => {
                    tracing::warn!(code = e.code(), error = %e, "publishing paused; will retry");
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    backoff
                }
            };
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}
