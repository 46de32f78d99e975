-- schakel store, migration 4: signed checkpoints of the exchange log.
-- The daemon signs the chain head now and then with the broker's key;
-- `log verify` then says up to which checkpoint the log is proven intact,
-- and notices entries cut off the end (a checkpoint beyond the last entry).

CREATE TABLE checkpoint (
	seq             INTEGER PRIMARY KEY,   -- the entry whose hash is signed
	hash            TEXT NOT NULL,
	at              TEXT NOT NULL,
	signature       BLOB NOT NULL,         -- over "schakel-checkpoint\nSEQ\nHASH\nAT"
	certificate     TEXT NOT NULL          -- the signer's certificate (PEM)
);
