//! Accounts and their credentials: API users, tokens (by SHA-256), site domains with their
//! keys and owners.

use super::*;

impl Store {
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
}
