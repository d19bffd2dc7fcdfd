// Identity for the page: the demo session cookie is traded for a short-lived token at
// /helpcenter/token; the token is renewed a minute before it expires.
const RENEW_BEFORE_MS = 60 * 1000;

export function readConfig() {
  const el = document.getElementById("helpdesk-config");
  try {
    return JSON.parse(el ? el.textContent : "{}");
  } catch (e) {
    return {};
  }
}

async function fetchJson(url, options) {
  const response = await fetch(url, { credentials: "same-origin", cache: "no-store", ...options });
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  return { ok: response.ok, status: response.status, body };
}

class TokenCache {
  constructor() { this.value = undefined; this.pending = null; }

  invalidate() { this.value = undefined; }

  fresh() {
    if (!this.value) return false;
    if (!this.value.token) return true; // anonymous: nothing to renew
    return Date.parse(this.value.expires_at) - Date.now() > RENEW_BEFORE_MS;
  }

  // {token, role, workspace_id, expires_at} or {role: null} when nobody is logged in
  async current() {
    if (this.fresh()) return this.value;
    if (!this.pending) {
      this.pending = fetchJson("/helpcenter/token")
        .then(({ ok, body }) => (ok && body && body.token ? body : { role: null }))
        .catch(() => ({ role: null }))
        .then((value) => { this.value = value; this.pending = null; return value; });
    }
    return this.pending;
  }
}

export const tokens = new TokenCache();

export async function demoLogin(workspaceId, role) {
  const { body } = await fetchJson("/helpcenter/demo-login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ workspace_id: workspaceId, role }),
  });
  tokens.invalidate();
  return body;
}

export async function logout() {
  await fetchJson("/helpcenter/logout", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: "{}",
  });
  tokens.invalidate();
  return { role: null };
}

export async function apiGet(url) {
  const current = await tokens.current();
  return fetchJson(url, { headers: current.token ? { Authorization: `Bearer ${current.token}` } : {} });
}

export async function apiPost(url, payload) {
  const current = await tokens.current();
  const headers = { "Content-Type": "application/json" };
  if (current.token) headers.Authorization = `Bearer ${current.token}`;
  return fetchJson(url, { method: "POST", headers, body: JSON.stringify(payload) });
}
