//! The relay from the event log (the outbox) to `omnicase.case-events.v1`.

use crate::{headers, BusError, KafkaConfig, CASE_EVENTS_TOPIC};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::{Database, EventLog, FeedCursor};

const BATCH: u32 = 500;

/// Relays every event of the log, in feed order, keyed by stream id.
/// Checkpoints only after the broker acknowledged every message of a batch:
/// a crash or an outage re-sends (same `ce_id`), never skips.
pub struct Publisher {
    db: Database,
    log: Arc<dyn EventLog>,
    config: KafkaConfig,
    /// Replaced after a failed batch: an idempotent producer whose broker
    /// lost its state (restart, failover) is fenced for good.
    producer: Mutex<Option<FutureProducer>>,
    topic: String,
    name: String,
}

impl Publisher {
    /// `name` tells relays apart (one checkpoint each).
    pub fn new(config: &KafkaConfig, db: Database, name: &str) -> Result<Self, BusError> {
        let publisher = Self {
            log: db.log(),
            db,
            config: config.clone(),
            producer: Mutex::new(None),
            topic: config.topic(CASE_EVENTS_TOPIC),
            name: name.to_owned(),
        };
        // Fail early on a bad configuration.
        let _ready = publisher.producer()?;
        Ok(publisher)
    }

    fn producer(&self) -> Result<FutureProducer, BusError> {
        let mut slot = self.producer.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = slot.as_ref() {
            return Ok(p.clone());
        }
        let p = self.config.producer()?;
        *slot = Some(p.clone());
        Ok(p)
    }

    fn discard_producer(&self) {
        let mut slot = self.producer.lock().unwrap_or_else(|p| p.into_inner());
        *slot = None;
    }

    /// Where publishing resumes.
    pub async fn checkpoint(&self) -> Result<FeedCursor, BusError> {
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
                sqlx::query(&store::sqlite_sql(insert))
                    .bind(&self.name)
                    .execute(lite.writer())
                    .await?;
                sqlx::query_as(&store::sqlite_sql(select))
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
                sqlx::query(&store::sqlite_sql(update))
                    .bind(to.tx)
                    .bind(to.position)
                    .bind(&self.name)
                    .execute(lite.writer())
                    .await?;
            }
        }
        Ok(())
    }

    /// Events committed to the log but not yet acknowledged by the broker,
    /// and the age in seconds of the oldest of them.
    pub async fn lag(&self) -> Result<(i64, f64), BusError> {
        let from = self.checkpoint().await?;
        let oldest = self.log.read_feed(from, 1).await?;
        let Some(oldest) = oldest.first() else {
            return Ok((0, 0.0));
        };
        let count = "SELECT count(*) FROM events WHERE (tx, position) > ($1, $2)";
        let events: i64 = match &self.db {
            Database::Postgres(pg) => {
                sqlx::query_scalar(count)
                    .bind(from.tx)
                    .bind(from.position)
                    .fetch_one(pg.pool())
                    .await?
            }
            Database::Sqlite(lite) => {
                sqlx::query_scalar(&store::sqlite_sql(count))
                    .bind(from.tx)
                    .bind(from.position)
                    .fetch_one(lite.reader())
                    .await?
            }
        };
        let age = (chrono::Utc::now() - oldest.recorded_at).num_milliseconds() as f64 / 1000.0;
        Ok((events, age.max(0.0)))
    }

    /// Publishes one batch; returns how many events it published.
    pub async fn publish_once(&self) -> Result<usize, BusError> {
        let from = self.checkpoint().await?;
        let events = self.log.read_feed(from, BATCH).await?;
        let Some(last) = events.last() else {
            return Ok(0);
        };
        let producer = self.producer()?;
        let sent = async {
            let mut pending = Vec::with_capacity(events.len());
            for e in &events {
                let key = e.stream_id.to_string();
                loop {
                    let record = FutureRecord::to(&self.topic)
                        .key(&key)
                        .payload(&e.payload)
                        .headers(headers(e));
                    match producer.send_result(record) {
                        Ok(delivery) => {
                            pending.push(delivery);
                            break;
                        }
                        // Local queue full: let deliveries drain, then retry.
                        Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        Err((err, _)) => return Err(err),
                    }
                }
            }
            for delivery in pending {
                match delivery.await {
                    Ok(Ok(_)) => {}
                    Ok(Err((err, _))) => return Err(err),
                    Err(_canceled) => return Err(KafkaError::Canceled),
                }
            }
            Ok(())
        }
        .await;
        if let Err(err) = sent {
            metrics::counter!("omnicase_publish_delivery_errors_total").increment(1);
            self.discard_producer();
            return Err(err.into());
        }
        // Every message of the batch is acknowledged: move on.
        self.save(last.cursor()).await?;
        metrics::counter!("omnicase_published_events_total").increment(events.len() as u64);
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

    async fn report_lag(&self) {
        if let Ok((events, seconds)) = self.lag().await {
            metrics::gauge!("omnicase_publish_lag_events").set(events as f64);
            metrics::gauge!("omnicase_publish_lag_seconds").set(seconds);
        }
    }

    /// On PostgreSQL, several instances may run a relay for the same
    /// database: a session advisory lock (held by a connection of its own for
    /// as long as it lives) lets one of them publish and keeps the others
    /// waiting, so events are not sent once per instance. `None`: this
    /// instance is not the relay now. SQLite has a single writer process.
    async fn lead(&self) -> Result<Option<Option<sqlx::PgConnection>>, BusError> {
        let Database::Postgres(pg) = &self.db else {
            return Ok(Some(None));
        };
        // Detached: closing it (on drop) releases the lock; a pooled one
        // would carry the lock back into the pool.
        let mut conn = pg.pool().acquire().await?.detach();
        let key = format!("omnicase.publisher.{}", self.name);
        let won: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
            .bind(&key)
            .fetch_one(&mut conn)
            .await?;
        Ok(won.then_some(Some(conn)))
    }

    /// Runs until `shutdown`: polls the feed, and when the broker is down
    /// waits with backoff (up to 30 s) and resumes where it stopped. The
    /// API does not wait for it: commands are durable once in the log.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut backoff = Duration::from_millis(200);
        let mut leader = None;
        let mut rounds = 0u32;
        loop {
            rounds = rounds.wrapping_add(1);
            if leader.is_none() {
                match self.lead().await {
                    Ok(Some(lock)) => {
                        tracing::info!(relay = %self.name, "this instance relays the log to Kafka");
                        leader = Some(lock);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(code = %e.code(), error = %e, "relay election failed; will retry")
                    }
                }
            }
            let pause = match &mut leader {
                None => Duration::from_secs(5),
                Some(lock) => {
                    // A lost lock connection means lost leadership (checked
                    // every ~50 rounds).
                    if let Some(conn) = lock.as_mut().filter(|_| rounds.is_multiple_of(50)) {
                        if sqlx::query("SELECT 1").execute(&mut *conn).await.is_err() {
                            leader = None;
                            continue;
                        }
                    }
                    match self.catch_up().await {
                        Ok(_) => {
                            backoff = Duration::from_millis(200);
                            metrics::gauge!("omnicase_publish_lag_events").set(0.0);
                            metrics::gauge!("omnicase_publish_lag_seconds").set(0.0);
                            // Caught up: look again soon (one indexed read
                            // of the feed); the relay's share of the lag.
                            Duration::from_millis(20)
                        }
                        Err(e) => {
                            tracing::warn!(code = %e.code(), error = %e, "publishing paused; will retry");
                            self.report_lag().await;
                            backoff = (backoff * 2).min(Duration::from_secs(30));
                            backoff
                        }
                    }
                }
            };
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}
