-- Wallet: one key check value per key version label. A label is bound to the key it was
-- first used with, so that a new key configured under an old label (which would make
-- rotation skip every row as done, and every read fail) stops the wallet at startup
-- instead. The value is a one-way fingerprint of the key (HMAC-SHA256 of a fixed label),
-- never the key.
CREATE TABLE IF NOT EXISTS wallet_key_check (
    provider     TEXT        NOT NULL,
    key_version  TEXT        NOT NULL,
    check_value  TEXT        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, key_version)
);
