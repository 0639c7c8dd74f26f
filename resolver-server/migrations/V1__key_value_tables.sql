-- ssrm's store as ordered key-value tables with the same keys as sled (store/keys.rs).
-- bytea compares as memcmp, so ORDER BY key is sled's order.

-- Tenant data: every key starts with its account id (8 bytes, big-endian), repeated in
-- account_id so the primary key starts with it: distributable by account with Citus
-- (SELECT create_distributed_table('tenant_data', 'account_id')).
CREATE TABLE tenant_data (
    account_id bigint NOT NULL,
    key bytea NOT NULL,
    value bytea NOT NULL,
    PRIMARY KEY (account_id, key)
);

-- The look-ups that find the account: user name, token digest, site key, account name,
-- domain owners, admin sessions. Small; a reference table under Citus.
CREATE TABLE auth_data (
    key bytea PRIMARY KEY,
    value bytea NOT NULL
);

-- Due deliveries (due time | account | delivery id).
CREATE TABLE outbox_data (
    key bytea PRIMARY KEY,
    value bytea NOT NULL
);

-- sled's default tree: the readiness probe.
CREATE TABLE meta_data (
    key bytea PRIMARY KEY,
    value bytea NOT NULL
);

-- Every id the store hands out (accounts, contacts, groups, ...), never reused.
CREATE SEQUENCE ssrm_ids AS bigint MINVALUE 1 START 1;
