-- Each user's read position per room (public or direct): the greatest seq
-- it has marked read. It only ever grows.
CREATE TABLE reads (
    user_id  TEXT   NOT NULL,
    room     TEXT   NOT NULL,
    seq      BIGINT NOT NULL,
    read_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, room)
);

-- The words of a message's text (BYTEA, to hold U+0000) as text: U+0000
-- becomes a space, which PostgreSQL's TEXT cannot hold.
CREATE FUNCTION message_search_text(raw BYTEA) RETURNS TEXT
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    at INTEGER;
BEGIN
    LOOP
        at := position('\x00'::BYTEA IN raw);
        EXIT WHEN at = 0;
        raw := overlay(raw PLACING '\x20'::BYTEA FROM at FOR 1);
    END LOOP;
    RETURN convert_from(raw, 'UTF8');
END
$$;

-- Full-text search over messages' current text: a generated column, so an
-- insert, edit or delete (which empties the text) updates it in the same
-- statement; adding it fills it for every stored message. 'simple': no
-- stemming or stop words, as chat is in any language (SQLite's index does
-- the same).
ALTER TABLE messages ADD COLUMN search TSVECTOR
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, message_search_text(text))) STORED;

CREATE INDEX messages_search ON messages USING GIN (search);
