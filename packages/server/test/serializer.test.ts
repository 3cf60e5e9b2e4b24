import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Type } from 'typebox';
import { OneOf, RoleSchema } from '../src/http/schemas.js';
import { forSerialization, serializerFactory } from '../src/http/serializer.js';

describe('response serializer schemas', () => {
  test('a nullable closed list (enum) becomes a typeof test, its values kept for nothing else', () => {
    const nullable = Type.Union([OneOf(['auto', 'user']), Type.Null()]);
    assert.deepEqual(forSerialization(nullable), { type: ['string', 'null'] });
    assert.deepEqual(forSerialization(RoleSchema), { type: 'string', enum: ['user', 'assistant', 'system', 'tool'] });
  });

  test('objects holding enums serialize as declared', () => {
    const schema = Type.Object({ role: RoleSchema, source: Type.Union([OneOf(['auto', 'user']), Type.Null()]) });
    const build = serializerFactory()({}, {});
    const stringify = build({ schema }) as (v: unknown) => string;
    assert.equal(stringify({ role: 'tool', source: null }), '{"role":"tool","source":null}');
    assert.equal(stringify({ role: 'user', source: 'auto' }), '{"role":"user","source":"auto"}');
  });
});
