//! `pitwall backup` / `pitwall restore` on the embedded SQLite database: a
//! backup taken while the POS keeps pushing holds every push acknowledged
//! before it began, and restores into a database Pitwall opens; damaged or
//! foreign files are refused with the database left as it was.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use pitwall::Config;
use pitwall_store::sea_orm::{ConnectionTrait, DbBackend, Statement};
use pitwall_testkit::{Backend, StatusCode, TestApp};
use serde_json::json;

fn config_for(url: &str) -> Config {
    let env = [
        ("DATABASE_URL".to_owned(), url.to_owned()),
        (
            "PITWALL_DATA_DIR".to_owned(),
            std::env::temp_dir().display().to_string(),
        ),
    ];
    Config::from_lookup(|k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
        .expect("config")
}

async fn external_ids(url: &str) -> Vec<String> {
    let db = pitwall_store::connect(url).await.expect("open");
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT external_id FROM tickets",
        ))
        .await
        .expect("read");
    let ids = rows
        .iter()
        .filter_map(|r| r.try_get_by_index::<Option<String>>(0).ok().flatten())
        .collect();
    db.close().await.ok();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_writes_restores_every_acknowledged_write() {
    let Some(t) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let (_, owner) = t.shop("backup", "pro").await;
    let key = t.pos_key(&owner).await;
    // The POS pushes tickets one after another; each acknowledged push is
    // noted with the moment its answer came.
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writer = {
        let (stop, count, client, base, key) = (
            stop.clone(),
            count.clone(),
            t.client.clone(),
            t.url(""),
            key.clone(),
        );
        tokio::spawn(async move {
            let mut acked: Vec<(String, Instant)> = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let ext = format!("BK-{n}");
                let r = client
                    .put(format!("{base}/api/pos/v1/tickets/{ext}"))
                    .bearer_auth(&key)
                    .json(&json!({
                        "kind": "workorder", "number": ext, "pos_updated_at": "2026-11-23T10:00:00Z",
                        "customer": {"external_id": format!("c-{n}"), "last_name": "Backup", "phone": "+15125550100"},
                        "services": [],
                    }))
                    .send()
                    .await
                    .expect("push sent");
                assert!(r.status().is_success(), "push {ext}: {}", r.status());
                acked.push((ext, Instant::now()));
                count.fetch_add(1, Ordering::Relaxed);
            }
            acked
        })
    };
    // A few pushes in (the first one checks the new key), then the backup.
    while count.load(Ordering::Relaxed) < 10 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let config = config_for(&t.database_url);
    let file = t.dir.join("pitwall-backup.db");
    let began = Instant::now();
    let written = pitwall::backup::backup(&config, &file)
        .await
        .expect("backup");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let acked = writer.await.expect("writer");
    assert!(written.bytes > 0);
    let before: Vec<&String> = acked
        .iter()
        .filter(|(_, at)| *at < began)
        .map(|(e, _)| e)
        .collect();
    assert!(
        before.len() >= 5,
        "writes before the backup: {} of {}",
        before.len(),
        acked.len()
    );
    assert!(
        acked.len() > before.len(),
        "writes went on during and after it"
    );

    // A second backup to the same name is refused; the first stays.
    let again = pitwall::backup::backup(&config, &file).await;
    assert!(again.unwrap_err().to_string().contains("exists already"));

    // Restored into a new place: every push acknowledged before the
    // backup began is there, and Pitwall opens and migrates it.
    let restored_dir = t.dir.join("restored");
    let restored_url = format!("sqlite://{}/pitwall.db?mode=rwc", restored_dir.display());
    let restored = config_for(&restored_url);
    pitwall::backup::restore(&restored, &file)
        .await
        .expect("restore");
    let ids = external_ids(&restored_url).await;
    for ext in &before {
        assert!(
            ids.contains(ext),
            "{ext} was acknowledged before the backup and is missing"
        );
    }
    let db = pitwall::server::open_db(&restored, true)
        .await
        .expect("Pitwall opens it");
    assert!(
        pitwall_store::db::migrations_current(&db)
            .await
            .expect("read")
    );
    db.close().await.ok();

    // Refused: a damaged file, and a SQLite file that is not Pitwall's.
    let junk = t.dir.join("junk.db");
    std::fs::write(&junk, b"SQLite format 3\0 but not really").unwrap();
    let e = pitwall::backup::restore(&restored, &junk)
        .await
        .unwrap_err();
    assert!(format!("{e:#}").contains("was not restored"), "{e:#}");
    let foreign_url = format!("sqlite://{}/foreign.db?mode=rwc", t.dir.display());
    let foreign = pitwall_store::connect(&foreign_url).await.unwrap();
    foreign
        .execute_unprepared("CREATE TABLE notes (body TEXT)")
        .await
        .unwrap();
    foreign.close().await.ok();
    let e = pitwall::backup::restore(&restored, &t.dir.join("foreign.db"))
        .await
        .unwrap_err();
    assert!(format!("{e:#}").contains("not a Pitwall database"), "{e:#}");
    assert_eq!(
        external_ids(&restored_url).await.len(),
        ids.len(),
        "the refused files changed nothing"
    );
    // PostgreSQL is backed up with its own tools.
    let pg = config_for("postgres://postgres@127.0.0.1:5432/x");
    let e = pitwall::backup::backup(&pg, &t.dir.join("pg.db"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("pg_dump"), "{e}");
    let (s, _) = t.get("/api/v1/tickets", &owner).await;
    assert_eq!(s, StatusCode::OK, "the app served throughout");
    t.finish().await;
}
