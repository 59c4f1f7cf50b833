//! Errors as HTTP answers in OpenAI's shape:
//! `{"error": {"message": "...", "type": "...", "param": ..., "code": ...}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// A request the server refuses or could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// OpenAI's error type (`invalid_request_error`, `authentication_error`, ...).
    pub kind: &'static str,
    /// The request field at fault, when there is one.
    pub param: Option<String>,
    /// A short machine-readable code, when there is one.
    pub code: Option<&'static str>,
    /// What is wrong, for people.
    pub message: String,
}

impl ApiError {
    /// A 400 about `param`.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            param: Some(param.into()),
            code: None,
            message: message.into(),
        }
    }

    /// A 401: no or a wrong API key.
    pub fn unauthorized() -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            kind: "authentication_error",
            param: None,
            code: Some("invalid_api_key"),
            message: "missing or wrong API key (send `Authorization: Bearer KEY`)".into(),
        }
    }

    /// A 404 for a model this server does not serve.
    pub fn unknown_model(name: &str, served: &str) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            kind: "invalid_request_error",
            param: Some("model".into()),
            code: Some("model_not_found"),
            message: format!(
                "the model `{name}` does not exist here (this server serves `{served}`)"
            ),
        }
    }

    /// A 503: the queue is full.
    pub fn busy() -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            kind: "server_error",
            param: None,
            code: Some("server_busy"),
            message: "the server's queue is full; retry later".into(),
        }
    }

    /// A 504: the answer took longer than the server's limit.
    pub fn timeout(seconds: f64) -> Self {
        ApiError {
            status: StatusCode::GATEWAY_TIMEOUT,
            kind: "server_error",
            param: None,
            code: Some("timeout"),
            message: format!("the answer took longer than {seconds} s"),
        }
    }

    /// A 500 for a failure of the server itself.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "server_error",
            param: None,
            code: None,
            message: message.into(),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        json!({
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}
