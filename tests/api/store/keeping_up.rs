//! The store contract for read markers and search: run on both backends by
//! the `conformance!` list in `mod.rs`.

use super::database::{Backend, TestDatabase};
use super::{draft, room};
use baat_chit::domain::{Action, ChangeDraft, MessageText, RoomName, SearchQuery, User, UserId};
use baat_chit::domain::{DisplayName, Message};
use baat_chit::store::{ReadMarker, Search, Store};
use std::sync::Arc;

fn user(name: &str) -> User {
    User { id: UserId::random(), name: DisplayName::parse(name).expect("name") }
}

async fn say(store: &Arc<dyn Store>, room: &str, by: UserId, text: &str) -> Message {
    store.append(&[draft(room, by, text, None)]).await.expect("appended").remove(0).message
}

fn search(query: &str, user: UserId, room: Option<RoomName>) -> Search {
    let query = SearchQuery::parse(query).expect("a query");
    Search { query, user, room, before: None, limit: 20 }
}

async fn found(store: &Arc<dyn Store>, search: &Search) -> Vec<i64> {
    store.search(search).await.expect("searched").iter().map(|m| m.id).collect()
}

pub async fn a_read_marker_only_moves_forward_and_never_past_the_end(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let (asha, bo) = (UserId::random(), UserId::random());
    let mut sent = Vec::new();
    for i in 0..4 {
        sent.push(say(&store, "a", bo, &format!("m{i}")).await);
    }
    let marked = store.mark_read(asha, &room("a"), sent[1].seq).await.expect("marked");
    assert!(marked.moved);
    let up_to_the_end =
        ReadMarker { room: room("a"), read_seq: sent[1].seq, unread: 2, last_seq: sent[3].seq };
    assert_eq!(marked.marker, up_to_the_end, "the count says where it stopped: the room's end");
    let back = store.mark_read(asha, &room("a"), sent[0].seq).await.expect("answered");
    assert!(!back.moved);
    assert_eq!(back.marker.read_seq, sent[1].seq);
    let far = store.mark_read(asha, &room("a"), i64::MAX).await.expect("marked");
    assert_eq!((far.marker.read_seq, far.marker.unread), (sent[3].seq, 0));
    let other = store.read_marker(bo, &room("a")).await.expect("read");
    assert_eq!((other.read_seq, other.unread), (0, 0), "bo's own messages are not unread for bo");
    assert_eq!(store.read_markers(asha, 10).await.expect("listed"), vec![far.marker]);
    assert!(store.read_markers(bo, 10).await.expect("listed").is_empty());
}

pub async fn unread_counts_messages_not_changes_deleted_ones_or_your_own(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let (asha, bo) = (user("Asha"), user("Bo"));
    let first = say(&store, "a", bo.id, "one").await;
    store.mark_read(asha.id, &room("a"), first.seq).await.expect("marked");
    let edited = say(&store, "a", bo.id, "two").await;
    let deleted = say(&store, "a", bo.id, "three").await;
    say(&store, "a", asha.id, "mine").await;
    edit_and_delete(&store, &bo, (edited.id, "two, edited"), deleted.id).await;
    let marker = store.read_marker(asha.id, &room("a")).await.expect("read");
    assert_eq!((marker.read_seq, marker.unread), (first.seq, 1));
}

pub async fn search_finds_current_text_ranked_and_never_a_deleted_message(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let asha = user("Asha");
    let once = say(&store, "a", asha.id, "the Kestrel flew").await;
    let twice = say(&store, "b", asha.id, "kestrel, kestrel!").await;
    let edited = say(&store, "a", asha.id, "a sparrow").await;
    let deleted = say(&store, "a", asha.id, "a kestrel gone").await;
    edit_and_delete(&store, &asha, (edited.id, "a kestrel now"), deleted.id).await;
    let hits = found(&store, &search("KESTREL", asha.id, None)).await;
    assert_eq!(hits.first(), Some(&twice.id), "the message with the word twice ranks first");
    let mut rest = hits[1..].to_vec();
    rest.sort_unstable();
    assert_eq!(rest, vec![once.id, edited.id], "never the deleted one");
    assert!(found(&store, &search("sparrow", asha.id, None)).await.is_empty(), "old text");
    assert!(found(&store, &search("gone", asha.id, None)).await.is_empty(), "deleted text");
    let in_a = found(&store, &search("kestrel", asha.id, Some(room("a")))).await;
    assert!(!in_a.contains(&twice.id));
    let before = Search { before: Some(edited.id), ..search("kestrel", asha.id, None) };
    let mut older = found(&store, &before).await;
    older.sort_unstable();
    assert_eq!(older, vec![once.id, twice.id]);
    let phrase = found(&store, &search("\"kestrel flew\" -sparrow", asha.id, None)).await;
    assert_eq!(phrase, vec![once.id]);
    let either = found(&store, &search("flew or now", asha.id, None)).await;
    assert_eq!(either.len(), 2);
}

pub async fn search_finds_a_conversation_only_for_its_two_users(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let (asha, bo, cy) = (user("Asha"), user("Bo"), user("Cy"));
    let pair = store.open_conversation(&asha, &bo).await.expect("opened").pair;
    let sent = say(&store, pair.room.as_str(), asha.id, "our heron secret").await;
    let public = say(&store, "lobby", cy.id, "a heron in public").await;
    for who in [&asha, &bo] {
        let mut hits = found(&store, &search("heron", who.id, None)).await;
        hits.sort_unstable();
        assert_eq!(hits, vec![sent.id, public.id]);
    }
    assert_eq!(found(&store, &search("heron", cy.id, None)).await, vec![public.id]);
}

pub async fn the_search_index_is_filled_for_messages_stored_before_it(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    db.migrate_to(3).await;
    let user = UserId::random().to_string();
    db.execute(&format!(
        "INSERT INTO rooms (name, last_seq) VALUES ('old', 2); \
         INSERT INTO messages (room, seq, user_id, user_name, text, ts) VALUES \
         ('old', 1, '{user}', 'Asha', {}, 1), ('old', 2, '{user}', 'Asha', {}, 2)",
        db.text_literal("an ancient albatross"),
        db.text_literal("nul\0albatross too"),
    ))
    .await;
    let store = db.open().await;
    let hits = store.search(&search("albatross", UserId::random(), None)).await.expect("searched");
    assert_eq!(hits.len(), 2, "both stored messages, a NUL character in one");
    assert!(found(&store, &search("ancient", UserId::random(), None)).await.len() == 1);
}

pub async fn search_follows_edits_and_deletes_of_messages_it_has_indexed(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let asha = user("Asha");
    let edited = say(&store, "a", asha.id, "a sparrow").await;
    let deleted = say(&store, "a", asha.id, "a kestrel gone").await;
    // The search indexes both first (SQLite indexes a moment after storing).
    assert_eq!(found(&store, &search("sparrow", asha.id, None)).await, vec![edited.id]);
    assert_eq!(found(&store, &search("gone", asha.id, None)).await, vec![deleted.id]);
    edit_and_delete(&store, &asha, (edited.id, "a kestrel now"), deleted.id).await;
    assert_eq!(found(&store, &search("kestrel", asha.id, None)).await, vec![edited.id]);
    assert!(found(&store, &search("sparrow", asha.id, None)).await.is_empty(), "old text");
    assert!(found(&store, &search("gone", asha.id, None)).await.is_empty(), "deleted text");
}

pub async fn messages_indexed_before_an_upgrade_stay_found_and_follow_edits(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    db.migrate_to(4).await;
    let asha = user("Asha");
    db.execute(&format!(
        "INSERT INTO rooms (name, last_seq) VALUES ('a', 2); \
         INSERT INTO messages (room, seq, user_id, user_name, text, ts) VALUES \
         ('a', 1, '{id}', 'Asha', 'a sparrow', 1), ('a', 2, '{id}', 'Asha', 'a kestrel gone', 2)",
        id = asha.id,
    ))
    .await;
    let store = db.open().await;
    let edited = found(&store, &search("sparrow", asha.id, None)).await;
    let deleted = found(&store, &search("gone", asha.id, None)).await;
    assert_eq!((edited.len(), deleted.len()), (1, 1), "both found after the upgrade");
    edit_and_delete(&store, &asha, (edited[0], "a kestrel now"), deleted[0]).await;
    assert_eq!(found(&store, &search("kestrel", asha.id, None)).await, edited);
    assert!(found(&store, &search("sparrow or gone", asha.id, None)).await.is_empty());
    let later = say(&store, "a", asha.id, "a kestrel again").await;
    assert_eq!(found(&store, &search("again", asha.id, None)).await, vec![later.id]);
}

pub async fn messages_stored_but_not_indexed_when_the_process_stopped_are_found(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    drop(db.open().await);
    let user = UserId::random();
    // Straight into the table, as if the process stopped before indexing.
    db.execute(&format!(
        "INSERT INTO rooms (name, last_seq) VALUES ('a', 2); \
         INSERT INTO messages (room, seq, user_id, user_name, text, ts) VALUES \
         ('a', 1, '{user}', 'Asha', 'a lone puffin', 1), ('a', 2, '{user}', 'Asha', 'puffins', 2)",
    ))
    .await;
    let store = db.open().await;
    assert_eq!(found(&store, &search("puffin", user, None)).await.len(), 1);
    let later = say(&store, "a", user, "another puffin").await;
    assert_eq!(found(&store, &search("puffin", user, None)).await.len(), 2);
    assert!(found(&store, &search("another", user, None)).await.contains(&later.id));
}

/// In room `a`, rewrites message `edited.0` to `edited.1` and deletes `deleted`.
async fn edit_and_delete(store: &Arc<dyn Store>, by: &User, edited: (i64, &str), deleted: i64) {
    let change = |id, action| ChangeDraft {
        room: room("a"),
        user: by.clone(),
        message_id: id,
        action,
        client_id: None,
    };
    let text = MessageText::parse(edited.1.into()).expect("text");
    store.apply(&[change(edited.0, Action::Edit(text))]).await.expect("applied");
    store.apply(&[change(deleted, Action::Delete)]).await.expect("applied");
}

pub async fn search_finds_readable_matches_behind_many_better_ones_out_of_reach(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let (asha, bo, cy) = (user("Asha"), user("Bo"), user("Cy"));
    let mut public = Vec::new();
    for i in 0..3 {
        public.push(say(&store, "lobby", cy.id, &format!("a heron and more words {i}")).await.id);
    }
    // Newer and shorter, so ranked first: hundreds of matches cy may not read.
    let pair = store.open_conversation(&asha, &bo).await.expect("opened").pair;
    let private: Vec<_> =
        (0..700).map(|_| draft(pair.room.as_str(), asha.id, "heron", None)).collect();
    store.append(&private).await.expect("appended");
    let mut hits = found(&store, &search("heron", cy.id, None)).await;
    hits.sort_unstable();
    assert_eq!(hits, public);
    assert_eq!(found(&store, &search("heron", asha.id, None)).await.len(), 21, "limit + 1");
}

pub async fn search_finds_readable_matches_older_than_thousands_of_newer_unreadable_ones(
    backend: Backend,
) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let (asha, bo, cy) = (user("Asha"), user("Bo"), user("Cy"));
    let old = say(&store, "lobby", cy.id, "an egret").await.id;
    // More newer matches than either backend's first pass reads (SQLite's
    // best 500, PostgreSQL's newest 1,000), none of them readable by cy.
    let pair = store.open_conversation(&asha, &bo).await.expect("opened").pair;
    let private: Vec<_> =
        (0..1_100).map(|_| draft(pair.room.as_str(), asha.id, "egret egret", None)).collect();
    for chunk in private.chunks(500) {
        store.append(chunk).await.expect("appended");
    }
    assert_eq!(found(&store, &search("egret", cy.id, None)).await, vec![old]);
    let newest = found(&store, &search("egret", asha.id, None)).await;
    assert_eq!(newest.len(), 21, "limit + 1");
    assert!(!newest.contains(&old), "ranked below the twice-said ones");
}
