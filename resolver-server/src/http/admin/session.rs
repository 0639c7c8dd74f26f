//! Signing in and out: the login form (double-submit CSRF, rate limit per address, a safe
//! `next`), the session cookie, logout.

use super::*;

#[derive(Deserialize)]
pub(super) struct NextQuery {
    next: Option<String>,
}

/// Only a path on this site: `/card?id=1`, never `//evil.example` or `https://…`.
/// Read the way a browser reads a `Location` (WHATWG URL, `url` crate: tabs and line breaks
/// dropped, `\\` as `/`) against this site; kept only if it stays on this site, and then
/// written back percent-encoded, so it is always a valid header value. Anything else: the
/// contact list (the login itself still succeeds).
pub(super) fn safe_next(next: Option<&str>) -> String {
    const HOME: &str = "/";
    let Some(next) = next.filter(|next| next.starts_with('/')) else {
        return HOME.to_owned();
    };
    let Ok(base) = url::Url::parse("http://admin.invalid/") else {
        return HOME.to_owned();
    };
    match base.join(next) {
        Ok(target) if target.origin() == base.origin() => match target.query() {
            Some(query) => format!("{}?{query}", target.path()),
            None => target.path().to_owned(),
        },
        _ => HOME.to_owned(),
    }
}

pub(super) fn secure(request: &HttpRequest) -> bool {
    request.connection_info().scheme() == "https"
}

pub(super) fn login_page(
    request: &HttpRequest,
    next: &str,
    error: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let csrf = domain::random_token(16);
    let cookie = Cookie::build(LOGIN_CSRF_COOKIE, csrf.clone())
        .path("/login")
        .http_only(true)
        .secure(secure(request))
        .same_site(SameSite::Strict)
        .finish();
    let mut response = html(status, pages::login(&csrf, next, error));
    set_cookie(&mut response, &cookie);
    response
}

pub(super) async fn login_form(request: HttpRequest, query: web::Query<NextQuery>) -> HttpResponse {
    login_page(
        &request,
        &safe_next(query.next.as_deref()),
        None,
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    csrf: String,
    username: String,
    password: String,
    next: Option<String>,
}

pub(super) async fn login(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(form): Option<LoginForm> = form(&body) else {
        return login_page(
            &request,
            "/",
            Some("Uzupełnij login i hasło."),
            StatusCode::BAD_REQUEST,
        );
    };
    let next = safe_next(form.next.as_deref());
    // Double-submit: the form's token must equal the cookie set with the form.
    let expected = request
        .cookie(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if expected.is_empty() || !domain::constant_time_eq(expected.as_bytes(), form.csrf.as_bytes()) {
        return forbidden(None);
    }
    let address = super::super::limiter::rate_key(super::super::client_address(
        &request,
        state.client_address,
    ))
    .to_string();
    if state.login_limiter.check_key(&address).is_err() {
        return login_page(
            &request,
            &next,
            Some("Za dużo prób logowania. Spróbuj za minutę."),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let store = state.store.clone();
    let attempt = Attempt::of(&request, &state);
    let outcome = web::block(
        move || -> domain::DomainResult<Result<(String, Session), _>> {
            match domain::authenticate_password(
                &store,
                attempt.get(),
                &form.username,
                &form.password,
            )? {
                Ok(principal) => domain::open_session(&store, &principal).map(Ok),
                Err(failure) => Ok(Err(failure)),
            }
        },
    )
    .await;
    match outcome {
        Ok(Ok(Err(AuthFailure::Throttled { retry_after }))) => {
            let mut response = login_page(
                &request,
                &next,
                Some("Za dużo nieudanych prób logowania na to konto. Spróbuj później."),
                StatusCode::TOO_MANY_REQUESTS,
            );
            if let Ok(value) = retry_after_seconds(retry_after).to_string().try_into() {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Ok(Ok(Ok((token, _)))) => {
            let cookie = Cookie::build(SESSION_COOKIE, token)
                .path("/")
                .http_only(true)
                .secure(secure(&request))
                .same_site(SameSite::Lax)
                .finish();
            let mut response = see_other(&next);
            set_cookie(&mut response, &cookie);
            response
        }
        Ok(Ok(Err(
            AuthFailure::BadPassword | AuthFailure::UnknownToken | AuthFailure::ExpiredToken,
        ))) => login_page(
            &request,
            &next,
            Some("Nieprawidłowy login lub hasło."),
            StatusCode::UNAUTHORIZED,
        ),
        Ok(Err(error)) => internal(&error),
        Err(error) => internal(&error),
    }
}

pub(super) async fn logout(
    request: HttpRequest,
    _: Posted<CsrfOnly>,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Some(cookie) = request.cookie(SESSION_COOKIE) {
        if let Err(error) = domain::close_session(&state.store, cookie.value()) {
            return internal(&error);
        }
    }
    let mut response = see_other("/login");
    let mut removal = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    removal.make_removal();
    set_cookie(&mut response, &removal);
    response
}
