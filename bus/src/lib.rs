//! Kafka, optional: with no brokers configured omnicase runs in-process.
//!
//! - [`Publisher`]: the event log is the outbox; every event goes, in feed
//!   order, to `{prefix}omnicase.case-events.v1`, keyed by stream id, value
//!   = the stored event's JSON payload, CloudEvents Kafka-binding headers.
//! - [`IntakeConsumer`]: `{prefix}omnicase.intake.<channel>.v1` topics carry
//!   channel submissions and mail-scan manifests; refusals go to
//!   `{prefix}omnicase.intake.dlq.v1` with the original bytes and headers.
//! - [`KafkaProjection`]: read models fed from the case-events topic by a
//!   consumer group, so several instances split the partitions.
//! - [`topics::create`]: `omnicase topics`.

pub mod intake;
pub mod projection;
pub mod publisher;
pub mod topics;

pub use intake::{IntakeBinding, IntakeConsumer};
pub use projection::KafkaProjection;
pub use publisher::Publisher;

use chrono::{DateTime, SecondsFormat, Utc};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::StreamConsumer;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::FutureProducer;
use std::collections::BTreeMap;
use store::{RecordedEvent, StreamKind};

pub const CASE_EVENTS_TOPIC: &str = "omnicase.case-events.v1";
pub const DLQ_TOPIC: &str = "omnicase.intake.dlq.v1";

/// `omnicase.intake.<channel>.v1`, channel in lower case (`mail_scan`).
pub fn intake_topic(channel: &str) -> String {
    format!("omnicase.intake.{}.v1", channel.to_ascii_lowercase())
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("checkpoint: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Read(#[from] projections::ReadError),
    #[error("message: {0}")]
    Message(String),
}

impl BusError {
    pub fn code(&self) -> domain::ErrorCode {
        match self {
            BusError::Kafka(_) => domain::ErrorCode::BrokerUnavailable,
            BusError::Store(e) => e.code(),
            BusError::Db(_) => domain::ErrorCode::StoreUnavailable,
            BusError::Read(e) => e.code(),
            BusError::Message(_) => domain::ErrorCode::BadMessage,
        }
    }
}

/// Where Kafka is and how to talk to it.
#[derive(Clone, Debug, Default)]
pub struct KafkaConfig {
    /// `host:port,host:port`.
    pub brokers: String,
    /// Prepended to every topic and consumer-group name (e.g. `prod.`).
    pub topic_prefix: String,
    /// Passed to librdkafka as is, after omnicase's own defaults, so they
    /// win (security.protocol, sasl.*, message.timeout.ms, …).
    pub extra: BTreeMap<String, String>,
}

impl KafkaConfig {
    pub fn topic(&self, name: &str) -> String {
        format!("{}{name}", self.topic_prefix)
    }

    fn with_extra(&self, mut c: ClientConfig) -> ClientConfig {
        c.set("bootstrap.servers", &self.brokers);
        for (k, v) in &self.extra {
            c.set(k, v);
        }
        c
    }

    /// A client with only the brokers and the pass-through settings.
    pub fn client(&self) -> ClientConfig {
        self.with_extra(ClientConfig::new())
    }

    /// Idempotent, acks=all: no duplicates from retries, no reordering.
    pub fn producer(&self) -> Result<FutureProducer, KafkaError> {
        let mut c = ClientConfig::new();
        c.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "30000")
            .set("linger.ms", "5");
        self.with_extra(c).create()
    }

    /// A consumer in `group` that commits only what the caller commits.
    pub fn consumer(&self, group: &str) -> Result<StreamConsumer, KafkaError> {
        let mut c = ClientConfig::new();
        c.set("group.id", self.topic(group))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            // Read models follow within milliseconds, not at the 500 ms
            // default long-poll of a broker that answers only when it ends.
            .set("fetch.wait.max.ms", "20");
        self.with_extra(c).create()
    }
}

/// CloudEvents (Kafka binding) and omnicase headers of one event.
pub fn headers(e: &RecordedEvent) -> OwnedHeaders {
    let kind = e.kind.as_str();
    let ce_type = format!("omnicase.{kind}.{}", e.event_type);
    let source = format!("/omnicase/{}", e.tenant);
    let time = e.recorded_at.to_rfc3339_opts(SecondsFormat::AutoSi, true);
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

/// All headers of a message, as text.
pub fn header_map(m: &impl Message) -> BTreeMap<String, String> {
    m.headers()
        .map(|h| {
            h.iter()
                .map(|x| {
                    (
                        x.key.to_owned(),
                        String::from_utf8_lossy(x.value.unwrap_or_default()).into_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A case-events message back into the event it carries (what the read
/// models need; the hash chain stays in the log).
pub fn decode_event(m: &impl Message) -> Result<RecordedEvent, BusError> {
    let h = header_map(m);
    let get = |k: &str| {
        h.get(k)
            .map(String::as_str)
            .ok_or_else(|| BusError::Message(format!("header {k} missing")))
    };
    let bad = |k: &str| BusError::Message(format!("header {k} malformed"));
    let ce_type = get("ce_type")?;
    let mut parts = ce_type.splitn(3, '.');
    let (Some("omnicase"), Some(kind), Some(event_type)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("ce_type"));
    };
    let kind = StreamKind::parse(kind).map_err(|_| bad("ce_type"))?;
    let payload = std::str::from_utf8(m.payload().unwrap_or_default())
        .map_err(|_| BusError::Message("payload is not UTF-8".into()))?;
    Ok(RecordedEvent {
        position: get("omnicase_position")?
            .parse()
            .map_err(|_| bad("omnicase_position"))?,
        tx: 0,
        tenant: get("omnicase_tenant")?.to_owned(),
        stream_id: get("ce_subject")?.parse().map_err(|_| bad("ce_subject"))?,
        kind,
        version: get("omnicase_stream_version")?
            .parse()
            .map_err(|_| bad("omnicase_stream_version"))?,
        event_id: get("ce_id")?.parse().map_err(|_| bad("ce_id"))?,
        event_type: event_type.to_owned(),
        schema_version: get("omnicase_schema_version")?
            .parse()
            .map_err(|_| bad("omnicase_schema_version"))?,
        payload: payload.to_owned(),
        metadata: "{}".into(),
        recorded_at: DateTime::parse_from_rfc3339(get("ce_time")?)
            .map_err(|_| bad("ce_time"))?
            .with_timezone(&Utc),
        prev_hash: Vec::new(),
        hash: Vec::new(),
    })
}

/// Seeks every assigned partition back to its committed offset, so a
/// message that failed is delivered again rather than skipped.
pub(crate) fn rewind(consumer: &StreamConsumer) {
    use rdkafka::consumer::Consumer;
    let wait = std::time::Duration::from_secs(10);
    let Ok(committed) = consumer.committed(wait) else {
        return;
    };
    for e in committed.elements() {
        let offset = match e.offset() {
            rdkafka::Offset::Invalid => rdkafka::Offset::Beginning,
            o => o,
        };
        if let Err(err) = consumer.seek(e.topic(), e.partition(), offset, wait) {
            tracing::warn!(error = %err, "could not rewind a partition");
        }
    }
}

/// The next message; a subscribed topic that does not exist (yet: just
/// created, or not created at all) is reported and waited out, not treated
/// as a failure of the message stream.
pub async fn next_message(
    consumer: &StreamConsumer,
) -> Result<rdkafka::message::BorrowedMessage<'_>, KafkaError> {
    use rdkafka::error::RDKafkaErrorCode;
    loop {
        match consumer.recv().await {
            Err(KafkaError::MessageConsumption(
                code @ (RDKafkaErrorCode::UnknownTopicOrPartition
                | RDKafkaErrorCode::UnknownTopic
                | RDKafkaErrorCode::UnknownPartition),
            )) => {
                tracing::warn!(
                    ?code,
                    "a subscribed topic is missing (create it with `omnicase topics`)"
                );
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            other => return other,
        }
    }
}
