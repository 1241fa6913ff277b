//! Scale-out projections: read models fed from `omnicase.case-events.v1`
//! through one consumer group, so N instances split the partitions (keyed
//! by stream id: one stream's events stay on one partition, in order).
//! Rows only move forward by case version, so a re-delivery or a
//! rebalance (two instances briefly holding a partition) changes nothing;
//! offsets are committed after the read-model transaction.

use crate::{decode_event, BusError, KafkaConfig, CASE_EVENTS_TOPIC};
use projections::Projector;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::TopicPartitionList;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub const PROJECTION_GROUP: &str = "omnicase.read-models";
const BATCH: usize = 500;

pub struct KafkaProjection {
    consumer: StreamConsumer,
    projector: Arc<Projector>,
    topic: String,
    applied: AtomicU64,
}

impl KafkaProjection {
    pub fn new(config: &KafkaConfig, projector: Arc<Projector>) -> Result<Self, BusError> {
        let consumer = config.consumer(PROJECTION_GROUP)?;
        let topic = config.topic(CASE_EVENTS_TOPIC);
        consumer.subscribe(&[topic.as_str()])?;
        Ok(Self {
            consumer,
            projector,
            topic,
            applied: AtomicU64::new(0),
        })
    }

    /// Receives up to a batch (waiting at most `wait` after the first
    /// message), applies it in one transaction, commits the offsets.
    /// Returns how many messages it applied.
    pub async fn step(&self, wait: Duration) -> Result<usize, BusError> {
        let first = crate::next_message(&self.consumer).await?;
        let mut events = Vec::new();
        keep(&mut events, &first);
        let mut offsets = TopicPartitionList::new();
        offsets.add_partition_offset(
            first.topic(),
            first.partition(),
            rdkafka::Offset::Offset(first.offset() + 1),
        )?;
        drop(first);
        let deadline = tokio::time::Instant::now() + wait;
        while events.len() < BATCH {
            let Ok(next) =
                tokio::time::timeout_at(deadline, crate::next_message(&self.consumer)).await
            else {
                break;
            };
            let m = next?;
            keep(&mut events, &m);
            let next_offset = rdkafka::Offset::Offset(m.offset() + 1);
            match offsets.find_partition(m.topic(), m.partition()) {
                Some(mut p) => p.set_offset(next_offset)?,
                None => {
                    offsets.add_partition_offset(m.topic(), m.partition(), next_offset)?;
                }
            }
        }
        self.projector.apply_delivered(&events).await?;
        self.consumer.commit(&offsets, CommitMode::Sync)?;
        self.applied
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        metrics::counter!("omnicase_projection_kafka_events_total").increment(events.len() as u64);
        Ok(events.len())
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Messages this instance received and applied so far.
    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::Relaxed)
    }

    /// Partitions currently assigned to this instance.
    pub fn assigned(&self) -> usize {
        self.consumer.assignment().map(|a| a.count()).unwrap_or(0)
    }

    /// Runs until `shutdown`; on a failure, goes back to the committed
    /// offsets and tries again.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                r = self.step(Duration::from_millis(20)) => if let Err(e) = r {
                    tracing::warn!(code = %e.code(), error = %e, "kafka projection: retrying");
                    crate::rewind(&self.consumer);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
}

/// Adds a message's event; a message that is not one (nothing but
/// omnicase writes the topic, so this is a bug or tampering) is logged and
/// passed over: the log stays the truth, and the stream's next event fills
/// the gap from it.
fn keep(events: &mut Vec<store::RecordedEvent>, m: &impl Message) {
    match decode_event(m) {
        Ok(e) => events.push(e),
        Err(e) => {
            metrics::counter!("omnicase_projection_kafka_bad_messages_total").increment(1);
            tracing::error!(error = %e, topic = m.topic(), partition = m.partition(), offset = m.offset(), "not an omnicase event; skipped");
        }
    }
}
