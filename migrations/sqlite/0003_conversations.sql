-- Direct conversations: one room per pair of users. user_a < user_b (as
-- hex), so the pair is unique whoever opened it and a conversation opened
-- from both sides at once is stored once. Each user's name is the one it
-- last used there.
CREATE TABLE conversations (
    room          TEXT    PRIMARY KEY,
    user_a        TEXT    NOT NULL,
    name_a        TEXT    NOT NULL,
    user_b        TEXT    NOT NULL,
    name_b        TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_activity INTEGER NOT NULL,
    CHECK (user_a < user_b),
    UNIQUE (user_a, user_b)
) WITHOUT ROWID;

-- A user's conversations whichever side of the pair it is.
CREATE INDEX conversations_user_b ON conversations (user_b);
