import { ParleyError } from '../../errors.js';
import { findBadText } from '../bad-text.js';
import { queryProblem } from '../strict-input.js';
import type { App } from '../types.js';

/**
 * Text the engines cannot store, anywhere in body, query or path, refused before the route
 * runs; and a native route that declares no query parameters refuses any, as a closed query
 * schema would.
 */
export function registerTextGuard(app: App): void {
  // callback-style: no promise per request for a check that never waits
  app.addHook('preValidation', (req, _reply, done) => {
    if (req.routeOptions.url?.startsWith('/v1/') && !req.routeOptions.schema?.querystring) {
      const unknown = Object.keys((req.query ?? {}) as Record<string, unknown>).slice(0, 20);
      if (unknown.length > 0) {
        const details = unknown.map((k) => ({ field: `/query/${k}`, message: 'is not a known field' }));
        return done(new ParleyError('validation_failed', `/query/${unknown[0]} is not a known field`, { details }));
      }
    }
    const undecodable = queryProblem(req.query);
    if (undecodable) return done(undecodable);
    const bad = findBadText(req.body, '/body') ?? findBadText(req.query, '/query') ?? findBadText(req.params, '/path');
    if (bad) return done(new ParleyError('validation_failed', `${bad.field} ${bad.message}`, { details: [bad] }));
    done();
  });
}
