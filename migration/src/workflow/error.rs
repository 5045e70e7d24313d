use std::fmt;

use sea_orm_migration::DbErr;

/// A migrate command that could not do its work, with the reason in words for the operator.
#[derive(Debug)]
pub struct WorkflowError(String);

impl WorkflowError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// Prefixes what was being done, so the message reads from the outside in.
    pub fn context(self, doing: &str) -> Self {
        Self(format!("{doing}: {}", self.0))
    }
}

impl fmt::Display for WorkflowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WorkflowError {}

impl From<DbErr> for WorkflowError {
    fn from(error: DbErr) -> Self {
        Self(error.to_string())
    }
}

impl From<std::io::Error> for WorkflowError {
    fn from(error: std::io::Error) -> Self {
        Self(error.to_string())
    }
}
