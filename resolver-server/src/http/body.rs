//! Reading request bodies with a size limit and a deadline, and the caller's preferred
//! language. Shared by the wire modules; each turns a [`BodyError`] into its own error format.

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{header, StatusCode};
use actix_web::rt::time::{sleep, Sleep};
use actix_web::{web, Error, HttpMessage, HttpRequest};
use futures_util::{Stream, StreamExt};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

/// How long a request body may take to arrive by default, counted from the end of its headers.
/// actix's `client_request_timeout` covers the headers only; without this a client that sends
/// less than its `Content-Length` holds a connection for as long as it likes.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest request body any endpoint reads (a SerwerSMS import of tens of thousands of
/// contacts fits); larger bodies are answered 413 without being read.
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    TooLarge,
    /// Cut off or malformed; a body that missed its deadline too (the [`deadline`] middleware
    /// turns that answer into 408, whatever the API wrote in it).
    Broken,
}

/// The request's body stream, ended with an error once `sleep` fires first.
struct DeadlineBody {
    inner: Payload,
    sleep: Pin<Box<Sleep>>,
    missed: Rc<Cell<bool>>,
}

impl Stream for DeadlineBody {
    type Item = Result<web::Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.missed.get() {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(context) {
            return Poll::Ready(item);
        }
        match self.sleep.as_mut().poll(context) {
            Poll::Ready(()) => {
                self.missed.set(true);
                Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "request body timed out",
                )))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Middleware (`App::wrap_fn`): the body must arrive within `timeout` of the request reaching
/// the app. A handler reading it late gets a read error, answers in its API's format, and that
/// answer goes out as `408 Request Timeout` with `Connection: close` (the rest of the body may
/// still be on its way).
pub fn deadline<S, B>(
    mut request: ServiceRequest,
    service: &S,
    timeout: Duration,
) -> impl Future<Output = Result<ServiceResponse<B>, Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let missed = Rc::new(Cell::new(false));
    let body = DeadlineBody {
        inner: request.take_payload(),
        sleep: Box::pin(sleep(timeout)),
        missed: Rc::clone(&missed),
    };
    request.set_payload(Payload::Stream {
        payload: Box::pin(body),
    });
    let call = service.call(request);
    async move {
        let mut response = call.await?;
        if missed.get() {
            let head = response.response_mut().head_mut();
            head.status = StatusCode::REQUEST_TIMEOUT;
            head.set_connection_type(actix_web::http::ConnectionType::Close);
        }
        Ok(response)
    }
}

/// Reads the whole body, refusing more than `limit` bytes.
pub async fn read_limited(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, BodyError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| BodyError::Broken)?;
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Whether the request's `Accept-Language` prefers English over Polish (Polish is the default).
pub fn prefers_english(request: &HttpRequest) -> bool {
    english_over_polish(request) == Some(true)
}

/// Whether the request's `Accept-Language` prefers Polish over English (English is the default).
pub fn prefers_polish(request: &HttpRequest) -> bool {
    english_over_polish(request) == Some(false)
}

/// `Some(true)` when English ranks above Polish, `Some(false)` when Polish does, `None` when
/// the header names neither.
fn english_over_polish(request: &HttpRequest) -> Option<bool> {
    use actix_web::http::header::{AcceptLanguage, Header, Preference};
    // actix's typed header parses the ranges and q-values; `ranked` is best first.
    let accepted = AcceptLanguage::parse(request).ok()?;
    accepted.ranked().into_iter().find_map(|range| match range {
        Preference::Specific(tag) => match tag.primary_language() {
            language if language.eq_ignore_ascii_case("en") => Some(true),
            language if language.eq_ignore_ascii_case("pl") => Some(false),
            _ => None,
        },
        Preference::Any => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn english(value: &str) -> bool {
        prefers_english(
            &TestRequest::default()
                .insert_header((header::ACCEPT_LANGUAGE, value))
                .to_http_request(),
        )
    }

    #[test]
    fn english_only_when_preferred_over_polish() {
        assert!(english("en-US,en;q=0.9"));
        assert!(english("de, en;q=0.5"));
        assert!(!english("pl-PL,pl;q=0.9,en;q=0.8"));
        assert!(!english("de"));
        assert!(!prefers_english(&TestRequest::default().to_http_request()));
        assert!(!prefers_polish(&TestRequest::default().to_http_request()));
        assert!(prefers_polish(
            &TestRequest::default()
                .insert_header((header::ACCEPT_LANGUAGE, "pl"))
                .to_http_request()
        ));
    }
}
