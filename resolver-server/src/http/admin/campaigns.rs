//! Thulium campaigns in the admin pages: list, create, a campaign's records and statuses.

use super::*;

pub(super) async fn campaigns(admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    shown(
        domain::list_campaigns(&state.store, admin.0.account),
        |campaigns| pages::campaigns(&admin.chrome(), &campaigns, None),
    )
}

pub(super) async fn add_campaign(
    Posted(admin, form): Posted<NameForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    match domain::add_campaign(&state.store, admin.0.account, &form.name) {
        Ok(campaign) => saved(&state.store, &format!("/campaigns/{}", campaign.id)).await,
        Err(error) => refused(&error, |reason| {
            let campaigns = domain::list_campaigns(&state.store, admin.0.account)?;
            Ok(pages::campaigns(&admin.chrome(), &campaigns, Some(reason)))
        }),
    }
}

pub(super) fn campaign_of(admin: &Admin, state: &AppState, id: &str) -> Option<domain::Campaign> {
    let id = domain::CampaignId::parse(id)?;
    domain::campaign(&state.store, admin.0.account, &id).ok()
}

pub(super) async fn campaign(
    admin: Admin,
    path: web::Path<String>,
    query: web::Query<exports::RecordsQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(campaign) = campaign_of(&admin, &state, &path) else {
        return not_found(&admin, Entity::Campaign);
    };
    let status = query.status();
    let paging = Paging::new(query.page, Some(50));
    let (account, id) = (admin.0.account, campaign.id.clone());
    let records = off_workers(&state, move |store| {
        domain::campaign_records(store, account, &id, status, paging)
    });
    match records.await {
        Ok(records) => page(pages::campaign(
            &admin.chrome(),
            &campaign,
            Some((&records, status)),
            None,
        )),
        Err(failed) => failed,
    }
}

pub(super) async fn add_campaign_status(
    Posted(admin, form): Posted<StatusForm>,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(campaign) = campaign_of(&admin, &state, &path) else {
        return not_found(&admin, Entity::Campaign);
    };
    let dictionary = form
        .dictionary_status_id
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let outcome = match (
        domain::SystemStatus::parse(&form.system),
        dictionary.map(str::parse::<u32>).transpose(),
    ) {
        (Some(system), Ok(dictionary)) => domain::add_campaign_status(
            &state.store,
            admin.0.account,
            &campaign.id,
            &form.name,
            system,
            dictionary,
        )
        .map_err(|e| e.to_string()),
        _ => Err("nieznany status systemowy albo nieprawidłowy dictionary_status_id".to_owned()),
    };
    match outcome {
        Ok(_) => saved(&state.store, &format!("/campaigns/{}", campaign.id)).await,
        Err(error) => html(
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::campaign(&admin.chrome(), &campaign, None, Some(&error)),
        ),
    }
}
