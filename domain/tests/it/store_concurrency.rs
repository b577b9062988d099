//! Guards that are one statement stay atomic on both backends: SQLite runs writers one at a
//! time, and on PostgreSQL (READ COMMITTED) the store takes its write lock for them too.

use std::sync::Arc;

use portcullis_domain::store::new_id;

use super::support::{raw_execute, store_with_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_many_concurrent_first_admin_setups_exactly_one_creates_an_admin() {
    let (_dir, store, url) = store_with_url().await;
    for round in 0..20 {
        raw_execute(&url, "DELETE FROM users").await;
        let start = Arc::new(tokio::sync::Barrier::new(12));
        let attempts: Vec<_> = (0..12)
            .map(|i| {
                let (store, start) = (store.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    let email = format!("admin{round}-{i}@example.com");
                    store.insert_first_admin(&new_id(), &email, "", "hash").await.unwrap()
                })
            })
            .collect();
        let mut created = 0;
        for a in attempts {
            created += i32::from(a.await.unwrap());
        }
        assert_eq!((round, created), (round, 1), "one setup wins");
        assert_eq!(store.count_admins().await.unwrap(), 1);
    }
}

/// Another replica's first-admin setup, begun but not committed, as that replica's store makes
/// it: holding the write lock (PostgreSQL: the store's advisory lock; SQLite: `BEGIN IMMEDIATE`).
#[tokio::test]
async fn a_setup_waits_for_another_replicas_setup_in_flight_and_then_refuses() {
    let (_dir, store, url) = store_with_url().await;
    let insert = "INSERT INTO users (id, email, display_name, role, created_at, updated_at) \
                  VALUES ('other', 'other@example.com', '', 'admin', 0, 0)";
    let ours = |store: portcullis_domain::Store| {
        tokio::spawn(async move { store.insert_first_admin(&new_id(), "ours@example.com", "", "hash").await.unwrap() })
    };
    let created = if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        let mut other = pool.begin().await.unwrap();
        // domain/src/store/db.rs WRITE_LOCK
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(0x706f_7274_0001_i64).execute(&mut *other).await.unwrap();
        sqlx::query(insert).execute(&mut *other).await.unwrap();
        let ours = ours(store.clone());
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!ours.is_finished(), "our setup waits for the write lock");
        other.commit().await.unwrap();
        ours.await.unwrap()
    } else {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let mut other = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
        sqlx::query(insert).execute(&mut *other).await.unwrap();
        let ours = ours(store.clone());
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!ours.is_finished(), "our setup waits for the write lock");
        other.commit().await.unwrap();
        ours.await.unwrap()
    };
    assert!(!created, "the other replica's admin was there first");
    assert_eq!(store.count_admins().await.unwrap(), 1);
}
