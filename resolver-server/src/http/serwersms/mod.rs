//! The SerwerSMS HTTPS API v2 for contacts and groups: `POST /{resource}/{action}[.json|.xml]`.
//! Every official client works against it with only its base URL changed.
//!
//! Spec: `shared/spec/serwersms-api-v2.md`.

mod error;
mod params;
mod wire;
mod xml;

use super::auth::{authorization, Attempt};
use super::body::{prefers_english, read_limited, BodyError, MAX_BODY_BYTES};
use super::AppState;
use crate::domain::{
    self, Actor, AuthFailure, ContactId, ContactInput, ContactQuery, ContactSort, Erasing,
    GroupFilter, GroupId, GroupQuery, Order, Paging, PhoneReading, Principal,
};
use crate::store::Store;
use actix_web::http::header::{self, ContentType};
use actix_web::{web, HttpRequest, HttpResponse};
use error::SmsError;
use params::Params;
use serde_json::{json, Value};

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/error/{code}", web::post().to(error_view))
        .route("/{resource}/{action}", web::post().to(call));
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

/// Splits `add.json` into `add` and its format; no suffix means JSON.
fn split_format(action: &str) -> (&str, Format) {
    if let Some(name) = action.strip_suffix(".xml") {
        (name, Format::Xml)
    } else {
        (action.strip_suffix(".json").unwrap_or(action), Format::Json)
    }
}

struct Reply {
    format: Format,
    english: bool,
}

impl Reply {
    fn new(request: &HttpRequest, format: Format) -> Reply {
        Reply {
            format,
            english: prefers_english(request),
        }
    }

    fn body(&self, status: actix_web::http::StatusCode, answer: &Value) -> HttpResponse {
        let mut response = HttpResponse::build(status);
        match self.format {
            Format::Json => response
                .content_type(ContentType::json())
                .body(answer.to_string()),
            Format::Xml => match xml::to_xml(answer) {
                Ok(document) => response
                    .content_type("application/xml; charset=utf-8")
                    .body(document),
                Err(failure) => {
                    tracing::error!(%failure, "SerwerSMS XML answer");
                    HttpResponse::InternalServerError()
                        .content_type("application/xml; charset=utf-8")
                        .body(INTERNAL_XML)
                }
            },
        }
    }

    fn ok(&self, answer: &Value) -> HttpResponse {
        self.body(actix_web::http::StatusCode::OK, answer)
    }

    fn error(&self, error: &SmsError) -> HttpResponse {
        let (kind, message) = error.describe(self.english);
        self.body(
            error.status,
            &json!({ "error": { "code": error.code, "type": kind, "message": message } }),
        )
    }
}

/// The answer when an XML answer cannot be written: fixed and valid (never an empty 200).
const INTERNAL_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><error><code>5000</code><type>InternalError</type><message>Server error</message></error>";

/// `POST /error/{code}`: the error object for a code, so clients can show its message.
async fn error_view(request: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let (code, format) = split_format(&path);
    let reply = Reply::new(&request, format);
    match code
        .parse::<u16>()
        .ok()
        .filter(|code| error::describe(*code).is_some())
    {
        Some(code) => reply.error(&SmsError::new(code)),
        None => reply.error(&SmsError::new(SmsError::UNKNOWN_CODE)),
    }
}

/// The calls of the contacts and groups API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    GroupsIndex,
    GroupsView,
    GroupsAdd,
    GroupsEdit,
    GroupsDelete,
    GroupsCheck,
    ContactsIndex,
    ContactsView,
    ContactsAdd,
    ContactsEdit,
    ContactsDelete,
    ContactsImport,
    /// Our addition: a contact's page views and events (tracker issue).
    ContactsHistory,
    BlacklistAdd,
    BlacklistCheck,
    BlacklistIndex,
    BlacklistDelete,
}

impl Action {
    fn parse(resource: &str, action: &str) -> Option<Action> {
        Some(match (resource, action) {
            ("groups", "index") => Action::GroupsIndex,
            ("groups", "view") => Action::GroupsView,
            ("groups", "add") => Action::GroupsAdd,
            ("groups", "edit") => Action::GroupsEdit,
            ("groups", "delete") => Action::GroupsDelete,
            ("groups", "check") => Action::GroupsCheck,
            ("contacts", "index") => Action::ContactsIndex,
            ("contacts", "view") => Action::ContactsView,
            ("contacts", "add") => Action::ContactsAdd,
            ("contacts", "edit") => Action::ContactsEdit,
            ("contacts", "delete") => Action::ContactsDelete,
            ("contacts", "import") => Action::ContactsImport,
            ("contacts", "history") => Action::ContactsHistory,
            ("blacklist", "add") => Action::BlacklistAdd,
            ("blacklist", "check") => Action::BlacklistCheck,
            ("blacklist", "index") => Action::BlacklistIndex,
            ("blacklist", "delete") => Action::BlacklistDelete,
            _ => return None,
        })
    }

    /// Whether the call changes data, so its acknowledgement waits for a flush.
    fn writes(self) -> bool {
        matches!(
            self,
            Action::GroupsAdd
                | Action::GroupsEdit
                | Action::GroupsDelete
                | Action::ContactsAdd
                | Action::ContactsEdit
                | Action::ContactsDelete
                | Action::ContactsImport
                | Action::BlacklistAdd
                | Action::BlacklistDelete
        )
    }

    fn run(self, store: &Store, principal: &Principal, params: &Params) -> Result<Value, SmsError> {
        let account = principal.account;
        Ok(match self {
            Action::GroupsIndex => {
                let query = GroupQuery {
                    search: params.text("search")?,
                    sort_by_name: params.text("sort")?.as_deref() == Some("name"),
                    order: order(params)?,
                    paging: paging(params)?,
                };
                wire::list(domain::list_groups(store, account, &query)?, |group| {
                    wire::group(&group)
                })
            }
            Action::GroupsView => wire::group(&domain::view_group(
                store,
                account,
                GroupId(required_id(params)?),
            )?),
            Action::GroupsAdd => {
                let name = params
                    .text("name")?
                    .ok_or(SmsError::with(SmsError::REQUIRED, "name"))?;
                wire::success_id(domain::add_group(store, account, &name)?.id.0)
            }
            Action::GroupsEdit => {
                let id = GroupId(required_id(params)?);
                let name = params
                    .text("name")?
                    .ok_or(SmsError::with(SmsError::REQUIRED, "name"))?;
                wire::success_id(domain::rename_group(store, account, id, &name)?.id.0)
            }
            Action::GroupsDelete => {
                let ids: Vec<GroupId> = required_ids(params)?.into_iter().map(GroupId).collect();
                let erasing = Erasing::new(Actor::api("SerwerSMS", principal), "groups/delete");
                domain::delete_groups(
                    store,
                    account,
                    &ids,
                    params.flag("delete_contacts")?,
                    &erasing,
                )?;
                wire::success()
            }
            Action::GroupsCheck => wire::phone_groups(domain::groups_of_phone(
                store,
                account,
                &required_phone(params)?,
            )?),
            Action::ContactsIndex => {
                let sort = match params.text("sort")? {
                    Some(name) => Some(
                        ContactSort::parse(&name)
                            .ok_or(SmsError::with(SmsError::INVALID_DATA, "sort"))?,
                    ),
                    None => None,
                };
                let query = ContactQuery {
                    group: group_filter(params)?,
                    search: params.text("search")?,
                    sort,
                    order: order(params)?,
                    paging: paging(params)?,
                };
                wire::list(
                    domain::list_contacts(store, account, &query)?,
                    wire::contact_list_item,
                )
            }
            Action::ContactsView => wire::contact(&domain::view_contact(
                store,
                account,
                ContactId(required_id(params)?),
            )?),
            Action::ContactsAdd => wire::success_id(
                domain::add_contact(store, principal, &contact_input(params)?)?
                    .id
                    .0,
            ),
            Action::ContactsEdit => {
                let id = ContactId(required_id(params)?);
                wire::success_id(
                    domain::edit_contact(store, principal, id, &contact_input(params)?)?
                        .id
                        .0,
                )
            }
            Action::ContactsDelete => {
                let ids: Vec<ContactId> =
                    required_ids(params)?.into_iter().map(ContactId).collect();
                let erasing = Erasing::new(Actor::api("SerwerSMS", principal), "contacts/delete");
                domain::delete_contacts(store, account, &ids, &erasing)?;
                wire::success()
            }
            Action::ContactsHistory => {
                let id = ContactId(required_id(params)?);
                wire::list(
                    domain::contact_history(store, account, id, paging(params)?)?,
                    wire::history_entry,
                )
            }
            Action::BlacklistAdd => wire::success_id(
                domain::add_to_blacklist(store, account, &required_phone(params)?)?.id,
            ),
            Action::BlacklistCheck => wire::exists(domain::check_blacklist(
                store,
                account,
                &required_phone(params)?,
            )?),
            Action::BlacklistIndex => wire::list(
                domain::list_blacklist(
                    store,
                    account,
                    params.text("phone")?.as_deref(),
                    paging(params)?,
                )?,
                |entry| wire::blacklist_entry(&entry),
            ),
            Action::BlacklistDelete => {
                domain::remove_from_blacklist(store, account, &required_phone(params)?)?;
                wire::success()
            }
            Action::ContactsImport => {
                let group_name = params
                    .text("group_name")?
                    .ok_or(SmsError::with(SmsError::REQUIRED, "group_name"))?;
                let items = params
                    .objects("contact")?
                    .ok_or(SmsError::with(SmsError::REQUIRED, "contact"))?;
                let inputs = items
                    .iter()
                    .map(contact_input)
                    .collect::<Result<Vec<_>, _>>()?;
                wire::import(domain::import_contacts(
                    store,
                    principal,
                    &group_name,
                    &inputs,
                )?)
            }
        })
    }
}

fn required_id(params: &Params) -> Result<u64, SmsError> {
    let id = params
        .int("id")?
        .ok_or(SmsError::with(SmsError::REQUIRED, "id"))?;
    // A negative id names nothing; answer as for any unknown id.
    u64::try_from(id).map_err(|_| SmsError::with(SmsError::INVALID_ID, "id"))
}

fn required_phone(params: &Params) -> Result<String, SmsError> {
    params
        .text("phone")?
        .ok_or(SmsError::with(SmsError::REQUIRED, "phone"))
}

fn required_ids(params: &Params) -> Result<Vec<u64>, SmsError> {
    params
        .ids("id")?
        .filter(|ids| !ids.is_empty())
        .ok_or(SmsError::with(SmsError::REQUIRED, "id"))
}

fn order(params: &Params) -> Result<Order, SmsError> {
    match params
        .text("order")?
        .map(|o| o.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("asc") => Ok(Order::Ascending),
        Some("desc") => Ok(Order::Descending),
        Some(_) => Err(SmsError::with(
            SmsError::INVALID_DATA,
            "order (asc or desc)",
        )),
    }
}

fn paging(params: &Params) -> Result<Paging, SmsError> {
    Ok(Paging::new(params.int("page")?, params.int("limit")?))
}

fn group_filter(params: &Params) -> Result<GroupFilter, SmsError> {
    if params
        .text("group_id")?
        .is_some_and(|g| g.trim().eq_ignore_ascii_case("none"))
    {
        return Ok(GroupFilter::NoGroup);
    }
    match params.int("group_id")? {
        Some(id) => Ok(GroupFilter::Group(GroupId(
            u64::try_from(id).map_err(|_| SmsError::with(SmsError::INVALID_ID, "group_id"))?,
        ))),
        None => Ok(GroupFilter::Any),
    }
}

fn contact_input(params: &Params) -> Result<ContactInput, SmsError> {
    let is_none =
        matches!(params.text("group_id"), Ok(Some(ref g)) if g.trim().eq_ignore_ascii_case("none"));
    let groups = if is_none {
        Some(Vec::new())
    } else {
        params
            .ids("group_id")?
            .map(|ids| ids.into_iter().map(GroupId).collect())
    };
    Ok(ContactInput {
        phone: params.text("phone")?,
        email: params.text("email")?,
        first_name: params.text("first_name")?,
        last_name: params.text("last_name")?,
        company: params.text("company")?,
        tax_id: params.text("tax_id")?,
        address: params.text("address")?,
        city: params.text("city")?,
        description: params.text("description")?,
        groups,
        suid: params.text("suid")?,
        kind: None,
        source: None,
        phone_reading: PhoneReading::Strict,
    })
}

/// Bearer token if the header is there (it wins), else `username` + `password` parameters.
async fn authenticate(
    request: &HttpRequest,
    params: &Params,
    state: &AppState,
) -> Result<Principal, SmsError> {
    let bearer = authorization(request, "Bearer").map(str::to_owned);
    let attempt = Attempt::of(request, state);
    let outcome = match bearer {
        Some(token) => {
            super::blocking(&state.store, move |store| {
                domain::authenticate_token(store, &token)
            })
            .await
        }
        None => {
            let username = params.text("username")?.unwrap_or_default();
            let password = params.text("password")?.unwrap_or_default();
            if username.is_empty() || password.is_empty() {
                return Err(SmsError::new(SmsError::INVALID_USER));
            }
            // argon2 is slow by design: keep it off the async workers.
            super::blocking(&state.store, move |store| {
                domain::authenticate_password(store, attempt.get(), &username, &password)
            })
            .await
        }
    };
    match outcome? {
        Ok(principal) => Ok(principal),
        // SerwerSMS answers every error 200 with its object: a throttled login is a bad one.
        Err(AuthFailure::BadPassword | AuthFailure::Throttled { .. }) => {
            Err(SmsError::new(SmsError::INVALID_USER))
        }
        Err(AuthFailure::UnknownToken) => Err(SmsError::new(SmsError::INVALID_TOKEN)),
        Err(AuthFailure::ExpiredToken) => Err(SmsError::new(SmsError::EXPIRED_TOKEN)),
    }
}

/// `POST /{resource}/{action}[.json|.xml]`.
async fn call(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (resource, action) = path.into_inner();
    let (action, format) = split_format(&action);
    let reply = Reply::new(&request, format);
    match answer(&request, &resource, action, payload, &state).await {
        Ok(answer) => reply.ok(&answer),
        Err(error) => reply.error(&error),
    }
}

async fn answer(
    request: &HttpRequest,
    resource: &str,
    action: &str,
    payload: web::Payload,
    state: &AppState,
) -> Result<Value, SmsError> {
    let body = read_limited(request, payload, MAX_BODY_BYTES)
        .await
        .map_err(|error| match error {
            BodyError::TooLarge => SmsError::too_large(),
            BodyError::Broken => SmsError::with(SmsError::INVALID_DATA, "unreadable body"),
        })?;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let params = Params::parse(content_type, &body, request.query_string())?;
    let action = Action::parse(resource, action).ok_or(SmsError::new(SmsError::INVALID_ACTION))?;
    let principal = authenticate(request, &params, state).await?;
    let store = state.store.clone();
    let answer = web::block(move || action.run(&store, &principal, &params))
        .await
        .map_err(|_| SmsError::internal())??;
    if action.writes() {
        super::flushed(&state.store).await?;
    }
    Ok(answer)
}
