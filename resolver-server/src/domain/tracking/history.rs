//! A contact's history (its visitors' page views and events, and its rules' deliveries) and
//! the card's timeline.

use super::*;

/// One entry of a contact's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryEntry {
    PageView(PageView),
    Event(TrackedEvent),
    /// An action of a behaviour rule that fired for the contact, with its delivery's state.
    Rule(Box<Delivery>),
}

impl HistoryEntry {
    pub fn at(&self) -> Millis {
        match self {
            HistoryEntry::PageView(view) => view.at,
            HistoryEntry::Event(event) => event.at,
            HistoryEntry::Rule(delivery) => delivery.created_at,
        }
    }

    /// Ids grow with time, so they order entries recorded in the same millisecond.
    fn newest_first(&self) -> (std::cmp::Reverse<Millis>, std::cmp::Reverse<u64>) {
        let id = match self {
            HistoryEntry::PageView(view) => view.id,
            HistoryEntry::Event(event) => event.id,
            HistoryEntry::Rule(delivery) => delivery.id.0,
        };
        (std::cmp::Reverse(self.at()), std::cmp::Reverse(id))
    }
}

/// The page views and events of every visitor linked to an existing contact, in no order.
fn linked_entries(
    store: &Store,
    account: AccountId,
    contact: ContactId,
) -> DomainResult<Vec<HistoryEntry>> {
    store
        .contact(account, contact)?
        .ok_or(DomainError::NotFound(Entity::Contact))?;
    let mut entries = Vec::new();
    for visitor in store.contact_visitors(account, contact)? {
        entries.extend(
            store
                .page_views(account, visitor.suid)?
                .into_iter()
                .map(HistoryEntry::PageView),
        );
        entries.extend(
            store
                .tracked_events(account, visitor.suid)?
                .into_iter()
                .map(HistoryEntry::Event),
        );
    }
    Ok(entries)
}

/// The page views and events of every visitor linked to the contact, and the actions of the
/// rules that fired for it, newest first, one page. `NotFound(Contact)` when the contact is not
/// the account's.
pub fn contact_history(
    store: &Store,
    account: AccountId,
    contact: ContactId,
    paging: Paging,
) -> DomainResult<Page<HistoryEntry>> {
    let mut entries = linked_entries(store, account, contact)?;
    entries.extend(
        store
            .contact_deliveries(account, contact)?
            .into_iter()
            .map(|delivery| HistoryEntry::Rule(Box::new(delivery))),
    );
    entries.sort_by_key(HistoryEntry::newest_first);
    Ok(Page::of(entries, paging))
}

/// One line of a contact's timeline: a logged call or SMS, a page view, a custom event or an
/// action of a rule that fired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimelineEntry {
    Activity(Activity),
    PageView(PageView),
    Event(TrackedEvent),
    Rule(Box<Delivery>),
}

impl TimelineEntry {
    pub fn at(&self) -> Millis {
        match self {
            TimelineEntry::Activity(activity) => activity.at,
            TimelineEntry::PageView(view) => view.at,
            TimelineEntry::Event(event) => event.at,
            TimelineEntry::Rule(delivery) => delivery.created_at,
        }
    }
}

/// The contact card's timeline: activities, page views and events, newest first, one page.
pub fn contact_timeline(
    store: &Store,
    account: AccountId,
    contact: ContactId,
    paging: Paging,
) -> DomainResult<Page<TimelineEntry>> {
    let mut entries: Vec<TimelineEntry> = linked_entries(store, account, contact)?
        .into_iter()
        .map(|entry| match entry {
            HistoryEntry::PageView(view) => TimelineEntry::PageView(view),
            HistoryEntry::Event(event) => TimelineEntry::Event(event),
            HistoryEntry::Rule(delivery) => TimelineEntry::Rule(delivery),
        })
        .collect();
    entries.extend(
        store
            .contact_deliveries(account, contact)?
            .into_iter()
            .map(|delivery| TimelineEntry::Rule(Box::new(delivery))),
    );
    entries.extend(
        store
            .activities(account, contact)?
            .into_iter()
            .map(TimelineEntry::Activity),
    );
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.at()));
    Ok(Page::of(entries, paging))
}
