//! The published error codes: one enum, its documentation generated from
//! it, and the code strings pinned.
#![allow(clippy::unwrap_used)]

use domain::ErrorCode;

/// docs/errors.md as `ErrorCode` says it should read.
fn rendered() -> String {
    let mut out = String::from(
        "# Error codes\n\n\
         <!-- Generated from domain/src/code.rs by `OMNICASE_UPDATE_DOCS=1 cargo test -p domain --test error_codes`; do not edit by hand. -->\n\n\
         Every refusal omnicase makes carries one of these codes: GraphQL\n\
         `extensions.code`, the HTTP intake's `error.code`, a mail batch's\n\
         per-document `errorCode`, the Kafka dead-letter topic's `error_code`\n\
         header. The strings never change. *HTTP* is the status the HTTP\n\
         surfaces answer with (`/intake/*`, and on `/graphql` the refusals made\n\
         before the document runs: `UNAUTHENTICATED`, `PAYLOAD_TOO_LARGE`,\n\
         `RATE_LIMITED`, `BAD_REQUEST`; other GraphQL refusals come in a 200\n\
         response's `errors`). *Retriable*: the same request may succeed if\n\
         sent again later, unchanged (GraphQL says so in\n\
         `extensions.retriable`); refusals with details name them in\n\
         `extensions` / `error.details` by field, never in the message.\n\n\
         | code | HTTP | retriable | meaning |\n|---|---|---|---|\n",
    );
    for code in ErrorCode::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            code.as_str(),
            code.http_status(),
            if code.is_retriable() { "yes" } else { "no" },
            code.meaning()
        ));
    }
    out
}

#[test]
fn the_documentation_lists_every_code_as_the_enum_defines_it() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/errors.md");
    let expected = rendered();
    if std::env::var_os("OMNICASE_UPDATE_DOCS").is_some() {
        std::fs::write(path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        actual == expected,
        "docs/errors.md is not what domain/src/code.rs says: run OMNICASE_UPDATE_DOCS=1 cargo test -p domain --test error_codes"
    );
}

/// A code string is a contract with integrators: renaming or dropping one
/// shows up here (adding one adds a line).
#[test]
fn the_published_code_strings_are_pinned() {
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    insta::assert_snapshot!("published_codes", codes.join("\n"));
}
