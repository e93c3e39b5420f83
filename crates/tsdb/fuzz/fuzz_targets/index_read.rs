//! Fuzz target: arbitrary bytes opened as a block index never panic. If the index opens,
//! every series (labels and chunk metas), every postings list and a few matchers are read;
//! each fails, if at all, with a corruption error.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsdb::index::Reader;
use tsdb::index::postings::{
    IndexReader, label_names_for_matchers, label_values_for_matchers, postings_for_matchers,
};
use tsdb::labels::{MatchType, Matcher};

fn expected(r: tsdb::Result<()>) {
    match r {
        Ok(()) | Err(tsdb::Error::Corruption { .. }) => {}
        Err(e) => panic!("unexpected error kind: {e:?}"),
    }
}

fn walk(ix: &Reader) -> tsdb::Result<()> {
    for id in ix.all_series()? {
        let e = ix.series(id)?;
        let _ = ix.labels(&e.labels, &mut Default::default())?;
    }
    for name in ix.label_names()? {
        for value in ix.label_values(&name)? {
            let _ = ix.postings(&name, &value)?;
        }
    }
    let m = |t, n: &str, v: &str| Matcher::new(t, n, v).expect("valid matcher");
    for ms in [
        vec![m(MatchType::Equal, "job", "x")],
        vec![m(MatchType::RegexMatch, "__name__", "m.*"), m(MatchType::NotEqual, "pod", "a")],
        vec![m(MatchType::RegexNoMatch, "job", ".+")],
    ] {
        let _ = postings_for_matchers(ix, &ms)?;
        let _ = label_names_for_matchers(ix, &ms)?;
        let _ = label_values_for_matchers(ix, "job", &ms)?;
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    match Reader::new(tsdb::bytes::shared(data.to_vec()), "fuzz/index") {
        Ok(ix) => expected(walk(&ix)),
        Err(e) => expected(Err(e)),
    }
});
