//! Cross-cutting tower layers of the server, each a small, separately testable piece; the order
//! they run in is set in one place, [`crate::server::build_stack`].

use tonic::Status;
use tower::BoxError;

/// The header carrying the request id (set when the caller sent none, echoed in the response).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Turns the errors of the admission layers into gRPC statuses a client can act on:
/// load shedding becomes RESOURCE_EXHAUSTED (retry with backoff), a timeout DEADLINE_EXCEEDED.
/// Anything else stays an error (tonic answers it as a connection-level failure).
pub fn admission_errors_to_status<B: Default>(
    result: Result<http::Response<B>, BoxError>,
) -> Result<http::Response<B>, BoxError> {
    match result {
        Ok(response) => Ok(response),
        Err(error) if error.is::<tower::load_shed::error::Overloaded>() => {
            tracing::warn!("load shed: too many calls in progress");
            Ok(Status::resource_exhausted("too many calls in progress; retry with backoff").into_http())
        }
        Err(error) if error.is::<tower::timeout::error::Elapsed>() => {
            Ok(Status::deadline_exceeded("the call took longer than the server's request timeout").into_http())
        }
        Err(error) => Err(error),
    }
}

/// The tracing span of one call: method and request id, never the payload.
pub fn call_span<B>(request: &http::Request<B>) -> tracing::Span {
    let request_id = request.headers().get(REQUEST_ID_HEADER).and_then(|value| value.to_str().ok()).unwrap_or("");
    tracing::info_span!("grpc", method = %request.uri().path(), request_id = %request_id)
}
