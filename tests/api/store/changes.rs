//! The store contract for changes (edits, deletes, reactions, replies): run
//! on both backends by the `conformance!` list in `mod.rs`.

use super::database::{Backend, TestDatabase};
use super::{draft, room};
use baat_chit::domain::{
    Action, ChangeDraft, ChangeKind, DisplayName, Emoji, Entry, Message, MessageText, User, UserId,
};
use baat_chit::store::{Applied, Rejected, Slice, Store};
use std::sync::Arc;

fn user(name: &str) -> User {
    User { id: UserId::random(), name: DisplayName::parse(name).expect("name") }
}

fn change(name: &str, by: &User, id: i64, action: Action, client_id: Option<&str>) -> ChangeDraft {
    ChangeDraft {
        room: room(name),
        user: by.clone(),
        message_id: id,
        action,
        client_id: client_id.map(|c| baat_chit::domain::ClientId::parse(c.into()).expect("id")),
    }
}

fn edit(text: &str) -> Action {
    Action::Edit(MessageText::parse(text.into()).expect("text"))
}

fn react(emoji: &str) -> Action {
    Action::React(Emoji::parse(emoji).expect("emoji"))
}

/// Posts a message as `by` and returns it.
async fn say(store: &Arc<dyn Store>, name: &str, by: &User, text: &str) -> Message {
    let mut message = draft(name, by.id, text, None);
    message.user = by.clone();
    store.append(&[message]).await.expect("appended").remove(0).message
}

/// Applies one change that must be allowed.
async fn apply(store: &Arc<dyn Store>, draft: ChangeDraft) -> Applied {
    store.apply(&[draft]).await.expect("applied").remove(0).expect("allowed")
}

async fn refusal(store: &Arc<dyn Store>, draft: ChangeDraft) -> Rejected {
    store.apply(&[draft]).await.expect("answered").remove(0).expect_err("refused")
}

fn counts(message: &Message) -> Vec<(String, usize)> {
    message.reactions.iter().map(|r| (r.emoji.clone(), r.count)).collect()
}

pub async fn changes_take_the_rooms_next_seqs_between_messages(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let asha = user("asha");
    let first = say(&store, "a", &asha, "helo").await;
    let edited = apply(&store, change("a", &asha, first.id, edit("hello"), None)).await;
    let second = say(&store, "a", &asha, "second").await;
    assert_eq!((first.seq, edited.change.seq, second.seq), (1, 2, 3));
    assert_eq!(edited.change.kind, ChangeKind::Edit);
    assert_eq!(edited.change.message.seq, 1, "a message keeps its creation seq");
    assert_eq!(edited.change.message.text.as_str(), "hello");
    assert!(edited.change.message.edited_at.is_some());
    let log = store.log(&room("a"), 0, 10).await.expect("log");
    let seqs: Vec<_> = log.entries.iter().map(Entry::seq).collect();
    assert_eq!((seqs, log.has_more), (vec![1, 2, 3], false));
    assert_eq!(log.entries[0].message().text.as_str(), "hello", "in its current state");
    assert_eq!(store.last_seq(&room("a")).await.expect("last"), 3);
}

pub async fn only_the_author_may_edit_or_delete_and_unknown_messages_are_not_found(
    backend: Backend,
) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let (asha, bo) = (user("asha"), user("bo"));
    let mine = say(&store, "a", &asha, "mine").await;
    let elsewhere = say(&store, "b", &asha, "elsewhere").await;
    let refused = refusal(&store, change("a", &bo, mine.id, edit("x"), None)).await;
    assert_eq!(refused, Rejected::Forbidden);
    assert_eq!(
        refusal(&store, change("a", &bo, mine.id, Action::Delete, None)).await,
        Rejected::Forbidden
    );
    for id in [elsewhere.id, 424_242] {
        assert_eq!(
            refusal(&store, change("a", &asha, id, edit("x"), None)).await,
            Rejected::NotFound
        );
        assert_eq!(
            refusal(&store, change("a", &asha, id, react("👍"), None)).await,
            Rejected::NotFound
        );
    }
    apply(&store, change("a", &asha, mine.id, Action::Delete, None)).await;
    assert_eq!(
        refusal(&store, change("a", &asha, mine.id, edit("x"), None)).await,
        Rejected::NotFound
    );
    assert_eq!(store.last_seq(&room("a")).await.expect("last"), 2, "refusals take no seq");
}

pub async fn a_delete_removes_the_text_and_the_reactions(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let asha = user("asha");
    let sent = say(&store, "a", &asha, "regrettable").await;
    apply(&store, change("a", &asha, sent.id, react("👍"), None)).await;
    let deleted = apply(&store, change("a", &asha, sent.id, Action::Delete, None)).await;
    assert!(deleted.change.message.deleted);
    assert_eq!(deleted.change.message.text.as_str(), "");
    assert!(deleted.change.message.reactions.is_empty());
    let page = store.read(&room("a"), Slice::Latest, 10).await.expect("read");
    assert_eq!(page.messages, vec![deleted.change.message.clone()]);
}

pub async fn reactions_toggle_count_distinct_users_and_stop_at_twenty_emoji(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let (asha, bo) = (user("asha"), user("bo"));
    let sent = say(&store, "a", &asha, "react").await;
    apply(&store, change("a", &asha, sent.id, react("👍"), None)).await;
    apply(&store, change("a", &bo, sent.id, react("👍"), None)).await;
    let both = apply(&store, change("a", &bo, sent.id, react("🎉"), None)).await;
    assert_eq!(counts(&both.change.message), [("👍".into(), 2), ("🎉".into(), 1)]);
    assert_eq!(both.change.message.reactions[0].users, [asha.clone(), bo.clone()]);
    let toggled = apply(&store, change("a", &asha, sent.id, react("👍"), None)).await;
    assert_eq!(counts(&toggled.change.message), [("👍".into(), 1), ("🎉".into(), 1)]);
    let more = "😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚";
    for emoji in more.chars() {
        apply(&store, change("a", &asha, sent.id, react(&emoji.to_string()), None)).await;
    }
    let refused = refusal(&store, change("a", &asha, sent.id, react("🤩"), None)).await;
    assert_eq!(refused, Rejected::TooManyReactions);
    let again = apply(&store, change("a", &bo, sent.id, react("😀"), None)).await;
    assert_eq!(again.change.message.reactions.len(), 20, "an emoji already there is fine");
}

pub async fn a_retried_change_is_applied_once_even_through_another_pool(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (here, there) = (db.open().await, db.open().await);
    let asha = user("asha");
    let sent = say(&here, "a", &asha, "once").await;
    let retry = || change("a", &asha, sent.id, react("👍"), Some("r1"));
    let (one, two) = ([retry()], [retry(), retry()]);
    let (first, second) = tokio::join!(here.apply(&one), there.apply(&two));
    let mut all: Vec<Applied> = first.expect("first").into_iter().map(|r| r.expect("ok")).collect();
    all.extend(second.expect("second").into_iter().map(|r| r.expect("ok")));
    assert_eq!(all.iter().filter(|a| !a.duplicate).count(), 1, "applied exactly once");
    assert!(all.iter().all(|a| a.change.seq == all[0].change.seq));
    let now = here.message(&room("a"), sent.id).await.expect("read").expect("there");
    assert_eq!(counts(&now), [("👍".into(), 1)]);
    assert_eq!(here.last_seq(&room("a")).await.expect("last"), 2);
}

pub async fn the_log_after_a_seq_holds_changes_to_older_messages(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let asha = user("asha");
    let old = say(&store, "a", &asha, "old").await;
    let since = say(&store, "a", &asha, "seen").await.seq;
    apply(&store, change("a", &asha, old.id, edit("old, edited"), None)).await;
    apply(&store, change("a", &asha, old.id, react("👍"), None)).await;
    let newer = say(&store, "a", &asha, "newer").await;
    let log = store.log(&room("a"), since, 2).await.expect("log");
    assert!(log.has_more);
    assert!(
        matches!(&log.entries[..], [Entry::Change(a), Entry::Change(b)] if a.seq == 3 && b.seq == 4)
    );
    let rest = store.log(&room("a"), 4, 10).await.expect("log");
    assert_eq!(rest.entries, vec![Entry::Message(newer)]);
    let current = log.entries[0].message();
    assert_eq!((current.text.as_str(), counts(current)), ("old, edited", vec![("👍".into(), 1)]));
}

pub async fn a_reply_keeps_the_id_it_answers(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let asha = user("asha");
    let question = say(&store, "a", &asha, "tea?").await;
    let mut answer = draft("a", asha.id, "yes", None);
    answer.reply_to = Some(question.id);
    let stored = store.append(&[answer]).await.expect("appended").remove(0).message;
    assert_eq!(stored.reply_to, Some(question.id));
    let page = store.read(&room("a"), Slice::Latest, 10).await.expect("read");
    assert_eq!(page.messages[1].reply_to, Some(question.id));
}

pub async fn pools_writing_messages_and_changes_at_once_keep_the_log_gap_free(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let asha = user("asha");
    let seed = say(&db.open().await, "a", &asha, "seed").await;
    let mut writers = Vec::new();
    for pool in 0..3 {
        let store = db.open().await;
        let asha = asha.clone();
        writers.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..10 {
                seqs.push(say(&store, "a", &asha, &format!("{pool}.{i}")).await.seq);
                let text = edit(&format!("edit {pool}.{i}"));
                seqs.push(apply(&store, change("a", &asha, seed.id, text, None)).await.change.seq);
            }
            seqs
        }));
    }
    let mut seqs = vec![seed.seq];
    for writer in writers {
        seqs.extend(writer.await.expect("the writer finished"));
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=61).collect::<Vec<i64>>());
    let log = db.open().await.log(&room("a"), 0, 100).await.expect("log");
    assert_eq!(log.entries.iter().map(Entry::seq).collect::<Vec<_>>(), seqs);
}
