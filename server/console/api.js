// The console's only way to the server: the public /v1 API and its event
// streams, with the signed-in token. The server checks every permission;
// the page only mirrors them.

const TOKEN_KEY = "rewind.token";

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY) || ""; },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
};

// An answer that is not 2xx: the problem document's detail, its status and
// its code (RFC 9457, with the server's Status code name).
export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.code = code || "";
  }
}

function headers(extra = {}) {
  const h = { Accept: "application/json", ...extra };
  if (session.token) h.Authorization = `Bearer ${session.token}`;
  return h;
}

// The server refused the tab's token (expired, revoked): the page goes back
// to signing in, saying why (app.js listens).
export const SIGNED_OUT = "rewind:signed-out";

async function answer(res, sentToken) {
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (!res.ok) {
    const err = new ApiError(res.status, body && body.code, (body && body.detail) || text || res.statusText);
    if (res.status === 401 && sentToken && sentToken === session.token) {
      dispatchEvent(new CustomEvent(SIGNED_OUT, { detail: err.message }));
    }
    throw err;
  }
  return body;
}

// A request that got no answer at all (the server is down, the network
// dropped): status 0, so a dialog can say the action may or may not be done.
async function send(url, init) {
  const token = session.token;
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, "unreachable", "the server did not answer");
  }
  return answer(res, token);
}

export async function get(path, query = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, v);
  }
  const url = q.toString() ? `${path}?${q}` : path;
  return send(url, { headers: headers() });
}

export async function post(path, body, extra = {}) {
  return send(path, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json", ...extra }),
    body: JSON.stringify(body),
  });
}

export const tenantPath = (tenant) => `/v1/tenants/${encodeURIComponent(tenant)}`;
export const runPath = (tenant, run) => `${tenantPath(tenant)}/runs/${encodeURIComponent(run)}`;

// A request id for an action: the same for every retry of one dialog, so a
// double click or a retry after a lost answer appends once.
export function requestId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Follows a Server-Sent Events stream of the API (EventSource cannot send
// the token, so this reads it through fetch). Each event is passed to
// onEvent as {id, data}; after a drop it reconnects with Last-Event-ID, so
// nothing is missed or seen twice. onStatus hears "live", "reconnecting"
// or an ApiError (then it stops: the token or the path will not do).
// Returns a function that stops it.
export function follow(path, { onEvent, onStatus = () => {}, after = null }) {
  const stop = new AbortController();
  let last = after;
  (async () => {
    let delay = 500;
    while (!stop.signal.aborted) {
      try {
        const h = headers({ Accept: "text/event-stream" });
        if (last !== null) h["Last-Event-ID"] = String(last);
        const token = session.token;
        const res = await fetch(path, { headers: h, signal: stop.signal });
        if (!res.ok) {
          const err = await answer(res, token).catch((e) => e);
          if (res.status === 401 || res.status === 403 || res.status === 404 || res.status === 400) {
            onStatus(err);
            return;
          }
          throw err;
        }
        onStatus("live");
        delay = 500;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, "\n");
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            // Fields as the SSE format has them: "name: value" (the space is
            // optional), data lines joined by newlines, ":" a comment.
            let id = null;
            const data = [];
            for (const line of block.split("\n")) {
              const colon = line.indexOf(":");
              if (colon <= 0) continue;
              const name = line.slice(0, colon);
              const text = line.slice(colon + 1).replace(/^ /, "");
              if (name === "id") id = Number(text);
              else if (name === "data") data.push(text);
            }
            if (id === null || !data.length) continue;  // attached, keepalive
            last = id;
            try {
              onEvent({ id, data: JSON.parse(data.join("\n")) });
            } catch (e) {
              console.warn(`event ${id} of ${path} could not be shown: ${e.message}`);
            }
          }
        }
      } catch (e) {
        if (stop.signal.aborted) return;
      }
      onStatus("reconnecting");
      await sleep(delay);
      delay = Math.min(delay * 2, 10000);
    }
  })();
  return () => stop.abort();
}
