// The runs of the signed-in tenant: the run index, filtered and paged, kept
// current by the tenant's event stream.
import { html, useEffect, useRef, useState } from "./vendor/preact-htm.js";
import { follow, get, tenantPath } from "./api.js";
import { Ago, LiveBadge, StatusBadge } from "./widgets.js";

const STATUSES = ["", "pending", "running", "paused", "failed", "completed", "cancelled"];
const PAGE = 50;

export function RunsPage({ ctx }) {
  const tenant = ctx.me.tenant;
  const [filters, setFilters] = useState({ status: "", workflow: "" });
  const [pages, setPages] = useState([""]);  // the page tokens that led here; the last is shown
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
      return get(`${tenantPath(tenant)}/runs`, { ...filters, limit: PAGE, page_token: pages[pages.length - 1] })
        .then((d) => { if (!stale && n >= applied) { applied = n; setData(d); setError(""); } })
        .catch((e) => { if (!stale && n >= applied) setError(e.message); });
    };
    refresh.current = load;
    load();
    return () => { stale = true; };
  }, [tenant, filters, pages]);

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

  const setFilter = (name) => (e) => { setFilters({ ...filters, [name]: e.target.value }); setPages([""]); };
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
          <select value=${filters.status} onChange=${setFilter("status")}>
            ${STATUSES.map((s) => html`<option value=${s}>${s || "any"}</option>`)}
          </select>
        </label>
        <label>Workflow
          <select value=${filters.workflow} onChange=${setFilter("workflow")}>
            <option value="">any</option>
            ${workflows.map((w) => html`<option value=${w}>${w}</option>`)}
          </select>
        </label>
        <form class="search" onSubmit=${open} role="search">
          <label>Run id
            <input value=${search} onInput=${(e) => { setSearch(e.target.value); setSearchError(""); }}
              placeholder="32 hex digits" spellcheck="false" />
          </label>
          <button type="submit">Open</button>
        </form>
      </div>
      ${searchError && html`<p class="error" role="alert">${searchError}</p>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${data && html`
        <table class="list">
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
                <td>${r.current_step || ""}${r.error ? html` <span class="error-text" title=${r.error.message}>${r.error.code}</span>` : ""}</td>
                <td><${Ago} us=${r.updated_unix_us} /></td>
              </tr>`)}
          </tbody>
        </table>
        ${data.runs.length === 0 && html`<p class="empty">No runs${filters.status || filters.workflow ? " match these filters" : " yet"}.</p>`}
        <nav class="pager" aria-label="pages of runs">
          <button disabled=${pages.length === 1} onClick=${() => setPages(pages.slice(0, -1))}>Newer</button>
          <span>page ${pages.length}</span>
          <button disabled=${!data.next_page} onClick=${() => setPages([...pages, data.next_page])}>Older</button>
        </nav>`}
    </section>`;
}
