//! Fuzzes `ingest::exposition`: any bytes, split into lines and parsed as the text
//! format, OpenMetrics and CSV, must give samples or line-numbered errors, never a panic.

#![no_main]

use ingest::exposition::{Format, Parser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for format in [Format::Text, Format::OpenMetrics, Format::Csv] {
        let mut p = Parser::new(format).require_timestamps(true);
        for (i, line) in data.split(|&b| b == b'\n').enumerate() {
            match p.parse_line(line) {
                Ok(Some(s)) => {
                    assert!(s.timestamp.is_some());
                    assert!(s.labels().any(|(n, _)| n == "__name__"));
                }
                Ok(None) => {}
                Err(e) => assert_eq!(e.line, i as u64 + 1),
            }
        }
        let _ = p.finish();
    }
});
