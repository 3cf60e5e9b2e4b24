import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Parley, ParleyError, verifyWebhook } from '@parley/sdk';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { browserEngines } from './helpers/harness.js';
import { bootstrapKey, type ParleyProcess, sleep, spawnParley } from './helpers/processes.js';

/**
 * The web console end to end in a real browser: `parley serve` (what `npm start` runs) serves
 * /console, Debian's chromium (driven by playwright-core, never a downloaded browser) signs in with
 * the key the first start printed and uses every screen: search, filters, infinite scroll, a
 * conversation updating live while a message is appended over HTTP, rename, export, delete with
 * its confirmation, bulk delete, keys (create, shown once, revoke), the audit log, webhooks (enabled
 * and disabled), a retention policy (dry run of the form, save, run) and erasing a user (export
 * first, progress, receipt, the export downloaded). Every screen
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
declare function requestAnimationFrame(callback: () => void): number;
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

for (const engine of browserEngines()) {
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
      // webhooks may reach the test's receiver on 127.0.0.1; automatic retries wait an hour, so the
      // second attempt is the console's Retry
      env.PARLEY_WEBHOOKS_ALLOW_PRIVATE = 'true';
      env.PARLEY_WEBHOOKS_RETRY_BASE_SECONDS = '3600';
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
        // "Export first" downloads the server's export (JSONL, what import reads back)
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          dialog.getByRole('button', { name: 'Export first' }).click(),
        ]);
        assert.equal(download.suggestedFilename(), `parley-${ids.acme}.jsonl`);
        const records = readFileSync((await download.path()) as string, 'utf8')
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l));
        const conv = records.find((r) => r.type === 'conversation');
        assert.equal(conv.id, ids.acme);
        assert.equal(conv.title, 'Acme Series B (closed)');
        assert.deepEqual(
          records.filter((r) => r.type === 'message').map((m: { content: string }) => m.content),
          [
            'What do we know about the Acme Series B round?',
            'Acme raised 40 M in its Series B, led by Northwind.',
            'Update: the round closed today.',
          ],
        );
        const steps = records.filter((r) => r.type === 'tool_invocation');
        assert.equal(steps.length, 1);
        assert.equal(steps[0].tool_name, 'web_search');
        assert.deepEqual(records.at(-1), { type: 'end', conversations: 1, messages: 3, tool_invocations: 1 });
        await dialog.getByText(`Saved parley-${ids.acme}.jsonl with 3 messages.`).waitFor();
        // the trash is off (the default): the dialog says the delete cannot be undone
        assert.match(await text(dialog), /The trash is off in this workspace: this cannot be undone/);
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
        for (const a of [
          'api_key.revoked',
          'api_key.created',
          'conversation.deleted',
          'conversations.bulk_deleted',
          'conversation.renamed',
        ]) {
          assert.ok(actions.includes(a), `${a} in ${actions.join(', ')}`);
        }
        await check(page, engine, 'audit');
        await page.getByLabel('Action').selectOption('conversation.deleted');
        await page.waitForFunction(() =>
          [...document.querySelectorAll('tbody td[data-label="Action"]')].every(
            (td) => td.textContent === 'conversation.deleted',
          ),
        );
        // the single delete (the two of the bulk delete are one conversations.bulk_deleted event)
        assert.equal(await rows.count(), 1);
        assert.match(await text(rows.first()), /1 conversation, 3 messages, 1 tool invocation/);
        assert.deepEqual(await cspViolations(page), []);
      } finally {
        await context.close();
      }
    });

    test('1280 px: settings and the trash (the delete dialog names it; restore one, restore selected, purge now)', async () => {
      const { context, page } = await open(1280);
      try {
        await signIn(page);
        await page.getByRole('link', { name: 'Settings' }).click();
        await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
        const days = page.getByLabel('Days a deleted conversation stays in the trash');
        await page.waitForFunction(() => document.querySelector('#trash-days')?.value === '0');
        await check(page, engine, 'settings');
        await days.fill('7');
        await page.getByRole('button', { name: 'Save' }).click();
        await page.getByText('Deleted conversations now stay in the trash for 7 days.').waitFor();
        assert.equal((await api.workspaces.current()).trash_days, 7);

        const made: Record<string, string> = {};
        for (const t of ['Trash A', 'Trash B', 'Trash C']) {
          made[t] = (
            await api.conversations.create({ title: t, user_id: 'u7', messages: [{ role: 'user', content: t }] })
          ).id;
        }
        // the delete dialog says where it goes and for how long
        await page.goto(`${server.url}/console#/c/${made['Trash A']}`);
        await page.getByRole('heading', { level: 1, name: 'Trash A' }).waitFor();
        await page.getByRole('button', { name: 'Delete…' }).click();
        const dialog = page.getByRole('dialog', { name: 'Delete this conversation?' });
        await dialog.waitFor();
        assert.match(await text(dialog), /Trash A goes to the trash with everything it holds/);
        assert.match(await text(dialog), /restored from the Trash for 7 days; then it is erased for good/);
        await check(page, engine, 'delete-dialog-trash');
        await dialog.getByRole('button', { name: 'Delete conversation' }).click();
        await page.getByText('Moved “Trash A” to the trash.').waitFor();
        await api.conversations.bulkDelete({ ids: [made['Trash B']!, made['Trash C']!] });

        await page.getByRole('link', { name: 'Trash', exact: true }).click();
        await page.getByRole('heading', { level: 1, name: 'Trash' }).waitFor();
        await page.waitForFunction(() => document.querySelectorAll('.conv').length === 3);
        assert.match(await text(page.locator('.lead')), /stay here for 7 days/);
        const rowA = page.locator('.conv', { hasText: 'Trash A' });
        const purgeAt = (await api.trash.list().toArray()).find((t) => t.conversation.id === made['Trash A'])!.purge_at;
        assert.equal(await rowA.locator('.purge-at time').getAttribute('datetime'), purgeAt);
        await check(page, engine, 'trash');

        // restore one
        await page.getByRole('button', { name: 'Restore Trash A' }).click();
        await page.getByText('Restored “Trash A”.').waitFor();
        await page.waitForFunction(() => document.querySelectorAll('.conv').length === 2);
        assert.equal((await api.conversations.get(made['Trash A']!)).title, 'Trash A');
        // restore the selected ones
        await page.getByLabel('Select Trash B').check();
        await page.getByLabel('Select Trash C').check();
        await page.getByRole('button', { name: 'Restore selected' }).click();
        await page.getByText('Restored 2 conversations.').waitFor();
        await page.getByText('The trash is empty.').waitFor();
        for (const t of ['Trash B', 'Trash C']) assert.equal((await api.conversations.get(made[t]!)).title, t);

        // purge now, after a confirmation: erased for good, not restorable any more
        await api.conversations.delete(made['Trash B']!);
        await page.reload();
        await page.waitForFunction(() => document.querySelectorAll('.conv').length === 1);
        await page.getByRole('button', { name: 'Purge now…' }).click();
        const purge = page.getByRole('dialog', { name: 'Purge the trash now?' });
        assert.match(await text(purge), /Everything in the trash \(1 conversation\) is erased for good now/);
        assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Cancel');
        await check(page, engine, 'purge-dialog');
        await purge.getByRole('button', { name: 'Purge everything' }).click();
        await page.getByText('Erased 1 conversation (1 message) for good.').waitFor();
        await page.getByText('The trash is empty.').waitFor();
        await assert.rejects(
          api.conversations.restore(made['Trash B']!),
          (e) => e instanceof ParleyError && e.code === 'not_found',
        );
        assert.deepEqual(await cspViolations(page), []);
      } finally {
        await context.close();
      }
    });

    test('1280 px: a legal hold refuses the delete (catalog message, request id) until it is released', async () => {
      const { context, page } = await open(1280);
      try {
        const held = await api.conversations.create({
          title: 'Held matter',
          user_id: 'u9',
          messages: [{ role: 'user', content: 'Keep this one.' }],
        });
        await signIn(page);
        await page.getByRole('link', { name: 'Legal holds', exact: true }).click();
        await page.getByRole('heading', { level: 1, name: 'Legal holds' }).waitFor();
        await page.getByText('No active holds.').waitFor();
        await page.getByLabel('Covers').selectOption('conversation');
        await page.getByLabel('Id', { exact: true }).fill(held.id);
        await page.getByLabel('Reason').fill('Case 2026-17, litigation');
        await page.getByRole('button', { name: 'Place hold' }).click();
        await page.getByText(`Placed a legal hold on Conversation ${held.id}.`).waitFor();
        const row = page.locator('tbody tr', { hasText: 'Case 2026-17' });
        await row.waitFor();
        assert.match(await text(row), /active/);
        const [hold] = await api.holds.list().toArray();
        assert.equal(hold?.target_value, held.id);
        await check(page, engine, 'holds');

        // the conversation says it is held; Delete explains the hold, and the server's refusal is shown
        await row.getByRole('link', { name: held.id }).click();
        await page.getByRole('heading', { level: 1, name: 'Held matter' }).waitFor();
        await page.locator('.badge.held').waitFor();
        assert.match(await text(page.locator('.held-notice')), /Under legal hold.*Case 2026-17/s);
        await check(page, engine, 'conversation-held');
        await page.getByRole('button', { name: 'Delete…' }).click();
        const dialog = page.getByRole('dialog', { name: 'Delete this conversation?' });
        assert.match(await text(dialog), /A legal hold covers it \(Case 2026-17, litigation\)/);
        await dialog.getByRole('button', { name: 'Delete conversation' }).click();
        const refusal = dialog.getByRole('alert');
        await refusal.waitFor();
        assert.match(await text(refusal), /^Not deleted: /);
        assert.match(await text(refusal), /code legal_hold/);
        assert.match(await text(refusal), /request req_/);
        await check(page, engine, 'delete-refused-dialog');
        assert.equal((await api.conversations.get(held.id)).title, 'Held matter');
        await page.keyboard.press('Escape');
        await dialog.waitFor({ state: 'detached' });

        // release it (confirmed), then the delete goes through
        await page.getByRole('link', { name: 'Legal holds', exact: true }).click();
        await page.getByRole('button', { name: `Release hold on Conversation ${held.id}` }).click();
        const release = page.getByRole('dialog', { name: 'Release this legal hold?' });
        assert.match(await text(release), /Case 2026-17/);
        await check(page, engine, 'release-dialog');
        await release.getByRole('button', { name: 'Release hold' }).click();
        await page.getByText(`Released the hold on Conversation ${held.id}.`).waitFor();
        await page.getByText('No active holds.').waitFor();
        await page.getByLabel('Show released holds').check();
        await page
          .locator('tbody tr', { hasText: 'Case 2026-17' })
          .getByText(/^released/)
          .waitFor();
        assert.equal((await api.holds.get(hold!.id)).active, false);

        // an older answer arriving last does not replace a newer one: the screen's first list (active
        // holds only) is held back while "Show released holds" is ticked; once it has arrived, the
        // released hold is still what the table shows
        let heldBack = 0;
        const slowFirst = /\/v1\/holds\?.*include_released=false/;
        await page.route(slowFirst, async (route) => {
          heldBack++;
          await new Promise((r) => setTimeout(r, 1500));
          // the page may have given up on it meanwhile (the screen aborts a superseded list)
          await route.continue().catch(() => undefined);
        });
        // settled either way: answered (arriving last) or abandoned by the page
        const stale = new Promise<void>((resolve) => {
          const settled = (req: { url(): string }) => {
            if (slowFirst.test(req.url())) resolve();
          };
          page.on('requestfinished', settled);
          page.on('requestfailed', settled);
        });
        await page.getByRole('link', { name: 'Trash', exact: true }).click();
        await page.getByRole('heading', { level: 1, name: 'Trash' }).waitFor();
        await page.getByRole('link', { name: 'Legal holds', exact: true }).click();
        await page.getByLabel('Show released holds').check();
        const releasedRow = page.locator('tbody tr', { hasText: 'Case 2026-17' });
        await releasedRow.waitFor();
        await stale;
        await page.evaluate(
          () => new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))),
        );
        assert.equal(heldBack, 1, 'the first list was held back');
        assert.equal(await releasedRow.count(), 1, 'the released hold is still shown after the older answer arrived');
        await page.unroute(slowFirst);

        await page.goto(`${server.url}/console#/c/${held.id}`);
        await page.getByRole('heading', { level: 1, name: 'Held matter' }).waitFor();
        await page.getByText('Live', { exact: true }).waitFor();
        assert.equal(await page.locator('.badge.held').count(), 0);
        await page.getByRole('button', { name: 'Delete…' }).click();
        await page.getByRole('dialog').getByRole('button', { name: 'Delete conversation' }).click();
        await page.getByText('Moved “Held matter” to the trash.').waitFor();
        await assert.rejects(api.conversations.get(held.id), (e) => e instanceof ParleyError && e.code === 'not_found');
        assert.deepEqual(await cspViolations(page), []);
      } finally {
        await context.close();
      }
    });

    test('1280 px: webhooks (secret shown once and real, delivery log with retry, rotation, delete)', async () => {
      // a receiver that refuses the first delivery and takes the next ones
      const received: Array<{ headers: IncomingHttpHeaders; body: string; answered: number }> = [];
      const receiver = createServer((req, res) => {
        let body = '';
        req.on('data', (c) => {
          body += c;
        });
        req.on('end', () => {
          const answered = received.length === 0 ? 503 : 200;
          received.push({ headers: req.headers, body, answered });
          res.writeHead(answered).end();
        });
      });
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
      const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/parley`;
      const { context, page } = await open(1280);
      try {
        await signIn(page);
        await page.getByRole('link', { name: 'Webhooks' }).click();
        await page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();
        await page.getByText('No endpoints yet.').waitFor();
        await check(page, engine, 'webhooks');
        await page.getByLabel('URL').fill(hookUrl);
        await page.getByLabel('Description (optional)').fill('CRM sync');
        await page.getByLabel('All events, present and future').uncheck();
        await page.getByRole('checkbox', { name: 'conversation.created' }).check();
        await page.getByRole('button', { name: 'Add endpoint' }).click();
        const secret = (await text(page.locator('#new-secret'))).trim();
        assert.match(secret, /^whsec_/);
        await page.locator('tbody tr', { hasText: hookUrl }).waitFor();
        await check(page, engine, 'webhook-created');
        await page.getByRole('button', { name: 'Done, I stored it' }).click();
        assert.equal(await page.locator('#new-secret').count(), 0);
        // shown once: the API never hands it out again
        const [hook] = await api.webhooks.list().toArray();
        assert.deepEqual(hook?.events, ['conversation.created']);
        assert.ok(!JSON.stringify(await api.webhooks.get(hook!.id)).includes(secret));

        // an event: the first attempt is refused (503), the log says so, Retry delivers it
        await api.conversations.create({ title: 'Hooked' });
        for (let i = 0; i < 300 && received.length === 0; i++) await sleep(50);
        assert.equal(received.length, 1, 'the receiver got the first attempt');
        // the secret the page showed is the one that signs
        const event = await verifyWebhook(secret, received[0]!.headers as Record<string, string>, received[0]!.body);
        assert.equal(event.type, 'conversation.created');
        await page.getByRole('button', { name: `Deliveries to ${hookUrl}` }).click();
        const delivery = page.locator('.deliveries tbody tr').first();
        await delivery.getByText('HTTP 503').waitFor();
        assert.match(await text(delivery), /conversation\.created/);
        assert.match(await text(delivery), /pending/);
        await check(page, engine, 'webhook-deliveries');
        await delivery.getByRole('button', { name: /^Retry/ }).click();
        await delivery.getByText('delivered', { exact: true }).waitFor({ timeout: 15_000 });
        assert.equal(received.length, 2);
        assert.equal(received[1]!.headers['webhook-id'], received[0]!.headers['webhook-id']);

        // rotation: a new secret, shown once
        await page.getByRole('button', { name: `Rotate secret of ${hookUrl}` }).click();
        const rotate = page.getByRole('dialog', { name: 'Rotate the signing secret?' });
        await check(page, engine, 'rotate-dialog');
        await rotate.getByRole('button', { name: 'Rotate secret' }).click();
        await page.getByText(`Copy the new signing secret of ${hookUrl} now`).waitFor();
        const rotated = (await text(page.locator('#new-secret'))).trim();
        assert.match(rotated, /^whsec_/);
        assert.notEqual(rotated, secret);
        assert.match(await text(page.locator('.secret')), /The previous secret also signs/);
        await page.getByRole('button', { name: 'Done, I stored it' }).click();

        // disabled: an event meanwhile gets no delivery; enabled again: the next one is delivered
        await page.getByRole('button', { name: `Disable ${hookUrl}` }).click();
        await page.getByText(`Disabled the webhook endpoint ${hookUrl}.`).waitFor();
        const hookRow = page.locator('tbody tr', { hasText: hookUrl });
        await hookRow.getByText('disabled', { exact: true }).waitFor();
        assert.equal((await api.webhooks.get(hook!.id)).enabled, false);
        // focus stays on the button, which now enables
        assert.equal(
          await page.evaluate(() => document.activeElement?.getAttribute('aria-label')),
          `Enable ${hookUrl}`,
        );
        await check(page, engine, 'webhook-disabled');
        const quiet = await api.conversations.create({ title: 'While disabled' });
        // deliveries are recorded with the change itself: none was for the disabled endpoint
        assert.equal((await api.webhooks.deliveries(hook!.id).toArray()).length, 1);
        await page.keyboard.press('Enter');
        await page.getByText(`Enabled the webhook endpoint ${hookUrl}.`).waitFor();
        await hookRow.getByText('enabled', { exact: true }).waitFor();
        assert.equal((await api.webhooks.get(hook!.id)).enabled, true);
        const loud = await api.conversations.create({ title: 'After enabling' });
        for (let i = 0; i < 300 && received.length < 3; i++) await sleep(50);
        assert.equal(received.length, 3, 'the event after enabling was delivered');
        assert.equal(JSON.parse(received[2]!.body).data.conversation.id, loud.id);
        assert.ok(!received.some((r) => r.body.includes(quiet.id)), 'nothing of the disabled time was sent');

        // delete, confirmed
        await page.getByRole('button', { name: `Delete ${hookUrl}` }).click();
        await page
          .getByRole('dialog', { name: 'Delete this webhook endpoint?' })
          .getByRole('button', { name: 'Delete endpoint' })
          .click();
        await page.getByText('No endpoints yet.').waitFor();
        assert.deepEqual(await api.webhooks.list().toArray(), []);
        assert.deepEqual(await cspViolations(page), []);
      } finally {
        await context.close();
        await new Promise((r) => receiver.close(r));
      }
    });

    test('1280 px: retention (a wrong rule refused with its code, dry run of the form, save, run now, recent runs)', async () => {
      // two conversations nobody touched for 400 days (an import keeps their times)
      const longAgo = new Date(Date.now() - 400 * 86_400_000).toISOString();
      const old = (id: string, user: string) => ({
        type: 'conversation' as const,
        id,
        title: `Old ${user}`,
        user_id: user,
        bot_id: 'legacy',
        created_at: longAgo,
        updated_at: longAgo,
      });
      const stale = `conv_01HQ${'0'.repeat(21)}1`;
      const kept = `conv_01HQ${'0'.repeat(21)}2`;
      const report = await api.imports.send([
        { type: 'export', format: 'parley.export', version: 1, exported_at: new Date().toISOString() },
        old(stale, 'u-old'),
        old(kept, 'u-keep'),
        { type: 'end', conversations: 2, messages: 0, tool_invocations: 0 },
      ]);
      assert.equal(report.conversations.created, 2, JSON.stringify(report));
      const { context, page } = await open(1280);
      try {
        await signIn(page);
        await page.getByRole('link', { name: 'Retention' }).click();
        await page.getByRole('heading', { level: 1, name: 'Retention' }).waitFor();
        await page.getByText('no policy saved').waitFor();
        await page.getByText('No run yet.').waitFor();
        await check(page, engine, 'retention');

        // default: archive after 365 days; u-keep keeps 1000; the legacy bot's are deleted after 200
        await page.getByLabel('Action').first().selectOption('archive');
        await page.locator('#rule-default-days').fill('0');
        await page.getByRole('button', { name: 'Add an override' }).click();
        // the new row's first field has focus
        assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'SELECT');
        await page.keyboard.press('Tab');
        await page.keyboard.type('u-keep');
        const rows = page.locator('fieldset.rule-row:not(.default-rule)');
        await rows.nth(0).getByLabel('Action').selectOption('archive');
        await rows.nth(0).getByLabel('After days inactive').fill('1000');
        await page.getByRole('button', { name: 'Add an override' }).click();
        await rows.nth(1).getByLabel('For').selectOption('bot');
        await rows.nth(1).getByLabel('Bot id').fill('legacy');
        await rows.nth(1).getByLabel('Action').selectOption('delete');
        await rows.nth(1).getByLabel('After days inactive').fill('200');

        // 0 days: the server refuses the rule, and the page says why with the catalog's code
        await page.getByRole('button', { name: 'Dry run' }).click();
        const refusal = page.locator('form.policy').getByRole('alert');
        await refusal.waitFor();
        assert.match(await text(refusal), /code validation_failed/);
        assert.match(await text(refusal), /inactive_days/);
        assert.match(await text(refusal), /request req_/);
        await check(page, engine, 'retention-refused');
        await page.locator('#rule-default-days').fill('365');

        // the dry run of the form (not saved): the stale one would go, u-keep's rule keeps the other
        await page.getByRole('button', { name: 'Dry run' }).click();
        const dry = page.locator('.dry-run');
        await dry.waitFor();
        assert.match(await text(dry), /Would delete1/);
        assert.match(await text(dry), /Would archive0/);
        assert.deepEqual(await dry.locator('.sample a').allInnerTexts(), [stale]);
        assert.equal((await api.retention.get()).updated_at, null, 'a dry run saves nothing');
        await check(page, engine, 'retention-dry-run');

        // save: the dialog says what it would do now
        await page.getByRole('button', { name: 'Save policy…' }).click();
        const save = page.getByRole('dialog', { name: 'Save this retention policy?' });
        assert.match(await text(save), /would delete 1 conversation and archive 0 conversations/);
        // the settings test turned the trash on
        assert.match(await text(save), /Deleted conversations go to the trash, restorable for 7 days/);
        await check(page, engine, 'retention-save-dialog');
        await save.getByRole('button', { name: 'Save policy' }).click();
        await page.getByText('Saved the retention policy.').waitFor();
        const saved = await api.retention.get();
        assert.deepEqual(
          { default: saved.default, users: saved.users, bots: saved.bots },
          {
            default: { action: 'archive', inactive_days: 365 },
            users: { 'u-keep': { action: 'archive', inactive_days: 1000 } },
            bots: { legacy: { action: 'delete', inactive_days: 200 } },
          },
        );
        assert.match(await text(page.locator('.total')), /^saved /);

        // run now: the run shows in the recent runs with what it did
        await page.getByRole('button', { name: 'Run the saved policy now…' }).click();
        await page
          .getByRole('dialog', { name: 'Run the retention policy now?' })
          .getByRole('button', { name: 'Run now' })
          .click();
        await page.getByText('Retention run finished.').waitFor();
        const run = page.locator('.run').first();
        await run.getByText('succeeded').waitFor();
        assert.match(await text(run), /1 deleted, 0 archived, 0 held/);
        await check(page, engine, 'retention-ran');
        await assert.rejects(api.conversations.get(stale), (e) => e instanceof ParleyError && e.code === 'not_found');
        assert.equal((await api.conversations.get(kept)).archived, false);
        assert.deepEqual(await cspViolations(page), []);
      } finally {
        await context.close();
      }
    });

    test('1280 px: erase a user (a hold refuses it; export first, progress, receipt, the export downloaded)', async () => {
      const erased: string[] = [];
      for (const t of ['Erase me 1', 'Erase me 2']) {
        const c = await api.conversations.create({
          title: t,
          user_id: 'u-erase',
          messages: [
            { role: 'user', content: `${t}: my address is 1 Main St` },
            { role: 'assistant', content: 'Noted.' },
          ],
        });
        erased.push(c.id);
      }
      await api.conversations.create({
        title: 'Held user',
        user_id: 'u-held',
        messages: [{ role: 'user', content: 'x' }],
      });
      const hold = await api.holds.create({ target_type: 'user', target_value: 'u-held', reason: 'Case 9' });
      const { context, page } = await open(1280);
      try {
        await signIn(page);
        await page.getByRole('link', { name: 'Erase a user' }).click();
        await page.getByRole('heading', { level: 1, name: 'Erase a user' }).waitFor();
        await page.getByText('No user has been erased yet.').waitFor();
        await check(page, engine, 'erase');

        // a held user: the server refuses, and the dialog shows its catalog message
        await page.getByLabel('User id').fill('u-held');
        await page.getByRole('button', { name: 'Count their conversations' }).click();
        await page.getByText('has 1 conversation in view').waitFor();
        await page.getByRole('button', { name: 'Erase u-held…' }).click();
        const heldDialog = page.getByRole('dialog', { name: 'Erase user u-held?' });
        await heldDialog.getByRole('button', { name: 'Erase user' }).click();
        const refusal = heldDialog.getByRole('alert');
        await refusal.waitFor();
        assert.match(await text(refusal), /legal hold/i);
        assert.match(await text(refusal), /code legal_hold/);
        assert.match(await text(refusal), /request req_/);
        await check(page, engine, 'erase-refused-dialog');
        await page.keyboard.press('Escape');
        await heldDialog.waitFor({ state: 'detached' });
        assert.equal((await api.jobs.list({ kind: 'user.erase' }).toArray()).length, 0);

        // u-erase: counted, confirmed with export first, erased
        await page.getByLabel('User id').fill('u-erase');
        await page.getByRole('button', { name: 'Count their conversations' }).click();
        await page.getByText('has 2 conversations in view').waitFor();
        await page.getByRole('button', { name: 'Erase u-erase…' }).click();
        const dialog = page.getByRole('dialog', { name: 'Erase user u-erase?' });
        assert.match(await text(dialog), /2 conversations and those in the trash/);
        assert.equal(await dialog.getByLabel(/^Export first/).isChecked(), true);
        assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Cancel');
        await check(page, engine, 'erase-dialog');
        // the job's answer is queued: its progress bar shows before any poll (recorded as the page changes)
        await page.evaluate(() => {
          const w = window as unknown as { sawProgress: boolean };
          w.sawProgress = false;
          new window.MutationObserver(() => {
            if (document.querySelector('#erase-progress')) w.sawProgress = true;
          }).observe(document.body, { childList: true, subtree: true });
        });
        await dialog.getByRole('button', { name: 'Erase user' }).click();
        await page.getByRole('heading', { name: 'Receipt: u-erase erased' }).waitFor({ timeout: 30_000 });
        assert.equal(await page.evaluate(() => (window as unknown as { sawProgress: boolean }).sawProgress), true);
        const receipt = page.locator('.job');
        assert.deepEqual((await receipt.locator('.id-list code').allInnerTexts()).sort(), [...erased].sort());
        assert.match(await text(receipt.locator('.receipt')), /Conversations2Messages4/);
        const [job] = await api.jobs.list({ kind: 'user.erase' }).toArray();
        assert.equal(job?.state, 'succeeded');
        assert.match(await text(receipt.locator('.receipt')), new RegExp(`Job${job!.id}`));
        await check(page, engine, 'erase-receipt');

        // the export: fetched with the key in a header, saved from a blob: URL (never the key in a URL)
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.getByRole('button', { name: 'Download the export' }).click(),
        ]);
        assert.equal(download.suggestedFilename(), `erase-u-erase-${job!.id}.jsonl`);
        assert.match(download.url(), /^blob:/);
        const records = readFileSync((await download.path()) as string, 'utf8')
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l));
        assert.deepEqual(
          records
            .filter((r) => r.type === 'conversation')
            .map((r) => r.id)
            .sort(),
          [...erased].sort(),
        );
        assert.ok(records.some((r) => r.type === 'message' && r.content === 'Erase me 1: my address is 1 Main St'));
        assert.deepEqual(records.at(-1), { type: 'end', conversations: 2, messages: 4, tool_invocations: 0 });
        await page.locator('.job .ok').getByText(`erase-u-erase-${job!.id}.jsonl`).waitFor();

        // the past erasures list names it; the conversations are gone
        const row = page.locator('tbody tr', { hasText: 'u-erase' });
        await row.getByText('succeeded').waitFor();
        assert.match(await text(row), /2 conversations/);
        for (const id of erased) {
          await assert.rejects(api.conversations.get(id), (e) => e instanceof ParleyError && e.code === 'not_found');
        }
        assert.deepEqual(await cspViolations(page), []);
      } finally {
        await context.close();
        await api.holds.release(hold.id);
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
        for (let i = 0; i < 20 && (await page.evaluate(() => document.activeElement?.id)) !== 'search'; i++) {
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
        // an endpoint with a long URL, disabled (nothing is sent to it), for the webhooks cards
        await api.webhooks.create({
          url: `https://hooks.example.com/parley/${'a-rather-long-path-segment-'.repeat(3)}end`,
          events: ['*'],
          enabled: false,
        });
        // the lifecycle screens (the earlier tests left a conversation in the trash and a released hold)
        for (const [link, ready] of [
          ['Trash', '.conv'],
          ['Legal holds', '#create-hold-title'],
          ['Webhooks', '.table.hooks tbody tr'],
          ['Retention', '#policy-title'],
          ['Erase a user', '#erase-form-title'],
          ['Settings', '#trash-days'],
        ] as const) {
          await page.getByRole('link', { name: link, exact: true }).click();
          await page.getByRole('heading', { level: 1, name: link }).waitFor();
          await page.locator(ready).first().waitFor();
          await check(page, engine, link.toLowerCase().replaceAll(' ', '-'));
          // nothing is wider than the phone
          const wider = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
          assert.ok(wider <= 0, `${link}: the page is ${wider}px wider than the screen`);
        }
        // retention's saved policy as the earlier test left it, with a dry run's ids; an erase receipt
        await page.getByRole('link', { name: 'Retention', exact: true }).click();
        await page.locator('#rule-default-days').waitFor();
        await page.getByRole('button', { name: 'Dry run' }).focus();
        await page.keyboard.press('Enter');
        await page.locator('.dry-run').waitFor();
        await page.waitForFunction(() => document.activeElement?.id === 'dry-run-title');
        await check(page, engine, 'retention-dry-run');
        const dryWider = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
        assert.ok(dryWider <= 0, `retention dry run: the page is ${dryWider}px wider than the screen`);
        assert.match(await text(page.locator('.announce')), /^Dry run: /);
        await page.getByRole('link', { name: 'Erase a user', exact: true }).click();
        // another screen chosen from the menu does not carry the dry run's status line
        await page.getByRole('heading', { level: 1, name: 'Erase a user' }).waitFor();
        assert.equal(await text(page.locator('.announce')), '');
        const receiptButton = page.getByRole('button', { name: /^Receipt of u-erase/ });
        await receiptButton.focus();
        await page.keyboard.press('Enter');
        await page.getByRole('heading', { name: 'Receipt: u-erase erased' }).waitFor();
        await page.waitForFunction(() => document.activeElement?.id === 'job-title');
        await check(page, engine, 'erase-receipt');
        const receiptWider = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
        assert.ok(receiptWider <= 0, `erase receipt: the page is ${receiptWider}px wider than the screen`);
        // the holds table as cards (the released hold of the earlier test)
        await page.getByRole('link', { name: 'Legal holds', exact: true }).click();
        await page.getByLabel('Show released holds').check();
        await page.locator('tbody tr').first().waitFor();
        await check(page, engine, 'legal-holds-released');
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
