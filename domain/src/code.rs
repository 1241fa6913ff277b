//! Every error code omnicase publishes, in one place.
//!
//! A refusal reaches a client as a code: GraphQL `extensions.code`, the
//! HTTP intake's `error.code`, a mail batch's per-document `errorCode`, the
//! Kafka dead-letter topic's `error_code` header. Each code is a variant
//! here and knows the HTTP status it is answered with, whether the same
//! request may succeed when simply sent again later, and what it means
//! (docs/errors.md is generated from this table and checked by a test).
//! The code strings are a published contract: they never change.

macro_rules! codes {
    ($($variant:ident = $code:literal, $status:literal, $retriable:literal, $meaning:literal;)*) => {
        /// A published error code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $(#[doc = $meaning] $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order of the documentation.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The code as clients see it (also the GraphQL `extensions.code`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// The HTTP status a refusal with this code is answered with on
            /// the HTTP surfaces (`/intake/*`, the HTTP layers of `/graphql`).
            pub fn http_status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)*
                }
            }

            /// Whether the same request may succeed if sent again later,
            /// unchanged (GraphQL `extensions.retriable`).
            pub fn is_retriable(self) -> bool {
                match self {
                    $(ErrorCode::$variant => $retriable,)*
                }
            }

            /// What it means, in one sentence for integrators.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $meaning,)*
                }
            }
        }
    };
}

codes! {
    // Authentication and access.
    Unauthenticated = "UNAUTHENTICATED", 401, false, "No valid bearer token (missing, expired, wrong issuer, audience or tenant).";
    Forbidden = "FORBIDDEN", 403, false, "The caller's role may not do this.";
    NotFound = "NOT_FOUND", 404, false, "Not found, or not the caller's to see: both look the same.";
    RestrictedRecord = "RESTRICTED_RECORD", 422, false, "A restricted record: only staff with access to it may handle it (offer a transfer); carries no data.";
    IdentityNotVerified = "IDENTITY_NOT_VERIFIED", 403, false, "An agent must record the caller's identity verification before reading or filing for them.";
    ColleagueConflict = "COLLEAGUE_CONFLICT", 422, false, "Staff may not handle the record of a colleague of their own office.";
    ChannelNotAllowed = "CHANNEL_NOT_ALLOWED", 403, false, "The caller may not submit through this channel.";
    KindNotAllowed = "KIND_NOT_ALLOWED", 403, false, "This channel does not take this kind of submission.";
    RepresentativeNotAuthorized = "REPRESENTATIVE_NOT_AUTHORIZED", 422, false, "The submitter is not the claimant's recorded representative.";
    SubmitterMismatch = "SUBMITTER_MISMATCH", 422, false, "The declared submitter does not fit the authenticated caller.";
    ClaimantMismatch = "CLAIMANT_MISMATCH", 422, false, "The case named belongs to another claimant.";
    UnknownTenant = "UNKNOWN_TENANT", 422, false, "This deployment does not serve the token's agency.";
    // Input.
    BadUserInput = "BAD_USER_INPUT", 422, false, "A value did not parse (the message names the field).";
    MalformedJson = "MALFORMED_JSON", 422, false, "The body is not JSON.";
    SchemaViolation = "SCHEMA_VIOLATION", 422, false, "The document does not follow its JSON Schema (the message names the field).";
    MissingField = "MISSING_FIELD", 422, false, "A field this kind of submission needs is missing.";
    UnsupportedSchemaVersion = "UNSUPPORTED_SCHEMA_VERSION", 422, false, "The document's schemaVersion is not one this build reads.";
    MalformedSubmission = "MALFORMED_SUBMISSION", 422, false, "A submission file given to the CLI does not follow the contract.";
    UnsupportedKind = "UNSUPPORTED_KIND", 422, false, "A submission kind the CLI does not file.";
    ReceivedInFuture = "RECEIVED_IN_FUTURE", 422, false, "receivedAt lies in the future.";
    UnknownBenefitType = "UNKNOWN_BENEFIT_TYPE", 422, false, "The agency does not handle this benefit type.";
    UnknownDocumentType = "UNKNOWN_DOCUMENT_TYPE", 422, false, "The agency does not accept this document type (see documentTypes).";
    UnknownChannel = "UNKNOWN_CHANNEL", 422, false, "The channel is neither built in nor registered for the agency.";
    UnknownClaimant = "UNKNOWN_CLAIMANT", 422, false, "No claimant matches and the channel may not register one.";
    BadChecksum = "BAD_CHECKSUM", 422, false, "The checksum is not sha256:<64 hex digits>.";
    EmptyFile = "EMPTY_FILE", 422, false, "A document with no pages: nothing was filed (a re-scan under the same id is filed).";
    DuplicateDocumentId = "DUPLICATE_DOCUMENT_ID", 422, false, "A document id already filed with other content.";
    // Matching mail to people and claims.
    NoClaimantMatch = "NO_CLAIMANT_MATCH", 422, false, "No claimant matches the mail's OCR fields: it waits in the unidentified-mail queue.";
    AmbiguousMatch = "AMBIGUOUS_MATCH", 422, false, "Several claimants match: it waits in the unidentified-mail queue.";
    NoOpenCase = "NO_OPEN_CASE", 422, false, "The claimant has no open claim to add this to.";
    AmbiguousCase = "AMBIGUOUS_CASE", 422, false, "The claimant has several open claims: name the case or the benefit type.";
    NotUnidentified = "NOT_UNIDENTIFIED", 422, false, "The letter is not (or no longer) in the unidentified-mail queue.";
    // The case domain.
    ClaimNotFound = "CLAIM_NOT_FOUND", 404, false, "No such claim.";
    ClaimAlreadyExists = "CLAIM_ALREADY_EXISTS", 422, false, "A claim already exists under this id.";
    ClaimantNotFound = "CLAIMANT_NOT_FOUND", 404, false, "No such claimant.";
    ClaimantAlreadyRegistered = "CLAIMANT_ALREADY_REGISTERED", 422, false, "A claimant with this file number is already registered.";
    CaseClosed = "CASE_CLOSED", 422, false, "The case is closed (withdrawn or merged): only contacts are accepted.";
    CaseComplete = "CASE_COMPLETE", 422, false, "The case is complete: only contacts and appeals are accepted.";
    NoContentions = "NO_CONTENTIONS", 422, false, "A claim needs at least one contention.";
    TooManyContentions = "TOO_MANY_CONTENTIONS", 422, false, "A claim has at most 100 contentions.";
    ContentionNotFound = "CONTENTION_NOT_FOUND", 422, false, "No such contention on this case.";
    DuplicateContention = "DUPLICATE_CONTENTION", 422, false, "The same contention twice.";
    DuplicateChannelEntry = "DUPLICATE_CHANNEL_ENTRY", 422, false, "This channel entry is already on the case.";
    DuplicateDocument = "DUPLICATE_DOCUMENT", 422, false, "This document is already on the case.";
    DocumentNotFound = "DOCUMENT_NOT_FOUND", 422, false, "No such document on this case.";
    DuplicateRequest = "DUPLICATE_REQUEST", 422, false, "An evidence request with this id exists.";
    RequestNotFound = "REQUEST_NOT_FOUND", 422, false, "No such evidence request on this case.";
    Duplicate5103Notice = "DUPLICATE_5103_NOTICE", 422, false, "A 5103 notice is already open.";
    InvalidEvidenceTransition = "INVALID_EVIDENCE_TRANSITION", 422, false, "The evidence request cannot move to that status from its current one.";
    RequestNotOpen = "REQUEST_NOT_OPEN", 422, false, "The evidence request no longer awaits a submission.";
    RequestNotDue = "REQUEST_NOT_DUE", 422, false, "The evidence request is not yet due.";
    WaiverAlreadySubmitted = "WAIVER_ALREADY_SUBMITTED", 422, false, "The 5103 waiver was already submitted.";
    InvalidPhaseTransition = "INVALID_PHASE_TRANSITION", 422, false, "The case cannot move to that phase from its current one.";
    PhaseBackReasonRequired = "PHASE_BACK_REASON_REQUIRED", 422, false, "Moving a case back needs a reason.";
    AlreadyAssigned = "ALREADY_ASSIGNED", 422, false, "Assigned to someone else: reassign explicitly.";
    NotAssigned = "NOT_ASSIGNED", 422, false, "The case is not assigned.";
    IncompleteDecision = "INCOMPLETE_DECISION", 422, false, "A decision adjudicates every contention, none left pending.";
    OpenRequests = "OPEN_REQUESTS", 422, false, "Evidence requests are still open: answer them or close them with a reason (ids in requestIds).";
    NoPendingDecision = "NO_PENDING_DECISION", 422, false, "No decision awaits approval.";
    FourEyesViolation = "FOUR_EYES_VIOLATION", 422, false, "The proposer may not approve their own decision.";
    NotDecided = "NOT_DECIDED", 422, false, "The contention was not decided: nothing to appeal.";
    DuplicateAppeal = "DUPLICATE_APPEAL", 422, false, "The contention is already under appeal.";
    AppealNotFound = "APPEAL_NOT_FOUND", 422, false, "No such appeal on this case.";
    SelfMerge = "SELF_MERGE", 422, false, "A case cannot be merged into itself.";
    InvalidSurvivor = "INVALID_SURVIVOR", 422, false, "The case to merge into is not an open claim of the same claimant and benefit.";
    // Concurrency and idempotency.
    VersionConflict = "VERSION_CONFLICT", 409, true, "The case changed meanwhile: read it again and decide again (current version given).";
    IdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED", 422, false, "This idempotency key was already used for a different request.";
    IdempotencyKeyTaken = "IDEMPOTENCY_KEY_TAKEN", 409, true, "Another request with this key is being recorded right now.";
    KeyTaken = "KEY_TAKEN", 409, true, "A unique key (an open claim) was taken by a concurrent writer.";
    // Limits.
    RateLimited = "RATE_LIMITED", 429, true, "Too many requests of this kind: try again after retryAfterSeconds.";
    PayloadTooLarge = "PAYLOAD_TOO_LARGE", 413, false, "The request body is too large.";
    TooManySubscriptions = "TOO_MANY_SUBSCRIPTIONS", 429, true, "Too many operations at once on one socket or for one user.";
    GraphqlParseFailed = "GRAPHQL_PARSE_FAILED", 400, false, "The GraphQL document does not parse, or is too large or too deep to.";
    GraphqlValidationFailed = "GRAPHQL_VALIDATION_FAILED", 400, false, "The GraphQL document does not fit the schema (or its limits on fields and aliases).";
    // The HTTP layers.
    BadRequest = "BAD_REQUEST", 400, false, "The request could not be read.";
    MethodNotAllowed = "METHOD_NOT_ALLOWED", 405, false, "This method is not allowed here.";
    RequestTimeout = "REQUEST_TIMEOUT", 408, true, "The request took too long to arrive.";
    UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE", 415, false, "Unsupported content type.";
    // Kafka intake (dead-letter topic).
    UnknownTopic = "UNKNOWN_TOPIC", 422, false, "A message on a topic no intake binding names.";
    EmptyMessage = "EMPTY_MESSAGE", 422, false, "A message without a value.";
    BadMessage = "BAD_MESSAGE", 422, false, "A message that could not be produced or read.";
    // Outages and faults.
    StoreUnavailable = "STORE_UNAVAILABLE", 503, true, "The database is unreachable: try again.";
    ServiceUnavailable = "SERVICE_UNAVAILABLE", 503, true, "Temporarily unavailable: try again.";
    BrokerUnavailable = "BROKER_UNAVAILABLE", 503, true, "The Kafka broker is unreachable.";
    RebuildInProgress = "REBUILD_IN_PROGRESS", 409, true, "A read-model rebuild is already running.";
    EventDecodeFailed = "EVENT_DECODE_FAILED", 500, false, "A stored event could not be read by this build.";
    BadConfiguration = "BAD_CONFIGURATION", 500, false, "The configuration is not usable (the message says which setting).";
    IoError = "IO_ERROR", 500, false, "A file could not be read or written.";
    Internal = "INTERNAL", 500, false, "An internal error (logged with the request id; no details are given).";
}

impl ErrorCode {
    /// The code named by `code` (as stored in an outcome record, say).
    pub fn parse(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == code)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_upper_snake_case_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                s.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                "{s}"
            );
            assert_eq!(ErrorCode::parse(s), Some(*code));
            assert!((400..600).contains(&code.http_status()), "{s}");
            // Only refusals of the moment are worth sending again.
            if code.is_retriable() {
                assert!(matches!(code.http_status(), 408 | 409 | 429 | 503), "{s}");
            }
        }
        assert_eq!(ErrorCode::parse("NOPE"), None);
    }
}
