//! Presence in Redis: the [`Directory`] of a cluster. Requests run one at
//! a time, in the order they were made, each as one atomic Lua call
//! (`presence.lua`), so a release is never overtaken by a later claim.

use super::Link;
use crate::domain::{DisplayName, RoomName, User, UserId};
use crate::realtime::presence::{Claim, Directory, DirectoryError, Reply, View, name_keys};
use redis::aio::ConnectionManager;
use redis::{RedisError, Value};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

type Answer<T> = oneshot::Sender<Result<T, DirectoryError>>;

enum Request {
    Claim { room: RoomName, user: UserId, name: DisplayName, reply: Answer<Claim> },
    Release { room: RoomName, user: UserId, reply: Answer<()> },
    View { room: RoomName, reply: Answer<View> },
    Rooms { reply: Answer<Vec<(RoomName, usize)>> },
    UserCount { reply: Answer<usize> },
    Reconcile { held: Vec<(RoomName, User)>, announce: Announce },
}

pub struct RedisDirectory {
    requests: mpsc::UnboundedSender<Request>,
}

impl RedisDirectory {
    pub fn spawn(link: Arc<Link>) -> Arc<Self> {
        let (requests, mut inbox) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut redis = link.redis.clone();
            while let Some(request) = inbox.recv().await {
                serve(&link, &mut redis, request).await;
            }
        });
        Arc::new(Self { requests })
    }

    fn ask<T>(&self, make: impl FnOnce(Answer<T>) -> Request) -> Reply<T> {
        let (reply, answer) = oneshot::channel();
        let _ = self.requests.send(make(reply));
        answer
    }
}

impl Directory for RedisDirectory {
    fn claim(&self, room: &RoomName, user: UserId, name: &DisplayName) -> Reply<Claim> {
        let (room, name) = (room.clone(), name.clone());
        self.ask(|reply| Request::Claim { room, user, name, reply })
    }

    fn release(&self, room: &RoomName, user: UserId) -> Reply<()> {
        let room = room.clone();
        self.ask(|reply| Request::Release { room, user, reply })
    }

    fn view(&self, room: &RoomName) -> Reply<View> {
        let room = room.clone();
        self.ask(|reply| Request::View { room, reply })
    }

    fn rooms(&self) -> Reply<Vec<(RoomName, usize)>> {
        self.ask(|reply| Request::Rooms { reply })
    }

    fn user_count(&self) -> Reply<usize> {
        self.ask(|reply| Request::UserCount { reply })
    }

    fn reconcile(&self, held: Vec<(RoomName, User)>, announce: bool) {
        let announce = if announce { Announce::Yes } else { Announce::Quietly };
        let _ = self.requests.send(Request::Reconcile { held, announce });
    }
}

async fn serve(link: &Link, redis: &mut ConnectionManager, request: Request) {
    match request {
        Request::Claim { room, user, name, reply } => {
            let _ = reply.send(claim(link, redis, &room, user, &name, Announce::Yes).await);
        }
        Request::Release { room, user, reply } => {
            let released = release(link, redis, &room, user).await;
            if let Err(error) = &released {
                // Reconcile after the link returns removes the stale hold.
                tracing::warn!(%error, %room, "presence release failed");
            }
            let _ = reply.send(released.map_err(unavailable));
        }
        Request::View { room, reply } => {
            let _ = reply.send(view(link, redis, &room).await);
        }
        Request::Rooms { reply } => {
            let _ = reply.send(rooms(link, redis).await);
        }
        Request::UserCount { reply } => {
            let users = redis::cmd("HLEN").arg(link.key("users")).query_async(redis).await;
            let _ = reply.send(users.map_err(unavailable));
        }
        Request::Reconcile { held, announce } => {
            if let Err(error) = reconcile(link, redis, held, announce).await {
                tracing::warn!(%error, "presence reconcile failed");
            }
        }
    }
}

/// Whether a claim tells everyone (a join) or restores quietly (reconcile).
#[derive(Clone, Copy, PartialEq)]
enum Announce {
    Yes,
    Quietly,
}

async fn claim(
    link: &Link,
    redis: &mut ConnectionManager,
    room: &RoomName,
    user: UserId,
    name: &DisplayName,
    announce: Announce,
) -> Result<Claim, DirectoryError> {
    let reply: Vec<Value> = link
        .script("claim")
        .arg(room.as_str())
        .arg(user.to_string())
        .arg(name.as_str())
        .arg(name_keys(room, name).join("\n"))
        .arg(&link.node)
        .arg(if announce == Announce::Quietly { "1" } else { "0" })
        .invoke_async(redis)
        .await
        .map_err(unavailable)?;
    let mut parts = reply.into_iter();
    let outcome: String = next(&mut parts)?;
    if outcome == "taken" {
        return Err(DirectoryError::NameTaken);
    }
    let name = DisplayName::from_trusted(next(&mut parts)?);
    let ver: String = next(&mut parts)?;
    let members: Vec<String> = next(&mut parts)?;
    Ok(Claim { name, view: View { users: users(members)?, ver: parse_ver(&ver)? } })
}

async fn release(
    link: &Link,
    redis: &mut ConnectionManager,
    room: &RoomName,
    user: UserId,
) -> Result<(), RedisError> {
    let _: i64 = link
        .script("release")
        .arg(room.as_str())
        .arg(user.to_string())
        .arg(&link.node)
        .invoke_async(redis)
        .await?;
    Ok(())
}

async fn view(
    link: &Link,
    redis: &mut ConnectionManager,
    room: &RoomName,
) -> Result<View, DirectoryError> {
    let (ver, members): (String, Vec<String>) =
        link.script("view").arg(room.as_str()).invoke_async(redis).await.map_err(unavailable)?;
    Ok(View { users: users(members)?, ver: parse_ver(&ver)? })
}

async fn rooms(
    link: &Link,
    redis: &mut ConnectionManager,
) -> Result<Vec<(RoomName, usize)>, DirectoryError> {
    let scored: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg(link.key("rooms"))
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(redis)
        .await
        .map_err(unavailable)?;
    Ok(scored
        .into_iter()
        .filter_map(|(room, count)| Some((RoomName::parse(&room).ok()?, count.max(0.0) as usize)))
        .collect())
}

/// Makes this node's holds in Redis equal what it holds in memory.
async fn reconcile(
    link: &Link,
    redis: &mut ConnectionManager,
    held: Vec<(RoomName, User)>,
    announce: Announce,
) -> Result<(), RedisError> {
    let recorded: HashSet<String> = redis::cmd("SMEMBERS")
        .arg(link.key(&format!("node:{}", link.node)))
        .query_async(redis)
        .await?;
    let wanted: HashSet<String> =
        held.iter().map(|(room, user)| format!("{}\n{}", room.as_str(), user.id)).collect();
    for stale in recorded.difference(&wanted) {
        let Some((room, user)) = stale.split_once('\n') else { continue };
        let (Ok(room), Some(user)) = (RoomName::parse(room), UserId::from_hex(user)) else {
            continue;
        };
        release(link, redis, &room, user).await?;
    }
    for (room, user) in held {
        if recorded.contains(&format!("{}\n{}", room.as_str(), user.id)) {
            continue;
        }
        match claim(link, redis, &room, user.id, &user.name, announce).await {
            Ok(_) => {}
            Err(DirectoryError::NameTaken) => {
                tracing::warn!(%room, "a held name was taken while Redis was away");
            }
            Err(DirectoryError::Unavailable(reason)) => {
                tracing::warn!(%reason, "reconcile interrupted");
                return Ok(());
            }
        }
    }
    Ok(())
}

fn unavailable(error: RedisError) -> DirectoryError {
    DirectoryError::Unavailable(error.to_string())
}

fn next<T: redis::FromRedisValue>(
    parts: &mut impl Iterator<Item = Value>,
) -> Result<T, DirectoryError> {
    let value = parts.next().ok_or_else(|| corrupt("short reply"))?;
    redis::from_redis_value(value).map_err(|e| corrupt(&e.to_string()))
}

fn parse_ver(ver: &str) -> Result<u64, DirectoryError> {
    ver.parse().map_err(|_| corrupt("bad version"))
}

/// A flat HGETALL reply (id, name, id, name...) as users.
fn users(flat: Vec<String>) -> Result<Vec<User>, DirectoryError> {
    flat.chunks(2)
        .map(|pair| match pair {
            [id, name] => Ok(User {
                id: UserId::from_hex(id).ok_or_else(|| corrupt("bad user id"))?,
                name: DisplayName::from_trusted(name.clone()),
            }),
            _ => Err(corrupt("odd member list")),
        })
        .collect()
}

fn corrupt(what: &str) -> DirectoryError {
    DirectoryError::Unavailable(format!("unexpected presence data in Redis: {what}"))
}
