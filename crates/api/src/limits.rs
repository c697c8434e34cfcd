//! What one request may cost, so no caller can stall the others.
//!
//! - Cost (async-graphql's complexity): every field costs 1 plus what it
//!   selects; a connection multiplies what it selects by its page size
//!   (`first`/`last`, else the default 20), and a plain list (an instance's
//!   tasks, events, steps...) by [`LIST_COST`]. Aliases count once each. A
//!   request over [`MAX_COMPLEXITY`] is refused before it runs.
//! - Rate: each user has a budget of cost per minute (per replica), spent
//!   by every request that passes validation; an empty budget answers
//!   `RATE_LIMITED` with the seconds to wait. Unauthenticated requests share
//!   one budget.
//! - Time: parsing and validation are linear in the query, which the body
//!   limit bounds; execution is cut off after [`EXECUTION_TIMEOUT`].

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextRequest, NextValidation,
};
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::Session;

/// Query depth limit: a 50-level query is refused.
pub const MAX_DEPTH: usize = 16;
/// The most a request may cost.
pub const MAX_COMPLEXITY: usize = 10_000;
/// What a plain list is assumed to hold, for its cost.
pub const LIST_COST: usize = 10;
/// A connection's page when neither `first` nor `last` is given.
pub const DEFAULT_PAGE: usize = 20;
/// How long a request may run.
pub const EXECUTION_TIMEOUT: Duration = Duration::from_secs(30);
/// The default budget per user and minute (`SMMFLOW_QUERY_COST_PER_MINUTE`).
pub const DEFAULT_COST_PER_MINUTE: u32 = 600_000;

/// The cost of a connection field: its page size times what it selects.
pub fn page_cost(first: Option<i32>, last: Option<i32>, child: usize) -> usize {
    let n = first.or(last).map_or(DEFAULT_PAGE, |n| usize::try_from(n.clamp(1, 100)).unwrap_or(100));
    n.saturating_mul(child).saturating_add(1)
}

/// The cost of a plain list field.
pub fn list_cost(child: usize) -> usize {
    LIST_COST.saturating_mul(child).saturating_add(1)
}

/// PostgreSQL cannot store or even compare text holding NUL, and SQLite
/// can: a request carrying one is refused up front, the same on both
/// (variables, and `\u0000` escapes in the query text).
pub fn refuse_nul(req: &async_graphql::Request) -> Result<(), String> {
    let vars = serde_json::to_value(&req.variables).unwrap_or_default();
    if smmflow_spec::text::value(&vars).is_err_and(|(_, m)| m.contains("NUL")) {
        return Err("a variable holds the NUL character (\\u0000), which is not accepted".into());
    }
    if req.query.contains('\0') || escapes_nul(&req.query) {
        return Err("the query holds the NUL character (\\u0000), which is not accepted".into());
    }
    Ok(())
}

/// True when the text has `\u0000` (or `\u{0}`) in it.
fn escapes_nul(q: &str) -> bool {
    q.match_indices("\\u").any(|(i, m)| {
        let rest = &q[i + m.len()..];
        let rest = rest.strip_prefix('{').unwrap_or(rest);
        let zeros = rest.chars().take_while(|c| *c == '0').count();
        zeros > 0 && !rest[zeros..].starts_with(|c: char| c.is_ascii_hexdigit())
    })
}

/// The per-user budgets of one replica.
pub struct Budgets {
    limiter: DefaultKeyedRateLimiter<String>,
    per_minute: NonZeroU32,
}

impl Budgets {
    /// `per_minute` cost units per user; None turns the rate limit off.
    pub fn new(per_minute: u32) -> Option<Arc<Budgets>> {
        let per_minute = NonZeroU32::new(per_minute)?;
        let limiter = RateLimiter::keyed(Quota::per_minute(per_minute));
        Some(Arc::new(Budgets { limiter, per_minute }))
    }

    /// Spends `cost` of `who`'s budget; Err(seconds to wait) when it is not there.
    fn spend(&self, who: &str, cost: usize) -> Result<(), u64> {
        let cost = u32::try_from(cost.max(1)).unwrap_or(u32::MAX).min(self.per_minute.get());
        let Some(n) = NonZeroU32::new(cost) else { return Ok(()) };
        match self.limiter.check_key_n(&who.to_string(), n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => {
                Err(not_until.wait_time_from(DefaultClock::default().now()).as_secs().saturating_add(1))
            }
            Err(_) => Err(60),
        }
    }

    /// Forgets users whose budget is full again (called now and then).
    pub fn shrink(&self) {
        self.limiter.retain_recent();
    }
}

/// The async-graphql extension every request passes, over HTTP and
/// WebSocket alike: NUL is refused before anything runs, and every error
/// leaves with a code (parse and validation errors: `BAD_USER_INPUT`).
pub struct Hygiene;

impl ExtensionFactory for Hygiene {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Hygiene)
    }
}

fn bad_input(message: String) -> ServerError {
    let mut e = ServerError::new(message, None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", "BAD_USER_INPUT");
    e.extensions = Some(ext);
    e
}

#[async_graphql::async_trait::async_trait]
impl Extension for Hygiene {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut resp = next.run(ctx).await;
        for e in &mut resp.errors {
            let ext = e.extensions.get_or_insert_with(Default::default);
            if ext.get("code").is_none() {
                ext.set("code", "BAD_USER_INPUT");
            }
        }
        resp
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        refuse_nul(&request).map_err(bad_input)?;
        next.run(ctx, request).await
    }
}

/// The async-graphql extension that charges each request's cost.
pub struct Budget(pub Arc<Budgets>);

impl ExtensionFactory for Budget {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Charge(self.0.clone()))
    }
}

struct Charge(Arc<Budgets>);

#[async_graphql::async_trait::async_trait]
impl Extension for Charge {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        let who = ctx.data_opt::<Session>().and_then(|a| a.viewer().ok()).map_or("", |v| v.login());
        if let Err(wait) = self.0.spend(who, result.complexity) {
            let mut e = ServerError::new(
                format!(
                    "rate limited: this request costs {}, more than is left of your budget of {} a minute; try again in {wait} s",
                    result.complexity, self.0.per_minute
                ),
                None,
            );
            let mut ext = async_graphql::ErrorExtensionValues::default();
            ext.set("code", "RATE_LIMITED");
            ext.set("retryAfterSeconds", wait);
            e.extensions = Some(ext);
            return Err(vec![e]);
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_multiply_and_hostile_sizes_do_not_overflow() {
        assert_eq!(page_cost(Some(100), None, 10), 1001);
        assert_eq!(page_cost(None, Some(5), 10), 51);
        assert_eq!(page_cost(None, None, 10), 201);
        assert_eq!(page_cost(Some(i32::MAX), None, usize::MAX), usize::MAX);
        assert_eq!(page_cost(Some(-5), None, 3), 4);
    }

    #[test]
    fn nul_is_refused_in_variables_and_query_text() {
        let req = |q: &str, v: serde_json::Value| {
            async_graphql::Request::new(q).variables(async_graphql::Variables::from_json(v))
        };
        assert!(refuse_nul(&req("{ viewer { login } }", serde_json::json!({"a": "fine"}))).is_ok());
        assert!(refuse_nul(&req("{ x }", serde_json::json!({"a": {"b": ["n\u{0}l"]}}))).is_err());
        assert!(
            refuse_nul(&req(r#"{ tasks(filter: {role: "a\u0000"}) { totalCount } }"#, serde_json::json!({}))).is_err()
        );
        assert!(refuse_nul(&req(r#"{ x(a: "\u{0}") }"#, serde_json::json!({}))).is_err());
        assert!(refuse_nul(&req(r#"{ x(a: "\u00e9 \u0001") }"#, serde_json::json!({}))).is_ok());
    }

    #[test]
    fn a_budget_is_spent_per_user() {
        let b = Budgets::new(1000).unwrap();
        assert!(b.spend("anna", 600).is_ok());
        assert!(b.spend("anna", 600).is_err(), "anna's budget is spent");
        assert!(b.spend("boris", 600).is_ok(), "boris has his own");
        assert!(Budgets::new(0).is_none());
    }
}
