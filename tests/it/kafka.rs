//! Publishing through a real Kafka-protocol broker (nisshi, started by
//! scripts/ensure-kafka.sh on 127.0.0.1).

use bus::{KafkaConfig, Publisher};
use domain::case::{ContactKind, NewContact};
use domain::*;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;
use std::time::Duration;
use tests::*;

/// The broker's address: `KAFKA_TEST_BROKERS`, or one the project script
/// installs (first time) and starts.
fn broker() -> &'static str {
    static BROKER: OnceLock<String> = OnceLock::new();
    BROKER.get_or_init(|| {
        if let Ok(b) = std::env::var("KAFKA_TEST_BROKERS") {
            return b;
        }
        let script = format!("{}/../scripts/ensure-kafka.sh", env!("CARGO_MANIFEST_DIR"));
        let out = std::process::Command::new("bash")
            .arg(script)
            .output()
            .expect("scripts/ensure-kafka.sh runs");
        assert!(
            out.status.success(),
            "broker did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    })
}

async fn topic(config: &KafkaConfig) -> String {
    let name = config.topic(bus::CASE_EVENTS_TOPIC);
    let admin: AdminClient<DefaultClientContext> = config.client().create().unwrap();
    admin
        .create_topics(
            &[NewTopic::new(&name, 3, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    name
}

struct Received {
    key: String,
    payload: String,
    headers: HashMap<String, String>,
}

async fn consume(config: &KafkaConfig, topic: &str, count: usize) -> Vec<Received> {
    let consumer: StreamConsumer = config
        .client()
        .set("group.id", format!("g-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while got.len() < count && tokio::time::Instant::now() < deadline {
        let Ok(Ok(m)) = tokio::time::timeout(Duration::from_secs(5), consumer.recv()).await else {
            continue;
        };
        let headers = m
            .headers()
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
            .unwrap_or_default();
        got.push(Received {
            key: String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
            payload: String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
            headers,
        });
    }
    got
}

/// Every event of the log reaches the topic once, keyed by stream, in each
/// stream's order, with CloudEvents headers and the stored payload; a
/// second pass publishes only what is new.
async fn the_log_is_published_in_order_with_cloudevents_headers(backend: Backend) {
    let w = world(backend).await;
    let mut cases = Vec::new();
    for (i, f) in ["123456789", "987654321"].iter().enumerate() {
        let claimant = w.claimant("alpha", f).await;
        let r = w
            .engine
            .submit_claim(
                &env("alpha", "c"),
                submission(
                    claimant,
                    Channel::Web,
                    &format!("w{i}"),
                    at(1 + i as u32, 9),
                ),
            )
            .await
            .unwrap();
        cases.push(CaseId::from_uuid(r.stream_id));
    }
    for n in 0..6u128 {
        let contact = CaseCommand::RecordContact(NewContact {
            id: ContactId::from_uuid(uuid::Uuid::from_u128(n + 1)),
            kind: ContactKind::Inbound,
            channel: Channel::CallCenter,
            reason: None,
            summary: Text::parse("s", &format!("call {n}")).unwrap(),
            follow_up: None,
            occurred_at: at(3, 9),
        });
        w.engine
            .execute(&env("alpha", "agent"), cases[(n % 2) as usize], contact)
            .await
            .unwrap();
    }
    let config = KafkaConfig {
        brokers: broker().to_owned(),
        topic_prefix: format!("t{}.", uuid::Uuid::new_v4().simple()),
        ..Default::default()
    };
    let topic = topic(&config).await;
    let publisher = Publisher::new(&config, w.t.database(), "test").unwrap();
    let events = w.t.all_events().await;
    assert_eq!(publisher.catch_up().await.unwrap(), events.len());
    assert_eq!(publisher.catch_up().await.unwrap(), 0, "nothing twice");

    let got = consume(&config, &topic, events.len()).await;
    assert_eq!(got.len(), events.len());
    let by_id: HashMap<String, &store::RecordedEvent> =
        events.iter().map(|e| (e.event_id.to_string(), e)).collect();
    let ids: HashSet<&str> = got.iter().map(|m| m.headers["ce_id"].as_str()).collect();
    assert_eq!(ids.len(), events.len(), "each event exactly once");
    let mut last: HashMap<&str, u64> = HashMap::new();
    for m in &got {
        let e = by_id[&m.headers["ce_id"]];
        assert_eq!(m.key, e.stream_id.to_string());
        assert_eq!(m.payload, e.payload);
        assert_eq!(m.headers["ce_specversion"], "1.0");
        assert_eq!(
            m.headers["ce_type"],
            format!("omnicase.{}.{}", e.kind.as_str(), e.event_type)
        );
        assert_eq!(m.headers["ce_source"], "/omnicase/alpha");
        assert_eq!(m.headers["ce_subject"], e.stream_id.to_string());
        assert_eq!(m.headers["omnicase_schema_version"], "1");
        assert!(m.headers.contains_key("ce_time"));
        let version: u64 = m.headers["omnicase_stream_version"].parse().unwrap();
        let prev = last.insert(m.key.as_str(), version).unwrap_or(0);
        assert!(version > prev, "per-stream order kept on its partition");
    }
}
both!(the_log_is_published_in_order_with_cloudevents_headers);
