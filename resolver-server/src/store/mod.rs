//! The storage interface: the only code that touches sled.
//!
//! Methods are named for what the domain needs. Every method that writes keeps a record and all
//! of its index entries in one sled transaction, so an index can never disagree with its
//! records. Writes are not flushed here: the caller that acknowledges a write calls
//! [`Store::flush`] first.

mod activities;
pub(crate) mod backend;
pub mod backup;
mod blacklist;
mod campaigns;
mod commit;
pub mod keys;
pub mod migrate;
mod privacy;
mod rules;
mod sessions;
mod traffic;
mod visits;

pub use campaigns::RecordInsert;

use crate::domain::{
    Account, AccountId, ApiToken, ApiUser, AuditEntry, Contact, ContactId, DomainError,
    DomainResult, Email, Entity, Group, GroupId, LinkCause, Millis, Phone, SiteDomain, Suid,
    Visitor, VisitorLink,
};
use backend::{
    Batch, ConflictableTransactionError, ConflictableTransactionResult, Db, TransactionError,
    TransactionalTree, Tree,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sled::Error),
    #[error("corrupt record: {0}")]
    Corrupt(String),
    #[error("too many concurrent changes to the same records; try again")]
    Busy,
    #[error("flush failed: {0}")]
    Flush(String),
    /// PostgreSQL could not be reached or refused the statement (a lost connection, a
    /// restarting server): the request fails with the API's storage error, the pool reconnects.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(
        "the database's schema is version {applied}, newer than this binary knows ({known}); \
         run a newer resolver-server"
    )]
    SchemaTooNew { applied: i64, known: i64 },
}

pub(crate) type Tx<T> = ConflictableTransactionResult<T, DomainError>;

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records are plain data and always serialise")
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Corrupt(error.to_string()))
}

fn decode_tx<T: DeserializeOwned>(bytes: &[u8]) -> Tx<T> {
    decode(bytes).map_err(|error| ConflictableTransactionError::Abort(DomainError::Store(error)))
}

fn fail<T>(error: DomainError) -> Tx<T> {
    Err(ConflictableTransactionError::Abort(error))
}

fn account_id_value(account: AccountId) -> [u8; 8] {
    account.0.to_be_bytes()
}

fn account_id_from(value: &[u8]) -> Result<AccountId, StoreError> {
    let bytes: [u8; 8] = value
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| StoreError::Corrupt("auth entry shorter than an account id".into()))?;
    Ok(AccountId(u64::from_be_bytes(bytes)))
}

/// The store, on sled or PostgreSQL (`store/backend/`). Cheap to clone; clones share the
/// database and its flusher.
#[derive(Clone)]
pub struct Store {
    db: Db,
    data: Tree,
    auth: Tree,
    /// sled's default tree (the readiness probe).
    meta: Tree,
    /// sled's group commit; `None` on PostgreSQL, where a commit is durable when it returns.
    committer: Option<Arc<commit::GroupCommit>>,
    /// The database directory (`None` for a temporary database).
    dir: Option<PathBuf>,
    /// Every write holds this shared; a backup holds it exclusively while it copies the files,
    /// so the copy is of one moment ([`Store::backup_to`]).
    barrier: Arc<RwLock<()>>,
    /// Deliveries waiting for an attempt (`keys::outbox`).
    outbox: Tree,
    /// Each account's enabled rules, read once and dropped whenever a rule changes.
    rule_cache: rules::RuleCache,
    /// Woken whenever a delivery is queued, so the worker need not poll.
    outbox_signal: std::sync::Arc<tokio::sync::Notify>,
}

pub use backend::pg::DEFAULT_POOL;

/// Background work that one node at a time does ([`Store::exclusive_job`]); the value is the
/// PostgreSQL advisory lock's key.
#[derive(Clone, Copy, Debug)]
pub enum Job {
    Retention = 0x5352_4d01,
}

/// Held while this process does a [`Job`].
pub struct JobGuard(#[allow(dead_code)] Option<backend::pg::JobLock>);

/// sled's page cache when nothing else is asked for (`serve --cache-mb`).
pub const DEFAULT_CACHE_MB: u64 = 256;

/// How many times a write that lost a race to a concurrent one is retried before
/// [`StoreError::Busy`].
const MAX_RETRIES: usize = 16;

impl Store {
    /// Opens (creating if needed) the database in `dir`. sled allows one process per directory:
    /// a second open fails with a clear error instead of corrupting data.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with_cache(dir, DEFAULT_CACHE_MB)
    }

    /// Like [`Store::open`], with sled's page cache limited to `cache_mb` megabytes (sled's
    /// own default is 1 GiB; the cache is most of the server's memory).
    pub fn open_with_cache(dir: &Path, cache_mb: u64) -> Result<Store, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_mb.saturating_mul(1024 * 1024))
            .open()?;
        Store::from_db(db, Some(dir.to_owned()))
    }

    /// A database that lives only as long as this value (tests, benchmarks).
    pub fn open_temporary() -> Result<Store, StoreError> {
        Store::from_db(sled::Config::new().temporary(true).open()?, None)
    }

    /// Connects to the PostgreSQL database at `url` (`postgres://…`) with at most `pool`
    /// connections, and applies the embedded migrations (refusing a schema newer than this
    /// binary knows). Several servers may share one database.
    pub fn connect(url: &str, pool: usize) -> Result<Store, StoreError> {
        let pg = Arc::new(backend::pg::Pg::connect(url, pool)?);
        let store = Store::from_backend(Db::Pg(pg.clone()), None, None)?;
        store.listen_for_invalidations(&pg);
        Ok(store)
    }

    fn from_db(db: sled::Db, dir: Option<PathBuf>) -> Result<Store, StoreError> {
        let committer = Arc::new(commit::GroupCommit::start(db.clone())?);
        Store::from_backend(Db::Sled(db), dir, Some(committer))
    }

    fn from_backend(
        db: Db,
        dir: Option<PathBuf>,
        committer: Option<Arc<commit::GroupCommit>>,
    ) -> Result<Store, StoreError> {
        let data = db.open_tree("data")?;
        let auth = db.open_tree("auth")?;
        let meta = db.open_tree("")?;
        let outbox = db.open_tree("outbox")?;
        Ok(Store {
            db,
            data,
            auth,
            meta,
            committer,
            dir,
            barrier: Arc::new(RwLock::new(())),
            outbox,
            rule_cache: rules::RuleCache::default(),
            outbox_signal: std::sync::Arc::default(),
        })
    }

    /// Held (shared) by every write; see [`Store::backup_to`].
    fn write_guard(&self) -> RwLockReadGuard<'_, ()> {
        self.barrier
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes every write so far durable (the CLI, before it exits).
    pub fn flush(&self) -> Result<(), StoreError> {
        let started = Instant::now();
        self.db.flush()?;
        crate::telemetry::store_flushed(started.elapsed());
        Ok(())
    }

    /// Makes every write this caller completed so far durable, sharing the flush with
    /// concurrent callers (group commit, see `store/commit.rs`). What the server awaits
    /// before it acknowledges a write.
    pub async fn flush_shared(&self) -> Result<(), StoreError> {
        match &self.committer {
            Some(committer) => committer.commit().await,
            None => Ok(()),
        }
    }

    /// Becomes the one process doing `job` until the returned guard is dropped; `None` when
    /// another node sharing the database does it now (a PostgreSQL advisory lock; on sled one
    /// process owns the database and always gets it).
    pub fn exclusive_job(&self, job: Job) -> Result<Option<JobGuard>, StoreError> {
        match self.db.as_pg() {
            None => Ok(Some(JobGuard(None))),
            Some(pg) => Ok(pg.try_lock(job as i64)?.map(|lock| JobGuard(Some(lock)))),
        }
    }

    /// Whether this store is on PostgreSQL (several nodes may share it) rather than sled.
    pub fn is_shared(&self) -> bool {
        self.db.as_pg().is_some()
    }

    /// The readiness check: a write, a read of it back, and a flush.
    pub fn probe(&self) -> Result<(), StoreError> {
        let stamp = time::OffsetDateTime::now_utc()
            .unix_timestamp_nanos()
            .to_be_bytes();
        {
            let _guard = self.write_guard();
            self.meta.insert(keys::READINESS_PROBE, &stamp)?;
        }
        let read = self.meta.get(keys::READINESS_PROBE)?;
        if read.as_deref() != Some(&stamp[..]) {
            return Err(StoreError::Corrupt(
                "the readiness probe did not read back what it wrote".into(),
            ));
        }
        self.flush()
    }

    /// Bytes the database occupies on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk()
    }

    /// A new id, unique across the whole database and never reused.
    pub fn next_id(&self) -> Result<u64, StoreError> {
        let _guard = self.write_guard();
        Ok(self.db.generate_id()? + 1)
    }

    /// Reads the record at `key`, changes it and writes it back, in one transaction (so a
    /// concurrent change is never lost); `NotFound(what)` when there is none. For records
    /// without indexes: a change that moves an index entry needs its own transaction.
    fn change_record<T: Serialize + DeserializeOwned>(
        &self,
        key: Vec<u8>,
        what: Entity,
        change: impl Fn(&mut T),
    ) -> DomainResult<T> {
        self.transaction(|data, _| {
            let Some(bytes) = data.get(&key)? else {
                return fail(DomainError::NotFound(what));
            };
            let mut record: T = decode_tx(&bytes)?;
            change(&mut record);
            data.insert(key.clone(), encode(&record))?;
            Ok(record)
        })
    }

    fn transaction<T>(
        &self,
        body: impl Fn(&TransactionalTree, &TransactionalTree) -> Tx<T>,
    ) -> DomainResult<T> {
        let _guard = self.write_guard();
        backend::transaction(&self.data, &self.auth, body).map_err(|error| match error {
            TransactionError::Abort(error) => error,
            TransactionError::Storage(error) => DomainError::Store(error),
        })
    }

    fn get<T: DeserializeOwned>(&self, key: Vec<u8>) -> Result<Option<T>, StoreError> {
        self.data.get(key)?.map(|bytes| decode(&bytes)).transpose()
    }

    fn list<T: DeserializeOwned>(&self, prefix: Vec<u8>) -> Result<Vec<T>, StoreError> {
        self.data
            .scan_prefix(prefix)
            .map(|entry| decode(&entry?.1))
            .collect()
    }

    fn ids_under(&self, prefix: Vec<u8>) -> impl Iterator<Item = Result<u64, StoreError>> + '_ {
        self.data.scan_prefix(prefix).keys().map(|key| {
            let key = key?;
            keys::trailing_id(&key)
                .ok_or_else(|| StoreError::Corrupt("index key without id".into()))
        })
    }

    // ----- accounts and credentials -----

    /// Creates an account; its name must be unused.
    pub fn insert_account(&self, account: &Account) -> DomainResult<()> {
        self.transaction(|data, auth| {
            let name_key = keys::auth::account_name(&account.name);
            if auth.get(&name_key)?.is_some() {
                return fail(DomainError::AlreadyExists(Entity::Account));
            }
            auth.insert(name_key, &account_id_value(account.id))?;
            data.insert(keys::account(account.id), encode(account))?;
            Ok(())
        })
    }

    pub fn account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        self.get(keys::account(id))
    }

    pub fn account_by_name(&self, name: &str) -> Result<Option<Account>, StoreError> {
        match self.auth.get(keys::auth::account_name(name))? {
            Some(value) => self.account(account_id_from(&value)?),
            None => Ok(None),
        }
    }

    pub fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let mut accounts = Vec::new();
        for entry in self.auth.scan_prefix(keys::auth::account_names()) {
            if let Some(account) = self.account(account_id_from(&entry?.1)?)? {
                accounts.push(account);
            }
        }
        Ok(accounts)
    }

    /// Adds a user; user names are unique across all accounts because a login alone must
    /// identify the account.
    pub fn insert_user(&self, account: AccountId, user: &ApiUser) -> DomainResult<()> {
        self.transaction(|data, auth| {
            if data.get(keys::account(account))?.is_none() {
                return fail(DomainError::NotFound(Entity::Account));
            }
            let name_key = keys::auth::username(&user.username);
            if auth.get(&name_key)?.is_some() {
                return fail(DomainError::AlreadyExists(Entity::User));
            }
            auth.insert(name_key, &account_id_value(account))?;
            data.insert(keys::user(account, &user.username), encode(user))?;
            Ok(())
        })
    }

    pub fn user(&self, account: AccountId, username: &str) -> Result<Option<ApiUser>, StoreError> {
        self.get(keys::user(account, username))
    }

    /// Finds a user by login alone (the SerwerSMS and TelefUM credentials carry no account).
    pub fn user_by_name(&self, username: &str) -> Result<Option<(AccountId, ApiUser)>, StoreError> {
        let Some(value) = self.auth.get(keys::auth::username(username))? else {
            return Ok(None);
        };
        let account = account_id_from(&value)?;
        Ok(self.user(account, username)?.map(|user| (account, user)))
    }

    pub fn users(&self, account: AccountId) -> Result<Vec<ApiUser>, StoreError> {
        self.list(keys::users(account))
    }

    pub fn insert_token(&self, account: AccountId, token: &ApiToken) -> DomainResult<()> {
        self.transaction(|data, auth| {
            let key = keys::token(account, &token.prefix);
            if data.get(&key)?.is_some() {
                return fail(DomainError::AlreadyExists(Entity::Token));
            }
            auth.insert(
                keys::auth::token_sha256(&token.sha256),
                &account_id_value(account),
            )?;
            data.insert(key, encode(token))?;
            Ok(())
        })
    }

    /// The token whose SHA-256 is `sha256_hex`, with its account (revoked ones included: the
    /// caller decides what a revoked token means).
    pub fn token_by_sha256(
        &self,
        sha256_hex: &str,
    ) -> Result<Option<(AccountId, ApiToken)>, StoreError> {
        let Some(value) = self.auth.get(keys::auth::token_sha256(sha256_hex))? else {
            return Ok(None);
        };
        let account = account_id_from(&value)?;
        let token = self
            .list::<ApiToken>(keys::tokens(account))?
            .into_iter()
            .find(|token| token.sha256 == sha256_hex);
        Ok(token.map(|token| (account, token)))
    }

    pub fn tokens(&self, account: AccountId) -> Result<Vec<ApiToken>, StoreError> {
        self.list(keys::tokens(account))
    }

    /// Marks the token named by `prefix` revoked at `at`; revoking twice keeps the first time.
    pub fn revoke_token(
        &self,
        account: AccountId,
        prefix: &str,
        at: Millis,
    ) -> DomainResult<ApiToken> {
        self.change_record(
            keys::token(account, prefix),
            Entity::Token,
            |token: &mut ApiToken| {
                token.revoked_at.get_or_insert(at);
            },
        )
    }

    /// Registers a domain for an account, with its site key and its entry in the domain → owner
    /// index; one account registers a domain name once, and a name another account has is
    /// refused.
    pub fn insert_domain(&self, account: AccountId, domain: &SiteDomain) -> DomainResult<()> {
        self.transaction(|data, auth| {
            if data.get(keys::account(account))?.is_none() {
                return fail(DomainError::NotFound(Entity::Account));
            }
            let key = keys::domain(account, &domain.name);
            if data.get(&key)?.is_some() {
                return fail(DomainError::AlreadyExists(Entity::Domain));
            }
            let owners_key = keys::auth::domain_owners(&domain.name);
            let owners = auth
                .get(&owners_key)?
                .map(|v| v.to_vec())
                .unwrap_or_default();
            if owners
                .chunks(8)
                .any(|owner| owner != account_id_value(account))
            {
                return fail(DomainError::InvalidField {
                    field: "domain",
                    reason: "another account has registered this domain (a domain belongs to \
                             one account; a subdomain of it can be registered separately)",
                });
            }
            auth.insert(owners_key, account_id_value(account).to_vec())?;
            let mut value = account_id_value(account).to_vec();
            value.extend_from_slice(domain.name.as_bytes());
            auth.insert(keys::auth::site_key(&domain.site_key), value)?;
            data.insert(key, encode(domain))?;
            Ok(())
        })
    }

    /// The accounts that registered the domain `name` (exactly as stored, lower-case ASCII).
    pub fn domain_owners(&self, name: &str) -> Result<Vec<AccountId>, StoreError> {
        let Some(value) = self.auth.get(keys::auth::domain_owners(name))? else {
            return Ok(Vec::new());
        };
        value.chunks(8).map(account_id_from).collect()
    }

    /// Removes a domain's owner entry, as in a store written before the index existed.
    #[cfg(test)]
    pub(crate) fn forget_domain_owners(&self, name: &str) {
        self.auth
            .remove(keys::auth::domain_owners(name))
            .expect("remove an auth entry");
    }

    /// Rewrites the domain → owners index from the domain records of every account (stores
    /// written before the index existed get it at start; it is idempotent). Answers each
    /// domain name with its owners.
    pub fn rebuild_domain_owners(&self) -> Result<Vec<(String, Vec<AccountId>)>, StoreError> {
        let mut owners: std::collections::BTreeMap<String, Vec<AccountId>> = Default::default();
        for account in self.accounts()? {
            for domain in self.domains(account.id)? {
                owners.entry(domain.name).or_default().push(account.id);
            }
        }
        let mut batch = Batch::default();
        for (name, accounts) in &owners {
            let value: Vec<u8> = accounts
                .iter()
                .flat_map(|id| account_id_value(*id))
                .collect();
            batch.insert(keys::auth::domain_owners(name), value);
        }
        self.auth.apply_batch(batch)?;
        Ok(owners.into_iter().collect())
    }

    pub fn domains(&self, account: AccountId) -> Result<Vec<SiteDomain>, StoreError> {
        self.list(keys::domains(account))
    }

    pub fn domain(&self, account: AccountId, name: &str) -> Result<Option<SiteDomain>, StoreError> {
        self.get(keys::domain(account, name))
    }

    /// Finds the domain a tracker's site key names, with the account that owns it.
    pub fn domain_by_site_key(
        &self,
        site_key: &str,
    ) -> Result<Option<(AccountId, SiteDomain)>, StoreError> {
        let Some(value) = self.auth.get(keys::auth::site_key(site_key))? else {
            return Ok(None);
        };
        let account = account_id_from(&value)?;
        let name = std::str::from_utf8(&value[8..])
            .map_err(|_| StoreError::Corrupt("site key entry with a non-UTF-8 domain".into()))?;
        Ok(self.domain(account, name)?.map(|domain| (account, domain)))
    }

    /// Replaces a domain's settings (never its name or site key).
    pub fn update_domain(
        &self,
        account: AccountId,
        name: &str,
        change: impl Fn(&mut SiteDomain),
    ) -> DomainResult<SiteDomain> {
        self.change_record(keys::domain(account, name), Entity::Domain, change)
    }

    // ----- contacts -----

    pub fn contact(
        &self,
        account: AccountId,
        id: ContactId,
    ) -> Result<Option<Contact>, StoreError> {
        self.get(keys::contact(account, id))
    }

    fn contacts_under(
        &self,
        account: AccountId,
        prefix: Vec<u8>,
    ) -> Result<Vec<Contact>, StoreError> {
        let mut contacts = Vec::new();
        for id in self.ids_under(prefix) {
            if let Some(contact) = self.contact(account, ContactId(id?))? {
                contacts.push(contact);
            }
        }
        Ok(contacts)
    }

    /// Contacts whose phone is `phone`, oldest first, through the phone index.
    pub fn contacts_by_phone(
        &self,
        account: AccountId,
        phone: &Phone,
    ) -> Result<Vec<Contact>, StoreError> {
        self.contacts_under(account, keys::phone_index(account, phone.as_str()))
    }

    /// Contacts whose phone ends with these digits (the last nine of a number), oldest first,
    /// through the phone-tail index.
    pub fn contacts_by_phone_tail(
        &self,
        account: AccountId,
        tail: &str,
    ) -> Result<Vec<Contact>, StoreError> {
        self.contacts_under(account, keys::phone_tail_index(account, tail))
    }

    /// Contacts whose phone was typed with these digits (no `+`) in a form other than E.164,
    /// oldest first, through the dialed-digits index.
    pub fn contacts_by_dialed_digits(
        &self,
        account: AccountId,
        digits: &str,
    ) -> Result<Vec<Contact>, StoreError> {
        self.contacts_under(account, keys::dialed_index(account, digits))
    }

    /// Contacts whose e-mail is `email`, oldest first, through the e-mail index.
    pub fn contacts_by_email(
        &self,
        account: AccountId,
        email: &Email,
    ) -> Result<Vec<Contact>, StoreError> {
        self.contacts_under(account, keys::email_index(account, email.as_str()))
    }

    /// Every contact of the account in id order (oldest first).
    pub fn contacts(
        &self,
        account: AccountId,
    ) -> impl Iterator<Item = Result<Contact, StoreError>> + '_ {
        self.data
            .scan_prefix(keys::contacts(account))
            .values()
            .map(|value| decode(&value?))
    }

    /// Ids of the contacts in a group, in id order.
    pub fn group_member_ids(
        &self,
        account: AccountId,
        group: GroupId,
    ) -> impl Iterator<Item = Result<ContactId, StoreError>> + '_ {
        self.ids_under(keys::group_members(account, group))
            .map(|id| id.map(ContactId))
    }

    /// Stores a new contact with its indexes and group memberships (unknown groups are dropped)
    /// and, when `link` names a visitor, links that visitor to it. Returns the stored contact.
    pub fn insert_contact(
        &self,
        account: AccountId,
        contact: &Contact,
        link: Option<(Suid, LinkCause)>,
    ) -> DomainResult<Contact> {
        self.transaction(|data, _| {
            let mut contact = contact.clone();
            if let Some((suid, cause)) = link {
                tx_link_visitor(data, account, &mut contact, suid, cause)?;
            }
            tx_put_contact(data, account, None, contact)
        })
    }

    /// Creates `group` and stores `contacts` (new, with fresh ids) in it with their indexes,
    /// all or nothing. A new group and fresh ids leave nothing to read or to conflict with, so
    /// this is one atomic sled batch rather than a transaction: a transaction of 5,000
    /// contacts re-read and re-wrote the group's count for each contact.
    pub fn insert_group_with_contacts(
        &self,
        account: AccountId,
        group: &Group,
        contacts: &[Contact],
    ) -> DomainResult<()> {
        let mut batch = Batch::default();
        let mut group = group.clone();
        group.count = contacts.len() as u64;
        // The account's blacklist read once (keys only), not one read per contact: on
        // PostgreSQL each read is a round trip.
        let listed: std::collections::HashSet<backend::IVec> = self
            .data
            .scan_prefix(keys::blacklist(account))
            .keys()
            .collect::<Result<_, _>>()
            .map_err(StoreError::from)?;
        batch.insert(keys::group(account, group.id), encode(&group));
        for contact in contacts {
            let mut contact = contact.clone();
            contact.groups = vec![group.id];
            // The flag mirrors the account's blacklist, as in `tx_put_contact`.
            contact.blacklist = contact.phone.e164().is_some_and(|e164| {
                listed.contains(keys::blacklist_entry(account, e164).as_slice())
            });
            batch.insert(keys::group_member(account, group.id, contact.id), &[]);
            for key in index_keys(account, &contact) {
                batch.insert(key, &[]);
            }
            batch.insert(keys::contact(account, contact.id), encode(&contact));
        }
        let _guard = self.write_guard();
        self.data.apply_batch(batch).map_err(StoreError::from)?;
        Ok(())
    }

    /// Reads contact `id`, lets `change` compute its new state, and stores that with its
    /// indexes, in one transaction (`change` may run more than once if a concurrent write
    /// wins a race). With `link`, also links that visitor.
    pub fn update_contact(
        &self,
        account: AccountId,
        id: ContactId,
        change: impl Fn(&Contact) -> DomainResult<Contact>,
        link: Option<(Suid, LinkCause)>,
    ) -> DomainResult<Contact> {
        self.transaction(|data, _| {
            let Some(bytes) = data.get(keys::contact(account, id))? else {
                return fail(DomainError::NotFound(Entity::Contact));
            };
            let old: Contact = decode_tx(&bytes)?;
            let mut new = change(&old).map_err(ConflictableTransactionError::Abort)?;
            new.id = old.id;
            if let Some((suid, cause)) = link {
                tx_link_visitor(data, account, &mut new, suid, cause)?;
            }
            tx_put_contact(data, account, Some(&old), new)
        })
    }

    /// Deletes the contacts, all or none: one unknown id fails the whole call. Everything
    /// stored about them goes in the same transaction (see `store/privacy.rs`), with one audit
    /// entry per contact made by `audit`.
    pub fn delete_contacts(
        &self,
        account: AccountId,
        ids: &[ContactId],
        audit: &dyn Fn(ContactId) -> AuditEntry,
    ) -> DomainResult<()> {
        let plan = self.plan_erasure(account, ids)?;
        let at = crate::domain::now_millis();
        self.outbox_transaction(|data, outbox| {
            for id in ids {
                let Some(bytes) = data.get(keys::contact(account, *id))? else {
                    return fail(DomainError::NotFound(Entity::Contact));
                };
                tx_remove_contact(data, account, &decode_tx(&bytes)?)?;
                privacy::tx_audit(data, account, &audit(*id))?;
            }
            privacy::tx_erase(data, outbox, account, &plan)
        })?;
        let suids: Vec<Suid> = plan.suids().collect();
        self.sweep_erased(account, &suids, at)?;
        Ok(())
    }

    // ----- groups -----

    pub fn group(&self, account: AccountId, id: GroupId) -> Result<Option<Group>, StoreError> {
        self.get(keys::group(account, id))
    }

    pub fn groups(&self, account: AccountId) -> Result<Vec<Group>, StoreError> {
        self.list(keys::groups(account))
    }

    pub fn insert_group(&self, account: AccountId, group: &Group) -> DomainResult<()> {
        let _guard = self.write_guard();
        self.data
            .insert(keys::group(account, group.id), encode(group))
            .map_err(StoreError::from)?;
        Ok(())
    }

    pub fn rename_group(&self, account: AccountId, id: GroupId, name: &str) -> DomainResult<Group> {
        self.change_record(
            keys::group(account, id),
            Entity::Group,
            |group: &mut Group| {
                name.clone_into(&mut group.name);
            },
        )
    }

    /// Deletes groups, all or none (one unknown id fails the call). Their contacts leave the
    /// groups, or are deleted too when `delete_contacts` is set.
    pub fn delete_groups(
        &self,
        account: AccountId,
        ids: &[GroupId],
        delete_contacts: bool,
        audit: &dyn Fn(ContactId) -> AuditEntry,
    ) -> DomainResult<()> {
        for _ in 0..MAX_RETRIES {
            // Members are read first because sled transactions cannot scan; the transaction
            // checks each group's member count against what was read and starts over if a
            // concurrent write changed the membership in between.
            let mut members = Vec::with_capacity(ids.len());
            for id in ids {
                members.push(
                    self.group_member_ids(account, *id)
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            let contact_ids: Vec<ContactId> = members.iter().flatten().copied().collect();
            let plan = if delete_contacts {
                self.plan_erasure(account, &contact_ids)?
            } else {
                privacy::Erasure::default()
            };
            let at = crate::domain::now_millis();
            let outcome = self.outbox_transaction(|data, outbox| {
                for (id, members) in ids.iter().zip(&members) {
                    let Some(bytes) = data.get(keys::group(account, *id))? else {
                        return fail(DomainError::NotFound(Entity::Group));
                    };
                    let group: Group = decode_tx(&bytes)?;
                    if group.count != members.len() as u64 {
                        return fail(DomainError::Store(StoreError::Busy));
                    }
                }
                for (id, members) in ids.iter().zip(&members) {
                    for contact_id in members {
                        let Some(bytes) = data.get(keys::contact(account, *contact_id))? else {
                            continue; // deleted above as a member of an earlier group
                        };
                        let contact: Contact = decode_tx(&bytes)?;
                        if delete_contacts {
                            tx_remove_contact(data, account, &contact)?;
                            privacy::tx_audit(data, account, &audit(contact.id))?;
                        } else {
                            let mut changed = contact.clone();
                            changed.groups.retain(|group| group != id);
                            tx_put_contact(data, account, Some(&contact), changed)?;
                        }
                    }
                    data.remove(keys::group(account, *id))?;
                }
                privacy::tx_erase(data, outbox, account, &plan)
            });
            match outcome {
                Err(DomainError::Store(StoreError::Busy)) => continue,
                Err(error) => return Err(error),
                Ok(()) => {
                    let suids: Vec<Suid> = plan.suids().collect();
                    self.sweep_erased(account, &suids, at)?;
                    return Ok(());
                }
            }
        }
        Err(DomainError::Store(StoreError::Busy))
    }

    // ----- visitors -----

    pub fn visitor(&self, account: AccountId, suid: Suid) -> Result<Option<Visitor>, StoreError> {
        self.get(keys::visitor(account, suid))
    }

    /// Every visitor of the account, in no particular order.
    pub fn visitors(&self, account: AccountId) -> Result<Vec<Visitor>, StoreError> {
        self.list(keys::all_visitors(account))
    }

    /// The visitors linked to a contact, through the contact→visitor index.
    pub fn contact_visitors(
        &self,
        account: AccountId,
        contact: ContactId,
    ) -> Result<Vec<Visitor>, StoreError> {
        let mut visitors = Vec::new();
        for key in self
            .data
            .scan_prefix(keys::contact_visitors(account, contact))
            .keys()
        {
            let key = key?;
            let suid = keys::trailing_suid(&key)
                .ok_or_else(|| StoreError::Corrupt("contact-visitor key without suid".into()))?;
            if let Some(visitor) = self.visitor(account, suid)? {
                if visitor.link.map(|link| link.contact) == Some(contact) {
                    visitors.push(visitor);
                }
            }
        }
        Ok(visitors)
    }
}

/// Writes `new` (replacing `old`) with every index entry it implies, keeping group counts.
/// Groups that do not exist in the account are dropped from `new.groups`.
fn tx_put_contact(
    data: &TransactionalTree,
    account: AccountId,
    old: Option<&Contact>,
    mut new: Contact,
) -> Tx<Contact> {
    new.groups.sort_unstable();
    new.groups.dedup();
    let mut kept = Vec::with_capacity(new.groups.len());
    for group in &new.groups {
        let already = old.is_some_and(|old| old.groups.contains(group));
        if already || data.get(keys::group(account, *group))?.is_some() {
            kept.push(*group);
        }
    }
    new.groups = kept;

    let empty = Vec::new();
    let old_groups = old.map_or(&empty, |old| &old.groups);
    for group in old_groups.iter().filter(|g| !new.groups.contains(g)) {
        data.remove(keys::group_member(account, *group, new.id))?;
        tx_adjust_group_count(data, account, *group, -1)?;
    }
    for group in new.groups.iter().filter(|g| !old_groups.contains(g)) {
        data.insert(keys::group_member(account, *group, new.id), &[])?;
        tx_adjust_group_count(data, account, *group, 1)?;
    }

    // The flag mirrors the account's blacklist, kept in the same transaction as the record.
    new.blacklist = match new.phone.e164() {
        Some(e164) => data.get(keys::blacklist_entry(account, e164))?.is_some(),
        None => false,
    };
    if let Some(old) = old {
        if old.phone != new.phone {
            data.remove(keys::phone_entry(account, old.phone.as_str(), old.id))?;
            data.remove(keys::phone_tail_entry(account, old.phone.tail(), old.id))?;
            if let Some(digits) = dialed_digits(&old.phone) {
                data.remove(keys::dialed_entry(account, digits, old.id))?;
            }
        }
        if let Some(email) = old
            .email
            .as_ref()
            .filter(|email| new.email.as_ref() != Some(*email))
        {
            data.remove(keys::email_entry(account, email.as_str(), old.id))?;
        }
    }
    for key in index_keys(account, &new) {
        data.insert(key, &[])?;
    }
    data.insert(keys::contact(account, new.id), encode(&new))?;
    Ok(new)
}

/// The look-up entries of a contact: its phone, the phone's last digits, the digits as dialled
/// (when they differ from E.164) and its e-mail.
fn index_keys(account: AccountId, contact: &Contact) -> impl Iterator<Item = Vec<u8>> {
    [
        Some(keys::phone_entry(
            account,
            contact.phone.as_str(),
            contact.id,
        )),
        Some(keys::phone_tail_entry(
            account,
            contact.phone.tail(),
            contact.id,
        )),
        contact
            .email
            .as_ref()
            .map(|email| keys::email_entry(account, email.as_str(), contact.id)),
        dialed_digits(&contact.phone).map(|digits| keys::dialed_entry(account, digits, contact.id)),
    ]
    .into_iter()
    .flatten()
}

/// The digits of a phone typed in another form than its E.164 one: the key of its
/// dialed-digits entry. Numbers read strictly have none.
fn dialed_digits(phone: &Phone) -> Option<&str> {
    let dialed = phone.dialed();
    (phone.e164() != Some(dialed)).then(|| dialed.strip_prefix('+').unwrap_or(dialed))
}

/// Removes a contact, its index entries and memberships.
fn tx_remove_contact(data: &TransactionalTree, account: AccountId, contact: &Contact) -> Tx<()> {
    for group in &contact.groups {
        data.remove(keys::group_member(account, *group, contact.id))?;
        tx_adjust_group_count(data, account, *group, -1)?;
    }
    data.remove(keys::phone_entry(
        account,
        contact.phone.as_str(),
        contact.id,
    ))?;
    data.remove(keys::phone_tail_entry(
        account,
        contact.phone.tail(),
        contact.id,
    ))?;
    if let Some(digits) = dialed_digits(&contact.phone) {
        data.remove(keys::dialed_entry(account, digits, contact.id))?;
    }
    if let Some(email) = &contact.email {
        data.remove(keys::email_entry(account, email.as_str(), contact.id))?;
    }
    data.remove(keys::contact(account, contact.id))?;
    Ok(())
}

fn tx_adjust_group_count(
    data: &TransactionalTree,
    account: AccountId,
    group: GroupId,
    delta: i64,
) -> Tx<()> {
    let key = keys::group(account, group);
    if let Some(bytes) = data.get(&key)? {
        let mut record: Group = decode_tx(&bytes)?;
        record.count = record.count.saturating_add_signed(delta);
        data.insert(key, encode(&record))?;
    }
    Ok(())
}

/// Links visitor `suid` (created if never seen) to `contact` unless it is already linked to a
/// different contact that still exists: only an anonymous visitor is merged into a contact.
/// The contact's canonical suid is set if it had none. Returns whether the link was made.
fn tx_link_visitor(
    data: &TransactionalTree,
    account: AccountId,
    contact: &mut Contact,
    suid: Suid,
    cause: LinkCause,
) -> Tx<bool> {
    let now = crate::domain::now_millis();
    let key = keys::visitor(account, suid);
    let mut visitor = match data.get(&key)? {
        Some(bytes) => decode_tx::<Visitor>(&bytes)?,
        None => Visitor::new(suid, now),
    };
    if let Some(link) = visitor.link {
        if link.contact == contact.id {
            contact.suid.get_or_insert(suid);
            return Ok(true);
        }
        if data.get(keys::contact(account, link.contact))?.is_some() {
            return Ok(false);
        }
    }
    visitor.link = Some(VisitorLink {
        contact: contact.id,
        cause,
        at: now,
    });
    data.insert(key, encode(&visitor))?;
    data.insert(keys::contact_visitor(account, contact.id, suid), &[])?;
    traffic::tx_tally(
        data,
        account,
        &crate::domain::Tally::Linked {
            suid,
            cause,
            at: now,
        },
    )?;
    contact.suid.get_or_insert(suid);
    Ok(true)
}
