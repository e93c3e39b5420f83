//! Fuzz target: every WAL record decoder accepts arbitrary bytes without panicking and
//! fails only with `Error::Decode`; what decodes re-encodes to a record that decodes equal.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsdb::labels::SymbolTable;
use tsdb::record;

fn only_decode_errors(r: tsdb::Result<()>) {
    if let Err(e) = r {
        assert!(matches!(e, tsdb::Error::Decode { .. }), "unexpected error kind: {e:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let symbols = SymbolTable::new();
    let mut series = Vec::new();
    only_decode_errors(record::decode_series(data, &symbols, &mut series));
    if !series.is_empty() {
        let mut buf = Vec::new();
        record::encode_series(&series, &mut buf);
        let mut again = Vec::new();
        record::decode_series(&buf, &symbols, &mut again).expect("re-encoded series decode");
        assert_eq!(series, again);
    }
    let mut samples = Vec::new();
    only_decode_errors(record::decode_samples(data, &mut samples));
    let mut tombstones = Vec::new();
    only_decode_errors(record::decode_tombstones(data, &mut tombstones));
    let mut metadata = Vec::new();
    only_decode_errors(record::decode_metadata(data, &mut metadata));
    let mut exemplars = Vec::new();
    only_decode_errors(record::decode_exemplars(data, &symbols, &mut exemplars));
    let mut hs = Vec::new();
    only_decode_errors(record::decode_histogram_samples(data, &mut hs));
    let mut fhs = Vec::new();
    only_decode_errors(record::decode_float_histogram_samples(data, &mut fhs));
});
