//! The checks behind the fuzz targets, one per decoder of outside input.
//!
//! Each function takes the raw bytes a fuzzer (or a saved input) supplies,
//! runs them through the decoder exactly as omnicase receives them, and
//! panics when a promise is broken: a panic inside the decoder, an error
//! without a code, or an accepted input that does not hold together. The
//! cargo-fuzz targets in `fuzz/` call these; `tests/it/fuzz_inputs.rs` replays
//! every seed and every saved crash (`fuzz/seeds`, `fuzz/regressions`) through
//! them on each test run, so a fixed crash stays fixed.

use app::auth::{AuthConfig, AuthError, Authenticator, KeySource};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use domain::{ActorId, TenantId};
use std::sync::OnceLock;

/// A check: bytes in, a panic when a promise is broken.
pub type Check = fn(&[u8]);

/// The targets, by name: the folder names under `fuzz/seeds` and
/// `fuzz/regressions`, and the cargo-fuzz target names.
pub const TARGETS: &[(&str, Check)] = &[
    ("submission", submission),
    ("mail_manifest", mail_manifest),
    ("stored_event", stored_event),
    ("jwt", jwt),
    ("graphql_body", graphql_body),
    ("graphql_shape", graphql_shape),
];

/// Codes are SCREAMING_SNAKE_CASE words, never empty.
fn assert_code(code: &str, input: &str) {
    assert!(
        !code.is_empty() && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
        "{input}: error code {code:?} is not a code"
    );
}

fn contract() -> &'static intake::Contract {
    static CONTRACT: OnceLock<intake::Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| match intake::Contract::new() {
        Ok(c) => c,
        Err(e) => panic!("the built-in contract does not compile: {e}"),
    })
}

fn demo_tenant() -> TenantId {
    match TenantId::parse("demo") {
        Ok(t) => t,
        Err(e) => panic!("demo tenant id: {e}"),
    }
}

/// A channel submission (REST body, Kafka intake message, CLI file).
pub fn submission(data: &[u8]) {
    let first = contract().submission(data);
    match &first {
        Err(e) => {
            assert_code(e.code.as_str(), "submission");
            assert!(
                !e.message.is_empty(),
                "submission: {} without a message",
                e.code
            );
        }
        Ok(s) => {
            // Accepted only if it is a JSON object, and decoded the same way twice.
            assert!(
                serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(data).is_ok(),
                "submission: accepted bytes that are not a JSON object"
            );
            assert!(!s.external_id.as_str().is_empty());
        }
    }
    let again = contract().submission(data);
    assert_eq!(
        format!("{first:?}"),
        format!("{again:?}"),
        "submission: decoding is not deterministic"
    );
}

/// A mail-scan batch manifest (HTTP upload, `omnicase ingest`, Kafka).
pub fn mail_manifest(data: &[u8]) {
    static REGISTRY: OnceLock<intake::Registry> = OnceLock::new();
    let registry = REGISTRY.get_or_init(|| {
        intake::Registry(
            [(demo_tenant(), intake::TenantIntake::default())]
                .into_iter()
                .collect(),
        )
    });
    let scanner = match ActorId::parse("scanner-1") {
        Ok(a) => a,
        Err(e) => panic!("actor id: {e}"),
    };
    match intake::mail::decode_manifest(contract(), registry, &demo_tenant(), &scanner, data) {
        Err(e) => assert_code(e.code.as_str(), "manifest"),
        Ok(manifest) => {
            for (i, doc) in manifest.documents.iter().enumerate() {
                // Every entry can be named in the batch report; one without
                // an id of its own is named by position and never accepted.
                assert!(
                    !doc.document_id.trim().is_empty(),
                    "manifest: entry {i} has no id"
                );
                if !doc.identified {
                    assert_eq!(doc.document_id, format!("#{}", i + 1));
                    assert!(
                        doc.submission.is_err(),
                        "manifest: entry {i} accepted without an id"
                    );
                }
                match &doc.submission {
                    Err(e) => assert_code(e.code.as_str(), "manifest entry"),
                    Ok(s) => {
                        assert_eq!(s.channel, domain::Channel::MailScan);
                        assert_eq!(s.documents.len(), 1, "manifest: one document per entry");
                        // The submitter is who is scanning, never the manifest's say.
                        assert_eq!(s.submitted_by, domain::Submitter::Staff(scanner.clone()));
                        assert!(s
                            .external_id
                            .as_str()
                            .starts_with(&format!("{}/", manifest.batch_id)));
                    }
                }
            }
        }
    }
}

/// A stored event: `<event type>\n<schema version>\n<payload JSON>`, as
/// read back from the log (or from a Kafka message's headers and value).
pub fn stored_event(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let (Some(event_type), Some(version), Some(payload)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let Ok(version) = version.trim().parse::<i32>() else {
        return;
    };
    let case = store::codec::decode_case(event_type, version, payload);
    let claimant = store::codec::decode_claimant(event_type, version, payload);
    match (&case, &claimant) {
        (Ok(_), Ok(_)) => panic!("stored event: {event_type} decoded as both kinds"),
        (Ok(event), Err(_)) => {
            let encoded = store::codec::encode_case(event);
            assert_eq!(encoded.event_type, event_type);
            let back = store::codec::decode_case(
                encoded.event_type,
                encoded.schema_version,
                &encoded.payload,
            );
            assert_eq!(back.as_ref().ok(), Some(event), "stored event: round trip");
        }
        (Err(_), Ok(event)) => {
            let encoded = store::codec::encode_claimant(event);
            assert_eq!(encoded.event_type, event_type);
            let back = store::codec::decode_claimant(
                encoded.event_type,
                encoded.schema_version,
                &encoded.payload,
            );
            assert_eq!(back.as_ref().ok(), Some(event), "stored event: round trip");
        }
        (Err(a), Err(b)) => {
            assert_code(a.code().as_str(), "stored event");
            assert_code(b.code().as_str(), "stored event");
        }
    }
}

const JWT_SECRET: &[u8] = b"fuzzing-secret-fuzzing-secret-32b";
const JWT_ISSUER: &str = "omnicase";
const JWT_AUDIENCE: &str = "omnicase";

fn authenticator() -> &'static Authenticator {
    static AUTH: OnceLock<Authenticator> = OnceLock::new();
    AUTH.get_or_init(|| {
        match Authenticator::new(AuthConfig {
            issuer: JWT_ISSUER.into(),
            audience: JWT_AUDIENCE.into(),
            keys: KeySource::Hs256 {
                secret: JWT_SECRET.to_vec(),
            },
            leeway_secs: 30,
        }) {
            Ok(a) => a,
            Err(e) => panic!("authenticator: {e}"),
        }
    })
}

/// A bearer token. First byte 0: the rest is the Authorization header as
/// sent. Otherwise the rest is `<header JSON>\n<claims JSON>`, signed here
/// with the right key, so what is fuzzed is everything after the signature
/// check: the header rules and the claims a principal is made from.
pub fn jwt(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    if mode == 0 {
        match authenticator().authenticate_header(Some(&text)) {
            Err(e) => assert_code(e.code().as_str(), "jwt"),
            // Forging a signature is not something a fuzzer can do.
            Ok(p) => panic!(
                "jwt: an unsigned header value was accepted for {}",
                p.subject
            ),
        }
        return;
    }
    let Some((header, claims)) = text.split_once('\n') else {
        return;
    };
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let key = jsonwebtoken::EncodingKey::from_secret(JWT_SECRET);
    let Ok(signature) =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::HS256)
    else {
        return;
    };
    match authenticator().authenticate(&format!("{message}.{signature}")) {
        Err(e) => {
            assert_code(e.code().as_str(), "jwt");
            assert!(
                !matches!(e, AuthError::BadConfig(_)),
                "jwt: a token is not configuration"
            );
        }
        Ok(principal) => {
            // Accepted: the claims must say exactly what the principal says.
            let header: serde_json::Value = serde_json::from_str(header).unwrap_or_default();
            assert_eq!(header["alg"], "HS256", "jwt: accepted another algorithm");
            let claims: serde_json::Value = serde_json::from_str(claims).unwrap_or_default();
            assert_eq!(claims["iss"], JWT_ISSUER, "jwt: accepted another issuer");
            assert_eq!(claims["sub"], principal.subject.as_str());
            assert_eq!(claims["tenant"], principal.tenant.as_str());
            assert!(
                !principal.roles.is_empty(),
                "jwt: a principal without roles"
            );
            if principal.has(app::auth::Role::Citizen) {
                assert!(
                    principal.claimant.is_some(),
                    "jwt: a citizen without a claimant"
                );
            }
            assert!(
                principal.expires_at > chrono::Utc::now() - chrono::Duration::seconds(31),
                "jwt: accepted an expired token"
            );
        }
    }
}

/// A running application over a throwaway SQLite database with a small
/// generated agency, its router, and tokens of each kind of caller.
struct Harness {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    /// None (anonymous), citizen, agent, supervisor with SENSITIVE, integrator.
    tokens: Vec<Option<String>>,
    _dir: tempfile::TempDir,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| match build_harness() {
        Ok(h) => h,
        Err(e) => panic!("fuzz harness: {e}"),
    })
}

fn build_harness() -> Result<Harness, String> {
    use app::auth::{mint_hs256, DevToken, Role};
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let url = format!("sqlite://{}", dir.path().join("fuzz.db").display());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (router, tokens) = runtime.block_on(async {
        let mut settings =
            services::config::Settings::load(None, Some(&url)).map_err(|e| e.to_string())?;
        // Decoding is under test here, not request rates: millions of
        // requests of one token would be refused with 429.
        settings.rate_limits.per_minute = 0;
        settings.rate_limits.roles.clear();
        let app = services::server::Instance::open(settings)
            .await
            .map_err(|e| e.to_string())?;
        let tenant = demo_tenant();
        let plan = services::generator::plan(7, 6, 10);
        services::generator::load(&app, &tenant, &plan, |_, _| {})
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(app.projector.clone().run(std::future::pending()));
        let file_number = plan
            .claimants
            .first()
            .map(|p| p.file_number.clone())
            .unwrap_or_default();
        let file_number = domain::FileNumber::parse(&file_number).map_err(|e| e.to_string())?;
        let claimant = app
            .engine
            .find_claimant(&tenant, &file_number)
            .await
            .map_err(|e| e.to_string())?;
        let auth = &app.settings.auth;
        let secret = auth.hs256_secret.clone().unwrap_or_default();
        let mint = |subject: &str,
                    roles: &[Role],
                    claimant: Option<domain::ClaimantId>,
                    sensitive: bool| {
            let subject = ActorId::parse(subject).map_err(|e| e.to_string())?;
            mint_hs256(
                secret.as_bytes(),
                &auth.issuer,
                &auth.audience,
                &DevToken {
                    tenant: tenant.clone(),
                    subject,
                    roles: roles.to_vec(),
                    sensitive,
                    claimant,
                    office: None,
                    ttl: chrono::Duration::days(3650),
                },
                chrono::Utc::now(),
            )
            .map(Some)
            .map_err(|e| e.to_string())
        };
        let tokens = vec![
            None,
            mint("citizen-1", &[Role::Citizen], claimant, false)?,
            mint("agent-1", &[Role::Agent], None, false)?,
            mint("supervisor-1", &[Role::Supervisor], None, true)?,
            mint("integrator-1", &[Role::Integrator], None, false)?,
        ];
        Ok::<_, String>((app.router(), tokens))
    })?;
    Ok(Harness {
        runtime,
        router,
        tokens,
        _dir: dir,
    })
}

/// A POST to /graphql. First byte: bits 0-2 pick the caller (anonymous,
/// citizen, agent, supervisor, integrator); bit 7 set means the rest is the
/// body as sent, clear means the rest is the query text (sent as a proper
/// JSON body, so the parser and validator see what a fuzzer makes of it).
pub fn graphql_body(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let body = if mode & 0x80 != 0 {
        rest.to_vec()
    } else {
        serde_json::json!({ "query": String::from_utf8_lossy(rest) })
            .to_string()
            .into_bytes()
    };
    post_graphql(mode, body);
}

/// The constructs that recursive code follows: each one nests inside
/// itself (or, for fragments, spreads the previous one) `depth` times.
#[derive(Debug, Clone, Copy)]
enum Construct {
    ListValue,
    ObjectValue,
    Selection,
    InlineFragment,
    ListType,
    /// `fragment F{n} on QueryRoot { __typename ...F{n-1} × fan }`.
    FragmentChain,
    /// `a0: __typename a1: __typename …`.
    Aliases,
    /// One string literal of `depth` × 64 bytes.
    HugeString,
    /// `@include(if: …)` directives, `depth` of them on one field.
    Directives,
}

const CONSTRUCTS: [Construct; 9] = [
    Construct::ListValue,
    Construct::ObjectValue,
    Construct::Selection,
    Construct::InlineFragment,
    Construct::ListType,
    Construct::FragmentChain,
    Construct::Aliases,
    Construct::HugeString,
    Construct::Directives,
];

/// Renders a document from a structured description read off the bytes:
/// byte 0 picks the caller (as for `graphql_body`); then up to four
/// (construct, depth, fan) triples, each wrapped around the next, so deep
/// nesting of every construct, and of one inside another, is a few bytes
/// of input away from the fuzzer instead of thousands.
pub fn render_shape(data: &[u8]) -> Option<(u8, String)> {
    let (&mode, rest) = data.split_first()?;
    let layers: Vec<(Construct, usize, usize)> = rest
        .chunks_exact(4)
        .take(4)
        .map(|c| {
            let construct = CONSTRUCTS[usize::from(c[0]) % CONSTRUCTS.len()];
            // Up to 24,575 levels: past the body limit at the top of the range.
            let depth = usize::from(u16::from_le_bytes([c[1], c[2]])) % 24_576;
            (construct, depth, usize::from(c[3] % 4) + 1)
        })
        .collect();
    let mut fragments = String::new();
    let mut inner = String::from("__typename");
    for (i, &(construct, depth, fan)) in layers.iter().rev().enumerate() {
        let value = |open: &str, leaf: &str, close: &str| {
            format!("{}{leaf}{}", open.repeat(depth), close.repeat(depth))
        };
        inner = match construct {
            Construct::ListValue => {
                format!("claim(id: {}) {{ id }} {inner}", value("[", "\"x\"", "]"))
            }
            Construct::ObjectValue => {
                format!("claim(id: {}) {{ id }} {inner}", value("{a:", "1", "}"))
            }
            Construct::Selection => value("a{", &inner, "}"),
            Construct::InlineFragment => value("...on QueryRoot{", &inner, "}"),
            // List types nest on the operation's variable (below).
            Construct::ListType => inner,
            Construct::FragmentChain => {
                let prefix = format!("L{i}F");
                fragments.push_str(&format!("fragment {prefix}0 on QueryRoot {{ {inner} }}\n"));
                for n in 1..=depth.min(4_000) {
                    let spreads = format!("...{prefix}{} ", n - 1).repeat(fan);
                    fragments.push_str(&format!(
                        "fragment {prefix}{n} on QueryRoot {{ __typename {spreads}}}\n"
                    ));
                }
                format!("...{prefix}{}", depth.min(4_000))
            }
            Construct::Aliases => {
                let aliases: String = (0..depth.min(8_000))
                    .map(|n| format!("a{n}: __typename "))
                    .collect();
                format!("{aliases}{inner}")
            }
            Construct::HugeString => format!(
                "claim(id: \"{}\") {{ id }} {inner}",
                "x".repeat(depth.saturating_mul(64).min(1 << 20))
            ),
            Construct::Directives => format!(
                "__typename {}{inner}",
                "@include(if: true) ".repeat(depth.min(8_000))
            ),
        };
    }
    let variables = layers
        .iter()
        .find(|(c, _, _)| matches!(c, Construct::ListType))
        .map(|&(_, depth, _)| format!("($v: {}Int{})", "[".repeat(depth), "]".repeat(depth)))
        .unwrap_or_default();
    Some((mode, format!("query{variables} {{ {inner} }}\n{fragments}")))
}

/// `graphql_body` with a structure-aware generator ([`render_shape`]).
pub fn graphql_shape(data: &[u8]) {
    let Some((mode, query)) = render_shape(data) else {
        return;
    };
    let body = serde_json::json!({ "query": query })
        .to_string()
        .into_bytes();
    post_graphql(mode & 0x7f, body);
}

/// POSTs a body to /graphql as the caller `mode` picks and checks the
/// answer: 200, 400 or 401 with JSON holding `data` or `errors`, every
/// error coded, never INTERNAL (413 for a body over the limit).
fn post_graphql(mode: u8, body: Vec<u8>) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let h = harness();
    let token = h
        .tokens
        .get(usize::from(mode & 0x07) % h.tokens.len())
        .cloned()
        .flatten();
    let mut request =
        axum::http::Request::post("/graphql").header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = match request.body(axum::body::Body::from(body)) {
        Ok(r) => r,
        Err(e) => panic!("graphql: request: {e}"),
    };
    let (status, bytes) = h.runtime.block_on(async {
        let response = match h.router.clone().oneshot(request).await {
            Ok(r) => r,
            Err(e) => match e {},
        };
        let status = response.status().as_u16();
        match response.into_body().collect().await {
            Ok(b) => (status, b.to_bytes()),
            Err(e) => panic!("graphql: body: {e}"),
        }
    });
    assert!(
        matches!(status, 200 | 400 | 401 | 413),
        "graphql: status {status}"
    );
    let response: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) => panic!("graphql: status {status} with a body that is not JSON"),
    };
    assert!(
        response.get("data").is_some() || response.get("errors").is_some(),
        "graphql: neither data nor errors"
    );
    if let Some(errors) = response.get("errors").and_then(|e| e.as_array()) {
        for error in errors {
            let code = error["extensions"]["code"].as_str().unwrap_or_default();
            assert_code(code, "graphql");
            assert_ne!(code, "INTERNAL", "graphql: an internal error: {error}");
        }
    }
}
