//! The two backends' migrations describe one schema.

use portcullis_domain::Store;

#[tokio::test]
async fn sqlite_and_postgresql_migrations_give_the_same_tables_and_columns() {
    let Ok(server) = std::env::var("TEST_POSTGRES_URL") else {
        eprintln!("TEST_POSTGRES_URL is not set: `make test` runs this with a PostgreSQL of its own");
        return;
    };
    // in_memory() follows TEST_POSTGRES_URL: open SQLite explicitly.
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(&format!("sqlite://{}/schema.db", dir.path().display())).await.unwrap();
    let postgres = Store::fresh_postgres(&server).await.unwrap();
    let (a, b) = (sqlite.schema_columns().await.unwrap(), postgres.schema_columns().await.unwrap());
    assert!(a.len() > 100, "the SQLite schema looks empty: {a:?}");
    let only_sqlite: Vec<_> = a.iter().filter(|c| !b.contains(c)).collect();
    let only_postgres: Vec<_> = b.iter().filter(|c| !a.contains(c)).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "the schemas differ (table, column, type, nullable):\n only in SQLite: {only_sqlite:#?}\n only in PostgreSQL: {only_postgres:#?}"
    );
}
