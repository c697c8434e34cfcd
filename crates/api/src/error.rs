//! Errors as GraphQL sees them: a top-level error with `extensions.code`
//! (`UNAUTHENTICATED FORBIDDEN NOT_FOUND BAD_USER_INPUT CONFLICT
//! TASK_ALREADY_COMPLETED INTERNAL`), or `userErrors` in a payload for what
//! the user can fix (form fields, workflow source).

use async_graphql::{ErrorExtensions, SimpleObject};
use smmflow_engine::Error as EngineError;
use smmflow_runtime::{Code, Error as RuntimeError};

/// An API error. Deliberately not `Display`: it becomes a GraphQL error
/// only through `extend()`, which always sets `extensions.code`.
#[derive(Debug)]
pub enum ApiError {
    Unauthenticated,
    Forbidden(String),
    NotFound(String),
    BadInput(String),
    Conflict(String),
    AlreadyCompleted(String),
    /// Details are logged, never shown.
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// What the client is told (internals never leak).
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthenticated => "sign in: send `Authorization: Bearer <token>`".into(),
            ApiError::Internal(_) => "internal error".into(),
            ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::BadInput(m)
            | ApiError::Conflict(m)
            | ApiError::AlreadyCompleted(m) => m.clone(),
        }
    }

    pub fn code(&self) -> Code {
        match self {
            ApiError::Unauthenticated => Code::Unauthenticated,
            ApiError::Forbidden(_) => Code::Forbidden,
            ApiError::NotFound(_) => Code::NotFound,
            ApiError::BadInput(_) => Code::BadUserInput,
            ApiError::Conflict(_) => Code::Conflict,
            ApiError::AlreadyCompleted(_) => Code::TaskAlreadyCompleted,
            ApiError::Internal(_) => Code::Internal,
        }
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        if let ApiError::Internal(detail) = self {
            tracing::error!("internal error: {detail}");
        }
        async_graphql::Error::new(self.message()).extend_with(|_, e| e.set("code", self.code().as_str()))
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        e.extend()
    }
}

impl From<RuntimeError> for ApiError {
    /// Through the runtime's one mapping of errors to codes.
    fn from(e: RuntimeError) -> Self {
        let message = e.public_message();
        match e.code() {
            Code::Unauthenticated => ApiError::Unauthenticated,
            Code::Forbidden => ApiError::Forbidden(message),
            Code::NotFound => ApiError::NotFound(message),
            Code::BadUserInput | Code::PostingLimit => ApiError::BadInput(message),
            Code::Conflict => ApiError::Conflict(message),
            Code::TaskAlreadyCompleted => ApiError::AlreadyCompleted(message),
            Code::RateLimited | Code::Internal => ApiError::Internal(e.to_string()),
        }
    }
}

/// A problem the user can fix, returned in a payload's `userErrors`.
#[derive(Clone, Debug, SimpleObject)]
pub struct UserError {
    /// The path to the input field, e.g. `["output", "posts", "2", "platform"]`.
    pub field: Vec<String>,
    /// What is wrong, in words for people.
    pub message: String,
    /// A code such as `BAD_USER_INPUT`, `NOT_FOUND`, `CONFLICT`, `POSTING_LIMIT`, or a validator code (`E020`).
    pub code: String,
    /// Set for problems in workflow source.
    pub line: Option<i32>,
    /// Set with `line`: the column in the workflow source.
    pub column: Option<i32>,
}

impl UserError {
    pub fn at(field: Vec<String>, message: impl Into<String>, code: &str) -> Self {
        UserError { field, message: message.into(), code: code.into(), line: None, column: None }
    }

    pub fn from_diagnostic(d: &smmflow_spec::Diagnostic) -> Self {
        let message = match &d.hint {
            Some(h) => format!("{} ({h})", d.message),
            None => d.message.clone(),
        };
        UserError {
            field: vec!["source".into()],
            message,
            code: d.code.as_str().into(),
            line: Some(d.pos.line as i32),
            column: Some(d.pos.column as i32),
        }
    }
}

/// Form and input errors from the engine become `userErrors`; anything else stays an error.
pub fn user_errors(e: RuntimeError, field: &str) -> ApiResult<Vec<UserError>> {
    match e {
        RuntimeError::Engine(EngineError::BadUserInput { message, fields }) if !fields.is_empty() => {
            let _ = message;
            Ok(fields
                .into_iter()
                .map(|f| {
                    // `reasons` is an input field of its own (rejectTask), not
                    // a part of the value the error is otherwise about.
                    let mut path = match f.path.first().map(String::as_str) {
                        Some("reasons") => Vec::new(),
                        _ => vec![field.to_string()],
                    };
                    path.extend(f.path.into_iter().filter(|p| p != "inputs"));
                    UserError::at(path, f.message, "BAD_USER_INPUT")
                })
                .collect())
        }
        RuntimeError::Invalid(diags) => {
            Ok(diags.iter().filter(|d| d.is_error()).map(UserError::from_diagnostic).collect())
        }
        RuntimeError::Field { field, message } => Ok(vec![UserError::at(vec![field], message, "BAD_USER_INPUT")]),
        RuntimeError::Items(items) => {
            Ok(items.into_iter().map(|i| UserError::at(i.path, i.message, i.code.as_str())).collect())
        }
        RuntimeError::FieldConflict { field, message } => Ok(vec![UserError::at(vec![field], message, "CONFLICT")]),
        other => Err(other.into()),
    }
}
