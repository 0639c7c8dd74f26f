//! The contact list, search, the contact card with its timeline, and contact edit.

use super::*;

#[derive(Deserialize)]
pub(super) struct ListQuery {
    q: Option<String>,
    group: Option<u64>,
    page: Option<i64>,
}

/// The contact query of the list's parameters (the page list and its CSV download share it),
/// with the group it names; `Err` for a group the account does not have.
pub(super) fn contact_query(
    admin: &Admin,
    query: &ListQuery,
    state: &AppState,
) -> Result<(ContactQuery, Option<domain::Group>), Entity> {
    let group = match query.group {
        Some(id) => match domain::view_group(&state.store, admin.0.account, GroupId(id)) {
            Ok(group) => Some(group),
            Err(_) => return Err(Entity::Group),
        },
        None => None,
    };
    let contact_query = ContactQuery {
        group: group
            .as_ref()
            .map_or(GroupFilter::Any, |g| GroupFilter::Group(g.id)),
        search: Some(query.q.clone().unwrap_or_default()),
        paging: Paging::new(query.page, Some(50)),
        ..ContactQuery::default()
    };
    Ok((contact_query, group))
}

pub(super) async fn contacts(
    admin: Admin,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let account = admin.0.account;
    let text = query.q.clone().unwrap_or_default();
    let (contact_query, group) = match contact_query(&admin, &query, &state) {
        Ok(found) => found,
        Err(entity) => return not_found(&admin, entity),
    };
    let found = off_workers(&state, move |store| {
        domain::list_contacts(store, account, &contact_query)
    });
    match found.await {
        Ok(found) => {
            let found = found.map(|item| item.contact);
            page(pages::contacts(
                &admin.chrome(),
                &found,
                &text,
                group.as_ref(),
            ))
        }
        Err(failed) => failed,
    }
}

#[derive(Deserialize)]
pub(super) struct SearchQuery {
    phone: Option<String>,
    q: Option<String>,
}

pub(super) async fn search(
    admin: Admin,
    query: web::Query<SearchQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let account = admin.0.account;
    let phone = query.phone.clone().unwrap_or_default();
    let text = query.q.clone().unwrap_or_default();
    let (phone_given, text_given) = (phone.trim().to_owned(), text.trim().to_owned());
    let results = off_workers(
        &state,
        move |store| -> domain::DomainResult<Option<Vec<Contact>>> {
            if !phone_given.is_empty() {
                return match domain::contacts_by_caller_number(store, account, &phone_given) {
                    Ok(found) => Ok(Some(found)),
                    Err(domain::DomainError::InvalidPhone { .. }) => Ok(Some(Vec::new())),
                    Err(other) => Err(other),
                };
            }
            if !text_given.is_empty() {
                let query = ContactQuery {
                    search: Some(text_given),
                    paging: Paging::new(None, Some(500)),
                    ..ContactQuery::default()
                };
                return Ok(Some(
                    domain::list_contacts(store, account, &query)?
                        .items
                        .into_iter()
                        .map(|i| i.contact)
                        .collect(),
                ));
            }
            Ok(None)
        },
    )
    .await;
    match results {
        Ok(results) => page(pages::search(
            &admin.chrome(),
            &phone,
            &text,
            results.as_deref(),
        )),
        Err(failed) => failed,
    }
}

#[derive(Deserialize)]
pub(super) struct CardQuery {
    id: Option<String>,
    /// TelefUM's links name the type too (`/card?id=24342&typecont=contact`); a card of
    /// another type is not the one the link means.
    typecont: Option<String>,
    page: Option<i64>,
}

pub(super) async fn card(
    admin: Admin,
    query: web::Query<CardQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let account = admin.0.account;
    let Some(id) = query
        .id
        .as_deref()
        .and_then(|id| id.trim().parse().ok())
        .map(ContactId)
    else {
        return not_found(&admin, Entity::Contact);
    };
    let contact = match domain::view_contact(&state.store, account, id) {
        Ok(contact) => contact,
        Err(domain::DomainError::NotFound(_)) => return not_found(&admin, Entity::Contact),
        Err(error) => return internal(&error),
    };
    let wanted_kind = query
        .typecont
        .as_deref()
        .filter(|kind| !kind.trim().is_empty())
        .map(ContactKind::parse);
    if wanted_kind.is_some_and(|kind| kind != Some(contact.kind)) {
        return not_found(&admin, Entity::Contact);
    }
    let groups = match domain::groups_by_id(&state.store, account, &contact.groups) {
        Ok(groups) => groups,
        Err(error) => return internal(&error),
    };
    let paging = Paging::new(query.page, Some(TIMELINE_PAGE as i64));
    let timeline = match domain::contact_timeline(&state.store, account, id, paging) {
        Ok(timeline) => timeline,
        Err(error) => return internal(&error),
    };
    let campaigns = match domain::contact_campaigns(&state.store, account, id) {
        Ok(campaigns) => campaigns,
        Err(error) => return internal(&error),
    };
    page(pages::card(
        &admin.chrome(),
        &contact,
        &groups,
        &campaigns,
        &timeline.items,
        timeline.page,
        timeline.pages,
    ))
}

pub(super) async fn edit_form(
    admin: Admin,
    path: web::Path<u64>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let account = admin.0.account;
    let found = domain::view_contact(&state.store, account, ContactId(*path))
        .and_then(|contact| Ok((contact, domain::all_groups(&state.store, account)?)));
    match found {
        Ok((contact, groups)) => page(pages::edit(&admin.chrome(), &contact, &groups, None)),
        Err(domain::DomainError::NotFound(what)) => not_found(&admin, what),
        Err(error) => internal(&error),
    }
}

pub(super) async fn edit(
    admin: Admin,
    path: web::Path<u64>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(form) = checked_form::<ContactEditForm>(&admin, &body) else {
        return forbidden(Some(&admin));
    };
    let id = ContactId(*path);
    let input = ContactInput {
        phone: form.phone,
        email: form.email,
        first_name: form.first_name,
        last_name: form.last_name,
        company: form.company,
        tax_id: form.tax_id,
        address: form.address,
        city: form.city,
        description: form.description,
        groups: Some(form.groups.into_iter().map(GroupId).collect()),
        // A number a PBX stored as dialled (`0123456789`, an extension) must stay savable.
        phone_reading: PhoneReading::Dialable,
        ..ContactInput::default()
    };
    let principal = admin.0.principal();
    let store = state.store.clone();
    match web::block(move || {
        domain::edit_contact_with(&store, &principal, id, &input, Blanks::Clear)
    })
    .await
    {
        Ok(Ok(contact)) => {
            let card = format!("/card?id={}&typecont={}", contact.id, contact.kind.as_str());
            saved(&state.store, &card).await
        }
        Ok(Err(domain::DomainError::NotFound(_))) => not_found(&admin, Entity::Contact),
        Ok(Err(error)) => refused(&error, |reason| {
            let account = admin.0.account;
            let contact = domain::view_contact(&state.store, account, id)?;
            let groups = domain::all_groups(&state.store, account)?;
            Ok(pages::edit(
                &admin.chrome(),
                &contact,
                &groups,
                Some(reason),
            ))
        }),
        Err(error) => internal(&error),
    }
}
