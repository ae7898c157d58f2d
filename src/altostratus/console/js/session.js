// The signed-in user's login answer, kept in sessionStorage: it lives as long as the tab
// and holds nothing beyond what the API session already is (its key ends with logout or
// its timeout on the server, whatever the browser keeps).

const KEY = "altostratus.session";

export function loadSession() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) ?? "null");
  } catch {
    return null;
  }
}

export function saveSession(login) {
  sessionStorage.setItem(KEY, JSON.stringify(login));
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
}

/** Root admins (type 1) and domain admins (type 2) see the admin pages. */
export function isAdmin(session) {
  return session !== null && (session.type === "1" || session.type === "2");
}
