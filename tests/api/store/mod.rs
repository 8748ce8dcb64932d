//! The store contract: the same tests against SQLite and PostgreSQL
//! (`store::sqlite::…` and `store::postgres::…`), each on a fresh database.
//! PostgreSQL must be running at 127.0.0.1:5432; if it is not, its tests fail.

mod changes;
mod conversations;
mod database;
mod keeping_up;

use baat_chit::domain::{ClientId, DisplayName, MessageDraft, MessageText, RoomName, User, UserId};
use baat_chit::store::{Appended, Page, Slice, Store};
use changes::*;
use conversations::*;
use database::{Backend, TestDatabase};
use keeping_up::*;
use std::collections::HashSet;
use std::sync::Arc;

/// Runs each listed test body once per backend.
macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Backend::Postgres).await;
                }
            )*
        }
    };
}

conformance!(
    each_room_numbers_its_messages_from_one_without_gaps,
    pages_read_oldest_first_and_say_whether_more_lie_beyond,
    a_room_never_written_to_reads_as_an_empty_page,
    a_repeated_client_id_returns_the_original_and_stores_nothing,
    a_retry_within_the_same_batch_is_stored_once,
    a_message_written_behind_the_stores_back_is_never_stored_over,
    a_retry_through_another_pool_returns_the_original,
    another_user_may_reuse_a_client_id,
    text_and_client_ids_are_kept_exactly_even_a_nul_character,
    a_large_batch_spanning_several_statements_keeps_its_order,
    pools_appending_to_one_room_at_once_number_it_without_gaps,
    a_retry_racing_its_original_on_another_pool_never_fails_the_new_messages_beside_it,
    the_signing_secret_survives_reopening_the_database,
    every_pool_on_one_database_signs_with_the_same_secret,
    changes_take_the_rooms_next_seqs_between_messages,
    only_the_author_may_edit_or_delete_and_unknown_messages_are_not_found,
    a_delete_removes_the_text_and_the_reactions,
    reactions_toggle_count_distinct_users_and_stop_at_twenty_emoji,
    a_retried_change_is_applied_once_even_through_another_pool,
    the_log_after_a_seq_holds_changes_to_older_messages,
    a_reply_keeps_the_id_it_answers,
    pools_writing_messages_and_changes_at_once_keep_the_log_gap_free,
    a_pair_of_users_has_one_conversation_whoever_opens_it,
    pools_opening_one_pair_at_once_agree_on_one_room,
    only_the_two_users_are_participants,
    a_users_conversations_list_the_newest_message_first_with_last_seqs,
    a_conversation_keeps_the_name_each_user_last_used,
    a_read_marker_only_moves_forward_and_never_past_the_end,
    unread_counts_messages_not_changes_deleted_ones_or_your_own,
    search_finds_current_text_ranked_and_never_a_deleted_message,
    search_finds_a_conversation_only_for_its_two_users,
    the_search_index_is_filled_for_messages_stored_before_it,
    search_follows_edits_and_deletes_of_messages_it_has_indexed,
    messages_indexed_before_an_upgrade_stay_found_and_follow_edits,
    messages_stored_but_not_indexed_when_the_process_stopped_are_found,
    search_finds_readable_matches_behind_many_better_ones_out_of_reach,
    search_finds_readable_matches_older_than_thousands_of_newer_unreadable_ones,
);

fn draft(room: &str, user: UserId, text: &str, client_id: Option<&str>) -> MessageDraft {
    MessageDraft {
        room: RoomName::parse(room).expect("room"),
        user: User { id: user, name: DisplayName::parse("Asha").expect("name") },
        text: MessageText::parse(text.into()).expect("text"),
        client_id: client_id.map(|c| ClientId::parse(c.into()).expect("client id")),
        reply_to: None,
    }
}

fn room(name: &str) -> RoomName {
    RoomName::parse(name).expect("room")
}

fn seqs(page: &Page) -> Vec<i64> {
    page.messages.iter().map(|m| m.seq).collect()
}

/// Every message of a room, oldest first, read page by page.
async fn everything(store: &Arc<dyn Store>, name: &str) -> Vec<baat_chit::domain::Message> {
    let mut all = Vec::new();
    loop {
        let after = all.last().map_or(0, |m: &baat_chit::domain::Message| m.seq);
        let page = store.read(&room(name), Slice::After(after), 100).await.expect("read");
        all.extend(page.messages);
        if !page.has_more {
            return all;
        }
    }
}

async fn each_room_numbers_its_messages_from_one_without_gaps(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let user = UserId::random();
    let batch =
        [draft("a", user, "1", None), draft("b", user, "1", None), draft("a", user, "2", None)];
    let stored = store.append(&batch).await.expect("appended");
    let seqs: Vec<_> = stored.iter().map(|s| (s.message.room.to_string(), s.message.seq)).collect();
    assert_eq!(seqs, [("a".into(), 1), ("b".into(), 1), ("a".into(), 2)]);
    let more = store.append(&[draft("a", user, "3", None)]).await.expect("appended");
    assert_eq!(more[0].message.seq, 3);
}

async fn pages_read_oldest_first_and_say_whether_more_lie_beyond(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let user = UserId::random();
    let batch: Vec<_> = (1..=10).map(|i| draft("a", user, &i.to_string(), None)).collect();
    store.append(&batch).await.expect("appended");

    let latest = store.read(&room("a"), Slice::Latest, 3).await.expect("latest");
    assert_eq!((seqs(&latest), latest.has_more), (vec![8, 9, 10], true));
    let before = store.read(&room("a"), Slice::Before(3), 5).await.expect("before");
    assert_eq!((seqs(&before), before.has_more), (vec![1, 2], false));
    let after = store.read(&room("a"), Slice::After(6), 3).await.expect("after");
    assert_eq!((seqs(&after), after.has_more), (vec![7, 8, 9], true));
    let last = store.read(&room("a"), Slice::After(7), 3).await.expect("after");
    assert_eq!((seqs(&last), last.has_more), (vec![8, 9, 10], false));
    let all = store.read(&room("a"), Slice::Latest, 10).await.expect("latest");
    assert_eq!((all.messages.len(), all.has_more), (10, false));
}

async fn a_room_never_written_to_reads_as_an_empty_page(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    for slice in [Slice::Latest, Slice::Before(5), Slice::After(0)] {
        let page = store.read(&room("quiet"), slice, 50).await.expect("read");
        assert!(page.messages.is_empty() && !page.has_more, "{slice:?}");
    }
}

async fn a_repeated_client_id_returns_the_original_and_stores_nothing(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let user = UserId::random();
    let first = store.append(&[draft("a", user, "hi", Some("c1"))]).await.expect("first");
    let batch = [draft("a", user, "hi", Some("c1")), draft("a", user, "hi", Some("c1"))];
    let again = store.append(&batch).await.expect("again");
    assert!(again.iter().all(|a| a.duplicate && a.message == first[0].message));
    assert_eq!(everything(&store, "a").await, [first[0].message.clone()]);
}

async fn a_retry_within_the_same_batch_is_stored_once(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let user = UserId::random();
    let batch = [draft("a", user, "hi", Some("c1")), draft("a", user, "hi", Some("c1"))];
    let stored = store.append(&batch).await.expect("appended");
    assert!(!stored[0].duplicate && stored[1].duplicate);
    assert_eq!(stored[0].message, stored[1].message);
    assert_eq!(everything(&store, "a").await.len(), 1);
}

/// A row the batch plan did not foresee (written outside the store, its
/// room's last seq not moved) makes the insert skip that draft: the batch
/// is tried again and refused rather than stored over it or given a gap.
async fn a_message_written_behind_the_stores_back_is_never_stored_over(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    drop(db.open().await);
    let user = UserId::random();
    db.execute(&format!(
        "INSERT INTO messages (room, seq, user_id, user_name, text, ts) \
         VALUES ('a', 1, '{user}', 'Asha', 'written behind', 1)"
    ))
    .await;
    let store = db.open().await;
    let refused = store.append(&[draft("a", user, "hi", None)]).await;
    assert!(refused.is_err(), "appended over a stored row: {refused:?}");
    let kept = everything(&store, "a").await;
    assert_eq!(kept.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(), ["written behind"]);
}

async fn a_retry_through_another_pool_returns_the_original(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (here, there) = (db.open().await, db.open().await);
    let user = UserId::random();
    let original = here.append(&[draft("a", user, "hi", Some("c1"))]).await.expect("original");
    let retry = there.append(&[draft("a", user, "hi", Some("c1"))]).await.expect("retry");
    assert!(retry[0].duplicate);
    assert_eq!(retry[0].message, original[0].message);
    assert_eq!(everything(&there, "a").await.len(), 1);
}

async fn another_user_may_reuse_a_client_id(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let batch = [
        draft("a", UserId::random(), "x", Some("c")),
        draft("a", UserId::random(), "y", Some("c")),
    ];
    let stored = store.append(&batch).await.expect("appended");
    assert!(stored.iter().all(|a| !a.duplicate));
    assert_eq!(everything(&store, "a").await.len(), 2);
}

async fn text_and_client_ids_are_kept_exactly_even_a_nul_character(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let user = UserId::random();
    let text = "a\u{0}b <b>&amp;</b> é 🙂\r\n\t";
    let stored = store.append(&[draft("a", user, text, Some("c\u{0}1"))]).await.expect("stored");
    let read = everything(&store, "a").await;
    assert_eq!(read, [stored[0].message.clone()]);
    assert_eq!(read[0].text.as_str(), text);
    let retry = store.append(&[draft("a", user, "again", Some("c\u{0}1"))]).await.expect("retry");
    assert!(retry[0].duplicate);
}

async fn a_large_batch_spanning_several_statements_keeps_its_order(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let user = UserId::random();
    let batch: Vec<_> =
        (0..1200).map(|i| draft(["a", "b"][i % 2], user, &i.to_string(), None)).collect();
    let stored = store.append(&batch).await.expect("appended");
    for (i, appended) in stored.iter().enumerate() {
        assert_eq!(appended.message.text.as_str(), i.to_string());
        assert_eq!(appended.message.seq, (i / 2 + 1) as i64);
    }
    let ids: HashSet<_> = stored.iter().map(|a| a.message.id).collect();
    assert_eq!(ids.len(), 1200, "ids are unique");
}

/// Pools, batches per pool and messages per batch of the concurrency tests.
const POOLS: usize = 4;
const BATCHES: usize = 15;
const PER_BATCH: usize = 4;

async fn pools_appending_to_one_room_at_once_number_it_without_gaps(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let mut writers = Vec::new();
    for pool in 0..POOLS {
        let store = db.open().await;
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for batch in 0..BATCHES {
                // Half the batches name the other room first: locks are
                // still taken in one order, so no two appends deadlock.
                let rooms = if (pool + batch) % 2 == 0 { ["a", "b"] } else { ["b", "a"] };
                let drafts: Vec<_> = (0..PER_BATCH)
                    .map(|i| {
                        draft(rooms[i % 2], UserId::random(), &format!("{pool}.{batch}.{i}"), None)
                    })
                    .collect();
                acked.extend(store.append(&drafts).await.expect("appended"));
            }
            acked
        }));
    }
    let mut acked: Vec<Appended> = Vec::new();
    for writer in writers {
        acked.extend(writer.await.expect("the writer finished"));
    }
    let store = db.open().await;
    for name in ["a", "b"] {
        let mut ack_seqs: Vec<i64> = acked
            .iter()
            .filter(|a| a.message.room.as_str() == name)
            .map(|a| a.message.seq)
            .collect();
        ack_seqs.sort_unstable();
        let expected: Vec<i64> = (1..=(POOLS * BATCHES * PER_BATCH / 2) as i64).collect();
        assert_eq!(ack_seqs, expected, "acked seqs of room {name} are unique and gap-free");
        let stored = everything(&store, name).await;
        let mut acked_here: Vec<_> = acked
            .iter()
            .filter(|a| a.message.room.as_str() == name)
            .map(|a| a.message.clone())
            .collect();
        acked_here.sort_by_key(|m| m.seq);
        assert_eq!(stored, acked_here, "room {name} holds exactly what was acked");
    }
}

async fn a_retry_racing_its_original_on_another_pool_never_fails_the_new_messages_beside_it(
    backend: Backend,
) {
    let db = TestDatabase::new(backend).await;
    let (here, there) = (db.open().await, db.open().await);
    let user = UserId::random();
    for round in 0..20 {
        let client_id = format!("c{round}");
        let original = [draft("a", user, "hi", Some(&client_id))];
        let mixed = [
            draft("b", user, &format!("new {round}"), None),
            draft("a", user, "hi", Some(&client_id)),
            draft("a", UserId::random(), &format!("other {round}"), None),
        ];
        let (first, second) = tokio::join!(here.append(&original), there.append(&mixed));
        let (first, second) = (first.expect("first pool"), second.expect("second pool"));
        assert_eq!(first[0].message, second[1].message, "both get the one message");
        assert!(first[0].duplicate != second[1].duplicate, "it is stored exactly once");
        assert!(!second[0].duplicate && !second[2].duplicate, "the new messages are stored");
    }
    let a = everything(&there, "a").await;
    assert_eq!(a.len(), 40);
    assert_eq!(a.iter().map(|m| m.seq).collect::<Vec<_>>(), (1..=40).collect::<Vec<_>>());
    assert_eq!(everything(&there, "b").await.len(), 20);
}

async fn the_signing_secret_survives_reopening_the_database(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let secret = store.secret().await.expect("secret");
    drop(store);
    let reopened = db.open().await;
    assert_eq!(reopened.secret().await.expect("secret"), secret);
}

async fn every_pool_on_one_database_signs_with_the_same_secret(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (a, b, c) = (db.open().await, db.open().await, db.open().await);
    let (a, b, c) = tokio::join!(a.secret(), b.secret(), c.secret());
    let (a, b, c) = (a.expect("secret"), b.expect("secret"), c.expect("secret"));
    assert!(a == b && b == c, "the first secret stored wins everywhere");
}
