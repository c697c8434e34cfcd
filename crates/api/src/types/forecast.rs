//! `forecast(instanceId:)` and `Publication.forecast`: when an instance's
//! steps are expected done, from the workflow's history in its workspace.

use async_graphql::{Object, SimpleObject};
use chrono::{DateTime, Utc};
use smmflow_runtime::forecast::Forecast;

pub struct ForecastObj(pub Forecast);

/// When an instance's steps are expected done, from the workflow's history and the open work per role.
#[Object(name = "Forecast")]
impl ForecastObj {
    /// When every step is expected done (each taking its history's p50).
    async fn expected_completion(&self) -> DateTime<Utc> {
        self.0.expected_completion
    }
    /// The same with every step taking its history's p90.
    async fn p90_completion(&self) -> DateTime<Utc> {
        self.0.p90_completion
    }
    /// The role with the most expected time left.
    async fn bottleneck_role(&self) -> Option<&str> {
        self.0.bottleneck_role.as_deref()
    }
    /// Each step of the definition, in order (done steps: when they were done).
    async fn steps(&self) -> Vec<StepForecast> {
        self.0
            .steps
            .iter()
            .map(|s| StepForecast { step: s.step.clone(), expected_done_at: s.expected_done_at })
            .collect()
    }
}

/// When one step of an instance is expected done.
#[derive(SimpleObject)]
pub struct StepForecast {
    /// The step's key from the YAML.
    pub step: String,
    /// When it is expected done, or was done (RFC 3339, UTC).
    pub expected_done_at: DateTime<Utc>,
}

/// A publication's forecast: when it is expected ready to go out.
#[derive(SimpleObject)]
pub struct PublicationForecast {
    /// When every step before its first `wait` is expected done.
    pub expected_ready_at: DateTime<Utc>,
    /// Still in production and expected ready after its time.
    pub at_risk: bool,
}
