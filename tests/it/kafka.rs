//! Kafka through a real Kafka-protocol broker (nisshi, installed and
//! started on 127.0.0.1 by scripts/ensure-kafka.sh; the broker-failure test
//! starts and kills its own), and librdkafka's mock cluster where a fault
//! must be injected precisely.

use app::auth::Role;
use bus::intake::Handled;
use bus::{IntakeConsumer, KafkaConfig, KafkaProjection, Publisher};
use domain::case::{ContactKind, NewContact};
use domain::*;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};
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

/// A configuration with topic and group names of its own.
fn config_for(brokers: &str) -> KafkaConfig {
    KafkaConfig {
        brokers: brokers.to_owned(),
        topic_prefix: format!("t{}.", uuid::Uuid::new_v4().simple()),
        extra: [
            // nisshi: group joins wait session.timeout.ms / 2 (DESIGN §7).
            ("session.timeout.ms", "6000"),
            ("message.timeout.ms", "5000"),
            ("log_level", "3"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    }
}

fn config() -> KafkaConfig {
    config_for(broker())
}

async fn create_topic(config: &KafkaConfig, name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = config.client().create().unwrap();
    let r = admin
        .create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    assert!(
        r.iter().all(|r| r.is_ok()
            || matches!(
                r,
                Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists))
            )),
        "{r:?}"
    );
}

async fn topic(config: &KafkaConfig) -> String {
    let name = config.topic(bus::CASE_EVENTS_TOPIC);
    create_topic(config, &name, 3).await;
    name
}

struct Received {
    key: String,
    payload: String,
    headers: HashMap<String, String>,
}

async fn consume(config: &KafkaConfig, topic: &str, count: usize) -> Vec<Received> {
    consume_within(config, topic, count, Duration::from_secs(60)).await
}

/// Up to `count` messages, for at most `wait`.
async fn consume_within(
    config: &KafkaConfig,
    topic: &str,
    count: usize,
    wait: Duration,
) -> Vec<Received> {
    let consumer: StreamConsumer = config
        .client()
        .set("group.id", format!("g-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while got.len() < count && tokio::time::Instant::now() < deadline {
        let Ok(Ok(m)) = tokio::time::timeout_at(deadline, consumer.recv()).await else {
            continue;
        };
        let headers = bus::header_map(&m).into_iter().collect();
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
    let config = config();
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

/// The application with Kafka configured; `adjust` adds channels, bindings.
async fn kafka_world(
    backend: Backend,
    config: &KafkaConfig,
    adjust: impl FnOnce(&mut services::config::Settings),
) -> ApiWorld {
    let (brokers, prefix, extra) = (
        config.brokers.clone(),
        config.topic_prefix.clone(),
        config.extra.clone(),
    );
    api_world_with(backend, move |s| {
        s.kafka.brokers = Some(brokers);
        s.kafka.topic_prefix = prefix;
        s.kafka.librdkafka = extra;
        adjust(s);
    })
    .await
}

/// A citizen files a claim over GraphQL; the serving instance's publisher
/// (started as `omnicase serve` starts it) puts its events on the topic.
async fn a_web_command_reaches_the_case_events_topic(backend: Backend) {
    let config = config();
    let w = kafka_world(backend, &config, |_| {}).await;
    let kafka = w.app.settings.kafka().expect("kafka configured");
    let created = bus::topics::create(&kafka, &[], 3, 1).await.unwrap();
    assert!(created.iter().all(|o| o.status == "CREATED"), "{created:?}");
    let (stop, rx) = tokio::sync::watch::channel(false);
    let tasks = services::server::start_background(&w.app, rx).unwrap();

    let seeded = crate::api::seed(&w, "alpha", "123456789").await;
    let topic = config.topic(bus::CASE_EVENTS_TOPIC);
    let events = w.t.all_events().await;
    let got = consume(&config, &topic, events.len()).await;
    let filed = got
        .iter()
        .find(|m| m.headers["ce_type"] == "omnicase.case.ClaimSubmitted")
        .unwrap_or_else(|| {
            panic!(
                "the claim's event is on the topic: {} of {} received",
                got.len(),
                events.len()
            )
        });
    assert_eq!(filed.key, seeded.case_id);
    assert_eq!(filed.headers["ce_subject"], seeded.case_id);
    assert_eq!(filed.headers["ce_source"], "/omnicase/alpha");
    let payload: serde_json::Value = serde_json::from_str(&filed.payload).unwrap();
    assert_eq!(payload["entry"]["channel"], "WEB", "{payload}");
    assert_eq!(payload["caseId"], seeded.case_id.as_str());
    assert!(
        !filed.payload.contains("Rivera"),
        "case events carry no claimant PII"
    );
    // The relay reports itself on /metrics.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, text) = w.get_text("/metrics").await;
        if text.contains("omnicase_published_events_total")
            && text.contains("omnicase_publish_lag_events 0")
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "publish metrics: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(true);
    for t in tasks {
        t.await.unwrap();
    }
}
both!(a_web_command_reaches_the_case_events_topic);

const SHA: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn partner_claim(external_id: &str) -> String {
    serde_json::json!({
        "schemaVersion": 1,
        "channel": "PARTNER_API",
        "externalId": external_id,
        "receivedAt": "2026-11-05T09:00:00Z",
        "submittedBy": {"kind": "STAFF", "actor": "clerk-1"},
        "claimant": {"fileNumber": "123456789"},
        "kind": "NEW_CLAIM",
        "benefitType": "PENSION",
        "contentions": ["Pension"],
    })
    .to_string()
}

fn intake_world_settings(s: &mut services::config::Settings) {
    tests::register_partner_channel(s);
    if let Some(tenant) = s.tenants.get_mut("alpha") {
        tenant.mail_scanners = vec!["scanner-1".into()];
    }
    s.kafka.intake = vec![
        services::config::RawIntakeBinding {
            tenant: "alpha".into(),
            channel: "PARTNER_API".into(),
            principal: "partner-api".into(),
            topic: None,
        },
        services::config::RawIntakeBinding {
            tenant: "alpha".into(),
            channel: "MAIL_SCAN".into(),
            principal: "scanner-1".into(),
            topic: None,
        },
    ];
}

/// (value, headers) of one message to produce.
type Outgoing<'a> = (&'a [u8], &'a [(&'a str, &'a str)]);

async fn produce(config: &KafkaConfig, topic: &str, messages: &[Outgoing<'_>]) {
    let producer: FutureProducer = config.producer().unwrap();
    for (payload, headers) in messages {
        let headers = headers.iter().fold(OwnedHeaders::new(), |h, (k, v)| {
            h.insert(Header {
                key: k,
                value: Some(*v),
            })
        });
        producer
            .send(
                FutureRecord::to(topic)
                    .key("k")
                    .payload(*payload)
                    .headers(headers),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
}

async fn handle_n(consumer: &IntakeConsumer, n: usize) -> Vec<Handled> {
    let mut out = Vec::new();
    for _ in 0..n {
        let h = tokio::time::timeout(Duration::from_secs(60), consumer.step())
            .await
            .expect("an intake message arrives")
            .unwrap();
        out.push(h);
    }
    out
}

/// Intake messages are filed as the principal their topic is bound to;
/// malformed ones go to the dead-letter topic with their code, original
/// bytes, headers and origin, and later messages are still processed.
async fn intake_messages_are_filed_and_bad_ones_dead_lettered(backend: Backend) {
    let config = config();
    let w = kafka_world(backend, &config, intake_world_settings).await;
    let seeded = crate::api::seed(&w, "alpha", "123456789").await;
    let bindings = w.app.settings.intake_bindings().unwrap();
    let topics: Vec<String> = bindings.iter().map(|b| b.topic.clone()).collect();
    assert_eq!(
        topics,
        [
            config.topic("omnicase.intake.partner_api.v1"),
            config.topic("omnicase.intake.mail_scan.v1")
        ]
    );
    bus::topics::create(&config, &topics, 1, 1).await.unwrap();
    let good = partner_claim("kafka-1");
    let missing_kind = {
        let mut v: serde_json::Value = serde_json::from_str(&partner_claim("kafka-2")).unwrap();
        v.as_object_mut().unwrap().remove("kind");
        v.to_string()
    };
    produce(
        &config,
        &topics[0],
        &[
            (good.as_bytes(), &[("traceparent", "00-aa-bb-01")]),
            (b"{not json", &[("traceparent", "00-cc-dd-01")]),
            (missing_kind.as_bytes(), &[]),
            (good.as_bytes(), &[]),
        ],
    )
    .await;
    let manifest = serde_json::json!({
        "schemaVersion": 1, "batchId": "kafka-batch-1",
        "documents": [{
            "documentId": "k-doc-1", "receivedAt": "2026-10-20T00:00:00Z", "scannedAt": "2026-11-06T08:00:00Z",
            "documentType": "MEDICAL_RECORD", "pageCount": 3, "checksum": SHA, "storageRef": "s3://scans/k-doc-1.pdf",
            "ocr": {"fileNumber": "123456789"}
        }]
    })
    .to_string();
    produce(&config, &topics[1], &[(manifest.as_bytes(), &[])]).await;

    let consumer = IntakeConsumer::new(&config, w.app.intake.clone(), bindings).unwrap();
    let handled = handle_n(&consumer, 5).await;
    let on_partner: Vec<&Handled> = handled
        .iter()
        .filter(|h| !matches!(h, Handled::Batch { .. }))
        .collect();
    let Handled::Filed {
        case_id,
        replayed: false,
    } = on_partner[0]
    else {
        panic!("{handled:?}")
    };
    assert_eq!(
        on_partner[1..],
        [
            &Handled::DeadLettered {
                code: domain::ErrorCode::MalformedJson
            },
            &Handled::DeadLettered {
                code: domain::ErrorCode::MissingField
            },
            &Handled::Filed {
                case_id: *case_id,
                replayed: true
            },
        ],
        "bad messages do not stop the good ones; a re-send files nothing new"
    );
    assert!(
        handled.contains(&Handled::Batch {
            batch_id: "kafka-batch-1".into(),
            attached: 1,
            unidentified: 0,
            rejected: 0
        }),
        "{handled:?}"
    );

    let dlq = consume(&config, &config.topic(bus::DLQ_TOPIC), 2).await;
    assert_eq!(dlq.len(), 2);
    assert_eq!(dlq[0].payload, "{not json");
    assert_eq!(dlq[0].headers["error_code"], "MALFORMED_JSON");
    assert_eq!(
        dlq[0].headers["traceparent"], "00-cc-dd-01",
        "original headers kept"
    );
    assert_eq!(dlq[0].headers["source_topic"], topics[0]);
    assert_eq!(dlq[0].headers["source_partition"], "0");
    assert_eq!(dlq[0].headers["source_offset"], "1");
    assert_eq!(dlq[0].key, "k");
    assert_eq!(dlq[1].payload, missing_kind);
    assert_eq!(dlq[1].headers["error_code"], "MISSING_FIELD");
    assert!(
        dlq[1].headers["error_message"].contains("kind"),
        "{:?}",
        dlq[1].headers
    );
    assert_eq!(dlq[1].headers["source_offset"], "2");

    // The case is in the read models, reachable through GraphQL.
    w.settle().await;
    let cw = w.token("alpha", "cw-1", &[Role::Caseworker], None, false);
    let claim = w
        .gql(
            Some(&cw),
            "query($id: ID!) { claim(id: $id) { benefitType channelEntries { channel } documents { documentType } } }",
            serde_json::json!({"id": case_id}),
        )
        .await;
    assert_eq!(
        claim["data"]["claim"]["channelEntries"][0]["channel"], "PARTNER_API",
        "{claim}"
    );
    let web = w
        .gql(
            Some(&cw),
            "query($id: ID!) { claim(id: $id) { documents { documentType } } }",
            serde_json::json!({"id": seeded.case_id}),
        )
        .await;
    assert!(
        web.to_string().contains("MEDICAL_RECORD") || claim.to_string().contains("MEDICAL_RECORD"),
        "the scanned document reached a case of the claimant: {web} {claim}"
    );
}
both!(intake_messages_are_filed_and_bad_ones_dead_lettered);

/// A consumer that filed a message but died before committing its offset:
/// the message is delivered again and appends nothing.
async fn a_redelivered_intake_message_appends_nothing(backend: Backend) {
    let config = config();
    let w = kafka_world(backend, &config, intake_world_settings).await;
    crate::api::seed(&w, "alpha", "123456789").await;
    let bindings = w.app.settings.intake_bindings().unwrap();
    bus::topics::create(&config, &[bindings[0].topic.clone()], 1, 1)
        .await
        .unwrap();
    produce(
        &config,
        &bindings[0].topic,
        &[(partner_claim("crash-1").as_bytes(), &[])],
    )
    .await;

    let first = IntakeConsumer::new(&config, w.app.intake.clone(), bindings.clone()).unwrap();
    let m = tokio::time::timeout(Duration::from_secs(60), bus::next_message(first.consumer()))
        .await
        .unwrap()
        .unwrap();
    let Handled::Filed {
        case_id,
        replayed: false,
    } = first.handle(&m).await.unwrap()
    else {
        panic!("filed")
    };
    let appended = w.t.event_count().await;
    drop(m);
    drop(first); // crash: the offset was never committed

    let second = IntakeConsumer::new(&config, w.app.intake.clone(), bindings).unwrap();
    assert_eq!(
        handle_n(&second, 1).await,
        [Handled::Filed {
            case_id,
            replayed: true
        }]
    );
    assert_eq!(w.t.event_count().await, appended, "nothing applied twice");
}
both!(a_redelivered_intake_message_appends_nothing);

/// Two projector instances in one consumer group split the partitions of
/// the case-events topic and together build exactly the read models the
/// log-fed projector builds.
async fn two_kafka_projectors_build_what_one_builds(backend: Backend) {
    let source = world(backend).await;
    crate::readmodels::busy_history(&source).await;
    let expected = {
        let p = projections::Projector::new(
            projections::ReadDb::new(source.t.database()),
            source.t.log.clone(),
        );
        p.catch_up().await.unwrap();
        crate::readmodels::snapshot(&source.t).await
    };
    assert!(expected.len() > 6, "a busy history");

    let config = config();
    create_topic(&config, &config.topic(bus::CASE_EVENTS_TOPIC), 4).await;
    let target = fresh_log(backend).await;
    let projector = projections::Projector::new(
        projections::ReadDb::new(target.database()),
        target.log.clone(),
    );
    let instances: Vec<Arc<KafkaProjection>> = (0..2)
        .map(|_| Arc::new(KafkaProjection::new(&config, projector.clone()).unwrap()))
        .collect();
    let (stop, rx) = tokio::sync::watch::channel(false);
    let tasks: Vec<_> = instances
        .iter()
        .map(|i| {
            let mut rx = rx.clone();
            tokio::spawn(i.clone().run(async move {
                let _ = rx.wait_for(|s| *s).await;
            }))
        })
        .collect();
    // Both have joined and hold partitions before anything is published.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while instances.iter().any(|i| i.assigned() == 0) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "both instances get partitions"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(instances.iter().map(|i| i.assigned()).sum::<usize>(), 4);

    let publisher = Publisher::new(&config, source.t.database(), "two-instances").unwrap();
    let published = publisher.catch_up().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let got = crate::readmodels::snapshot(&target).await;
        if got == expected {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "kafka-fed read models converge: {} of {} rows",
            got.len(),
            expected.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let applied: Vec<u64> = instances.iter().map(|i| i.applied()).collect();
    assert!(
        applied.iter().all(|n| *n > 0),
        "both did part of the work: {applied:?}"
    );
    assert!(applied.iter().sum::<u64>() >= published as u64);
    let _ = stop.send(true);
    for t in tasks {
        t.await.unwrap();
    }
}
both!(two_kafka_projectors_build_what_one_builds);

/// A broker of this test's own, to kill and restart.
struct OwnBroker {
    port: u16,
    dir: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl OwnBroker {
    fn start() -> OwnBroker {
        broker(); // installs nisshi when missing
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("omnicase-broker-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut b = OwnBroker {
            port,
            dir,
            child: None,
        };
        b.restart();
        b
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn restart(&mut self) {
        let script = format!("{}/../scripts/ensure-kafka.sh", env!("CARGO_MANIFEST_DIR"));
        let out = std::process::Command::new("bash")
            .args([script.as_str(), "bin"])
            .output()
            .unwrap();
        let bin = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let url = format!("tcp://{}", self.addr());
        let child = std::process::Command::new(bin)
            .current_dir(&self.dir)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://nisshi/",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(self.addr()).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("own broker did not come up");
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn contacts(w: &World, case: CaseId, from: u128, n: u128) {
    for k in from..from + n {
        let contact = CaseCommand::RecordContact(NewContact {
            id: ContactId::from_uuid(uuid::Uuid::from_u128(10_000 + k)),
            kind: ContactKind::Inbound,
            channel: Channel::CallCenter,
            reason: None,
            summary: Text::parse("s", &format!("call {k}")).unwrap(),
            follow_up: None,
            occurred_at: at(3, 9),
        });
        w.engine
            .execute(&env("alpha", "agent"), case, contact)
            .await
            .unwrap();
    }
}

/// The broker is killed while the relay runs: commands are still accepted,
/// the lag grows, and after the broker returns (memory storage: topics
/// recreated) the relay publishes everything it had not, in order.
async fn the_relay_catches_up_after_the_broker_is_killed(backend: Backend) {
    let mut own = OwnBroker::start();
    let config = config_for(&own.addr());
    let topic = topic(&config).await;
    let w = world(backend).await;
    let case = w.web_case("alpha", "123456789").await;
    contacts(&w, case, 0, 10).await;
    let publisher = Arc::new(Publisher::new(&config, w.t.database(), "relay").unwrap());
    let (stop, rx) = tokio::sync::watch::channel(false);
    let relay = tokio::spawn(publisher.clone().run(async move {
        let mut rx = rx;
        let _ = rx.wait_for(|s| *s).await;
    }));
    let before = w.t.all_events().await;
    let early = consume(&config, &topic, before.len()).await;
    assert_eq!(early.len(), before.len());
    while publisher.lag().await.unwrap().0 > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    own.kill();
    contacts(&w, case, 10, 15).await; // the write side does not need the broker
    let all = w.t.all_events().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (lag, _) = publisher.lag().await.unwrap();
    assert_eq!(
        lag,
        (all.len() - before.len()) as i64,
        "lag while the broker is away"
    );

    own.restart();
    create_topic(&config, &topic, 3).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while publisher.lag().await.unwrap().0 > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relay catches up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let late = consume(&config, &topic, all.len() - before.len()).await;
    let seen: HashSet<&str> = early
        .iter()
        .chain(&late)
        .map(|m| m.headers["ce_id"].as_str())
        .collect();
    for e in &all {
        assert!(
            seen.contains(e.event_id.to_string().as_str()),
            "event {} skipped",
            e.version
        );
    }
    let versions: Vec<u64> = late
        .iter()
        .map(|m| m.headers["omnicase_stream_version"].parse().unwrap())
        .collect();
    assert!(
        versions.windows(2).all(|v| v[0] < v[1]),
        "case order kept: {versions:?}"
    );
    let _ = stop.send(true);
    relay.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_relay_catches_up_after_the_broker_is_killed_sqlite() {
    the_relay_catches_up_after_the_broker_is_killed(Backend::Sqlite).await
}

/// Precise faults from librdkafka's mock cluster: transient produce errors
/// are retried without duplicates; with the broker down a batch fails, the
/// checkpoint stays, and everything goes out once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_relay_rides_out_injected_broker_faults() {
    use rdkafka::mocking::MockCluster;
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    let cluster = MockCluster::new(1).unwrap();
    let config = config_for(&cluster.bootstrap_servers());
    let topic = config.topic(bus::CASE_EVENTS_TOPIC);
    cluster.create_topic(&topic, 2, 1).unwrap();
    let w = world(Backend::Sqlite).await;
    let case = w.web_case("alpha", "123456789").await;
    contacts(&w, case, 0, 5).await;
    let publisher = Publisher::new(&config, w.t.database(), "mock").unwrap();

    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS; 3],
    );
    let first = w.t.all_events().await.len();
    assert_eq!(
        publisher.catch_up().await.unwrap(),
        first,
        "retried inside the producer"
    );

    cluster.broker_down(1).unwrap();
    contacts(&w, case, 5, 5).await;
    let at_outage = publisher.checkpoint().await.unwrap();
    assert!(
        publisher.publish_once().await.is_err(),
        "no broker, no acknowledgement"
    );
    assert_eq!(
        publisher.checkpoint().await.unwrap(),
        at_outage,
        "checkpoint kept"
    );
    assert_eq!(publisher.lag().await.unwrap().0, 5);

    cluster.broker_up(1).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut sent = 0;
    while publisher.lag().await.unwrap().0 > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "catches up after the outage"
        );
        match publisher.catch_up().await {
            Ok(n) => sent += n,
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    assert_eq!(sent, 5);
    let all = w.t.all_events().await;
    let got = consume(&config, &topic, all.len()).await;
    let ids: HashSet<&str> = got.iter().map(|m| m.headers["ce_id"].as_str()).collect();
    for e in &all {
        assert!(
            ids.contains(e.event_id.to_string().as_str()),
            "event {} skipped",
            e.version
        );
    }
}

/// `omnicase topics` creates the case-events, dead-letter and configured
/// intake topics with the chosen partition count, and is safe to re-run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn omnicase_topics_creates_the_topics() {
    use clap::Parser;
    use rdkafka::consumer::BaseConsumer;
    let config = config();
    let dir = std::env::temp_dir().join(format!("omnicase-topics-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("omnicase.toml");
    std::fs::write(
        &file,
        format!(
            "[kafka]\nbrokers = \"{}\"\ntopic_prefix = \"{}\"\n\n[tenants.demo.channels.PARTNER_API]\nkinds = [\"NEW_CLAIM\"]\nprincipals = [\"partner-api\"]\n\n[[kafka.intake]]\ntenant = \"demo\"\nchannel = \"PARTNER_API\"\nprincipal = \"partner-api\"\n",
            config.brokers, config.topic_prefix
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut argv = vec!["omnicase", "--config", file.to_str().unwrap()];
        argv.extend_from_slice(args);
        services::cli::Cli::try_parse_from(argv).unwrap().run()
    };
    for _ in 0..2 {
        assert_eq!(
            run(&["topics", "--partitions", "2"]).await.unwrap(),
            std::process::ExitCode::SUCCESS
        );
    }
    let consumer: BaseConsumer = config.client().create().unwrap();
    for t in [
        bus::CASE_EVENTS_TOPIC,
        bus::DLQ_TOPIC,
        "omnicase.intake.partner_api.v1",
    ] {
        let name = config.topic(t);
        let meta = consumer
            .fetch_metadata(Some(&name), Duration::from_secs(10))
            .unwrap();
        assert_eq!(meta.topics()[0].partitions().len(), 2, "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two serving instances on one PostgreSQL database both start a relay:
/// one of them publishes, so every event goes out once; when it stops,
/// the other takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_relays_on_one_database_publish_each_event_once() {
    let w = world(Backend::Postgres).await;
    let case = w.web_case("alpha", "123456789").await;
    contacts(&w, case, 0, 5).await;
    let config = config();
    let topic = topic(&config).await;
    let relays: Vec<Arc<Publisher>> = (0..2)
        .map(|_| Arc::new(Publisher::new(&config, w.t.database(), "shared").unwrap()))
        .collect();
    let stops: Vec<tokio::sync::watch::Sender<bool>> = (0..2)
        .map(|_| tokio::sync::watch::channel(false).0)
        .collect();
    let tasks: Vec<_> = relays
        .iter()
        .zip(&stops)
        .map(|(r, s)| {
            let mut rx = s.subscribe();
            tokio::spawn(r.clone().run(async move {
                let _ = rx.wait_for(|s| *s).await;
            }))
        })
        .collect();
    let first = w.t.all_events().await;
    // More than were published, for long enough to see a second relay's copy.
    let got = consume_within(&config, &topic, first.len() + 1, Duration::from_secs(12)).await;
    let ids: HashSet<&str> = got.iter().map(|m| m.headers["ce_id"].as_str()).collect();
    assert_eq!(
        (got.len(), ids.len()),
        (first.len(), first.len()),
        "each event once"
    );

    // Whichever relay leads, stopping both one at a time never loses events.
    let _ = stops[0].send(true);
    contacts(&w, case, 5, 3).await;
    let all = w.t.all_events().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while relays[1].lag().await.unwrap().0 > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the other relay takes over"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = consume(&config, &topic, all.len()).await;
    let ids: HashSet<&str> = got.iter().map(|m| m.headers["ce_id"].as_str()).collect();
    assert_eq!(ids.len(), all.len());
    let _ = stops[1].send(true);
    for t in tasks {
        t.await.unwrap();
    }
}

/// Feeding read models from Kafka without a broker is refused at start,
/// with a coded configuration error, rather than serving stale reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_projection_without_brokers_is_refused() {
    let w = api_world_with(Backend::Sqlite, |s| {
        s.kafka.projection = services::config::ProjectionSource::Kafka;
    })
    .await;
    let (_stop, rx) = tokio::sync::watch::channel(false);
    let Err(e) = services::server::start_background(&w.app, rx) else {
        panic!("must be refused");
    };
    assert_eq!(e.code().as_str(), "BAD_CONFIGURATION");
    assert!(e.to_string().contains("KAFKA_BROKERS"), "{e}");
}
