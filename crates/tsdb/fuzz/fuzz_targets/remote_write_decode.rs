//! Fuzz target: the remote-write 1.0 and 2.0 decoders and the snappy step accept arbitrary
//! bytes without panicking; whatever decodes keeps its ranges inside the request and
//! passes validation without panicking either.

#![no_main]

use ingest::decode::{Protocol, decode};
use ingest::validate::validate_series;
use ingest::{Limits, snappy};
use libfuzzer_sys::fuzz_target;

fn check(protocol: Protocol, body: &[u8], limits: &Limits) {
    let Ok(req) = decode(protocol, body, limits) else {
        return;
    };
    assert!(req.series.len() <= limits.max_series_per_request);
    for s in &req.series {
        let labels = req.labels_of(s);
        let _ = req.samples_of(s);
        for e in req.exemplars_of(s) {
            let _ = req.exemplar_labels_of(e);
        }
        let _ = validate_series(labels, s.defect, limits);
        if s.defect.is_some() {
            assert!(labels.is_empty());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_decompressed_bytes: 1 << 20,
        ..Limits::default()
    };
    check(Protocol::V1, data, &limits);
    check(Protocol::V2, data, &limits);
    if let Ok(raw) = snappy::decompress(data, &limits) {
        check(Protocol::V1, &raw, &limits);
        check(Protocol::V2, &raw, &limits);
    }
});
