//! Intake topics: `{prefix}omnicase.intake.<channel>.v1` carry channel
//! submissions (schemas/channel-submission.v1.json) and mail-scan manifests
//! (schemas/mail-batch.v1.json). Each message is filed through the same
//! [`intake::Intake`] as the HTTP and CLI paths, as the principal its topic
//! is bound to by configuration (a message cannot choose its tenant or its
//! sender). The offset is committed only after the message was durably
//! handled: filed (the idempotency key makes a redelivery append nothing),
//! or refused and written to `{prefix}omnicase.intake.dlq.v1`.

use crate::{header_map, BusError, KafkaConfig, DLQ_TOPIC};
use domain::{ActorId, ErrorCode, TenantId};
use intake::{Caller, CallerKind, Filed, Intake, IntakeError};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// The consumer group shared by every instance.
pub const INTAKE_GROUP: &str = "omnicase.intake";

/// One intake topic and who its messages come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntakeBinding {
    /// Full topic name (prefix included).
    pub topic: String,
    pub tenant: TenantId,
    /// The integrator principal messages act as; the channel rules and
    /// mail-scanner grants of the tenant apply to it as to a token subject.
    pub principal: ActorId,
}

/// What became of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handled {
    /// A submission filed on a case; `replayed`: it had been filed before.
    Filed { case_id: Uuid, replayed: bool },
    /// No claimant matched: waiting in the unidentified-mail queue.
    Unidentified { reason: ErrorCode },
    /// A mail-scan manifest; per-document outcomes are in its batch report.
    Batch {
        batch_id: String,
        attached: usize,
        unidentified: usize,
        rejected: usize,
    },
    /// Refused: written to the dead-letter topic with this code.
    DeadLettered { code: ErrorCode },
}

/// How often a message refused with `code` is tried again before it is
/// dead-lettered: store outages until the store returns; other retriable
/// codes (a concurrent writer won) and internal faults a few times.
fn retriable(code: ErrorCode) -> Option<u32> {
    match code {
        ErrorCode::StoreUnavailable => Some(u32::MAX),
        ErrorCode::Internal => Some(5),
        code if code.is_retriable() => Some(5),
        _ => None,
    }
}

pub struct IntakeConsumer {
    consumer: StreamConsumer,
    dlq: FutureProducer,
    dlq_topic: String,
    intake: Arc<Intake>,
    bindings: Vec<IntakeBinding>,
}

impl IntakeConsumer {
    pub fn new(
        config: &KafkaConfig,
        intake: Arc<Intake>,
        bindings: Vec<IntakeBinding>,
    ) -> Result<Self, BusError> {
        let consumer = config.consumer(INTAKE_GROUP)?;
        let topics: Vec<&str> = bindings.iter().map(|b| b.topic.as_str()).collect();
        consumer.subscribe(&topics)?;
        Ok(Self {
            consumer,
            dlq: config.producer()?,
            dlq_topic: config.topic(DLQ_TOPIC),
            intake,
            bindings,
        })
    }

    /// The underlying consumer (tests drive `recv` + [`Self::handle`]
    /// without a commit to play a crash).
    pub fn consumer(&self) -> &StreamConsumer {
        &self.consumer
    }

    /// Files one message, or dead-letters it. `Err` only when it could be
    /// neither (the store or the broker is away): do not commit then.
    pub async fn handle(&self, m: &BorrowedMessage<'_>) -> Result<Handled, BusError> {
        let mut attempt = 0u32;
        let mut pause = Duration::from_millis(100);
        loop {
            match self.file(m).await {
                Ok(h) => return Ok(h),
                Err(e) => match retriable(e.code) {
                    Some(limit) if attempt < limit => {
                        attempt += 1;
                        tracing::warn!(code = %e.code, attempt, "intake message: will retry");
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(10));
                    }
                    _ => {
                        self.dead_letter(m, &e).await?;
                        return Ok(Handled::DeadLettered { code: e.code });
                    }
                },
            }
        }
    }

    async fn file(&self, m: &BorrowedMessage<'_>) -> Result<Handled, IntakeError> {
        let Some(binding) = self.bindings.iter().find(|b| b.topic == m.topic()) else {
            return Err(IntakeError::new(
                ErrorCode::UnknownTopic,
                "no intake binding for this topic",
            ));
        };
        let bytes = m.payload().unwrap_or_default();
        if bytes.is_empty() {
            return Err(IntakeError::new(
                ErrorCode::EmptyMessage,
                "the message has no value",
            ));
        }
        let caller = Caller {
            tenant: binding.tenant.clone(),
            actor: binding.principal.clone(),
            kind: CallerKind::Integrator,
            sensitive: false,
            office: None,
        };
        let is_manifest = serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .is_some_and(|v| v.get("batchId").is_some() && v.get("documents").is_some());
        if is_manifest {
            let report = self.intake.ingest_batch(&caller, bytes, |_, _| {}).await?;
            if report.rejected > 0 {
                tracing::warn!(
                    batch = %report.batch_id,
                    rejected = report.rejected,
                    "mail batch filed with rejected documents (see its batch report)"
                );
            }
            return Ok(Handled::Batch {
                batch_id: report.batch_id,
                attached: report.attached,
                unidentified: report.unidentified,
                rejected: report.rejected,
            });
        }
        Ok(match self.intake.submit(&caller, bytes).await? {
            Filed::Case {
                case_id, replayed, ..
            } => Handled::Filed { case_id, replayed },
            Filed::Unidentified { reason } => Handled::Unidentified { reason },
        })
    }

    /// The original key, value and headers, plus why and where from.
    async fn dead_letter(&self, m: &BorrowedMessage<'_>, e: &IntakeError) -> Result<(), BusError> {
        let partition = m.partition().to_string();
        let offset = m.offset().to_string();
        let mut headers = OwnedHeaders::new();
        for (key, value) in header_map(m) {
            headers = headers.insert(Header {
                key: &key,
                value: Some(value.as_bytes()),
            });
        }
        for (key, value) in [
            ("error_code", e.code.as_str()),
            ("error_message", e.message.as_str()),
            ("source_topic", m.topic()),
            ("source_partition", partition.as_str()),
            ("source_offset", offset.as_str()),
        ] {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        let mut record = FutureRecord::to(&self.dlq_topic)
            .payload(m.payload().unwrap_or_default())
            .headers(headers);
        if let Some(key) = m.key() {
            record = record.key(key);
        }
        self.dlq
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(err, _)| BusError::Kafka(err))?;
        metrics::counter!("omnicase_intake_dead_lettered_total", "code" => e.code.as_str())
            .increment(1);
        tracing::warn!(
            code = %e.code,
            topic = m.topic(),
            partition = m.partition(),
            offset = m.offset(),
            "intake message dead-lettered"
        );
        Ok(())
    }

    /// Receives, handles and commits one message.
    pub async fn step(&self) -> Result<Handled, BusError> {
        let m = crate::next_message(&self.consumer).await?;
        let handled = self.handle(&m).await?;
        self.consumer.commit_message(&m, CommitMode::Sync)?;
        let outcome = match &handled {
            Handled::Filed { replayed: true, .. } => "replayed",
            Handled::Filed { .. } => "filed",
            Handled::Unidentified { .. } => "unidentified",
            Handled::Batch { .. } => "batch",
            Handled::DeadLettered { .. } => "dead_lettered",
        };
        metrics::counter!("omnicase_intake_messages_total", "outcome" => outcome).increment(1);
        Ok(handled)
    }

    /// Runs until `shutdown`. A message that could not be handled is not
    /// committed; the consumer rejoins and it is delivered again.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                r = self.step() => if let Err(e) = r {
                    tracing::warn!(code = %e.code(), error = %e, "intake consumer: retrying");
                    // Go back to the last committed offset so nothing is skipped.
                    crate::rewind(&self.consumer);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}
