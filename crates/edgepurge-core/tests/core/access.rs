//! Cloudflare Access JWTs: verified by key, audience, issuer and time, and the JWKS keys checked
//! before any signature is.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod jwt {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use edgepurge_core::access::RsaKey;
    use rsa::pkcs1v15::SigningKey;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};
    use rsa::traits::PublicKeyParts;
    use rsa::RsaPrivateKey;
    use sha2::Sha256;

    pub fn key(which: char) -> RsaPrivateKey {
        let pem = match which {
            'a' => include_str!("../fixtures/access-key-a.pem"),
            _ => include_str!("../fixtures/access-key-b.pem"),
        };
        RsaPrivateKey::from_pkcs8_pem(pem).unwrap()
    }

    pub fn jwks(keys: &[(&str, &RsaPrivateKey)]) -> String {
        let entries: Vec<serde_json::Value> = keys
            .iter()
            .map(|(kid, k)| {
                serde_json::json!({
                    "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
                    "n": URL_SAFE_NO_PAD.encode(k.n().to_bytes_be()),
                    "e": URL_SAFE_NO_PAD.encode(k.e().to_bytes_be()),
                })
            })
            .collect();
        serde_json::json!({ "keys": entries }).to_string()
    }

    /// RS256 as the platform checks it (the worker's WebCrypto), here with the `rsa` crate.
    pub fn rs256(key: &RsaKey, message: &[u8], signature: &[u8]) -> bool {
        use rsa::pkcs1v15::{Signature, VerifyingKey};
        use rsa::signature::Verifier;
        let int = |s: &str| rsa::BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(s).unwrap());
        let Ok(public) = rsa::RsaPublicKey::new(int(&key.n), int(&key.e)) else { return false };
        let Ok(signature) = Signature::try_from(signature) else { return false };
        VerifyingKey::<Sha256>::new(public).verify(message, &signature).is_ok()
    }

    pub fn sign(key: &RsaPrivateKey, header: serde_json::Value, claims: serde_json::Value) -> String {
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let c = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{h}.{c}");
        let sig = SigningKey::<Sha256>::new(key.clone()).sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }
}

#[test]
fn access_jwts_are_verified_by_key_audience_issuer_and_time() {
    use edgepurge_core::access::{issuer_for, key_id, signed, Jwks, JwtError};
    let verify = |jwt: &str, jwks: &Jwks, aud: &str, iss: &str, now: i64| {
        edgepurge_core::access::verify(jwt, jwks, aud, iss, now, jwt::rs256)
    };
    use serde_json::json;
    let a = jwt::key('a');
    let b = jwt::key('b');
    let jwks = Jwks::parse(jwt::jwks(&[("key-a", &a)]).as_bytes()).unwrap();
    let iss = issuer_for("team.cloudflareaccess.com");
    assert_eq!(iss, "https://team.cloudflareaccess.com");
    let now = 1_800_000_000;
    let header = json!({"alg": "RS256", "kid": "key-a", "typ": "JWT"});
    let claims = |aud: serde_json::Value, iss: &str, exp: i64| json!({"aud": aud, "iss": iss, "exp": exp, "iat": now - 10, "nbf": now - 10, "email": "Editor@Example.com", "sub": "x"});
    let good = jwt::sign(&a, header.clone(), claims(json!(["aud-tag"]), &iss, now + 600));
    assert_eq!(key_id(&good).unwrap(), "key-a");
    let id = verify(&good, &jwks, "aud-tag", &iss, now).unwrap();
    assert_eq!((id.email.as_str(), id.exp), ("editor@example.com", now + 600));
    // A string audience is accepted too.
    let single = jwt::sign(&a, header.clone(), claims(json!("aud-tag"), &iss, now + 600));
    assert!(verify(&single, &jwks, "aud-tag", &iss, now).is_ok());

    let forged = jwt::sign(&b, header.clone(), claims(json!(["aud-tag"]), &iss, now + 600));
    let cases = vec![
        (forged, JwtError::BadSignature),
        (
            jwt::sign(&b, json!({"alg": "RS256", "kid": "key-b"}), claims(json!(["aud-tag"]), &iss, now + 600)),
            JwtError::UnknownKey("key-b".into()),
        ),
        (jwt::sign(&a, header.clone(), claims(json!(["other"]), &iss, now + 600)), JwtError::Audience),
        (
            jwt::sign(&a, header.clone(), claims(json!(["aud-tag"]), "https://evil.cloudflareaccess.com", now + 600)),
            JwtError::Issuer,
        ),
        (jwt::sign(&a, header.clone(), claims(json!(["aud-tag"]), &iss, now - 3600)), JwtError::Expired),
        (
            jwt::sign(&a, json!({"alg": "HS256", "kid": "key-a"}), claims(json!(["aud-tag"]), &iss, now + 600)),
            JwtError::Algorithm("HS256".into()),
        ),
        (jwt::sign(&a, header.clone(), json!({"aud": ["aud-tag"], "iss": iss, "exp": now + 600})), JwtError::NoEmail),
    ];
    for (token, want) in cases {
        assert_eq!(verify(&token, &jwks, "aud-tag", &iss, now), Err(want));
    }
    // Tampering with the claims after signing breaks the signature.
    let mut parts: Vec<&str> = good.split('.').collect();
    let evil = b64url(&claims(json!(["aud-tag"]), &iss, now + 99_999).to_string());
    parts[1] = &evil;
    assert_eq!(verify(&parts.join("."), &jwks, "aud-tag", &iss, now), Err(JwtError::BadSignature));
    assert!(matches!(verify("a.b", &jwks, "aud-tag", &iss, now), Err(JwtError::Malformed(_))));
    assert!(matches!(Jwks::parse(b"{\"keys\": 5}"), Err(JwtError::Malformed(_))));
    // What the platform is asked to check: the key the header names, the signed bytes as sent.
    let s = signed(&good, &jwks).unwrap();
    assert_eq!((s.key.kid.as_str(), s.message), ("key-a", good.rsplit_once('.').unwrap().0.as_bytes()));
    assert_eq!(s.signature.len(), 256);
    // An unverified token's claims are never read: an expired one is refused for its signature.
    let expired = jwt::sign(&b, header.clone(), claims(json!(["aud-tag"]), &iss, now - 3600));
    assert_eq!(signed(&expired, &jwks).unwrap().claims(false, "aud-tag", &iss, now), Err(JwtError::BadSignature));
    // A signature of another length than the key's is refused before the platform is asked.
    let (signed_part, _) = good.rsplit_once('.').unwrap();
    let short = format!("{signed_part}.{}", b64url("short"));
    assert_eq!(signed(&short, &jwks).unwrap_err(), JwtError::BadSignature);
}

#[test]
fn jwks_keys_are_checked_before_any_signature_is() {
    use edgepurge_core::access::Jwks;
    use serde_json::json;
    let n2048 = b64url_bytes(&[&[0xc5u8][..], &[7u8; 255][..]].concat());
    let key = |n: &str, e: &str| json!({"keys": [{"kty": "RSA", "kid": "k", "n": n, "e": e}]}).to_string();
    let ok = Jwks::parse(key(&n2048, "AQAB").as_bytes()).unwrap();
    assert!(ok.has("k"));
    // Leading zero octets are not part of the number.
    let padded = b64url_bytes(&[&[0u8, 0][..], &[0xc5u8][..], &[7u8; 255][..]].concat());
    assert!(Jwks::parse(key(&padded, "AAEAAQ").as_bytes()).unwrap().has("k"));
    let n1024 = b64url_bytes(&[0xc5u8; 128]);
    for (n, e) in [
        (n1024.as_str(), "AQAB"),
        ("", "AQAB"),
        (n2048.as_str(), "Ag"),
        (n2048.as_str(), "AQ"),
        (n2048.as_str(), "AQAAAAAB"),
    ] {
        assert!(Jwks::parse(key(n, e).as_bytes()).is_err(), "n of {} chars, e {e}", n.len());
    }
    // Keys of other types are skipped, not refused.
    let ec = json!({"keys": [{"kty": "EC", "kid": "e", "crv": "P-256"}]}).to_string();
    assert!(!Jwks::parse(ec.as_bytes()).unwrap().has("e"));
}

fn b64url_bytes(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn b64url(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}
