// The dialogs that act on a run. Each is a modal <dialog> (focus stays in
// it, Escape closes it), disables its button while the request is in
// flight, and shows the server's refusal (409, 412, 403, no answer, ...) in
// place, staying open. A retry does the action at most once: a resume and a
// fork keep one request id for the dialog's life, a decision repeated is the
// decision made, and a pause or cancel of a run already stopped is refused.
import { html, useEffect, useRef, useState } from "./vendor/preact-htm.js";
import { post, requestId, runPath } from "./api.js";

// Focus returns to what opened the dialog when it closes (or to the page's
// heading, when that control is gone); Escape closes it unless its request
// is in flight.
function Modal({ title, onClose, busy = false, children }) {
  const ref = useRef(null);
  const busyRef = useRef(busy);
  busyRef.current = busy;
  useEffect(() => {
    const d = ref.current;
    const opener = document.activeElement;
    if (d && !d.open) d.showModal();
    const cancel = (e) => {
      e.preventDefault();
      if (!busyRef.current) onClose();
    };
    d.addEventListener("cancel", cancel);
    return () => {
      d.removeEventListener("cancel", cancel);
      if (d.open) d.close();
      const back = opener && opener.isConnected && !opener.disabled ? opener : document.querySelector("main h1");
      if (back) {
        if (!back.hasAttribute("tabindex") && back.tagName === "H1") back.setAttribute("tabindex", "-1");
        back.focus();
      }
    };
  }, []);
  return html`
    <dialog ref=${ref} aria-labelledby="dialog-title">
      <h2 id="dialog-title">${title}</h2>
      ${children}
    </dialog>`;
}

// Runs `send` once at a time and keeps its refusal for display.
function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = async (send) => {
    if (busy) return null;
    setBusy(true);
    setError(null);
    try {
      return await send();
    } catch (e) {
      setError(e);
      return null;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, clear: () => setError(null) };
}

// The server's refusal in words; `stale` when a 409 means the run moved on
// since the dialog was opened.
function Refusal({ error, stale = false }) {
  if (!error) return null;
  if (error.status === 0) {
    return html`<p class="error refusal" role="alert"><b>No answer:</b> the server did not answer, so this may or may
      not have been done. Look at the run before trying again (trying again with this dialog does it at most once).</p>`;
  }
  const what = {
    409: stale ? "Conflict: the run changed since you opened this dialog" : "Conflict",
    412: "Not possible yet", 403: "Not allowed", 404: "Not found", 400: "Not accepted", 401: "Signed out",
  }[error.status];
  return html`<p class="error refusal" role="alert"><b>${what || `Error ${error.status}`}:</b>${" "}${error.message}</p>`;
}

// JSON typed by a person: undefined when empty, or an error to show.
function parseData(text) {
  if (!text.trim()) return { value: undefined };
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    return { error: `Resume data is not JSON: ${e.message}` };
  }
}

export function ResumeDialog({ tenant, run, step, seq, onClose, onDone }) {
  const [id, setId] = useState(requestId);
  // The seq of the state the operator saw when opening: a run that moved on
  // since is a 409, not a resume of something unseen.
  const [seen, setSeen] = useState(seq);
  const [preview, setPreview] = useState(null);
  const [previewError, setPreviewError] = useState(null);
  const [reason, setReason] = useState("");
  const [data, setData] = useState("");
  const [dataError, setDataError] = useState("");
  const action = useAction();
  const [asked, setAsked] = useState(0);  // a failed preview may be asked for again
  useEffect(() => {
    setPreviewError(null);
    post(`${runPath(tenant, run)}/resume`, { from_step: step, reason: "preview", dry_run: true }, { "If-Match": `"${seen}"` })
      .then(setPreview)
      .catch(setPreviewError);
  }, [asked]);
  const submit = async (e) => {
    e.preventDefault();
    const parsed = parseData(data);
    if (parsed.error) { setDataError(parsed.error); return; }
    const body = { from_step: step, reason: reason.trim(), request_id: id };
    if (parsed.value !== undefined) body.data = parsed.value;
    const done = await action.run(() => post(`${runPath(tenant, run)}/resume`, body, { "If-Match": `"${seen}"` }));
    if (done) onDone(`Resumed from ${step}: epoch ${done.epoch}, ${done.reset.length} step(s) run again.`);
  };
  // The run moved on: the operator may look at it as it is now and decide
  // again, with a new preview (and a new request id: it is another request).
  const moved = seq !== seen && ((action.error && action.error.status === 409) ||
                                 (previewError && previewError.status === 409));
  const review = () => {
    setSeen(seq);
    setId(requestId());
    action.clear();
    setPreview(null);
    setAsked(asked + 1);
  };
  return html`
    <${Modal} title=${`Resume from ${step}`} onClose=${onClose} busy=${action.busy}>
      <form onSubmit=${submit} class="dialog-form">
        <div class="preview" aria-live="polite">
          ${!preview && !previewError && html`<p>Asking the server what this resume would do…</p>`}
          ${previewError && html`<${Refusal} error=${previewError} stale=${moved} />`}
          ${previewError && previewError.status !== 409 && html`
            <button type="button" class="quiet" onClick=${() => setAsked(asked + 1)}>Ask again</button>`}
          ${preview && html`
            <p>New epoch <b>${preview.epoch}</b>.</p>
            <p>Kept (their outputs stay): ${preview.kept.length ? preview.kept.join(", ") : "none"}</p>
            <p>Run again: <b>${preview.reset.join(", ")}</b></p>`}
        </div>
        <label for="resume-reason">Reason (recorded with your name)</label>
        <textarea id="resume-reason" required rows="2" value=${reason} onInput=${(e) => setReason(e.target.value)}></textarea>
        <label for="resume-data">Resume data (JSON, optional)</label>
        <textarea id="resume-data" rows="3" class="mono" value=${data} spellcheck="false"
          aria-invalid=${dataError ? "true" : "false"} aria-describedby="resume-data-error"
          onInput=${(e) => { setData(e.target.value); setDataError(""); }}></textarea>
        <p id="resume-data-error" class="error" role=${dataError ? "alert" : undefined}>${dataError}</p>
        <${Refusal} error=${action.error} stale=${moved} />
        ${moved && html`<button type="button" class="quiet" onClick=${review}>See what a resume would do now (seq ${seq})</button>`}
        ${!reason.trim() && html`<p class="hint">A reason is required.</p>`}
        <div class="buttons">
          <button type="button" class="quiet" disabled=${action.busy} onClick=${onClose}>Close</button>
          <button type="submit" disabled=${action.busy || !reason.trim() || !!previewError || moved}>
            ${action.busy ? "Resuming…" : "Resume"}
          </button>
        </div>
      </form>
    <//>`;
}

export function DecisionDialog({ tenant, run, step, onClose, onDone }) {
  const [note, setNote] = useState("");
  const action = useAction();
  const decide = (decision) => async () => {
    const body = { decision };
    if (note.trim()) body.note = note.trim();
    const done = await action.run(() => post(`${runPath(tenant, run)}/approvals/${encodeURIComponent(step)}`, body));
    if (done) onDone(`${decision === "approve" ? "Approved" : "Rejected"} ${step}.`);
  };
  return html`
    <${Modal} title=${`Decide the gate ${step}`} onClose=${onClose} busy=${action.busy}>
      <form class="dialog-form" onSubmit=${(e) => e.preventDefault()}>
        <label for="decision-note">Note (recorded with your name; required to reject)</label>
        <textarea id="decision-note" rows="2" value=${note} onInput=${(e) => setNote(e.target.value)}></textarea>
        ${!note.trim() && html`<p class="hint">Approve as it is, or write why to reject.</p>`}
        <${Refusal} error=${action.error} />
        <div class="buttons">
          <button type="button" class="quiet" disabled=${action.busy} onClick=${onClose}>Close</button>
          <button type="button" class="danger" disabled=${action.busy || !note.trim()} onClick=${decide("reject")}
            title=${note.trim() ? "" : "a rejection needs a note saying why"}>Reject</button>
          <button type="button" disabled=${action.busy} onClick=${decide("approve")}>Approve</button>
        </div>
      </form>
    <//>`;
}

// Pause or cancel: a reason, then the action.
export function StopDialog({ tenant, run, verb, onClose, onDone }) {
  const [reason, setReason] = useState("");
  const action = useAction();
  const submit = async (e) => {
    e.preventDefault();
    const body = reason.trim() ? { reason: reason.trim() } : {};
    const done = await action.run(() => post(`${runPath(tenant, run)}/${verb}`, body));
    if (done) onDone(verb === "pause" ? "Paused: it waits to be resumed." : "Cancelled.");
  };
  const label = verb === "pause" ? "Pause" : "Cancel the run";
  return html`
    <${Modal} title=${verb === "pause" ? "Pause the run" : "Cancel the run"} onClose=${onClose} busy=${action.busy}>
      <form class="dialog-form" onSubmit=${submit}>
        <label for="stop-reason">Reason (recorded with your name${verb === "pause" ? ", optional" : ""})</label>
        <textarea id="stop-reason" rows="2" required=${verb === "cancel"} value=${reason}
          onInput=${(e) => setReason(e.target.value)}></textarea>
        <${Refusal} error=${action.error} />
        ${verb === "cancel" && !reason.trim() && html`<p class="hint">A reason is required.</p>`}
        <div class="buttons">
          <button type="button" class="quiet" disabled=${action.busy} onClick=${onClose}>Close</button>
          <button type="submit" class=${verb === "cancel" ? "danger" : ""}
            disabled=${action.busy || (verb === "cancel" && !reason.trim())}>${action.busy ? "Sending…" : label}</button>
        </div>
      </form>
    <//>`;
}

export function ForkDialog({ tenant, run, step, onClose, onDone }) {
  const [id] = useState(requestId);
  const action = useAction();
  const submit = async (e) => {
    e.preventDefault();
    const done = await action.run(() => post(`${runPath(tenant, run)}/fork`, { from_step: step, request_id: id }));
    if (done) onDone(`Forked from run ${run} at step ${step}.`, done.run_id);
  };
  return html`
    <${Modal} title=${`Fork from ${step}`} onClose=${onClose} busy=${action.busy}>
      <form class="dialog-form" onSubmit=${submit}>
        <p>A new run starts with this run's state: the steps before ${step} keep their outputs, ${step} and
          what follows run again. This run is left as it is.</p>
        <${Refusal} error=${action.error} />
        <div class="buttons">
          <button type="button" class="quiet" disabled=${action.busy} onClick=${onClose}>Close</button>
          <button type="submit" disabled=${action.busy}>${action.busy ? "Forking…" : "Fork"}</button>
        </div>
      </form>
    <//>`;
}
