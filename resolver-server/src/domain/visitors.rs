//! Visitors as the operator lists them: anonymous and identified browsers, most recently seen
//! first, with their page-view count, site and contact; one visitor's timeline.
//!
//! The list reads every visitor record of the account (small records, far fewer than page
//! views) and, for the rows it shows or a domain/URL filter, the visitors' page views.

use super::error::DomainResult;
use super::ids::{AccountId, Suid};
use super::listing::{Page, Paging};
use super::model::{Contact, Visitor};
use super::tracking::{PageView, TimelineEntry};
use super::traffic::site_of;
use crate::store::Store;

/// Which visitors to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VisitorQuery {
    /// Only visitors not linked to a contact.
    pub anonymous_only: bool,
    /// Only visitors with a page view on this site (a registered domain or a host).
    pub domain: Option<String>,
    /// Only visitors who viewed a page whose URL contains this text.
    pub url: Option<String>,
    pub paging: Paging,
}

/// A row of the visitors list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisitorRow {
    pub visitor: Visitor,
    pub page_views: u64,
    /// The site of the visitor's latest page view (`""`: none yet).
    pub site: String,
    /// The contact it is linked to (`None`: anonymous, or linked to a contact since deleted).
    pub contact: Option<Contact>,
}

fn row(
    store: &Store,
    account: AccountId,
    visitor: Visitor,
    views: &[PageView],
    domains: &[String],
) -> DomainResult<VisitorRow> {
    let contact = match visitor.link {
        Some(link) => store.contact(account, link.contact)?,
        None => None,
    };
    Ok(VisitorRow {
        page_views: views.len() as u64,
        site: views
            .last()
            .map(|view| site_of(&view.url, domains))
            .unwrap_or_default(),
        visitor,
        contact,
    })
}

fn wanted(query: &VisitorQuery, views: &[PageView], domains: &[String]) -> bool {
    let on_site = query.domain.as_deref().is_none_or(|domain| {
        views
            .iter()
            .any(|view| site_of(&view.url, domains) == domain)
    });
    let url = query
        .url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let visited = url.is_none_or(|url| views.iter().any(|view| view.url.contains(url)));
    on_site && visited
}

/// One page of the account's visitors, most recently seen first.
pub fn list_visitors(
    store: &Store,
    account: AccountId,
    query: &VisitorQuery,
) -> DomainResult<Page<VisitorRow>> {
    let domains: Vec<String> = store
        .domains(account)?
        .into_iter()
        .map(|domain| domain.name)
        .collect();
    let mut visitors: Vec<Visitor> = store
        .visitors(account)?
        .into_iter()
        .filter(|visitor| !query.anonymous_only || visitor.link.is_none())
        .collect();
    visitors.sort_by(|a, b| {
        b.last_seen
            .cmp(&a.last_seen)
            .then_with(|| a.suid.0.cmp(&b.suid.0))
    });
    let filtered = query.domain.is_some() || query.url.is_some();
    if filtered {
        let mut kept = Vec::new();
        for visitor in visitors {
            if wanted(query, &store.page_views(account, visitor.suid)?, &domains) {
                kept.push(visitor);
            }
        }
        visitors = kept;
    }
    let page = Page::of(visitors, query.paging);
    let mut items = Vec::with_capacity(page.items.len());
    for visitor in page.items.iter().cloned() {
        let views = store.page_views(account, visitor.suid)?;
        items.push(row(store, account, visitor, &views, &domains)?);
    }
    Ok(Page {
        items,
        page: page.page,
        pages: page.pages,
        total: page.total,
    })
}

/// A visitor with its page views and events, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisitorDetail {
    pub row: VisitorRow,
    pub timeline: Page<TimelineEntry>,
}

/// The visitor `suid` of the account; `None` if the account has none by that suid.
pub fn view_visitor(
    store: &Store,
    account: AccountId,
    suid: Suid,
    paging: Paging,
) -> DomainResult<Option<VisitorDetail>> {
    let Some(visitor) = store.visitor(account, suid)? else {
        return Ok(None);
    };
    let domains: Vec<String> = store
        .domains(account)?
        .into_iter()
        .map(|domain| domain.name)
        .collect();
    let views = store.page_views(account, suid)?;
    let mut entries: Vec<TimelineEntry> =
        views.iter().cloned().map(TimelineEntry::PageView).collect();
    entries.extend(
        store
            .tracked_events(account, suid)?
            .into_iter()
            .map(TimelineEntry::Event),
    );
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.at()));
    Ok(Some(VisitorDetail {
        row: row(store, account, visitor, &views, &domains)?,
        timeline: Page::of(entries, paging),
    }))
}
