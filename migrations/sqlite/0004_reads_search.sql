-- Each user's read position per room (public or direct): the greatest seq
-- it has marked read. It only ever grows.
CREATE TABLE reads (
    user_id  TEXT    NOT NULL,
    room     TEXT    NOT NULL,
    seq      INTEGER NOT NULL,
    read_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, room)
) WITHOUT ROWID;

-- Full-text search over messages' current text: an external-content FTS5
-- index kept in step by triggers, so every insert, edit and delete changes
-- it in the same transaction. Words are Unicode letters and digits, case
-- folded; accents are kept (as PostgreSQL's 'simple' configuration does).
CREATE VIRTUAL TABLE messages_fts USING fts5(
    text,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 0'
);

-- A deleted message's words are removed from the index's pages at once,
-- not merely masked by a delete marker (the text must leave the file).
INSERT INTO messages_fts (messages_fts, rank) VALUES ('secure-delete', 1);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN NOT new.deleted BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, deleted ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text)
        SELECT 'delete', old.id, old.text WHERE NOT old.deleted;
    INSERT INTO messages_fts (rowid, text)
        SELECT new.id, new.text WHERE NOT new.deleted;
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN NOT old.deleted BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;

-- Messages stored before this migration.
INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages WHERE NOT deleted;
