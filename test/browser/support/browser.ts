// The browser side of the browser tests: Debian's Chromium driven by
// playwright-core (headless), sign-in through the real PKCE pages, axe-core
// checks, CSP violation capture and the screenshots of `npm run screenshots`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { chromiumArgs, findChromium } from '../../../scripts/lib/chromium.mjs';
import type { Credentials } from '../../e2e/harness.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
const BUILD_TIMEOUT_MS = 180_000;
/** Bound of one browser wait (navigation, a selector); generous for a loaded 2-core machine. */
export const STEP_TIMEOUT_MS = 20_000;
export const PHONE_VIEWPORT = { width: 390, height: 844 };
export const DESKTOP_VIEWPORT = { width: 1280, height: 900 };

/** Newest modification time (ms) of the files under `path` (a file or a folder). */
function newestMtimeMs(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestMtimeMs(join(path, name))), 0);
}

/** Builds apps/web when its dist is missing or older than its sources (the gateway serves it from there). */
export function ensureWebAppBuilt(): void {
  const web = join(root, 'apps', 'web');
  const built = join(web, 'dist', 'index.html');
  const sources = ['src', 'index.html', 'vite.config.ts', 'package.json'].map((name) => join(web, name)).filter((path) => existsSync(path));
  // A stale build would test yesterday's app against today's API.
  if (existsSync(built) && statSync(built).mtimeMs >= Math.max(...sources.map(newestMtimeMs))) return;
  const result = spawnSync('npm', ['run', 'build', '-w', '@wallet/web'], { cwd: root, stdio: 'inherit', timeout: BUILD_TIMEOUT_MS });
  if (result.status !== 0) throw new Error(`building apps/web failed (exit ${result.status ?? result.signal})`);
}

export async function launchBrowser(): Promise<Browser> {
  const executablePath = findChromium({ log: (line) => console.log(line) });
  if (!executablePath) throw new Error('no Chromium: install Debian\'s chromium package or set CHROMIUM_BIN');
  return chromium.launch({ executablePath, headless: true, args: chromiumArgs(), timeout: 60_000 });
}

export interface UserPage {
  context: BrowserContext;
  page: Page;
  /** CSP violations and uncaught page errors seen so far (must stay empty). */
  problems: string[];
}

/** A fresh browser context (its own cookies and storage: another person). */
export async function newUserPage(browser: Browser, viewport = DESKTOP_VIEWPORT): Promise<UserPage> {
  const context = await browser.newContext({ viewport, locale: 'en-US', timezoneId: 'UTC', reducedMotion: 'reduce' });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`CSP: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return { context, page, problems };
}

/**
 * Signs in through the app's "Sign in" (or "Create an account") button: the
 * identity-service's page (via the gateway), a form post, the redirect back
 * with the code, the code exchange; resolves once the app shows the user.
 * The page load first tries a silent sign-in (prompt=none): when this browser
 * context already has an identity-provider session of this user (the app
 * signed in before the console), that alone signs in.
 */
export async function signIn(page: Page, baseUrl: string, user: Credentials, options: { product?: 'app' | 'console'; signUp?: boolean } = {}): Promise<void> {
  const product = options.product ?? 'app';
  await page.goto(`${baseUrl}/${product}/`);
  const button = page.getByRole('button', { name: options.signUp ? 'Create an account' : 'Sign in', exact: true });
  const signedIn = page.getByTestId('signed-in-user').filter({ hasText: user.username });
  await button.or(signedIn).first().waitFor();
  if (!options.signUp && (await signedIn.count()) > 0) return;
  await button.click();
  await page.waitForURL(/\/auth\/authorize\?/);
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: options.signUp ? 'Create account' : 'Sign in', exact: true }).click();
  await page.waitForURL(new RegExp(`/${product}/(?!callback)`));
  await page.getByTestId('signed-in-user').filter({ hasText: user.username }).waitFor();
}

/** Navigates inside the app by its menu (no reload: tokens live in memory). */
export async function openTab(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * axe-core's WCAG 2.1 A/AA rules on the page as it is now. Injected through
 * the DevTools protocol (page.evaluate), not a <script>: the app's CSP
 * refuses inline scripts, and must keep doing so.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (context: unknown, options: unknown) => Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
    // In the page: `document` is the page's (this file is type-checked without the DOM library).
    const result = await axe.run((globalThis as unknown as { document: unknown }).document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
  });
}

/** Writes a screenshot when WALLET_SCREENSHOTS_DIR is set (`npm run screenshots`); otherwise nothing. */
export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = process.env.WALLET_SCREENSHOTS_DIR;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true, animations: 'disabled' });
}
