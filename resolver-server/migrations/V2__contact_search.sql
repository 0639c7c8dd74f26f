-- Contact search (store/contacts.rs `contact_candidates`): a trigram index over the stored
-- contact records, so `ILIKE '%phrase%'` reads the matching rows instead of the account.
-- pg_trgm ships with PostgreSQL (contrib) and is a trusted extension: the database's owner
-- may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The record's JSON as text. convert_from is only STABLE (it depends on the encoding), but
-- records are always UTF-8, so the result never changes for the same bytes.
CREATE FUNCTION ssrm_record_text(value bytea) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT convert_from(value, 'UTF8') $$;

-- Contact records only: keys of 17 bytes whose ninth is the contact kind (store/keys.rs:
-- account id, 0x10, contact id; a unit test in backend/pg.rs holds keys.rs to this).
CREATE INDEX tenant_contact_trigrams ON tenant_data
    USING gin (ssrm_record_text(value) gin_trgm_ops)
    WHERE length(key) = 17 AND get_byte(key, 8) = 16;
