// The Run Console's views in a real browser: the runs list live, filtered,
// searched and paged (with its state in the URL), time travel over a run,
// and the runs page of a journal with 10,000 runs. The actions are in
// console_test.mjs.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Server, browser, button, checkEachPage, repo, signedIn, until } from "./harness.mjs";

const ORDER = path.join(repo, "examples/order.json");
const GATE = path.join(repo, "tests/console/gate.json");

const rows = (page) => page.$$eval("tr[data-run]", (trs) => trs.map((r) => r.dataset.run));

describe("Run Console views", () => {
  let server, chrome, page, operator;
  before(async () => {
    server = await Server.start({ workflows: [ORDER, GATE] });
    chrome = await browser();
    operator = server.token("ana", "acme", ["operator"]);
  });
  after(async () => {
    await chrome?.close();
    await server?.stop();
  });
  checkEachPage(() => page, () => { page = null; });

  it("shows a run started elsewhere, and its changes, without a reload", async () => {
    page = await signedIn(chrome, server, operator, "#/runs");
    await until(page, () => document.querySelector(".live")?.textContent === "live");
    await page.evaluate(() => { window.notReloaded = true; });
    const run = await server.start(operator, "acme", "order", { qty: 2 });
    await until(page, (id) => document.querySelector(`tr[data-run="${id}"]`), run);
    await until(page, (id) => document.querySelector(`tr[data-run="${id}"] .badge`)?.textContent === "paused", run);
    assert.equal(await page.evaluate(() => window.notReloaded), true, "the page was not reloaded");
    const cells = await page.$eval(`tr[data-run="${run}"]`, (r) => [...r.cells].map((c) => c.textContent));
    assert.equal(cells[3], "3 / 5", "three steps done, the gate waiting");
    assert.equal(cells[5], "approve");
    // "… ago" goes on counting.
    const ago = () => page.$eval(`tr[data-run="${run}"] time`, (t) => t.textContent);
    const first = await ago();
    await until(page, (id, was) => document.querySelector(`tr[data-run="${id}"] time`).textContent !== was, run, first);
  });

  it("filters by status and workflow, keeps the filters in the URL, and finds a run by its id", async () => {
    const failed = await server.start(operator, "acme", "order", { qty: 30 });
    const gated = await server.start(operator, "acme", "gate", {});
    await server.waitFor(operator, "acme", failed, "failed");
    await server.waitFor(operator, "acme", gated, "paused");
    page = await signedIn(chrome, server, operator, "#/runs", [404]);
    await until(page, (id) => document.querySelector(`tr[data-run="${id}"]`), failed);
    await page.select('select[name="status"]', "failed");
    await until(page, () => location.hash === "#/runs?status=failed");
    await until(page, () => [...document.querySelectorAll("tr[data-run] .badge")].every((b) => b.textContent === "failed"));
    assert.ok((await rows(page)).includes(failed));
    assert.ok(!(await rows(page)).includes(gated));
    // A reload keeps the filter; a second filter narrows it.
    await page.reload();
    await until(page, () => document.querySelector('select[name="status"]')?.value === "failed");
    await page.select('select[name="workflow"]', "gate");
    await until(page, () => location.hash === "#/runs?status=failed&workflow=gate");
    await until(page, () => document.querySelector(".empty")?.textContent.includes("match these filters"));
    await page.goto(`${server.url}/#/runs?workflow=gate`);
    await until(page, (id) => document.querySelector(`tr[data-run="${id}"]`), gated);
    assert.deepEqual([...new Set(await page.$$eval("tr[data-run] td:nth-child(2)", (c) => c.map((x) => x.textContent)))],
      ["gate v1"]);
    // Search: a malformed id is explained, an unknown one too, a known one opens.
    const search = async (text) => {
      await page.$eval('input[name="run"]', (i) => { i.value = ""; });
      await page.type('input[name="run"]', text);
      await (await button(page, "Open")).click();
    };
    await search("not-an-id");
    await until(page, () => document.querySelector(".error")?.textContent.includes("32 hexadecimal digits"));
    await search("0".repeat(32));
    await until(page, () => document.querySelector(".error")?.textContent.includes("No run 000"));
    await search(failed.toUpperCase());
    await until(page, (id) => location.hash === `#/runs/${id}`, failed);
    await until(page, () => document.querySelector(".bar .badge")?.textContent === "failed");
  });

  it("travels to any point of a run: the slider, right after a step, and back to now", async () => {
    const run = await server.start(operator, "acme", "order", { qty: 2 });
    const now = await server.waitFor(operator, "acme", run, "paused");
    page = await signedIn(chrome, server, operator, `#/runs/${run}`);
    await page.waitForSelector('g.node[data-step="charge"].s-completed');
    // Right after validate: it has completed, nothing after it has started.
    await page.select("#after-step", "validate");
    await until(page, () => document.querySelector(".travel-facts")?.textContent.includes("Changed by this event: validate"));
    assert.equal(await page.$eval(".travel h2", (h) => h.textContent), "Time travel");
    const status = (step) => page.$eval(`tr[data-step="${step}"] .badge`, (b) => b.textContent);
    assert.equal(await status("validate"), "completed");
    assert.equal(await status("reserve"), "pending");
    assert.match(await page.$eval('g.node[data-step="validate"]', (g) => g.getAttribute("aria-label")), /changed by this event/);
    const at = Number(await page.$eval(".travel-facts", (p) => p.textContent.match(/At seq (\d+)/)[1]));
    const future = await page.$$eval(".timeline li.future .seq", (s) => s.map((x) => Number(x.textContent.slice(1))));
    assert.ok(future.length > 0 && future.every((seq) => seq > at), "the entries after the point are marked");
    // The slider, to the run's first event: every step pending.
    await page.$eval("#seq-slider", (s) => {
      s.value = "1";
      s.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await until(page, () => document.querySelector(".travel-facts")?.textContent.startsWith("At seq 1:"));
    assert.deepEqual(await page.$$eval("table.steps .badge", (b) => [...new Set(b.map((x) => x.textContent))]), ["pending"]);
    assert.equal(await page.$eval("output[for=seq-slider]", (o) => o.textContent), `#1 of ${now.seq}`);
    // Back to now: the run as it is, nothing marked.
    await (await button(page, "Back to now")).click();
    await until(page, () => !document.querySelector(".timeline li.future") && document.querySelector(".travel h2")?.textContent === "Now");
    assert.equal(await status("approve"), "waiting");
  });
});

describe("Run Console with 10,000 runs", () => {
  let server, chrome, page, operator;
  before(async () => {
    server = await Server.start({ workflows: [GATE] });
    operator = server.token("ana", "acme", ["operator"]);
    let started = 0;
    const starter = async () => {
      while (started < 10000) {
        ++started;
        await server.start(operator, "acme", "gate", {});
      }
    };
    await Promise.all(Array.from({ length: 48 }, starter));
    chrome = await browser();
  });
  after(async () => {
    await chrome?.close();
    await server?.stop();
  });
  checkEachPage(() => page, () => { page = null; });

  it("loads the runs page in under a second", async () => {
    page = await signedIn(chrome, server, operator, "#/runs");
    const times = [];
    for (let i = 0; i < 3; ++i) {
      await page.reload({ waitUntil: "domcontentloaded" });
      await until(page, () => document.querySelectorAll("tr[data-run]").length === 50);
      times.push(await page.evaluate(() => performance.now()));
    }
    times.sort((a, b) => a - b);
    console.log(`runs page with 10,000 runs: loaded in ${times.map((t) => t.toFixed(0)).join(", ")} ms`);
    assert.ok(times[1] < 1000, `the median load took ${times[1].toFixed(0)} ms`);
  });

  it("pages through them; a new run does not shift an older page; the page is in the URL", async () => {
    page = await signedIn(chrome, server, operator, "#/runs");
    await until(page, () => document.querySelectorAll("tr[data-run]").length === 50);
    const first = await rows(page);
    await (await button(page, "Older")).click();
    await until(page, (f) => document.querySelector("tr[data-run]")?.dataset.run !== f, first[0]);
    assert.match(await page.$eval(".pager span", (s) => s.textContent), /page 2/);
    const second = await rows(page);
    assert.equal(second.length, 50);
    assert.equal(second.filter((r) => first.includes(r)).length, 0, "no run on both pages");
    const url = await page.evaluate(() => location.hash);
    assert.match(url, /^#\/runs\?page=[0-9a-f]+$/);
    // A run started now goes to the first page; this one stays as it is.
    const fresh = await server.start(operator, "acme", "gate", {});
    await server.waitFor(operator, "acme", fresh, "paused");
    await new Promise((r) => setTimeout(r, 700));  // past the page's refresh interval
    assert.deepEqual(await rows(page), second);
    // Reloaded, the page is the same page; Newer goes back to the first,
    // which now begins with the new run.
    await page.reload();
    await until(page, () => document.querySelectorAll("tr[data-run]").length === 50);
    assert.deepEqual(await rows(page), second);
    await (await button(page, "Newest")).click();
    await until(page, (id) => document.querySelector("tr[data-run]")?.dataset.run === id, fresh);
    assert.deepEqual((await rows(page)).slice(1), first.slice(0, 49));
    assert.equal(await page.$eval(".pager button", (b) => b.disabled), true, "no page newer than the first");
  });
});
