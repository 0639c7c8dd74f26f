//! Rule evaluation: called by the domain function that stores each triggering write (a page
//! view, an event, a visitor linked to a contact, a contact created), whatever API it came
//! through. A rule that fires queues its firing (the record and one delivery per action) with
//! one write before the triggering call returns, so it is durable when that call is
//! acknowledged; the delivery worker lays it out in one transaction (see [`QueuedFiring`]).
//!
//! Counting covers the contact's whole history: every visitor linked to it, including what they
//! did while anonymous. An anonymous visitor fires nothing; its history counts once it is linked.

use super::deliveries::{
    ContactSnapshot, Delivery, DeliveryAction, DeliveryState, Firing, FiringMark, QueuedFiring,
    TriggerInfo, TriggerKind, DAY,
};
use super::error::DomainResult;
use super::ids::{AccountId, ContactId, DeliveryId, Suid};
use super::model::{Contact, Millis};
use super::rules::{render_template, Action, Rule, Trigger};
use super::tracking::{PageView, TrackedEvent};
use crate::store::Store;

/// After a page view is stored: the page-view rules whose pattern matches its URL, if its
/// visitor belongs to a contact.
pub(super) fn after_page_view(
    store: &Store,
    account: AccountId,
    view: &PageView,
) -> DomainResult<()> {
    let rules = store.enabled_rules(account)?;
    let mut matching = rules
        .iter()
        .filter(
            |rule| matches!(rule.spec.when.trigger(), Trigger::PageView(p) if p.matches(&view.url)),
        )
        .peekable();
    if matching.peek().is_none() {
        return Ok(());
    }
    let Some(contact_id) = link_of(store, account, view.suid)? else {
        return Ok(());
    };
    let trigger = TriggerInfo {
        kind: TriggerKind::Pageview,
        url: Some(view.url.clone()),
        name: None,
        at: view.at,
    };
    let mut contact = None;
    for rule in matching {
        // Most page views of a known contact hit a rule that already fired for it: that is
        // one read, before the contact or its history is.
        if !may_fire_again(store, account, rule, contact_id, view.at)? {
            continue;
        }
        if contact.is_none() {
            contact = store.contact(account, contact_id)?;
        }
        let Some(contact) = &contact else {
            return Ok(());
        };
        consider(store, account, rule, contact, &trigger, view.at)?;
    }
    Ok(())
}

/// After an event is stored: the event rules whose name and properties match.
pub(super) fn after_event(
    store: &Store,
    account: AccountId,
    event: &TrackedEvent,
) -> DomainResult<()> {
    let rules = store.enabled_rules(account)?;
    let mut matching = rules
        .iter()
        .filter(|rule| {
            matches!(rule.spec.when.trigger(), Trigger::Event(p) if p.matches(&event.name, &event.props))
        })
        .peekable();
    if matching.peek().is_none() {
        return Ok(());
    }
    let Some(contact) = linked_contact(store, account, event.suid)? else {
        return Ok(());
    };
    let trigger = TriggerInfo {
        kind: TriggerKind::Event,
        url: Some(event.url.clone()).filter(|url| !url.is_empty()),
        name: Some(event.name.clone()),
        at: event.at,
    };
    for rule in matching {
        consider(store, account, rule, &contact, &trigger, event.at)?;
    }
    Ok(())
}

/// After a contact is created (any API, import, admin pages): the `contact_added` rules.
pub(super) fn after_contact_added(
    store: &Store,
    account: AccountId,
    contact: &Contact,
    now: Millis,
) -> DomainResult<()> {
    let rules = store.enabled_rules(account)?;
    let trigger = TriggerInfo {
        kind: TriggerKind::ContactAdded,
        url: None,
        name: None,
        at: now,
    };
    for rule in rules
        .iter()
        .filter(|rule| rule.spec.when.trigger() == Trigger::ContactAdded)
    {
        consider(store, account, rule, contact, &trigger, now)?;
    }
    Ok(())
}

/// Whether visitor `suid` is linked to `contact` now but was not `before` (the visitor's link
/// as it was before the write).
pub(super) fn newly_linked(
    store: &Store,
    account: AccountId,
    suid: Suid,
    before: Option<ContactId>,
    contact: ContactId,
) -> DomainResult<bool> {
    let now = store
        .visitor(account, suid)?
        .and_then(|visitor| visitor.link)
        .map(|link| link.contact);
    Ok(now == Some(contact) && before != Some(contact))
}

/// The contact a visitor is linked to now, if any.
pub(super) fn link_of(
    store: &Store,
    account: AccountId,
    suid: Suid,
) -> DomainResult<Option<ContactId>> {
    Ok(store
        .visitor(account, suid)?
        .and_then(|visitor| visitor.link)
        .map(|link| link.contact))
}

/// After a visitor became linked to a contact (`contacts/add` or `edit` with `suid`, trackUser):
/// the `identified` rules, and every page-view and event rule over the history the contact now
/// has, so what the visitor did while anonymous counts.
pub(super) fn after_link(
    store: &Store,
    account: AccountId,
    contact: ContactId,
    now: Millis,
) -> DomainResult<()> {
    let rules = store.enabled_rules(account)?;
    if rules.is_empty() {
        return Ok(());
    }
    let Some(contact) = store.contact(account, contact)? else {
        return Ok(());
    };
    for rule in rules.iter() {
        let trigger = match rule.spec.when.trigger() {
            Trigger::Identified => TriggerInfo {
                kind: TriggerKind::Identified,
                url: None,
                name: None,
                at: now,
            },
            Trigger::PageView(_) | Trigger::Event(_) => {
                // The trigger is the newest matching entry; none means nothing to count.
                match newest_match(store, account, rule, contact.id)? {
                    Some(trigger) => trigger,
                    None => continue,
                }
            }
            Trigger::ContactAdded => continue,
        };
        consider(store, account, rule, &contact, &trigger, now)?;
    }
    Ok(())
}

/// Whether the rule may fire for the contact at `now`: never fired, or repeatable and due.
fn may_fire_again(
    store: &Store,
    account: AccountId,
    rule: &Rule,
    contact: ContactId,
    now: Millis,
) -> DomainResult<bool> {
    Ok(match store.firing_mark(account, rule.id, contact)? {
        None => true,
        Some(mark) => rule
            .spec
            .repeat_after_days
            .is_some_and(|days| now - mark.last_at >= Millis::from(days) * DAY),
    })
}

/// The contact a visitor is linked to, if it still exists.
fn linked_contact(store: &Store, account: AccountId, suid: Suid) -> DomainResult<Option<Contact>> {
    match link_of(store, account, suid)? {
        Some(id) => Ok(store.contact(account, id)?),
        None => Ok(None),
    }
}

/// Fires `rule` for `contact` if it may fire again, its group conditions hold and (for counted
/// triggers) the contact's history has enough matching entries.
fn consider(
    store: &Store,
    account: AccountId,
    rule: &Rule,
    contact: &Contact,
    trigger: &TriggerInfo,
    now: Millis,
) -> DomainResult<()> {
    let mark = store.firing_mark(account, rule.id, contact.id)?;
    if let Some(mark) = mark {
        match rule.spec.repeat_after_days {
            None => return Ok(()),
            Some(days) if now - mark.last_at < Millis::from(days) * DAY => return Ok(()),
            Some(_) => {}
        }
    }
    if let Some(only_if) = rule.spec.only_if {
        if only_if
            .in_group
            .is_some_and(|g| !contact.groups.contains(&g))
            || only_if
                .not_in_group
                .is_some_and(|g| contact.groups.contains(&g))
        {
            return Ok(());
        }
    }
    if matches!(
        rule.spec.when.trigger(),
        Trigger::PageView(_) | Trigger::Event(_)
    ) {
        let window = rule
            .spec
            .when
            .within_days
            .map(|days| now - Millis::from(days) * DAY);
        // A repeat needs fresh behaviour: what counted for the last firing does not count again.
        let since = window.max(mark.map(|mark| mark.last_at + 1));
        let needed = rule.spec.when.needed();
        if count_matches(store, account, rule, contact.id, since, needed)? < needed {
            return Ok(());
        }
    }
    fire(store, account, rule, contact, trigger, mark, now)
}

/// How many of the contact's page views or events (whichever the rule counts) match it since
/// `since`, counting no further than `enough`.
fn count_matches(
    store: &Store,
    account: AccountId,
    rule: &Rule,
    contact: ContactId,
    since: Option<Millis>,
    enough: usize,
) -> DomainResult<usize> {
    let since = since.unwrap_or(0);
    let mut count = 0;
    for visitor in store.contact_visitors(account, contact)? {
        count += match rule.spec.when.trigger() {
            Trigger::PageView(pattern) => store.count_page_views_since(
                account,
                visitor.suid,
                since,
                enough - count,
                |url| pattern.matches(url),
            )?,
            Trigger::Event(pattern) => {
                store.count_events_since(account, visitor.suid, since, enough - count, |event| {
                    pattern.matches(&event.name, &event.props)
                })?
            }
            Trigger::Identified | Trigger::ContactAdded => 0,
        };
        if count >= enough {
            break;
        }
    }
    Ok(count)
}

/// The newest page view or event of the contact that matches the rule's pattern.
fn newest_match(
    store: &Store,
    account: AccountId,
    rule: &Rule,
    contact: ContactId,
) -> DomainResult<Option<TriggerInfo>> {
    let mut newest: Option<TriggerInfo> = None;
    for visitor in store.contact_visitors(account, contact)? {
        let found = match rule.spec.when.trigger() {
            Trigger::PageView(pattern) => store
                .page_views(account, visitor.suid)?
                .into_iter()
                .rev()
                .find(|view| pattern.matches(&view.url))
                .map(|view| TriggerInfo {
                    kind: TriggerKind::Pageview,
                    url: Some(view.url),
                    name: None,
                    at: view.at,
                }),
            Trigger::Event(pattern) => store
                .tracked_events(account, visitor.suid)?
                .into_iter()
                .rev()
                .find(|event| pattern.matches(&event.name, &event.props))
                .map(|event| TriggerInfo {
                    kind: TriggerKind::Event,
                    url: Some(event.url).filter(|url| !url.is_empty()),
                    name: Some(event.name),
                    at: event.at,
                }),
            Trigger::Identified | Trigger::ContactAdded => None,
        };
        if let Some(found) = found {
            if newest.as_ref().is_none_or(|n| found.at > n.at) {
                newest = Some(found);
            }
        }
    }
    Ok(newest)
}

/// Queues the firing, its mark and one pending delivery per action; of concurrent firings of
/// the same rule for the same contact, the first laid out wins and the others are dropped.
fn fire(
    store: &Store,
    account: AccountId,
    rule: &Rule,
    contact: &Contact,
    trigger: &TriggerInfo,
    previous: Option<FiringMark>,
    now: Millis,
) -> DomainResult<()> {
    let snapshot = ContactSnapshot::of(contact);
    // Deliveries run on the real clock even when the trigger carries an older time.
    let queued = super::model::now_millis();
    let firing_id = store.next_id()?;
    let mut deliveries = Vec::with_capacity(rule.spec.then.len());
    for action in &rule.spec.then {
        let action = match action {
            Action::AddToGroup(group) => DeliveryAction::AddToGroup(*group),
            Action::RemoveFromGroup(group) => DeliveryAction::RemoveFromGroup(*group),
            Action::AddToCampaign(target) => DeliveryAction::AddToCampaign(target.clone()),
            Action::Webhook(hook) => DeliveryAction::Webhook(hook.clone()),
            Action::SendSms(sms) => DeliveryAction::SendSms {
                text: render_template(&sms.text, |name| snapshot.placeholder(name)),
                sender: sms.sender.clone(),
            },
        };
        deliveries.push(Delivery {
            id: DeliveryId(store.next_id()?),
            account,
            rule: rule.id,
            rule_name: rule.spec.name.clone(),
            firing: firing_id,
            contact: snapshot.clone(),
            trigger: trigger.clone(),
            action,
            state: DeliveryState::Pending,
            attempts: Vec::new(),
            created_at: queued,
            next_at: Some(queued),
        });
    }
    let firing = Firing {
        id: firing_id,
        rule: rule.id,
        contact: contact.id,
        trigger: trigger.clone(),
        at: queued,
        deliveries: deliveries.iter().map(|d| d.id).collect(),
    };
    let mark = FiringMark {
        last_at: now,
        times: previous.map_or(1, |mark| mark.times + 1),
    };
    store.queue_firing(
        account,
        &QueuedFiring {
            previous,
            mark,
            firing,
            deliveries,
        },
    )?;
    Ok(())
}
