//! Renders `docs/asyncapi.yaml`: the topics, keys and headers are written
//! here; the payload schema of every event type is inferred from the
//! stored-event samples that also pin the wire format, so the document
//! cannot miss an event type or drift from what is published.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// A JSON Schema that every sample satisfies: properties seen, required
/// when present in every sample, string formats recognised.
fn infer(values: &[&Value]) -> Value {
    let nullable = values.iter().any(|v| v.is_null());
    let present: Vec<&Value> = values.iter().copied().filter(|v| !v.is_null()).collect();
    let mut schema = match present.first() {
        None => json!({}),
        Some(Value::Object(_)) if present.iter().all(|v| v.is_object()) => {
            let mut keys: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
            for v in &present {
                if let Value::Object(m) = v {
                    for (k, x) in m {
                        keys.entry(k.as_str()).or_default().push(x);
                    }
                }
            }
            let required: Vec<&str> = keys
                .iter()
                .filter(|(_, xs)| xs.len() == present.len() && xs.iter().all(|x| !x.is_null()))
                .map(|(k, _)| *k)
                .collect();
            let properties: Map<String, Value> = keys
                .iter()
                .map(|(k, xs)| ((*k).to_owned(), infer(xs)))
                .collect();
            let mut s = json!({"type": "object", "properties": properties});
            if !required.is_empty() {
                s["required"] = json!(required);
            }
            s
        }
        Some(Value::Array(_)) if present.iter().all(|v| v.is_array()) => {
            let items: Vec<&Value> = present
                .iter()
                .filter_map(|v| v.as_array())
                .flatten()
                .collect();
            json!({"type": "array", "items": infer(&items)})
        }
        Some(Value::String(_)) if present.iter().all(|v| v.is_string()) => {
            let strings: Vec<&str> = present.iter().filter_map(|v| v.as_str()).collect();
            let format = if strings.iter().all(|s| uuid::Uuid::parse_str(s).is_ok()) {
                Some("uuid")
            } else if strings
                .iter()
                .all(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok())
            {
                Some("date-time")
            } else if strings
                .iter()
                .all(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok())
            {
                Some("date")
            } else {
                None
            };
            match format {
                Some(f) => json!({"type": "string", "format": f}),
                None => json!({"type": "string"}),
            }
        }
        Some(Value::Bool(_)) if present.iter().all(|v| v.is_boolean()) => {
            json!({"type": "boolean"})
        }
        Some(Value::Number(_)) if present.iter().all(|v| v.is_i64() || v.is_u64()) => {
            json!({"type": "integer"})
        }
        Some(Value::Number(_)) if present.iter().all(|v| v.is_number()) => {
            json!({"type": "number"})
        }
        Some(_) => json!({}),
    };
    if nullable {
        if let Some(t) = schema.get("type").cloned() {
            schema["type"] = json!([t, "null"]);
        }
    }
    schema
}

fn plain_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '$' | '/'))
        && !k.starts_with(['-', '$'])
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        other => other.to_string(),
    }
}

/// Block-style YAML of a JSON value (strings double-quoted: valid YAML).
fn yaml(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let key = if plain_key(k) {
                    k.clone()
                } else {
                    serde_json::to_string(k).unwrap_or_default()
                };
                match x {
                    Value::Object(inner) if !inner.is_empty() => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        yaml(x, indent + 2, out);
                    }
                    Value::Array(items) if !items.is_empty() => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        yaml(x, indent + 2, out);
                    }
                    Value::Object(_) => out.push_str(&format!("{pad}{key}: {{}}\n")),
                    Value::Array(_) => out.push_str(&format!("{pad}{key}: []\n")),
                    s => out.push_str(&format!("{pad}{key}: {}\n", scalar(s))),
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for x in items {
                match x {
                    Value::Object(inner) if !inner.is_empty() => {
                        let mut nested = String::new();
                        yaml(x, indent + 2, &mut nested);
                        out.push_str(&format!("{pad}- {}\n", nested.trim_start().trim_end()));
                    }
                    s => out.push_str(&format!("{pad}- {}\n", scalar(s))),
                }
            }
        }
        Value::Object(_) => out.push_str(&format!("{pad}{{}}\n")),
        Value::Array(_) => out.push_str(&format!("{pad}[]\n")),
        s => out.push_str(&format!("{pad}{}\n", scalar(s))),
    }
}

const HEAD: &str = r#"# omnicase Kafka contract. GENERATED by store/tests/codec.rs
# (asyncapi_document_is_current) from the stored-event samples; regenerate
# with `OMNICASE_UPDATE_ASYNCAPI=1 cargo test -p store --test codec`.
# Topic names carry the configured prefix (kafka.topic_prefix) in front.
"#;

fn event_message(kind: &str, event_type: &str, payload: Value) -> Value {
    json!({
        "name": event_type,
        "title": format!("{kind} event {event_type}"),
        "contentType": "application/json",
        "headers": {"$ref": "#/components/schemas/CaseEventHeaders"},
        "bindings": {"kafka": {"key": {"type": "string", "format": "uuid",
            "description": "The stream id (case id, or claimant id for claimant events): one stream's events stay in order on one partition."}}},
        "payload": payload,
    })
}

/// The whole document. `case` and `claimant`: (event type, stored payload)
/// of every sample.
pub fn document(case: &[(String, Value)], claimant: &[(String, Value)]) -> String {
    let mut messages = Map::new();
    let mut case_refs = Map::new();
    for (kind, samples) in [("case", case), ("claimant", claimant)] {
        let mut by_type: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
        for (t, p) in samples {
            by_type.entry(t.as_str()).or_default().push(p);
        }
        for (t, payloads) in by_type {
            let name = format!("{kind}.{t}");
            messages.insert(name.clone(), event_message(kind, t, infer(&payloads)));
            case_refs.insert(
                name.clone(),
                json!({"$ref": format!("#/components/messages/{name}")}),
            );
        }
    }
    messages.insert(
        "ChannelSubmission".into(),
        json!({
            "name": "ChannelSubmission",
            "title": "A channel submission (the integrator contract, docs/channels.md)",
            "contentType": "application/json",
            "payload": {"$ref": "../schemas/channel-submission.v1.json"},
        }),
    );
    messages.insert(
        "MailBatch".into(),
        json!({
            "name": "MailBatch",
            "title": "A mail-scan batch manifest (recognised by its batchId and documents)",
            "contentType": "application/json",
            "payload": {"$ref": "../schemas/mail-batch.v1.json"},
        }),
    );
    messages.insert(
        "DeadLetter".into(),
        json!({
            "name": "DeadLetter",
            "title": "A refused intake message: its original key, bytes and headers, plus why and where from",
            "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
            "payload": {"description": "The original message value, byte for byte (may not be JSON)."},
        }),
    );
    let header = |description: &str| json!({"type": "string", "description": description});
    let doc = json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "omnicase events and intake",
            "version": "1.0.0",
            "description": "Events leave omnicase on the case-events topic (the event log is the outbox: every event, at least once, in per-stream order; deduplicate by ce_id). Channel systems feed it through intake topics; refused messages go to the dead-letter topic. Kafka is optional: without KAFKA_BROKERS nothing is published or consumed.",
        },
        "channels": {
            "caseEvents": {
                "address": "omnicase.case-events.v1",
                "description": "Every event of the log, case and claimant streams, in global log order per stream. Claimant events carry the claimant's personal data in their `pii` field: restrict this topic's readers accordingly.",
                "messages": case_refs,
            },
            "intake": {
                "address": "omnicase.intake.{channel}.v1",
                "description": "Submissions of one channel (MAIL_SCAN or a registered integrator channel, in lower case: omnicase.intake.partner_api.v1). A topic is bound by configuration (kafka.intake) to a tenant and the principal its messages act as; nothing in a message chooses either. Offsets are committed only after a message is filed or dead-lettered; a redelivered message files nothing twice (its channel + externalId is the idempotency key).",
                "parameters": {"channel": {"description": "mail_scan, or a registered channel name in lower case"}},
                "messages": {
                    "ChannelSubmission": {"$ref": "#/components/messages/ChannelSubmission"},
                    "MailBatch": {"$ref": "#/components/messages/MailBatch"},
                },
            },
            "deadLetters": {
                "address": "omnicase.intake.dlq.v1",
                "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
            },
        },
        "operations": {
            "publishCaseEvents": {"action": "send", "channel": {"$ref": "#/channels/caseEvents"}},
            "consumeIntake": {"action": "receive", "channel": {"$ref": "#/channels/intake"}},
            "publishDeadLetters": {"action": "send", "channel": {"$ref": "#/channels/deadLetters"}},
        },
        "components": {
            "schemas": {
                "CaseEventHeaders": {
                    "type": "object",
                    "description": "CloudEvents 1.0 Kafka protocol binding (binary mode) plus omnicase headers.",
                    "required": ["ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time", "ce_subject", "omnicase_schema_version"],
                    "properties": {
                        "ce_specversion": header("Always 1.0."),
                        "ce_id": header("The event id (UUID): a re-sent event keeps it; consumers deduplicate by it."),
                        "ce_type": header("omnicase.<case|claimant>.<EventType>, e.g. omnicase.case.ClaimSubmitted."),
                        "ce_source": header("/omnicase/<tenant>."),
                        "ce_time": header("When the event was recorded (RFC 3339)."),
                        "ce_subject": header("The stream id, as the message key."),
                        "content-type": header("application/json."),
                        "omnicase_schema_version": header("Version of the payload schema of this event type."),
                        "omnicase_tenant": header("The agency the event belongs to."),
                        "omnicase_stream_version": header("The event's version in its stream (1, 2, …)."),
                        "omnicase_position": header("The event's global log position."),
                    },
                },
                "DeadLetterHeaders": {
                    "type": "object",
                    "description": "The original message's headers, plus:",
                    "required": ["error_code", "error_message", "source_topic", "source_partition", "source_offset"],
                    "properties": {
                        "error_code": header("Why it was refused: MALFORMED_JSON, MISSING_FIELD, SCHEMA_VIOLATION, UNSUPPORTED_VERSION, CHANNEL_NOT_ALLOWED, KIND_NOT_ALLOWED, EMPTY_MESSAGE, a domain code, …"),
                        "error_message": header("A readable reason (no personal data)."),
                        "source_topic": header("The intake topic it came from."),
                        "source_partition": header("Its partition there."),
                        "source_offset": header("Its offset there."),
                    },
                },
            },
            "messages": messages,
        },
    });
    let mut out = HEAD.to_owned();
    yaml(&doc, 0, &mut out);
    out
}
