/**
 * Rooms in the address bar: /r/<room> names a room, / is the default one.
 * Also the app's quick check of a room name, mirroring the server's rule,
 * so an impossible name is refused inline before any request.
 */
import { DEFAULT_ROOM, LIMITS } from "./protocol";

export function roomPath(room: string): string {
  return `/r/${encodeURIComponent(room)}`;
}

/** The room named by /r/<room>, or the default room. */
export function roomFromPath(path: string): string {
  const found = /^\/r\/([^/]+)\/?$/.exec(path);
  if (!found?.[1]) return DEFAULT_ROOM;
  try {
    return decodeURIComponent(found[1]).trim() || DEFAULT_ROOM;
  } catch {
    return DEFAULT_ROOM;
  }
}

/** Why a room name cannot be used, or null if it can. */
export function roomProblem(room: string): string | null {
  const length = Array.from(room.trim()).length;
  if (length < 1) return "Type a room name first.";
  if (length > LIMITS.roomMax) return `Room names are 1 to ${LIMITS.roomMax} characters.`;
  if (/\p{Cc}/u.test(room)) return "Room names cannot contain control characters.";
  return null;
}
