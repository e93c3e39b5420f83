//! Deleting series data from the head with tombstones (Prometheus's `Head.Delete`).
//!
//! [`Head::delete`] finds the series matching the matchers, clamps the interval to each
//! series' own samples, logs one Tombstones record to the WAL and, once it is durable, adds
//! the intervals to `head.tombstones`, which every read already applies (the same map WAL
//! replay fills). The samples stay in memory until the head is truncated, as in Prometheus.
//!
//! Cleaning tombstones ([`Head::clean_tombstones`]) is a no-op for the head, as in
//! Prometheus, whose `DB.CleanTombstones` rewrites only persisted blocks: the head's
//! tombstones must stay in the WAL, or a replay would resurrect the deleted samples; they
//! disappear with the data they cover when the head is compacted into a block (the block
//! writer applies them) and the WAL is checkpointed past them.

use crate::error::Result;
use crate::head::Head;
use crate::labels::Matcher;
use crate::record::{self, Tombstone};
pub(crate) use crate::tombstones::add_interval;

impl Head {
    /// Hides the samples in `[mint, maxt]` of every series matching `matchers`; returns how
    /// many series got a tombstone. With a WAL the tombstones are durable before they apply.
    pub fn delete(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<usize> {
        let (mint, maxt) = (mint.max(self.min_time()), maxt.min(self.max_time()));
        if mint > maxt {
            return Ok(0);
        }
        let ids = self.postings.postings_for_matchers(matchers)?;
        let mut stones = Vec::new();
        for id in ids {
            let Some(s) = self.series.get_by_ref(u64::from(id)) else {
                continue;
            };
            let (first, last) = {
                let st = s.state.lock();
                let first = st
                    .sealed
                    .first()
                    .map(|c| c.min_t)
                    .or_else(|| st.open.as_ref().map(|o| o.min_t));
                (first, st.max_t())
            };
            let (Some(first), Some(last)) = (first, last) else {
                continue;
            };
            let (lo, hi) = (mint.max(first), maxt.min(last));
            if lo <= hi {
                stones.push(Tombstone {
                    series_ref: s.series_ref,
                    mint: lo,
                    maxt: hi,
                });
            }
        }
        if stones.is_empty() {
            return Ok(0);
        }
        // Take our turn in the apply order, so the tombstones apply between the same commits
        // in memory as in a replay of the WAL.
        let _turn = match self.wal() {
            Some(wal) => {
                let mut buf = Vec::with_capacity(1 + stones.len() * 20);
                record::encode_tombstones(&stones, &mut buf);
                let pending = wal.submit(vec![buf])?;
                let seq = pending.seq();
                let durable = pending.wait();
                let turn = self.apply_order.wait(seq);
                durable?;
                Some(turn)
            }
            None => None,
        };
        let mut tomb = self.tombstones.write();
        for t in &stones {
            add_interval(tomb.entry(t.series_ref).or_default(), t.mint, t.maxt);
        }
        Ok(stones.len())
    }

    /// Removes tombstoned data for good. For the head this does nothing (see the module
    /// documentation): its tombstones go with the head's compaction into a block.
    pub fn clean_tombstones(&self) -> Result<()> {
        Ok(())
    }

    /// Number of series that carry tombstones.
    pub fn num_tombstoned_series(&self) -> usize {
        self.tombstones.read().len()
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::registry::Registry;

    use super::add_interval;
    use crate::chunkenc::SampleIterator as _;
    use crate::head::Head;
    use crate::labels::{Labels, MatchType, Matcher};
    use crate::options::Options;
    use crate::storage::Querier as _;

    #[test]
    fn intervals_merge_when_they_overlap_or_touch() {
        let mut v = Vec::new();
        add_interval(&mut v, 10, 20);
        add_interval(&mut v, 30, 40);
        assert_eq!(v, [(10, 20), (30, 40)]);
        add_interval(&mut v, 21, 25);
        assert_eq!(v, [(10, 25), (30, 40)]);
        add_interval(&mut v, 0, 100);
        assert_eq!(v, [(0, 100)]);
        add_interval(&mut v, 200, 300);
        add_interval(&mut v, 150, 160);
        assert_eq!(v, [(0, 100), (150, 160), (200, 300)]);
    }

    fn samples(head: &Head, name: &str) -> Vec<i64> {
        let q = head.querier(i64::MIN, i64::MAX);
        let m = Matcher::new(MatchType::Equal, "__name__", name).expect("matcher");
        let mut out = Vec::new();
        for s in q.select(true, None, &[m]).expect("select") {
            let s = s.expect("series");
            let mut it = s.iterator();
            while it.next() != crate::chunkenc::ValueType::None {
                out.push(it.at_t());
            }
        }
        out
    }

    fn fill(head: &Head) {
        let mut app = head.appender();
        for t in 0..10 {
            for name in ["a", "b"] {
                let l = Labels::from_pairs(&[("__name__", name)]);
                app.add(0, &l, t * 1000, t as f64).expect("add");
            }
        }
        app.commit_batch().expect("commit");
    }

    #[test]
    fn delete_hides_samples_and_survives_replay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let wal = dir.path().join("wal");
        let opts = Options::default();
        {
            let head = Head::open(&wal, &opts, &mut Registry::default()).expect("open");
            fill(&head);
            let m = Matcher::new(MatchType::Equal, "__name__", "a").expect("matcher");
            assert_eq!(
                head.delete(2000, 4000, std::slice::from_ref(&m))
                    .expect("delete"),
                1
            );
            assert_eq!(samples(&head, "a"), [0, 1000, 5000, 6000, 7000, 8000, 9000]);
            assert_eq!(samples(&head, "b").len(), 10);
            // Beyond the series' samples: clamped, nothing new to hide.
            assert_eq!(head.delete(8500, i64::MAX, &[m]).expect("delete"), 1);
            assert_eq!(samples(&head, "a"), [0, 1000, 5000, 6000, 7000, 8000]);
            // Appends after a delete still work (the delete took its turn in apply order).
            let mut app = head.appender();
            app.add(0, &Labels::from_pairs(&[("__name__", "a")]), 10_000, 1.0)
                .expect("add");
            app.commit_batch().expect("commit");
            assert_eq!(samples(&head, "a").last(), Some(&10_000));
            head.clean_tombstones().expect("clean");
            assert_eq!(head.num_tombstoned_series(), 1);
            head.close().expect("close");
        }
        let head = Head::open(&wal, &opts, &mut Registry::default()).expect("reopen");
        assert_eq!(
            samples(&head, "a"),
            [0, 1000, 5000, 6000, 7000, 8000, 10_000]
        );
        assert_eq!(samples(&head, "b").len(), 10);
        head.close().expect("close");
    }

    #[test]
    fn delete_outside_the_head_range_does_nothing() {
        let opts = Options {
            wal_enabled: false,
            ..Default::default()
        };
        let head = Head::new(&opts, &mut Registry::default()).expect("head");
        let m = Matcher::new(MatchType::Equal, "__name__", "a").expect("matcher");
        assert_eq!(
            head.delete(i64::MIN, i64::MAX, std::slice::from_ref(&m))
                .expect("empty"),
            0
        );
        fill(&head);
        assert_eq!(head.delete(20_000, 30_000, &[m]).expect("after"), 0);
        assert_eq!(samples(&head, "a").len(), 10);
    }
}
