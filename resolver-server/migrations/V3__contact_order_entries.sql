-- Sorted contact lists (store/contact_orders.rs): order entries (key kind 0x18) and the
-- contact counter (0x19) live in tenant_data beside the other index entries, so no table
-- changes. This version exists so that a binary from before order entries, which would write
-- contacts without them, refuses the database (a schema newer than it knows).
COMMENT ON TABLE tenant_data IS
    'ssrm tenant records with their index entries, order entries and counters (store/keys.rs)';
