// The SDK's generated files stay what the server's route schemas say, and every native operation
// has an SDK method. Regenerates in-process (a throwaway SQLite directory) and compares.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { buildNativeSpec, renderTypes, SPEC_FILE, specText, TYPES_FILE } from '../../sdk/scripts/generate.js';
import { OPERATIONS, Parley } from '../../sdk/src/index.js';

const HINT = 'run npm run -w @parley/sdk generate (and commit packages/sdk/openapi.json and src/generated/openapi.ts)';
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

describe('@parley/sdk generated files', () => {
  let spec: Awaited<ReturnType<typeof buildNativeSpec>>;
  before(async () => {
    spec = await buildNativeSpec();
  });

  test('packages/sdk/openapi.json equals the spec of the current server code', () => {
    assert.ok(readFileSync(SPEC_FILE, 'utf8') === specText(spec), `packages/sdk/openapi.json is stale: ${HINT}`);
  });

  test('src/generated/openapi.ts equals openapi-typescript over that spec', async () => {
    assert.ok(readFileSync(TYPES_FILE, 'utf8') === (await renderTypes(spec)), `generated types are stale: ${HINT}`);
  });

  test('the spec holds the native API only, and every native operation has an SDK method', () => {
    const ops = Object.entries(spec.paths).flatMap(([p, item]) =>
      Object.keys(item)
        .filter((m) => METHODS.includes(m))
        .map((m) => `${m.toUpperCase()} ${p}`),
    );
    assert.ok(ops.includes('POST /v1/conversations'));
    assert.ok(!ops.some((o) => / \/v1\/(lexi|chat)\//.test(o)), 'compat surfaces are not native');
    const table = Object.keys(OPERATIONS);
    assert.deepEqual(
      ops.filter((o) => !table.includes(o)),
      [],
      'native operations without an SDK method: add them to packages/sdk/src/operations.ts and the client',
    );
    assert.deepEqual(
      table.filter((o) => !ops.includes(o)),
      [],
      'SDK operations the server no longer has',
    );
    const client = new Parley({ baseUrl: 'http://127.0.0.1:1', apiKey: 'prl_x' }) as unknown as Record<
      string,
      Record<string, unknown>
    >;
    for (const [op, name] of Object.entries(OPERATIONS)) {
      const [ns, method] = name.split('.') as [string, string];
      assert.equal(typeof client[ns]?.[method], 'function', `${op}: parley.${name} is not a method`);
    }
  });
});
