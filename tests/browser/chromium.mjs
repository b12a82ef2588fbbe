// Runs a browser test in Debian's headless Chromium, bounded in time: the browser is closed and
// the process fails past `limitMs`; on failure each open page is screenshotted to `shot`.
// Resolves to whether `run(browser)` passed.

import { chromium } from "playwright-core";

export async function inChromium(run, { limitMs, shot }) {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
  const watchdog = setTimeout(() => {
    console.error(`the run took over ${limitMs} ms`);
    browser.close().finally(() => process.exit(3));
  }, limitMs);
  let passed = true;
  try {
    await run(browser);
  } catch (e) {
    passed = false;
    console.error(e.stack || String(e));
    for (const page of browser.contexts().flatMap((c) => c.pages())) {
      await page.screenshot({ path: shot }).catch(() => {});
    }
  } finally {
    clearTimeout(watchdog);
    await browser.close();
  }
  return passed;
}
