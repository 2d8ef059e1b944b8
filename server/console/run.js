// One run: its graph, steps and timeline, kept live by the run's event
// stream; time travel over its seqs; and the actions the signed-in role may
// take (the server decides; the page only offers what it would allow).
import { html, useEffect, useRef, useState } from "./vendor/preact-htm.js";
import { follow, get, runPath } from "./api.js";
import { DecisionDialog, ForkDialog, ResumeDialog, StopDialog } from "./dialogs.js";
import { Graph } from "./graph.js";
import { Ago, ErrorText, LiveBadge, StatusBadge, pretty, time } from "./widgets.js";

// A notice for the next run page opened (a fork opens its new run).
let flash = "";

const STOPPED = ["failed", "paused", "cancelled", "completed"];
const FINISHED = ["failed", "cancelled", "completed"];

// The steps whose status, attempts or epoch differ between two states.
function changedSteps(before, after) {
  const out = new Set();
  if (!before || !after) return out;
  after.steps.forEach((s, i) => {
    const b = before.steps[i];
    if (!b || b.status !== s.status || b.attempts !== s.attempts || b.epoch !== s.epoch) out.add(s.id);
  });
  return out;
}

function StepsTable({ state, selected, onSelect }) {
  return html`
    <div class="table-scroll"><table class="list steps">
      <thead><tr>
        <th scope="col">Step</th><th scope="col">Kind</th><th scope="col">Status</th>
        <th scope="col">Attempts (epoch / ever)</th><th scope="col">Epoch</th><th scope="col">Output or error</th>
      </tr></thead>
      <tbody>
        ${state.steps.map((s) => html`
          <tr key=${s.id} class=${selected === s.id ? "selected" : ""} data-step=${s.id}>
            <td><button class="link" aria-pressed=${selected === s.id ? "true" : "false"}
              onClick=${() => onSelect(s.id)}>${s.id}</button></td>
            <td>${s.kind}</td>
            <td><${StatusBadge} status=${s.status} /></td>
            <td>${s.attempts} / ${s.total_attempts}</td>
            <td>${s.epoch}</td>
            <td>
              ${s.error && (s.status === "completed"
                ? html`<span class="earlier">an earlier attempt: ${s.error.code}: ${s.error.message}</span>`
                : html`<${ErrorText} error=${s.error} />`)}
              ${s.output && html`<details><summary>output</summary><pre>${pretty(s.output)}</pre></details>`}
            </td>
          </tr>`)}
      </tbody>
    </table></div>`;
}

function Timeline({ entries, at }) {
  // Epochs as bands: a new band starts at each resume or fork.
  let epoch = -1;
  return html`
    <ol class="timeline">
      ${entries.map((e) => {
        const band = e.epoch !== epoch;
        epoch = e.epoch;
        return html`
          ${band && html`<li class="band" key=${`band-${e.epoch}`}>epoch ${e.epoch}</li>`}
          <li key=${e.seq} class=${`entry${at && e.seq > at ? " future" : ""}${e.actor ? " by-person" : ""}`}>
            ${at && e.seq > at ? html`<span class="sr-only">after the point shown: </span>` : ""}
            <span class="seq">#${e.seq}</span>
            <span class="type">${e.type}</span>
            <span class="step">${e.step || ""}</span>
            <span class="what">${e.what}</span>
            <span class="actor">${e.actor || "engine"}</span>
            <time>${time(e.unix_us)}</time>
          </li>`;
      })}
    </ol>`;
}

// The state at a past seq (or right after a step), beside the one before it.
function useTravel(tenant, run, point) {
  const [view, setView] = useState(null);
  useEffect(() => {
    if (!point) { setView(null); return; }
    let stale = false;
    const query = point.step ? { at_step: point.step } : { at_seq: point.seq };
    get(runPath(tenant, run), query)
      .then(async (at) => {
        const before = at.seq > 1 ? await get(runPath(tenant, run), { at_seq: at.seq - 1 }) : null;
        if (!stale) setView({ at, before, error: "" });
      })
      .catch((e) => { if (!stale) setView({ at: null, before: null, error: e.message }); });
    return () => { stale = true; };
  }, [tenant, run, point && point.seq, point && point.step]);
  return view;
}

export function RunPage({ ctx, run }) {
  const tenant = ctx.me.tenant;
  const [state, setState] = useState(null);
  const [timeline, setTimeline] = useState([]);
  const [error, setError] = useState("");
  const [refreshError, setRefreshError] = useState("");
  const [live, setLive] = useState("connecting");
  const [selected, setSelected] = useState(null);
  const [dialog, setDialog] = useState(null);
  const [notice, setNotice] = useState(() => { const f = flash; flash = ""; return f; });
  const [point, setPoint] = useState(null);  // time travel: {seq} or {step}; null: now
  const reload = useRef(() => {});

  useEffect(() => {
    let stale = false;
    let issued = 0, applied = 0, loaded = false;
    // Loads may overlap (one per burst of events): an answer older than one
    // already shown is dropped. A failure after the first load is a banner,
    // so an open dialog and what was typed in it stay.
    const load = () => {
      const n = ++issued;
      return Promise.all([get(runPath(tenant, run)), get(`${runPath(tenant, run)}/timeline`)])
        .then(([s, t]) => {
          if (stale || n < applied) return;
          applied = n;
          loaded = true;
          setState(s);
          setTimeline(t.entries);
          setError("");
          setRefreshError("");
        })
        .catch((e) => {
          if (stale || n < applied) return;
          if (loaded) setRefreshError(`Could not refresh: ${e.message}`);
          else setError(e.status === 404 ? `No run ${run} in tenant ${tenant}.` : e.message);
        });
    };
    reload.current = load;
    let timer = null;
    // Attached first, then read: nothing between the two is missed.
    const stop = follow(`${runPath(tenant, run)}/stream`, {
      onEvent: () => {
        if (timer === null) timer = setTimeout(() => { timer = null; load(); }, 100);
      },
      onStatus: (s) => {
        setLive(typeof s === "string" ? s : `stream refused: ${s.message}`);
        if (s === "live" || typeof s !== "string") load();
      },
    });
    return () => { stale = true; stop(); clearTimeout(timer); };
  }, [tenant, run]);

  const travel = useTravel(tenant, run, point);
  if (error) return html`<p class="error" role="alert">${error}</p><p><a href="#/runs">All runs</a></p>`;
  if (!state) return html`<p class="loading">Loading run ${run}…</p>`;

  // In the past: the state there once it came, nothing before (never today's
  // state under a past label).
  const past = point ? (travel && travel.at) || null : null;
  const shown = point ? past : state;
  const changed = past ? changedSteps(travel.before, past) : new Set();
  const step = selected && state.steps.find((s) => s.id === selected);
  const stopped = STOPPED.includes(state.status);
  const gate = state.status === "paused" && state.paused_step &&
    state.steps.find((s) => s.id === state.paused_step && s.kind === "approval");
  const close = () => setDialog(null);
  const openDialog = (d) => { setNotice(""); setDialog(d); };
  const done = (message, forked) => {
    setDialog(null);
    if (forked) {
      flash = message;
      location.hash = `#/runs/${forked}`;
      return;
    }
    setNotice(message);
    reload.current();
    // The notice takes the focus: the control that opened the dialog may be
    // gone or disabled now.
    requestAnimationFrame(() => document.querySelector(".notice")?.focus());
  };
  const canResumeStep = step && (stopped || step.status === "failed" || step.status === "paused");

  return html`
    <section class="run">
      <p><a href="#/runs">← All runs</a></p>
      <div class="bar">
        <h1>${state.workflow} v${state.version} · <span class="mono">${state.run_id}</span></h1>
        <${StatusBadge} status=${state.status} />
        <${LiveBadge} state=${live} />
      </div>
      <p class="facts">
        epoch ${state.epoch} · seq ${state.seq} · started ${time(state.started_unix_us)} · updated${" "}<${Ago} us=${state.updated_unix_us} />
        ${" · "}<a href=${`#/audit?run=${state.run_id}`}>its audit</a>
        ${state.parent_run && html` · forked from <a class="mono" href=${`#/runs/${state.parent_run}`}>${state.parent_run}</a> at seq ${state.parent_seq}`}
      </p>
      ${state.error && html`<p class="run-error"><${ErrorText} error=${state.error} /></p>`}
      <p class="sr-only" role="status">The run is ${state.status}.</p>
      <div role="status">${notice && html`<p class="notice" tabindex="-1">${notice}
        <button class="quiet" aria-label="dismiss the notice" onClick=${() => setNotice("")}>×</button></p>`}</div>
      ${refreshError && html`<p class="error" role="alert">${refreshError}</p>`}

      ${!ctx.canAct && html`<p class="hint">You can see this run; acting on it needs the operator role.</p>`}
      ${ctx.canAct && html`
        <div class="actions" role="toolbar" aria-label="actions on this run">
          ${gate && html`<button onClick=${() => openDialog({ kind: "decide", step: gate.id })}>Approve or reject ${gate.id}…</button>`}
          ${!stopped && html`<button onClick=${() => openDialog({ kind: "pause" })}>Pause…</button>`}
          ${!FINISHED.includes(state.status) && html`<button class="danger" onClick=${() => openDialog({ kind: "cancel" })}>Cancel…</button>`}
          <button disabled=${!canResumeStep} onClick=${() => openDialog({ kind: "resume", step: selected })}
            title=${step ? "" : "select a step in the graph or the table"}>
            ${step ? `Resume from ${step.id}…` : "Resume from a step…"}
          </button>
          <button disabled=${!step} onClick=${() => openDialog({ kind: "fork", step: selected })}>
            ${step ? `Fork from ${step.id}…` : "Fork from a step…"}
          </button>
        </div>`}

      <section class="travel" aria-label="time travel">
        <h2>${point ? "Time travel" : "Now"}</h2>
        <label for="seq-slider">State after event</label>
        <input id="seq-slider" type="range" min="1" max=${state.seq}
          value=${point ? (point.seq || (past && past.seq) || state.seq) : state.seq}
          onInput=${(e) => { const v = Number(e.target.value); setPoint(v === state.seq ? null : { seq: v }); }} />
        <output for="seq-slider">${shown ? `#${shown.seq} of ${state.seq}` : "loading…"}</output>
        <label for="after-step">Right after step</label>
        <select id="after-step" value=${point && point.step ? point.step : ""}
          onChange=${(e) => setPoint(e.target.value ? { step: e.target.value } : null)}>
          <option value="">—</option>
          ${state.steps.filter((s) => s.total_attempts > 0).map((s) => html`<option value=${s.id}>${s.id}</option>`)}
        </select>
        ${point && html`<button class="quiet" onClick=${() => setPoint(null)}>Back to now</button>`}
        ${travel && travel.error && html`<p class="error" role="alert">${travel.error}</p>`}
        ${travel && travel.at && html`
          <p class="travel-facts">At seq ${travel.at.seq}: run ${travel.at.status}, epoch ${travel.at.epoch}.
            ${changed.size ? ` Changed by this event: ${[...changed].join(", ")}.` : " No step changed with this event."}</p>`}
      </section>

      ${shown ? html`
        <div class="graph-box">
          <${Graph} steps=${shown.steps} selected=${selected} changed=${changed}
            onSelect=${(id) => setSelected(id === selected ? null : id)} />
        </div>
        <h2>Steps${point ? ` at seq ${shown.seq}` : ""}</h2>
        <${StepsTable} state=${shown} selected=${selected} onSelect=${(id) => setSelected(id === selected ? null : id)} />`
      : html`<p class="loading">${travel && travel.error ? "" : "Loading the state at that point…"}</p>`}
      <h2>Timeline</h2>
      <${Timeline} entries=${timeline} at=${point && shown ? shown.seq : 0} />

      ${dialog && dialog.kind === "resume" && html`<${ResumeDialog} tenant=${tenant} run=${run} step=${dialog.step}
        seq=${state.seq} onClose=${close} onDone=${done} />`}
      ${dialog && dialog.kind === "decide" && html`<${DecisionDialog} tenant=${tenant} run=${run} step=${dialog.step}
        onClose=${close} onDone=${done} />`}
      ${dialog && (dialog.kind === "pause" || dialog.kind === "cancel") && html`<${StopDialog} tenant=${tenant}
        run=${run} verb=${dialog.kind} onClose=${close} onDone=${done} />`}
      ${dialog && dialog.kind === "fork" && html`<${ForkDialog} tenant=${tenant} run=${run} step=${dialog.step}
        onClose=${close} onDone=${done} />`}
    </section>`;
}
