//! Access: the organization-level permission to deploy workflows
//! (`users.can_deploy_workflows`; admins have it implicitly), and a public
//! id for each API token so its owner can list and revoke it (the token
//! itself is never stored, and its hash is not shown).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    CanDeployWorkflows,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    TokenHash,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(Users::Table).add_column(boolean(Users::CanDeployWorkflows).default(false)).to_owned(),
        )
        .await?;
        m.alter_table(Table::alter().table(ApiTokens::Table).add_column(text_null(ApiTokens::Id)).to_owned()).await?;
        // Tokens made before get an id from their hash (which is itself
        // a hash of a random secret: its first half gives nothing away).
        let backfill = Query::update()
            .table(ApiTokens::Table)
            .value(ApiTokens::Id, Func::cust(Alias::new("substr")).arg(Expr::col(ApiTokens::TokenHash)).arg(1).arg(32))
            .and_where(Expr::col(ApiTokens::Id).is_null())
            .to_owned();
        m.exec_stmt(backfill).await?;
        m.create_index(
            Index::create()
                .name("ux_api_tokens_id")
                .table(ApiTokens::Table)
                .col(ApiTokens::Id)
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("ux_api_tokens_id").table(ApiTokens::Table).if_exists().to_owned()).await?;
        m.alter_table(Table::alter().table(ApiTokens::Table).drop_column(ApiTokens::Id).to_owned()).await?;
        m.alter_table(Table::alter().table(Users::Table).drop_column(Users::CanDeployWorkflows).to_owned()).await?;
        Ok(())
    }
}
