/**
 * Who this browser is: the session token and the chosen name, kept in
 * localStorage so a reload or a second tab comes back as the same person.
 * Storage can be unavailable (private modes, quotas), so every access is
 * guarded and the app simply forgets instead of breaking.
 */

const TOKEN_KEY = "baat-chit.token";
const NAME_KEY = "baat-chit.name";
const NOTIFY_KEY = "baat-chit.notify";

function read(key: string): string | null {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

function write(key: string, value: string | null): void {
  try {
    if (value === null) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, value);
  } catch {
    // Not remembering is acceptable; the session still works for this page.
  }
}

export const identity = {
  token: (): string | null => read(TOKEN_KEY),
  setToken: (token: string): void => write(TOKEN_KEY, token),
  name: (): string | null => read(NAME_KEY),
  setName: (name: string): void => write(NAME_KEY, name),
  wantsNotifications: (): boolean => read(NOTIFY_KEY) === "on",
  setWantsNotifications: (on: boolean): void => write(NOTIFY_KEY, on ? "on" : null),
};
