//! The admin pages' HTML (maud escapes every interpolated value). Plain forms and links: every
//! page works without JavaScript. Phone numbers are `telf:` links so TelefUM can dial them.

use crate::domain::{
    self, ApiToken, Campaign, Contact, Group, ListedRecord, Millis, Page, PageView, RecordView,
    SiteDomain, SystemStatus, TimelineEntry, TrackedEvent,
};
use maud::{html, Markup, DOCTYPE};

/// `2026-11-23 08:15 UTC`.
pub fn time(millis: Millis) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    crate::domain::formatted(millis, format)
        .map_or_else(|| millis.to_string(), |t| format!("{t} UTC"))
}

/// What a contact is called on the pages: its name, else its company, else its phone.
pub fn display_name(contact: &Contact) -> String {
    let name = contact.name();
    if name.is_empty() {
        contact.phone.as_str().to_owned()
    } else {
        name
    }
}

fn phone_link(phone: &str) -> Markup {
    html! { a.phone href={ "telf:" (phone) } { (phone) } }
}

fn card_link(contact: &Contact) -> String {
    format!("/card?id={}&typecont={}", contact.id, contact.kind.as_str())
}

/// The signed-in user and the CSRF token every form of the page carries.
pub struct Chrome<'a> {
    pub username: &'a str,
    pub csrf: &'a str,
}

/// The hidden field that carries the session's CSRF token in every form.
pub(super) fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

pub fn layout(chrome: Option<&Chrome>, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="pl" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · ssrm" }
                link rel="stylesheet" href="/admin.css";
            }
            body {
                header {
                    a.brand href="/" { "ssrm" }
                    @if let Some(chrome) = chrome {
                        nav {
                            a href="/" { "Pulpit" }
                            a href="/visitors" { "Odwiedzający" }
                            a href="/contacts" { "Kontakty" }
                            a href="/search" { "Szukaj" }
                            a href="/groups" { "Grupy" }
                            a href="/domains" { "Domeny" }
                            a href="/campaigns" { "Kampanie" }
                            a href="/rules" { "Reguły" }
                            a href="/tokens" { "Tokeny API" }
                            a href="/audit" { "Prywatność" }
                        }
                        form.logout method="post" action="/logout" {
                            (csrf_field(chrome.csrf))
                            span.user { (chrome.username) }
                            button type="submit" { "Wyloguj" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

pub fn login(csrf: &str, next: &str, error: Option<&str>) -> Markup {
    layout(
        None,
        "Logowanie",
        html! {
            section.narrow {
                h1 { "Logowanie" }
                @if let Some(error) = error { p.error role="alert" { (error) } }
                form method="post" action="/login" {
                    (csrf_field(csrf))
                    input type="hidden" name="next" value=(next);
                    label { "Login" input name="username" autocomplete="username" required autofocus; }
                    label { "Hasło" input name="password" type="password" autocomplete="current-password" required; }
                    button type="submit" { "Zaloguj" }
                }
            }
        },
    )
}

pub fn message(chrome: Option<&Chrome>, title: &str, text: &str) -> Markup {
    layout(chrome, title, html! { h1 { (title) } p { (text) } })
}

fn contacts_table(contacts: &[Contact]) -> Markup {
    html! {
        @if contacts.is_empty() {
            p.empty { "Brak kontaktów." }
        } @else {
            table.contacts {
                thead { tr { th { "Nazwa" } th { "Telefon" } th { "E-mail" } th { "Firma" } th { "Typ" } } }
                tbody {
                    @for contact in contacts {
                        tr {
                            td { a.card href=(card_link(contact)) { (display_name(contact)) } }
                            td { (phone_link(contact.phone.as_str())) }
                            td { (contact.email.as_ref().map(|e| e.as_str()).unwrap_or_default()) }
                            td { (contact.company) }
                            td { (contact.kind.as_str()) }
                        }
                    }
                }
            }
        }
    }
}

pub(super) fn pager(base: &str, page: u64, pages: u64) -> Markup {
    let separator = if base.contains('?') { '&' } else { '?' };
    html! {
        nav.pager {
            @if page > 1 { a rel="prev" href={ (base) (separator) "page=" (page - 1) } { "← Nowsze" } }
            span { "Strona " (page) " z " (pages) }
            @if page < pages { a rel="next" href={ (base) (separator) "page=" (page + 1) } { "Starsze →" } }
        }
    }
}

pub fn contacts(
    chrome: &Chrome,
    page: &Page<Contact>,
    query: &str,
    group: Option<&Group>,
) -> Markup {
    let base = match group {
        Some(group) => format!("/contacts?group={}&q={}", group.id, urlencode(query)),
        None => format!("/contacts?q={}", urlencode(query)),
    };
    layout(
        Some(chrome),
        "Kontakty",
        html! {
            h1 { "Kontakty" @if let Some(group) = group { " w grupie „" (group.name) "”" } }
            form.search method="get" action="/contacts" {
                @if let Some(group) = group { input type="hidden" name="group" value=(group.id); }
                input type="search" name="q" value=(query) placeholder="Szukaj w imieniu, telefonie, e-mailu…";
                button type="submit" { "Szukaj" }
            }
            p.count {
                (page.total) " kontaktów · "
                a.download href=(base.replacen("/contacts?", "/contacts.csv?", 1)) download { "Pobierz CSV" }
            }
            (contacts_table(&page.items))
            (pager(&base, page.page, page.pages))
        },
    )
}

pub fn search(chrome: &Chrome, phone: &str, text: &str, results: Option<&[Contact]>) -> Markup {
    layout(
        Some(chrome),
        "Szukaj",
        html! {
            h1 { "Szukaj kontaktu" }
            form.search method="get" action="/search" {
                label { "Telefon" input type="tel" name="phone" value=(phone) placeholder="np. 500 600 700"; }
                label { "lub tekst" input type="search" name="q" value=(text) placeholder="imię, e-mail, firma…"; }
                button type="submit" { "Szukaj" }
            }
            @if let Some(results) = results {
                h2 { "Wyniki: " (results.len()) }
                (contacts_table(results))
            }
        },
    )
}

pub fn card(
    chrome: &Chrome,
    contact: &Contact,
    groups: &[Group],
    campaigns: &[(Campaign, RecordView)],
    timeline: &[TimelineEntry],
    page: u64,
    pages: u64,
) -> Markup {
    let field = |label: &str, value: &str| html! { @if !value.is_empty() { dt { (label) } dd { (value) } } };
    layout(
        Some(chrome),
        &display_name(contact),
        html! {
            div.card-head {
                h1 { (display_name(contact)) }
                a.button href={ "/contacts/" (contact.id) "/edit" } { "Edytuj" }
            }
            (super::privacy::card_actions(chrome, contact.id))
            dl.fields {
                dt { "Telefon" } dd { (phone_link(contact.phone.as_str())) @if contact.blacklist { " " span.blacklist { "(czarna lista)" } } }
                @if let Some(email) = &contact.email { dt { "E-mail" } dd { a href={ "mailto:" (email.as_str()) } { (email.as_str()) } } }
                (field("Imię", &contact.first_name))
                (field("Nazwisko", &contact.last_name))
                (field("Firma", &contact.company))
                (field("NIP", &contact.tax_id))
                (field("Adres", &contact.address))
                (field("Miasto", &contact.city))
                (field("Opis", &contact.description))
                dt { "Typ" } dd { (contact.kind.as_str()) }
                @if let Some(source) = &contact.source {
                    dt { "Źródło" }
                    dd { @if source.starts_with('+') { (phone_link(source)) } @else { (source) } }
                }
                @if let Some(author) = &contact.created_by { dt { "Utworzył" } dd { (author) } }
                dt { "Utworzono" } dd { (time(contact.created_at)) }
                dt { "Grupy" }
                dd {
                    @if groups.is_empty() { "—" }
                    @for group in groups { a.group href={ "/contacts?group=" (group.id) } { (group.name) } " " }
                }
                @if let Some(suid) = contact.suid { dt { "Identyfikator (suid)" } dd { a href={ "/visitors/" (suid.to_string()) } { code { (suid.to_string()) } } } }
            }
            h2 { "Kampanie" }
            @if campaigns.is_empty() {
                p.empty { "Kontakt nie jest w żadnej kampanii." }
            } @else {
                div.scroll {
                    table.campaigns {
                        thead { tr { th { "Kampania" } th { "Status" } th { "Agent" } th { "Następny telefon" } } }
                        tbody {
                            @for (campaign, view) in campaigns {
                                tr {
                                    td { a href={ "/campaigns/" (campaign.id) } { (campaign.name) } " " code { (campaign.id) } }
                                    td { (view.status.name) " " code { (view.status.system.as_str()) } }
                                    td { (view.record.agent_login.as_deref().unwrap_or("—")) }
                                    td { (view.record.next_call_date.as_deref().unwrap_or("—")) }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Historia" }
            @if timeline.is_empty() {
                p.empty { "Brak zdarzeń." }
            } @else {
                ol.timeline {
                    @for line in timeline {
                        @match line {
                            TimelineEntry::Activity(activity) => li.activity {
                            time { (time(activity.at)) }
                            strong { (activity.subject) }
                            @if !activity.description.is_empty() { " — " (activity.description) }
                            @if let Some(author) = &activity.author { span.author { " (" (author) ")" } }
                            @if let Some(line) = &activity.line { " " span.line { "linia " @if line.starts_with('+') { (phone_link(line)) } @else { (line) } } }
                        },
                        TimelineEntry::PageView(view) => (page_view_item(view)),
                        TimelineEntry::Event(event) => (event_item(event)),
                        TimelineEntry::Rule(delivery) => li.rule {
                            time { (time(delivery.created_at)) }
                            a href={ "/rules/" (delivery.rule) } { (delivery.summary()) }
                        },
                        }
                    }
                }
                (pager(&format!("/card?id={}&typecont={}", contact.id, contact.kind.as_str()), page, pages))
            }
        },
    )
}

/// A page view on a timeline (a contact's card, a visitor's page).
pub(super) fn page_view_item(view: &PageView) -> Markup {
    let label = if view.title.is_empty() {
        &view.url
    } else {
        &view.title
    };
    html! {
        li.pageview {
            time { (time(view.at)) }
            "Odsłona: "
            @match domain::link_target(&view.url) {
                Some(target) => a href=(target) rel="noreferrer noopener" { (label) },
                None => span.unlinked { (label) },
            }
            span.url { " " (view.url) }
        }
    }
}

/// A custom event on a timeline.
pub(super) fn event_item(event: &TrackedEvent) -> Markup {
    html! {
        li.event {
            time { (time(event.at)) }
            "Zdarzenie: " strong { (event.name) } " " code { (event.props) }
        }
    }
}

pub fn edit(chrome: &Chrome, contact: &Contact, groups: &[Group], error: Option<&str>) -> Markup {
    let text = |label: &str, name: &str, value: &str| html! { label { (label) input name=(name) value=(value); } };
    layout(
        Some(chrome),
        "Edycja kontaktu",
        html! {
            h1 { "Edycja: " (display_name(contact)) }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form.edit method="post" action={ "/contacts/" (contact.id) "/edit" } {
                (csrf_field(chrome.csrf))
                label { "Telefon" input name="phone" type="tel" value=(contact.phone.as_str()) required; }
                label { "E-mail" input name="email" type="email" value=(contact.email.as_ref().map(|e| e.as_str()).unwrap_or_default()); }
                (text("Imię", "first_name", &contact.first_name))
                (text("Nazwisko", "last_name", &contact.last_name))
                (text("Firma", "company", &contact.company))
                (text("NIP", "tax_id", &contact.tax_id))
                (text("Adres", "address", &contact.address))
                (text("Miasto", "city", &contact.city))
                label { "Opis" textarea name="description" rows="3" { (contact.description) } }
                fieldset {
                    legend { "Grupy" }
                    @for group in groups {
                        label.check {
                            input type="checkbox" name="groups[]" value=(group.id) checked[contact.groups.contains(&group.id)];
                            (group.name)
                        }
                    }
                }
                button type="submit" { "Zapisz" }
                a href=(card_link(contact)) { "Anuluj" }
            }
        },
    )
}

pub fn groups(chrome: &Chrome, groups: &[Group], error: Option<&str>) -> Markup {
    layout(
        Some(chrome),
        "Grupy",
        html! {
            h1 { "Grupy" }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            table {
                thead { tr { th { "Nazwa" } th { "Kontakty" } } }
                tbody {
                    @for group in groups {
                        tr { td { a href={ "/contacts?group=" (group.id) } { (group.name) } } td { (group.count) } }
                    }
                }
            }
            form.inline method="post" action="/groups" {
                (csrf_field(chrome.csrf))
                input name="name" maxlength="100" placeholder="Nazwa nowej grupy" required;
                button type="submit" { "Dodaj grupę" }
            }
        },
    )
}

pub fn domains(
    chrome: &Chrome,
    domains: &[SiteDomain],
    resolver: &str,
    error: Option<&str>,
) -> Markup {
    layout(
        Some(chrome),
        "Domeny",
        html! {
            h1 { "Domeny i kod śledzący" }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            @for domain in domains {
                section.domain {
                    h2 { (domain.name) }
                    p { "Klucz strony: " code { (domain.site_key) } }
                    p { "Wklej na każdą stronę, w " code { "<head>" } ":" }
                    pre.snippet { (snippet(&domain.site_key, resolver)) }
                    @if domain.require_hash {
                        p.ok { "Weryfikacja tożsamości włączona: trackUser wymaga podpisu HMAC-SHA256." }
                        p { "Sekret strony (tylko dla serwera strony): " code.secret { (domain.secret) } }
                    } @else {
                        p.warning role="alert" {
                            strong { "Weryfikacja tożsamości wyłączona. " }
                            "Każdy, kto zna e-mail lub telefon klienta, może w konsoli przeglądarki przejąć jego identyfikator. Włącz weryfikację i podpisuj wartości trackUser na serwerze strony."
                        }
                    }
                    form.inline method="post" action="/domains/verification" {
                        (csrf_field(chrome.csrf))
                        input type="hidden" name="domain" value=(domain.name);
                        input type="hidden" name="required" value=(if domain.require_hash { "false" } else { "true" });
                        button type="submit" { @if domain.require_hash { "Wyłącz weryfikację" } @else { "Włącz weryfikację" } }
                    }
                    (super::privacy::browser_signals_form(chrome, domain))
                }
            }
            form.inline method="post" action="/domains" {
                (csrf_field(chrome.csrf))
                input name="domain" placeholder="sklep.example.com" required;
                button type="submit" { "Dodaj domenę" }
            }
        },
    )
}

/// The copy-paste snippet of a site (README, "Installing it on a site").
pub fn snippet(site_key: &str, resolver: &str) -> String {
    format!(
        "<script>\n  window._ssrm = window._ssrm || [];\n  _ssrm.push(['setSite', '{site_key}']);\n</script>\n<script async src=\"{}/ssrm.js\"></script>",
        resolver.trim_end_matches('/')
    )
}

pub fn tokens(chrome: &Chrome, tokens: &[ApiToken], created: Option<&str>) -> Markup {
    layout(
        Some(chrome),
        "Tokeny API",
        html! {
            h1 { "Tokeny API" }
            @if let Some(secret) = created {
                div.created role="status" {
                    p { strong { "Nowy token — skopiuj go teraz, nie zostanie pokazany ponownie:" } }
                    pre #new-token { (secret) }
                }
            }
            table {
                thead { tr { th { "Prefiks" } th { "Użytkownik" } th { "Utworzony" } th { "Wygasa" } th { "Stan" } th {} } }
                tbody {
                    @for token in tokens {
                        tr {
                            td { code { (token.prefix) } }
                            td { (token.username.as_deref().unwrap_or("—")) }
                            td { (time(token.created_at)) }
                            td { (token.expires_at.map(time).unwrap_or_else(|| "nigdy".into())) }
                            td { @if let Some(at) = token.revoked_at { "unieważniony " (time(at)) } @else { "aktywny" } }
                            td {
                                @if token.revoked_at.is_none() {
                                    form.inline method="post" action="/tokens/revoke" {
                                        (csrf_field(chrome.csrf))
                                        input type="hidden" name="prefix" value=(token.prefix);
                                        button type="submit" { "Unieważnij" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            form.inline method="post" action="/tokens" {
                (csrf_field(chrome.csrf))
                label { "Wygasa po (dni, puste = nigdy)" input name="expires_days" type="number" min="1"; }
                button type="submit" { "Utwórz token" }
            }
        },
    )
}

pub(super) fn urlencode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

pub fn campaigns(chrome: &Chrome, campaigns: &[Campaign], error: Option<&str>) -> Markup {
    layout(
        Some(chrome),
        "Kampanie",
        html! {
            h1 { "Kampanie wychodzące" }
            p { "Rekordy dodaje oprogramowanie call center przez API zgodne z Thulium (README, „Thulium API”)." }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            table {
                thead { tr { th { "Id" } th { "Nazwa" } th { "Statusy" } } }
                tbody {
                    @for campaign in campaigns {
                        tr {
                            td { code { (campaign.id) } }
                            td { a href={ "/campaigns/" (campaign.id) } { (campaign.name) } }
                            td { (campaign.statuses.len()) }
                        }
                    }
                }
            }
            form.inline method="post" action="/campaigns" {
                (csrf_field(chrome.csrf))
                input name="name" maxlength="255" placeholder="Nazwa nowej kampanii" required;
                button type="submit" { "Dodaj kampanię" }
            }
        },
    )
}

/// The campaign's records with the status filter, or `None` (a page answering a form error).
pub type RecordList<'a> = Option<(&'a Page<ListedRecord>, Option<u32>)>;

fn records_list(campaign: &Campaign, records: &Page<ListedRecord>, status: Option<u32>) -> Markup {
    let filter = status.map(|s| s.to_string()).unwrap_or_default();
    let base = format!("/campaigns/{}?status_id={filter}", campaign.id);
    html! {
        h2 { "Rekordy" }
        form.search method="get" action={ "/campaigns/" (campaign.id) } {
            label { "Status"
                select name="status_id" {
                    option value="" selected[status.is_none()] { "Wszystkie" }
                    @for option in &campaign.statuses {
                        option value=(option.id) selected[status == Some(option.id)] { (option.name) " (" (option.system.as_str()) ")" }
                    }
                }
            }
            button type="submit" { "Filtruj" }
        }
        p.count {
            (records.total) " rekordów · "
            a.download href={ "/campaigns/" (campaign.id) "/records.csv?status_id=" (filter) } download { "Pobierz CSV" }
        }
        @if records.items.is_empty() {
            p.empty { "Brak rekordów." }
        } @else {
            div.scroll {
                table.records {
                    thead { tr { th { "Klient" } th { "Telefon" } th { "Status" } th { "Agent" } th { "Następny telefon" } th { "Kolejność" } } }
                    tbody {
                        @for item in &records.items {
                            tr.record {
                                td {
                                    @match &item.contact {
                                        Some(contact) => a href=(card_link(contact)) { (display_name(contact)) },
                                        None => { "#" (item.view.record.customer) },
                                    }
                                }
                                td { @if let Some(phone) = &item.view.phone { (phone_link(phone)) } }
                                td { (item.view.status.name) " " code { (item.view.status.system.as_str()) } }
                                td { (item.view.record.agent_login.as_deref().unwrap_or("—")) }
                                td { (item.view.record.next_call_date.as_deref().unwrap_or("—")) }
                                td { (item.view.record.order.map(|o| o.to_string()).unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
        }
        (pager(&base, records.page, records.pages))
    }
}

pub fn campaign(
    chrome: &Chrome,
    campaign: &Campaign,
    records: RecordList,
    error: Option<&str>,
) -> Markup {
    layout(
        Some(chrome),
        &campaign.name,
        html! {
            h1 { "Kampania " code { (campaign.id) } " — " (campaign.name) }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            @if let Some((records, status)) = records { (records_list(campaign, records, status)) }
            h2 { "Statusy" }
            table {
                thead { tr { th { "status_id" } th { "Status systemowy" } th { "Nazwa" } th { "dictionary_status_id" } } }
                tbody {
                    @for status in &campaign.statuses {
                        tr {
                            td { (status.id) }
                            td { code { (status.system.as_str()) } }
                            td { (status.name) }
                            td { (status.dictionary_status_id.map(|id| id.to_string()).unwrap_or_default()) }
                        }
                    }
                }
            }
            form.inline method="post" action={ "/campaigns/" (campaign.id) "/statuses" } {
                (csrf_field(chrome.csrf))
                input name="name" maxlength="255" placeholder="Nazwa statusu" required;
                select name="system" {
                    @for system in SystemStatus::ALL { option value=(system.as_str()) { (system.as_str()) } }
                }
                input name="dictionary_status_id" type="number" min="1" placeholder="dictionary_status_id";
                button type="submit" { "Dodaj status" }
            }
            p { a href="/campaigns" { "← Kampanie" } }
        },
    )
}
