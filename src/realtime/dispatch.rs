//! The contract's event handlers behind one handler per connection.
//!
//! socketioxide keeps a map of boxed handlers on every socket; registering
//! the fourteen client events one by one cost each idle connection ~1 KB
//! (bench/README.md, S4). [`Dispatch`] is registered alone, as the socket's
//! fallback, and finds the handler by the event's name: a `match`, built
//! once, into the same handler functions with the same extractors.

use super::{change, direct, events, history, join, message, reads, search, typing};
use socketioxide::adapter::Adapter;
use socketioxide::extract::Event;
use socketioxide::handler::{FromMessageParts, MessageHandler, Value};
use socketioxide::socket::Socket;
use std::sync::Arc;

/// Routes an event to its contract handler; events outside the contract
/// are ignored, as they were with no handler registered for them.
#[derive(Clone, Copy)]
pub struct Dispatch;

/// [`MessageHandler`]'s marker for [`Dispatch`] (no extractors of its own).
pub enum ByName {}

impl<A: Adapter> MessageHandler<A, ByName> for Dispatch {
    fn call(&self, s: Arc<Socket<A>>, mut v: Value, ack: Option<i64>) {
        let Ok(Event(event)) = Event::from_message_parts(&s, &mut v, &ack) else {
            return;
        };
        match event.as_str() {
            events::JOIN => call(join::on_join::<A>, s, v, ack),
            events::LEAVE => call(join::on_leave::<A>, s, v, ack),
            events::MESSAGE => message::on_message::<A>(s, v, ack),
            events::TYPING => call(typing::on_typing::<A>, s, v, ack),
            events::HISTORY => call(history::on_history::<A>, s, v, ack),
            events::ROOMS => call(history::on_rooms::<A>, s, v, ack),
            events::EDIT => call(change::on_edit::<A>, s, v, ack),
            events::DELETE => call(change::on_delete::<A>, s, v, ack),
            events::REACT => call(change::on_react::<A>, s, v, ack),
            events::DM => call(direct::on_dm::<A>, s, v, ack),
            events::CONVERSATIONS => call(direct::on_conversations::<A>, s, v, ack),
            events::READ => call(reads::on_read::<A>, s, v, ack),
            events::READS => call(reads::on_reads::<A>, s, v, ack),
            events::SEARCH => call(search::on_search::<A>, s, v, ack),
            _ => {}
        }
    }
}

/// Runs `handler` as socketioxide would have: its extractors, then it.
fn call<A: Adapter, T: Send + Sync + 'static>(
    handler: impl MessageHandler<A, T>,
    s: Arc<Socket<A>>,
    v: Value,
    ack: Option<i64>,
) {
    handler.call(s, v, ack);
}

#[cfg(test)]
mod tests {
    use super::super::events;

    /// Every event a client sends has its arm in [`super::Dispatch`]:
    /// the match lists them by name, this list is the contract's.
    #[test]
    fn every_client_event_is_dispatched() {
        let source = include_str!("dispatch.rs");
        for event in events::FROM_CLIENT {
            let constant = format!("events::{} =>", event.to_uppercase());
            assert!(source.contains(&constant), "{event} is not dispatched");
        }
    }
}
