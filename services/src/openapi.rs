//! `GET /openapi.json`: the HTTP intake described from its handlers' types
//! (utoipa), with the request bodies given by the published JSON Schemas
//! of the channel contract (`schemas/`), so the document and the validator
//! can never disagree about what a body may hold.

use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde_json::{Map, Value};
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "omnicase HTTP intake",
        description = "Channel intake for integrators and scanning systems. Every refusal is `{\"error\": {\"code\", \"message\"}}`. The GraphQL API is described by graphql/schema.graphql.",
        version = "1"
    ),
    paths(
        crate::intake_http::submission,
        crate::intake_http::batch,
        crate::intake_http::batch_results,
        crate::intake_http::document_types
    ),
    modifiers(&Bearer)
)]
struct IntakeApi;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The request body schema of each path, by the component it becomes.
const BODIES: [(&str, &str, &str); 2] = [
    (
        "/intake/submissions",
        "ChannelSubmission",
        intake::contract::SUBMISSION_SCHEMA,
    ),
    (
        "/intake/mail-batches",
        "MailBatch",
        intake::contract::BATCH_SCHEMA,
    ),
];

/// Points `#/$defs/x` at the component `{prefix}_x`.
fn rebase_refs(value: &mut Value, prefix: &str) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(r) if key == "$ref" => {
                        if let Some(def) = r.strip_prefix("#/$defs/") {
                            *r = format!("#/components/schemas/{prefix}_{def}");
                        }
                    }
                    other => rebase_refs(other, prefix),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rebase_refs(v, prefix)),
        _ => {}
    }
}

fn build() -> Result<Value, serde_json::Error> {
    let mut doc = serde_json::to_value(IntakeApi::openapi())?;
    for (path, name, text) in BODIES {
        let mut schema: Value = serde_json::from_str(text)?;
        rebase_refs(&mut schema, name);
        let Value::Object(mut schema) = schema else {
            continue;
        };
        schema.remove("$schema");
        schema.remove("$id");
        let defs = schema.remove("$defs");
        let schemas = doc
            .pointer_mut("/components/schemas")
            .and_then(Value::as_object_mut);
        if let Some(schemas) = schemas {
            if let Some(Value::Object(defs)) = defs {
                for (def, body) in defs {
                    schemas.insert(format!("{name}_{def}"), body);
                }
            }
            schemas.insert(name.to_owned(), Value::Object(schema));
        }
        let pointer = format!(
            "/paths/{}/post/requestBody/content/application~1json/schema",
            path.replace('/', "~1")
        );
        if let Some(slot) = doc.pointer_mut(&pointer) {
            let mut reference = Map::new();
            reference.insert(
                "$ref".into(),
                Value::String(format!("#/components/schemas/{name}")),
            );
            *slot = Value::Object(reference);
        }
    }
    Ok(doc)
}

/// The document served at `/openapi.json` (built once).
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| build().unwrap_or(Value::Null))
}

pub fn routes() -> Router {
    Router::new().route(
        "/openapi.json",
        get(|| async { axum::Json(document()).into_response() }),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_document_names_every_intake_route_and_resolves_every_reference() {
        let doc = build().unwrap();
        for path in [
            "/intake/submissions",
            "/intake/mail-batches",
            "/intake/mail-batches/{batchId}",
        ] {
            assert!(doc["paths"][path].is_object(), "{path}");
        }
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => m.iter().for_each(|(k, v)| match v {
                    Value::String(r) if k == "$ref" => out.push(r.clone()),
                    other => refs(other, out),
                }),
                Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(all.iter().any(|r| r.ends_with("/ChannelSubmission")));
        for r in all {
            let pointer = r.trim_start_matches('#');
            assert!(doc.pointer(pointer).is_some(), "dangling {r}");
        }
    }
}
