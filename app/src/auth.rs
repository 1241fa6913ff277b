//! Bearer-JWT authentication.
//!
//! An [`Authenticator`] verifies a token (signature, algorithm, `exp`/`nbf`,
//! `iss`/`aud`) and turns its claims into a [`Principal`]. The tenant of a
//! request comes only from the principal, never from request data.
//!
//! Exactly one algorithm is accepted per configuration: HS256 for a shared
//! secret, RS256 for an RSA public key or a JWKS. The header is checked
//! before any key is touched, so `alg: none` and key confusion (an HS256
//! token "signed" with the RSA public key) are refused.
//!
//! Errors name the failing claim but never carry the token or claim values.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use chrono::{DateTime, Utc};
use domain::{ActorId, ClaimantId, TenantId};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

/// The permission that unlocks sensitive data (full identity numbers, ...).
pub const PERM_SENSITIVE: &str = "SENSITIVE";
/// A reasonable default for [`AuthConfig::leeway_secs`].
pub const DEFAULT_LEEWAY_SECS: u64 = 60;
/// The largest accepted leeway; more is a configuration error.
pub const MAX_LEEWAY_SECS: u64 = 3600;
/// HS256 secrets must have at least as many bytes as the hash (RFC 7518 §3.2).
pub const MIN_HS256_SECRET_LEN: usize = 32;
/// Longer tokens are refused before any decoding.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;
/// RSA keys from a JWKS must have at least this many modulus bits.
const MIN_RSA_BITS: usize = 2048;

/// A role carried in the `roles` claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Citizen,
    Agent,
    Caseworker,
    Approver,
    Supervisor,
    Integrator,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Citizen,
        Role::Agent,
        Role::Caseworker,
        Role::Approver,
        Role::Supervisor,
        Role::Integrator,
    ];

    /// The code used in tokens (`CITIZEN`, `AGENT`, ...).
    pub fn code(self) -> &'static str {
        match self {
            Role::Citizen => "CITIZEN",
            Role::Agent => "AGENT",
            Role::Caseworker => "CASEWORKER",
            Role::Approver => "APPROVER",
            Role::Supervisor => "SUPERVISOR",
            Role::Integrator => "INTEGRATOR",
        }
    }

    /// The role with exactly this code (case-sensitive).
    pub fn parse(s: &str) -> Option<Role> {
        Self::ALL.into_iter().find(|role| role.code() == s)
    }

    /// Staff roles: everything but `CITIZEN` and `INTEGRATOR`.
    pub fn is_staff(self) -> bool {
        !matches!(self, Role::Citizen | Role::Integrator)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Who is calling, from a verified token. The tenant comes only from here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub tenant: TenantId,
    /// The `sub` claim.
    pub subject: ActorId,
    pub roles: BTreeSet<Role>,
    /// The SENSITIVE permission (`"perms": ["SENSITIVE"]`).
    pub sensitive: bool,
    /// Required for CITIZEN tokens: whose claims they may see.
    pub claimant: Option<ClaimantId>,
    /// Staff: the office they work in (the `office` claim). Staff never
    /// handle a restricted colleague of their own office.
    pub office: Option<String>,
    pub expires_at: DateTime<Utc>,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Any role but `CITIZEN` and `INTEGRATOR`.
    pub fn is_staff(&self) -> bool {
        self.roles.iter().any(|role| role.is_staff())
    }
}

/// The verdict on a request's Authorization header (None: no header),
/// reached once by the server's access layer and put in the request's
/// extensions for every transport behind it.
#[derive(Clone, Debug)]
pub struct Authenticated(pub Option<Result<Principal, AuthError>>);

impl Authenticated {
    /// From the extension when the access layer ran, else from the header.
    pub fn of(
        extensions: &http::Extensions,
        headers: &http::HeaderMap,
        auth: &Authenticator,
    ) -> Option<Result<Principal, AuthError>> {
        if let Some(done) = extensions.get::<Authenticated>() {
            return done.0.clone();
        }
        headers
            .get(http::header::AUTHORIZATION)
            .map(|v| match v.to_str() {
                Ok(h) => auth.authenticate_header(Some(h)),
                Err(_) => Err(AuthError::MalformedHeader),
            })
    }
}

/// Where the verification keys come from.
#[derive(Clone)]
pub enum KeySource {
    /// Shared secret (embedded default / dev).
    Hs256 { secret: Vec<u8> },
    /// One RSA public key in PEM.
    Rs256Pem { public_pem: String },
    /// A JWKS document (JSON text) with RS256 keys selected by `kid`.
    Jwks { json: String },
}

impl fmt::Debug for KeySource {
    // Never print key material, not even the public parts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Hs256 { .. } => f.write_str("Hs256 { secret: <redacted> }"),
            KeySource::Rs256Pem { .. } => f.write_str("Rs256Pem { .. }"),
            KeySource::Jwks { .. } => f.write_str("Jwks { .. }"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// The exact `iss` a token must carry.
    pub issuer: String,
    /// The `aud` a token must carry (or contain).
    pub audience: String,
    pub keys: KeySource,
    /// Clock-skew allowance for `exp` and `nbf`, at most [`MAX_LEEWAY_SECS`].
    pub leeway_secs: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token was presented")]
    MissingToken,
    #[error("the Authorization header is not a bearer token")]
    MalformedHeader,
    #[error("the token is malformed")]
    MalformedToken,
    #[error("the token signature is invalid")]
    BadSignature,
    #[error("the token is not signed with the accepted algorithm")]
    WrongAlgorithm,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token has the wrong issuer")]
    WrongIssuer,
    #[error("the token has the wrong audience")]
    WrongAudience,
    /// A required claim is absent (for the registered claims `exp`, `iss`,
    /// `aud`, `sub` checked by the JWT library: absent or not readable).
    #[error("the token lacks a valid `{0}` claim")]
    MissingClaim(&'static str),
    #[error("the token's `{0}` claim is invalid")]
    InvalidClaim(&'static str),
    /// The token's `kid` (or its absence) selects no configured key.
    #[error("the token's signing key is unknown")]
    UnknownKid,
    #[error("bad authentication configuration: {0}")]
    BadConfig(&'static str),
    /// A valid token of a tenant this deployment does not serve.
    #[error("the token's tenant is not served here")]
    UnknownTenant,
}

impl AuthError {
    /// `UNAUTHENTICATED` for every token problem, `BAD_CONFIGURATION` for
    /// key or configuration problems.
    pub fn code(&self) -> domain::ErrorCode {
        match self {
            AuthError::BadConfig(_) => domain::ErrorCode::BadConfiguration,
            AuthError::UnknownTenant => domain::ErrorCode::UnknownTenant,
            _ => domain::ErrorCode::Unauthenticated,
        }
    }

    fn from_jwt(err: &jsonwebtoken::errors::Error) -> Self {
        match err.kind() {
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::MissingAlgorithm => AuthError::WrongAlgorithm,
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::ImmatureSignature => AuthError::NotYetValid,
            ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
            ErrorKind::InvalidAudience => AuthError::WrongAudience,
            ErrorKind::InvalidSubject => AuthError::InvalidClaim("sub"),
            ErrorKind::MissingRequiredClaim(name) => AuthError::MissingClaim(match name.as_str() {
                "exp" => "exp",
                "nbf" => "nbf",
                "iss" => "iss",
                "aud" => "aud",
                "sub" => "sub",
                _ => "unknown",
            }),
            // A key that cannot verify anything: the token is not accepted.
            ErrorKind::Crypto(_)
            | ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidKeyFormat
            | ErrorKind::RsaFailedSigning => AuthError::BadSignature,
            // InvalidToken, Base64, Json, Utf8 and any future kind.
            _ => AuthError::MalformedToken,
        }
    }
}

#[derive(Clone)]
enum Keys {
    Single(DecodingKey),
    ByKid(HashMap<String, DecodingKey>),
}

/// Verifies bearer tokens. Build once (keys are parsed in [`Authenticator::new`])
/// and share; it is cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    alg_name: &'static str,
    keys: Keys,
    validation: Validation,
    /// The tenants this deployment serves; `None`: any (unit tests).
    tenants: Option<std::collections::BTreeSet<TenantId>>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = match &self.keys {
            Keys::Single(_) => 1,
            Keys::ByKid(map) => map.len(),
        };
        f.debug_struct("Authenticator")
            .field("algorithm", &self.alg_name)
            .field("keys", &keys)
            .field("leeway_secs", &self.validation.leeway)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Checks the configuration and parses the keys once.
    pub fn new(config: AuthConfig) -> Result<Self, AuthError> {
        let AuthConfig {
            issuer,
            audience,
            keys,
            leeway_secs,
        } = config;
        check_issuer_audience(&issuer, &audience)?;
        if leeway_secs > MAX_LEEWAY_SECS {
            return Err(AuthError::BadConfig("the leeway is longer than an hour"));
        }
        let (algorithm, alg_name, keys) = match keys {
            KeySource::Hs256 { secret } => {
                check_secret(&secret)?;
                (
                    Algorithm::HS256,
                    "HS256",
                    Keys::Single(DecodingKey::from_secret(&secret)),
                )
            }
            KeySource::Rs256Pem { public_pem } => (
                Algorithm::RS256,
                "RS256",
                Keys::Single(rsa_public_pem(&public_pem)?),
            ),
            KeySource::Jwks { json } => (Algorithm::RS256, "RS256", Keys::ByKid(jwks_keys(&json)?)),
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Ok(Self {
            alg_name,
            keys,
            validation,
            tenants: None,
        })
    }

    /// Refuses, at authentication and so on every route, tokens of any
    /// tenant but these (`UNKNOWN_TENANT`).
    pub fn only_tenants(mut self, tenants: impl IntoIterator<Item = TenantId>) -> Self {
        self.tenants = Some(tenants.into_iter().collect());
        self
    }

    /// `header` is the raw Authorization header value (`Bearer <jwt>`), or None.
    pub fn authenticate_header(&self, header: Option<&str>) -> Result<Principal, AuthError> {
        let value = header
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .ok_or(AuthError::MissingToken)?;
        self.authenticate(bearer_token(value)?)
    }

    /// Verifies a bare token (no `Bearer ` prefix).
    pub fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        if token.is_empty() {
            return Err(AuthError::MissingToken);
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::MalformedToken);
        }
        let header = read_header(token)?;
        // Refuse any other algorithm (`none`, HS256 against RSA keys, ...)
        // before a key is chosen; the library checks it again.
        if header.alg != self.alg_name {
            return Err(AuthError::WrongAlgorithm);
        }
        // No critical header extensions are understood (RFC 7515 §4.1.11).
        if header.crit.is_some() {
            return Err(AuthError::MalformedToken);
        }
        let key = match &self.keys {
            Keys::Single(key) => key,
            Keys::ByKid(keys) => header
                .kid
                .as_deref()
                .and_then(|kid| keys.get(kid))
                .ok_or(AuthError::UnknownKid)?,
        };
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, key, &self.validation)
            .map_err(|err| AuthError::from_jwt(&err))?;
        let principal = principal_from_claims(&data.claims)?;
        if self
            .tenants
            .as_ref()
            .is_some_and(|known| !known.contains(&principal.tenant))
        {
            return Err(AuthError::UnknownTenant);
        }
        Ok(principal)
    }
}

/// The token of an Authorization header value `Bearer <token>` (scheme
/// case-insensitive).
pub fn bearer_token(value: &str) -> Result<&str, AuthError> {
    let value = value.trim();
    let (scheme, rest) = value
        .split_once([' ', '\t'])
        .ok_or(AuthError::MalformedHeader)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::MalformedHeader);
    }
    let token = rest.trim_matches([' ', '\t']);
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(AuthError::MalformedHeader);
    }
    Ok(token)
}

/// Claims for minting development tokens (`omnicase token`).
#[derive(Clone, Debug)]
pub struct DevToken {
    pub tenant: TenantId,
    pub subject: ActorId,
    pub roles: Vec<Role>,
    pub sensitive: bool,
    pub claimant: Option<ClaimantId>,
    pub office: Option<String>,
    pub ttl: chrono::Duration,
}

/// Signs an HS256 token with the given issuer/audience/secret. `iat` and
/// `nbf` are `now`, `exp` is `now + ttl`. Refuses tokens that
/// [`Authenticator::authenticate`] would refuse for their claims.
pub fn mint_hs256(
    secret: &[u8],
    issuer: &str,
    audience: &str,
    token: &DevToken,
    now: DateTime<Utc>,
) -> Result<String, AuthError> {
    check_secret(secret)?;
    check_issuer_audience(issuer, audience)?;
    let roles: BTreeSet<Role> = token.roles.iter().copied().collect();
    if roles.is_empty() {
        return Err(AuthError::InvalidClaim("roles"));
    }
    match token.claimant {
        Some(claimant) if claimant.as_uuid().is_nil() => {
            return Err(AuthError::InvalidClaim("claimant"))
        }
        None if roles.contains(&Role::Citizen) => return Err(AuthError::MissingClaim("claimant")),
        _ => {}
    }
    if let Some(office) = &token.office {
        if parse_office(office).as_deref() != Some(office.as_str()) {
            return Err(AuthError::InvalidClaim("office"));
        }
    }
    if token.ttl <= chrono::Duration::zero() {
        return Err(AuthError::InvalidClaim("exp"));
    }
    let exp = now
        .checked_add_signed(token.ttl)
        .ok_or(AuthError::InvalidClaim("exp"))?;
    if now.timestamp() < 0 {
        return Err(AuthError::InvalidClaim("iat"));
    }

    let mut claims = Map::new();
    claims.insert("iss".into(), issuer.into());
    claims.insert("aud".into(), audience.into());
    claims.insert("sub".into(), token.subject.as_str().into());
    claims.insert("tenant".into(), token.tenant.as_str().into());
    claims.insert(
        "roles".into(),
        roles.iter().map(|role| Value::from(role.code())).collect(),
    );
    if token.sensitive {
        claims.insert("perms".into(), Value::Array(vec![PERM_SENSITIVE.into()]));
    }
    if let Some(claimant) = token.claimant {
        claims.insert("claimant".into(), claimant.to_string().into());
    }
    if let Some(office) = &token.office {
        claims.insert("office".into(), office.as_str().into());
    }
    claims.insert("iat".into(), now.timestamp().into());
    claims.insert("nbf".into(), now.timestamp().into());
    claims.insert("exp".into(), exp.timestamp().into());

    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(|_| AuthError::BadConfig("the token could not be signed"))
}

// ---------------------------------------------------------------------------
// Configuration

fn check_secret(secret: &[u8]) -> Result<(), AuthError> {
    if secret.len() < MIN_HS256_SECRET_LEN {
        return Err(AuthError::BadConfig(
            "the HS256 secret must have at least 32 bytes",
        ));
    }
    Ok(())
}

fn check_issuer_audience(issuer: &str, audience: &str) -> Result<(), AuthError> {
    if issuer.trim().is_empty() {
        return Err(AuthError::BadConfig("the issuer is empty"));
    }
    if audience.trim().is_empty() {
        return Err(AuthError::BadConfig("the audience is empty"));
    }
    Ok(())
}

fn rsa_public_pem(pem: &str) -> Result<DecodingKey, AuthError> {
    if pem.contains("PRIVATE KEY") {
        return Err(AuthError::BadConfig(
            "the RSA key is a private key; configure the public key",
        ));
    }
    if !(pem.contains("-----BEGIN PUBLIC KEY-----")
        || pem.contains("-----BEGIN RSA PUBLIC KEY-----"))
    {
        return Err(AuthError::BadConfig(
            "the RSA public key is not in PEM form",
        ));
    }
    DecodingKey::from_rsa_pem(pem.as_bytes())
        .map_err(|_| AuthError::BadConfig("the RSA public key cannot be read"))
}

/// The RS256 signing keys of a JWKS by `kid`. Keys of other types, for other
/// algorithms or uses, or without a `kid`, are skipped; a set without any
/// usable key, a malformed or too short RSA key and duplicate kids are errors.
fn jwks_keys(json: &str) -> Result<HashMap<String, DecodingKey>, AuthError> {
    let set: JwkSet = serde_json::from_str(json)
        .map_err(|_| AuthError::BadConfig("the JWKS is not a valid JSON Web Key Set"))?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
            continue;
        };
        let common = &jwk.common;
        if common
            .key_algorithm
            .is_some_and(|alg| alg != KeyAlgorithm::RS256)
        {
            continue;
        }
        if common
            .public_key_use
            .as_ref()
            .is_some_and(|usage| *usage != PublicKeyUse::Signature)
        {
            continue;
        }
        if common
            .key_operations
            .as_ref()
            .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
        {
            continue;
        }
        let Some(kid) = &common.key_id else {
            continue;
        };
        let modulus = b64url_decode(&rsa.n)
            .ok_or(AuthError::BadConfig("a JWKS key has a malformed modulus"))?;
        let significant = modulus.iter().skip_while(|b| **b == 0).count();
        if significant * 8 < MIN_RSA_BITS {
            return Err(AuthError::BadConfig("a JWKS key is shorter than 2048 bits"));
        }
        if b64url_decode(&rsa.e).is_none_or(|e| e.iter().all(|b| *b == 0)) {
            return Err(AuthError::BadConfig("a JWKS key has a malformed exponent"));
        }
        let key = DecodingKey::from_jwk(jwk)
            .map_err(|_| AuthError::BadConfig("a JWKS key cannot be read"))?;
        if keys.insert(kid.clone(), key).is_some() {
            return Err(AuthError::BadConfig("the JWKS has two keys with one kid"));
        }
    }
    if keys.is_empty() {
        return Err(AuthError::BadConfig(
            "the JWKS has no RS256 signing key with a kid",
        ));
    }
    Ok(keys)
}

// ---------------------------------------------------------------------------
// Token parsing

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// The header of a compact JWS: exactly three dot-separated parts, the first
/// base64url JSON with a string `alg`.
fn read_header(token: &str) -> Result<RawHeader, AuthError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::MalformedToken);
    };
    let bytes = b64url_decode(header).ok_or(AuthError::MalformedToken)?;
    serde_json::from_slice(&bytes).map_err(|_| AuthError::MalformedToken)
}

/// Unpadded base64url (RFC 4648 §5), strict: no padding, no whitespace,
/// no stray bits.
fn b64url_decode(input: &str) -> Option<Vec<u8>> {
    if input.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 2);
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for byte in input.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0).then_some(out)
}

/// An office code: trimmed, 1 to 64 bytes, no control or hidden
/// formatting characters.
fn parse_office(raw: &str) -> Option<String> {
    let o = raw.trim();
    let bad = o.is_empty()
        || o.len() > 64
        || o.chars()
            .any(|c| c.is_control() || domain::text::is_hidden_format(c));
    (!bad).then(|| o.to_owned())
}

fn principal_from_claims(claims: &Map<String, Value>) -> Result<Principal, AuthError> {
    let subject =
        ActorId::parse(required_str(claims, "sub")?).map_err(|_| AuthError::InvalidClaim("sub"))?;
    let tenant = TenantId::parse(required_str(claims, "tenant")?)
        .map_err(|_| AuthError::InvalidClaim("tenant"))?;

    let Value::Array(items) = present(claims, "roles").ok_or(AuthError::MissingClaim("roles"))?
    else {
        return Err(AuthError::InvalidClaim("roles"));
    };
    let roles = items
        .iter()
        .map(|item| item.as_str().and_then(Role::parse))
        .collect::<Option<BTreeSet<Role>>>()
        .filter(|roles| !roles.is_empty())
        .ok_or(AuthError::InvalidClaim("roles"))?;

    let sensitive = match present(claims, "perms") {
        None => false,
        Some(Value::Array(items)) => {
            let mut sensitive = false;
            for item in items {
                // Unknown permissions are ignored; non-strings are not.
                let perm = item.as_str().ok_or(AuthError::InvalidClaim("perms"))?;
                sensitive |= perm == PERM_SENSITIVE;
            }
            sensitive
        }
        Some(_) => return Err(AuthError::InvalidClaim("perms")),
    };

    let claimant = optional_str(claims, "claimant")?
        .map(|raw| {
            Uuid::try_parse(raw)
                .ok()
                .filter(|id| !id.is_nil())
                .map(ClaimantId::from_uuid)
                .ok_or(AuthError::InvalidClaim("claimant"))
        })
        .transpose()?;
    if claimant.is_none() && roles.contains(&Role::Citizen) {
        return Err(AuthError::MissingClaim("claimant"));
    }

    let office = optional_str(claims, "office")?
        .map(|o| parse_office(o).ok_or(AuthError::InvalidClaim("office")))
        .transpose()?;

    let expires_at = numeric_date(claims, "exp")?.ok_or(AuthError::MissingClaim("exp"))?;
    // Checked by the library when readable; a value it cannot read must not
    // silently skip the check.
    numeric_date(claims, "nbf")?;
    numeric_date(claims, "iat")?;

    Ok(Principal {
        tenant,
        subject,
        roles,
        sensitive,
        claimant,
        office,
        expires_at,
    })
}

/// The claim unless absent or `null`.
fn present<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    claims.get(name).filter(|value| !value.is_null())
}

fn optional_str<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, AuthError> {
    match present(claims, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(AuthError::InvalidClaim(name)),
    }
}

fn required_str<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, AuthError> {
    optional_str(claims, name)?.ok_or(AuthError::MissingClaim(name))
}

/// A NumericDate claim (seconds since the epoch; fractions are rounded, as
/// the JWT library does).
fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<DateTime<Utc>>, AuthError> {
    let Some(value) = present(claims, name) else {
        return Ok(None);
    };
    let secs = match value.as_u64() {
        Some(secs) => i64::try_from(secs).ok(),
        None => value
            .as_f64()
            .filter(|secs| secs.is_finite() && *secs >= 0.0 && *secs < 1e15)
            .map(|secs| secs.round() as i64),
    };
    secs.and_then(|secs| DateTime::from_timestamp(secs, 0))
        .map(Some)
        .ok_or(AuthError::InvalidClaim(name))
}

#[cfg(test)]
mod tests;
