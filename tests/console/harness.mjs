// What the console's browser tests share: a `rewind serve` of their own on a
// fresh journal (loopback, a port of its own), tokens minted by `rewind
// token`, the API for setting up runs, and Debian's chromium driven by
// puppeteer-core, with every browser console error and page error
// collected so that a test can require none.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { afterEach } from "node:test";
import puppeteer from "puppeteer-core";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, "../..");

function option(name, fallback) {
  const v = process.env[name];
  return v && v.length ? v : fallback;
}

export const config = {
  rewind: option("REWIND_BIN", path.join(repo, "build/tools/rewind")),
  chromium: option("REWIND_CHROMIUM", "/usr/bin/chromium"),
  artifacts: option("REWIND_CONSOLE_ARTIFACTS", path.join(repo, "build/console-artifacts")),
};

export class Server {
  static async start({ workflows }) {
    const dir = mkdtempSync(path.join(tmpdir(), "rewind-console-"));
    const secret = path.join(dir, "secret");
    writeFileSync(secret, "console-test-secret-of-at-least-32-bytes!", { mode: 0o600 });
    const proc = spawn(config.rewind, ["serve", "--data", path.join(dir, "data"), "--listen", "127.0.0.1:0",
      "--workflows", ...workflows, "--token-secret-file", secret], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const port = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`rewind serve did not start: ${output}`)), 15000);
      const scan = (chunk) => {
        output += chunk;
        const m = output.match(/on 127\.0\.0\.1:(\d+)/);
        if (m) { clearTimeout(timer); resolve(Number(m[1])); }
      };
      proc.stdout.on("data", scan);
      proc.stderr.on("data", scan);
      proc.on("exit", (code) => { clearTimeout(timer); reject(new Error(`rewind serve exited ${code}: ${output}`)); });
    });
    return new Server(dir, secret, proc, port);
  }
  constructor(dir, secret, proc, port) {
    Object.assign(this, { dir, secret, proc, port, url: `http://127.0.0.1:${port}` });
  }
  token(subject, tenant, roles, ttl = 3600) {
    return execFileSync(config.rewind, ["token", "--secret-file", this.secret, "--subject", subject, "--tenant", tenant,
      "--roles", roles.join(","), "--ttl", String(ttl)]).toString().trim();
  }
  async api(method, route, token, body) {
    const res = await fetch(this.url + route, {
      method,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }
  async start(token, tenant, workflow, input) {
    const a = await this.api("POST", `/v1/tenants/${tenant}/runs`, token, { workflow, input });
    if (a.status !== 201) throw new Error(`start: ${a.status} ${JSON.stringify(a.body)}`);
    return a.body.run_id;
  }
  async waitFor(token, tenant, run, status, ms = 15000) {
    const end = Date.now() + ms;
    let last = null;
    while (Date.now() < end) {
      last = await this.api("GET", `/v1/tenants/${tenant}/runs/${run}`, token);
      if (last.body && last.body.status === status) return last.body;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`run ${run} is ${last && last.body && last.body.status}, not ${status}`);
  }
  async stop() {
    this.proc.kill("SIGTERM");
    await new Promise((r) => this.proc.once("exit", r));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function browser() {
  return puppeteer.launch({
    executablePath: config.chromium,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
  });
}

// A page with its problems collected: console errors, uncaught errors,
// failed requests to the server other than the answers a test expects.
export async function openPage(b, server) {
  const page = await b.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.problems = [];
  page.allowed = new Set();  // HTTP statuses a test expects the server to answer (the browser logs them)
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const status = m.text().match(/responded with a status of (\d{3})/);
    if (status && page.allowed.has(Number(status[1]))) return;
    page.problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => page.problems.push(`page error: ${e.message}`));
  await page.goto(server.url + "/", { waitUntil: "domcontentloaded" });
  return page;
}

export async function signIn(page, token) {
  await page.waitForSelector("#token");
  await page.type("#token", token);
  await page.click("button[type=submit]");
  await page.waitForSelector("header.top");
}

// A page signed in with `token` and opened at `hash` ("#/runs/ID"), taking
// the HTTP statuses in `allowed` as expected.
export async function signedIn(b, server, token, hash, allowed = []) {
  const page = await openPage(b, server);
  for (const status of allowed) page.allowed.add(status);
  await signIn(page, token);
  await page.goto(`${server.url}/${hash}`);
  return page;
}

// Waits until `fn` (run in the page) is true; a last argument {timeout}
// overrides the 15 s.
export const until = (page, fn, ...args) => {
  const last = args[args.length - 1];
  const timeout = last && typeof last === "object" && "timeout" in last ? args.pop().timeout : 15000;
  return page.waitForFunction(fn, { timeout, polling: 50 }, ...args);
};

export async function screenshot(page, name) {
  mkdirSync(config.artifacts, { recursive: true });
  await page.screenshot({ path: path.join(config.artifacts, `${name}.png`), fullPage: true });
}

// An enabled button whose visible label starts with `text`, inside `scope`
// (a CSS selector; the open dialog, say).
export async function button(page, text, scope = "body") {
  const handle = await page.waitForFunction((t, s) => [...document.querySelectorAll(`${s} button`)]
    .find((b) => b.textContent.trim().startsWith(t) && !b.disabled), { timeout: 15000, polling: 50 }, text, scope);
  return handle.asElement();
}

// After each test of the calling suite: a screenshot of the page the test
// ended on (`current()`), then the page closed (`done()` forgets it), and the
// test fails on any error its browser console showed.
export function checkEachPage(current, done) {
  afterEach(async (t) => {
    const page = current();
    if (!page) return;
    await screenshot(page, t.name.replace(/[^a-z0-9]+/gi, "-"));
    const problems = page.problems;
    await page.close();
    done();
    assert.deepEqual(problems, [], "no errors in the browser's console");
  });
}
