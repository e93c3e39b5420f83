//! The adapter against a local directory (`file://`) and a real S3 server (s3s-fs on
//! loopback): round trips, absent keys, ranges, multipart uploads, bad credentials,
//! unusual keys, and calls from inside a tokio runtime.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use objstore::Options;
use tsdb::ErrorKind;
use tsdb::bucket::{Bucket, BucketFailure};
use tsdb::testutil::S3Server;

/// One backend under test, with what keeps it alive.
struct Backend {
    name: &'static str,
    bucket: Arc<dyn Bucket>,
    /// Where the object of key `k` is as a plain file: `<objects>/<k>` (s3s-fs stores
    /// keys verbatim; `None` for stores that encode names).
    objects: Option<PathBuf>,
    _dir: tempfile::TempDir,
    _server: Option<S3Server>,
}

fn test_options() -> Options {
    Options {
        // The S3 test server stalls GETs on reused connections.
        pool_max_idle_per_host: Some(0),
        max_retries: 2,
        retry_timeout: Duration::from_secs(10),
        part_size: objstore::MIN_PART_SIZE,
        ..Options::default()
    }
}

/// The directory backend and, when s3s-fs is installed (always under CI), the S3 one,
/// both below a key prefix so that the prefix handling is exercised too.
fn backends() -> Vec<Backend> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("bucket root");
    let url = format!("file://{}", root.display());
    out.push(Backend {
        name: "file",
        bucket: objstore::open(&url, &test_options()).expect("open file bucket"),
        objects: None,
        _dir: dir,
        _server: None,
    });
    if let Some(server) = S3Server::start() {
        let options = s3_options(&server, &server.secret_key);
        let bucket = objstore::open(&server.url("pre/fix"), &options).expect("open s3 bucket");
        out.push(Backend {
            name: "s3",
            bucket,
            objects: Some(server.bucket_dir().join("pre/fix")),
            _dir: tempfile::tempdir().expect("tempdir"),
            _server: Some(server),
        });
    }
    out
}

fn s3_options(server: &S3Server, secret: &str) -> Options {
    Options {
        endpoint: Some(server.endpoint.clone()),
        region: Some("us-east-1".into()),
        access_key_id: Some(server.access_key.clone()),
        secret_access_key: Some(secret.to_string()),
        allow_http: true,
        ..test_options()
    }
}

fn failure(e: &tsdb::Error) -> BucketFailure {
    match e {
        tsdb::Error::Bucket { failure, .. } => *failure,
        other => panic!("not a bucket error: {other}"),
    }
}

/// Deterministic bytes that differ at every offset of interest.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn put_get_range_list_delete_round_trip() {
    for b in backends() {
        let (name, bucket) = (b.name, &b.bucket);
        let before = SystemTime::now() - Duration::from_secs(5);
        let data = pattern(1000, 1);
        bucket.put("01AB/index", data.clone()).expect("put");
        bucket
            .put("01AB/chunks/000001", b"chunk".to_vec())
            .expect("put");
        bucket.put("01AB/meta.json", b"{}".to_vec()).expect("put");
        bucket.put("01ABC/meta.json", b"{ }".to_vec()).expect("put");
        bucket.put("top", Vec::new()).expect("put empty");

        assert_eq!(bucket.get("01AB/index").expect("get"), Some(data.clone()));
        assert_eq!(bucket.get("top").expect("get"), Some(Vec::new()), "{name}");
        assert_eq!(
            bucket.get_range("01AB/index", 10..30).expect("range"),
            data[10..30],
            "{name}"
        );
        assert_eq!(
            bucket.get_range("01AB/index", 0..1000).expect("range"),
            data,
            "{name}"
        );
        assert_eq!(
            bucket.get_range("01AB/index", 999..1000).expect("range"),
            data[999..],
            "{name}"
        );
        assert!(
            bucket
                .get_range("01AB/index", 5..5)
                .expect("empty")
                .is_empty()
        );

        let head = bucket.head("01AB/index").expect("head").expect("exists");
        assert_eq!(
            (head.key.as_str(), head.size),
            ("01AB/index", 1000),
            "{name}"
        );
        assert!(head.last_modified >= before, "{name}: {head:?}");
        assert!(bucket.exists("01AB/meta.json").expect("exists"));

        let listed: Vec<(String, u64)> = bucket
            .list("01AB")
            .expect("list")
            .into_iter()
            .map(|m| (m.key, m.size))
            .collect();
        assert_eq!(
            listed,
            [
                ("01AB/chunks/000001".to_string(), 5),
                ("01AB/index".to_string(), 1000),
                ("01AB/meta.json".to_string(), 2),
            ],
            "{name}: a directory prefix does not match 01ABC"
        );
        let all: Vec<String> = bucket
            .list("")
            .expect("list all")
            .into_iter()
            .map(|m| m.key)
            .collect();
        assert_eq!(
            all,
            [
                "01AB/chunks/000001",
                "01AB/index",
                "01AB/meta.json",
                "01ABC/meta.json",
                "top"
            ],
            "{name}"
        );
        assert_eq!(
            bucket.list_dirs("").expect("dirs"),
            ["01AB", "01ABC"],
            "{name}"
        );
        assert_eq!(
            bucket.list_dirs("01AB").expect("dirs"),
            ["01AB/chunks"],
            "{name}"
        );

        bucket
            .put("01AB/index", b"replaced".to_vec())
            .expect("overwrite");
        assert_eq!(
            bucket.get("01AB/index").expect("get"),
            Some(b"replaced".to_vec())
        );

        for key in ["01AB/index", "01AB/chunks/000001", "01AB/meta.json"] {
            bucket.delete(key).expect("delete");
            assert_eq!(bucket.get(key).expect("get"), None, "{name}: {key}");
        }
        bucket
            .delete("01AB/index")
            .expect("deleting twice succeeds");
        assert!(bucket.list("01AB").expect("list").is_empty(), "{name}");
        assert_eq!(bucket.list_dirs("").expect("dirs"), ["01ABC"], "{name}");

        if let Some(objects) = &b.objects {
            assert!(objects.join("01ABC/meta.json").is_file(), "{name}: prefix");
        }
    }
}

#[test]
fn absent_keys_and_bad_ranges() {
    for b in backends() {
        let (name, bucket) = (b.name, &b.bucket);
        assert_eq!(bucket.get("nope/meta.json").expect("get"), None, "{name}");
        assert_eq!(bucket.head("nope/meta.json").expect("head"), None, "{name}");
        assert!(!bucket.exists("nope").expect("exists"), "{name}");
        assert!(bucket.list("nope").expect("list").is_empty(), "{name}");
        assert!(bucket.list("").expect("list").is_empty(), "{name}");
        assert!(bucket.list_dirs("nope").expect("dirs").is_empty(), "{name}");

        let err = bucket.get_range("nope/index", 0..10).expect_err("absent");
        assert_eq!(failure(&err), BucketFailure::NotFound, "{name}: {err}");
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.to_string().contains("nope/index"), "{name}: {err}");

        bucket.put("obj", vec![7; 100]).expect("put");
        for range in [50..101, 100..110, 200..300] {
            let err = bucket
                .get_range("obj", range.clone())
                .expect_err("past the end");
            assert_eq!(
                failure(&err),
                BucketFailure::InvalidRange,
                "{name} {range:?}: {err}"
            );
        }

        for bad in ["", "/lead", "trail/", "a//b", "../up", "ctl\u{1}"] {
            let err = bucket.put(bad, Vec::new()).expect_err(bad);
            assert_eq!(failure(&err), BucketFailure::InvalidKey, "{name} {bad:?}");
        }
    }
}

#[test]
fn large_files_upload_in_parts() {
    for b in backends() {
        let (name, bucket) = (b.name, &b.bucket);
        let dir = tempfile::tempdir().expect("tempdir");
        // 13 MiB + 17 bytes with 5 MiB parts: three parts, the last one short.
        let data = pattern(13 * 1024 * 1024 + 17, 2);
        let path = dir.path().join("big");
        std::fs::write(&path, &data).expect("write");
        let n = bucket.upload("01AB/chunks/000001", &path).expect("upload");
        assert_eq!(n, data.len() as u64, "{name}");
        let got = bucket
            .get("01AB/chunks/000001")
            .expect("get")
            .expect("exists");
        assert!(
            got == data,
            "{name}: content differs after a multipart upload"
        );
        let boundary = 5 * 1024 * 1024u64;
        assert_eq!(
            bucket
                .get_range("01AB/chunks/000001", boundary - 3..boundary + 3)
                .expect("range"),
            data[boundary as usize - 3..boundary as usize + 3],
            "{name}"
        );
        let head = bucket
            .head("01AB/chunks/000001")
            .expect("head")
            .expect("meta");
        assert_eq!(head.size, data.len() as u64);
        if name == "s3" {
            // S3's entity tag of a multipart object ends in the number of parts.
            let tag = head.e_tag.expect("s3 has entity tags");
            assert!(tag.trim_matches('"').ends_with("-3"), "{tag}");
        }

        // Exactly one part's size, and an empty file, take the single-PUT path.
        let small = pattern(objstore::MIN_PART_SIZE, 3);
        std::fs::write(&path, &small).expect("write");
        assert_eq!(
            bucket.upload("01AB/index", &path).expect("upload"),
            small.len() as u64
        );
        assert!(bucket.get("01AB/index").expect("get").expect("exists") == small);
        std::fs::write(&path, b"").expect("write");
        assert_eq!(bucket.upload("01AB/tombstones", &path).expect("upload"), 0);
        assert_eq!(
            bucket.get("01AB/tombstones").expect("get"),
            Some(Vec::new())
        );

        let err = bucket
            .upload("01AB/other", &dir.path().join("missing"))
            .expect_err("no file");
        assert_eq!(failure(&err), BucketFailure::LocalIo, "{name}: {err}");
        assert!(err.to_string().contains("missing"), "{err}");
    }
}

#[test]
fn keys_with_special_characters_are_stored_verbatim() {
    let keys = [
        "dir with space/a=b+c/100%25 done",
        "ünïcødé/☃.json",
        "sym/!$&'()*,;:@",
        "sym/#hash?query[x]{y}|~^`<>\"\\",
    ];
    for b in backends() {
        let (name, bucket) = (b.name, &b.bucket);
        for (i, key) in keys.iter().enumerate() {
            bucket.put(key, pattern(10, i as u64)).expect(key);
        }
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(
                bucket.get(key).expect(key),
                Some(pattern(10, i as u64)),
                "{name}: {key}"
            );
            assert_eq!(
                bucket.head(key).expect(key).map(|m| m.key),
                Some(key.to_string())
            );
        }
        let mut want: Vec<&str> = keys.to_vec();
        want.sort();
        let listed: Vec<String> = bucket
            .list("")
            .expect("list")
            .into_iter()
            .map(|m| m.key)
            .collect();
        assert_eq!(listed, want, "{name}");
        assert_eq!(
            bucket.list_dirs("").expect("dirs"),
            ["dir with space", "sym", "ünïcødé"],
            "{name}"
        );
        assert_eq!(
            bucket.list_dirs("dir with space").expect("dirs"),
            ["dir with space/a=b+c"],
            "{name}"
        );
        if let Some(objects) = &b.objects {
            for key in keys {
                assert!(objects.join(key).is_file(), "{name}: {key} not verbatim");
            }
        }
        for key in keys {
            bucket.delete(key).expect(key);
        }
        assert!(bucket.list("").expect("list").is_empty(), "{name}");
    }
}

#[test]
fn a_wrong_secret_is_a_clear_access_denied_error() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let good =
        objstore::open(&server.url(""), &s3_options(&server, &server.secret_key)).expect("open");
    good.put("k", b"v".to_vec())
        .expect("put with the right secret");

    let bad = objstore::open(&server.url(""), &s3_options(&server, "wrong-secret"))
        .expect("open with a wrong secret");
    for err in [
        bad.put("k", b"x".to_vec()).expect_err("put"),
        bad.get("k").expect_err("get"),
        bad.list("").expect_err("list"),
    ] {
        assert_eq!(failure(&err), BucketFailure::Denied, "{err}");
        let msg = err.to_string();
        assert!(msg.contains("access denied"), "{msg}");
        assert!(msg.contains("SignatureDoesNotMatch"), "{msg}");
    }
    assert_eq!(good.get("k").expect("get"), Some(b"v".to_vec()));
}

#[test]
fn an_unreachable_store_is_unavailable() {
    let port = tsdb::testutil::free_port();
    let options = Options {
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        allow_http: true,
        // Explicit keys: without them the S3 client would ask the cloud metadata service.
        access_key_id: Some("k".into()),
        secret_access_key: Some("s".into()),
        max_retries: 1,
        retry_timeout: Duration::from_secs(2),
        ..test_options()
    };
    let bucket = objstore::open("s3://nobody", &options).expect("open does not connect");
    let err = bucket.get("k").expect_err("nothing listens");
    assert_eq!(failure(&err), BucketFailure::Unavailable, "{err}");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
}

#[test]
fn calls_from_inside_a_tokio_runtime_do_not_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}", dir.path().display());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let bucket = objstore::open(&url, &test_options()).expect("open");
        bucket
            .put("a/b", b"x".to_vec())
            .expect("put inside a runtime");
        assert_eq!(bucket.get("a/b").expect("get"), Some(b"x".to_vec()));
        // The last reference dropped inside async code must not panic either.
        drop(bucket);
    });
}
