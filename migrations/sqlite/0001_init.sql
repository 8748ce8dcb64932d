-- The key tokens are signed with: made once, so tokens outlive restarts.
CREATE TABLE server_secret (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    secret BLOB NOT NULL
);

-- Each room's last assigned seq, so numbering continues after a restart.
CREATE TABLE rooms (
    name     TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE messages (
    id        INTEGER PRIMARY KEY,
    room      TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    user_id   TEXT    NOT NULL,
    user_name TEXT    NOT NULL,
    text      TEXT    NOT NULL,
    ts        INTEGER NOT NULL,
    client_id TEXT,
    UNIQUE (room, seq)
);

-- A retried message (same user, room and clientId) is found, not stored again.
CREATE UNIQUE INDEX messages_client_id
    ON messages (room, user_id, client_id)
    WHERE client_id IS NOT NULL;
