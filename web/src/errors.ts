/**
 * The server's error codes in the app's own words. The server's `message`
 * is a fallback for codes the app has nothing better to say about.
 */
import { LIMITS, type AckError } from "./protocol";

export const isNameError = (e: AckError): boolean => e.code === "name_taken" || e.code === "invalid_name";

/** Why a join was refused, as a sentence for the name dialog or the room. */
export function explainJoinError(e: AckError, room: string): string {
  switch (e.code) {
    case "name_taken":
      return `Someone in #${room} already goes by that name, or one that looks just like it. Please choose another.`;
    case "invalid_name":
      return `Names are 1 to ${LIMITS.nameMax} characters, without control or invisible characters.`;
    case "invalid_room":
      return `Room names are 1 to ${LIMITS.roomMax} characters, without control characters.`;
    case "timeout":
      return "The server did not answer. Please try again.";
    default:
      return e.message;
  }
}

/** Why a message was not sent, to follow "Not sent: ". */
export function explainSendError(e: AckError): string {
  switch (e.code) {
    case "rate_limited":
      return `sending too fast; try again in ${Math.ceil((e.retryAfterMs ?? 1000) / 1000)} s.`;
    case "timeout":
      return "the server did not answer.";
    case "unavailable":
      return "the server cannot store messages right now.";
    case "not_in_room":
      return "this page is not in the room yet.";
    case "not_found":
      return "the message it answers is not in this room any more.";
    default:
      return e.message;
  }
}

/** Why an edit, delete, reaction or reply failed, as a sentence. */
export function explainChangeError(e: AckError, action: "edit" | "delete" | "react" | "reply"): string {
  const what = { edit: "Not edited", delete: "Not deleted", react: "Reaction not changed", reply: "Not sent" }[action];
  switch (e.code) {
    case "forbidden":
      return action === "edit" || action === "delete"
        ? `${what}: only the person who wrote a message can ${action} it.`
        : `${what}: you are not allowed to do that here.`;
    case "not_found":
      return `${what}: that message no longer exists; it may have been deleted.`;
    case "invalid_reaction":
      return `${what}: a reaction is a single emoji.`;
    case "too_large":
      return action === "react"
        ? `${what}: a message can have at most 20 different reactions.`
        : `${what}: a message is at most ${LIMITS.textMax} characters.`;
    case "invalid_message":
      return `${what}: the text is empty.`;
    default:
      return `${what}: ${explainSendError(e)}`;
  }
}

/** Why a direct conversation with `name` could not be opened. */
export function explainDirectError(e: AckError, name: string): string {
  switch (e.code) {
    case "not_found":
      return `Could not message ${name} privately: they are not in this room any more.`;
    case "forbidden":
      return "You cannot message yourself privately.";
    default:
      return `Could not message ${name} privately: ${explainSendError(e)}`;
  }
}

/** Why a search found nothing to show, as a sentence. */
export function explainSearchError(e: AckError): string {
  switch (e.code) {
    case "invalid_query":
      return "Type a word to look for: punctuation and words with a minus alone find nothing.";
    case "bad_request":
      return "A search is at most 256 characters.";
    case "timeout":
      return "The server did not answer. Please try again.";
    case "unavailable":
      return "Search is not available right now. Please try again.";
    default:
      return e.message;
  }
}
