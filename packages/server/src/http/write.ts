import type { FastifyReply, FastifyRequest } from 'fastify';
import type { WorkspaceWriter } from '../store/types.js';

/** Hands the write's transaction to the idempotency record, when the request carries a key. */
export type InTx = ((tx: WorkspaceWriter, result: unknown) => Promise<void>) | undefined;

export interface WriteOptions<T, B> {
  /** The status of the answer (a 204 sends no body). */
  status: number;
  /** The effect; passes `inTx` on to the service so the answer is stored in its transaction. */
  write: (inTx: InTx) => Promise<T>;
  /** The answer's body, from the write's result. */
  present: (result: T) => B;
  /** What the idempotency record keeps, when it must differ from the answer (never a secret). */
  stored?: (body: B) => unknown;
}

/**
 * Runs a write: when the request carries an Idempotency-Key, the presented answer is stored in
 * the same transaction as the effect. Returns the body for the route to send.
 */
export async function runWrite<T, B>(
  req: FastifyRequest,
  reply: FastifyReply,
  { status, write, present, stored = (b) => b }: WriteOptions<T, B>,
): Promise<B | undefined> {
  const idem = req.idem;
  let body: B | undefined;
  let presented = false;
  const inTx: InTx = idem
    ? async (tx, result) => {
        body = present(result as T);
        presented = true;
        await idem.complete(tx, status, status === 204 ? null : JSON.stringify(stored(body)), result);
      }
    : undefined;
  const result = await write(inTx);
  if (idem) idem.sealed = true;
  if (!presented) body = present(result);
  reply.code(status);
  return status === 204 ? undefined : body;
}
