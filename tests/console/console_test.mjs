// The Run Console in a real browser (Debian's chromium), against `rewind
// serve` on loopback: the flows operators asked for, end to end. Each test
// leaves a screenshot of the page it ends on in the artifacts folder, and
// fails on any error in the browser's console.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Server, browser, button, checkEachPage, openPage, repo, signIn, signedIn, until } from "./harness.mjs";

const ORDER = path.join(repo, "examples/order.json");
const SLOW = path.join(repo, "tests/console/slow.json");
const GATE = path.join(repo, "tests/console/gate.json");

describe("Run Console", () => {
  let server, chrome, page, operator, viewer, stranger;
  before(async () => {
    server = await Server.start({ workflows: [ORDER, SLOW, GATE] });
    chrome = await browser();
    operator = server.token("ana", "acme", ["operator"]);
    viewer = server.token("vic", "acme", ["viewer"]);
    stranger = server.token("gus", "globex", ["operator"]);
  });
  after(async () => {
    await chrome?.close();
    await server?.stop();
  });
  checkEachPage(() => page, () => { page = null; });

  it("resumes a failed run from the step the operator picks, and shows it going on without a reload", async () => {
    const run = await server.start(operator, "acme", "order", { qty: 30 });
    await server.waitFor(operator, "acme", run, "failed");
    page = await openPage(chrome, server);
    await signIn(page, operator);
    assert.match(await page.$eval("header.top", (h) => h.textContent), /ana.*acme.*operator/s);
    await until(page, (id) => document.querySelector(`tr[data-run="${id}"]`)?.textContent.includes("failed"), run);
    await page.click(`tr[data-run="${run}"] a`);
    await page.waitForSelector('g.node[data-step="validate"]');
    await page.click('g.node[data-step="validate"]');
    await (await button(page, "Resume from validate")).click();
    await page.waitForSelector("dialog[open]");
    await until(page, () => document.querySelector("dialog .preview")?.textContent.includes("Run again"));
    const preview = await page.$eval("dialog .preview", (p) => p.textContent);
    assert.match(preview, /New epoch 1/);
    assert.match(preview, /validate, reserve, charge, approve, ship/);
    const confirm = await page.$("dialog button[type=submit]");
    assert.equal(await confirm.evaluate((b) => b.disabled), true, "no resume without a reason");
    await page.type("#resume-data", "{ not json");
    await page.type("#resume-reason", "customer lowered the quantity");
    await confirm.click();
    await until(page, () => document.querySelector("#resume-data-error")?.textContent.includes("not JSON"));
    await page.$eval("#resume-data", (t) => { t.value = ""; });
    await page.type("#resume-data", '{"qty": 3}');
    await page.$eval("#resume-data", (t) => t.dispatchEvent(new Event("input", { bubbles: true })));
    await page.click("dialog button[type=submit]");
    await page.waitForSelector("dialog[open]", { hidden: true });
    await until(page, () => document.querySelector(".notice")?.textContent.includes("epoch 1"));
    // Live: the run goes on (charge fails once and is retried) to its gate.
    await until(page, () => document.querySelector(".bar .badge")?.textContent === "paused");
    await until(page, () => document.querySelector('g.node[data-step="charge"]')?.classList.contains("s-completed"));
    const timeline = await page.$eval(".timeline", (t) => t.textContent);
    assert.match(timeline, /ResumeRequested/);
    assert.match(timeline, /ana@acme/);
    const audit = await server.api("GET", `/v1/tenants/acme/audit?run=${run}`, operator);
    assert.equal(audit.body.entries[0].action, "resume");
    assert.equal(audit.body.entries[0].detail.includes("customer lowered the quantity"), true);
    // The audit page shows who resumed, and why.
    await page.goto(`${server.url}/#/audit`);
    await until(page, () => document.querySelector(".audit table")?.textContent.includes("customer lowered the quantity"));
    assert.match(await page.$eval(".audit table", (t) => t.textContent), /ana@acme.*resume/s);
    // The statistics count the attempts, and chart their latency.
    await page.goto(`${server.url}/#/stats`);
    await until(page, () => document.querySelector('[data-workflow="order"] tr[data-step="validate"]'));
    const validate = await page.$eval('[data-workflow="order"] tr[data-step="validate"]',
      (r) => [...r.cells].map((c) => c.textContent));
    assert.deepEqual(validate.slice(0, 4), ["validate", "2", "1", "1"], "two executions, one completed, one failed");
    assert.ok(await page.$('[data-workflow="order"] svg.latency rect.p99'), "a latency chart");
  });

  it("approves a run waiting at its gate, which then completes", async () => {
    const run = await server.start(operator, "acme", "order", { qty: 2 });
    await server.waitFor(operator, "acme", run, "paused");
    page = await signedIn(chrome, server, operator, `#/runs/${run}`);
    await (await button(page, "Approve or reject approve")).click();
    await page.waitForSelector("dialog[open] #decision-note");
    await page.type("#decision-note", "stock checked");
    await (await button(page, "Approve", "dialog[open]")).click();
    await page.waitForSelector("dialog[open]", { hidden: true });
    await until(page, () => document.querySelector(".bar .badge")?.textContent === "completed");
    await until(page, () => document.querySelector('g.node[data-step="ship"]')?.classList.contains("s-completed"));
  });

  it("shows a viewer no action, and another tenant none of the runs", async () => {
    const run = await server.start(operator, "acme", "order", { qty: 30 });
    await server.waitFor(operator, "acme", run, "failed");
    page = await signedIn(chrome, server, viewer, `#/runs/${run}`);
    await page.waitForSelector('g.node[data-step="validate"]');
    assert.equal(await page.$(".actions"), null, "no action controls for a viewer");
    assert.equal(await page.$eval("body", (b) => b.textContent.includes("Resume from")), false);
    assert.deepEqual(page.problems, []);
    await page.close();

    page = await openPage(chrome, server);
    page.allowed.add(404);
    await signIn(page, stranger);
    await until(page, () => document.querySelector(".empty")?.textContent.includes("No runs"));
    assert.equal(await page.$(`tr[data-run="${run}"]`), null);
    await page.goto(`${server.url}/#/runs/${run}`);
    await until(page, () => document.querySelector(".error")?.textContent.includes("No run"));
  });

  it("pauses a running run and cancels it, each with a reason", async () => {
    const run = await server.start(operator, "acme", "slow", {});
    page = await signedIn(chrome, server, operator, `#/runs/${run}`);
    await until(page, () => document.querySelector(".bar .badge")?.textContent === "running");
    await (await button(page, "Pause")).click();
    await page.waitForSelector("dialog[open] #stop-reason");
    await page.type("#stop-reason", "checking the supplier");
    await (await button(page, "Pause", "dialog[open]")).click();
    await page.waitForSelector("dialog[open]", { hidden: true });
    await until(page, () => document.querySelector(".bar .badge")?.textContent === "paused");
    await (await button(page, "Cancel")).click();
    const cancel = await page.waitForSelector("dialog[open] button[type=submit]");
    assert.equal(await cancel.evaluate((b) => b.disabled), true, "no cancel without a reason");
    await page.type("#stop-reason", "supplier gone");
    await cancel.click();
    await until(page, () => document.querySelector(".bar .badge")?.textContent === "cancelled");
    const timeline = await page.$eval(".timeline", (t) => t.textContent);
    assert.match(timeline, /checking the supplier/);
    assert.match(timeline, /supplier gone/);
  });

  it("resumes from a step with the keyboard alone", async () => {
    const run = await server.start(operator, "acme", "order", { qty: 30 });
    await server.waitFor(operator, "acme", run, "failed");
    page = await signedIn(chrome, server, operator, `#/runs/${run}`);
    await page.waitForSelector('g.node[data-step="validate"]');
    const focusOn = async (test, what) => {
      for (let i = 0; i < 80; ++i) {
        await page.keyboard.press("Tab");
        if (await page.evaluate(test)) return;
      }
      assert.fail(`Tab never reached ${what}`);
    };
    await focusOn(() => document.activeElement?.dataset?.step === "validate", "the step in the graph");
    await page.keyboard.press("Enter");
    await focusOn(() => document.activeElement?.textContent.startsWith("Resume from validate"), "the resume button");
    await page.keyboard.press("Enter");
    await page.waitForSelector("dialog[open]");
    await until(page, () => document.querySelector("dialog .preview")?.textContent.includes("Run again"));
    await focusOn(() => document.activeElement?.id === "resume-reason", "the reason");
    await page.keyboard.type("typed with the keyboard");
    await focusOn(() => document.activeElement?.id === "resume-data", "the resume data");
    await page.keyboard.type('{"qty": 4}');
    await focusOn(() => document.activeElement?.type === "submit", "the resume button of the dialog");
    await page.keyboard.press("Enter");
    await page.waitForSelector("dialog[open]", { hidden: true });
    await until(page, () => document.querySelector(".bar .badge")?.textContent === "paused");
    // Escape closes a dialog and leaves the run as it was.
    await focusOn(() => document.activeElement?.textContent.startsWith("Cancel"), "the cancel button");
    await page.keyboard.press("Enter");
    await page.waitForSelector("dialog[open]");
    await page.keyboard.press("Escape");
    await page.waitForSelector("dialog[open]", { hidden: true });
    assert.equal((await server.api("GET", `/v1/tenants/acme/runs/${run}`, operator)).body.status, "paused");
  });

  it("refuses a resume of a state the operator did not see (409), then resumes the state as it is now", async () => {
    const run = await server.start(operator, "acme", "gate", {});
    await server.waitFor(operator, "acme", run, "paused");
    page = await signedIn(chrome, server, operator, `#/runs/${run}`, [409]);
    await (await page.waitForSelector('g.node[data-step="approve"]')).click();
    await (await button(page, "Resume from approve")).click();
    await page.waitForSelector("dialog[open] #resume-reason");
    // Someone else approves it meanwhile: it completes, a state the dialog
    // never showed (a completed run may be resumed too; If-Match refuses it).
    const other = await server.api("POST", `/v1/tenants/acme/runs/${run}/approvals/approve`, operator, { decision: "approve" });
    assert.equal(other.status, 200);
    await until(page, () => document.querySelector(".bar .badge")?.textContent === "completed");
    await page.type("#resume-reason", "me too");
    await page.click("dialog[open] button[type=submit]");
    await until(page, () => document.querySelector("dialog[open] .refusal")?.textContent.includes("Conflict"));
    assert.ok(await page.$("dialog[open]"), "the dialog stays open");
    const timeline = await server.api("GET", `/v1/tenants/acme/runs/${run}/timeline`, operator);
    assert.equal(timeline.body.entries.filter((e) => e.type === "ResumeRequested").length, 0, "nothing appended");
    assert.match(await page.$eval("dialog[open] .refusal", (p) => p.textContent), /changed since you opened/);
    assert.equal(await page.$eval("dialog[open] button[type=submit]", (b) => b.disabled), true,
      "no resume of the state it did not show");
    // The operator looks at the run as it is now, and resumes that.
    await (await button(page, "See what a resume would do now", "dialog[open]")).click();
    await until(page, () => document.querySelector("dialog .preview")?.textContent.includes("Run again: approve") &&
      !document.querySelector("dialog[open] .refusal"));
    await page.click("dialog[open] button[type=submit]");
    await page.waitForSelector("dialog[open]", { hidden: true });
    await until(page, () => document.querySelector(".notice")?.textContent.includes("epoch 1"));
    assert.equal(await page.evaluate(() => document.activeElement?.classList.contains("notice")), true,
      "the notice has the focus");
    // Closed with Escape, a dialog gives the focus back to what opened it.
    await (await button(page, "Cancel")).click();
    await page.waitForSelector("dialog[open] #stop-reason");
    await page.keyboard.press("Escape");
    await page.waitForSelector("dialog[open]", { hidden: true });
    assert.match(await page.evaluate(() => document.activeElement?.textContent ?? ""), /Cancel/);
  });

  it("rejects at a gate with a note: the run fails there, and the note is in the timeline", async () => {
    const run = await server.start(operator, "acme", "gate", {});
    await server.waitFor(operator, "acme", run, "paused");
    page = await signedIn(chrome, server, operator, `#/runs/${run}`);
    await (await button(page, "Approve or reject approve")).click();
    await page.waitForSelector("dialog[open] #decision-note");
    assert.equal(await page.$eval("dialog[open] button.danger", (b) => b.disabled), true, "no rejection without a note");
    await page.type("#decision-note", "not this quarter");
    await (await button(page, "Reject", "dialog[open]")).click();
    await page.waitForSelector("dialog[open]", { hidden: true });
    await until(page, () => document.querySelector(".bar .badge")?.textContent === "failed");
    await until(page, () => document.querySelector('tr[data-step="approve"]')?.textContent.includes("rejected"));
    assert.match(await page.$eval(".timeline", (t) => t.textContent), /not this quarter.*ana@acme/s);
  });

  it("appends a resume once however often its button is clicked", async () => {
    const run = await server.start(operator, "acme", "order", { qty: 30 });
    await server.waitFor(operator, "acme", run, "failed");
    page = await signedIn(chrome, server, operator, `#/runs/${run}`);
    await (await page.waitForSelector('g.node[data-step="validate"]')).click();
    await (await button(page, "Resume from validate")).click();
    await until(page, () => document.querySelector("dialog .preview")?.textContent.includes("Run again"));
    await page.type("#resume-reason", "clicked in a hurry");
    // Three clicks within one task: the page has no time to disable the
    // button, so each may send; the dialog's one request id makes them one.
    await page.$eval("dialog[open] button[type=submit]", (b) => { b.click(); b.click(); b.click(); });
    await page.waitForSelector("dialog[open]", { hidden: true });
    await until(page, () => document.querySelector(".notice")?.textContent.includes("epoch 1"));
    const timeline = await server.api("GET", `/v1/tenants/acme/runs/${run}/timeline`, operator);
    assert.equal(timeline.body.entries.filter((e) => e.type === "ResumeRequested").length, 1);
    assert.equal((await server.api("GET", `/v1/tenants/acme/runs/${run}`, operator)).body.epoch, 1);
  });

  it("shows a refusal for want of a role in the dialog (403), which stays open with what was typed", async () => {
    const run = await server.start(operator, "acme", "order", { qty: 30 });
    await server.waitFor(operator, "acme", run, "failed");
    page = await signedIn(chrome, server, operator, `#/runs/${run}`, [403]);
    await (await page.waitForSelector('g.node[data-step="validate"]')).click();
    await (await button(page, "Resume from validate")).click();
    await until(page, () => document.querySelector("dialog .preview")?.textContent.includes("Run again"));
    // Ana's operator role is taken away while the page is open: the tab's
    // token is now one that only reads.
    await page.evaluate((t) => sessionStorage.setItem("rewind.token", t), server.token("ana", "acme", ["viewer"]));
    await page.type("#resume-reason", "before the role went");
    await page.click("dialog[open] button[type=submit]");
    await until(page, () => document.querySelector("dialog[open] .refusal")?.textContent.includes("Not allowed"));
    assert.match(await page.$eval("dialog[open] .refusal", (p) => p.textContent), /operator role/);
    assert.equal(await page.$eval("#resume-reason", (t) => t.value), "before the role went");
    assert.equal(await page.$eval("dialog[open] button[type=submit]", (b) => b.disabled), false, "it may be tried again");
    assert.equal((await server.api("GET", `/v1/tenants/acme/runs/${run}`, operator)).body.epoch, 0);
  });

  it("shows a decision that is no longer possible (412) in the dialog, which stays open", async () => {
    const run = await server.start(operator, "acme", "gate", {});
    await server.waitFor(operator, "acme", run, "paused");
    page = await signedIn(chrome, server, operator, `#/runs/${run}`, [412]);
    await (await button(page, "Approve or reject approve")).click();
    await page.waitForSelector("dialog[open] #decision-note");
    const cancel = await server.api("POST", `/v1/tenants/acme/runs/${run}/cancel`, operator, { reason: "withdrawn" });
    assert.equal(cancel.status, 200);
    await page.type("#decision-note", "late");
    await (await button(page, "Approve", "dialog[open]")).click();
    await until(page, () => document.querySelector("dialog[open] .refusal")?.textContent.includes("Not possible yet"));
    assert.match(await page.$eval("dialog[open] .refusal", (p) => p.textContent), /not waiting for approval/);
    await until(page, () => document.querySelector(".bar .badge")?.textContent === "cancelled");
  });

  it("keeps an open dialog and what was typed when a refresh fails, and says so", async () => {
    const run = await server.start(operator, "acme", "gate", {});
    await server.waitFor(operator, "acme", run, "paused");
    page = await signedIn(chrome, server, operator, `#/runs/${run}`, [503]);
    await (await page.waitForSelector('g.node[data-step="approve"]')).click();
    await (await button(page, "Resume from approve")).click();
    await page.waitForSelector("dialog[open] #resume-reason");
    await page.type("#resume-reason", "half typed");
    // The server's answers to the page's reads fail from now on; the
    // stream stays up and brings the next event.
    await page.setRequestInterception(true);
    page.on("request", (r) => {
      if (r.isInterceptResolutionHandled()) return;
      const reading = r.method() === "GET" && !r.url().endsWith("/stream") && r.url().includes("/runs/");
      if (reading) r.respond({ status: 503, contentType: "application/problem+json", body: '{"detail":"the server is busy"}' });
      else r.continue();
    });
    const other = await server.api("POST", `/v1/tenants/acme/runs/${run}/signals/nudge`, operator, {});
    assert.equal(other.status, 200, JSON.stringify(other.body));
    await until(page, () => document.querySelector(".error")?.textContent.includes("Could not refresh: the server is busy"));
    assert.ok(await page.$("dialog[open]"), "the dialog is still open");
    assert.equal(await page.$eval("#resume-reason", (t) => t.value), "half typed");
  });

  it("forks a run from a step and opens the new run", async () => {
    const run = await server.start(operator, "acme", "order", { qty: 2 });
    await server.waitFor(operator, "acme", run, "paused");
    page = await signedIn(chrome, server, operator, `#/runs/${run}`);
    await (await page.waitForSelector('g.node[data-step="charge"]')).click();
    await (await button(page, "Fork from charge")).click();
    await (await button(page, "Fork", "dialog[open]")).click();
    await until(page, (parent) => location.hash.startsWith("#/runs/") && !location.hash.endsWith(parent), run);
    await until(page, (parent) => document.querySelector(".facts")?.textContent.includes(`forked from ${parent}`), run);
    assert.match(await page.$eval(".notice", (n) => n.textContent), new RegExp(`Forked from run ${run} at step charge`));
    await until(page, () => document.querySelector(".bar .badge")?.textContent === "paused");
  });

  it("lists refused attempts in the audit, filtered by actor", async () => {
    const run = await server.start(operator, "acme", "order", { qty: 30 });
    await server.waitFor(operator, "acme", run, "failed");
    const refused = await server.api("POST", `/v1/tenants/acme/runs/${run}/resume`, viewer, { reason: "trying" });
    assert.equal(refused.status, 403);
    page = await signedIn(chrome, server, operator, `#/audit`);
    await until(page, (id) => [...document.querySelectorAll(".audit table")].some((t) => t.textContent.includes(id)), run);
    await page.type('input[placeholder^="subject"]', "vic@acme");
    await (await button(page, "Filter")).click();
    await until(page, () => document.querySelector(".audit")?.textContent.includes("No actions recorded for this filter"));
    const refusals = await page.$$eval(".audit table.refusals tbody tr", (rows) => rows.map((r) => r.textContent));
    assert.equal(refusals.length, 1);
    assert.match(refusals[0], /vic@acme.*resume/);
    assert.match(refusals[0], new RegExp(run));
  });

  it("ends a session whose token expires, back at sign-in where it was, saying why", async () => {
    const run = await server.start(operator, "acme", "gate", {});
    await server.waitFor(operator, "acme", run, "paused");
    const short = server.token("ana", "acme", ["operator"], 1);
    page = await signedIn(chrome, server, short, `#/runs/${run}`, [401]);
    await page.waitForSelector('g.node[data-step="approve"]');
    // The server allows some clock skew: the token is refused a little after it expires.
    await until(page, () => document.querySelector(".sign-in .error")?.textContent.includes("Your session ended"),
      { timeout: 90000 });
    await page.type("#token", operator);
    await page.click("button[type=submit]");
    await until(page, (id) => location.hash === `#/runs/${id}` && document.querySelector('g.node[data-step="approve"]'), run);
  });

  it("says so when an address names no page, or a filter or page the server does not know", async () => {
    page = await signedIn(chrome, server, operator, "#/nonsense/page", [400]);
    await until(page, () => document.querySelector("main h1")?.textContent === "No such page");
    await page.goto(`${server.url}/#/runs?status=bogus`);
    await until(page, () => document.querySelector(".error")?.textContent.includes("no run status"));
    assert.equal(await page.$("tr[data-run]"), null, "no rows of another query under the error");
    await (await page.waitForSelector(".error a")).click();
    await until(page, () => location.hash === "#/runs" && document.querySelector("tr[data-run]"));
    await page.goto(`${server.url}/#/runs?page=zz`);
    await until(page, () => document.querySelector(".error")?.textContent.includes("page token"));
    assert.equal(await page.$("tr[data-run]"), null);
  });

  it("refuses a token the server does not accept, in words", async () => {
    page = await openPage(chrome, server);
    page.allowed.add(401);
    await page.type("#token", "not-a-token");
    await page.click("button[type=submit]");
    await until(page, () => document.querySelector(".error")?.textContent.includes("refused"));
  });
});
