//! Background jobs run in one instance at a time when several share the
//! durable store, and move to another when that one stops.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::Server;

async fn counter(s: &Server, name: &str) -> u64 {
    s.metric(name).await.map_or(0, |v| v as u64)
}

#[tokio::test]
async fn one_instance_runs_the_jobs_and_another_takes_over() {
    let env = [("STINT_JOB_INTERVAL", "1")];
    let mut a = Server::start(&env);
    let dir = a.keep_data();
    let mut b = Server::start_beside(dir.path(), &env);
    let off = Server::start_beside(
        dir.path(),
        &[("STINT_JOB_INTERVAL", "1"), ("ENABLE_CRON", "false")],
    );
    tokio::time::sleep(Duration::from_millis(3500)).await;

    let runs = [
        counter(&a, "stint_jobs_runs_total").await,
        counter(&b, "stint_jobs_runs_total").await,
    ];
    let skipped = [
        counter(&a, "stint_jobs_skipped_total").await,
        counter(&b, "stint_jobs_skipped_total").await,
    ];
    let leader = usize::from(runs[1] > runs[0]);
    assert!(runs[leader] >= 3, "the leader runs every round: {runs:?}");
    assert_eq!(runs[1 - leader], 0, "the other never does: {runs:?}");
    assert!(skipped[1 - leader] >= 3, "it tries every round: {skipped:?}");
    assert_eq!(
        counter(&off, "stint_jobs_runs_total").await + counter(&off, "stint_jobs_skipped_total").await,
        0
    );

    // The leader stops (and releases the lease): the other takes over.
    let (survivor, stopped) = if leader == 0 {
        assert!(a.stop().success());
        (&b, "a")
    } else {
        assert!(b.stop().success());
        (&a, "b")
    };
    let before = counter(survivor, "stint_jobs_runs_total").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after = counter(survivor, "stint_jobs_runs_total").await;
    assert!(
        after >= before + 2,
        "{stopped} stopped; the survivor runs the jobs now: {before} -> {after}"
    );
}
