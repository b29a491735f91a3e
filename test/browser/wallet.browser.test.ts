// The web wallet and the console in a real browser (issue 16): Debian's
// Chromium (headless, playwright-core) against the real system started by the
// test (every service a process, real PostgreSQL, Kafka, chDB), signing in
// through the identity-service's PKCE pages. Each screen is checked with
// axe-core, and no page may log a CSP violation or throw.
import { randomUUID } from 'node:crypto';
import { parseAmountMinor } from '@wallet/platform';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT_A, ACCOUNT_B, ADMIN, ALICE, BOB, http, rememberSecret, startSystem, SUPPORT, type Credentials, type RunningSystem } from '../e2e/harness.js';
import { chromiumUnavailableReason } from '../../scripts/lib/chromium.mjs';
import { axeViolations, ensureWebAppBuilt, launchBrowser, newUserPage, openTab, PHONE_VIEWPORT, screenshot, signIn, type UserPage } from './support/browser.js';

/** Bound on waiting for an event to reach the history (analytics is eventually consistent, usually < 1 s). */
const HISTORY_WAIT_MS = 30_000;

// Without Chromium (not root, no CHROMIUM_BIN) the suite is skipped and says why.
const noChromium = chromiumUnavailableReason();
if (noChromium) console.warn(`browser tests skipped: ${noChromium}`);

describe.skipIf(noChromium !== null)('web wallet and console in Chromium', { timeout: 120_000 }, () => {
  let system: RunningSystem;
  let browser: Browser;
  const pages: UserPage[] = [];

  const balanceMinor = async (accountId: string, user: Credentials) =>
    parseAmountMinor((await http(system.baseUrl, 'GET', `/accounts/${accountId}/balance`, { headers: await system.as(user) })).body.balance as string);

  const open = async (viewport?: { width: number; height: number }) => {
    const userPage = await newUserPage(browser, viewport);
    pages.push(userPage);
    return userPage;
  };

  /** Every screen passes axe-core's WCAG 2.1 A/AA rules. */
  const expectAccessible = async (page: Page, screen: string) => {
    const violations = await axeViolations(page);
    expect(violations, `axe on ${screen}: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
  };

  /** Re-opens History until an operation with this text shows (the history is built from events). */
  const waitForOperation = async (page: Page, text: string) => {
    const deadline = Date.now() + HISTORY_WAIT_MS;
    for (;;) {
      await openTab(page, 'History');
      const row = page.locator('li.operation').filter({ hasText: text });
      try {
        await row.first().waitFor({ timeout: 2_000 });
        return row.first();
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await openTab(page, 'Accounts');
      }
    }
  };

  const send = async (page: Page, recipient: string, amount: string, description: string, { doubleClick = false } = {}) => {
    await openTab(page, 'Send');
    await page.getByLabel('Recipient account id').fill(recipient);
    await page.getByLabel('Amount (USD)').fill(amount);
    await page.getByLabel('Description (optional)').fill(description);
    const button = page.getByRole('button', { name: 'Send', exact: true });
    if (doubleClick) await button.dblclick();
    else await button.click();
    await page.getByTestId('send-result').waitFor();
  };

  beforeAll(async () => {
    ensureWebAppBuilt();
    [system, browser] = await Promise.all([startSystem({ analytics: true, cardAdapter: true }), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  it('alice signs in with PKCE, sees her accounts and pays bob once with a double click; both histories show it', async () => {
    const alice = await open();
    await signIn(alice.page, system.baseUrl, ALICE);
    const aliceAccount = alice.page.locator(`[data-account-id="${ACCOUNT_A}"]`);
    await aliceAccount.getByText('USD').first().waitFor();
    await aliceAccount.locator('.money').waitFor();
    await expectAccessible(alice.page, 'accounts');
    await screenshot(alice.page, 'app-accounts');

    const [aliceBefore, bobBefore] = [await balanceMinor(ACCOUNT_A, ALICE), await balanceMinor(ACCOUNT_B, BOB)];
    const description = `Dinner ${randomUUID().slice(0, 8)}`;
    await send(alice.page, ACCOUNT_B, '12.34', description, { doubleClick: true });
    await expect(alice.page.getByTestId('send-result').textContent()).resolves.toContain('12.34');
    await expectAccessible(alice.page, 'send money');
    await screenshot(alice.page, 'app-send-money');
    // One payment: the second click sent nothing new (or the same Idempotency-Key).
    expect(await balanceMinor(ACCOUNT_A, ALICE)).toBe(aliceBefore! - 1234n);
    expect(await balanceMinor(ACCOUNT_B, BOB)).toBe(bobBefore! + 1234n);

    const sent = await waitForOperation(alice.page, description);
    await expect(sent.textContent()).resolves.toMatch(/Sent.*12\.34/);
    await alice.page.getByTestId('monthly-chart').waitFor();
    await expectAccessible(alice.page, 'history');
    await screenshot(alice.page, 'app-history');
    expect(await alice.page.locator('li.operation').filter({ hasText: description }).count()).toBe(1);

    const bob = await open();
    await signIn(bob.page, system.baseUrl, BOB);
    const received = await waitForOperation(bob.page, description);
    await expect(received.textContent()).resolves.toMatch(/Received.*12\.34/);
    expect(await bob.page.locator('li.operation').filter({ hasText: description }).count()).toBe(1);
    expect([...alice.problems, ...bob.problems]).toEqual([]);
  });

  it('a declined card shows its message and credits nothing', async () => {
    const alice = await open();
    await signIn(alice.page, system.baseUrl, ALICE);
    const before = await balanceMinor(ACCOUNT_A, ALICE);
    await openTab(alice.page, 'Top up');
    await alice.page.getByLabel('Amount (USD)').fill('20');
    await alice.page.getByLabel('Card number').fill('4000 0000 0000 0002');
    await alice.page.getByLabel('CVC').fill('123');
    await alice.page.getByRole('button', { name: 'Top up', exact: true }).click();
    const result = alice.page.getByTestId('topup-result');
    await result.waitFor();
    await expect(result.textContent()).resolves.toMatch(/^Declined: .*generic_decline/);
    await expect(result.textContent()).resolves.not.toContain('left charged');
    await expectAccessible(alice.page, 'top-up declined');
    await screenshot(alice.page, 'app-top-up-declined');
    expect(await balanceMinor(ACCOUNT_A, ALICE)).toBe(before);
    expect(alice.problems).toEqual([]);
  });

  it('support cannot send money in the app, and sees the outbox and consumer lag in the console', async () => {
    const support = await open();
    await signIn(support.page, system.baseUrl, SUPPORT);
    await openTab(support.page, 'Send');
    await support.page.getByTestId('role-notice').waitFor();
    expect(await support.page.getByTestId('send-form').count()).toBe(0);

    await signIn(support.page, system.baseUrl, SUPPORT, { product: 'console' });
    await support.page.getByTestId('outbox').waitFor();
    await expect(support.page.getByTestId('outbox').textContent()).resolves.toMatch(/Outbox pending\s*\d+/);
    await expect(support.page.getByTestId('consumer-lag').textContent()).resolves.toMatch(/Consumer lag\s*\d+/);
    await expect(support.page.getByTestId('services').textContent()).resolves.toContain('bank-service');
    await expectAccessible(support.page, 'console system state');
    await screenshot(support.page, 'console-system');

    // Any account by id: its balance and history (alice's has the transfer of the first test).
    await openTab(support.page, 'Accounts');
    await support.page.getByLabel('Account id or owner').fill(ACCOUNT_A);
    await support.page.getByRole('button', { name: 'Find', exact: true }).click();
    const detail = support.page.getByTestId('account-detail');
    await detail.locator('.balance .money').waitFor();
    await detail.locator('li.operation').first().waitFor();
    await expectAccessible(support.page, 'console account');
    await screenshot(support.page, 'console-account');

    // By owner (GET /admin/accounts?owner=): bob's one account is opened at once.
    await support.page.getByLabel('Account id or owner').fill(BOB.username);
    await support.page.getByRole('button', { name: 'Find', exact: true }).click();
    await support.page.getByTestId('owner').filter({ hasText: BOB.userId }).waitFor();
    await support.page.getByTestId('account-detail').filter({ hasText: ACCOUNT_B }).locator('.balance .money').waitFor();
    expect(support.problems).toEqual([]);
  });

  it('a new user signs up on a phone, opens an account, gets money from alice and sees it', async () => {
    const newcomer = { username: `newcomer-${randomUUID().slice(0, 8)}`, password: `pw-${randomUUID()}` };
    rememberSecret(newcomer.password);
    const phone = await open(PHONE_VIEWPORT);
    await signIn(phone.page, system.baseUrl, newcomer, { signUp: true });
    await phone.page.getByText('You have no account yet').waitFor();
    await phone.page.getByRole('button', { name: 'Open a USD account' }).click();
    const account = phone.page.locator('[data-account-id]').first();
    await account.locator('.money').waitFor();
    const accountId = (await account.getAttribute('data-account-id'))!;
    await expect(account.textContent()).resolves.toContain('0.00');

    const alice = await open();
    await signIn(alice.page, system.baseUrl, ALICE);
    const description = `Welcome ${randomUUID().slice(0, 8)}`;
    await send(alice.page, accountId, '5', description);

    const received = await waitForOperation(phone.page, description);
    await expect(received.textContent()).resolves.toMatch(/Received.*5\.00/);
    await openTab(phone.page, 'Accounts');
    await phone.page.locator(`[data-account-id="${accountId}"] .money`).filter({ hasText: '5.00' }).waitFor();
    await expectAccessible(phone.page, 'accounts on a phone');
    await screenshot(phone.page, 'app-phone-accounts');

    // Sign-out revokes the refresh token (RFC 7009) and forgets the tokens.
    const revoked = phone.page.waitForResponse((res) => new URL(res.url()).pathname === '/auth/revoke');
    await phone.page.getByRole('button', { name: 'Sign out' }).click();
    expect((await revoked).status()).toBe(200);
    await phone.page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    expect([...phone.problems, ...alice.problems]).toEqual([]);
  });

  /** A user registered through the API (as the sign-up page does), with their user id. */
  const registerUser = async (prefix: string) => {
    const user = { username: `${prefix}-${randomUUID().slice(0, 8)}`, password: `pw-${randomUUID()}` };
    rememberSecret(user.password);
    const res = await http(system.baseUrl, 'POST', '/auth/register', { body: user });
    expect(res.status).toBe(201);
    return { ...user, userId: res.body.userId as string };
  };

  it('an admin opens an account for a user in the console, and the user sees it in the app', async () => {
    const user = await registerUser('opened-by-admin');
    const admin = await open();
    await signIn(admin.page, system.baseUrl, ADMIN, { product: 'console' });
    await openTab(admin.page, 'Accounts');
    await admin.page.getByLabel('Owner user id').fill(user.userId);
    await admin.page.getByRole('button', { name: 'Open a USD account' }).click();
    const opened = admin.page.getByText(/^Opened /);
    await opened.waitFor();
    await expectAccessible(admin.page, 'console admin open account');

    const customer = await open();
    await signIn(customer.page, system.baseUrl, user);
    const account = customer.page.locator('[data-account-id]').first();
    await account.locator('.money').waitFor();
    const accountId = (await account.getAttribute('data-account-id'))!;
    // The one the admin opened (the admin's notice shows its id).
    await expect(opened.textContent()).resolves.toContain(accountId);
    expect([...admin.problems, ...customer.problems]).toEqual([]);
  });

  it('history scrolls past its first page through the keyset cursor, without repeats or gaps', async () => {
    const user = await registerUser('scroller');
    const opened = await http(system.baseUrl, 'POST', '/accounts', {
      body: { currency: 'USD' },
      headers: { ...(await system.as(user)), 'idempotency-key': randomUUID() },
    });
    expect(opened.status).toBe(201);
    const accountId = opened.body.accountId as string;
    // More operations than one page (20): 25 transfers of 0.01..0.25 from alice.
    const count = 25;
    const aliceAuth = await system.as(ALICE);
    for (let i = 1; i <= count; i += 1) {
      const amount = `0.${String(i).padStart(2, '0')}`;
      const res = await http(system.baseUrl, 'POST', `/accounts/${ACCOUNT_A}/transfers`, {
        body: { recipientAccountId: accountId, amount, description: `scroll ${i}` },
        headers: { ...aliceAuth, 'idempotency-key': randomUUID() },
      });
      expect(res.status).toBe(201);
    }
    const userAuth = await system.as(user);
    const deadline = Date.now() + HISTORY_WAIT_MS;
    // The history is built from events: wait until all of them are there (second page included).
    for (;;) {
      const page2 = await http(system.baseUrl, 'GET', `/accounts/${accountId}/operations?limit=100`, { headers: userAuth });
      if (page2.status === 200 && (page2.body.items as unknown[]).length === count) break;
      if (Date.now() > deadline) throw new Error('the 25 operations did not reach the history in time');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }

    const customer = await open();
    await signIn(customer.page, system.baseUrl, user);
    await openTab(customer.page, 'History');
    const rows = customer.page.locator('li.operation');
    await rows.first().waitFor();
    // Scrolling to the end loads the next page (IntersectionObserver on the list's end).
    while ((await rows.count()) < count) {
      const before = await rows.count();
      await rows.last().scrollIntoViewIfNeeded();
      await expect.poll(() => rows.count(), { timeout: 20_000 }).toBeGreaterThan(before);
    }
    const texts = await rows.allTextContents();
    expect(texts).toHaveLength(count);
    // Newest first: "scroll 25" ... "scroll 1", each once.
    expect(texts.map((t) => Number(/scroll (\d+)/.exec(t)?.[1]))).toEqual(Array.from({ length: count }, (_, i) => count - i));
    expect(customer.problems).toEqual([]);
  });

  it('refreshes the access token silently before it expires and keeps working', async () => {
    const alice = await open();
    // The page's clock is fake from the start, so the refresh timer can be run without waiting minutes.
    await alice.page.clock.install();
    const issued = alice.page.waitForResponse((res) => new URL(res.url()).pathname === '/auth/token');
    await signIn(alice.page, system.baseUrl, ALICE);
    const { expires_in: expiresInSeconds } = (await (await issued).json()) as { expires_in: number };
    expect(expiresInSeconds).toBeGreaterThan(0);
    await alice.page.locator(`[data-account-id="${ACCOUNT_A}"] .money`).waitFor();

    const refreshed = alice.page.waitForRequest(
      (req) => new URL(req.url()).pathname === '/auth/token' && (req.postData() ?? '').includes('grant_type=refresh_token'),
    );
    // Jump to the expiry: due timers fire once (the refresh), and the refresh's own request deadline starts after the jump.
    await alice.page.clock.fastForward(expiresInSeconds * 1000);
    const refresh = await (await refreshed).response();
    expect(refresh?.status()).toBe(200);
    // Still signed in, and calls go on with the new token.
    await openTab(alice.page, 'History');
    await alice.page.locator('li.operation').first().waitFor();
    await openTab(alice.page, 'Accounts');
    await alice.page.locator(`[data-account-id="${ACCOUNT_A}"] .money`).waitFor();
    await alice.page.getByTestId('signed-in-user').filter({ hasText: ALICE.username }).waitFor();
    expect(alice.problems).toEqual([]);
  });

  it("a reload keeps the user signed in (the identity provider's session) where they were; sign-out ends it; another person's context is not affected", async () => {
    const alice = await open();
    await signIn(alice.page, system.baseUrl, ALICE);
    const bob = await open();
    await signIn(bob.page, system.baseUrl, BOB);
    const formPosts: string[] = [];
    alice.page.on('request', (req) => {
      if (req.method() === 'POST' && new URL(req.url()).pathname === '/auth/authorize') formPosts.push(req.url());
    });

    // Tokens live in memory: the reload loses them, and one silent sign-in (prompt=none) brings them back without the form.
    await openTab(alice.page, 'History');
    await alice.page.reload();
    await alice.page.getByTestId('signed-in-user').filter({ hasText: ALICE.username }).waitFor();
    expect(new URL(alice.page.url()).pathname).toBe('/app/history');
    // The same screen (whether or not earlier tests left operations in her history).
    await alice.page.locator('nav a[aria-current="page"]', { hasText: 'History' }).waitFor();
    await alice.page.goto(`${system.baseUrl}/app/`);
    await alice.page.locator(`[data-account-id="${ACCOUNT_A}"] .money`).waitFor();
    expect(formPosts).toEqual([]);
    expect(await alice.page.getByLabel('Password').count()).toBe(0);

    // Sign-out revokes the refresh token, then ends the provider's session and comes back signed out.
    const revoked = alice.page.waitForResponse((res) => new URL(res.url()).pathname === '/auth/revoke');
    const ended = alice.page.waitForResponse((res) => new URL(res.url()).pathname === '/auth/logout');
    await alice.page.getByRole('button', { name: 'Sign out' }).click();
    expect((await revoked).status()).toBe(200);
    const endSession = await ended;
    expect(endSession.status()).toBe(303);
    expect(new URL(endSession.url()).searchParams.get('post_logout_redirect_uri')).toBe(`${system.baseUrl}/app/`);
    await alice.page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    // A reload now finds no session: the silent attempt answers login_required, and the signed-out screen stays.
    const silent = alice.page.waitForResponse((res) => new URL(res.url()).pathname === '/auth/authorize' && new URL(res.url()).searchParams.get('prompt') === 'none');
    await alice.page.reload();
    expect((await silent).headers().location).toContain('error=login_required');
    await alice.page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    expect(await alice.page.getByTestId('signed-in-user').count()).toBe(0);
    expect(formPosts).toEqual([]);

    // Bob's browser (another context, its own cookie) is still signed in after a reload.
    await bob.page.reload();
    await bob.page.getByTestId('signed-in-user').filter({ hasText: BOB.username }).waitFor();
    await bob.page.locator(`[data-account-id="${ACCOUNT_B}"] .money`).waitFor();
    expect([...alice.problems, ...bob.problems]).toEqual([]);
  });

  it('a pending hold shows as pending in the app, and an admin sets a daily limit in the console', async () => {
    const user = await registerUser('holder');
    const userAuth = await system.as(user);
    const opened = await http(system.baseUrl, 'POST', '/accounts', { body: { currency: 'USD' }, headers: { ...userAuth, 'idempotency-key': randomUUID() } });
    expect(opened.status).toBe(201);
    const accountId = opened.body.accountId as string;
    const funded = await http(system.baseUrl, 'POST', `/accounts/${ACCOUNT_A}/transfers`, {
      body: { recipientAccountId: accountId, amount: '10.00' },
      headers: { ...(await system.as(ALICE)), 'idempotency-key': randomUUID() },
    });
    expect(funded.status).toBe(201);
    const hold = await http(system.baseUrl, 'POST', `/accounts/${accountId}/holds`, {
      body: { recipientAccountId: ACCOUNT_B, amount: '3.00', description: 'Hotel deposit' },
      headers: { ...userAuth, 'idempotency-key': randomUUID() },
    });
    expect(hold.status).toBe(201);

    const customer = await open();
    await signIn(customer.page, system.baseUrl, user);
    const account = customer.page.locator(`[data-account-id="${accountId}"]`);
    // Available 7.00 (posted 10.00, 3.00 held out).
    await account.locator('.money').filter({ hasText: '7.00' }).waitFor();
    await expect(account.locator('.balance-parts').textContent()).resolves.toMatch(/Pending\s*−3\.00.*Posted\s*10\.00/);
    await expectAccessible(customer.page, 'accounts with a pending hold');

    const admin = await open();
    await signIn(admin.page, system.baseUrl, ADMIN, { product: 'console' });
    await openTab(admin.page, 'Accounts');
    await admin.page.getByLabel('Account id or owner').fill(accountId);
    await admin.page.getByRole('button', { name: 'Find', exact: true }).click();
    const limits = admin.page.getByTestId('limits');
    await limits.getByText('Daily limit', { exact: true }).waitFor();
    await limits.getByLabel('Daily spending limit (USD)').fill('50');
    await limits.getByRole('button', { name: 'Save limits' }).click();
    await admin.page.getByTestId('limits-saved').waitFor();
    await expect(limits.locator('dl').textContent()).resolves.toMatch(/Daily limit50\.00 USD \(spent 3\.00 USD/);
    await expectAccessible(admin.page, 'console limits');
    const read = await http(system.baseUrl, 'GET', `/accounts/${accountId}/limits`, { headers: userAuth });
    expect(read.body).toMatchObject({ dailyLimit: '50.00', dailySpent: '3.00', dailyRemaining: '47.00' });
    expect([...customer.problems, ...admin.problems]).toEqual([]);
  });
});
