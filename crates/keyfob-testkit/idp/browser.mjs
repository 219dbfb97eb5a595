// A real browser for keyfob's end-to-end tests: headless Chromium (Debian's, /usr/bin/chromium,
// or $KEYFOB_TEST_CHROMIUM) driven by playwright-core. It is what `keyfob login` starts through
// $BROWSER: it opens the URL it is given (keyfob's private file:// page), follows wherever that
// leads, types a key into keyfob's token page (with --token) or approves at the test IdP, and
// stops at keyfob's "Done" page.
//
// Usage: node browser.mjs <url> <report-file> [--token KEY]
// The report file gets one line per step and a last line `done` or `failed: …`.
import { appendFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [url, report, ...rest] = process.argv.slice(2);
const token = rest[0] === '--token' ? rest[1] : null;
const say = (line) => appendFileSync(report, `${line}\n`);

const browser = await chromium.launch({
  executablePath: process.env.KEYFOB_TEST_CHROMIUM || '/usr/bin/chromium',
  // As the machine's own probe runs it: no sandbox as root, nothing that calls the network.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  // Every page the tab asks for, redirects included.
  page.on('request', (request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
      say(`at ${new URL(request.url()).pathname}`);
    }
  });
  await page.goto(url);
  const deadline = Date.now() + 30_000;
  let finished = false;
  while (!finished && Date.now() < deadline) {
    await page.waitForLoadState('load');
    if (await page.locator('h1', { hasText: 'Done' }).count()) {
      finished = true;
    } else if (token && await page.locator('input[name=token]').count()) {
      await page.fill('input[name=token]', token);
      await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    } else if (await page.locator('#approve').count()) {
      await Promise.all([page.waitForNavigation(), page.click('#approve')]);
    } else {
      await page.waitForTimeout(100);
    }
  }
  say(finished ? 'done' : `failed: ${(await page.locator('body').innerText()).slice(0, 300)}`);
} catch (e) {
  say(`failed: ${e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
