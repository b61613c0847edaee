// End-to-end: the chat page in headless Chromium against a running service.
//   node chat.e2e.mjs BASE_URL SCREENSHOT.png [API_KEY]
// Opens the page, sends a message, waits for the streamed reply, reloads, checks the session is shown again,
// sends a second message in the same session, and saves a screenshot. Prints one JSON line with what it saw.
import { chromium } from 'playwright-core';

const [base, screenshot, apiKey] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
const fail = async (message) => {
  console.log(JSON.stringify({ ok: false, message }));
  await browser.close();
  process.exit(1);
};
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(60000);
  let tokenFrames = 0; // the reply is streamed: token frames arrive one by one before the done frame
  page.on('websocket', (ws) => ws.on('framereceived', (f) => {
    try { if (JSON.parse(f.payload).type === 'token') tokenFrames++; } catch { /* not JSON: the page reports it */ }
  }));
  await page.goto(base + '/' + (apiKey ? '?token=' + encodeURIComponent(apiKey) : ''));
  await page.waitForSelector('#status:text("connected")');

  async function ask(text) {
    const before = await page.locator('.turn.assistant').count();
    await page.fill('#message', text);
    await page.click('#send');
    const reply = page.locator('.turn.assistant').nth(before);
    // streamed: some text arrives before the final meta line does
    await reply.locator('.meta').waitFor();
    return (await reply.getAttribute('data-text')) || '';
  }

  const first = await ask('The meaning of life is');
  if (!first.trim()) await fail('the first reply was empty');
  if (tokenFrames < 2) await fail(`the reply came in ${tokenFrames} token frames, not streamed`);
  const stats = await page.textContent('#stats');
  if (!/tok\/s/.test(stats)) await fail('no tokens/s shown: ' + stats);
  const session = (await page.textContent('#session-id')).trim();
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(session) || session === 'new') await fail('no session id shown: ' + session);

  await page.reload();
  await page.waitForSelector('#status:text("connected")');
  const resumed = (await page.textContent('#session-id')).trim();
  if (resumed !== session) await fail(`after reload the page shows session ${resumed}, expected ${session}`);
  const shownTurns = await page.locator('.turn.user').count();
  if (shownTurns !== 1) await fail(`after reload the transcript shows ${shownTurns} user turns, expected 1`);

  const second = await ask(' And so');
  const after = (await page.textContent('#session-id')).trim();
  if (after !== session) await fail(`the second turn ran in session ${after}, expected ${session}`);
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ ok: true, session, first, second, tokenFrames, stats }));
} catch (e) {
  await fail(String(e && e.stack || e));
}
await browser.close();
