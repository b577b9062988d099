//! The one place that knows there are two databases. Store code writes a query once
//! (`$n` parameters, portable SQL), binds values into a backend-neutral list, and runs it on a
//! [`Pool`] or a [`Tx`]; only here is it handed to SQLite or PostgreSQL, each with its own
//! concrete sqlx types. `sqlx::Any` would do the dispatch for us, but its query builder emits
//! `?` on PostgreSQL and its value set loses booleans (sqlx issue #3000).

use std::borrow::Cow;

use futures_util::TryStreamExt;
use sqlx::{
    postgres::{PgArguments, PgConnection, PgPool, PgRow},
    sqlite::{SqliteArguments, SqliteConnection, SqlitePool, SqliteRow},
    Arguments, FromRow, Postgres, Sqlite,
};

/// A connection pool of either backend.
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A write transaction of either backend.
#[derive(Debug)]
pub(crate) enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

/// Every write transaction on PostgreSQL first takes this transaction-scoped advisory lock:
/// writers run one at a time across all replicas, exactly as SQLite's `BEGIN IMMEDIATE` makes
/// them, so the read-then-write logic of the store holds unchanged on both.
const WRITE_LOCK: i64 = 0x706f_7274_0001;

impl Pool {
    pub(crate) async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        match self {
            // Takes SQLite's write lock up front: a deferred transaction that reads and then
            // writes fails at once with "database is locked" when another connection wrote in
            // between, instead of waiting out the busy timeout.
            Pool::Sqlite(p) => Ok(Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?)),
            Pool::Postgres(p) => Ok(Tx::Postgres(begin_pg_write(p).await?)),
        }
    }

    pub(crate) fn is_sqlite(&self) -> bool {
        matches!(self, Pool::Sqlite(_))
    }
}

/// Whether a statement writes. On PostgreSQL a write run straight on the pool still takes the
/// write lock (in a transaction of its own): the store's single-statement guards, such as
/// "insert the first admin only if there is none", are atomic on SQLite because its writers
/// are serial, and under PostgreSQL's READ COMMITTED two of them would both pass.
fn is_write(sql: &str) -> bool {
    let head = sql.trim_start().get(..6).unwrap_or("");
    ["INSERT", "UPDATE", "DELETE"].iter().any(|w| head.eq_ignore_ascii_case(w))
}

async fn begin_pg_write(p: &PgPool) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = p.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(WRITE_LOCK).execute(&mut *tx).await?;
    Ok(tx)
}

impl Tx {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }

    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.rollback().await,
            Tx::Postgres(t) => t.rollback().await,
        }
    }

    pub(crate) fn is_sqlite(&self) -> bool {
        matches!(self, Tx::Sqlite(_))
    }
}

/// Where a query runs: a pool, or an open transaction.
pub(crate) enum Conn<'e> {
    SqlitePool(&'e SqlitePool),
    PgPool(&'e PgPool),
    Sqlite(&'e mut SqliteConnection),
    Postgres(&'e mut PgConnection),
}

pub(crate) trait Exec<'e> {
    fn conn(self) -> Conn<'e>;
}

impl<'e> Exec<'e> for &'e Pool {
    fn conn(self) -> Conn<'e> {
        match self {
            Pool::Sqlite(p) => Conn::SqlitePool(p),
            Pool::Postgres(p) => Conn::PgPool(p),
        }
    }
}

impl<'e> Exec<'e> for &'e mut Tx {
    fn conn(self) -> Conn<'e> {
        match self {
            Tx::Sqlite(t) => Conn::Sqlite(&mut *t),
            Tx::Postgres(t) => Conn::Postgres(&mut *t),
        }
    }
}

/// A bound value. Nulls keep their type: PostgreSQL checks it.
#[derive(Debug, Clone)]
pub(crate) enum Value<'q> {
    I64(Option<i64>),
    F64(Option<f64>),
    Bool(Option<bool>),
    Text(Option<Cow<'q, str>>),
}

pub(crate) trait Bind<'q> {
    fn value(self) -> Value<'q>;
}

macro_rules! bind_int {
    ($($t:ty),*) => {$(
        impl<'q> Bind<'q> for $t {
            fn value(self) -> Value<'q> {
                Value::I64(Some(i64::from(self)))
            }
        }
        impl<'q> Bind<'q> for Option<$t> {
            fn value(self) -> Value<'q> {
                Value::I64(self.map(i64::from))
            }
        }
        impl<'q> Bind<'q> for &'q $t {
            fn value(self) -> Value<'q> {
                Value::I64(Some(i64::from(*self)))
            }
        }
        impl<'q> Bind<'q> for &'q Option<$t> {
            fn value(self) -> Value<'q> {
                Value::I64(self.map(i64::from))
            }
        }
    )*};
}
bind_int!(i64, i32, u32, i16, u16, u8);

impl<'q> Bind<'q> for f64 {
    fn value(self) -> Value<'q> {
        Value::F64(Some(self))
    }
}

impl<'q> Bind<'q> for bool {
    fn value(self) -> Value<'q> {
        Value::Bool(Some(self))
    }
}
impl<'q> Bind<'q> for Option<bool> {
    fn value(self) -> Value<'q> {
        Value::Bool(self)
    }
}
impl<'q> Bind<'q> for &'q bool {
    fn value(self) -> Value<'q> {
        Value::Bool(Some(*self))
    }
}
impl<'q> Bind<'q> for &'q Option<bool> {
    fn value(self) -> Value<'q> {
        Value::Bool(*self)
    }
}

impl<'q> Bind<'q> for &'q str {
    fn value(self) -> Value<'q> {
        Value::Text(Some(Cow::Borrowed(self)))
    }
}
impl<'q> Bind<'q> for &'q &'q str {
    fn value(self) -> Value<'q> {
        Value::Text(Some(Cow::Borrowed(*self)))
    }
}
impl<'q> Bind<'q> for String {
    fn value(self) -> Value<'q> {
        Value::Text(Some(Cow::Owned(self)))
    }
}
impl<'q> Bind<'q> for &'q String {
    fn value(self) -> Value<'q> {
        Value::Text(Some(Cow::Borrowed(self.as_str())))
    }
}
impl<'q> Bind<'q> for Option<&'q str> {
    fn value(self) -> Value<'q> {
        Value::Text(self.map(Cow::Borrowed))
    }
}
impl<'q> Bind<'q> for &'q Option<&'q str> {
    fn value(self) -> Value<'q> {
        Value::Text(self.map(Cow::Borrowed))
    }
}
impl<'q> Bind<'q> for Option<String> {
    fn value(self) -> Value<'q> {
        Value::Text(self.map(Cow::Owned))
    }
}
impl<'q> Bind<'q> for Option<&'q String> {
    fn value(self) -> Value<'q> {
        Value::Text(self.map(|s| Cow::Borrowed(s.as_str())))
    }
}
impl<'q> Bind<'q> for &'q Option<String> {
    fn value(self) -> Value<'q> {
        Value::Text(self.as_deref().map(Cow::Borrowed))
    }
}

fn sqlite_args<'q>(values: Vec<Value<'q>>) -> Result<SqliteArguments<'q>, sqlx::Error> {
    let mut args = SqliteArguments::default();
    for v in values {
        match v {
            Value::I64(x) => args.add(x),
            Value::F64(x) => args.add(x),
            Value::Bool(x) => args.add(x),
            Value::Text(x) => args.add(x),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(args)
}

fn pg_args(values: Vec<Value<'_>>) -> Result<PgArguments, sqlx::Error> {
    let mut args = PgArguments::default();
    for v in values {
        match v {
            Value::I64(x) => args.add(x),
            Value::F64(x) => args.add(x),
            Value::Bool(x) => args.add(x),
            Value::Text(x) => args.add(x.map(Cow::into_owned)),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(args)
}

/// A row type both backends can decode (the `FromRow` derive gives both).
pub(crate) trait Record: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}
impl<T> Record for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

/// What a statement did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Done(u64);

impl Done {
    pub(crate) fn rows_affected(&self) -> u64 {
        self.0
    }
}

/// A statement and its bound values.
#[must_use]
pub(crate) struct Query<'q> {
    sql: Cow<'q, str>,
    args: Vec<Value<'q>>,
}

pub(crate) fn query(sql: &str) -> Query<'_> {
    Query { sql: Cow::Borrowed(sql), args: Vec::new() }
}

pub(crate) fn query_as<T: Record>(sql: &str) -> QueryAs<'_, T> {
    QueryAs { q: query(sql), row: std::marker::PhantomData }
}

impl<'q> Query<'q> {
    pub(crate) fn bind(mut self, v: impl Bind<'q>) -> Self {
        self.args.push(v.value());
        self
    }

    pub(crate) async fn execute<'e>(self, e: impl Exec<'e>) -> Result<Done, sqlx::Error> {
        let sql = &*self.sql;
        Ok(Done(match e.conn() {
            Conn::SqlitePool(c) => sqlx::query_with(sql, sqlite_args(self.args)?).execute(c).await?.rows_affected(),
            Conn::Sqlite(c) => sqlx::query_with(sql, sqlite_args(self.args)?).execute(c).await?.rows_affected(),
            Conn::PgPool(c) if is_write(sql) => {
                let mut tx = begin_pg_write(c).await?;
                let n = sqlx::query_with(sql, pg_args(self.args)?).execute(&mut *tx).await?.rows_affected();
                tx.commit().await?;
                n
            }
            Conn::PgPool(c) => sqlx::query_with(sql, pg_args(self.args)?).execute(c).await?.rows_affected(),
            Conn::Postgres(c) => sqlx::query_with(sql, pg_args(self.args)?).execute(c).await?.rows_affected(),
        }))
    }
}

/// A statement whose rows decode into `T`.
#[must_use]
pub(crate) struct QueryAs<'q, T> {
    q: Query<'q>,
    row: std::marker::PhantomData<fn() -> T>,
}

macro_rules! on_conn {
    ($e:expr, $args:expr, $sql:expr, |$q:ident, $c:ident| $body:expr) => {
        match $e.conn() {
            Conn::SqlitePool($c) => {
                let $q = sqlx::query_as_with::<Sqlite, T, _>($sql, sqlite_args($args)?);
                $body
            }
            Conn::Sqlite($c) => {
                let $q = sqlx::query_as_with::<Sqlite, T, _>($sql, sqlite_args($args)?);
                $body
            }
            Conn::PgPool(pool) if is_write($sql) => {
                let mut tx = begin_pg_write(pool).await?;
                let out: Result<_, sqlx::Error> = {
                    let $c = &mut *tx;
                    let $q = sqlx::query_as_with::<Postgres, T, _>($sql, pg_args($args)?);
                    $body
                };
                let out = out?;
                tx.commit().await?;
                Ok(out)
            }
            Conn::PgPool($c) => {
                let $q = sqlx::query_as_with::<Postgres, T, _>($sql, pg_args($args)?);
                $body
            }
            Conn::Postgres($c) => {
                let $q = sqlx::query_as_with::<Postgres, T, _>($sql, pg_args($args)?);
                $body
            }
        }
    };
}

impl<'q, T: Record> QueryAs<'q, T> {
    pub(crate) fn bind(mut self, v: impl Bind<'q>) -> Self {
        self.q = self.q.bind(v);
        self
    }

    pub(crate) async fn fetch_one<'e>(self, e: impl Exec<'e>) -> Result<T, sqlx::Error> {
        on_conn!(e, self.q.args, &self.q.sql, |q, c| q.fetch_one(c).await)
    }

    pub(crate) async fn fetch_optional<'e>(self, e: impl Exec<'e>) -> Result<Option<T>, sqlx::Error> {
        on_conn!(e, self.q.args, &self.q.sql, |q, c| q.fetch_optional(c).await)
    }

    pub(crate) async fn fetch_all<'e>(self, e: impl Exec<'e>) -> Result<Vec<T>, sqlx::Error> {
        on_conn!(e, self.q.args, &self.q.sql, |q, c| q.fetch_all(c).await)
    }

    /// Calls `f` for every row as it arrives: a large result is never held whole.
    pub(crate) async fn for_each<'e>(self, e: impl Exec<'e>, mut f: impl FnMut(T)) -> Result<(), sqlx::Error> {
        on_conn!(e, self.q.args, &self.q.sql, |q, c| {
            let mut rows = q.fetch(c);
            while let Some(row) = rows.try_next().await? {
                f(row);
            }
            Ok(())
        })
    }
}

/// Builds a statement piece by piece; every bound value becomes the next `$n`.
pub(crate) struct Builder<'q> {
    sql: String,
    args: Vec<Value<'q>>,
}

impl<'q> Builder<'q> {
    pub(crate) fn new(head: impl Into<String>) -> Self {
        Self { sql: head.into(), args: Vec::new() }
    }

    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    pub(crate) fn push_bind(&mut self, v: impl Bind<'q>) -> &mut Self {
        self.args.push(v.value());
        self.sql.push('$');
        self.sql.push_str(&self.args.len().to_string());
        self
    }

    /// Pushes with `separator` between the pieces (as sqlx's `QueryBuilder::separated`).
    pub(crate) fn separated(&mut self, separator: &'static str) -> Separated<'_, 'q> {
        Separated { builder: self, separator, first: true }
    }

    /// ` VALUES (…), (…)`: one parenthesised row per item.
    pub(crate) fn push_values<I, F>(&mut self, items: I, mut row: F) -> &mut Self
    where
        I: IntoIterator,
        F: FnMut(Separated<'_, 'q>, I::Item),
    {
        self.sql.push_str("VALUES ");
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.sql.push('(');
            row(self.separated(", "), item);
            self.sql.push(')');
        }
        self
    }

    pub(crate) fn build(self) -> Query<'q> {
        Query { sql: Cow::Owned(self.sql), args: self.args }
    }

    pub(crate) fn build_query_as<T: Record>(self) -> QueryAs<'q, T> {
        QueryAs { q: self.build(), row: std::marker::PhantomData }
    }
}

/// See [`Builder::separated`].
pub(crate) struct Separated<'b, 'q> {
    builder: &'b mut Builder<'q>,
    separator: &'static str,
    first: bool,
}

impl<'q> Separated<'_, 'q> {
    pub(crate) fn push_bind(&mut self, v: impl Bind<'q>) -> &mut Self {
        if !self.first {
            self.builder.sql.push_str(self.separator);
        }
        self.first = false;
        self.builder.push_bind(v);
        self
    }

    pub(crate) fn push_unseparated(&mut self, sql: &str) -> &mut Self {
        self.builder.sql.push_str(sql);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_told_from_reads() {
        assert!(is_write("  insert INTO x VALUES (1)"));
        assert!(is_write("UPDATE x SET a = 1"));
        assert!(is_write("DELETE FROM x"));
        assert!(!is_write("SELECT * FROM x"));
        assert!(!is_write("WITH"));
    }

    #[test]
    fn a_builder_numbers_its_parameters_in_order() {
        let mut b = Builder::new("SELECT 1 WHERE a = ");
        b.push_bind(1_i64).push(" AND b IN (");
        let mut list = b.separated(", ");
        list.push_bind("x").push_bind("y").push_unseparated(") ");
        b.push_values([(1_i64, "a"), (2, "b")], |mut row, (n, s)| {
            row.push_bind(n).push_bind(s);
        });
        let q = b.build();
        assert_eq!(q.sql, "SELECT 1 WHERE a = $1 AND b IN ($2, $3) VALUES ($4, $5), ($6, $7)");
        assert_eq!(q.args.len(), 7);
    }
}
