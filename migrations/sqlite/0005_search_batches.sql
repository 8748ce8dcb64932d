-- Messages enter the search index in batches, a moment after they are
-- stored, instead of in the transaction that stores them (see
-- src/store/sqlite/index.rs). FTS5 writes a new segment of the index for
-- every transaction that adds to it: about six pages per commit of one
-- message, twice the work of the commit itself. A batch of a hundred
-- writes about fourteen pages in all.
--
-- Every message whose id is at most indexed_upto is in the index with its
-- current text (unless deleted); the rest are not in it at all. Ids only
-- grow: messages are never removed (a deleted one keeps its row), so no
-- new message takes an id at or below indexed_upto.
CREATE TABLE search_progress (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_upto INTEGER NOT NULL
);

-- Every message stored so far is indexed already (by the insert trigger).
INSERT INTO search_progress (id, indexed_upto) SELECT 1, COALESCE(MAX(id), 0) FROM messages;

DROP TRIGGER messages_fts_insert;

-- An edit or delete changes the index only for a message that is in it;
-- one not indexed yet goes in later with its text as it is then.
DROP TRIGGER messages_fts_update;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, deleted ON messages
    WHEN old.id <= (SELECT indexed_upto FROM search_progress) BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text)
        SELECT 'delete', old.id, old.text WHERE NOT old.deleted;
    INSERT INTO messages_fts (rowid, text)
        SELECT new.id, new.text WHERE NOT new.deleted;
END;

DROP TRIGGER messages_fts_delete;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
    WHEN NOT old.deleted AND old.id <= (SELECT indexed_upto FROM search_progress) BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
