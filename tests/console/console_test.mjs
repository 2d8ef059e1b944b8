// The Run Console in a real browser (Debian's chromium), against `rewind
// serve` on loopback: the flows operators asked for, end to end. Each test
// leaves a screenshot of the page it ends on in the artifacts folder, and
// fails on any error in the browser's console.
import assert from "node:assert/strict";
import path from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { Server, browser, button, openPage, repo, screenshot, signIn, until } from "./harness.mjs";

const ORDER = path.join(repo, "examples/order.json");

describe("Run Console", () => {
  let server, chrome, page, operator, viewer, stranger;
  before(async () => {
    server = await Server.start({ workflows: [ORDER] });
    chrome = await browser();
    operator = server.token("ana", "acme", ["operator"]);
    viewer = server.token("vic", "acme", ["viewer"]);
    stranger = server.token("gus", "globex", ["operator"]);
  });
  after(async () => {
    await chrome?.close();
    await server?.stop();
  });
  afterEach(async (t) => {
    if (!page) return;
    await screenshot(page, t.name.replace(/[^a-z0-9]+/gi, "-"));
    const problems = page.problems;
    await page.close();
    page = null;
    assert.deepEqual(problems, [], "no errors in the browser's console");
  });

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
  });

  it("approves a run waiting at its gate, which then completes", async () => {
    const run = await server.start(operator, "acme", "order", { qty: 2 });
    await server.waitFor(operator, "acme", run, "paused");
    page = await openPage(chrome, server);
    await signIn(page, operator);
    await page.goto(`${server.url}/#/runs/${run}`);
    await (await button(page, "Approve or reject approve")).click();
    await page.waitForSelector("dialog[open]");
    await page.type("#decision-note", "stock checked");
    await (await button(page, "Approve", "dialog[open]")).click();
    await page.waitForSelector("dialog[open]", { hidden: true });
    await until(page, () => document.querySelector(".bar .badge")?.textContent === "completed");
    await until(page, () => document.querySelector('g.node[data-step="ship"]')?.classList.contains("s-completed"));
  });

  it("shows a viewer no action, and another tenant none of the runs", async () => {
    const run = await server.start(operator, "acme", "order", { qty: 30 });
    await server.waitFor(operator, "acme", run, "failed");
    page = await openPage(chrome, server);
    await signIn(page, viewer);
    await page.goto(`${server.url}/#/runs/${run}`);
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

  it("refuses a token the server does not accept, in words", async () => {
    page = await openPage(chrome, server);
    page.allowed.add(401);
    await page.type("#token", "not-a-token");
    await page.click("button[type=submit]");
    await until(page, () => document.querySelector(".error")?.textContent.includes("refused"));
  });
});
