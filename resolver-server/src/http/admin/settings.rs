//! The account's settings pages: groups, site domains (snippet, verification switch), API
//! tokens.

use super::*;

/// Longest token lifetime typed in the tokens page (a hundred years).
const MAX_TOKEN_DAYS: u32 = 36_500;

pub(super) async fn groups(admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    shown(
        domain::all_groups(&state.store, admin.0.account),
        |groups| pages::groups(&admin.chrome(), &groups, None),
    )
}

pub(super) async fn add_group(
    Posted(admin, form): Posted<NameForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    match domain::add_group(&state.store, admin.0.account, &form.name) {
        Ok(_) => saved(&state.store, "/groups").await,
        Err(error) => refused(&error, |reason| {
            let groups = domain::all_groups(&state.store, admin.0.account)?;
            Ok(pages::groups(&admin.chrome(), &groups, Some(reason)))
        }),
    }
}

/// The address browsers load the tracker from: this server as the request reached it.
pub(super) fn resolver_url(request: &HttpRequest) -> String {
    let info = request.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

pub(super) async fn domains(
    request: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
) -> HttpResponse {
    shown(
        domain::list_domains(&state.store, admin.0.account),
        |domains| pages::domains(&admin.chrome(), &domains, &resolver_url(&request), None),
    )
}

pub(super) async fn add_domain(
    request: HttpRequest,
    Posted(admin, form): Posted<DomainForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    match domain::add_domain(&state.store, admin.0.account, &form.domain) {
        Ok(_) => saved(&state.store, "/domains").await,
        Err(error) => refused(&error, |reason| {
            let domains = domain::list_domains(&state.store, admin.0.account)?;
            Ok(pages::domains(
                &admin.chrome(),
                &domains,
                &resolver_url(&request),
                Some(reason),
            ))
        }),
    }
}

pub(super) async fn verification(
    Posted(admin, form): Posted<VerificationForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let required = form.required == "true";
    match domain::set_require_hash(&state.store, admin.0.account, &form.domain, required) {
        Ok(_) => saved(&state.store, "/domains").await,
        Err(_) => not_found(&admin, Entity::Domain),
    }
}

pub(super) async fn tokens(admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    shown(
        domain::list_tokens(&state.store, admin.0.account),
        |tokens| pages::tokens(&admin.chrome(), &tokens, None),
    )
}

pub(super) async fn create_token(
    Posted(admin, form): Posted<TokenForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let expires_days = match form.expires_days.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(days) => match days.parse::<u32>() {
            Ok(days @ 1..=MAX_TOKEN_DAYS) => Some(days),
            _ => {
                return html(
                    StatusCode::BAD_REQUEST,
                    pages::message(
                        Some(&admin.chrome()),
                        "Nie utworzono tokenu",
                        "Ważność tokenu podaj jako liczbę dni od 1 do 36500 albo zostaw pole puste (token bez terminu ważności).",
                    ),
                );
            }
        },
    };
    let account = admin.0.account;
    match domain::create_token(&state.store, account, Some(&admin.0.username), expires_days) {
        Ok(token) => {
            if let Err(failed) = durable(&state.store).await {
                return failed;
            }
            shown(domain::list_tokens(&state.store, account), |tokens| {
                pages::tokens(&admin.chrome(), &tokens, Some(&token.secret))
            })
        }
        Err(error) => internal(&error),
    }
}

pub(super) async fn revoke_token(
    Posted(admin, form): Posted<RevokeForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    match domain::revoke_token(&state.store, admin.0.account, &form.prefix) {
        Ok(_) => saved(&state.store, "/tokens").await,
        Err(_) => not_found(&admin, Entity::Token),
    }
}
