//! Tests of token verification, roles and development tokens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use chrono::Duration;
use serde_json::json;

const ISS: &str = "https://idp.omnicase.test";
const AUD: &str = "omnicase-api";
const SECRET: &[u8] = b"omnicase-test-secret-0123456789abcdef";
const OTHER_SECRET: &[u8] = b"another-test-secret-0123456789abcdef";
const CLAIMANT: &str = "0190a5c4-1111-7abc-8def-0123456789ab";
const KID: &str = "test-key-1";

/// A fixed 2048-bit test key pair (PKCS#1 private, SPKI public). Test only.
const RSA_PRIVATE_PEM: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEA1fqfMlyMq25SP9WgNDdZI7Uo6avOViwCq0UisrojOxF5tK4t
KAa62eRthr4QWh7FuxKwSxujrI6iwhJROcA9fYDJ/BMgwmcIZx/zHHBdPuJKK/P7
N1e9Os4ptgyna2quxDirEXPkMQqDFiZ092Fe9XSkyQB8aPFKuTPy1xnI3ExUu4KD
yOX3dNXly/wBa/TAxKR9/t9D+eOFUkzR5bl7mQ8wWWxFs2gOiWXyVrNpfMer+i+m
rK9qHIG9SHcWrlR2CykOqW/iYWFEtZFTgew/s49t0a/gZR4fOlSAauv10LGqn5S9
Bg2x6PVSxWr3BKTneHq+nP3WNivmT3p3eB6p9QIDAQABAoIBAAKgb3jaSv3Fvmu7
LxrE/SqjjCuGKOPE6Yl5sUnZYBpXBhPyOWqu3ndTRwbq6V951jqMKa7aWYGCRLw2
JlobooWaYaBfCb1pL2C4sy7LsFFXzMpKVfChepiwtDFgaWO3rQqKmYr+zbPOabqJ
YVEyGEzSED3JbD2LjLvGR/pc/iq6HWcZHifYQXICgHwAHf9E7sFh81X3v+evYEVf
mam3xoITrDWhzZ6YgGOI2KKbV9mfdFV5YEnC5ReQVThECLPVmxDeN7iU82OIwXiC
AEUI4SLH5ImzzYwcm8WAQPFetwqlXERq0FHWck9Ruic3mMTQ6Wp2QS3A/r/Mx5sH
Wx2xkFcCgYEA66uDn1imEQOeeISol5WYkc6DPYQVx4rvADlejWY1brCqBsxzLHEM
8fZ2YRX5vwkSp57tpaKI2Dz6QuJJwKVKGx89kt8VPmc2Jpvqpwdpr3VaAUo88J/5
FlNdl8T+LYHVlA8IXKLo0mrFWSWiYJ21LM+PQcrnC7PK7cBpWrMJ74MCgYEA6HAW
rWZpz8PPDkrLOGRN2ywAP2RTeHoAyPSyHUHNfCtSIz+k2iBtkp5RC3Xfi+okuPai
+YSacef8VIAwhz2bLCctAaldWssvuuTWUSQRi2s578Kvy1y44WjJQ3UxRWiqeZlF
+gjYxhxTdtuHCmrbSjZ4F3fSNz5Fy0ZeO3YbjycCgYBqplGIWPu+E18xtwb8okxL
H6OwwQeCJ9OEzHGHl8tybixjqz4rzHVJQnnL8b/1vctdY8S0AlvfT6kJf5JUxfhF
UdvxjVb1yItu6XxFXktrhbXXg5sUYbC9c7iVKCbGvUzEFhF4qpimMH9imm9jPbtx
rfRsl7/7QcAB2+NRklhatQKBgECtT+IYKUFCvw6/CSU7494ktDzvcbqIWEeSry0s
7jyq4UQlpX18oIC3xN1ngzivgmBlYJwFpeQkJTZuJRK8tbznecKImg11lGZw3qHd
Y3Rj9c8dYUU5G8i9G6PFrFwf76++UpZsd8VIhIECPOVNLo/L8Ea3dKsijNEvV3E8
QBbpAoGBAOnP6/q3AQE4aGcPtIqcp3ip1wQsMdlK/vC7+iSHsiFk5Tn42g27m5Md
dXF52zBFC26O38JYolNXRIOvv+s01lVhchQHP4yZ/9GLf+7SfJnsxW4cl3kKYji1
pYrGY142jwfgFRUZDHUyjkroJJVV5BHmj+tfWGvA89CSkK7nvI9N
-----END RSA PRIVATE KEY-----
";
const RSA_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1fqfMlyMq25SP9WgNDdZ
I7Uo6avOViwCq0UisrojOxF5tK4tKAa62eRthr4QWh7FuxKwSxujrI6iwhJROcA9
fYDJ/BMgwmcIZx/zHHBdPuJKK/P7N1e9Os4ptgyna2quxDirEXPkMQqDFiZ092Fe
9XSkyQB8aPFKuTPy1xnI3ExUu4KDyOX3dNXly/wBa/TAxKR9/t9D+eOFUkzR5bl7
mQ8wWWxFs2gOiWXyVrNpfMer+i+mrK9qHIG9SHcWrlR2CykOqW/iYWFEtZFTgew/
s49t0a/gZR4fOlSAauv10LGqn5S9Bg2x6PVSxWr3BKTneHq+nP3WNivmT3p3eB6p
9QIDAQAB
-----END PUBLIC KEY-----
";
/// The modulus of [`RSA_PUBLIC_PEM`], base64url without padding.
const RSA_N: &str = "1fqfMlyMq25SP9WgNDdZI7Uo6avOViwCq0UisrojOxF5tK4tKAa62eRthr4QWh7FuxKwSxujrI6iwhJROcA9fYDJ_BMgwmcIZx_zHHBdPuJKK_P7N1e9Os4ptgyna2quxDirEXPkMQqDFiZ092Fe9XSkyQB8aPFKuTPy1xnI3ExUu4KDyOX3dNXly_wBa_TAxKR9_t9D-eOFUkzR5bl7mQ8wWWxFs2gOiWXyVrNpfMer-i-mrK9qHIG9SHcWrlR2CykOqW_iYWFEtZFTgew_s49t0a_gZR4fOlSAauv10LGqn5S9Bg2x6PVSxWr3BKTneHq-nP3WNivmT3p3eB6p9Q";
/// The modulus of another 2048-bit key (whose private half is not here).
const OTHER_RSA_N: &str = "oC2TPsteI5sCn2fBVwwPB1RE761iXnQEBlFWmRDgR6mS41DebjTtmLUjbZrC_RFR4nInieJgA2mfm1m-F2bK-5lKCzrcirecaTyBwor8akGpnriKNDjgMa9LrR6DV5v68PD3XCQUuzk5qiNkBUBWgjgOFmKH1XeB6jPefQ_pqzrpHE_Tc77OOYPoCJgaZyL0Z2iwvpZ15HPd7Dz5nAPNI5k-7GeL78OwLaViL9TW5pzlqM6EfNQYzHBe-mmita6lG4yQqSjnRjkO4w-lgWl4X1_2U2HngXmMnFmxlVA0Qn1vBlmiSpCpbdwrgE3_CTpaPD_LPtYz42owhe17k8ewIQ";
const RSA_E: &str = "AQAB";

fn hs_config(leeway_secs: u64) -> AuthConfig {
    AuthConfig {
        issuer: ISS.into(),
        audience: AUD.into(),
        keys: KeySource::Hs256 {
            secret: SECRET.to_vec(),
        },
        leeway_secs,
    }
}

fn hs() -> Authenticator {
    Authenticator::new(hs_config(60)).unwrap()
}

fn rs_pem() -> Authenticator {
    Authenticator::new(AuthConfig {
        issuer: ISS.into(),
        audience: AUD.into(),
        keys: KeySource::Rs256Pem {
            public_pem: RSA_PUBLIC_PEM.into(),
        },
        leeway_secs: 60,
    })
    .unwrap()
}

fn jwks_json() -> String {
    json!({
            "keys": [
                { "kty": "RSA", "kid": KID, "alg": "RS256", "use": "sig", "n": RSA_N, "e": RSA_E },
                { "kty": "RSA", "kid": "other-key", "use": "sig", "n": OTHER_RSA_N, "e": RSA_E },
                // Never usable for verification here: a symmetric key and an
                // encryption key.
                { "kty": "oct", "kid": "hmac", "alg": "HS256", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0" },
                { "kty": "RSA", "kid": "enc", "use": "enc", "n": RSA_N, "e": RSA_E }
            ]
        })
        .to_string()
}

fn jwks() -> Authenticator {
    Authenticator::new(AuthConfig {
        issuer: ISS.into(),
        audience: AUD.into(),
        keys: KeySource::Jwks { json: jwks_json() },
        leeway_secs: 60,
    })
    .unwrap()
}

fn claimant() -> ClaimantId {
    ClaimantId::from_uuid(Uuid::parse_str(CLAIMANT).unwrap())
}

fn dev(role: Role) -> DevToken {
    DevToken {
        tenant: TenantId::parse("va-east").unwrap(),
        subject: ActorId::parse("user-42").unwrap(),
        roles: vec![role],
        sensitive: false,
        claimant: (role == Role::Citizen).then(claimant),
        office: None,
        ttl: Duration::hours(1),
    }
}

fn mint(token: &DevToken, now: DateTime<Utc>) -> String {
    mint_hs256(SECRET, ISS, AUD, token, now).unwrap()
}

/// Valid claims for a caseworker, to be altered by tests.
fn claims() -> Value {
    let now = Utc::now().timestamp();
    json!({
        "sub": "user-42",
        "tenant": "va-east",
        "roles": ["CASEWORKER"],
        "iss": ISS,
        "aud": AUD,
        "iat": now,
        "exp": now + 3600,
    })
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

fn without(mut claims: Value, name: &str) -> Value {
    claims.as_object_mut().unwrap().remove(name);
    claims
}

fn sign_hs(claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn sign_rs(claims: &Value, kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn b64url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// `base64url(header).base64url(payload).signature`.
fn hand_built(header: &Value, payload: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64url(header.to_string().as_bytes()),
        b64url(payload.to_string().as_bytes())
    )
}

fn assert_unauthenticated(result: Result<Principal, AuthError>, expected: AuthError) {
    let err = result.unwrap_err();
    assert_eq!(err, expected);
    assert_eq!(err.code().as_str(), "UNAUTHENTICATED");
}

// -- roles ---------------------------------------------------------------

#[test]
fn role_codes_round_trip() {
    for role in Role::ALL {
        assert_eq!(Role::parse(role.code()), Some(role));
        assert_eq!(role.to_string(), role.code());
    }
    assert_eq!(Role::Citizen.code(), "CITIZEN");
    assert_eq!(Role::Integrator.code(), "INTEGRATOR");
    assert_eq!(Role::parse("citizen"), None);
    assert_eq!(Role::parse("ADMIN"), None);
    assert_eq!(Role::parse(""), None);
    let staff: Vec<Role> = Role::ALL.into_iter().filter(|r| r.is_staff()).collect();
    assert_eq!(
        staff,
        [
            Role::Agent,
            Role::Caseworker,
            Role::Approver,
            Role::Supervisor
        ]
    );
}

// -- HS256 round trips -----------------------------------------------------

#[test]
fn mint_then_authenticate_each_role() {
    let auth = hs();
    for role in Role::ALL {
        let now = Utc::now();
        let token = mint(&dev(role), now);
        let header = format!("Bearer {token}");
        let principal = auth.authenticate_header(Some(&header)).unwrap();
        assert_eq!(principal.tenant.as_str(), "va-east");
        assert_eq!(principal.subject.as_str(), "user-42");
        assert_eq!(principal.roles, BTreeSet::from([role]));
        assert!(principal.has(role));
        assert_eq!(principal.is_staff(), role.is_staff());
        assert!(!principal.sensitive);
        let expected_claimant = (role == Role::Citizen).then(claimant);
        assert_eq!(principal.claimant, expected_claimant);
        assert_eq!(
            principal.expires_at.timestamp(),
            (now + Duration::hours(1)).timestamp()
        );
        assert_eq!(auth.authenticate(&token), Ok(principal));
    }
}

#[test]
fn several_roles_and_the_sensitive_permission() {
    let mut token = dev(Role::Caseworker);
    token.roles = vec![Role::Approver, Role::Caseworker, Role::Approver];
    token.sensitive = true;
    let principal = hs().authenticate(&mint(&token, Utc::now())).unwrap();
    assert_eq!(
        principal.roles,
        BTreeSet::from([Role::Caseworker, Role::Approver])
    );
    assert!(principal.sensitive);
    assert!(principal.is_staff());
    assert!(!principal.has(Role::Supervisor));
}

#[test]
fn unknown_perms_are_ignored() {
    let auth = hs();
    let c = with(claims(), "perms", json!(["AUDIT_READ", "SENSITIVE", "x"]));
    assert!(auth.authenticate(&sign_hs(&c, SECRET)).unwrap().sensitive);
    let c = with(claims(), "perms", json!(["sensitive", "OTHER"]));
    assert!(!auth.authenticate(&sign_hs(&c, SECRET)).unwrap().sensitive);
    let c = with(claims(), "perms", json!([]));
    assert!(!auth.authenticate(&sign_hs(&c, SECRET)).unwrap().sensitive);
}

#[test]
fn integrator_is_not_staff_and_may_carry_a_claimant() {
    let claims = with(claims(), "roles", json!(["INTEGRATOR"]));
    let claims = with(claims, "claimant", json!(CLAIMANT));
    let principal = hs().authenticate(&sign_hs(&claims, SECRET)).unwrap();
    assert!(!principal.is_staff());
    assert_eq!(principal.claimant, Some(claimant()));
}

#[test]
fn citizen_without_claimant_is_rejected() {
    let auth = hs();
    let citizen = with(claims(), "roles", json!(["CITIZEN"]));
    assert_unauthenticated(
        auth.authenticate(&sign_hs(&citizen, SECRET)),
        AuthError::MissingClaim("claimant"),
    );
    let null_claimant = with(citizen.clone(), "claimant", Value::Null);
    assert_unauthenticated(
        auth.authenticate(&sign_hs(&null_claimant, SECRET)),
        AuthError::MissingClaim("claimant"),
    );
    let ok = with(citizen, "claimant", json!(CLAIMANT));
    assert!(auth.authenticate(&sign_hs(&ok, SECRET)).is_ok());

    // And mint refuses to make such a token.
    let mut token = dev(Role::Citizen);
    token.claimant = None;
    assert_eq!(
        mint_hs256(SECRET, ISS, AUD, &token, Utc::now()),
        Err(AuthError::MissingClaim("claimant"))
    );
}

#[test]
fn expired_beyond_leeway_is_rejected() {
    let auth = hs();
    // Expired two minutes ago, leeway 60 s.
    let now = Utc::now() - Duration::hours(1) - Duration::minutes(2);
    assert_unauthenticated(
        auth.authenticate(&mint(&dev(Role::Agent), now)),
        AuthError::Expired,
    );
    // Expired 20 s ago: within the leeway.
    let now = Utc::now() - Duration::hours(1) - Duration::seconds(20);
    assert!(auth.authenticate(&mint(&dev(Role::Agent), now)).is_ok());
    // Without leeway the same token is refused.
    let strict = Authenticator::new(hs_config(0)).unwrap();
    assert_unauthenticated(
        strict.authenticate(&mint(&dev(Role::Agent), now)),
        AuthError::Expired,
    );
}

#[test]
fn nbf_in_the_future_is_rejected() {
    let auth = hs();
    // mint sets nbf = iat = now.
    let later = Utc::now() + Duration::minutes(10);
    assert_unauthenticated(
        auth.authenticate(&mint(&dev(Role::Caseworker), later)),
        AuthError::NotYetValid,
    );
    // A little in the future is within the leeway.
    let soon = Utc::now() + Duration::seconds(20);
    assert!(auth
        .authenticate(&mint(&dev(Role::Caseworker), soon))
        .is_ok());
}

#[test]
fn wrong_issuer_or_audience_is_rejected() {
    let auth = hs();
    let token = mint_hs256(
        SECRET,
        "https://evil.test",
        AUD,
        &dev(Role::Agent),
        Utc::now(),
    );
    assert_unauthenticated(auth.authenticate(&token.unwrap()), AuthError::WrongIssuer);
    let token = mint_hs256(SECRET, ISS, "another-api", &dev(Role::Agent), Utc::now());
    assert_unauthenticated(auth.authenticate(&token.unwrap()), AuthError::WrongAudience);
    // An audience list must contain ours.
    let listed = with(claims(), "aud", json!(["other", AUD]));
    assert!(auth.authenticate(&sign_hs(&listed, SECRET)).is_ok());
    let listed = with(claims(), "aud", json!(["other"]));
    assert_unauthenticated(
        auth.authenticate(&sign_hs(&listed, SECRET)),
        AuthError::WrongAudience,
    );
    // iss and aud are required.
    assert_unauthenticated(
        auth.authenticate(&sign_hs(&without(claims(), "iss"), SECRET)),
        AuthError::MissingClaim("iss"),
    );
    assert_unauthenticated(
        auth.authenticate(&sign_hs(&without(claims(), "aud"), SECRET)),
        AuthError::MissingClaim("aud"),
    );
}

#[test]
fn signature_from_another_secret_is_rejected() {
    let token = mint_hs256(OTHER_SECRET, ISS, AUD, &dev(Role::Supervisor), Utc::now());
    assert_unauthenticated(hs().authenticate(&token.unwrap()), AuthError::BadSignature);
}

#[test]
fn tampered_payload_is_rejected() {
    let auth = hs();
    let token = mint(&dev(Role::Agent), Utc::now());
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: Value = serde_json::from_slice(&b64url_decode(parts[1]).unwrap()).unwrap();
    payload["roles"] = json!(["SUPERVISOR"]);
    payload["perms"] = json!(["SENSITIVE"]);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64url(payload.to_string().as_bytes()),
        parts[2]
    );
    assert_unauthenticated(auth.authenticate(&forged), AuthError::BadSignature);
    // A flipped signature character too.
    let mut sig = parts[2].to_owned();
    let last = if sig.ends_with('A') { "B" } else { "A" };
    sig.replace_range(sig.len() - 1.., last);
    let forged = format!("{}.{}.{sig}", parts[0], parts[1]);
    assert!(auth.authenticate(&forged).is_err());
}

#[test]
fn alg_none_is_rejected() {
    let payload = claims();
    for auth in [hs(), rs_pem(), jwks()] {
        for header in [
            json!({"alg": "none"}),
            json!({"alg": "none", "typ": "JWT"}),
            json!({"alg": "None"}),
            json!({"alg": "NONE", "kid": KID}),
        ] {
            let token = hand_built(&header, &payload, "");
            assert_unauthenticated(auth.authenticate(&token), AuthError::WrongAlgorithm);
            let token = hand_built(&header, &payload, "c2ln");
            assert_unauthenticated(auth.authenticate(&token), AuthError::WrongAlgorithm);
        }
    }
    // Missing alg, or a non-string alg, is malformed.
    let token = hand_built(&json!({"typ": "JWT"}), &payload, "");
    assert_unauthenticated(hs().authenticate(&token), AuthError::MalformedToken);
    let token = hand_built(&json!({"alg": null}), &payload, "");
    assert_unauthenticated(hs().authenticate(&token), AuthError::MalformedToken);
}

#[test]
fn other_algorithms_are_rejected() {
    let claims = claims();
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let token = jsonwebtoken::encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_unauthenticated(hs().authenticate(&token), AuthError::WrongAlgorithm);
    }
}

#[test]
fn critical_header_extensions_are_rejected() {
    let mut header = Header::new(Algorithm::HS256);
    header.typ = None;
    let mut header = serde_json::to_value(&header).unwrap();
    header["crit"] = json!(["exp"]);
    // Signed properly over the header with `crit`.
    let head = b64url(header.to_string().as_bytes());
    let body = b64url(claims().to_string().as_bytes());
    let message = format!("{head}.{body}");
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(SECRET),
        Algorithm::HS256,
    )
    .unwrap();
    assert_unauthenticated(
        hs().authenticate(&format!("{message}.{signature}")),
        AuthError::MalformedToken,
    );
}

#[test]
fn claim_errors_name_the_claim() {
    let auth = hs();
    let cases: Vec<(Value, AuthError)> = vec![
        (without(claims(), "sub"), AuthError::MissingClaim("sub")),
        (
            with(claims(), "sub", json!(42)),
            AuthError::MissingClaim("sub"),
        ),
        (
            with(claims(), "sub", json!("has space")),
            AuthError::InvalidClaim("sub"),
        ),
        (
            without(claims(), "tenant"),
            AuthError::MissingClaim("tenant"),
        ),
        (
            with(claims(), "tenant", json!("VA-EAST")),
            AuthError::InvalidClaim("tenant"),
        ),
        (
            with(claims(), "tenant", json!(["va-east"])),
            AuthError::InvalidClaim("tenant"),
        ),
        (without(claims(), "roles"), AuthError::MissingClaim("roles")),
        (
            with(claims(), "roles", json!([])),
            AuthError::InvalidClaim("roles"),
        ),
        (
            with(claims(), "roles", json!("CASEWORKER")),
            AuthError::InvalidClaim("roles"),
        ),
        (
            with(claims(), "roles", json!(["CASEWORKER", "ROOT"])),
            AuthError::InvalidClaim("roles"),
        ),
        (
            with(claims(), "roles", json!([1])),
            AuthError::InvalidClaim("roles"),
        ),
        (
            with(claims(), "perms", json!("SENSITIVE")),
            AuthError::InvalidClaim("perms"),
        ),
        (
            with(claims(), "perms", json!(["SENSITIVE", 1])),
            AuthError::InvalidClaim("perms"),
        ),
        (
            with(claims(), "claimant", json!("not-a-uuid")),
            AuthError::InvalidClaim("claimant"),
        ),
        (
            with(claims(), "claimant", json!(7)),
            AuthError::InvalidClaim("claimant"),
        ),
        (
            with(
                claims(),
                "claimant",
                json!("00000000-0000-0000-0000-000000000000"),
            ),
            AuthError::InvalidClaim("claimant"),
        ),
        (without(claims(), "exp"), AuthError::MissingClaim("exp")),
        (
            with(claims(), "exp", json!("tomorrow")),
            AuthError::MissingClaim("exp"),
        ),
        (
            with(claims(), "exp", json!(-5)),
            AuthError::MissingClaim("exp"),
        ),
        (
            with(claims(), "nbf", json!("yesterday")),
            AuthError::InvalidClaim("nbf"),
        ),
        (
            with(claims(), "iat", json!({"t": 1})),
            AuthError::InvalidClaim("iat"),
        ),
        (
            with(claims(), "iss", json!(7)),
            AuthError::MissingClaim("iss"),
        ),
    ];
    for (claims, expected) in cases {
        let err = auth.authenticate(&sign_hs(&claims, SECRET)).unwrap_err();
        assert_eq!(err, expected, "claims: {claims}");
        assert_eq!(err.code().as_str(), "UNAUTHENTICATED");
        let name = match expected {
            AuthError::MissingClaim(name) | AuthError::InvalidClaim(name) => name,
            _ => unreachable!(),
        };
        assert!(err.to_string().contains(&format!("`{name}`")), "{err}");
    }
}

#[test]
fn fractional_times_are_accepted() {
    let exp = Utc::now().timestamp() as f64 + 3600.4;
    let claims = with(claims(), "exp", json!(exp));
    let principal = hs().authenticate(&sign_hs(&claims, SECRET)).unwrap();
    assert_eq!(principal.expires_at.timestamp(), exp.round() as i64);
}

#[test]
fn errors_never_contain_the_token_or_claim_values() {
    let auth = hs();
    let secretish = "va-SECRET-TENANT";
    let bad = [
        with(claims(), "tenant", json!(secretish)),
        with(claims(), "sub", json!(format!("{secretish} x"))),
        with(claims(), "roles", json!([secretish])),
        with(claims(), "claimant", json!(secretish)),
    ];
    for claims in bad {
        let token = sign_hs(&claims, SECRET);
        let err = auth.authenticate(&token).unwrap_err();
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains("SECRET"), "{shown}");
            assert!(!shown.contains(&token), "{shown}");
        }
    }
    let header = "Basic dXNlcjpwYXNzd29yZA==";
    let err = auth.authenticate_header(Some(header)).unwrap_err();
    assert!(!format!("{err} {err:?}").contains("dXNlcjpwYXNzd29yZA"));
}

// -- RS256 -----------------------------------------------------------------

#[test]
fn rs256_pem_round_trip() {
    let auth = rs_pem();
    let sensitive = with(claims(), "perms", json!(["SENSITIVE"]));
    let principal = auth.authenticate(&sign_rs(&sensitive, None)).unwrap();
    assert_eq!(principal.roles, BTreeSet::from([Role::Caseworker]));
    assert!(principal.sensitive);
    // A kid in the header does not matter with a single key.
    assert!(auth
        .authenticate(&sign_rs(&sensitive, Some("whatever")))
        .is_ok());
    // Expiry and issuer checks apply as for HS256.
    let expired = with(claims(), "exp", json!(Utc::now().timestamp() - 600));
    assert_unauthenticated(
        auth.authenticate(&sign_rs(&expired, None)),
        AuthError::Expired,
    );
    let wrong_iss = with(claims(), "iss", json!("https://evil.test"));
    assert_unauthenticated(
        auth.authenticate(&sign_rs(&wrong_iss, None)),
        AuthError::WrongIssuer,
    );
}

#[test]
fn rs256_tampered_payload_is_rejected() {
    let token = sign_rs(&claims(), None);
    let parts: Vec<&str> = token.split('.').collect();
    let forged_claims = with(claims(), "roles", json!(["SUPERVISOR"]));
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64url(forged_claims.to_string().as_bytes()),
        parts[2]
    );
    assert_unauthenticated(rs_pem().authenticate(&forged), AuthError::BadSignature);
}

#[test]
fn hs256_token_against_rsa_config_is_rejected() {
    // The classic key confusion: an HS256 token "signed" with the RSA
    // public key as the HMAC secret.
    let forged = sign_hs(&claims(), RSA_PUBLIC_PEM.as_bytes());
    assert_unauthenticated(rs_pem().authenticate(&forged), AuthError::WrongAlgorithm);
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(KID.into());
    for secret in [RSA_PUBLIC_PEM.as_bytes(), RSA_N.as_bytes()] {
        let forged =
            jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(secret)).unwrap();
        assert_unauthenticated(jwks().authenticate(&forged), AuthError::WrongAlgorithm);
    }
    // Even the symmetric key that sits in the JWKS is never used.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("hmac".into());
    let forged = jsonwebtoken::encode(
        &header,
        &claims(),
        &EncodingKey::from_base64_secret("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0").unwrap(),
    )
    .unwrap();
    assert_unauthenticated(jwks().authenticate(&forged), AuthError::WrongAlgorithm);
}

#[test]
fn rs256_token_against_hs_config_is_rejected() {
    assert_unauthenticated(
        hs().authenticate(&sign_rs(&claims(), None)),
        AuthError::WrongAlgorithm,
    );
}

#[test]
fn jwks_selects_the_key_by_kid() {
    let auth = jwks();
    let principal = auth.authenticate(&sign_rs(&claims(), Some(KID))).unwrap();
    assert_eq!(principal.subject.as_str(), "user-42");
    // A kid that is not in the set.
    assert_unauthenticated(
        auth.authenticate(&sign_rs(&claims(), Some("rotated-away"))),
        AuthError::UnknownKid,
    );
    // No kid at all.
    assert_unauthenticated(
        auth.authenticate(&sign_rs(&claims(), None)),
        AuthError::UnknownKid,
    );
    // A kid of another key in the set: the signature does not match.
    assert_unauthenticated(
        auth.authenticate(&sign_rs(&claims(), Some("other-key"))),
        AuthError::BadSignature,
    );
    // The encryption key is not a signing key, though it is the same key.
    assert_unauthenticated(
        auth.authenticate(&sign_rs(&claims(), Some("enc"))),
        AuthError::UnknownKid,
    );
}

// -- configuration ---------------------------------------------------------

fn config(keys: KeySource) -> AuthConfig {
    AuthConfig {
        issuer: ISS.into(),
        audience: AUD.into(),
        keys,
        leeway_secs: 60,
    }
}

fn assert_bad_config(config: AuthConfig) {
    let err = Authenticator::new(config).unwrap_err();
    assert!(matches!(err, AuthError::BadConfig(_)), "{err:?}");
    assert_eq!(err.code().as_str(), "BAD_CONFIGURATION");
}

#[test]
fn bad_configurations_are_refused() {
    assert_bad_config(config(KeySource::Hs256 { secret: vec![] }));
    assert_bad_config(config(KeySource::Hs256 {
        secret: b"short".to_vec(),
    }));
    assert_bad_config(config(KeySource::Rs256Pem {
        public_pem: RSA_PRIVATE_PEM.into(),
    }));
    assert_bad_config(config(KeySource::Rs256Pem {
        public_pem: "not a pem".into(),
    }));
    assert_bad_config(config(KeySource::Rs256Pem {
        public_pem: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".into(),
    }));
    for json in [
        "",
        "{",
        "[]",
        r#"{"keys": []}"#,
        r#"{"keys": [{"kty": "oct", "kid": "a", "k": "c2VjcmV0"}]}"#,
        // No kid.
        &format!(r#"{{"keys": [{{"kty": "RSA", "n": "{RSA_N}", "e": "AQAB"}}]}}"#),
        // Too short.
        r#"{"keys": [{"kty": "RSA", "kid": "a", "n": "AQAB", "e": "AQAB"}]}"#,
        // Not base64url.
        r#"{"keys": [{"kty": "RSA", "kid": "a", "n": "!!!", "e": "AQAB"}]}"#,
        // Duplicate kid.
        &format!(
            r#"{{"keys": [{{"kty": "RSA", "kid": "a", "n": "{RSA_N}", "e": "AQAB"}},
                             {{"kty": "RSA", "kid": "a", "n": "{OTHER_RSA_N}", "e": "AQAB"}}]}}"#
        ),
    ] {
        assert_bad_config(config(KeySource::Jwks { json: json.into() }));
    }
    let mut empty_issuer = hs_config(60);
    empty_issuer.issuer = " ".into();
    assert_bad_config(empty_issuer);
    let mut empty_audience = hs_config(60);
    empty_audience.audience = String::new();
    assert_bad_config(empty_audience);
    assert_bad_config(hs_config(MAX_LEEWAY_SECS + 1));
    assert_bad_config(hs_config(u64::MAX));
    assert!(Authenticator::new(hs_config(MAX_LEEWAY_SECS)).is_ok());
}

#[test]
fn mint_refuses_bad_input() {
    let now = Utc::now();
    let mut token = dev(Role::Agent);
    assert!(matches!(
        mint_hs256(b"short", ISS, AUD, &token, now),
        Err(AuthError::BadConfig(_))
    ));
    assert!(matches!(
        mint_hs256(SECRET, "", AUD, &token, now),
        Err(AuthError::BadConfig(_))
    ));
    token.ttl = Duration::zero();
    assert_eq!(
        mint_hs256(SECRET, ISS, AUD, &token, now),
        Err(AuthError::InvalidClaim("exp"))
    );
    token.ttl = Duration::MAX;
    assert_eq!(
        mint_hs256(SECRET, ISS, AUD, &token, now),
        Err(AuthError::InvalidClaim("exp"))
    );
    token.ttl = Duration::hours(1);
    token.roles.clear();
    assert_eq!(
        mint_hs256(SECRET, ISS, AUD, &token, now),
        Err(AuthError::InvalidClaim("roles"))
    );
    let mut token = dev(Role::Citizen);
    token.claimant = Some(ClaimantId::from_uuid(Uuid::nil()));
    assert_eq!(
        mint_hs256(SECRET, ISS, AUD, &token, now),
        Err(AuthError::InvalidClaim("claimant"))
    );
}

#[test]
fn debug_output_hides_keys() {
    let config = hs_config(60);
    let shown = format!(
        "{config:?} {:?}",
        Authenticator::new(config.clone()).unwrap()
    );
    assert!(!shown.contains("omnicase-test-secret"), "{shown}");
    let shown = format!("{:?}", KeySource::Jwks { json: jwks_json() });
    assert!(!shown.contains(RSA_N));
}

#[test]
fn authenticator_is_shareable() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<Authenticator>();
    assert_send_sync::<AuthError>();
    assert_send_sync::<Principal>();
}

// -- the header and garbage ------------------------------------------------

#[test]
fn missing_or_non_bearer_header_is_unauthenticated() {
    let auth = hs();
    assert_unauthenticated(auth.authenticate_header(None), AuthError::MissingToken);
    assert_unauthenticated(auth.authenticate_header(Some("")), AuthError::MissingToken);
    assert_unauthenticated(
        auth.authenticate_header(Some("   ")),
        AuthError::MissingToken,
    );
    assert_unauthenticated(auth.authenticate(""), AuthError::MissingToken);
    let token = mint(&dev(Role::Agent), Utc::now());
    for header in [
        "Basic dXNlcjpwYXNzd29yZA==".to_owned(),
        "Bearer".to_owned(),
        "Bearer    ".to_owned(),
        format!("Token {token}"),
        format!("Bearer{token}"),
        format!("Bearer {token} extra"),
        token.clone(),
    ] {
        assert_unauthenticated(
            auth.authenticate_header(Some(&header)),
            AuthError::MalformedHeader,
        );
    }
    // The scheme is case-insensitive; surrounding whitespace is fine.
    for header in [
        format!("bearer {token}"),
        format!("BEARER {token}"),
        format!("  Bearer   {token}  "),
        format!("Bearer\t{token}"),
    ] {
        assert!(auth.authenticate_header(Some(&header)).is_ok(), "{header}");
    }
    assert_eq!(bearer_token("Bearer abc"), Ok("abc"));
}

#[test]
fn garbage_never_panics() {
    let authenticators = [hs(), rs_pem(), jwks()];
    let valid = mint(&dev(Role::Citizen), Utc::now());
    let mut inputs: Vec<String> = [
        "",
        ".",
        "..",
        "...",
        "a",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "....",
        "Bearer",
        "eyJ",
        "eyJ.eyJ.",
        "e30.e30.",
        "e30.e30.e30",
        "W10.W10.",
        "bnVsbA.bnVsbA.",
        "eyJhbGciOiJIUzI1NiJ9..",
        "eyJhbGciOiJIUzI1NiJ9.e30.",
        "eyJhbGciOiJIUzI1NiJ9.AAAA.AAAA",
        "eyJhbGciOiJSUzI1NiJ9.e30.",
        "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3Qta2V5LTEifQ.e30.",
        "====.====.====",
        "\0.\0.\0",
        "é.ü.ß",
        "🦀.🦀.🦀",
        "a\u{0}b",
        " . . ",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    inputs.push("a".repeat(MAX_TOKEN_LEN + 1));
    inputs.push(".".repeat(10_000));
    inputs.push(format!("{valid}."));
    inputs.push(format!(".{valid}"));
    inputs.push(valid.replace('.', ".."));
    inputs.push(valid[..valid.len() / 2].to_owned());
    // Every single-character corruption of a valid token.
    for i in 0..valid.len() {
        for c in ['A', '.', '_', '=', '~'] {
            let mut s = valid.clone();
            s.replace_range(i..=i, &c.to_string());
            inputs.push(s);
        }
    }
    // Pseudo-random strings over the token alphabet.
    let alphabet: Vec<char> =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ é"
            .chars()
            .collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..500 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let len = (state >> 33) as usize % 120;
        let s: String = (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                alphabet[(state >> 33) as usize % alphabet.len()]
            })
            .collect();
        inputs.push(s);
    }
    for input in &inputs {
        for auth in &authenticators {
            if let Err(err) = auth.authenticate(input) {
                assert_eq!(err.code().as_str(), "UNAUTHENTICATED");
            }
            let _ = auth.authenticate_header(Some(input));
            let _ = auth.authenticate_header(Some(&format!("Bearer {input}")));
        }
    }
    // Garbage in valid base64url JSON parts.
    for header in [json!({"alg": "HS256"}), json!({"alg": "RS256", "kid": KID})] {
        for payload in [json!(null), json!([]), json!("x"), json!(1), json!({})] {
            for auth in &authenticators {
                assert!(auth
                    .authenticate(&hand_built(&header, &payload, "AAAA"))
                    .is_err());
            }
        }
    }
}

#[test]
fn base64url_decoding() {
    assert_eq!(b64url_decode(""), Some(vec![]));
    assert_eq!(b64url_decode("Zg"), Some(b"f".to_vec()));
    assert_eq!(b64url_decode("Zm8"), Some(b"fo".to_vec()));
    assert_eq!(b64url_decode("Zm9v"), Some(b"foo".to_vec()));
    assert_eq!(b64url_decode("Zm9vYg"), Some(b"foob".to_vec()));
    assert_eq!(b64url_decode("-_8"), Some(vec![0xfb, 0xff]));
    assert_eq!(b64url_decode("Zm9v="), None);
    assert_eq!(b64url_decode("Z"), None);
    assert_eq!(b64url_decode("Zh"), None); // stray bits
    assert_eq!(b64url_decode("+/8"), None);
    for len in 0..40 {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
        assert_eq!(b64url_decode(&b64url(&bytes)), Some(bytes));
    }
}
