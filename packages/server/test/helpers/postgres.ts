/** Placeholder until the PostgreSQL store lands: asking for it must fail loudly, never skip. */
export async function freshPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  throw new Error('PostgreSQL engine requested (PARLEY_TEST_ENGINES) but this build has no PostgreSQL store');
}
