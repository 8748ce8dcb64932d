use super::*;
use tokio::sync::mpsc;

fn room(name: &str) -> RoomName {
    RoomName::parse(name).expect("valid room")
}

fn name(raw: &str) -> DisplayName {
    DisplayName::parse(raw).expect("valid name")
}

fn presence(grace_secs: u64) -> (Arc<Presence>, mpsc::UnboundedReceiver<Change>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Presence::new(Duration::from_secs(grace_secs), LocalDirectory::new(tx)), rx)
}

fn quiet(rx: &mut mpsc::UnboundedReceiver<Change>) -> bool {
    rx.try_recv().is_err()
}

async fn count(presence: &Presence, room: &RoomName) -> usize {
    presence.view(room).await.expect("local view").count()
}

#[tokio::test(start_paused = true)]
async fn a_join_is_one_change_and_its_view_includes_it() {
    let (presence, mut rx) = presence(5);
    let (general, asha) = (room("general"), UserId::random());
    let (you, view) =
        presence.join(&general, asha, name("Asha"), Sid::new()).await.expect("joined");
    let change = rx.try_recv().expect("a change");
    assert_eq!((change.user, change.joined, change.count), (you, true, 1));
    assert_eq!(view.ver, change.ver, "the ack reflects the joiner's own change");
    assert!(quiet(&mut rx));
}

#[tokio::test(start_paused = true)]
async fn a_taken_name_is_refused_whatever_its_case() {
    let (presence, _rx) = presence(5);
    let general = room("general");
    let _ = presence.join(&general, UserId::random(), name("Asha"), Sid::new()).await;
    let again = presence.join(&general, UserId::random(), name("ASHA"), Sid::new()).await;
    assert_eq!(again, Err(DirectoryError::NameTaken));
}

#[tokio::test(start_paused = true)]
async fn a_second_tab_keeps_the_name_and_changes_nothing() {
    let (presence, mut rx) = presence(5);
    let (general, asha) = (room("general"), UserId::random());
    let _ = presence.join(&general, asha, name("Asha"), Sid::new()).await;
    let _ = rx.try_recv();
    let second = presence.join(&general, asha, name("Other"), Sid::new()).await;
    assert_eq!(second.map(|(u, _)| u.name), Ok(name("Asha")));
    assert_eq!(count(&presence, &general).await, 1);
    assert!(quiet(&mut rx));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_user_stays_for_exactly_the_grace_period_then_leaves() {
    let (presence, mut rx) = presence(5);
    let (general, asha, tab) = (room("general"), UserId::random(), Sid::new());
    let _ = presence.join(&general, asha, name("Asha"), tab).await;
    let _ = rx.try_recv();
    presence.leave(&general, asha, tab, Departure::AfterGrace);
    tokio::time::sleep(Duration::from_millis(4_900)).await;
    assert_eq!(count(&presence, &general).await, 1, "still present just before the grace ends");
    assert!(quiet(&mut rx));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let change = rx.try_recv().expect("left just after the grace ends");
    assert_eq!((change.joined, change.count), (false, 0));
}

#[tokio::test(start_paused = true)]
async fn coming_back_within_the_grace_period_makes_no_change() {
    let (presence, mut rx) = presence(5);
    let (general, asha, tab) = (room("general"), UserId::random(), Sid::new());
    let _ = presence.join(&general, asha, name("Asha"), tab).await;
    let _ = rx.try_recv();
    presence.leave(&general, asha, tab, Departure::AfterGrace);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = presence.join(&general, asha, name("Asha"), Sid::new()).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(quiet(&mut rx));
    assert_eq!(count(&presence, &general).await, 1);
}

#[tokio::test(start_paused = true)]
async fn a_user_leaves_only_when_its_last_connection_does() {
    let (presence, mut rx) = presence(5);
    let (general, asha) = (room("general"), UserId::random());
    let (tab1, tab2) = (Sid::new(), Sid::new());
    let _ = presence.join(&general, asha, name("Asha"), tab1).await;
    let _ = presence.join(&general, asha, name("Asha"), tab2).await;
    let _ = rx.try_recv();
    presence.leave(&general, asha, tab1, Departure::Now);
    assert!(quiet(&mut rx));
    presence.leave(&general, asha, tab2, Departure::Now);
    assert!(!rx.try_recv().expect("left").joined);
}

#[tokio::test(start_paused = true)]
async fn rooms_are_listed_most_populated_first() {
    let (presence, _rx) = presence(5);
    for (room_name, people) in [("quiet", 1), ("busy", 3), ("calm", 1)] {
        for i in 0..people {
            let who = name(&format!("p{i}"));
            let _ = presence.join(&room(room_name), UserId::random(), who, Sid::new()).await;
        }
    }
    let listed = presence.rooms(100).await.expect("local rooms");
    let listed: Vec<_> = listed.into_iter().map(|(r, c)| (r.to_string(), c)).collect();
    assert_eq!(listed, [("busy".into(), 3), ("calm".into(), 1), ("quiet".into(), 1)]);
}

#[tokio::test(start_paused = true)]
async fn a_name_is_free_again_once_its_user_has_left() {
    let (presence, _rx) = presence(5);
    let (general, asha, tab) = (room("general"), UserId::random(), Sid::new());
    let _ = presence.join(&general, asha, name("Asha"), tab).await;
    presence.leave(&general, asha, tab, Departure::Now);
    let newcomer = presence.join(&general, UserId::random(), name("asha"), Sid::new()).await;
    assert!(newcomer.is_ok());
}

#[tokio::test(start_paused = true)]
async fn users_are_counted_once_across_rooms() {
    let (presence, _rx) = presence(5);
    let asha = UserId::random();
    let _ = presence.join(&room("a"), asha, name("Asha"), Sid::new()).await;
    let _ = presence.join(&room("b"), asha, name("Asha"), Sid::new()).await;
    assert_eq!(presence.user_count().await, Ok(1));
}

#[tokio::test(start_paused = true)]
async fn direct_rooms_are_never_listed_and_do_not_make_names_unique() {
    let (presence, _rx) = presence(5);
    let direct = crate::domain::DirectRoom::random().room();
    let asha = presence.join(&direct, UserId::random(), name("Sam"), Sid::new()).await;
    let bo = presence.join(&direct, UserId::random(), name("SAM"), Sid::new()).await;
    assert!(asha.is_ok() && bo.is_ok(), "two people called Sam may talk privately");
    let _ = presence.join(&room("lobby"), UserId::random(), name("Sam"), Sid::new()).await;
    let listed = presence.rooms(100).await.expect("local rooms");
    assert_eq!(listed, [(room("lobby"), 1)]);
}
