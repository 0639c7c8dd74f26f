//! Contacts: validation of what callers send, creation with the optional visitor link, edits,
//! deletion, listing with search, sort and paging, and import.
//!
//! "Given" means present and not blank: every API treats null, empty and absent alike.

use super::email::Email;
use super::error::{DomainError, DomainResult, Entity};
use super::ids::{AccountId, ContactId, GroupId, Suid};
use super::listing::{Order, Page, Paging};
use super::model::{now_millis, Contact, ContactKind, Group, LinkCause, Principal};
use super::phone::{Country, Phone};
use super::text::{check_text, MAX_FIELD_LEN, MAX_GROUP_NAME_LEN};
use crate::store::Store;
use std::collections::HashMap;

/// What a caller may set on a contact. `None` (or a blank string) leaves a field as it is on
/// edit and empty on add.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContactInput {
    pub phone: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub tax_id: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub description: Option<String>,
    /// The contact's groups: on edit, given replaces the membership (an empty list leaves
    /// every group). Ids of unknown groups, or of another account's groups, are ignored.
    pub groups: Option<Vec<GroupId>>,
    /// The visitor's `ssrm_user` cookie value: links that visitor to the contact.
    pub suid: Option<String>,
    pub kind: Option<ContactKind>,
    /// Where the contact came from (e.g. the phone line that was called).
    pub source: Option<String>,
    /// How `phone` is read: strictly (SerwerSMS, the default) or as any dialable string.
    pub phone_reading: PhoneReading,
}

/// How a caller's phone is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PhoneReading {
    /// A valid number only ([`Phone::parse`]); anything else is [`DomainError::InvalidPhone`].
    #[default]
    Strict,
    /// Any dialable string ([`Phone::dialable`]), as telephony software sends it.
    Dialable,
}

impl PhoneReading {
    fn read(self, raw: &str, country: Country) -> Option<Phone> {
        match self {
            PhoneReading::Strict => Phone::parse(raw, country),
            PhoneReading::Dialable => Phone::dialable(raw, country),
        }
    }
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The validated form of a [`ContactInput`]: everything parsed, nothing stored yet.
struct ValidInput<'a> {
    phone: Option<Phone>,
    email: Option<Email>,
    texts: [(&'static str, Option<&'a str>); 7],
    source: Option<&'a str>,
    source_phone: Option<Phone>,
    suid: Option<Suid>,
}

fn validate<'a>(input: &'a ContactInput, country: Country) -> DomainResult<ValidInput<'a>> {
    let phone = given(&input.phone)
        .map(|raw| {
            input
                .phone_reading
                .read(raw, country)
                .ok_or(DomainError::InvalidPhone { field: "phone" })
        })
        .transpose()?;
    let email = given(&input.email)
        .map(|raw| {
            if raw.chars().count() > MAX_FIELD_LEN {
                return Err(DomainError::TooLong {
                    field: "email",
                    max: MAX_FIELD_LEN,
                });
            }
            Email::parse(raw).ok_or(DomainError::InvalidEmail { field: "email" })
        })
        .transpose()?;
    let texts = [
        ("first_name", given(&input.first_name)),
        ("last_name", given(&input.last_name)),
        ("company", given(&input.company)),
        ("tax_id", given(&input.tax_id)),
        ("address", given(&input.address)),
        ("city", given(&input.city)),
        ("description", given(&input.description)),
    ];
    for (field, value) in texts {
        if let Some(value) = value {
            check_text(field, value, MAX_FIELD_LEN)?;
        }
    }
    let source = given(&input.source);
    if let Some(source) = source {
        check_text("source", source, MAX_FIELD_LEN)?;
    }
    // A source that is a phone line (TelefUM's x_pstn, often sent with an unencoded `+` that
    // arrives as a space) is kept in E.164, so it reads the same however it was sent.
    let source_phone = source.and_then(|source| Phone::parse(source, country));
    let suid = given(&input.suid)
        .map(|raw| {
            Suid::parse(raw).ok_or(DomainError::InvalidField {
                field: "suid",
                reason: "must be a UUID",
            })
        })
        .transpose()?;
    Ok(ValidInput {
        phone,
        email,
        texts,
        source,
        source_phone,
        suid,
    })
}

impl ValidInput<'_> {
    /// Writes the given fields onto `contact`; blank ones are kept or cleared per `blanks`.
    fn apply(&self, contact: &mut Contact, groups: Option<&[GroupId]>, blanks: Blanks) {
        if let Some(phone) = &self.phone {
            contact.phone = phone.clone();
        }
        if self.email.is_some() || blanks == Blanks::Clear {
            contact.email.clone_from(&self.email);
        }
        for (field, value) in self.texts {
            if let Some(value) = value.or((blanks == Blanks::Clear).then_some("")) {
                let target = match field {
                    "first_name" => &mut contact.first_name,
                    "last_name" => &mut contact.last_name,
                    "company" => &mut contact.company,
                    "tax_id" => &mut contact.tax_id,
                    "address" => &mut contact.address,
                    "city" => &mut contact.city,
                    _ => &mut contact.description,
                };
                value.clone_into(target);
            }
        }
        if let Some(source) = self.source {
            contact.source = Some(
                self.source_phone
                    .as_ref()
                    .map_or(source, Phone::as_str)
                    .to_owned(),
            );
        }
        if let Some(groups) = groups {
            contact.groups = groups.to_vec();
        }
    }
}

/// How an edit reads a field it was given blank: SerwerSMS clients send null for "unchanged",
/// the admin form sends an emptied field to clear it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blanks {
    Keep,
    Clear,
}

pub(super) fn account_country(store: &Store, account: AccountId) -> DomainResult<Country> {
    let account = store
        .account(account)?
        .ok_or(DomainError::NotFound(Entity::Account))?;
    Ok(Country::parse(&account.country).unwrap_or(Country::POLAND))
}

/// Reads a phone number as the account's users type it (national numbers in the account's
/// country).
pub fn parse_phone(store: &Store, account: AccountId, raw: &str) -> DomainResult<Phone> {
    Phone::parse(raw, account_country(store, account)?)
        .ok_or(DomainError::InvalidPhone { field: "phone" })
}

fn blank_contact(
    id: ContactId,
    phone: Phone,
    principal: &Principal,
    kind: Option<ContactKind>,
) -> Contact {
    let now = now_millis();
    Contact {
        id,
        phone,
        email: None,
        first_name: String::new(),
        last_name: String::new(),
        company: String::new(),
        tax_id: String::new(),
        address: String::new(),
        city: String::new(),
        description: String::new(),
        blacklist: false,
        groups: Vec::new(),
        suid: None,
        kind: kind.unwrap_or_default(),
        source: None,
        created_by: principal.username.clone(),
        created_at: now,
        updated_at: now,
    }
}

/// Creates a contact. `phone` is required. With `suid`, the visitor with that cookie (created
/// if never seen) is linked to the new contact and its page views become the contact's
/// history, unless that visitor already belongs to another contact.
pub fn add_contact(
    store: &Store,
    principal: &Principal,
    input: &ContactInput,
) -> DomainResult<Contact> {
    let valid = validate(input, account_country(store, principal.account)?)?;
    let phone = valid
        .phone
        .clone()
        .ok_or(DomainError::MissingField { field: "phone" })?;
    let mut contact = blank_contact(ContactId(store.next_id()?), phone, principal, input.kind);
    valid.apply(&mut contact, input.groups.as_deref(), Blanks::Keep);
    let link = valid.suid.map(|suid| (suid, LinkCause::ContactsAdd));
    let contact = store.insert_contact(principal.account, &contact, link)?;
    let account = principal.account;
    super::automation::after_contact_added(store, account, &contact, contact.created_at)?;
    if let Some(suid) = valid.suid {
        if super::automation::newly_linked(store, account, suid, None, contact.id)? {
            super::automation::after_link(store, account, contact.id, contact.created_at)?;
        }
    }
    Ok(contact)
}

/// Changes a contact: given fields replace the stored ones, others stay. `phone` is required
/// (as in the SerwerSMS API). With `suid`, links that visitor as [`add_contact`] does.
pub fn edit_contact(
    store: &Store,
    principal: &Principal,
    id: ContactId,
    input: &ContactInput,
) -> DomainResult<Contact> {
    edit_contact_with(store, principal, id, input, Blanks::Keep)
}

/// [`edit_contact`] with the choice of what a blank field means.
pub fn edit_contact_with(
    store: &Store,
    principal: &Principal,
    id: ContactId,
    input: &ContactInput,
    blanks: Blanks,
) -> DomainResult<Contact> {
    let valid = validate(input, account_country(store, principal.account)?)?;
    if valid.phone.is_none() {
        return Err(DomainError::MissingField { field: "phone" });
    }
    let link = valid.suid.map(|suid| (suid, LinkCause::ContactsAdd));
    let before = match valid.suid {
        Some(suid) => super::automation::link_of(store, principal.account, suid)?,
        None => None,
    };
    let contact = store.update_contact(
        principal.account,
        id,
        |current| {
            let mut contact = current.clone();
            valid.apply(&mut contact, input.groups.as_deref(), blanks);
            if let Some(kind) = input.kind {
                contact.kind = kind;
            }
            contact.updated_at = now_millis();
            Ok(contact)
        },
        link,
    )?;
    if let Some(suid) = valid.suid {
        if super::automation::newly_linked(store, principal.account, suid, before, id)? {
            super::automation::after_link(store, principal.account, id, contact.updated_at)?;
        }
    }
    Ok(contact)
}

/// One contact of the account.
pub fn view_contact(store: &Store, account: AccountId, id: ContactId) -> DomainResult<Contact> {
    store
        .contact(account, id)?
        .ok_or(DomainError::NotFound(Entity::Contact))
}

/// Deletes contacts, all or none: an id unknown to the account fails the call and deletes
/// nothing. Everything stored about them is erased with them (their visitors and browsing,
/// activities, campaign records, firings, deliveries) and each deletion is audited.
pub fn delete_contacts(
    store: &Store,
    account: AccountId,
    ids: &[ContactId],
    erasing: &super::Erasing,
) -> DomainResult<()> {
    if ids.is_empty() {
        return Err(DomainError::MissingField { field: "id" });
    }
    store.delete_contacts(account, ids, &|id| erasing.entry(id))
}

/// Which contacts a list shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GroupFilter {
    #[default]
    Any,
    /// Contacts in no group.
    NoGroup,
    Group(GroupId),
}

impl GroupFilter {
    /// Whether `contact` belongs in a list filtered so.
    pub fn admits(self, contact: &Contact) -> bool {
        match self {
            GroupFilter::Any => true,
            GroupFilter::NoGroup => contact.groups.is_empty(),
            GroupFilter::Group(id) => contact.groups.contains(&id),
        }
    }
}

/// A column contacts can be sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContactSort {
    FirstName,
    LastName,
    Phone,
    Company,
    TaxId,
    Email,
    Address,
    City,
    Description,
}

impl ContactSort {
    /// Every column, in the order of their SerwerSMS names below.
    pub const ALL: [ContactSort; 9] = [
        ContactSort::FirstName,
        ContactSort::LastName,
        ContactSort::Phone,
        ContactSort::Company,
        ContactSort::TaxId,
        ContactSort::Email,
        ContactSort::Address,
        ContactSort::City,
        ContactSort::Description,
    ];

    /// Reads the SerwerSMS column name.
    pub fn parse(name: &str) -> Option<ContactSort> {
        ContactSort::ALL
            .into_iter()
            .find(|sort| sort.name() == name)
    }

    /// The SerwerSMS column name.
    pub fn name(self) -> &'static str {
        match self {
            ContactSort::FirstName => "first_name",
            ContactSort::LastName => "last_name",
            ContactSort::Phone => "phone",
            ContactSort::Company => "company",
            ContactSort::TaxId => "tax_id",
            ContactSort::Email => "email",
            ContactSort::Address => "address",
            ContactSort::City => "city",
            ContactSort::Description => "description",
        }
    }

    /// What a list sorted by this column compares (byte-wise, then by id): the text as shown
    /// lower-cased, the phone and e-mail as stored.
    pub fn key(self, contact: &Contact) -> String {
        match self {
            ContactSort::FirstName => contact.first_name.to_lowercase(),
            ContactSort::LastName => contact.last_name.to_lowercase(),
            ContactSort::Phone => contact.phone.as_str().to_owned(),
            ContactSort::Company => contact.company.to_lowercase(),
            ContactSort::TaxId => contact.tax_id.to_lowercase(),
            ContactSort::Email => contact
                .email
                .as_ref()
                .map(|e| e.as_str().to_owned())
                .unwrap_or_default(),
            ContactSort::Address => contact.address.to_lowercase(),
            ContactSort::City => contact.city.to_lowercase(),
            ContactSort::Description => contact.description.to_lowercase(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContactQuery {
    pub group: GroupFilter,
    /// A phrase looked for in every field; a phone number in any usual form also finds the
    /// contacts with that number.
    pub search: Option<String>,
    pub sort: Option<ContactSort>,
    pub order: Order,
    pub paging: Paging,
}

/// A contact in a list, with the group it is shown under (the filtered group, else its first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactListItem {
    pub contact: Contact,
    pub group: Option<Group>,
}

struct Search {
    phrase: String,
    phone: Option<Phone>,
}

impl Search {
    fn matches(&self, contact: &Contact) -> bool {
        if self
            .phone
            .as_ref()
            .is_some_and(|phone| phone.as_str() == contact.phone.as_str())
        {
            return true;
        }
        let phrase = self.phrase.as_str();
        let texts = contact.searched_texts();
        contact.phone.as_str().contains(phrase)
            || contact
                .email
                .as_ref()
                .is_some_and(|email| email.as_str().contains(phrase))
            || texts
                .iter()
                .any(|text| text.to_lowercase().contains(phrase))
    }
}

/// `candidates` (in id order) with the contacts whose phone is the one the phrase reads as,
/// which a text index cannot find when it was typed in another form (`500 600 700`).
fn with_phone_matches(
    store: &Store,
    account: AccountId,
    search: &Search,
    mut candidates: Vec<Contact>,
) -> DomainResult<Vec<Contact>> {
    if let Some(phone) = &search.phone {
        candidates.extend(store.contacts_by_phone(account, phone)?);
        candidates.sort_by_key(|contact| contact.id);
        candidates.dedup_by_key(|contact| contact.id);
    }
    Ok(candidates)
}

/// Lists the account's contacts: filtered by group and search phrase, sorted, one page.
/// A group id unknown to the account is an error (the caller learns nothing of other accounts).
pub fn list_contacts(
    store: &Store,
    account: AccountId,
    query: &ContactQuery,
) -> DomainResult<Page<ContactListItem>> {
    let groups: HashMap<GroupId, Group> = store
        .groups(account)?
        .into_iter()
        .map(|g| (g.id, g))
        .collect();
    let search = match given(&query.search) {
        Some(phrase) => Some(Search {
            phrase: phrase.to_lowercase(),
            phone: Phone::parse(phrase, account_country(store, account)?),
        }),
        None => None,
    };
    let keep = |contact: &Contact| search.as_ref().is_none_or(|search| search.matches(contact));
    let in_group = |contact: &Contact| query.group.admits(contact);
    if let GroupFilter::Group(id) = query.group {
        if !groups.contains_key(&id) {
            return Err(DomainError::NotFound(Entity::Group));
        }
    }
    // The index's candidates (a superset, in id order) when it can answer, else every
    // contact of the group or account; either way each is checked against the search.
    let candidates = match &search {
        Some(search) => store
            .contact_candidates(account, &search.phrase, query.group)?
            .map(|found| with_phone_matches(store, account, search, found))
            .transpose()?,
        None => None,
    };
    let shown_group = |contact: &Contact| match query.group {
        GroupFilter::Group(id) => groups.get(&id).cloned(),
        _ => contact.groups.iter().find_map(|id| groups.get(id)).cloned(),
    };
    let item = |contact: Contact| ContactListItem {
        group: shown_group(&contact),
        contact,
    };
    if search.is_none() {
        // Without a phrase the index pages the list itself, when it can.
        let paged = store.contact_page(
            account,
            query.group,
            query.sort,
            query.order,
            Page::<Contact>::skipped(query.paging),
            query.paging.limit,
        )?;
        if let Some((total, contacts)) = paged {
            let items = contacts.into_iter().map(item).collect();
            return Ok(Page::holding(items, query.paging, total));
        }
    }
    let mut contacts = Vec::new();
    match (candidates, query.group) {
        (Some(candidates), _) => contacts.extend(
            candidates
                .into_iter()
                .filter(|contact| in_group(contact) && keep(contact)),
        ),
        (None, GroupFilter::Group(id)) => {
            contacts.extend(store.group_contacts(account, id)?.into_iter().filter(keep));
        }
        (None, GroupFilter::Any | GroupFilter::NoGroup) => {
            for contact in store.contacts(account) {
                let contact = contact?;
                if in_group(&contact) && keep(&contact) {
                    contacts.push(contact);
                }
            }
        }
    }
    if let Some(sort) = query.sort {
        contacts.sort_by_cached_key(|contact| (sort.key(contact), contact.id));
    }
    if query.order == Order::Descending {
        contacts.reverse();
    }
    Ok(Page::of(contacts, query.paging).map(item))
}

/// Rebuilds the search index's entries of the account's contacts (`resolver-server reindex`);
/// how many were indexed, `None` when the store has no index (PostgreSQL searches in the
/// database).
pub fn reindex_contacts(store: &Store, account: AccountId) -> DomainResult<Option<u64>> {
    Ok(store.reindex_contacts(account)?)
}

/// The contacts a caller's number belongs to, however the PBX wrote it (`0123456789`,
/// `8 012 345 67 89`, `+7 012 345-67-89`, `48500600700`, an extension `101`): any dialable
/// string ([`Phone::dialable`]), matched by its E.164 form in the account's country, by the
/// digits as typed, and by the last nine digits. Oldest first.
pub fn contacts_by_caller_number(
    store: &Store,
    account: AccountId,
    raw: &str,
) -> DomainResult<Vec<Contact>> {
    let phone = Phone::dialable(raw, account_country(store, account)?)
        .ok_or(DomainError::InvalidPhone { field: "phone" })?;
    let dialed = phone.dialed();
    let digits = dialed.strip_prefix('+').unwrap_or(dialed);
    let tail = &digits[digits.len().saturating_sub(super::phone::TAIL_DIGITS)..];
    let mut found = store.contacts_by_phone(account, &phone)?;
    for contact in store
        .contacts_by_dialed_digits(account, digits)?
        .into_iter()
        .chain(store.contacts_by_phone_tail(account, tail)?)
    {
        if !found.iter().any(|known| known.id == contact.id) {
            found.push(contact);
        }
    }
    found.sort_by_key(|contact| contact.id);
    Ok(found)
}

/// A group of a contact found by phone (SerwerSMS `groups/check`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneGroup {
    pub contact: ContactId,
    pub group: Group,
}

/// The groups of every contact with this phone number.
pub fn groups_of_phone(
    store: &Store,
    account: AccountId,
    phone: &str,
) -> DomainResult<Vec<PhoneGroup>> {
    let phone = parse_phone(store, account, phone)?;
    let mut found = Vec::new();
    for contact in store.contacts_by_phone(account, &phone)? {
        for id in &contact.groups {
            if let Some(group) = store.group(account, *id)? {
                found.push(PhoneGroup {
                    contact: contact.id,
                    group,
                });
            }
        }
    }
    Ok(found)
}

/// The outcome of an import: the new group and how many contacts went in or were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportReport {
    pub group: GroupId,
    pub correct: u64,
    pub failed: u64,
}

/// Creates a group named `group_name` and adds the valid ones of `items` to it, in one
/// transaction; invalid items (no or bad phone, bad e-mail, too long) are counted as failed.
pub fn import_contacts(
    store: &Store,
    principal: &Principal,
    group_name: &str,
    items: &[ContactInput],
) -> DomainResult<ImportReport> {
    let group = super::groups::new_group(store, group_name)?;
    let country = account_country(store, principal.account)?;
    let mut contacts = Vec::with_capacity(items.len());
    let mut failed = 0;
    for item in items {
        let Ok(valid) = validate(item, country) else {
            failed += 1;
            continue;
        };
        let Some(phone) = valid.phone.clone() else {
            failed += 1;
            continue;
        };
        let mut contact = blank_contact(ContactId(store.next_id()?), phone, principal, item.kind);
        valid.apply(&mut contact, Some(&[group.id]), Blanks::Keep);
        contacts.push(contact);
    }
    store.insert_group_with_contacts(principal.account, &group, &contacts)?;
    for contact in &contacts {
        super::automation::after_contact_added(
            store,
            principal.account,
            contact,
            contact.created_at,
        )?;
    }
    Ok(ImportReport {
        group: group.id,
        correct: contacts.len() as u64,
        failed,
    })
}

/// Group names share the contact-field rules with their own limit.
pub(super) fn check_group_name(name: &str) -> DomainResult<&str> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DomainError::MissingField { field: "name" });
    }
    check_text("name", name, MAX_GROUP_NAME_LEN)?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::accounts::create_account;
    use crate::domain::privacy::operator;

    fn setup() -> (Store, Principal) {
        let store = Store::open_temporary().expect("store");
        let account = create_account(&store, "shop", None).expect("account");
        (
            store,
            Principal {
                account: account.id,
                username: None,
            },
        )
    }

    fn input(phone: &str) -> ContactInput {
        ContactInput {
            phone: Some(phone.into()),
            ..ContactInput::default()
        }
    }

    #[test]
    fn a_contact_is_found_by_its_phone_however_it_was_typed() {
        let (store, principal) = setup();
        let added = add_contact(&store, &principal, &input("500 600 700")).expect("add");
        assert_eq!(added.phone.as_str(), "+48500600700");
        for typed in ["500600700", "48500600700", "+48500600700"] {
            let query = ContactQuery {
                search: Some(typed.into()),
                ..ContactQuery::default()
            };
            let page = list_contacts(&store, principal.account, &query).expect("list");
            assert_eq!(page.items.len(), 1, "search {typed:?}");
        }
    }

    #[test]
    fn a_caller_is_found_however_the_pbx_writes_the_number() {
        let (store, principal) = setup();
        let polish = add_contact(&store, &principal, &input("+48 500 600 700")).expect("add");
        let russian = add_contact(&store, &principal, &input("+7 901 222-22-22")).expect("add");
        for (typed, expected) in [
            ("500600700", polish.id),
            ("+48500600700", polish.id),
            ("0048 500 600 700", polish.id),
            ("89012222222", russian.id),
            ("+79012222222", russian.id),
            ("9012222222", russian.id),
        ] {
            let found =
                contacts_by_caller_number(&store, principal.account, typed).expect("lookup");
            assert_eq!(
                found.iter().map(|c| c.id).collect::<Vec<_>>(),
                vec![expected],
                "typed {typed:?}"
            );
        }
        assert!(
            contacts_by_caller_number(&store, principal.account, "600100200")
                .expect("lookup")
                .is_empty()
        );
        assert!(contacts_by_caller_number(&store, principal.account, "abc").is_err());
    }

    #[test]
    fn edit_keeps_fields_that_are_not_given() {
        let (store, principal) = setup();
        let mut first = input("500600700");
        first.first_name = Some("Jan".into());
        first.email = Some("Jan@Example.com".into());
        let added = add_contact(&store, &principal, &first).expect("add");
        let mut change = input("+48 600 700 800");
        change.first_name = Some("".into());
        change.city = Some("Kraków".into());
        let edited = edit_contact(&store, &principal, added.id, &change).expect("edit");
        assert_eq!(edited.first_name, "Jan");
        assert_eq!(edited.city, "Kraków");
        assert_eq!(
            edited.email.as_ref().map(Email::as_str),
            Some("jan@example.com")
        );
        let old_phone = Phone::parse("500600700", Country::POLAND).expect("valid");
        assert!(store
            .contacts_by_phone(principal.account, &old_phone)
            .expect("index")
            .is_empty());
        assert_eq!(
            store
                .contacts_by_phone(principal.account, &edited.phone)
                .expect("index")
                .len(),
            1
        );
    }

    #[test]
    fn invalid_input_stores_nothing() {
        let (store, principal) = setup();
        let mut bad = input("500600700");
        bad.last_name = Some("x".repeat(256));
        assert!(matches!(
            add_contact(&store, &principal, &bad),
            Err(DomainError::TooLong {
                field: "last_name",
                ..
            })
        ));
        assert!(matches!(
            add_contact(&store, &principal, &input("12")),
            Err(DomainError::InvalidPhone { .. })
        ));
        assert!(matches!(
            add_contact(&store, &principal, &ContactInput::default()),
            Err(DomainError::MissingField { field: "phone" })
        ));
        assert_eq!(store.contacts(principal.account).count(), 0);
    }

    #[test]
    fn suid_links_the_visitor_and_becomes_the_canonical_suid() {
        let (store, principal) = setup();
        let suid = Suid::random();
        let mut with_suid = input("500600700");
        with_suid.suid = Some(suid.to_string());
        let contact = add_contact(&store, &principal, &with_suid).expect("add");
        assert_eq!(contact.suid, Some(suid));
        let visitor = store
            .visitor(principal.account, suid)
            .expect("store")
            .expect("visitor created");
        assert_eq!(
            visitor.link.map(|l| (l.contact, l.cause)),
            Some((contact.id, LinkCause::ContactsAdd))
        );
        // A visitor that already belongs to a contact is not moved to another one.
        let other = add_contact(&store, &principal, &with_suid).expect("add");
        assert_eq!(other.suid, None);
        let visitor = store
            .visitor(principal.account, suid)
            .expect("store")
            .expect("visitor");
        assert_eq!(visitor.link.map(|l| l.contact), Some(contact.id));
    }

    #[test]
    fn a_dialled_number_is_found_by_its_digits_until_it_changes_or_goes() {
        let (store, principal) = setup();
        let dialled = |phone: &str| ContactInput {
            phone: Some(phone.into()),
            phone_reading: PhoneReading::Dialable,
            ..Default::default()
        };
        let contact = add_contact(&store, &principal, &dialled("0123456789")).expect("add");
        let found = |raw: &str| -> Vec<ContactId> {
            contacts_by_caller_number(&store, principal.account, raw)
                .expect("find")
                .iter()
                .map(|c| c.id)
                .collect()
        };
        assert_eq!(found("012 345 67 89"), [contact.id]);
        edit_contact_with(
            &store,
            &principal,
            contact.id,
            &dialled("101"),
            Blanks::Keep,
        )
        .expect("edit");
        assert!(
            found("0123456789").is_empty(),
            "the old digits are unindexed"
        );
        assert_eq!(found("101"), [contact.id]);
        delete_contacts(&store, principal.account, &[contact.id], &operator()).expect("delete");
        assert!(found("101").is_empty());
        assert!(matches!(
            add_contact(
                &store,
                &principal,
                &ContactInput {
                    phone: Some("0123456789".into()),
                    ..Default::default()
                }
            ),
            Err(DomainError::InvalidPhone { .. })
        ));
    }
}
