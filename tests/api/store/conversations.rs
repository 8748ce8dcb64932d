//! The store contract for direct conversations: run on both backends by
//! the `conformance!` list in `mod.rs`.

use super::database::{Backend, TestDatabase};
use baat_chit::domain::{DisplayName, MessageDraft, MessageText, Pair, User, UserId};
use baat_chit::store::Store;
use std::collections::HashSet;
use std::sync::Arc;

fn user(name: &str) -> User {
    User { id: UserId::random(), name: DisplayName::parse(name).expect("name") }
}

async fn say(store: &Arc<dyn Store>, pair: &Pair, by: &User, text: &str) {
    let draft = MessageDraft {
        room: pair.room.clone(),
        user: by.clone(),
        text: MessageText::parse(text.into()).expect("text"),
        client_id: None,
        reply_to: None,
    };
    store.append(&[draft]).await.expect("appended");
}

pub async fn a_pair_of_users_has_one_conversation_whoever_opens_it(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let (asha, bo) = (user("Asha"), user("Bo"));
    let first = store.open_conversation(&asha, &bo).await.expect("opened");
    let again = store.open_conversation(&bo, &asha).await.expect("found");
    assert!(first.created && !again.created);
    assert_eq!(first.pair, again.pair);
    assert!(first.pair.room.is_direct(), "{}", first.pair.room);
    assert_eq!(first.pair.seen_by(asha.id).map(|c| c.with), Some(bo.clone()));
    assert_eq!(first.pair.seen_by(bo.id).map(|c| c.with), Some(asha.clone()));
    assert_eq!(store.conversation(bo.id, asha.id).await.expect("read"), Some(first.pair));
    assert_eq!(store.conversation(asha.id, UserId::random()).await.expect("read"), None);
}

pub async fn pools_opening_one_pair_at_once_agree_on_one_room(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let stores = [db.open().await, db.open().await, db.open().await];
    let (asha, bo) = (user("Asha"), user("Bo"));
    let opening = (0..12).map(|i| {
        let store = Arc::clone(&stores[i % stores.len()]);
        let (a, b) =
            if i % 2 == 0 { (asha.clone(), bo.clone()) } else { (bo.clone(), asha.clone()) };
        tokio::spawn(async move { store.open_conversation(&a, &b).await.expect("opened") })
    });
    let mut rooms = HashSet::new();
    let mut created = 0;
    for opened in futures_util::future::join_all(opening).await {
        let opened = opened.expect("no panic");
        rooms.insert(opened.pair.room.clone());
        created += usize::from(opened.created);
    }
    assert_eq!((rooms.len(), created), (1, 1), "one room, made once");
}

pub async fn only_the_two_users_are_participants(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let (asha, bo, cy) = (user("Asha"), user("Bo"), user("Cy"));
    let pair = store.open_conversation(&asha, &bo).await.expect("opened").pair;
    assert!(store.is_participant(&pair.room, asha.id).await.expect("asked"));
    assert!(store.is_participant(&pair.room, bo.id).await.expect("asked"));
    assert!(!store.is_participant(&pair.room, cy.id).await.expect("asked"));
    let unknown = baat_chit::domain::DirectRoom::random().room();
    assert!(!store.is_participant(&unknown, asha.id).await.expect("asked"));
}

pub async fn a_users_conversations_list_the_newest_message_first_with_last_seqs(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let (asha, bo, cy, dee) = (user("Asha"), user("Bo"), user("Cy"), user("Dee"));
    let with_bo = store.open_conversation(&asha, &bo).await.expect("opened").pair;
    let with_cy = store.open_conversation(&cy, &asha).await.expect("opened").pair;
    store.open_conversation(&bo, &dee).await.expect("opened");
    say(&store, &with_bo, &bo, "hi").await;
    say(&store, &with_bo, &asha, "hello").await;
    let listed = store.conversations(asha.id, 10).await.expect("listed");
    let seen: Vec<_> = listed.iter().map(|p| (p.room.clone(), p.last_seq)).collect();
    assert_eq!(seen, [(with_bo.room.clone(), 2), (with_cy.room.clone(), 0)]);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await; // a later millisecond
    say(&store, &with_cy, &cy, "me too").await;
    let listed = store.conversations(asha.id, 10).await.expect("listed");
    assert_eq!(listed.first().map(|p| &p.room), Some(&with_cy.room), "newest activity first");
    assert_eq!(store.conversations(asha.id, 1).await.expect("listed").len(), 1, "limited");
    assert!(store.conversations(UserId::random(), 10).await.expect("listed").is_empty());
}

pub async fn a_conversation_keeps_the_name_each_user_last_used(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let (asha, bo) = (user("Asha"), user("Bo"));
    let pair = store.open_conversation(&asha, &bo).await.expect("opened").pair;
    let renamed = User { id: bo.id, name: DisplayName::parse("Bobby").expect("name") };
    store.rename_in_conversation(&pair.room, &renamed).await.expect("renamed");
    let reopened = db.open().await;
    let seen = reopened.conversations(asha.id, 10).await.expect("listed");
    assert_eq!(seen[0].seen_by(asha.id).map(|c| c.with), Some(renamed));
    assert_eq!(seen[0].seen_by(bo.id).map(|c| c.with), Some(asha));
}
