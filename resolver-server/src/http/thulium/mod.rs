//! The Thulium-compatible outbound campaign API: batch and single records, record view, update
//! and removal, campaign statuses. HTTP Basic authentication with an API user's login and its
//! password or one of the account's API tokens.
//!
//! Spec: `shared/spec/thulium-batch-api.md`.

mod error;
mod wire;

use super::auth::{authorization, retry_after_seconds, Attempt};
use super::body::{prefers_polish, read_limited, BodyError, MAX_BODY_BYTES};
use super::AppState;
use crate::domain::{
    self, AccountId, AuthFailure, CampaignId, ContactId, DomainResult, Principal, RecordOutcome,
    MAX_BATCH_RECORDS,
};
use crate::http;
use crate::store::Store;
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use base64::Engine;
use error::RequestError;
use serde_json::{json, Map, Value};
use std::future::Future;
use std::pin::Pin;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route(
            "/api/batch/crm_outbounds/{id}/records",
            web::post().to(batch_add),
        )
        .route(
            "/api/batch/crm_outbounds/{id}/records",
            web::delete().to(batch_remove),
        )
        .route("/api/crm_outbounds/{id}/records", web::post().to(add_one))
        .route("/api/crm_outbounds/{id}/records", web::get().to(list))
        .route(
            "/api/crm_outbounds/{id}/records/{customer_id}",
            web::get().to(view),
        )
        .route(
            "/api/crm_outbounds/{id}/records/{customer_id}",
            web::put().to(update),
        )
        .route("/api/outbounds/{id}/statuses", web::get().to(statuses));
}

/// What every call needs: who asks, in which language, and the id its answers carry.
#[derive(Debug)]
struct Call {
    request_id: String,
    polish: bool,
}

impl Call {
    fn new(request: &HttpRequest) -> Call {
        Call {
            request_id: uuid::Uuid::new_v4().simple().to_string(),
            polish: prefers_polish(request),
        }
    }

    fn fail(&self, error: RequestError) -> HttpResponse {
        error.respond(&self.request_id, self.polish)
    }
}

/// A call about one campaign of the caller's account: authenticated first, then the path's
/// `{id}` parsed, so a bad login is refused before anything about the campaign is said.
struct CampaignCall {
    call: Call,
    account: AccountId,
    campaign: CampaignId,
    state: web::Data<AppState>,
}

impl CampaignCall {
    /// Runs `work` for this account and campaign off the async workers.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store, AccountId, &CampaignId) -> DomainResult<T> + Send + 'static,
    ) -> Result<T, RequestError> {
        let (account, campaign) = (self.account, self.campaign.clone());
        Ok(http::blocking(&self.state.store, move |store| {
            work(store, account, &campaign)
        })
        .await?)
    }

    /// Answers once the writes before it are durable.
    async fn flushed(&self) -> Result<(), RequestError> {
        Ok(http::flushed(&self.state.store).await?)
    }

    /// The answer rendered by `render`, or the failure in the API's error shape.
    fn respond<T>(
        &self,
        answer: Result<T, RequestError>,
        render: impl FnOnce(T) -> HttpResponse,
    ) -> HttpResponse {
        match answer {
            Ok(answer) => render(answer),
            Err(error) => self.call.fail(error),
        }
    }
}

/// The `{id}` segment of a campaign's routes, decoded as `web::Path` decodes it.
#[derive(serde::Deserialize)]
struct CampaignPath {
    id: String,
}

/// A call refused before its handler ran, answered in the API's error shape.
#[derive(Debug)]
struct Refused {
    call: Call,
    error: RequestError,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error.message(false))
    }
}

impl ResponseError for Refused {
    fn status_code(&self) -> StatusCode {
        self.error.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.call.fail(self.error)
    }
}

impl FromRequest for CampaignCall {
    type Error = Refused;
    type Future = Pin<Box<dyn Future<Output = Result<CampaignCall, Refused>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let call = Call::new(&request);
            let checked = async {
                let state = request
                    .app_data::<web::Data<AppState>>()
                    .ok_or(RequestError::Internal)?
                    .clone();
                let principal = authenticate(&request, &state).await?;
                // Cannot fail on these routes: every one of them has an `{id}`.
                let path = web::Path::<CampaignPath>::extract(&request)
                    .await
                    .map_err(|_| RequestError::CampaignNotFound)?;
                Ok((principal.account, campaign_id(&path.id)?, state))
            }
            .await;
            match checked {
                Ok((account, campaign, state)) => Ok(CampaignCall {
                    call,
                    account,
                    campaign,
                    state,
                }),
                Err(error) => Err(Refused { call, error }),
            }
        })
    }
}

/// `Authorization: Basic` with a login and its password (argon2, checked off the async
/// workers) or an API token of the same account in place of the password.
async fn authenticate(request: &HttpRequest, state: &AppState) -> Result<Principal, RequestError> {
    let encoded = authorization(request, "Basic").ok_or(RequestError::Unauthorized)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| RequestError::Unauthorized)?;
    let decoded = String::from_utf8(decoded).map_err(|_| RequestError::Unauthorized)?;
    let (login, secret) = decoded.split_once(':').ok_or(RequestError::Unauthorized)?;
    let (login, secret) = (login.to_owned(), secret.to_owned());
    let store = state.store.clone();
    let attempt = Attempt::of(request, state);
    let outcome =
        web::block(move || domain::authenticate_login(&store, attempt.get(), &login, &secret))
            .await
            .map_err(|_| RequestError::Internal)??;
    outcome.map_err(|failure| match failure {
        AuthFailure::Throttled { retry_after } => RequestError::TooManyAttempts {
            retry_after_seconds: retry_after_seconds(retry_after),
        },
        AuthFailure::BadPassword | AuthFailure::UnknownToken | AuthFailure::ExpiredToken => {
            RequestError::Unauthorized
        }
    })
}

fn campaign_id(text: &str) -> Result<CampaignId, RequestError> {
    CampaignId::parse(text).ok_or(RequestError::CampaignNotFound)
}

/// Reads a JSON body (Content-Type must say JSON).
async fn json_body(request: &HttpRequest, payload: web::Payload) -> Result<Value, RequestError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.to_ascii_lowercase().contains("json") {
        return Err(RequestError::WrongContentType);
    }
    let body = read_limited(request, payload, MAX_BODY_BYTES)
        .await
        .map_err(|error| match error {
            BodyError::TooLarge => RequestError::BodyTooLarge,
            BodyError::Broken => RequestError::MalformedJson,
        })?;
    serde_json::from_slice(&body).map_err(|_| RequestError::MalformedJson)
}

/// `POST /api/batch/crm_outbounds/:id/records`.
async fn batch_add(
    call: CampaignCall,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let answer = batch_add_answer(&call, &request, payload).await;
    call.respond(answer, |answer| HttpResponse::Ok().json(answer))
}

async fn batch_add_answer(
    call: &CampaignCall,
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<Value, RequestError> {
    let body = json_body(request, payload).await?;
    let records = body
        .get("records")
        .and_then(Value::as_array)
        .ok_or(RequestError::MissingRecords)?;
    if records.len() > MAX_BATCH_RECORDS {
        return Err(RequestError::TooManyRecords);
    }
    let parsed: Vec<(String, Result<domain::RecordInput, &'static str>)> = records
        .iter()
        .enumerate()
        .map(|(position, record)| {
            (
                wire::record_key(record, position),
                wire::record_input(record),
            )
        })
        .collect();
    let inputs: Vec<domain::RecordInput> = parsed
        .iter()
        .filter_map(|(_, input)| input.as_ref().ok().cloned())
        .collect();
    let outcomes = call
        .blocking(move |store, account, id| domain::add_records(store, account, id, &inputs))
        .await?;
    if outcomes
        .iter()
        .any(|(_, outcome)| matches!(outcome, RecordOutcome::Added { .. }))
    {
        call.flushed().await?;
    }
    let polish = call.call.polish;
    let mut answer = Map::new();
    for (key, input) in parsed {
        if answer.contains_key(&key) {
            continue;
        }
        let value = match input {
            Ok(input) => match outcomes
                .iter()
                .find(|(customer, _)| *customer == input.customer)
            {
                Some((_, outcome)) => wire::outcome(*outcome, polish),
                None => continue,
            },
            Err(field) => wire::malformed(field, polish),
        };
        answer.insert(key, value);
    }
    Ok(Value::Object(answer))
}

/// `POST /api/crm_outbounds/:id/records` with one record.
async fn add_one(call: CampaignCall, request: HttpRequest, payload: web::Payload) -> HttpResponse {
    let answer = async {
        let body = json_body(&request, payload).await?;
        let input = wire::record_input(&body).map_err(RequestError::BadRecordField)?;
        let outcome = call
            .blocking(move |store, account, id| domain::add_records(store, account, id, &[input]))
            .await?;
        match outcome.first().map(|(_, outcome)| *outcome) {
            Some(RecordOutcome::Added { record_id }) => {
                call.flushed().await?;
                Ok(record_id)
            }
            Some(RecordOutcome::AlreadyExists { .. }) => Err(RequestError::AlreadyExists),
            Some(RecordOutcome::Failed(refusal)) => Err(RequestError::Refused(refusal)),
            None => Err(RequestError::Internal),
        }
    }
    .await;
    call.respond(answer, |record_id| {
        HttpResponse::Created().json(json!({ "record_id": record_id.to_string() }))
    })
}

fn customer_id(text: &str) -> Result<ContactId, RequestError> {
    text.trim()
        .parse()
        .map(ContactId)
        .map_err(|_| RequestError::RecordNotFound)
}

/// `GET /api/crm_outbounds/:id/records/:customer_id`.
async fn view(call: CampaignCall, path: web::Path<(String, String)>) -> HttpResponse {
    let answer = async {
        let customer = customer_id(&path.1)?;
        call.blocking(move |store, account, id| domain::view_record(store, account, id, customer))
            .await
    }
    .await;
    call.respond(answer, |view| HttpResponse::Ok().json(wire::record(&view)))
}

/// The query of the records list; every value optional, each a whole number when given.
#[derive(serde::Deserialize)]
struct ListQuery {
    status_id: Option<String>,
    page: Option<String>,
    limit: Option<String>,
}

/// A whole number given in the query, `None` when absent or empty.
fn number<T: std::str::FromStr>(
    value: Option<&str>,
    field: &'static str,
) -> Result<Option<T>, RequestError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| RequestError::InvalidValue(field)),
    }
}

/// `GET /api/crm_outbounds/:id/records?status_id=&page=&limit=`: a page of the campaign's
/// records in the order they were added, each in the single-record answer's shape.
async fn list(call: CampaignCall, request: HttpRequest) -> HttpResponse {
    let answer = async {
        let query: ListQuery = serde_qs::Config::new(0, false)
            .deserialize_str(request.query_string())
            .map_err(|_| RequestError::InvalidValue("query"))?;
        let status_id = number::<u32>(query.status_id.as_deref(), "status_id")?;
        let paging = domain::Paging::new(
            number::<i64>(query.page.as_deref(), "page")?,
            number::<i64>(query.limit.as_deref(), "limit")?,
        );
        call.blocking(move |store, account, id| {
            domain::campaign_records(store, account, id, status_id, paging)
        })
        .await
    }
    .await;
    call.respond(answer, |page| {
        HttpResponse::Ok().json(json!({
            "items": page.items.iter().map(|item| wire::record(&item.view)).collect::<Vec<_>>(),
            "paging": {"page": page.page, "count": page.pages},
        }))
    })
}

/// `PUT /api/crm_outbounds/:id/records/:customer_id`: status, agent, next call date, order.
async fn update(
    call: CampaignCall,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> HttpResponse {
    let answer = async {
        let customer = customer_id(&path.1)?;
        let change = wire::record_change(&json_body(&request, payload).await?)
            .map_err(RequestError::BadRecordField)?;
        let view = call
            .blocking(move |store, account, id| {
                domain::update_record(store, account, id, customer, &change)
            })
            .await?
            .map_err(RequestError::Refused)?;
        call.flushed().await?;
        Ok(view)
    }
    .await;
    call.respond(answer, |view| HttpResponse::Ok().json(wire::record(&view)))
}

/// `DELETE /api/batch/crm_outbounds/:id/records?customer_id[]=…`.
async fn batch_remove(call: CampaignCall, request: HttpRequest) -> HttpResponse {
    let answer = async {
        let query: Map<String, Value> = serde_qs::Config::new(2, false)
            .deserialize_str(request.query_string())
            .map_err(|_| RequestError::MissingCustomers)?;
        let given: Vec<String> = match query.get("customer_id") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        if given.is_empty() {
            return Err(RequestError::MissingCustomers);
        }
        let customers: Vec<ContactId> = given
            .iter()
            .filter_map(|text| text.trim().parse().ok().map(ContactId))
            .collect();
        let removed = call
            .blocking(move |store, account, id| {
                domain::remove_records(store, account, id, &customers)
            })
            .await?;
        if removed.iter().any(|(_, record)| record.is_some()) {
            call.flushed().await?;
        }
        let mut answer = Map::new();
        for text in given {
            let key = text.trim().to_owned();
            let value = match key.parse::<u64>() {
                Ok(number) => wire::removed(
                    removed
                        .iter()
                        .find(|(c, _)| c.0 == number)
                        .and_then(|(_, record)| *record),
                ),
                Err(_) => wire::malformed("customer_id", call.call.polish),
            };
            answer.entry(key).or_insert(value);
        }
        Ok(Value::Object(answer))
    }
    .await;
    call.respond(answer, |answer| {
        HttpResponse::build(StatusCode::OK).json(answer)
    })
}

/// `GET /api/outbounds/:id/statuses`.
async fn statuses(call: CampaignCall) -> HttpResponse {
    let answer = call.blocking(domain::campaign).await;
    call.respond(answer, |campaign| {
        HttpResponse::Ok().json(wire::statuses(&campaign.statuses))
    })
}
