// The Run Console: sign in with a token, then the runs of your tenant, a
// run (its graph, steps, timeline, time travel, actions) and the audit
// trail, and step statistics. Pages are addressed by the URL's hash: #/runs
// (?status=&workflow=&page= when filtered or paged), #/runs/{id},
// #/audit (?run=&actor=), #/stats; so a view can be reloaded, bookmarked
// and shared.
import { html, render, useEffect, useRef, useState } from "./vendor/preact-htm.js";
import { ApiError, SIGNED_OUT, get, session } from "./api.js";
import { AuditPage } from "./audit.js";
import { RunPage } from "./run.js";
import { RunsPage } from "./runs.js";
import { StatsPage } from "./stats.js";

const ACTING_ROLES = ["operator"];  // what the server's default authorizer requires to act

function useHash() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash;
}

function SignIn({ onSignedIn, problem }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState(problem || "");
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    session.token = token.trim();
    try {
      onSignedIn(await get("/v1/me"));
    } catch (err) {
      session.token = "";
      setError(err instanceof ApiError && err.status === 401 ? `The server refused the token: ${err.message}` : err.message);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <main class="sign-in">
      <h1>Rewind · Run Console</h1>
      <form onSubmit=${submit}>
        <label for="token">Bearer token</label>
        <textarea id="token" rows="4" required value=${token} onInput=${(e) => setToken(e.target.value)}
          placeholder="a JWT or API key (rewind token --subject … --tenant … --roles …)"></textarea>
        <p class="hint">Kept for this tab only.</p>
        ${error && html`<p class="error" role="alert">${error}</p>`}
        <button type="submit" disabled=${busy}>${busy ? "Signing in…" : "Sign in"}</button>
      </form>
    </main>`;
}

function Header({ me, current, onSignOut }) {
  return html`
    <header class="top">
      <a class="brand" href="#/runs">Rewind</a>
      <nav aria-label="pages">
        ${[["runs", "Runs"], ["audit", "Audit"], ["stats", "Statistics"]].map(([page, label]) => html`
          <a href=${`#/${page}`} aria-current=${current === page ? "page" : undefined}>${label}</a>`)}
      </nav>
      <span class="who">Signed in as${" "}<b>${me.subject}</b> · tenant${" "}<b>${me.tenant}</b>
        ${" · "}${me.roles.length ? me.roles.join(", ") : "no roles"}</span>
      <button class="quiet" onClick=${onSignOut}>Sign out</button>
    </header>`;
}

function App() {
  const [me, setMe] = useState(null);
  const [checking, setChecking] = useState(!!session.token);
  const [problem, setProblem] = useState("");
  const hash = useHash();
  useEffect(() => {
    if (!session.token) return;
    get("/v1/me")
      .then(setMe)
      .catch((e) => {
        if (e.status === 401) session.token = "";  // a network blip keeps the token: the next load retries
        setProblem(e.status === 401 ? `The server refused the token: ${e.message}` : `The server did not answer: ${e.message}`);
      })
      .finally(() => setChecking(false));
  }, []);
  // A token the server stops accepting (it expired) ends the session: back
  // to signing in, saying so, at the same address.
  const signedIn = useRef(false);
  signedIn.current = !!me;
  useEffect(() => {
    const ended = (e) => {
      if (!signedIn.current) return;  // a token being tried at sign-in: the form says so
      session.token = "";
      setMe(null);
      setProblem(`Your session ended: ${e.detail}. Sign in again.`);
    };
    addEventListener(SIGNED_OUT, ended);
    return () => removeEventListener(SIGNED_OUT, ended);
  }, []);
  // Once signed in, focus goes to the page's heading, not nowhere.
  useEffect(() => {
    if (!me) return;
    const h1 = document.querySelector("main h1");
    if (h1) {
      h1.setAttribute("tabindex", "-1");
      h1.focus();
    }
  }, [me]);
  if (checking) return html`<p class="loading">Checking the token…</p>`;
  if (!me) return html`<${SignIn} key=${problem} onSignedIn=${(m) => { setProblem(""); setMe(m); }} problem=${problem} />`;
  const signOut = () => {
    session.token = "";
    setProblem("");
    setMe(null);
    location.hash = "#/runs";  // the next session starts at its own runs
  };
  const ctx = { me, canAct: me.roles.some((r) => ACTING_ROLES.includes(r)) };
  const [route, search = ""] = hash.replace(/^#\/?/, "").split("?");
  const parts = route.split("/").map((p) => {
    try { return decodeURIComponent(p); } catch { return p; }
  });
  const query = new URLSearchParams(search);
  let page;
  if (parts[0] === "runs" && parts[1]) page = html`<${RunPage} key=${parts[1]} ctx=${ctx} run=${parts[1]} />`;
  else if (parts[0] === "audit") page = html`<${AuditPage} ctx=${ctx} query=${query} />`;
  else if (parts[0] === "stats") page = html`<${StatsPage} ctx=${ctx} />`;
  else if (parts[0] === "runs" || parts[0] === "") page = html`<${RunsPage} ctx=${ctx} query=${query} />`;
  else page = html`<h1>No such page</h1><p class="error" role="alert">The console has no page ${hash}.</p>
    <p><a href="#/runs">Your runs</a></p>`;
  const current = ["audit", "stats", "runs"].includes(parts[0]) ? parts[0] : "";
  return html`<${Header} me=${me} current=${current} onSignOut=${signOut} /><main>${page}</main>`;
}

const root = document.getElementById("app");
root.textContent = "";  // the "loading" line the page shows until this module runs
render(html`<${App} />`, root);
