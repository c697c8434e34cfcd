//! Multi-row statements written as text, for the group commit's hottest
//! writes (instance rows and events): the profile of a group showed more
//! time in building them through the entity layer (an active model per
//! row, a query tree, every value cloned into it) and in turning each JSON
//! document into a `serde_json::Value` tree and back into text than in
//! SQLite executing them. Here a row's JSON is serialized once, straight to
//! text, and bound as text (`CAST(... AS jsonb)` on PostgreSQL; SQLite
//! keeps JSON as text either way). Every value is bound, none is spliced
//! into the text; the text depends only on the row count, so the driver's
//! prepared-statement cache serves it again.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement, Value};

use crate::Result;

/// One multi-row `INSERT`: the table, its columns (and which hold JSON),
/// and what follows the `VALUES` list (an `ON CONFLICT` clause).
pub(crate) struct Insert {
    pub table: &'static str,
    pub columns: &'static [&'static str],
    pub json: &'static [&'static str],
    pub tail: &'static str,
}

/// The `n`-th (1-based) bound value's placeholder on this backend.
pub(crate) fn mark(n: usize, pg: bool) -> String {
    if pg { format!("${n}") } else { "?".to_string() }
}

impl Insert {
    /// The statement's text for `rows` rows on this backend.
    fn text(&self, rows: usize, pg: bool) -> String {
        let mut sql = format!("INSERT INTO {} ({}) VALUES ", self.table, self.columns.join(", "));
        let mut n = 0;
        for r in 0..rows {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for (c, col) in self.columns.iter().enumerate() {
                if c > 0 {
                    sql.push_str(", ");
                }
                n += 1;
                if pg && self.json.contains(col) {
                    sql.push_str(&format!("CAST({} AS jsonb)", mark(n, pg)));
                } else {
                    sql.push_str(&mark(n, pg));
                }
            }
            sql.push(')');
        }
        if !self.tail.is_empty() {
            sql.push(' ');
            sql.push_str(self.tail);
        }
        sql
    }

    /// Runs the insert for `values` (a row's values in column order, row
    /// after row); the number of rows written (or updated by the tail).
    pub async fn run(&self, txn: &DatabaseTransaction, values: Vec<Value>) -> Result<u64> {
        let width = self.columns.len();
        if values.is_empty() {
            return Ok(0);
        }
        if !values.len().is_multiple_of(width) {
            return Err(crate::Error::Corrupt(format!(
                "{} values for rows of {width} columns of `{}`",
                values.len(),
                self.table
            )));
        }
        let backend = txn.get_database_backend();
        let sql = self.text(values.len() / width, backend == DbBackend::Postgres);
        Ok(txn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Insert = Insert { table: "t", columns: &["a", "doc"], json: &["doc"], tail: "ON CONFLICT (a) DO NOTHING" };

    #[test]
    fn placeholders_per_backend_and_json_cast_on_postgres() {
        assert_eq!(T.text(2, false), "INSERT INTO t (a, doc) VALUES (?, ?), (?, ?) ON CONFLICT (a) DO NOTHING");
        assert_eq!(
            T.text(2, true),
            "INSERT INTO t (a, doc) VALUES ($1, CAST($2 AS jsonb)), ($3, CAST($4 AS jsonb)) ON CONFLICT (a) DO NOTHING"
        );
    }
}
