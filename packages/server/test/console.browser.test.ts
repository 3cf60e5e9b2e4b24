import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Parley, ParleyError } from '@parley/sdk';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { testEngines } from './helpers/harness.js';
import { bootstrapKey, type ParleyProcess, sleep, spawnParley } from './helpers/processes.js';

/**
 * The web console end to end in a real browser: `parley serve` (what `npm start` runs) serves
 * /console, Debian's chromium (driven by playwright-core, never a downloaded browser) signs in with
 * the key the first start printed and uses every screen: search, filters, infinite scroll, a
 * conversation updating live while a message is appended over HTTP, rename, export, delete with
 * its confirmation, bulk delete, keys (create, shown once, revoke) and the audit log. Every screen
 * passes axe-core with no serious or critical violation, at 1280 px and at a 390 px phone width,
 * and the page's own Content-Security-Policy stays enforced (no violation is reported). Screenshots
 * of each screen at both widths go to test-artifacts/console/ (ignored by git).
 */
// The functions given to page.evaluate / waitForFunction run in the page, where these are globals;
// the server's tsconfig has no DOM library, so they are declared here, for this file only.
declare const window: any;
declare const document: any;
declare const sessionStorage: any;
declare const localStorage: any;
declare const innerWidth: number;
declare function getComputedStyle(e: unknown): { outlineStyle: string };
type Document = any;
type Element = any;

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../test-artifacts/console');

function chromiumPath(): string {
  const r = spawnSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' });
  const found = r.stdout.trim().split('\n')[0];
  if (!found) {
    throw new Error(
      'chromium is not installed: this test drives a real browser. Install it with `apt-get install -y chromium` ' +
        '(.ci/run does this in CI).',
    );
  }
  return found;
}

interface AxeResult {
  violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown }> }>;
}

/** axe-core on the page as it is now: no serious or critical violation; then a screenshot. */
async function check(page: Page, engine: string, name: string): Promise<void> {
  await page.evaluate(AXE);
  const result = (await page.evaluate(() =>
    (window as unknown as { axe: { run: (ctx: Document, o: object) => Promise<unknown> } }).axe.run(document, {
      resultTypes: ['violations'],
    }),
  )) as AxeResult;
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`),
    [],
    `axe on ${name} at ${page.viewportSize()?.width}px`,
  );
  mkdirSync(ARTIFACTS, { recursive: true });
  // a modal dialog's backdrop covers the viewport only: those are shot as the viewport shows them
  await page.screenshot({
    path: path.join(ARTIFACTS, `${engine}-${name}-${page.viewportSize()?.width}.png`),
    fullPage: !name.endsWith('dialog'),
  });
}

/** What an element shows (its text content; never null). */
async function text(locator: Locator): Promise<string> {
  return (await locator.textContent()) ?? '';
}

/** The Content-Security-Policy violations the page reported (recorded from before any script ran). */
async function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations);
}

for (const engine of testEngines()) {
  describe(`the console at /console in headless chromium [${engine}]`, { timeout: 300_000 }, () => {
    let server: ParleyProcess;
    let browser: Browser;
    let dropDb: (() => Promise<void>) | undefined;
    let key: string;
    let api: Parley;
    const ids: Record<string, string> = {};

    before(async () => {
      const env: Record<string, string> = {};
      if (engine === 'postgres') {
        const { freshPostgresDatabase } = await import('./helpers/postgres.js');
        const db = await freshPostgresDatabase();
        env.PARLEY_DATABASE_URL = db.url;
        dropDb = db.drop;
      }
      server = await spawnParley(env);
      // the key the first start prints is the one a new user pastes into the console
      for (let i = 0; i < 200 && !/^ {4}\S+$/m.test(server.output()); i++) await sleep(50);
      key = bootstrapKey(server.output());
      api = new Parley({ baseUrl: server.url, apiKey: key });

      const acme = await api.conversations.create({
        title: 'Acme Series B research',
        user_id: 'u1',
        bot_id: 'researcher',
        context: { deal_id: 'deal_9' },
        metadata: { channel: 'web' },
        messages: [
          { role: 'user', content: 'What do we know about the Acme Series B round?' },
          { role: 'assistant', content: 'Acme raised 40 M in its Series B, led by Northwind.' },
        ],
      });
      ids.acme = acme.id;
      await api.toolInvocations.create(acme.id, {
        tool_name: 'web_search',
        message_id: acme.messages[1]?.id,
        input: { query: 'Acme Series B' },
        output: { hits: 3, top: 'northwind.example/acme' },
        status: 'succeeded',
      });
      const refund = await api.conversations.create({
        title: 'Refund for order 1042',
        user_id: 'u2',
        bot_id: 'support',
        messages: [{ role: 'user', content: 'Can I get a refund for order 1042?' }],
      });
      ids.refund = refund.id;
      // enough for a second page (the console asks for 25 at a time)
      for (let i = 1; i <= 30; i++) {
        const c = await api.conversations.create({
          title: `Filler ${String(i).padStart(2, '0')}`,
          user_id: 'u3',
          messages: [{ role: 'user', content: `filler message ${i}` }],
        });
        ids[`filler${i}`] = c.id;
      }
      browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
    });

    after(async () => {
      await browser?.close();
      await server?.stop();
      await dropDb?.();
    });

    async function open(width: number): Promise<{ context: BrowserContext; page: Page }> {
      const context = await browser.newContext({
        viewport: { width, height: width > 800 ? 900 : 844 },
        acceptDownloads: true,
      });
      const page = await context.newPage();
      await page.addInitScript(() => {
        const w = window as unknown as { cspViolations: string[] };
        w.cspViolations = [];
        document.addEventListener('securitypolicyviolation', (e: { violatedDirective: string; blockedURI: string }) =>
          w.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`),
        );
      });
      await page.goto(`${server.url}/console`);
      return { context, page };
    }

    async function signIn(page: Page): Promise<void> {
      await page.getByLabel('API key').fill(key);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { level: 1, name: 'Conversations' }).waitFor();
    }

    test('1280 px: sign in, search, filters, scroll, a live conversation, rename, export, delete, bulk delete', async () => {
      const { context, page } = await open(1280);
      try {
        await check(page, engine, 'sign-in');
        // a wrong key is refused with the catalog's message, code and request id; nothing is stored
        await page.getByLabel('API key').fill('prl_not-a-real-key');
        await page.getByRole('button', { name: 'Sign in' }).click();
        const refusal = page.getByRole('alert');
        await refusal.waitFor();
        assert.match(await text(refusal), /invalid_key/);
        assert.match(await text(refusal), /request req_/);
        await check(page, engine, 'sign-in-error');

        await signIn(page);
        // the key is in this tab's session storage, and nowhere in the address
        assert.equal(await page.evaluate(() => sessionStorage.getItem('parley.console.key')), key);
        assert.equal(await page.evaluate(() => localStorage.length), 0);
        assert.ok(!page.url().includes(key));
        const total = page.locator('.total');
        await page.waitForFunction(() => document.querySelector('.total')?.textContent?.includes('32 conversations'));
        assert.equal(await page.locator('.conv').count(), 25);
        // keyset infinite scroll: the next page comes when the end of the list scrolls into view
        await page.getByRole('button', { name: 'Load more' }).scrollIntoViewIfNeeded();
        await page.waitForFunction(() => document.querySelectorAll('.conv').length === 32);
        await page.getByText('End of the list.').waitFor();
        await check(page, engine, 'conversations');

        // search as you type: the snippet highlights what matched
        await page.getByLabel('Search titles and messages').pressSequentially('northw', { delay: 30 });
        await page.waitForFunction(() =>
          document.querySelector('.total')?.textContent?.includes('1 match for “northw”'),
        );
        const hit = page.locator('.conv').first();
        assert.equal(await text(hit.locator('.conv-title')), 'Acme Series B research');
        assert.match(await text(hit.locator('mark').first()), /^northw/i);
        await check(page, engine, 'search');

        // filters: user id (combined with no search)
        await page.getByLabel('Search titles and messages').fill('');
        await page.getByRole('button', { name: /^Filters/ }).click();
        await page.getByLabel('User id').fill('u2');
        await page.waitForFunction(() => document.querySelector('.total')?.textContent === '1 conversation');
        await page.waitForFunction(() => document.querySelectorAll('.conv').length === 1);
        assert.equal(await text(page.locator('.conv-title')), 'Refund for order 1042');
        await check(page, engine, 'filters');
        await page.getByRole('button', { name: 'Clear filters' }).click();
        await page.waitForFunction(() => document.querySelector('.total')?.textContent === '32 conversations');
        assert.equal(await text(total), '32 conversations');

        // open a conversation found by search: messages, the tool step (collapsed, then opened), details
        await page.getByLabel('Search titles and messages').fill('acme');
        await page.getByRole('link', { name: 'Acme Series B research' }).click();
        await page.getByRole('heading', { level: 1, name: 'Acme Series B research' }).waitFor();
        await page.getByText('Live', { exact: true }).waitFor();
        assert.equal(await page.locator('.msg').count(), 2);
        const step = page.locator('.tool details');
        assert.equal(await step.getAttribute('open'), null);
        await step.locator('summary').click();
        assert.match(await text(step), /"query": "Acme Series B"/);
        assert.match(await text(step), /"hits": 3/);
        assert.match(await text(page.locator('.details')), /deal_9/);
        assert.match(await text(page.locator('.details')), /"channel": "web"/);

        // live: a message appended over HTTP while the page is open shows up without a reload
        await api.messages.append(ids.acme!, { role: 'assistant', content: 'Update: the round closed today.' });
        await page.getByText('Update: the round closed today.').waitFor();
        assert.equal(await page.locator('.msg').count(), 3);
        await page.getByText('3 messages · 1 tool step').waitFor();
        await check(page, engine, 'conversation');

        // rename
        await page.getByRole('button', { name: 'Rename' }).click();
        await page.getByLabel('Title').fill('Acme Series B (closed)');
        await page.getByRole('button', { name: 'Save' }).click();
        await page.getByRole('heading', { level: 1, name: 'Acme Series B (closed)' }).waitFor();
        assert.equal((await api.conversations.get(ids.acme!)).title, 'Acme Series B (closed)');

        // delete: the dialog says what goes and offers an export first
        await page.getByRole('button', { name: 'Delete…' }).click();
        const dialog = page.getByRole('dialog', { name: 'Delete this conversation?' });
        await dialog.waitFor();
        assert.match(await text(dialog), /3 messages/);
        assert.match(await text(dialog), /1 tool invocation/);
        // focus starts on the safe choice
        assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Cancel');
        await check(page, engine, 'delete-dialog');
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          dialog.getByRole('button', { name: 'Export JSON first' }).click(),
        ]);
        assert.equal(download.suggestedFilename(), `${ids.acme}.json`);
        const exported = JSON.parse(readFileSync((await download.path()) as string, 'utf8'));
        assert.equal(exported.conversation.id, ids.acme);
        assert.equal(exported.conversation.title, 'Acme Series B (closed)');
        assert.deepEqual(
          exported.messages.map((m: { content: string }) => m.content),
          [
            'What do we know about the Acme Series B round?',
            'Acme raised 40 M in its Series B, led by Northwind.',
            'Update: the round closed today.',
          ],
        );
        assert.equal(exported.tool_invocations.length, 1);
        assert.equal(exported.tool_invocations[0].tool_name, 'web_search');
        await dialog.getByText(`Saved ${ids.acme}.json with 3 messages.`).waitFor();
        await dialog.getByRole('button', { name: 'Delete conversation' }).click();
        await page.getByRole('heading', { level: 1, name: 'Conversations' }).waitFor();
        await page.getByText('Deleted “Acme Series B (closed)”.').waitFor();
        await assert.rejects(
          api.conversations.get(ids.acme!),
          (e) => e instanceof ParleyError && e.code === 'not_found',
        );

        // bulk: select two, confirm, each one's result
        await page.getByLabel('Search titles and messages').fill('');
        await page.waitForFunction(() => document.querySelector('.total')?.textContent === '31 conversations');
        await page.getByLabel('Select Filler 30').check();
        await page.getByLabel('Select Filler 29').check();
        await page.getByRole('button', { name: 'Delete selected…' }).click();
        const bulk = page.getByRole('dialog', { name: 'Delete 2 conversations?' });
        assert.match(await text(bulk), /2 conversations with 2 messages and 0 tool invocations/);
        await check(page, engine, 'bulk-delete-dialog');
        await bulk.getByRole('button', { name: 'Delete 2 conversations' }).click();
        await bulk.getByRole('button', { name: 'Close' }).waitFor();
        assert.equal(await bulk.locator('.result.deleted').count(), 2);
        await bulk.getByRole('button', { name: 'Close' }).click();
        await page.getByText('Deleted 2 conversations.').waitFor();
        assert.equal(await page.getByRole('link', { name: 'Filler 30' }).count(), 0);
        await page.getByText('29 conversations').waitFor();
        for (const id of [ids.filler30!, ids.filler29!]) {
          await assert.rejects(api.conversations.get(id), (e) => e instanceof ParleyError && e.code === 'not_found');
        }
        assert.deepEqual(await cspViolations(page), []);
      } finally {
        await context.close();
      }
    });

    test('1280 px: API keys (created, shown once, revoked) and the audit log', async () => {
      const { context, page } = await open(1280);
      try {
        await signIn(page);
        await page.getByRole('link', { name: 'API keys' }).click();
        await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
        await page.getByText('this session').waitFor();
        await check(page, engine, 'keys');
        await page.getByLabel('Name').fill('reporting');
        await page.getByRole('checkbox', { name: /write:ai/ }).check();
        await page.getByRole('button', { name: 'Create key' }).click();
        const secret = (await text(page.locator('#new-secret'))).trim();
        assert.match(secret, /^prl_/);
        await check(page, engine, 'key-created');
        // the key works, with the scopes chosen
        const reporting = new Parley({ baseUrl: server.url, apiKey: secret, maxRetries: 0 });
        await reporting.conversations.list({ per_page: 1 }).page();
        await page.getByRole('button', { name: 'Done, I stored it' }).click();
        assert.equal(await page.locator('#new-secret').count(), 0);

        await page.getByRole('button', { name: 'Revoke reporting' }).click();
        const dialog = page.getByRole('dialog', { name: 'Revoke “reporting”?' });
        await check(page, engine, 'revoke-dialog');
        await dialog.getByRole('button', { name: 'Revoke key' }).click();
        await page.getByText('Revoked key reporting.').waitFor();
        await page
          .locator('tr', { hasText: 'reporting' })
          .getByText(/^revoked/)
          .waitFor();
        await assert.rejects(
          reporting.conversations.list({ per_page: 1 }).page(),
          (e) => e instanceof ParleyError && e.code === 'invalid_key',
        );

        await page.getByRole('link', { name: 'Audit log' }).click();
        await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
        const rows = page.locator('tbody tr');
        await rows.first().waitFor();
        const actions = await page.locator('tbody td[data-label="Action"]').allInnerTexts();
        for (const a of ['api_key.revoked', 'api_key.created', 'conversation.deleted', 'conversation.renamed']) {
          assert.ok(actions.includes(a), `${a} in ${actions.join(', ')}`);
        }
        await check(page, engine, 'audit');
        await page.getByLabel('Action').selectOption('conversation.deleted');
        await page.waitForFunction(() =>
          [...document.querySelectorAll('tbody td[data-label="Action"]')].every(
            (td) => td.textContent === 'conversation.deleted',
          ),
        );
        assert.equal(await rows.count(), 3);
        assert.match(await text(rows.first()), /1 conversation, 1 message, 0 tool invocations/);
        assert.deepEqual(await cspViolations(page), []);
      } finally {
        await context.close();
      }
    });

    test('390 px, keyboard only: every screen reachable and readable on a phone', async () => {
      const { context, page } = await open(390);
      try {
        // sign in with the keyboard alone
        await page.keyboard.press('Tab');
        assert.equal(await page.evaluate(() => document.activeElement?.id), 'api-key');
        await page.keyboard.type(key);
        await page.keyboard.press('Enter');
        await page.getByRole('heading', { level: 1, name: 'Conversations' }).waitFor();
        await page.waitForFunction(() => document.querySelectorAll('.conv').length > 0);
        await check(page, engine, 'conversations');
        await page.getByLabel('Search titles and messages').fill('refund');
        await page.waitForFunction(() => document.querySelector('.total')?.textContent?.includes('1 match'));
        await check(page, engine, 'search');
        await page.getByLabel('Search titles and messages').fill('');
        await page.getByRole('button', { name: /^Filters/ }).click();
        await check(page, engine, 'filters');
        await page.getByRole('button', { name: /^Filters/ }).click();

        // after a reload (the session survives it, in this tab) the skip button comes first; Tab
        // then reaches the conversations
        await page.reload();
        await page.waitForFunction(() => document.querySelectorAll('.conv').length > 0);
        await page.keyboard.press('Tab');
        assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
        for (let i = 0; i < 10 && (await page.evaluate(() => document.activeElement?.id)) !== 'search'; i++) {
          await page.keyboard.press('Tab');
        }
        await page.keyboard.type('refund');
        await page.waitForFunction(() => document.querySelector('.total')?.textContent?.includes('1 match'));
        let focused = '';
        for (let i = 0; i < 10 && focused !== 'Refund for order 1042'; i++) {
          await page.keyboard.press('Tab');
          focused = await page.evaluate(() =>
            document.activeElement?.classList.contains('conv-title') ? (document.activeElement.textContent ?? '') : '',
          );
        }
        assert.equal(focused, 'Refund for order 1042');
        // the focus ring is visible
        const outline = await page.evaluate(() => getComputedStyle(document.activeElement as Element).outlineStyle);
        assert.equal(outline, 'solid');
        await page.keyboard.press('Enter');
        await page.getByRole('heading', { level: 1, name: 'Refund for order 1042' }).waitFor();
        // the new screen's heading has focus, so a screen reader announces it
        await page.waitForFunction(() => document.activeElement?.tagName === 'H1');
        await page.getByText('Live', { exact: true }).waitFor();
        await check(page, engine, 'conversation');

        // the delete dialog opens and closes with the keyboard, and focus returns to its button
        await page.getByRole('button', { name: 'Delete…' }).focus();
        await page.keyboard.press('Enter');
        await page.getByRole('dialog', { name: 'Delete this conversation?' }).waitFor();
        await check(page, engine, 'delete-dialog');
        await page.keyboard.press('Escape');
        await page.getByRole('dialog').waitFor({ state: 'detached' });
        assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Delete…');

        await page.getByRole('link', { name: 'API keys' }).click();
        await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
        await page.locator('tbody tr').first().waitFor();
        await check(page, engine, 'keys');
        await page.getByRole('link', { name: 'Audit log' }).click();
        await page.locator('tbody tr').first().waitFor();
        await check(page, engine, 'audit');
        // nothing is wider than the phone
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
        assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);

        await page.getByRole('button', { name: 'Sign out' }).click();
        await page.getByRole('heading', { level: 1, name: 'Sign in to the console' }).waitFor();
        assert.equal(await page.evaluate(() => sessionStorage.length), 0);
        await check(page, engine, 'sign-in');
        assert.deepEqual(await cspViolations(page), []);
      } finally {
        await context.close();
      }
    });
  });
}
