//! The inference path's errors, typed so that each maps to its HTTP status without reading
//! message text: a full queue is a 503 the client may retry, a model that fails is a 500.

/// Why rows could not be run through a deployment's models.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServingError {
    /// The model's inference queue is full.
    #[error("overloaded: the inference queue is full")]
    Overloaded,
    /// The model's inference thread is gone.
    #[error("the inference thread stopped")]
    Stopped,
    /// The model failed, panicked or answered a shape its block does not declare.
    #[error("{0}")]
    Model(String),
    /// The rows do not fit the graph (a missing input column, a combine that cannot merge).
    #[error("{0}")]
    Graph(String),
}

impl ServingError {
    /// The HTTP status a request that met this error answers.
    pub fn status(&self) -> u16 {
        match self {
            ServingError::Overloaded | ServingError::Stopped => 503,
            ServingError::Model(_) | ServingError::Graph(_) => 500,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_is_retryable_and_a_failing_model_is_a_server_error() {
        assert_eq!(ServingError::Overloaded.status(), 503);
        assert_eq!(ServingError::Stopped.status(), 503);
        assert_eq!(ServingError::Model("boom".into()).status(), 500);
        assert_eq!(ServingError::Graph("no column".into()).status(), 500);
        assert!(ServingError::Overloaded
            .to_string()
            .starts_with("overloaded"));
    }
}
