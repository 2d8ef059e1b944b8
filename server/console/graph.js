// A run's workflow drawn as its graph: a column per depth (the longest
// chain of dependencies before a step), an arrow per dependency, each step
// coloured by its status. A step is a button: choosing it selects it.
import { html } from "./vendor/preact-htm.js";

const W = 150, H = 44, GAP_X = 60, GAP_Y = 18, PAD = 12;

export function layout(steps) {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const depth = new Map();
  const depthOf = (s, seen = new Set()) => {
    if (depth.has(s.id)) return depth.get(s.id);
    if (seen.has(s.id)) return 0;  // a definition has no cycles; never loop on a bad one
    seen.add(s.id);
    let d = 0;
    for (const dep of s.depends_on || []) {
      const parent = byId.get(dep);
      if (parent) d = Math.max(d, depthOf(parent, seen) + 1);
    }
    depth.set(s.id, d);
    return d;
  };
  const columns = [];
  for (const s of steps) {
    const d = depthOf(s);
    (columns[d] = columns[d] || []).push(s);
  }
  const pos = new Map();
  columns.forEach((col, x) => col.forEach((s, y) => pos.set(s.id, { x: PAD + x * (W + GAP_X), y: PAD + y * (H + GAP_Y) })));
  const width = PAD * 2 + columns.length * W + Math.max(0, columns.length - 1) * GAP_X;
  const height = PAD * 2 + Math.max(...columns.map((c) => c.length), 1) * (H + GAP_Y) - GAP_Y;
  return { pos, width, height };
}

export function Graph({ steps, selected, onSelect, changed = new Set() }) {
  const { pos, width, height } = layout(steps);
  const edges = [];
  for (const s of steps) {
    for (const dep of s.depends_on || []) {
      const a = pos.get(dep), b = pos.get(s.id);
      if (!a || !b) continue;
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
      edges.push(html`<path class="edge" d=${`M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 6},${y2}`} marker-end="url(#arrow)" />`);
    }
  }
  const key = (s) => (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onSelect(s.id); }
  };
  return html`
    <svg class="graph" width=${width} height=${height} viewBox=${`0 0 ${width} ${height}`} role="group"
      aria-label="the workflow's steps and their dependencies">
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M0,0 L10,5 L0,10 z" class="arrowhead" />
        </marker>
      </defs>
      ${edges}
      ${steps.map((s) => {
        const p = pos.get(s.id);
        const cls = `node s-${s.status}${selected === s.id ? " selected" : ""}${changed.has(s.id) ? " changed" : ""}`;
        return html`
          <g class=${cls} transform=${`translate(${p.x},${p.y})`} tabindex="0" role="button" data-step=${s.id}
            aria-pressed=${selected === s.id ? "true" : "false"}
            aria-label=${`step ${s.id}, ${s.kind}, ${s.status}, attempt ${s.attempts}${changed.has(s.id) ? ", changed by this event" : ""}`}
            onClick=${() => onSelect(s.id)} onKeyDown=${key(s)}>
            <title>${s.id}</title>
            <rect width=${W} height=${H} rx="6" />
            <text x="10" y="18" class="name">${s.id.length > 18 ? s.id.slice(0, 17) + "…" : s.id}</text>
            <text x="10" y="34" class="sub">${s.status}${s.attempts > 1 ? ` · ${s.attempts} attempts` : ""}</text>
          </g>`;
      })}
    </svg>`;
}
