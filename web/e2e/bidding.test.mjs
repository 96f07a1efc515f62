// The bidder page end to end, in headless Chromium against the real platform: the local stack,
// the trigger runner (with the deployed Lambda binaries it invokes, the scheduler's among them)
// and api-local --dev (which serves web/ and the /live
// WebSocket). Two bidders in two browser contexts bid on one auction and see each other's
// bids, the outbid notice and the result live, without reloading. Ann starts without a card:
// the page's payments panel says so, the bid and sell controls explain why they are blocked,
// and its button attaches localstripe's test card for her. Screenshots of every step go to
// web/e2e/artifacts/. Started by web/e2e/run; see docs/web.md.
//
// Environment: E2E_TARGET_DIR (the folder holding debug/api-local and debug/local-triggers: the
// cargo target dir, or its <triple> folder after a --target build; default <repo>/target; the
// Lambda artifacts are found by local-triggers itself), CHROMIUM (default /usr/bin/chromium),
// E2E_BASE_URL (use an already running platform instead of starting one).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const artifacts = path.join(here, 'artifacts');
const targetDir = process.env.E2E_TARGET_DIR || path.join(repo, 'target');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

const STARTUP_TIMEOUT = 60_000; // the stack and the three processes
const STEP_TIMEOUT = 10_000; // one thing to appear on a page
const AUCTION_SECONDS = 38; // from creation to the end; everything before the end fits in it
const TEST_TIMEOUT = 140_000; // the whole test, platform start and stop included

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // No --user-data-dir here: Playwright refuses it in `args` and gives every launch a fresh
  // temporary profile of its own (removed on close).
];

const started = Date.now();
const log = (message) => console.log(`[e2e +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);

// Ctrl-C or SIGTERM: stop what the test started (the platform is in a process group of its
// own, so a terminal's Ctrl-C does not reach it), then exit. Registered before anything starts.
const running = { platform: null, stop: async () => {}, stopping: false };
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    if (running.stopping) return;
    running.stopping = true;
    log(`${signal}: stopping what the test started`);
    await running.stop();
    process.exit(130);
  });
}

// ------------------------------------------------------------------------------ the platform

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * `local-stack exec -- scripts/platform <target>/debug --dev` in a process group of its own,
 * as scripts/run starts it; resolves with the API's URL once api-local prints it.
 */
async function startPlatform() {
  const port = await freePort();
  const logPath = path.join(artifacts, 'platform.log');
  const logFile = createWriteStream(logPath);
  const secret = randomBytes(32).toString('hex');
  const env = {
    ...process.env,
    API_PORT: String(port),
    LOCAL_JWT_SECRET: secret,
  };
  // The launcher's binary itself when web/e2e/run has built it (`cargo run` would wait for
  // cargo's build-directory lock whenever another cargo command runs), else through cargo.
  const launcher = path.join(targetDir, 'debug', 'local-stack');
  const [command, ...prefix] = existsSync(launcher)
    ? [launcher]
    : ['cargo', 'run', '-q', '-p', 'local-stack', '--'];
  const child = spawn(command, [...prefix, 'exec', '--',
    'scripts/platform', path.join(targetDir, 'debug'), '--dev'], {
    cwd: repo,
    env,
    detached: true, // its own process group, so that stopping it reaches every process in it
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const platform = { child, logPath, secret, exited: null, stackPids: [], triggersGroup: null };
  running.platform = platform; // stopped by the test's end or a signal, even while starting
  child.on('exit', (code, signal) => { platform.exited = { code, signal }; });
  let stderrHead = '';
  child.stderr.on('data', (chunk) => {
    logFile.write(chunk);
    // The emulators' pids, from the environment lines the launcher prints first, and the
    // trigger runner's process group (scripts/platform prints it).
    if ((!platform.stackPids.length || !platform.triggersGroup) && stderrHead.length < 1 << 20) {
      stderrHead += chunk.toString();
      const pids = /^LOCAL_STACK_PIDS=([\d,]+)$/m.exec(stderrHead);
      if (pids) platform.stackPids = pids[1].split(',').map(Number);
      const group = /^LOCAL_TRIGGERS_PGID=(\d+)$/m.exec(stderrHead);
      if (group) platform.triggersGroup = Number(group[1]);
      const ses = /^AWS_ENDPOINT_URL_SESV2=(\S+)$/m.exec(stderrHead);
      if (ses) platform.ses = ses[1];
    }
  });
  const url = await new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(
      `the platform did not print API_URL within ${STARTUP_TIMEOUT / 1000} s (log: ${logPath})`)), STARTUP_TIMEOUT);
    child.stdout.on('data', (chunk) => {
      logFile.write(chunk);
      buffered += chunk.toString();
      const match = /^API_URL=(\S+)$/m.exec(buffered);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the platform exited before it was ready (code ${code}, signal ${signal}); `
        + `log: ${logPath}\n${tail(logPath)}`));
    });
  });
  platform.url = url;
  return platform;
}

function tail(file, lines = 25) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch (_) {
    return '';
  }
}

function waitExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => { clearTimeout(timer); resolve(true); });
  });
}

/** SIGTERM to the platform's process group (the launcher stops the emulators), then SIGKILL. */
/**
 * A token for `sub` in `groups`, signed as the platform's local verifier expects (HS256 under
 * LOCAL_JWT_SECRET, the claims of a Cognito ID token): the demo's POST /dev/token grants no
 * group, and an admin is one.
 */
function mintToken(secret, sub, groups) {
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ sub, iat: now, exp: now + 600, 'cognito:groups': groups })}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

/**
 * The emails the platform's SES (moto) sent to `to`, oldest first: moto keeps every message
 * and shows them in its model data (`/moto-api/data.json`; moto keeps the HTML part).
 */
async function emailsTo(platform, to) {
  assert.ok(platform.ses, 'the platform printed no AWS_ENDPOINT_URL_SESV2');
  const response = await fetch(`${platform.ses}/moto-api/data.json`, { signal: AbortSignal.timeout(STEP_TIMEOUT) });
  const data = await response.json();
  return ((data.ses && data.ses.Message) || [])
    .filter((message) => ((message.destinations || {}).ToAddresses || []).includes(to));
}

async function stopPlatform(platform) {
  if (!platform) return;
  const { child } = platform;
  const signalGroup = (signal) => {
    try { process.kill(-child.pid, signal); } catch (_) { /* already gone */ }
  };
  if (child.exitCode === null && child.signalCode === null) {
    signalGroup('SIGTERM');
    if (!(await waitExit(child, 20_000))) {
      log('the platform did not stop within 20 s of SIGTERM: SIGKILL');
      signalGroup('SIGKILL');
      await waitExit(child, 5_000);
    }
  }
  // Anything of the group that outlived the launcher, and emulators a SIGKILLed launcher
  // could not stop (they run in process groups of their own), and the trigger runner's group
  // (its Lambda binaries and emulator) should scripts/platform have been SIGKILLed.
  signalGroup('SIGKILL');
  const groups = platform.triggersGroup ? [...platform.stackPids, platform.triggersGroup] : platform.stackPids;
  for (const pid of groups) {
    try { process.kill(-pid, 'SIGKILL'); } catch (_) { /* stopped by the launcher */ }
  }
}

// ----------------------------------------------------------------------------- HTTP helpers

async function http(base, method, pathname, { token, body, headers = {} } = {}) {
  const sent = { Accept: 'application/json', ...headers };
  if (token) sent.Authorization = `Bearer ${token}`;
  if (body !== undefined) sent['Content-Type'] = 'application/json';
  const response = await fetch(base + pathname, {
    method,
    headers: sent,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(STEP_TIMEOUT),
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
  return { status: response.status, data, text, headers: response.headers };
}

/**
 * What a user needs before they sell or bid, made in the stack's Stripe and registered through
 * the API by api-local's demo routes (`POST /demo/payment-method`: a customer with the test card
 * attached; `POST /demo/payout-account`: a connected account): the API's answer, what is on
 * file. Every user this test drives over HTTP registers through here.
 */
async function registerPayment(base, token, what) {
  const answer = await http(base, 'POST', `/demo/${what}`, { token });
  assert.equal(answer.status, 200, `POST /demo/${what} answered ${answer.status}: ${answer.text}`);
  return answer.data;
}

// ----------------------------------------------------------------------------- page helpers

const shots = [];
async function screenshot(page, name) {
  const file = path.join(artifacts, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, timeout: STEP_TIMEOUT });
  shots.push(file);
  log(`screenshot ${path.relative(repo, file)}`);
}

// A phone-sized screen (a common 6.1" phone, in CSS pixels): each page of the test is also shot
// at this size, and must fit its width (no sideways scrolling).
const PHONE = { width: 390, height: 844 };

/** The page shot at desktop size (its viewport) and at phone size. */
async function screenshots(page, who, name) {
  await screenshot(page, name);
  const desktop = page.viewportSize();
  await page.setViewportSize(PHONE);
  try {
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    await screenshot(page, `${name}-phone`);
    assert.ok(overflow <= 0, `${who}: at ${PHONE.width} px wide the page scrolls sideways by ${overflow} px (${name})`);
  } finally {
    await page.setViewportSize(desktop);
  }
}

// axe-core (npm), injected into the page under test: what it reports as serious or critical
// fails the test.
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

async function expectAccessible(page, who, what) {
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.addScriptTag({ content: axeSource });
  const found = await page.evaluate(async () => {
    const results = await window.axe.run(document, { resultTypes: ['violations'] });
    return results.violations
      .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
      .map((violation) => `${violation.id} (${violation.impact}): ${violation.help}: `
        + violation.nodes.map((node) => node.target.join(' ')).join(', '));
  });
  log(`axe-core on ${what}: ${found.length} serious or critical violations`);
  assert.deepEqual(found, [], `${who}: axe-core on ${what}:\n${found.join('\n')}`);
}

async function text(page, selector) {
  return (await page.locator(selector).textContent({ timeout: STEP_TIMEOUT })) ?? '';
}

/** Waits until the element's text contains `expected`; says what it saw when it times out. */
async function expectText(page, who, selector, expected, timeout = STEP_TIMEOUT) {
  try {
    await page.waitForFunction(
      ([sel, want]) => {
        const node = document.querySelector(sel);
        return node && !node.closest('[hidden]') && node.textContent.includes(want);
      },
      [selector, expected],
      { timeout, polling: 100 },
    );
  } catch (error) {
    const seen = await page.locator(selector).textContent({ timeout: 1000 }).catch(() => '(missing)');
    throw new Error(`${who}: expected ${selector} to show "${expected}" within ${timeout / 1000} s; it shows "${seen}"`);
  }
}

async function expectLive(page, who) {
  try {
    await page.waitForSelector('#live-state[data-state="connected"]', { timeout: STEP_TIMEOUT });
  } catch (_) {
    throw new Error(`${who}: the page's WebSocket (/live) did not connect within ${STEP_TIMEOUT / 1000} s `
      + `(live state: "${await text(page, '#live-state').catch(() => '?')}")`);
  }
}

async function openPage(browser, base, who, errors) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on('pageerror', (error) => errors.push(`${who}: uncaught ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') log(`${who} console: ${message.text()}`);
  });
  return page;
}

/** The address each demo user signs in with: where their email notices go. */
const emailOf = (who) => `${who}@example.com`;

async function signIn(page, who) {
  await page.getByLabel('Your name').fill(who);
  await page.getByLabel('Email for notices (optional)').fill(emailOf(who));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expectText(page, who, '#signed-in-as', `Signed in as ${who}`);
}

async function bid(page, amount, maximum = '') {
  await page.getByLabel(/^Your bid/).fill(amount);
  await page.getByLabel(/^Maximum/).fill(maximum);
  await page.getByRole('button', { name: 'Place bid' }).click();
}

// ----------------------------------------------------------------------------------- the test

test('two bidders bid live on one auction in Chromium', { timeout: TEST_TIMEOUT }, async () => {
  rmSync(artifacts, { recursive: true, force: true });
  mkdirSync(artifacts, { recursive: true });
  let platform = null;
  let browser = null;
  running.stop = async () => {
    await browser?.close().catch(() => {});
    await stopPlatform(running.platform);
  };
  const pages = {};
  const errors = [];
  try {
    let base = process.env.E2E_BASE_URL;
    if (!base) {
      log(`starting the platform (${path.relative(repo, targetDir) || '.'}/debug binaries)`);
      platform = await startPlatform();
      base = platform.url;
    }
    log(`platform at ${base}`);

    // What the page needs from api-local --dev: the static files and demo sign-in.
    const index = await http(base, 'GET', '/');
    assert.ok(index.status === 200 && index.text.includes('app.js'),
      `api-local --dev does not serve web/index.html at / (GET / answered ${index.status})`);
    const seller = await http(base, 'POST', '/dev/token', { body: { sub: 'seller-sam' } });
    assert.equal(seller.status, 200, `POST /dev/token answered ${seller.status}: ${seller.text}`);
    const bobToken = await http(base, 'POST', '/dev/token', { body: { sub: 'bidder-bob' } });
    assert.equal(bobToken.status, 200, `POST /dev/token answered ${bobToken.status}: ${bobToken.text}`);

    const title = `Brass telescope ${randomUUID().slice(0, 8)}`;
    const auctionBody = () => ({
      title,
      description: 'A 19th-century brass telescope with its original case.',
      currency: 'EUR',
      startingPrice: 1000,
      endsAt: new Date(Date.now() + AUCTION_SECONDS * 1000).toISOString(),
      softClose: { windowSeconds: 0, extensionSeconds: 0 },
    });
    // Without a payout account the seller is refused, and told what to do.
    const refused = await http(base, 'POST', '/auctions', {
      token: seller.data.token,
      headers: { 'Idempotency-Key': randomUUID() },
      body: auctionBody(),
    });
    assert.equal(refused.status, 409, `creating without a payout account answered ${refused.status}: ${refused.text}`);
    assert.equal(refused.data.code, 'PAYOUT_ACCOUNT_REQUIRED');
    const onFile = await registerPayment(base, seller.data.token, 'payout-account');
    assert.equal(onFile.canSell, true, JSON.stringify(onFile));
    // Bob gets his card over HTTP; Ann gets hers in the page, below.
    await registerPayment(base, bobToken.data.token, 'payment-method');

    const body = auctionBody();
    const endsAt = new Date(body.endsAt);
    const created = await http(base, 'POST', '/auctions', {
      token: seller.data.token,
      headers: { 'Idempotency-Key': randomUUID() },
      body,
    });
    assert.equal(created.status, 201, `creating the auction answered ${created.status}: ${created.text}`);
    const auctionId = created.data.auctionId;
    log(`auction ${auctionId} "${title}" ends at ${endsAt.toISOString()}`);

    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: CHROMIUM_ARGS,
      headless: true,
      timeout: 30_000,
    });
    log(`Chromium ${browser.version()}`);
    const ann = await openPage(browser, base, 'bidder-ann', errors);
    const bob = await openPage(browser, base, 'bidder-bob', errors);
    pages.ann = ann;
    pages.bob = bob;

    // Ann signs in on the front page: the payments panel says she has neither a card nor a
    // payout account, and "Sell an item" explains why it is blocked.
    await ann.goto(`${base}/`);
    await expectText(ann, 'bidder-ann', '#sign-in-heading', 'Sign in');
    await expectAccessible(ann, 'bidder-ann', 'the sign-in page');
    await screenshots(ann, 'bidder-ann', '00-sign-in');
    await signIn(ann, 'bidder-ann');
    // She asks for emails when she is outbid and when an auction ends without her.
    await ann.getByRole('link', { name: /^Notifications/ }).click();
    await expectText(ann, 'bidder-ann', '#email-address', `Emails go to ${emailOf('bidder-ann')}`);
    await ann.getByLabel('when I am outbid').check();
    await ann.getByLabel('when an auction I bid on ends without me').check();
    await ann.getByRole('button', { name: 'Save email settings' }).click();
    await expectText(ann, 'bidder-ann', '#email-preferences-status', `Saved: emails go to ${emailOf('bidder-ann')}`);
    await expectText(ann, 'bidder-ann', '#payment-card', 'No card on file');
    await expectText(ann, 'bidder-ann', '#payout-account', 'No payout account');
    await ann.getByRole('link', { name: 'Sell an item' }).click();
    await expectText(ann, 'bidder-ann', '#create-blocked', 'You need a payout account to sell');
    assert.equal(await ann.locator('#create-submit').isDisabled(), true, 'bidder-ann: "Create auction" is enabled without a payout account');
    await screenshot(ann, '01-ann-nothing-on-file');
    await ann.getByRole('link', { name: 'Live auctions' }).click();
    // And finds the auction in the list.
    const row = ann.locator('#auction-rows a', { hasText: title });
    const listDeadline = Date.now() + STEP_TIMEOUT;
    while (!(await row.count())) {
      // The list is a read model: it may lag the creation by a moment.
      assert.ok(Date.now() < listDeadline, `bidder-ann: "${title}" did not appear in the list`);
      await ann.waitForTimeout(300);
      await ann.getByRole('button', { name: 'Refresh' }).click();
    }
    await expectAccessible(ann, 'bidder-ann', 'the list of auctions');
    await screenshots(ann, 'bidder-ann', '01-ann-list');
    await row.click();
    // Its bid form is blocked until she has a card; the panel's button attaches the test card.
    await expectText(ann, 'bidder-ann', '#auction-title', title);
    await expectText(ann, 'bidder-ann', '#bid-blocked', 'You need a card on file to bid');
    assert.equal(await ann.locator('#bid-submit').isDisabled(), true, 'bidder-ann: "Place bid" is enabled without a card');
    await screenshot(ann, '01-ann-blocked');
    await ann.getByRole('button', { name: /Add test card/ }).click();
    await expectText(ann, 'bidder-ann', '#payment-card', 'Card: Visa ending 4242');
    assert.equal(await ann.locator('#bid-blocked').isHidden(), true, 'bidder-ann: the bid form still says it is blocked');
    assert.equal(await ann.locator('#bid-submit').isEnabled(), true, 'bidder-ann: "Place bid" stays disabled with a card');
    assert.equal(await ann.locator('#add-card').isHidden(), true, 'bidder-ann: the add-card button is still shown');
    await screenshot(ann, '01-ann-card-added');
    // Bob follows a link straight to the auction, and signs in there: his card is on file.
    await bob.goto(`${base}/#/auctions/${auctionId}`);
    await signIn(bob, 'bidder-bob');
    await expectText(bob, 'bidder-bob', '#payment-card', 'Card: Visa ending 4242');

    for (const [who, page] of [['bidder-ann', ann], ['bidder-bob', bob]]) {
      await expectText(page, who, '#auction-title', title);
      await expectText(page, who, '#auction-status', 'Active');
      await expectText(page, who, '#auction-price', '10.00 EUR');
      await expectLive(page, who);
      // Set once; still there at the end means the page never reloaded.
      await page.evaluate(() => { window.e2eNoReload = true; });
    }
    // Ann puts the auction on her watchlist.
    await ann.getByRole('button', { name: 'Watch this auction' }).click();
    await ann.waitForSelector('#watch-toggle[aria-pressed="true"]', { timeout: STEP_TIMEOUT });
    await screenshot(ann, '02-ann-opened');
    await screenshot(bob, '02-bob-opened');

    // Ann bids 12.00; Bob sees it pushed, with Ann named as the leader (only a push names
    // another bidder: the HTTP view says only "not you").
    await bid(ann, '12.00');
    await expectText(ann, 'bidder-ann', '#bid-message', 'you lead at 12.00 EUR');
    await expectText(bob, 'bidder-bob', '#auction-price', '12.00 EUR');
    await expectText(bob, 'bidder-bob', '#auction-leader', 'bidder-ann');
    await expectText(bob, 'bidder-bob', '#auction-bids', '1');
    await expectText(ann, 'bidder-ann', '#auction-leader', 'You');
    await screenshot(ann, '03-ann-bid');
    await screenshot(bob, '03-bob-sees-ann-bid');

    // Bob bids 15.00 with a maximum of 20.00; Ann sees it pushed and is told she was outbid.
    await bid(bob, '15.00', '20.00');
    await expectText(bob, 'bidder-bob', '#bid-message', 'you lead at 15.00 EUR');
    await expectText(ann, 'bidder-ann', '#auction-price', '15.00 EUR');
    await expectText(ann, 'bidder-ann', '#auction-leader', 'bidder-bob');
    await expectText(ann, 'bidder-ann', '#outbid-notice', 'You have been outbid: bidder-bob leads at 15.00 EUR');
    await expectText(bob, 'bidder-bob', '#auction-bids', '2');
    // The bid history, newest first: each sees their own bids in full and the other's masked,
    // as large auction sites show bidders.
    await expectText(ann, 'bidder-ann', '#bid-history-list', 'b***b bid 15.00 EUR');
    await expectText(ann, 'bidder-ann', '#bid-history-list', 'bidder-ann (you) bid 12.00 EUR');
    await expectText(bob, 'bidder-bob', '#bid-history-list', 'bidder-bob (you) bid 15.00 EUR');
    await expectText(bob, 'bidder-bob', '#bid-history-list', 'b***n bid 12.00 EUR');
    // The same news reaches Ann's inbox through the notifier (GET /me/notifications).
    await expectText(ann, 'bidder-ann', '#auction-notification-list', 'outbid', 20_000);
    await expectAccessible(ann, 'bidder-ann', 'the auction page');
    await screenshots(ann, 'bidder-ann', '04-ann-outbid');
    await screenshot(bob, '04-bob-leads');

    assert.ok(Date.now() < endsAt.getTime(),
      `the bidding took longer than the auction's ${AUCTION_SECONDS} s: raise AUCTION_SECONDS`);

    // The scheduler ends the auction; both pages show the result when the push arrives.
    const untilEnd = Math.max(0, endsAt.getTime() - Date.now());
    log(`waiting ${(untilEnd / 1000).toFixed(1)} s for the end`);
    await expectText(bob, 'bidder-bob', '#result-banner', 'You won', untilEnd + 15_000);
    await expectText(bob, 'bidder-bob', '#result-banner', 'for 15.00 EUR');
    await expectText(ann, 'bidder-ann', '#result-banner', 'Sold to bidder-bob for 15.00 EUR');
    await expectText(ann, 'bidder-ann', '#result-banner', 'You did not win');
    for (const [who, page] of [['bidder-ann', ann], ['bidder-bob', bob]]) {
      await expectText(page, who, '#auction-status', 'Ended');
      assert.equal(await page.evaluate(() => window.e2eNoReload === true), true, `${who}: the page reloaded`);
      assert.equal(await page.locator('#bid-section').isHidden(), true, `${who}: the bid form is still shown after the end`);
    }
    await screenshot(ann, '05-ann-lost');
    await screenshot(bob, '05-bob-won');

    // Seller Sam opens his page: the auction sold to Bob, and once the payment saga has
    // charged Bob and paid Sam out (the view is a read model: he refreshes), "Paid out".
    const sam = await openPage(browser, base, 'seller-sam', errors);
    pages.sam = sam;
    await sam.goto(`${base}/#/selling`);
    await signIn(sam, 'seller-sam');
    const samRow = `#selling-rows tr[data-auction-id="${auctionId}"]`;
    await expectText(sam, 'seller-sam', `${samRow} .result`, 'Sold to bidder-bob for 15.00 EUR');
    await expectText(sam, 'seller-sam', `${samRow} .status`, 'Ended');
    await expectText(sam, 'seller-sam', `${samRow} .bids`, '2');
    await expectText(sam, 'seller-sam', `${samRow} .reserve`, 'No reserve');
    const payoutDeadline = Date.now() + 30_000;
    while (!(await text(sam, `${samRow} .payout`)).includes('Paid out')) {
      assert.ok(Date.now() < payoutDeadline,
        `seller-sam: the payout still reads "${await text(sam, `${samRow} .payout`)}" after 30 s`);
      await sam.waitForTimeout(500);
      await sam.getByRole('button', { name: 'Refresh' }).click();
    }
    await expectAccessible(sam, 'seller-sam', 'the seller\'s page');
    await screenshots(sam, 'seller-sam', '05-sam-sold-and-paid-out');

    // A second auction of Sam's, withdrawn before any bid (over HTTP), shows "Relist" on his
    // page; relisting opens the new auction, open for bids on the same terms.
    const withdrawnBody = { ...auctionBody(), title: `${title} (again)` };
    const withdrawn = await http(base, 'POST', '/auctions', {
      token: seller.data.token,
      headers: { 'Idempotency-Key': randomUUID() },
      body: withdrawnBody,
    });
    assert.equal(withdrawn.status, 201, `creating the second auction answered ${withdrawn.status}: ${withdrawn.text}`);
    const cancelled = await http(base, 'POST', `/auctions/${withdrawn.data.auctionId}/cancel`, {
      token: seller.data.token,
      body: {},
    });
    assert.equal(cancelled.status, 200, `cancelling answered ${cancelled.status}: ${cancelled.text}`);
    const relistButton = sam.getByRole('button', { name: `Relist “${withdrawnBody.title}”` });
    const relistDeadline = Date.now() + STEP_TIMEOUT;
    while (!(await relistButton.count())) {
      assert.ok(Date.now() < relistDeadline, 'seller-sam: no "Relist" button for the withdrawn auction');
      await sam.waitForTimeout(300);
      await sam.getByRole('button', { name: 'Refresh' }).click();
    }
    await relistButton.click();
    await expectText(sam, 'seller-sam', '#auction-title', withdrawnBody.title);
    await expectText(sam, 'seller-sam', '#auction-status', 'Active');
    assert.notEqual(sam.url().split('/').pop(), withdrawn.data.auctionId, 'seller-sam: the relisting opened the withdrawn auction');
    await screenshot(sam, '05-sam-relisted');

    // Sam adds photos to the relisted item: a picture (drawn by the browser, as a PNG) and a
    // text file posing as one. The picture's thumbnail appears; the text file is refused,
    // saying why (the thumbnailer deleted it), and only the picture is shown.
    const drawn = await sam.evaluate(() => {
      const canvas = document.createElement('canvas');
      canvas.width = 960;
      canvas.height = 640;
      const context = canvas.getContext('2d');
      const gradient = context.createLinearGradient(0, 0, 960, 640);
      gradient.addColorStop(0, '#1d4e89');
      gradient.addColorStop(1, '#f2a541');
      context.fillStyle = gradient;
      context.fillRect(0, 0, 960, 640);
      return canvas.toDataURL('image/png').split(',')[1];
    });
    await sam.locator('#photo-file').setInputFiles([
      { name: 'lamp.png', mimeType: 'image/png', buffer: Buffer.from(drawn, 'base64') },
      { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not a picture at all') },
    ]);
    await expectText(sam, 'seller-sam', '#photo-error', 'notes.png was refused: the file is not a JPEG, PNG or WebP image', 60_000);
    await expectText(sam, 'seller-sam', '#photo-status', '1 photo added');
    const thumbnail = sam.locator('#photo-list img');
    await thumbnail.first().waitFor({ timeout: STEP_TIMEOUT });
    assert.equal(await thumbnail.count(), 1, 'seller-sam: the refused file shows in the gallery');
    const thumb = await thumbnail.first().evaluate(async (img) => {
      if (!img.complete) await new Promise((resolve) => { img.onload = resolve; img.onerror = resolve; });
      return { width: img.naturalWidth, height: img.naturalHeight, src: img.src, alt: img.alt };
    });
    assert.deepEqual([thumb.width, thumb.height], [480, 320], `seller-sam: the thumbnail is ${JSON.stringify(thumb)}`);
    assert.ok(thumb.src.startsWith(`${base}/thumbnails/`), `the thumbnail is served from ${thumb.src}`);
    assert.match(thumb.alt, /^Photo 1 of 1 of /);
    await expectAccessible(sam, 'seller-sam', 'the auction page with a photo');
    await screenshots(sam, 'seller-sam', '05-sam-photo-added');

    // Ann's watchlist (a view of its own, reached without a reload) shows the auction as it
    // ended.
    await ann.getByRole('link', { name: 'Watchlist' }).click();
    const watchedRow = `#watchlist-rows tr[data-auction-id="${auctionId}"]`;
    await expectText(ann, 'bidder-ann', `${watchedRow} .status`, 'Ended');
    await expectText(ann, 'bidder-ann', `${watchedRow} .price`, '15.00 EUR');
    await screenshot(ann, '05-ann-watchlist');
    await ann.goBack();
    await expectText(ann, 'bidder-ann', '#auction-title', title);

    // Ann's outbid email, read back from the SES emulator: sent once, naming the price, with
    // a link that unsubscribes her from outbid emails without signing in.
    const annEmail = emailOf('bidder-ann');
    let emails = [];
    const emailDeadline = Date.now() + 20_000;
    while (!emails.some((email) => email.subject === `You were outbid on “${title}”`)) {
      assert.ok(Date.now() < emailDeadline, `no outbid email to ${annEmail} within 20 s: ${JSON.stringify(emails)}`);
      await ann.waitForTimeout(500);
      emails = await emailsTo(platform, annEmail);
    }
    const outbid = emails.filter((email) => email.subject.startsWith('You were outbid'));
    assert.equal(outbid.length, 1, `bidder-ann got ${outbid.length} outbid emails`);
    assert.ok(outbid[0].body.includes('the price is now 15.00 EUR'), outbid[0].body);
    const link = /href="([^"]*#\/unsubscribe\/[^"]+)"/.exec(outbid[0].body);
    assert.ok(link, `the outbid email has no unsubscribe link: ${outbid[0].body}`);
    assert.ok(link[1].startsWith(`${base}/#/unsubscribe/`), `the link points elsewhere: ${link[1]}`);
    await ann.goto(link[1].replaceAll('&amp;', '&'));
    await expectText(ann, 'bidder-ann', '#unsubscribe-heading', 'Unsubscribe');
    await expectAccessible(ann, 'bidder-ann', 'the unsubscribe page');
    await ann.getByRole('button', { name: 'Unsubscribe' }).click();
    await expectText(ann, 'bidder-ann', '#unsubscribe-result', 'You will no longer get emails when you are outbid.');
    await screenshots(ann, 'bidder-ann', '05-ann-unsubscribed');
    await ann.goto(`${base}/#/preferences`);
    await expectText(ann, 'bidder-ann', '#email-address', `Emails go to ${annEmail}`);
    await ann.waitForSelector('#email-preferences-form input[name="outbid"]:not(:checked)', { timeout: STEP_TIMEOUT });
    assert.equal(await ann.getByLabel('when I am outbid').isChecked(), false, 'bidder-ann: outbid emails are still on');
    assert.equal(await ann.getByLabel('when an auction I bid on ends without me').isChecked(), true, 'bidder-ann: the unsubscribe turned off more than outbids');
    await ann.goto(`${base}/#/auctions/${auctionId}`);
    await expectText(ann, 'bidder-ann', '#auction-title', title);

    // An admin forgets Bob (docs/privacy.md); Ann's page, opened again, names the winner as
    // erased, and nothing on it names Bob.
    const forgotten = await http(base, 'POST', '/admin/subjects/forget', {
      token: mintToken(platform.secret, 'admin-ada', ['admin']),
      body: { userId: 'bidder-bob' },
    });
    assert.equal(forgotten.status, 200, `POST /admin/subjects/forget answered ${forgotten.status}: ${forgotten.text}`);
    const erased = forgotten.data.erasedAs;
    assert.match(erased, /^erased:[0-9a-f-]{36}$/);
    await ann.reload();
    await expectText(ann, 'bidder-ann', '#result-banner', `Sold to ${erased} for 15.00 EUR`);
    const shown = await ann.evaluate(() => document.body.innerText);
    assert.equal(shown.includes('bidder-bob'), false, `bidder-ann: the page still shows bidder-bob:\n${shown}`);
    await screenshot(ann, '06-ann-sees-bob-erased');

    assert.deepEqual(errors, [], `uncaught errors in the pages:\n${errors.join('\n')}`);
  } catch (error) {
    for (const [name, page] of Object.entries(pages)) {
      await screenshot(page, `failure-${name}`).catch(() => {});
    }
    // running.platform, not platform: a platform that failed to start was never assigned.
    const started = running.platform;
    if (started) console.error(`--- the platform's log (last lines of ${started.logPath}) ---\n${tail(started.logPath)}`);
    throw error;
  } finally {
    if (!running.stopping) await running.stop();
    if (shots.length) console.log(`screenshots:\n${shots.map((s) => `  ${s}`).join('\n')}`);
  }
});
