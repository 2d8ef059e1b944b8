// How each workflow's steps behave in the tenant's runs: executions,
// failures, retries, resumes, and attempt latency (p50, p90, p99) drawn as
// bars on one scale per workflow.
import { html, useEffect, useState } from "./vendor/preact-htm.js";
import { get, tenantPath } from "./api.js";

export function duration(us) {
  if (us < 1000) return `${us} µs`;
  if (us < 1e6) return `${(us / 1000).toFixed(us < 1e4 ? 1 : 0)} ms`;
  return `${(us / 1e6).toFixed(us < 1e7 ? 2 : 1)} s`;
}

const BAR_H = 8, ROW = 34, LABEL = 140, WIDTH = 560;

function LatencyChart({ workflow, steps }) {
  const timed = steps.filter((s) => s.latency_count > 0);
  if (!timed.length) return html`<p class="empty">No attempt of ${workflow} has ended yet.</p>`;
  const top = Math.max(...timed.map((s) => s.p99_us), 1);
  const x = (us) => (us / top) * (WIDTH - LABEL - 130);  // room after the longest bar for its values
  return html`
    <svg class="latency" width=${WIDTH} height=${timed.length * ROW + 20} role="img"
      aria-label=${`attempt latency of ${workflow}'s steps: ${timed.map((s) => `${s.step} p50 ${duration(s.p50_us)}, p99 ${duration(s.p99_us)}`).join("; ")}`}>
      ${timed.map((s, i) => {
        const y = 10 + i * ROW;
        return html`
          <g key=${s.step}>
            <text x="0" y=${y + 14} class="name">${s.step}</text>
            <rect class="p99" x=${LABEL} y=${y} width=${x(s.p99_us)} height=${BAR_H}><title>p99 ${duration(s.p99_us)}</title></rect>
            <rect class="p90" x=${LABEL} y=${y + BAR_H + 1} width=${x(s.p90_us)} height=${BAR_H}><title>p90 ${duration(s.p90_us)}</title></rect>
            <rect class="p50" x=${LABEL} y=${y + 2 * (BAR_H + 1)} width=${x(s.p50_us)} height=${BAR_H}><title>p50 ${duration(s.p50_us)}</title></rect>
            <text x=${LABEL + x(s.p99_us) + 6} y=${y + 14} class="value">${duration(s.p50_us)} · ${duration(s.p99_us)}</text>
          </g>`;
      })}
    </svg>
    <p class="legend"><span class="key p50"></span> p50 <span class="key p90"></span> p90 <span class="key p99"></span> p99
      (values: p50 · p99)</p>`;
}

export function StatsPage({ ctx }) {
  const tenant = ctx.me.tenant;
  const [stats, setStats] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    get(`${tenantPath(tenant)}/stats`).then((s) => setStats(s.stats)).catch((e) => setError(e.message));
  }, [tenant]);
  const workflows = new Map();
  for (const s of stats || []) {
    if (!workflows.has(s.workflow)) workflows.set(s.workflow, []);
    workflows.get(s.workflow).push(s);
  }
  return html`
    <section class="stats">
      <h1>Step statistics</h1>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${stats && stats.length === 0 && html`<p class="empty">No step of this tenant's runs has started yet.</p>`}
      ${[...workflows].map(([workflow, steps]) => html`
        <section class="workflow-stats" key=${workflow} data-workflow=${workflow}>
          <h2>${workflow}</h2>
          <div class="table-scroll"><table class="list">
            <thead><tr>
              <th scope="col">Step</th><th scope="col">Executions</th><th scope="col">Completions</th>
              <th scope="col">Failures</th><th scope="col">Abandoned</th><th scope="col">Retries</th>
              <th scope="col">Resumed from</th><th scope="col">p50</th><th scope="col">p90</th><th scope="col">p99</th>
              <th scope="col">Max</th>
            </tr></thead>
            <tbody>${steps.map((s) => html`
              <tr key=${s.step} data-step=${s.step}>
                <td>${s.step}</td><td>${s.executions}</td><td>${s.completions}</td><td>${s.failures}</td>
                <td>${s.abandoned}</td><td>${s.retries}</td><td>${s.resumes}</td>
                ${["p50_us", "p90_us", "p99_us", "max_us"].map((k) => html`<td>${s.latency_count ? duration(s[k]) : "–"}</td>`)}
              </tr>`)}
            </tbody>
          </table></div>
          <${LatencyChart} workflow=${workflow} steps=${steps} />
        </section>`)}
    </section>`;
}
