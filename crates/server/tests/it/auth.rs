//! Access control per endpoint class, through the binary and a config file.

use base64::Engine as _;
use sha2::Digest as _;

use crate::harness::{Tsdbd, get, header, post};

fn basic(user: &str, pw: &str) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
    format!("Basic {b}")
}

#[test]
fn each_class_has_its_own_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tsdbd.toml");
    let hash = format!("{:x}", sha2::Sha256::digest(b"prom-pw"));
    std::fs::write(
        &cfg,
        format!(
            r#"
[web.auth.read]
bearer_tokens = ["grafana-token"]
[web.auth.write]
basic_users = [{{ username = "prometheus", password_sha256 = "{hash}" }}]
[web.auth.admin]
bearer_tokens = ["admin-token"]
"#
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let mut s = Tsdbd::launch(&data, &["--config.file", cfg.to_str().unwrap()]);
    s.wait_ready(); // probes need no credentials

    // read: /metrics (and the query API).
    let m = s.url("/metrics");
    let r = get(&m, &[]).unwrap();
    assert_eq!(r.0, 401);
    assert_eq!(
        header(&r, "www-authenticate"),
        Some("Bearer realm=\"tsdbd\"")
    );
    assert_eq!(
        get(&m, &[("authorization", "Bearer wrong")]).unwrap().0,
        401
    );
    assert_eq!(
        get(&m, &[("authorization", "Bearer admin-token")])
            .unwrap()
            .0,
        401
    );
    assert_eq!(
        get(&m, &[("authorization", "Bearer grafana-token")])
            .unwrap()
            .0,
        200
    );
    let q = s.url("/api/v1/query?query=1");
    assert_eq!(get(&q, &[]).unwrap().0, 401);

    // write: basic auth only.
    let w = s.url("/api/v1/write");
    let r = post(&w, &[], b"").unwrap();
    assert_eq!(r.0, 401);
    assert!(
        header(&r, "www-authenticate")
            .unwrap()
            .starts_with("Basic realm=")
    );
    let wrong = basic("prometheus", "nope");
    assert_eq!(post(&w, &[("authorization", &wrong)], b"").unwrap().0, 401);
    let grafana = [("authorization", "Bearer grafana-token")];
    assert_eq!(post(&w, &grafana, b"").unwrap().0, 401);
    let right = basic("prometheus", "prom-pw");
    let code = post(&w, &[("authorization", &right)], b"").unwrap().0;
    assert_ne!(
        code, 401,
        "past auth, the write handler answers (or 404 before it exists)"
    );

    // admin: its own token, then the admin switch (off by default → 503 like Prometheus).
    let a = s.url("/api/v1/admin/tsdb/clean_tombstones");
    assert_eq!(post(&a, &[], b"").unwrap().0, 401);
    assert_eq!(post(&a, &grafana, b"").unwrap().0, 401);
    let r = post(&a, &[("authorization", "Bearer admin-token")], b"").unwrap();
    assert_eq!(r.0, 503);
    let v: serde_json::Value = serde_json::from_slice(&r.2).unwrap();
    assert_eq!(v["errorType"], "unavailable");
    assert_eq!(v["error"], "admin APIs disabled");

    assert_eq!(s.signal(libc::SIGTERM).code(), Some(0));
}
