//! A small OAuth 2.0 authorization server on loopback for the OAuth tests:
//! a token endpoint (client credentials with a secret, JWT-bearer
//! assertions signed with a test RSA key, Entra-ID-style error answers) and
//! an RFC 7662 introspection endpoint that the lab's Dovecot `oauth2`
//! passdb asks about every token. Tokens are opaque random strings with
//! an expiry the test chooses; a client can be revoked.
//!
//! ```ignore
//! let idp = TokenServer::start("test").await;      // tokens for mailbox "test"
//! idp.set_lifetime(Duration::from_secs(4));
//! idp.revoke(CLIENT_ID);
//! let lab = MailLab::start_dovecot_oauth(&idp.introspection_url());
//! ```

use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The client id the tests register.
pub const CLIENT_ID: &str = "sos-intake-test-app";
/// Its secret.
pub const CLIENT_SECRET: &str = "s3cret~value";

struct Issued {
    username: String,
    client: String,
    expires: Instant,
}

struct Inner {
    mailbox: String,
    lifetime: Duration,
    revoked: HashSet<String>,
    /// Signing keys (PKCS#1 DER public keys) accepted for assertions.
    jwt_keys: Vec<Vec<u8>>,
    tokens: HashMap<String, Issued>,
    token_requests: usize,
    introspections: usize,
    /// Audience assertions must name (the token URL).
    audience: String,
}

/// The running server.
#[derive(Clone)]
pub struct TokenServer {
    /// Its address.
    pub addr: std::net::SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl TokenServer {
    /// Starts on a free loopback port; tokens grant access to `mailbox`.
    pub async fn start(mailbox: &str) -> TokenServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind token server");
        let addr = listener.local_addr().expect("addr");
        let inner = Arc::new(Mutex::new(Inner {
            mailbox: mailbox.to_string(),
            lifetime: Duration::from_secs(3600),
            revoked: HashSet::new(),
            jwt_keys: Vec::new(),
            tokens: HashMap::new(),
            token_requests: 0,
            introspections: 0,
            audience: format!("http://{addr}/token"),
        }));
        let app = Router::new()
            .route("/token", post(token))
            .route("/introspect", post(introspect))
            .with_state(inner.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("token server");
        });
        TokenServer { addr, inner }
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// The introspection endpoint (for Dovecot).
    pub fn introspection_url(&self) -> String {
        format!("http://{}/introspect", self.addr)
    }

    /// Lifetime (`expires_in`) of tokens issued from now on.
    pub fn set_lifetime(&self, lifetime: Duration) {
        self.inner.lock().unwrap().lifetime = lifetime;
    }

    /// Revokes `client`: no new tokens, and its tokens become inactive.
    pub fn revoke(&self, client: &str) {
        self.inner
            .lock()
            .unwrap()
            .revoked
            .insert(client.to_string());
    }

    /// Restores a revoked `client` (the administrator issued it again).
    pub fn restore(&self, client: &str) {
        self.inner.lock().unwrap().revoked.remove(client);
    }

    /// Accepts JWT assertions signed by this RSA public key (PKCS#1 DER).
    pub fn trust_jwt_key(&self, pkcs1_der: Vec<u8>) {
        self.inner.lock().unwrap().jwt_keys.push(pkcs1_der);
    }

    /// Token requests answered so far (granted or not).
    pub fn token_requests(&self) -> usize {
        self.inner.lock().unwrap().token_requests
    }

    /// Introspection requests answered so far (one per login).
    pub fn introspections(&self) -> usize {
        self.inner.lock().unwrap().introspections
    }

    /// Makes every issued token expired now (as time passing would).
    pub fn expire_all(&self) {
        let now = Instant::now();
        for t in self.inner.lock().unwrap().tokens.values_mut() {
            t.expires = now;
        }
    }
}

fn refuse(status: StatusCode, error: &str, description: &str) -> (StatusCode, Json<Value>) {
    (
        status,
        Json(json!({
            "error": error,
            "error_description": description,
            "error_codes": [],
            "timestamp": "2026-12-02 00:00:00Z",
        })),
    )
}

async fn token(
    State(inner): State<Arc<Mutex<Inner>>>,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    let mut s = inner.lock().unwrap();
    s.token_requests += 1;
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    let (client, username) = match field("grant_type").as_str() {
        "client_credentials" => {
            let client = field("client_id");
            if client != CLIENT_ID {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "unauthorized_client",
                    "AADSTS700016: Application with identifier was not found in the directory.",
                );
            }
            let proven = if form.contains_key("client_assertion") {
                field("client_assertion_type")
                    == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                    && verify_jwt(&s, &field("client_assertion"))
                        .is_some_and(|c| c["sub"] == CLIENT_ID && c["iss"] == CLIENT_ID)
            } else {
                field("client_secret") == CLIENT_SECRET
            };
            if !proven || s.revoked.contains(&client) {
                return refuse(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
                );
            }
            if field("scope").is_empty() {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    "scope is required",
                );
            }
            (client, s.mailbox.clone())
        }
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
            let Some(claims) = verify_jwt(&s, &field("assertion")) else {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid JWT Signature.",
                );
            };
            if claims["scope"] != "https://mail.google.com/" {
                return refuse(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized_client",
                    "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
                );
            }
            let client = claims["iss"].as_str().unwrap_or_default().to_string();
            if s.revoked.contains(&client) {
                return refuse(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "The client is disabled.",
                );
            }
            (
                client,
                claims["sub"].as_str().unwrap_or_default().to_string(),
            )
        }
        _ => return refuse(StatusCode::BAD_REQUEST, "unsupported_grant_type", ""),
    };
    let access = hex::encode(rand::random::<[u8; 24]>());
    let lifetime = s.lifetime;
    s.tokens.insert(
        access.clone(),
        Issued {
            username,
            client,
            expires: Instant::now() + lifetime,
        },
    );
    (
        StatusCode::OK,
        Json(json!({
            "token_type": "Bearer",
            "expires_in": lifetime.as_secs(),
            "ext_expires_in": lifetime.as_secs(),
            "access_token": access,
        })),
    )
}

/// The claims of an RS256 JWT signed by a trusted key, for this server,
/// not expired; None otherwise.
fn verify_jwt(s: &Inner, jwt: &str) -> Option<Value> {
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return None;
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).ok()?).ok()?;
    if header["alg"] != "RS256" {
        return None;
    }
    let sig = URL_SAFE_NO_PAD.decode(parts[2]).ok()?;
    let signed = format!("{}.{}", parts[0], parts[1]);
    let ok = s.jwt_keys.iter().any(|k| {
        ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, k)
            .verify(signed.as_bytes(), &sig)
            .is_ok()
    });
    if !ok {
        return None;
    }
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).ok()?).ok()?;
    let now = chrono::Utc::now().timestamp();
    let exp = claims["exp"].as_i64()?;
    (claims["aud"] == s.audience.as_str() && exp > now && exp - now <= 3600).then_some(claims)
}

async fn introspect(
    State(inner): State<Arc<Mutex<Inner>>>,
    Form(form): Form<HashMap<String, String>>,
) -> Json<Value> {
    let mut s = inner.lock().unwrap();
    s.introspections += 1;
    let token = form.get("token").cloned().unwrap_or_default();
    let answer = match s.tokens.get(&token) {
        Some(t) if t.expires > Instant::now() && !s.revoked.contains(&t.client) => {
            json!({"active": true, "username": t.username, "client_id": t.client})
        }
        _ => json!({"active": false}),
    };
    Json(answer)
}

/// A fresh 2048-bit RSA key made with openssl: (PKCS#8 PEM, PKCS#1 DER
/// public key).
pub fn rsa_key(dir: &std::path::Path, name: &str) -> (String, Vec<u8>) {
    let key = dir.join(format!("{name}.key"));
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl (needed for the OAuth tests)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let key_s = key.display().to_string();
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        &key_s,
    ]);
    let der = run(&["rsa", "-in", &key_s, "-RSAPublicKey_out", "-outform", "DER"]);
    (std::fs::read_to_string(&key).expect("key"), der)
}
