//! How many bytes of memory a message or a log entry held in a room's tail
//! costs, so that tails can be kept within a budget.
//!
//! A weight counts every allocation the value owns, each with
//! [`ALLOCATION`] bytes of bookkeeping, but not the value's own inline size
//! (its container pays for that). Vectors count their length, not their
//! capacity, so a value and its clone weigh the same. Text shared between copies
//! ([`crate::domain::MessageText`]) is counted in each copy, so a weight
//! over-states real use and never under-states it.

use crate::domain::{Entry, Message, Reaction, User};
use std::mem::size_of;

/// What an allocator keeps beside each allocation, and rounding: a
/// generous round figure, not any one allocator's.
const ALLOCATION: usize = 16;

/// Heap bytes a message owns.
pub fn message(message: &Message) -> usize {
    let text = message.text.as_str().len() + 2 * size_of::<usize>(); // an Arc's counts
    let client_id = message.client_id.as_ref().map_or(0, |id| heap(id.as_str().len()));
    heap(text)
        + heap(message.room.as_str().len())
        + user(&message.user)
        + client_id
        + heap(message.reactions.len() * size_of::<Reaction>())
        + message.reactions.iter().map(reaction).sum::<usize>()
}

/// Heap bytes a log entry owns: a new message's, or a change's message's
/// and its own.
pub fn entry(entry: &Entry) -> usize {
    match entry {
        Entry::Message(m) => message(m),
        Entry::Change(change) => {
            message(&change.message) + heap(change.room.as_str().len()) + user(&change.user)
        }
    }
}

fn reaction(reaction: &Reaction) -> usize {
    let users = heap(reaction.users.len() * size_of::<User>());
    heap(reaction.emoji.len()) + users + reaction.users.iter().map(user).sum::<usize>()
}

fn user(user: &User) -> usize {
    heap(user.name.as_str().len())
}

/// One allocation of `bytes` (none for nothing).
fn heap(bytes: usize) -> usize {
    if bytes == 0 { 0 } else { bytes + ALLOCATION }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MessageText;
    use crate::realtime::tail::tests::message_with;

    fn message_of(text: &str) -> Message {
        message_with(1, 1, text)
    }

    #[test]
    fn a_message_weighs_at_least_its_text_and_names() {
        let largest = message_of(&"\u{1F600}".repeat(MessageText::MAX_CHARS));
        assert!(message(&largest) >= 8000 + "r".len() + "a".len());
    }

    #[test]
    fn reactions_add_to_a_message_s_weight() {
        let plain = message_of("hi");
        let mut reacted = plain.clone();
        let users = vec![plain.user.clone(); 100];
        reacted.reactions = vec![Reaction { emoji: "👍".into(), count: 100, users }];
        assert!(message(&reacted) >= message(&plain) + 100 * "a".len());
    }
}
