/**
 * The seed of a property test: PARLEY_TEST_SEED when set (to replay a failure), otherwise the
 * days since the epoch, so runs differ from one day to the next but a failure seen today replays
 * all day. Printed when the test starts, and added to the failure by `withSeed`.
 */
export function propertySeed(name: string): number {
  const given = process.env.PARLEY_TEST_SEED ?? process.env.PARLEY_PROPERTY_SEED;
  const seed = given !== undefined && given !== '' ? Number(given) : Math.floor(Date.now() / 86_400_000);
  if (!Number.isSafeInteger(seed)) throw new Error(`PARLEY_TEST_SEED=${given} is not a whole number`);
  console.log(`# ${name}: seed ${seed} (replay with PARLEY_TEST_SEED=${seed})`);
  return seed;
}

/** Runs a property; a failure says which seed to replay (fast-check's own report follows). */
export async function withSeed<T>(seed: number, run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof Error) err.message = `seed ${seed}: rerun with PARLEY_TEST_SEED=${seed}\n${err.message}`;
    throw err;
  }
}

/**
 * fast-check options bounding a property's time: shrinking a failure against a live server can
 * outlast any timeout, so past the limit the run stops and reports what it has (the failure, or
 * the interruption as one). The test itself gets PROPERTY_TEST_TIMEOUT_MS, above the limit.
 */
export const PROPERTY_TIME_LIMIT_MS = Number(process.env.PARLEY_PROPERTY_TIME_LIMIT_MS ?? 240_000);
export const PROPERTY_TEST_TIMEOUT_MS = PROPERTY_TIME_LIMIT_MS + 60_000;
export const boundedRun = { interruptAfterTimeLimit: PROPERTY_TIME_LIMIT_MS, markInterruptAsFailure: true } as const;
