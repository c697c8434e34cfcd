//! The database schema, as migrations that run unchanged on SQLite and
//! PostgreSQL. Add a new file for every change; never edit an applied one.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_init;
mod m20261130_000001_notifications;
mod m20261205_000001_access;
mod m20261206_000001_clients;
mod m20261207_000001_batches;
mod m20261208_000001_analytics;
mod m20261209_000001_sessions;
mod m20261210_000001_lz4;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_init::Migration),
            Box::new(m20261130_000001_notifications::Migration),
            Box::new(m20261205_000001_access::Migration),
            Box::new(m20261206_000001_clients::Migration),
            Box::new(m20261207_000001_batches::Migration),
            Box::new(m20261208_000001_analytics::Migration),
            Box::new(m20261209_000001_sessions::Migration),
            Box::new(m20261210_000001_lz4::Migration),
        ]
    }
}
