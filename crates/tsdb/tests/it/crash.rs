//! Crash safety: a child process appends and acknowledges in a loop and is killed with
//! SIGKILL at random moments; after each reopen every acknowledged sample must be there.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use rand::Rng;
use tsdb::{Db, Options};

const SERIES: usize = 50;
const ROUNDS: usize = 6;

fn child_binary() -> PathBuf {
    // Integration tests live in target/<profile>/deps; examples in target/<profile>/examples.
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target profile dir");
    let bin = dir.join("examples").join("crash_child");
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "tsdb", "--example", "crash_child"])
            .status()
            .expect("cargo build");
        assert!(status.success(), "building the crash_child example failed");
    }
    assert!(bin.exists(), "crash_child not found at {}", bin.display());
    bin
}

#[test]
fn sigkill_never_loses_acknowledged_samples() {
    let bin = child_binary();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = rand::rng();
    let mut next_batch: i64 = 1;
    for round in 0..ROUNDS {
        let mut child = Command::new(&bin)
            .arg(dir.path())
            .arg(next_batch.to_string())
            .arg(SERIES.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("ack ") {
                    let _ = tx.send(n.parse::<i64>().expect("ack number"));
                }
            }
        });
        // Wait for a first ack so that every round kills a process that is writing.
        let mut last_ack = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("child never acknowledged");
        std::thread::sleep(Duration::from_millis(rng.random_range(20..400)));
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        child.wait().expect("wait child");
        reader.join().expect("reader thread");
        while let Ok(n) = rx.try_recv() {
            last_ack = n;
        }

        let db =
            Db::open(dir.path(), Options::default(), &mut Registry::default()).expect("reopen");
        let samples = crate::util::all_samples(&db);
        let mut per_series = std::collections::HashMap::<String, Vec<(i64, u64)>>::new();
        for (l, t, v) in samples {
            per_series.entry(l).or_default().push((t, v));
        }
        assert_eq!(per_series.len(), SERIES, "round {round}: series count");
        let mut max_batch = 0;
        for (l, got) in &per_series {
            // Every batch from 1 to last_ack must be present, exactly once, in order.
            for i in 1..=last_ack {
                let idx = (i - 1) as usize;
                let Some(&(t, v)) = got.get(idx) else {
                    panic!(
                        "round {round}: {l} lost acknowledged batch {i} (has {} samples, last ack {last_ack})",
                        got.len()
                    );
                };
                assert_eq!(
                    (t, f64::from_bits(v)),
                    (i * 1000, i as f64),
                    "round {round}: {l} batch {i}"
                );
            }
            max_batch = max_batch.max(got.last().map_or(0, |&(t, _)| t / 1000));
        }
        eprintln!("round {round}: last ack {last_ack}, recovered up to batch {max_batch}");
        db.close().expect("close");
        next_batch = max_batch + 1;
    }
}
