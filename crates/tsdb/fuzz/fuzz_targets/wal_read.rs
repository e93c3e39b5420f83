//! Fuzz target: a WAL segment of arbitrary bytes is read without panicking; reading ends
//! cleanly or with a corruption error, and replay (which repairs) always succeeds.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsdb::wal::{self, WalMetrics, WalReader};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(wal::segment_path(dir.path(), 0), data).expect("write segment");
    let mut reader = WalReader::open(dir.path(), None, None).expect("open reader");
    loop {
        match reader.next_record() {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(tsdb::Error::WalCorruption(_) | tsdb::Error::Decode { .. }) => break,
            Err(e) => panic!("unexpected error kind: {e:?}"),
        }
    }
    wal::replay(
        dir.path(),
        None,
        |_| Ok(()),
        &WalMetrics::unregistered(),
        wal::OnDamage::Repair,
    )
    .expect("replay repairs");
});
