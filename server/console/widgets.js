// Small pieces every page uses.
import { html, useEffect, useState } from "./vendor/preact-htm.js";

export function StatusBadge({ status }) {
  return html`<span class=${`badge s-${status}`}>${status}</span>`;
}

export function LiveBadge({ state }) {
  const label = state === "live" ? "live" : state === "connecting" ? "connecting…" : state;
  return html`<span class=${`live ${state === "live" ? "on" : "off"}`} role="status">${label}</span>`;
}

export const time = (us) => (us ? new Date(us / 1000).toLocaleString() : "");

// One clock for every "… ago" on the page: each second while one is shown.
const clock = { listeners: new Set(), timer: null };
function useNow() {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    clock.listeners.add(setNow);
    if (clock.timer === null) {
      clock.timer = setInterval(() => { const t = Date.now(); clock.listeners.forEach((f) => f(t)); }, 1000);
    }
    return () => {
      clock.listeners.delete(setNow);
      if (!clock.listeners.size) { clearInterval(clock.timer); clock.timer = null; }
    };
  }, []);
  return now;
}

export function Ago({ us }) {
  const now = useNow();
  if (!us) return html`<span></span>`;
  const s = Math.max(0, Math.round((now - us / 1000) / 1000));
  const text = s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : s < 86400 ? `${Math.round(s / 3600)}h ago` : time(us);
  return html`<time datetime=${new Date(us / 1000).toISOString()} title=${time(us)}>${text}</time>`;
}

// A step's output or a run's input, as JSON when it is JSON.
export function pretty(text) {
  if (text === null || text === undefined || text === "") return "";
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return String(text);
  }
}

export function ErrorText({ error }) {
  if (!error) return null;
  return html`<span class="error-text">${error.code}: ${error.message}</span>`;
}
