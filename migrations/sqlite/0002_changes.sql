-- A message's current state: edited text, deleted (its text then emptied),
-- and the message it answers.
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
ALTER TABLE messages ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN reply_to INTEGER;

-- Who reacted with what; id gives the order reactions were added in.
CREATE TABLE reactions (
    id         INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL,
    user_id    TEXT    NOT NULL,
    user_name  TEXT    NOT NULL,
    emoji      TEXT    NOT NULL,
    UNIQUE (message_id, user_id, emoji)
);

-- The log of changes to messages. Each takes its room's next seq from
-- rooms.last_seq, like a new message. It holds no text, so a deleted
-- message's text is nowhere.
CREATE TABLE changes (
    id         INTEGER PRIMARY KEY,
    room       TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    message_id INTEGER NOT NULL,
    user_id    TEXT    NOT NULL,
    user_name  TEXT    NOT NULL,
    client_id  TEXT,
    ts         INTEGER NOT NULL,
    UNIQUE (room, seq)
);

-- A retried change (same user, room and clientId) is found, not applied again.
CREATE UNIQUE INDEX changes_client_id
    ON changes (room, user_id, client_id)
    WHERE client_id IS NOT NULL;
