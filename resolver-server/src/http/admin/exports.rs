//! CSV downloads: the contacts list (`/contacts.csv`, the same filters as `/contacts`) and a
//! campaign's records (`/campaigns/{id}/records.csv`, the same status filter as its page).
//! Written with the `csv` crate, UTF-8 with a byte-order mark (spreadsheets then read Polish
//! letters right), streamed a page of 500 rows at a time: memory stays one page whatever the
//! size of the list.

use super::{campaign_of, not_found, Admin};
use crate::domain::{self, rfc3339, CampaignId, DomainResult, Entity, ListedRecord, Paging};
use crate::http::AppState;
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use futures_util::stream;
use serde::Deserialize;
use std::sync::Arc;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/contacts.csv", web::get().to(contacts))
        .route("/campaigns/{id}/records.csv", web::get().to(records));
}

const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// Rows per page read from the domain (its largest page).
const ROWS_PER_PAGE: u64 = Paging::MAX_LIMIT;

/// One page of rows and the number of pages.
type Rows = (Vec<Vec<String>>, u64);
type Fetch = Arc<dyn Fn(Paging) -> DomainResult<Rows> + Send + Sync>;

fn encode(header: Option<&[&str]>, rows: &[Vec<String>]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if let Some(header) = header {
        writer.write_record(header)?;
    }
    for row in rows {
        writer.write_record(row)?;
    }
    writer
        .into_inner()
        .map_err(|error| csv::Error::from(error.into_error()))
}

/// A `text/csv` download of `header` and the pages `fetch` answers, read one at a time as the
/// client takes them.
fn download(filename: &str, header: &'static [&'static str], fetch: Fetch) -> HttpResponse {
    let pages = stream::unfold(Some(1u64), move |next| {
        let fetch = fetch.clone();
        async move {
            let number = next?;
            let paging = Paging::new(Some(number as i64), Some(ROWS_PER_PAGE as i64));
            let chunk = match web::block(move || fetch(paging)).await {
                Ok(Ok((rows, pages))) => {
                    let header = (number == 1).then_some(header);
                    match encode(header, &rows) {
                        Ok(mut bytes) => {
                            if number == 1 {
                                bytes.splice(0..0, BYTE_ORDER_MARK.iter().copied());
                            }
                            let next = (number < pages).then_some(number + 1);
                            return Some((Ok(web::Bytes::from(bytes)), next));
                        }
                        Err(error) => error.to_string(),
                    }
                }
                Ok(Err(error)) => error.to_string(),
                Err(error) => error.to_string(),
            };
            tracing::error!(error = %chunk, "CSV export stopped");
            Some((
                Err(actix_web::error::ErrorInternalServerError("export failed")),
                None,
            ))
        }
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .streaming(pages)
}

const CONTACT_COLUMNS: &[&str] = &[
    "id",
    "phone",
    "email",
    "first_name",
    "last_name",
    "company",
    "tax_id",
    "address",
    "city",
    "description",
    "type",
    "groups",
    "blacklist",
    "suid",
    "created_at",
];

async fn contacts(
    admin: Admin,
    query: web::Query<super::ListQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let account = admin.0.account;
    let Ok((base, _)) = super::contact_query(&admin, &query, &state) else {
        return not_found(&admin, Entity::Group);
    };
    let store = state.store.clone();
    let fetch: Fetch = Arc::new(move |paging| {
        let query = domain::ContactQuery {
            paging,
            ..base.clone()
        };
        let page = domain::list_contacts(&store, account, &query)?;
        let groups = store.groups(account)?;
        let rows = page
            .items
            .into_iter()
            .map(|item| {
                let contact = item.contact;
                let group_names: Vec<&str> = contact
                    .groups
                    .iter()
                    .filter_map(|id| groups.iter().find(|g| g.id == *id))
                    .map(|group| group.name.as_str())
                    .collect();
                vec![
                    contact.id.to_string(),
                    contact.phone.as_str().to_owned(),
                    contact
                        .email
                        .as_ref()
                        .map(|e| e.as_str().to_owned())
                        .unwrap_or_default(),
                    contact.first_name,
                    contact.last_name,
                    contact.company,
                    contact.tax_id,
                    contact.address,
                    contact.city,
                    contact.description,
                    contact.kind.as_str().to_owned(),
                    group_names.join("; "),
                    if contact.blacklist { "1" } else { "0" }.to_owned(),
                    contact.suid.map(|s| s.to_string()).unwrap_or_default(),
                    rfc3339(contact.created_at).unwrap_or_default(),
                ]
            })
            .collect();
        Ok((rows, page.pages))
    });
    download("contacts.csv", CONTACT_COLUMNS, fetch)
}

const RECORD_COLUMNS: &[&str] = &[
    "record_id",
    "customer_id",
    "customer",
    "phone_number",
    "status_id",
    "status",
    "system_status",
    "agent_login",
    "next_call_date",
    "order",
    "create_date",
];

fn record_row(item: ListedRecord) -> Vec<String> {
    let record = &item.view.record;
    vec![
        record.record_id.to_string(),
        record.customer.to_string(),
        item.contact
            .as_ref()
            .map(super::pages::display_name)
            .unwrap_or_default(),
        item.view.phone.clone().unwrap_or_default(),
        record.status_id.to_string(),
        item.view.status.name.clone(),
        item.view.status.system.as_str().to_owned(),
        record.agent_login.clone().unwrap_or_default(),
        record.next_call_date.clone().unwrap_or_default(),
        record.order.map(|o| o.to_string()).unwrap_or_default(),
        rfc3339(record.created_at).unwrap_or_default(),
    ]
}

#[derive(Deserialize)]
pub(super) struct RecordsQuery {
    pub status_id: Option<String>,
    pub page: Option<i64>,
}

impl RecordsQuery {
    /// The status filter; `None` for all statuses (an empty or unreadable value included).
    pub fn status(&self) -> Option<u32> {
        self.status_id
            .as_deref()
            .and_then(|s| s.trim().parse().ok())
    }
}

async fn records(
    admin: Admin,
    path: web::Path<String>,
    query: web::Query<RecordsQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(campaign) = campaign_of(&admin, &state, &path) else {
        return not_found(&admin, Entity::Campaign);
    };
    let id: CampaignId = campaign.id;
    let filename = id.to_string();
    let status = query.status();
    let account = admin.0.account;
    let store = state.store.clone();
    let fetch: Fetch = Arc::new(move |paging| {
        let page = domain::campaign_records(&store, account, &id, status, paging)?;
        Ok((page.items.into_iter().map(record_row).collect(), page.pages))
    });
    download(&format!("campaign-{filename}.csv"), RECORD_COLUMNS, fetch)
}
