// `parley webhooks list|create|delete|rotate|deliveries|retry`: the workspace's webhook endpoints.
import type { Schemas } from '@parley/sdk';
import type { Command } from 'commander';
import { type Column, fail, printJson } from '../output.js';
import { type ListOptions, listOptions, printPages, type RemoteOptions, remoteOptions, withServer } from './client.js';

type Webhook = Schemas['Webhook'];
type Delivery = Schemas['WebhookDelivery'];

const when = (iso: string | null) => (iso === null ? null : iso.slice(0, 19).replace('T', ' '));

const COLUMNS: Column<Webhook>[] = [
  { header: 'ID', value: (w) => w.id, fixed: true },
  { header: 'STATE', value: (w) => (w.enabled ? 'enabled' : 'disabled') },
  { header: 'EVENTS', value: (w) => w.events.join(',') },
  { header: 'URL', value: (w) => w.url, flex: true },
  { header: 'DESCRIPTION', value: (w) => w.description, flex: true },
];

const DELIVERY_COLUMNS: Column<Delivery>[] = [
  { header: 'ID', value: (d) => d.id, fixed: true },
  { header: 'CREATED', value: (d) => when(d.created_at) },
  { header: 'EVENT', value: (d) => d.event_type },
  { header: 'STATE', value: (d) => d.state },
  { header: 'TRIES', value: (d) => d.attempts, align: 'right' },
  { header: 'LAST', value: (d) => d.last_error ?? d.last_status },
  { header: 'NEXT', value: (d) => when(d.next_attempt_at) },
];

async function list(opts: ListOptions) {
  await printPages(opts, 50, COLUMNS, 'webhooks', (parley, limit) => parley.webhooks.list({ limit }));
}

function secretShown(made: { webhook: { id: string }; secret: string | null }, json?: boolean) {
  if (json) printJson(made);
  else process.stdout.write(`webhook ${made.webhook.id}\nsecret (shown once): ${made.secret}\n`);
}

async function create(
  endpoint: string,
  opts: RemoteOptions & { events?: string; description?: string; disabled?: boolean; json?: boolean },
) {
  const events = (opts.events ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e.length > 0);
  if (events.length === 0) fail('webhooks create needs --events, e.g. --events conversation.deleted,user.erased or *');
  await withServer(opts, async (parley) => {
    const made = await parley.webhooks.create({
      url: endpoint,
      events,
      description: opts.description,
      enabled: opts.disabled ? false : undefined,
    });
    secretShown(made, opts.json);
  });
}

async function remove(id: string, opts: RemoteOptions & { json?: boolean }) {
  await withServer(opts, async (parley) => {
    await parley.webhooks.delete(id);
    if (opts.json) printJson({ id, deleted: true });
    else process.stdout.write(`deleted ${id}\n`);
  });
}

async function rotate(id: string, opts: RemoteOptions & { json?: boolean }) {
  await withServer(opts, async (parley) => {
    const made = await parley.webhooks.rotateSecret(id);
    secretShown(made, opts.json);
    if (!opts.json && made.webhook.previous_secret_expires_at) {
      process.stderr.write(`the previous secret still signs until ${made.webhook.previous_secret_expires_at}\n`);
    }
  });
}

async function deliveries(id: string, opts: ListOptions) {
  await printPages(opts, 50, DELIVERY_COLUMNS, 'deliveries', (parley, limit) =>
    parley.webhooks.deliveries(id, { limit }),
  );
}

async function retry(id: string, deliveryId: string, opts: RemoteOptions & { json?: boolean }) {
  await withServer(opts, async (parley) => {
    const d = await parley.webhooks.retryDelivery(id, deliveryId);
    if (opts.json) printJson(d);
    else process.stdout.write(`delivery ${d.id} queued again (${d.state})\n`);
  });
}

export function registerWebhooks(program: Command): void {
  const hooks = program
    .command('webhooks')
    .description('webhook endpoints of the workspace: signed POSTs for conversation and lifecycle events (admin key)');
  listOptions(remoteOptions(hooks.command('list').description('the endpoints')), 50).action((opts: ListOptions) =>
    list(opts),
  );
  remoteOptions(
    hooks
      .command('create')
      .argument('<endpoint>', 'the http(s) URL that receives the POSTs')
      .description('add an endpoint; prints its signing secret once')
      .option('--events <list>', 'event types, comma-separated, or * for every type')
      .option('--description <text>', 'a note for people')
      .option('--disabled', 'create it disabled')
      .option('--json', 'print {"webhook", "secret"}'),
  ).action((endpoint: string, opts) => create(endpoint, opts));
  remoteOptions(
    hooks
      .command('delete')
      .argument('<id>', 'webhook id')
      .description('remove an endpoint (its pending deliveries stop)')
      .option('--json', 'print {"id", "deleted": true}'),
  ).action((id: string, opts) => remove(id, opts));
  remoteOptions(
    hooks
      .command('rotate')
      .argument('<id>', 'webhook id')
      .description('a new signing secret, shown once; the old one keeps signing for the overlap window')
      .option('--json', 'print {"webhook", "secret"}'),
  ).action((id: string, opts) => rotate(id, opts));
  listOptions(
    remoteOptions(
      hooks
        .command('deliveries')
        .argument('<id>', 'webhook id')
        .description('the delivery log of an endpoint, newest first'),
    ),
    50,
  ).action((id: string, opts: ListOptions) => deliveries(id, opts));
  remoteOptions(
    hooks
      .command('retry')
      .argument('<id>', 'webhook id')
      .argument('<delivery_id>', 'delivery id')
      .description('send a delivery again now')
      .option('--json', 'print the delivery'),
  ).action((id: string, deliveryId: string, opts) => retry(id, deliveryId, opts));
}
