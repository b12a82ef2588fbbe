// The page against a collector that wants a read token: it asks for one, refuses a wrong one
// (the prompt comes back and no data shows), and works once given the right one. Run by
// tests/e2e/browser.rs. Exit status 0 when every check passes.
//
// Env: LOGQ_URL, LOGQ_APP (an app with stored lines), LOGQ_TOKEN (the right read token),
// LOGQ_ARTIFACTS (a screenshot goes there on failure).

import { join } from "node:path";
import { inChromium } from "./chromium.mjs";

const url = need("LOGQ_URL");
const app = need("LOGQ_APP");
const token = need("LOGQ_TOKEN");
const artifacts = need("LOGQ_ARTIFACTS");
const RUN_LIMIT_MS = 60_000;

function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

const dialogOpen = () => document.getElementById("token-dialog").open;

async function submitToken(page, value) {
  await page.waitForFunction(dialogOpen, null, { timeout: 10_000 });
  await page.fill("#token", value);
  await page.click("#token-form button[type=submit]");
}

async function run(browser) {
  const page = await (await browser.newContext()).newPage();
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  // Every API answer the page gets, to check that nothing leaked before the right token.
  const answers = [];
  page.on("response", (r) => {
    if (r.url().includes("/api/v1/")) answers.push({ path: new URL(r.url()).pathname, status: r.status() });
  });
  await page.goto(url);

  // No token: the prompt, no apps.
  await page.waitForFunction(dialogOpen, null, { timeout: 10_000 });
  check((await page.locator("#apps option").count()) === 0, "no apps listed without a token");
  check(answers.length > 0 && answers.every((a) => a.status === 401), `401s only: ${JSON.stringify(answers)}`);

  // A wrong token: refused, the prompt comes back, still no apps.
  answers.length = 0;
  await submitToken(page, "not-the-token");
  await page.waitForFunction(() => document.getElementById("token-dialog").open, null, { timeout: 10_000 });
  check((await page.locator("#apps option").count()) === 0, "no apps listed with a wrong token");
  check(answers.length > 0 && answers.every((a) => a.status === 401), `401s only: ${JSON.stringify(answers)}`);

  // The right token: the prompt goes, the apps and the lines show.
  await submitToken(page, token);
  await page.waitForSelector(`#apps option[value="${app}"]`, { timeout: 10_000 });
  check(!(await page.evaluate(dialogOpen)), "the prompt is closed");
  await page.click("#mode-search");
  await page.fill("#q", "guarded");
  await page.click("#apply");
  await page.waitForSelector("#search-total[data-total]", { timeout: 10_000 });
  const total = Number(await page.getAttribute("#search-total", "data-total"));
  check(total >= 1, `the search finds the stored line (${total})`);
}

const passed = await inChromium(run, { limitMs: RUN_LIMIT_MS, shot: join(artifacts, "token-failure.png") });
console.log(passed ? "passed" : "failed");
process.exit(passed ? 0 : 1);
