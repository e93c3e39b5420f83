//! HTTP helpers for the binary tests; the process harness is `e2e::Tsdbd`, shared with
//! the workspace's end-to-end tests.

use std::time::Duration;

pub(crate) use e2e::Tsdbd;
pub(crate) use tsdb::testutil::free_port;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// A response: status, headers (lower-case names), body.
pub(crate) type Resp = (u16, Vec<(String, String)>, Vec<u8>);

fn collect(resp: ureq::http::Response<ureq::Body>) -> Result<Resp, ureq::Error> {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = resp.into_body().read_to_vec()?;
    Ok((status, headers, body))
}

/// GET with extra headers.
pub(crate) fn get(url: &str, headers: &[(&str, &str)]) -> Result<Resp, ureq::Error> {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    collect(req.call()?)
}

/// POST a body with extra headers.
pub(crate) fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Resp, ureq::Error> {
    let mut req = agent().post(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    collect(req.send(body)?)
}

/// The value of header `name` (lower-case).
pub(crate) fn header<'a>(r: &'a Resp, name: &str) -> Option<&'a str> {
    r.1.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}
