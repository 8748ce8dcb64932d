use super::*;
use tokio::sync::mpsc;

fn room(name: &str) -> RoomName {
    RoomName::parse(name).expect("valid room")
}

fn name(raw: &str) -> DisplayName {
    DisplayName::parse(raw).expect("valid name")
}

fn presence(grace_secs: u64) -> (Arc<Presence>, mpsc::UnboundedReceiver<PresenceUpdate>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let sink: Sink = Arc::new(move |update| {
        let _ = tx.send(update);
    });
    (Presence::new(Duration::from_secs(grace_secs), sink), rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<PresenceUpdate>) -> PresenceUpdate {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .ok()
        .flatten()
        .expect("a presence update")
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_joins_becomes_one_update() {
    let (presence, mut rx) = presence(5);
    let general = room("general");
    for i in 0..100 {
        let who = name(&format!("user{i}"));
        assert!(presence.join(&general, UserId::random(), who, Sid::new()).is_ok());
    }
    let update = next(&mut rx).await;
    assert_eq!((update.joined.len(), update.count), (100, 100));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(rx.try_recv().is_err(), "only one update for the burst");
}

#[tokio::test(start_paused = true)]
async fn a_taken_name_is_refused_whatever_its_case() {
    let (presence, _rx) = presence(5);
    let general = room("general");
    let _ = presence.join(&general, UserId::random(), name("Asha"), Sid::new());
    let again = presence.join(&general, UserId::random(), name("ASHA"), Sid::new());
    assert_eq!(again, Err(NameTaken));
}

#[tokio::test(start_paused = true)]
async fn a_second_tab_keeps_the_name_and_changes_nothing() {
    let (presence, mut rx) = presence(5);
    let (general, asha) = (room("general"), UserId::random());
    let _ = presence.join(&general, asha, name("Asha"), Sid::new());
    next(&mut rx).await;
    let second = presence.join(&general, asha, name("Other"), Sid::new());
    assert_eq!(second.map(|u| u.name), Ok(name("Asha")));
    assert_eq!(presence.snapshot(&general).count, 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(rx.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn a_dropped_user_stays_for_the_grace_period_then_leaves() {
    let (presence, mut rx) = presence(5);
    let (general, asha, tab) = (room("general"), UserId::random(), Sid::new());
    let _ = presence.join(&general, asha, name("Asha"), tab);
    next(&mut rx).await;
    presence.leave(&general, asha, tab, Departure::AfterGrace);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(presence.snapshot(&general).count, 1);
    let update = next(&mut rx).await;
    assert_eq!((update.left.len(), update.count), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn coming_back_within_the_grace_period_makes_no_update() {
    let (presence, mut rx) = presence(5);
    let (general, asha, tab) = (room("general"), UserId::random(), Sid::new());
    let _ = presence.join(&general, asha, name("Asha"), tab);
    next(&mut rx).await;
    presence.leave(&general, asha, tab, Departure::AfterGrace);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = presence.join(&general, asha, name("Asha"), Sid::new());
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(rx.try_recv().is_err());
    assert_eq!(presence.snapshot(&general).count, 1);
}

#[tokio::test(start_paused = true)]
async fn a_user_leaves_only_when_its_last_connection_does() {
    let (presence, mut rx) = presence(5);
    let (general, asha) = (room("general"), UserId::random());
    let (tab1, tab2) = (Sid::new(), Sid::new());
    let _ = presence.join(&general, asha, name("Asha"), tab1);
    let _ = presence.join(&general, asha, name("Asha"), tab2);
    next(&mut rx).await;
    presence.leave(&general, asha, tab1, Departure::Now);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(rx.try_recv().is_err());
    presence.leave(&general, asha, tab2, Departure::Now);
    assert_eq!(next(&mut rx).await.left.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn joining_and_leaving_within_one_window_is_no_change() {
    let (presence, mut rx) = presence(5);
    let general = room("general");
    let (stays, flaps) = (UserId::random(), UserId::random());
    let _ = presence.join(&general, stays, name("Asha"), Sid::new());
    let tab = Sid::new();
    let _ = presence.join(&general, flaps, name("Bilal"), tab);
    presence.leave(&general, flaps, tab, Departure::Now);
    let update = next(&mut rx).await;
    let joined: Vec<_> = update.joined.iter().map(|u| u.id).collect();
    assert_eq!((joined, update.left.len()), (vec![stays], 0));
}

#[tokio::test(start_paused = true)]
async fn the_last_joiner_is_skipped_but_earlier_joiners_hear_of_later_ones() {
    let (presence, mut rx) = presence(5);
    let general = room("general");
    let (first, last) = (Sid::new(), Sid::new());
    let _ = presence.join(&general, UserId::random(), name("Asha"), first);
    let _ = presence.join(&general, UserId::random(), name("Bilal"), last);
    assert_eq!(next(&mut rx).await.skip, vec![last]);
}

#[tokio::test(start_paused = true)]
async fn rooms_are_listed_most_populated_first() {
    let (presence, _rx) = presence(5);
    for (room_name, people) in [("quiet", 1), ("busy", 3), ("calm", 1)] {
        for i in 0..people {
            let who = name(&format!("p{i}"));
            let _ = presence.join(&room(room_name), UserId::random(), who, Sid::new());
        }
    }
    let listed: Vec<_> = presence.rooms(100).into_iter().map(|(r, c)| (r.to_string(), c)).collect();
    assert_eq!(listed, [("busy".into(), 3), ("calm".into(), 1), ("quiet".into(), 1)]);
}

#[tokio::test(start_paused = true)]
async fn a_joiner_is_not_told_of_its_own_join_when_later_changes_cancel_out() {
    let (presence, mut rx) = presence(5);
    let general = room("general");
    let (asha, bilal_tab) = (Sid::new(), Sid::new());
    let bilal = UserId::random();
    let _ = presence.join(&general, UserId::random(), name("Asha"), asha);
    let _ = presence.join(&general, bilal, name("Bilal"), bilal_tab);
    presence.leave(&general, bilal, bilal_tab, Departure::Now);
    let update = next(&mut rx).await;
    assert!(update.skip.contains(&asha), "Asha's ack already covers the net change");
}

#[tokio::test(start_paused = true)]
async fn a_name_is_free_again_once_its_user_has_left() {
    let (presence, _rx) = presence(5);
    let (general, asha, tab) = (room("general"), UserId::random(), Sid::new());
    let _ = presence.join(&general, asha, name("Asha"), tab);
    presence.leave(&general, asha, tab, Departure::Now);
    let newcomer = presence.join(&general, UserId::random(), name("asha"), Sid::new());
    assert!(newcomer.is_ok());
}
