//! `omnicase topics`: creates the topics omnicase reads and writes.

use crate::{BusError, KafkaConfig, CASE_EVENTS_TOPIC, DLQ_TOPIC};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use std::time::Duration;

/// What became of one topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicOutcome {
    pub topic: String,
    /// `CREATED`, `EXISTS`, or the broker's error code.
    pub status: String,
}

/// Creates the case-events topic, the dead-letter topic and `intake`
/// (full names) with `partitions` partitions each. Existing topics are left
/// as they are.
pub async fn create(
    config: &KafkaConfig,
    intake: &[String],
    partitions: i32,
    replication: i32,
) -> Result<Vec<TopicOutcome>, BusError> {
    let admin: AdminClient<DefaultClientContext> = config.client().create()?;
    let mut names = vec![config.topic(CASE_EVENTS_TOPIC), config.topic(DLQ_TOPIC)];
    for t in intake {
        if !names.contains(t) {
            names.push(t.clone());
        }
    }
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|n| NewTopic::new(n, partitions, TopicReplication::Fixed(replication)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin.create_topics(&topics, &options).await?;
    Ok(results
        .into_iter()
        .map(|r| match r {
            Ok(topic) => TopicOutcome {
                topic,
                status: "CREATED".into(),
            },
            Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => TopicOutcome {
                topic,
                status: "EXISTS".into(),
            },
            Err((topic, code)) => TopicOutcome {
                topic,
                status: format!("{code:?}"),
            },
        })
        .collect())
}
