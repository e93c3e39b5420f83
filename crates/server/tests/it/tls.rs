//! HTTPS with a self-signed certificate made by the test.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};

use crate::harness::{Tsdbd, get};

/// GET over TLS trusting only `cert`; returns the status code and the body.
fn tls_get(
    port: u16,
    cert: &CertificateDer<'static>,
    path: &str,
) -> std::io::Result<(u16, String)> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    match tls.read_to_end(&mut raw) {
        Ok(_) => {}
        // A peer that closes without close_notify; what was read is complete.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
        Err(e) => return Err(e),
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((code, body))
}

#[test]
fn https_round_trip_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_pem, key_pem) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.signing_key.serialize_pem()).unwrap();
    let cfg = dir.path().join("tsdbd.toml");
    std::fs::write(
        &cfg,
        format!(
            "[web.tls]\ncert_file = {:?}\nkey_file = {:?}\n",
            cert_pem.to_str().unwrap(),
            key_pem.to_str().unwrap()
        ),
    )
    .unwrap();
    let der = cert.cert.der().clone();
    let data = dir.path().join("data");
    let mut s = Tsdbd::launch(&data, &["--config.file", cfg.to_str().unwrap()]);
    let port = s.port;
    s.wait_for("ready over TLS", |_| {
        matches!(tls_get(port, &der, "/-/ready"), Ok((200, _)))
    });
    let (code, body) = tls_get(port, &der, "/-/healthy").unwrap();
    assert_eq!(
        (code, body.as_str()),
        (200, "Prometheus Server is Healthy.\n")
    );
    // Plain HTTP on the TLS port gets no HTTP answer.
    assert!(!matches!(get(&s.url("/-/healthy"), &[]), Ok((200, _, _))));
    // A client that does not trust the certificate fails the handshake.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    assert!(tls_get(port, other.cert.der(), "/-/healthy").is_err());
    // TLS still works after the failed handshakes, and shutdown is clean.
    assert_eq!(tls_get(port, &der, "/-/healthy").unwrap().0, 200);
    assert_eq!(s.signal(libc::SIGTERM).code(), Some(0), "{}", s.log());
}
