//! A full disk under the data directory (a small tmpfs the test mounts, so
//! it runs as root, as `scripts/test` does): requests are still answered,
//! returning visitors keep their sessions, `/readyz` names the journal once
//! the space it reserved is used up (and SQLite, when the database is on
//! that disk), and once space returns
//! everything recovers: every page view of the window reaches the durable
//! store, nothing written before is corrupted, and a restart replays cleanly.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Server, json};

/// A small filesystem of its own, unmounted on drop.
struct SmallDisk {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(mib: u32) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok,
            "the full-disk test mounts a small tmpfs and needs root (scripts/test runs as root)"
        );
        SmallDisk {
            path: dir.path().to_path_buf(),
            _dir: dir,
        }
    }

    /// Fills what is left with a file; returns it.
    fn fill(&self) -> PathBuf {
        let filler = self.path.join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.flush();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

async fn readiness(s: &Server) -> (u16, Vec<String>) {
    let r = s.plain().get(s.url("/readyz")).send().await.unwrap();
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.unwrap();
    let failing = body["failing"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    (status, failing)
}

async fn session_id(b: &reqwest::Client, s: &Server) -> (String, u64) {
    let (status, body) = json(b.get(s.url("/api/storefront/session")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    (
        body["data"]["sessionId"].as_str().unwrap().to_owned(),
        body["data"]["pageViews"].as_u64().unwrap(),
    )
}

/// `n` product pages for `browser`, each answered; returns `n`.
async fn product_pages(browser: &reqwest::Client, s: &Server, n: u64) -> u64 {
    for i in 0..n {
        let r = browser
            .get(s.url(&format!("/api/storefront/products/p-{}", 1 + i % 6)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "answered with the disk full");
    }
    n
}

fn sqlite_is_intact(db: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = format!("sqlite://{}", db.display());
    let check: String = std::thread::spawn(move || {
        rt.block_on(async move {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_one(&mut c)
                .await
                .unwrap()
        })
    })
    .join()
    .unwrap();
    assert_eq!(check, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_degrades_the_service_and_loses_nothing_it_survives() {
    let disk = SmallDisk::mount(24);
    let data = disk.path.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut s = Server::start_in(&data, &[]);
    let on_sqlite = !data.join("postgres-url").exists();
    let browser = s.browser();
    let (sid, first) = session_id(&browser, &s).await;

    let filler = disk.fill();
    let mut views = first + product_pages(&browser, &s, 30).await;
    for _ in 0..10 {
        let r = s
            .plain()
            .get(s.url("/api/storefront/products"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "new visitors are answered too");
    }
    // The journal writes into space it reserved before the disk filled;
    // once that is used up it cannot open another segment, and says so.
    let mut failing = Vec::new();
    for round in 0.. {
        let status;
        (status, failing) = readiness(&s).await;
        if failing.iter().any(|f| f == "journal") {
            assert_eq!(status, 503, "{failing:?}");
            break;
        }
        assert!(
            round < 100,
            "the journal never reported the full disk: {failing:?}"
        );
        views += product_pages(&browser, &s, 100).await;
    }
    let (same, now) = session_id(&browser, &s).await;
    views += 1;
    assert_eq!(same, sid, "the returning visitor keeps the session");
    assert_eq!(now, views, "and every page view is counted");
    assert!(failing.iter().any(|f| f == "journal"), "{failing:?}");

    // Space returns: the service recovers by itself.
    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // Requests carry records, which is how the journal finds its feet.
        let _ = browser
            .get(s.url("/api/storefront/products"))
            .send()
            .await
            .unwrap();
        views += 1;
        let (status, failing) = readiness(&s).await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "still failing: {failing:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Every page view of the window reached the durable store.
    let stored = s.page_view_events(&sid, views as usize).await;
    assert_eq!(stored, views as usize);

    assert!(s.stop().success());
    if on_sqlite {
        sqlite_is_intact(&data.join("stint.db"));
    }
    // A restart replays whatever the journal kept, cleanly, and the visitor
    // (the same cookies: they do not depend on the port) carries on.
    let s = Server::start_in(&data, &[]);
    let (again, _) = session_id(&browser, &s).await;
    assert_eq!(again, sid);
    drop(s);
    drop(disk);
}
