// Who resumed, approved, rejected, cancelled, paused, forked or signalled,
// and every attempt the server refused: with who, when and why, filtered
// by run or actor (in the URL: #/audit?run=ID&actor=SUBJECT).
import { html, useEffect, useState } from "./vendor/preact-htm.js";
import { get, tenantPath } from "./api.js";
import { time } from "./widgets.js";

export function AuditPage({ ctx, query: url }) {
  const tenant = ctx.me.tenant;
  const filters = { run: url.get("run") || "", actor: url.get("actor") || "" };
  const [typed, setTyped] = useState(filters);
  const [entries, setEntries] = useState(null);
  const [refusals, setRefusals] = useState(null);
  const [older, setOlder] = useState({ entries: null, refusals: null });  // next_before of each list
  const [error, setError] = useState("");
  const query = { run: filters.run, actor: filters.actor, limit: 100 };

  useEffect(() => {
    let stale = false;
    Promise.all([get(`${tenantPath(tenant)}/audit`, query), get(`${tenantPath(tenant)}/refusals`, query)])
      .then(([a, r]) => {
        if (stale) return;
        setEntries(a.entries);
        setRefusals(r.refusals);
        setOlder({ entries: a.next_before, refusals: r.next_before });
        setError("");
      })
      .catch((e) => { if (!stale) setError(e.message); });
    return () => { stale = true; };
  }, [tenant, filters.run, filters.actor]);

  // The next page of one list, after what it shows.
  const more = (list) => async () => {
    try {
      const page = await get(`${tenantPath(tenant)}/${list === "entries" ? "audit" : "refusals"}`,
        { ...query, before: older[list] });
      if (list === "entries") setEntries([...entries, ...page.entries]);
      else setRefusals([...refusals, ...page.refusals]);
      setOlder({ ...older, [list]: page.next_before });
    } catch (e) {
      setError(e.message);
    }
  };

  // The API's actor is a subject; "ana@acme", as the table shows it, means ana.
  const apply = (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (typed.run.trim()) q.set("run", typed.run.trim());
    if (typed.actor.trim()) q.set("actor", typed.actor.trim().split("@")[0]);
    location.hash = q.toString() ? `#/audit?${q}` : "#/audit";
  };
  return html`
    <section class="audit">
      <h1>Audit</h1>
      <form class="filters" onSubmit=${apply} role="search">
        <label>Run id <input value=${typed.run} spellcheck="false" onInput=${(e) => setTyped({ ...typed, run: e.target.value })} /></label>
        <label>Actor <input value=${typed.actor} placeholder="subject, e.g. ana" onInput=${(e) => setTyped({ ...typed, actor: e.target.value })} /></label>
        <button type="submit">Filter</button>
      </form>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <h2>Actions</h2>
      ${entries && (entries.length === 0 ? html`<p class="empty">No actions recorded${filters.run || filters.actor ? " for this filter" : ""}.</p>` : html`
        <div class="table-scroll"><table class="list">
          <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Run</th>
            <th scope="col">Step</th><th scope="col">Why</th></tr></thead>
          <tbody>${entries.map((e) => html`
            <tr key=${e.position}>
              <td>${time(e.unix_us)}</td><td>${e.actor}${e.actor_tenant ? `@${e.actor_tenant}` : ""}</td><td>${e.action}</td>
              <td><a class="mono" href=${`#/runs/${e.run_id}`}>${e.run_id}</a></td>
              <td>${e.step || ""}</td><td>${e.detail || ""}</td>
            </tr>`)}</tbody>
        </table></div>`)}
      ${older.entries !== null && html`<button class="quiet" onClick=${more("entries")}>Older actions</button>`}
      <h2>Refused attempts</h2>
      ${refusals && (refusals.length === 0 ? html`<p class="empty">No refusals${filters.run || filters.actor ? " for this filter" : ""}.</p>` : html`
        <div class="table-scroll"><table class="list refusals">
          <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Tried</th><th scope="col">Run</th>
            <th scope="col">Why refused</th></tr></thead>
          <tbody>${refusals.map((r) => html`
            <tr key=${r.n}>
              <td>${time(r.unix_us)}</td><td>${r.subject}@${r.actor_tenant}</td><td>${r.action}</td>
              <td class="mono">${r.run || ""}</td><td>${r.reason}</td>
            </tr>`)}</tbody>
        </table></div>`)}
      ${older.refusals !== null && html`<button class="quiet" onClick=${more("refusals")}>Older refusals</button>`}
    </section>`;
}
