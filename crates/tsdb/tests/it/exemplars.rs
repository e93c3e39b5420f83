//! Exemplars and metadata through the public API: validation, the query by matchers,
//! WAL logging in the samples' batch, and replay after a restart.

use prometheus_client::registry::Registry;
use tsdb::head::exemplars::Exemplar;
use tsdb::head::metadata::MetadataEntry;
use tsdb::labels::{Labels, MatchType, Matcher};
use tsdb::record::MetricType;
use tsdb::{AppendError, Db, Error, Options};

fn ex(t: i64, v: f64, trace: &str) -> Exemplar {
    Exemplar {
        labels: Labels::from_pairs(&[("trace_id", trace)]),
        v,
        t,
    }
}

fn name_is(n: &str) -> Vec<Matcher> {
    vec![Matcher::new(MatchType::Equal, "__name__", n).expect("matcher")]
}

#[test]
fn exemplars_and_metadata_survive_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = Labels::from_pairs(&[("__name__", "req_total"), ("job", "a")]);
    let b = Labels::from_pairs(&[("__name__", "lat_seconds"), ("job", "b")]);
    {
        let db = Db::open(dir.path(), Options::default(), &mut Registry::default()).expect("open");
        let mut app = db.appender();
        let ra = app.add(0, &a, 1000, 1.0).expect("add");
        assert!(
            app.add_exemplar(ra, &a, ex(1000, 1.0, "t1"))
                .expect("exemplar")
        );
        // A duplicate of the batch's newest exemplar is ignored, an older one refused.
        assert!(!app.add_exemplar(ra, &a, ex(1000, 1.0, "t1")).expect("dup"));
        assert!(matches!(
            app.add_exemplar(ra, &a, ex(999, 1.0, "t0")),
            Err(Error::Append(AppendError::OutOfOrderExemplar))
        ));
        // An exemplar for a series without samples in the batch logs the series too.
        assert!(
            app.add_exemplar(0, &b, ex(1500, 0.3, "t2"))
                .expect("exemplar")
        );
        app.set_metadata(ra, &a, MetricType::Counter, "", "Requests.")
            .expect("metadata");
        app.commit_batch().expect("commit");
        let mut app = db.appender();
        assert!(matches!(
            app.add_exemplar(ra, &a, ex(500, 1.0, "old")),
            Err(Error::Append(AppendError::OutOfOrderExemplar))
        ));
        app.rollback_batch();
        assert_eq!(
            db.head()
                .lookup([("__name__", "req_total"), ("job", "a")].into_iter()),
            Some(ra)
        );
        assert_eq!(
            db.head().lookup([("__name__", "req_total")].into_iter()),
            None
        );
        db.close().expect("close");
    }
    let db = Db::open(dir.path(), Options::default(), &mut Registry::default()).expect("reopen");
    let got = db
        .head()
        .select_exemplars(0, 2000, &[name_is("req_total"), name_is("lat_seconds")])
        .expect("select");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].series_labels, b);
    assert_eq!(got[0].exemplars, vec![ex(1500, 0.3, "t2")]);
    assert_eq!(got[1].series_labels, a);
    assert_eq!(got[1].exemplars, vec![ex(1000, 1.0, "t1")]);
    // Time range and matchers restrict the answer.
    assert!(
        db.head()
            .select_exemplars(1001, 1400, &[name_is("req_total")])
            .unwrap()
            .is_empty()
    );
    let meta = db.head().metadata_by_metric(None, None, None);
    assert_eq!(
        meta.get("req_total"),
        Some(&vec![MetadataEntry {
            metric_type: MetricType::Counter,
            help: "Requests.".into(),
            unit: String::new(),
        }])
    );
}

#[test]
fn family_metadata_query_honours_limits() {
    let db_dir = tempfile::tempdir().expect("tempdir");
    let opts = Options {
        wal_enabled: false,
        ..Options::default()
    };
    let db = Db::open(db_dir.path(), opts, &mut Registry::default()).expect("open");
    let fam = db.head().family_metadata();
    let entry = |t, h: &str| MetadataEntry {
        metric_type: t,
        help: h.into(),
        unit: String::new(),
    };
    fam.set("a", entry(MetricType::Gauge, "A1"));
    fam.set("a", entry(MetricType::Gauge, "A2"));
    fam.set("a", entry(MetricType::Gauge, "A1"));
    fam.set("b", entry(MetricType::Counter, "B"));
    let all = db.head().metadata_by_metric(None, None, None);
    assert_eq!(
        all["a"],
        vec![
            entry(MetricType::Gauge, "A2"),
            entry(MetricType::Gauge, "A1")
        ]
    );
    assert_eq!(all.len(), 2);
    let one = db.head().metadata_by_metric(None, Some(1), Some(1));
    assert_eq!(one.len(), 1);
    assert_eq!(one["a"].len(), 1);
    let b = db.head().metadata_by_metric(Some("b"), None, None);
    assert_eq!(b.keys().collect::<Vec<_>>(), vec!["b"]);
}
