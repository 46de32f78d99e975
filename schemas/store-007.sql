-- schakel store, migration 7: the deliverer sends one message at a time per
-- recipient and asks for the oldest due delivery of each; this index finds
-- the recipients with pending deliveries, and each one's oldest, by seeks
-- instead of a walk through every pending row.
CREATE INDEX delivery_next ON delivery(state, oin, next_at);
