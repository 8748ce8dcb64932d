//! The store contract, against SQLite.

use baat_chit::domain::{ClientId, DisplayName, MessageDraft, MessageText, RoomName, User, UserId};
use baat_chit::store::{self, Slice, Store};
use std::sync::Arc;
use tempfile::TempDir;

async fn fresh_store() -> (Arc<dyn Store>, TempDir, String) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let store = store::open(&url).await.expect("the store opens");
    (store, dir, url)
}

fn draft(room: &str, user: UserId, text: &str, client_id: Option<&str>) -> MessageDraft {
    MessageDraft {
        room: RoomName::parse(room).expect("room"),
        user: User { id: user, name: DisplayName::parse("Asha").expect("name") },
        text: MessageText::parse(text.into()).expect("text"),
        client_id: client_id.map(|c| ClientId::parse(c.into()).expect("client id")),
    }
}

#[tokio::test]
async fn each_room_numbers_its_messages_from_one_without_gaps() {
    let (store, _dir, _) = fresh_store().await;
    let user = UserId::random();
    let batch =
        [draft("a", user, "1", None), draft("b", user, "1", None), draft("a", user, "2", None)];
    let stored = store.append(&batch).await.expect("appended");
    let seqs: Vec<_> = stored.iter().map(|s| (s.message.room.to_string(), s.message.seq)).collect();
    assert_eq!(seqs, [("a".into(), 1), ("b".into(), 1), ("a".into(), 2)]);
    let more = store.append(&[draft("a", user, "3", None)]).await.expect("appended");
    assert_eq!(more[0].message.seq, 3);
}

#[tokio::test]
async fn a_repeated_client_id_returns_the_original_and_stores_nothing() {
    let (store, _dir, _) = fresh_store().await;
    let user = UserId::random();
    let first = store.append(&[draft("a", user, "hi", Some("c1"))]).await.expect("first");
    let batch = [draft("a", user, "hi", Some("c1")), draft("a", user, "hi", Some("c1"))];
    let again = store.append(&batch).await.expect("again");
    assert!(again.iter().all(|a| a.duplicate && a.message == first[0].message));
    let room = RoomName::parse("a").expect("room");
    let page = store.read(&room, Slice::Latest, 50).await.expect("read");
    assert_eq!(page.messages.len(), 1);
}

#[tokio::test]
async fn another_user_may_reuse_a_client_id() {
    let (store, _dir, _) = fresh_store().await;
    let batch = [
        draft("a", UserId::random(), "x", Some("c")),
        draft("a", UserId::random(), "y", Some("c")),
    ];
    let stored = store.append(&batch).await.expect("appended");
    assert!(stored.iter().all(|a| !a.duplicate));
}

#[tokio::test]
async fn pages_read_oldest_first_and_say_whether_more_lie_beyond() {
    let (store, _dir, _) = fresh_store().await;
    let user = UserId::random();
    let batch: Vec<_> = (1..=10).map(|i| draft("a", user, &i.to_string(), None)).collect();
    store.append(&batch).await.expect("appended");
    let room = RoomName::parse("a").expect("room");
    let seqs =
        |page: &baat_chit::store::Page| page.messages.iter().map(|m| m.seq).collect::<Vec<_>>();

    let latest = store.read(&room, Slice::Latest, 3).await.expect("latest");
    assert_eq!((seqs(&latest), latest.has_more), (vec![8, 9, 10], true));
    let before = store.read(&room, Slice::Before(3), 5).await.expect("before");
    assert_eq!((seqs(&before), before.has_more), (vec![1, 2], false));
    let after = store.read(&room, Slice::After(6), 3).await.expect("after");
    assert_eq!((seqs(&after), after.has_more), (vec![7, 8, 9], true));
}

#[tokio::test]
async fn the_signing_secret_survives_reopening_the_database() {
    let (store, _dir, url) = fresh_store().await;
    let secret = store.secret().await.expect("secret");
    drop(store);
    let reopened = store::open(&url).await.expect("reopens");
    assert_eq!(reopened.secret().await.expect("secret"), secret);
}

#[tokio::test]
async fn a_retry_within_the_same_batch_is_stored_once() {
    let (store, _dir, _) = fresh_store().await;
    let user = UserId::random();
    let batch = [draft("a", user, "hi", Some("c1")), draft("a", user, "hi", Some("c1"))];
    let stored = store.append(&batch).await.expect("appended");
    assert!(!stored[0].duplicate && stored[1].duplicate);
    assert_eq!(stored[0].message, stored[1].message);
}

#[tokio::test]
async fn a_large_batch_spanning_several_statements_keeps_its_order() {
    let (store, _dir, _) = fresh_store().await;
    let user = UserId::random();
    let batch: Vec<_> =
        (0..1200).map(|i| draft(["a", "b"][i % 2], user, &i.to_string(), None)).collect();
    let stored = store.append(&batch).await.expect("appended");
    for (i, appended) in stored.iter().enumerate() {
        assert_eq!(appended.message.text.as_str(), i.to_string());
        assert_eq!(appended.message.seq, (i / 2 + 1) as i64);
    }
    let ids: std::collections::HashSet<_> = stored.iter().map(|a| a.message.id).collect();
    assert_eq!(ids.len(), 1200, "ids are unique");
}
