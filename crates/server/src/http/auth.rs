//! Access control: bearer tokens or basic auth, one rule per class of endpoints, and the
//! admin API switch.
//!
//! Classes, by path: `/-/healthy` and `/-/ready` are always open (probes carry no
//! credentials); `/api/v1/write` is *write*; `/api/v1/admin/*` is *admin*; everything else
//! (the query, metadata and status API, `/metrics`) is *read*. Secrets are kept only as
//! SHA-256 digests and compared in constant time, so neither a token's length nor its
//! prefix leaks through timing.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::config::{AuthRule, WebConfig};

/// Which rule protects a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Health and readiness probes.
    Open,
    /// Queries, metadata, status, `/metrics`.
    Read,
    /// Remote write.
    Write,
    /// The admin API.
    Admin,
}

/// The class of a request path.
pub fn classify(path: &str) -> Class {
    match path {
        "/-/healthy" | "/-/ready" => Class::Open,
        "/api/v1/write" => Class::Write,
        p if p == "/api/v1/admin" || p.starts_with("/api/v1/admin/") => Class::Admin,
        _ => Class::Read,
    }
}

type Digest32 = [u8; 32];

fn sha256(bytes: &[u8]) -> Digest32 {
    Sha256::digest(bytes).into()
}

/// Equality whose time does not depend on where the inputs differ.
fn ct_eq(a: &Digest32, b: &Digest32) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn hex32(s: &str) -> Option<Digest32> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// One class's credentials, as digests.
#[derive(Debug, Default)]
struct Rule {
    tokens: Vec<Digest32>,
    /// (digest of the user name, digest of the password).
    users: Vec<(Digest32, Digest32)>,
}

impl Rule {
    fn new(rule: &AuthRule) -> Rule {
        Rule {
            tokens: rule
                .bearer_tokens
                .iter()
                .map(|t| sha256(t.as_bytes()))
                .collect(),
            users: rule
                .basic_users
                .iter()
                .filter_map(|u| Some((sha256(u.username.as_bytes()), hex32(&u.password_sha256)?)))
                .collect(),
        }
    }

    fn is_open(&self) -> bool {
        self.tokens.is_empty() && self.users.is_empty()
    }

    fn allows(&self, headers: &HeaderMap) -> bool {
        if self.is_open() {
            return true;
        }
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
        let credentials = credentials.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            let presented = sha256(credentials.as_bytes());
            // Look at every token: no early exit on a match.
            self.tokens
                .iter()
                .fold(false, |ok, t| ok | ct_eq(&presented, t))
        } else if scheme.eq_ignore_ascii_case("basic") {
            let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(credentials) else {
                return false;
            };
            let Some(colon) = decoded.iter().position(|&b| b == b':') else {
                return false;
            };
            let name = sha256(&decoded[..colon]);
            let password = sha256(&decoded[colon + 1..]);
            self.users.iter().fold(false, |ok, (n, p)| {
                ok | (ct_eq(&name, n) & ct_eq(&password, p))
            })
        } else {
            false
        }
    }

    fn challenge(&self) -> Vec<HeaderValue> {
        let mut v = Vec::new();
        if !self.tokens.is_empty() {
            v.push(HeaderValue::from_static("Bearer realm=\"tsdbd\""));
        }
        if !self.users.is_empty() {
            v.push(HeaderValue::from_static(
                "Basic realm=\"tsdbd\", charset=\"UTF-8\"",
            ));
        }
        v
    }
}

/// The checks run before every routed request.
#[derive(Debug)]
pub struct Guard {
    read: Rule,
    write: Rule,
    admin: Rule,
    enable_admin_api: bool,
}

impl Guard {
    /// Digests the configured credentials.
    pub fn new(web: &WebConfig) -> Guard {
        Guard {
            read: Rule::new(&web.auth.read),
            write: Rule::new(&web.auth.write),
            admin: Rule::new(&web.auth.admin),
            enable_admin_api: web.enable_admin_api,
        }
    }

    /// `None` to let the request through, or the response that refuses it.
    pub fn check(&self, path: &str, headers: &HeaderMap) -> Option<Response> {
        let rule = match classify(path) {
            Class::Open => return None,
            Class::Read => &self.read,
            Class::Write => &self.write,
            Class::Admin => &self.admin,
        };
        if !rule.allows(headers) {
            let mut resp = (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
            for c in rule.challenge() {
                resp.headers_mut().append(header::WWW_AUTHENTICATE, c);
            }
            return Some(resp);
        }
        if classify(path) == Class::Admin && !self.enable_admin_api {
            // Prometheus's answer when --web.enable-admin-api is off.
            let body =
                r#"{"status":"error","errorType":"unavailable","error":"admin APIs disabled"}"#;
            let resp = Response::builder()
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .expect("static response");
            return Some(resp);
        }
        None
    }
}

/// Middleware: refuses requests the [`Guard`] refuses.
pub async fn layer(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    match guard.check(req.uri().path(), req.headers()) {
        Some(refusal) => refusal,
        None => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BasicUser, Config};

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    fn basic(user: &str, pw: &str) -> HeaderMap {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
        headers(&format!("Basic {b}"))
    }

    #[test]
    fn paths_fall_into_classes() {
        assert_eq!(classify("/-/healthy"), Class::Open);
        assert_eq!(classify("/-/ready"), Class::Open);
        assert_eq!(classify("/api/v1/write"), Class::Write);
        assert_eq!(classify("/api/v1/admin/tsdb/delete_series"), Class::Admin);
        assert_eq!(classify("/api/v1/query"), Class::Read);
        assert_eq!(classify("/metrics"), Class::Read);
        assert_eq!(classify("/api/v1/administrator"), Class::Read);
    }

    #[test]
    fn tokens_and_users_are_checked_per_class() {
        let mut web = Config::default().web;
        web.auth.read.bearer_tokens = vec!["r-token".into()];
        web.auth.write.basic_users = vec![BasicUser {
            username: "prom".into(),
            password_sha256: format!("{:x}", Sha256::digest(b"s3cret")),
        }];
        web.enable_admin_api = true;
        let g = Guard::new(&web);
        let q = "/api/v1/query";
        assert!(g.check(q, &HeaderMap::new()).is_some());
        assert!(g.check(q, &headers("Bearer r-token")).is_none());
        assert!(g.check(q, &headers("bearer r-token")).is_none());
        assert!(g.check(q, &headers("Bearer r-toke")).is_some());
        assert!(
            g.check(q, &basic("prom", "s3cret")).is_some(),
            "write creds"
        );
        let w = "/api/v1/write";
        assert!(g.check(w, &basic("prom", "s3cret")).is_none());
        assert!(g.check(w, &basic("prom", "s3cre")).is_some());
        assert!(g.check(w, &basic("pro", "s3cret")).is_some());
        assert!(g.check(w, &headers("Bearer r-token")).is_some());
        assert!(g.check(w, &headers("Basic !!!")).is_some());
        assert!(g.check("/-/ready", &HeaderMap::new()).is_none());
        let admin = "/api/v1/admin/tsdb/clean_tombstones";
        assert!(
            g.check(admin, &HeaderMap::new()).is_none(),
            "admin rule empty"
        );

        let refusal = g.check(w, &HeaderMap::new()).unwrap();
        assert_eq!(refusal.status(), StatusCode::UNAUTHORIZED);
        let challenge = refusal.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap();
        assert!(challenge.starts_with("Basic realm="), "{challenge}");
    }

    #[test]
    fn admin_api_is_off_by_default() {
        let g = Guard::new(&Config::default().web);
        let r = g
            .check("/api/v1/admin/tsdb/delete_series", &HeaderMap::new())
            .unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(g.check("/api/v1/query", &HeaderMap::new()).is_none());
    }
}
