// The runs of the signed-in tenant: the run index, filtered and paged, kept
// current by the tenant's event stream. Filters and the page are in the URL
// (#/runs?status=failed&workflow=order&page=TOKEN). Pages are keyset pages
// of the index, newest start first: a new run appears on the first page and
// never shifts the rows of the pages after it.
import { html, useEffect, useRef, useState } from "./vendor/preact-htm.js";
import { follow, get, tenantPath } from "./api.js";
import { Ago, LiveBadge, StatusBadge } from "./widgets.js";

const STATUSES = ["", "pending", "running", "paused", "failed", "completed", "cancelled"];
const PAGE = 50;

// How each page token was reached in this tab: the token of the page
// before it and its number, for "Newer" (the browser's back button works
// too). A page opened from a link starts a trail of its own.
const trail = new Map();

function go(filters, page = "") {
  const q = new URLSearchParams();
  if (filters.status) q.set("status", filters.status);
  if (filters.workflow) q.set("workflow", filters.workflow);
  if (page) q.set("page", page);
  const s = q.toString();
  location.hash = s ? `#/runs?${s}` : "#/runs";
}

export function RunsPage({ ctx, query }) {
  const tenant = ctx.me.tenant;
  const status = query.get("status") || "", workflow = query.get("workflow") || "", page = query.get("page") || "";
  const filters = { status, workflow };
  const back = page ? trail.get(page) : null;  // null: reached from a link
  const [data, setData] = useState(null);
  const [error, setError] = useState("");
  const [live, setLive] = useState("connecting");
  const [workflows, setWorkflows] = useState([]);
  const [search, setSearch] = useState("");
  const [searchError, setSearchError] = useState("");
  const refresh = useRef(() => {});

  useEffect(() => {
    get("/v1/workflows").then((w) => setWorkflows(w.workflows.map((x) => x.name))).catch(() => {});
  }, []);

  useEffect(() => {
    let stale = false;
    let issued = 0, applied = 0;
    const load = () => {  // an answer older than one shown is dropped
      const n = ++issued;
      return get(`${tenantPath(tenant)}/runs`, { status, workflow, limit: PAGE, page_token: page })
        .then((d) => { if (!stale && n >= applied) { applied = n; setData(d); setError(""); } })
        .catch((e) => {
          if (stale || n < applied) return;
          applied = n;
          setError(e.message);
          if (e.status === 400) setData(null);  // a bad filter or page: no rows of another query under it
        });
    };
    refresh.current = load;
    load();
    return () => { stale = true; };
  }, [tenant, status, workflow, page]);

  // Any event of the tenant may change a row: the page is read again, at
  // most every 300 ms (the run index is a fold of the same events).
  useEffect(() => {
    let timer = null;
    const stop = follow(`${tenantPath(tenant)}/stream`, {
      onEvent: () => {
        if (timer === null) timer = setTimeout(() => { timer = null; refresh.current(); }, 300);
      },
      onStatus: (s) => {
        setLive(typeof s === "string" ? s : `stream refused: ${s.message}`);
        if (s === "live") refresh.current();  // what changed before the stream attached
      },
    });
    return () => { stop(); clearTimeout(timer); };
  }, [tenant]);

  const setFilter = (name) => (e) => go({ ...filters, [name]: e.target.value });
  const number = page ? (back ? back.n : null) : 1;
  const older = () => {
    trail.set(data.next_page, { prev: page, n: number === null ? null : number + 1 });
    go(filters, data.next_page);
  };
  const open = async (e) => {
    e.preventDefault();
    const id = search.trim().toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(id)) { setSearchError("A run id is 32 hexadecimal digits."); return; }
    try {
      await get(`${tenantPath(tenant)}/runs/${id}`);
      location.hash = `#/runs/${id}`;
    } catch (err) {
      setSearchError(err.status === 404 ? `No run ${id} in tenant ${tenant}.` : err.message);
    }
  };

  return html`
    <section class="runs">
      <div class="bar">
        <h1>Runs</h1>
        <${LiveBadge} state=${live} />
      </div>
      <div class="filters">
        <label>Status
          <select name="status" value=${filters.status} onChange=${setFilter("status")}>
            ${STATUSES.map((s) => html`<option value=${s}>${s || "any"}</option>`)}
          </select>
        </label>
        <label>Workflow
          <select name="workflow" value=${filters.workflow} onChange=${setFilter("workflow")}>
            <option value="">any</option>
            ${(workflows.includes(workflow) || !workflow ? workflows : [...workflows, workflow])
              .map((w) => html`<option value=${w}>${w}</option>`)}
          </select>
        </label>
        <form class="search" onSubmit=${open} role="search">
          <label>Run id
            <input name="run" value=${search} onInput=${(e) => { setSearch(e.target.value); setSearchError(""); }}
              placeholder="32 hex digits" spellcheck="false" />
          </label>
          <button type="submit">Open</button>
        </form>
      </div>
      ${searchError && html`<p class="error" role="alert">${searchError}</p>`}
      ${error && html`<p class="error" role="alert">${error}
        ${(status || workflow || page) && html`${" "}<a href="#/runs">Show all runs</a>`}</p>`}
      ${data && html`
        <div class="table-scroll"><table class="list">
          <thead><tr>
            <th scope="col">Run</th><th scope="col">Workflow</th><th scope="col">Status</th>
            <th scope="col">Steps</th><th scope="col">Epoch</th><th scope="col">Current step</th>
            <th scope="col">Updated</th>
          </tr></thead>
          <tbody>
            ${data.runs.map((r) => html`
              <tr key=${r.run_id} data-run=${r.run_id}>
                <td><a class="mono" href=${`#/runs/${r.run_id}`}>${r.run_id}</a></td>
                <td>${r.workflow} v${r.version}</td>
                <td><${StatusBadge} status=${r.status} /></td>
                <td>${r.steps_completed} / ${r.steps_total}</td>
                <td>${r.epoch}</td>
                <td>${r.current_step || ""}${r.error ? html` <span class="error-text clip" title=${r.error.message}>${r.error.code}: ${r.error.message}</span>` : ""}</td>
                <td><${Ago} us=${r.updated_unix_us} /></td>
              </tr>`)}
          </tbody>
        </table></div>
        ${data.runs.length === 0 && html`<p class="empty">No runs${filters.status || filters.workflow ? " match these filters" : " yet"}.</p>`}
        <nav class="pager" aria-label="pages of runs">
          <button disabled=${!page} onClick=${() => go(filters, back ? back.prev : "")}>${!page || back ? "Newer" : "Newest"}</button>
          <span>${number === null ? "an older page" : `page ${number}`}</span>
          <button disabled=${!data.next_page} onClick=${older}>Older</button>
        </nav>`}
    </section>`;
}
