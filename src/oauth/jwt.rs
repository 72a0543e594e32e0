//! Signed JWT assertions (RFC 7519, RS256 = RSASSA-PKCS1-v1_5 with SHA-256,
//! RFC 7518 3.3) for the two unattended OAuth 2.0 grants: the client
//! assertion of a Microsoft certificate credential (RFC 7523 2.2) and the
//! Google service-account assertion with domain-wide delegation (RFC 7523
//! 2.1). Signing uses `ring`, the provider rustls already uses here.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};
use std::fmt;

/// An RSA private key able to sign RS256; never printed.
pub struct SigningKey {
    pair: RsaKeyPair,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

impl SigningKey {
    /// Reads the first private key of a PEM text: PKCS#8 (`BEGIN PRIVATE
    /// KEY`, what Google's JSON key and `openssl genpkey` hold) or PKCS#1
    /// (`BEGIN RSA PRIVATE KEY`). The error never contains key material.
    pub fn from_pem(pem: &str) -> Result<SigningKey, String> {
        use rustls_pemfile::Item;
        for item in rustls_pemfile::read_all(&mut pem.as_bytes()) {
            let pair = match item.map_err(|_| "PEM を読めません".to_string())? {
                Item::Pkcs8Key(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
                Item::Pkcs1Key(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
                _ => continue,
            };
            return pair
                .map(|pair| SigningKey { pair })
                .map_err(|e| format!("RSA 秘密鍵として使えません（{e}）"));
        }
        Err("PEM に RSA 秘密鍵（PRIVATE KEY / RSA PRIVATE KEY）がありません".into())
    }

    /// The RS256 signature of `input`.
    pub fn sign(&self, input: &[u8]) -> Result<Vec<u8>, String> {
        let mut sig = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input, &mut sig)
            .map_err(|_| "署名できません".to_string())?;
        Ok(sig)
    }
}

/// `base64url(header) . base64url(claims) . base64url(RS256 signature)`.
pub fn sign_rs256(key: &SigningKey, header: &Value, claims: &Value) -> Result<String, String> {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign(input.as_bytes())?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// The claims of a Google service-account assertion (Google's "Using OAuth
/// 2.0 for Server to Server Applications"): issued by the service account,
/// for the token endpoint, acting as `subject` (the mailbox) with `scope`,
/// valid one hour.
pub fn google_claims(
    client_email: &str,
    subject: &str,
    scope: &str,
    token_url: &str,
    now: i64,
) -> Value {
    json!({
        "iss": client_email,
        "sub": subject,
        "scope": scope,
        "aud": token_url,
        "iat": now,
        "exp": now + 3600,
    })
}

/// The header of a Google assertion: `kid` is the key's id from the JSON
/// key file, when present.
pub fn google_header(key_id: Option<&str>) -> Value {
    match key_id {
        Some(kid) => json!({"alg": "RS256", "typ": "JWT", "kid": kid}),
        None => json!({"alg": "RS256", "typ": "JWT"}),
    }
}

/// The claims of a Microsoft client assertion (Microsoft identity
/// platform "certificate credentials"): issuer and subject the client id,
/// audience the token endpoint, a unique `jti`, ten minutes.
pub fn microsoft_claims(client_id: &str, token_url: &str, jti: &str, now: i64) -> Value {
    json!({
        "aud": token_url,
        "iss": client_id,
        "sub": client_id,
        "jti": jti,
        "nbf": now,
        "iat": now,
        "exp": now + 600,
    })
}

/// The header of a Microsoft client assertion: `x5t` (base64url SHA-1 of
/// the certificate) and `x5t#S256` (SHA-256) name the uploaded
/// certificate; Entra ID accepts either.
pub fn microsoft_header(cert_der: &[u8]) -> Value {
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cert_der);
    let sha256 = ring::digest::digest(&ring::digest::SHA256, cert_der);
    json!({
        "alg": "RS256",
        "typ": "JWT",
        "x5t": URL_SAFE_NO_PAD.encode(sha1.as_ref()),
        "x5t#S256": URL_SAFE_NO_PAD.encode(sha256.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RSA key of RFC 7515 appendix A.2 (converted from its JWK to PEM).
    const RFC7515_KEY: &str = include_str!("../../tests/fixtures/oauth/rfc7515-a2.pem");

    /// RFC 7515 A.2: RS256 is deterministic, so signing the published
    /// signing input with the published key gives the published signature.
    #[test]
    fn rs256_signature_matches_rfc_7515_a2() {
        let key = SigningKey::from_pem(RFC7515_KEY).unwrap();
        let input = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
        let sig = key.sign(input.as_bytes()).unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.encode(sig),
            "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
        );
    }

    #[test]
    fn assertion_is_three_base64url_parts_with_the_claims() {
        let key = SigningKey::from_pem(RFC7515_KEY).unwrap();
        let claims = google_claims(
            "sa@p.iam.gserviceaccount.com",
            "sos-busshi@mhlw.go.jp",
            "https://mail.google.com/",
            "https://oauth2.googleapis.com/token",
            1_700_000_000,
        );
        let jwt = sign_rs256(&key, &google_header(Some("k1")), &claims).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "RS256", "typ": "JWT", "kid": "k1"}));
        let body: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(body["sub"], "sos-busshi@mhlw.go.jp");
        assert_eq!(body["exp"], 1_700_003_600);
        // The signature verifies with the key's public half.
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            ring::signature::KeyPair::public_key(&key.pair)
                .as_ref()
                .to_vec(),
        );
        let signed = format!("{}.{}", parts[0], parts[1]);
        public
            .verify(
                signed.as_bytes(),
                &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
            )
            .unwrap();
    }

    #[test]
    fn microsoft_header_names_the_certificate_by_its_thumbprints() {
        // SHA-1 of the empty input, base64url: 2jmj7l5rSw0yVb_vlWAYkK_YBwk.
        let h = microsoft_header(b"");
        assert_eq!(h["x5t"], "2jmj7l5rSw0yVb_vlWAYkK_YBwk");
        assert_eq!(h["x5t#S256"], "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
        let c = microsoft_claims("cid", "https://t/token", "j", 10);
        assert_eq!(
            (c["iss"].clone(), c["sub"].clone()),
            (json!("cid"), json!("cid"))
        );
        assert_eq!(c["exp"], 610);
    }

    #[test]
    fn bad_pem_is_refused_without_panicking() {
        assert!(SigningKey::from_pem("").is_err());
        assert!(
            SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .is_err()
        );
    }
}
