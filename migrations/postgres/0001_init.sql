-- The key tokens are signed with: made once, so tokens outlive restarts and
-- every process of a cluster signs with the same key.
CREATE TABLE server_secret (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    secret BYTEA   NOT NULL
);

-- Each room's last assigned seq. An append locks its rooms' rows first, so
-- appends to one room are serialised across every process.
CREATE TABLE rooms (
    name     TEXT   PRIMARY KEY,
    last_seq BIGINT NOT NULL
);

-- text and client_id are bytes (UTF-8): PostgreSQL's TEXT cannot hold U+0000,
-- and both are stored exactly as the client sent them.
CREATE TABLE messages (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room      TEXT   NOT NULL,
    seq       BIGINT NOT NULL,
    user_id   TEXT   NOT NULL,
    user_name TEXT   NOT NULL,
    text      BYTEA  NOT NULL,
    ts        BIGINT NOT NULL,
    client_id BYTEA,
    UNIQUE (room, seq)
);

-- A retried message (same user, room and clientId) is found, not stored again.
CREATE UNIQUE INDEX messages_client_id
    ON messages (room, user_id, client_id)
    WHERE client_id IS NOT NULL;
