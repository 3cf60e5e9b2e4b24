/**
 * Names of the per-workspace counters behind O(1) `meta.total`: one set for live conversations,
 * one for archived ones, each by workspace, user and bot. The store keeps them in its write
 * transactions; bulk loaders (seed-data) add the same names once per batch.
 */
export function counterNames(c: { userId: string | null; botId: string | null }, archived: boolean): string[] {
  const names = archived ? ['archived'] : ['all'];
  if (c.userId !== null) names.push(archived ? `user_archived:${c.userId}` : `user:${c.userId}`);
  if (c.botId !== null) names.push(archived ? `bot_archived:${c.botId}` : `bot:${c.botId}`);
  return names;
}

/** Counter increments for a batch of new conversations, summed per (workspace, name). */
export function counterIncrements(
  batch: ReadonlyArray<{ workspaceId: string; userId: string | null; botId: string | null; archived: boolean }>,
): Array<{ workspaceId: string; name: string; value: number }> {
  const sums = new Map<string, { workspaceId: string; name: string; value: number }>();
  const bump = (workspaceId: string, name: string) => {
    const k = `${workspaceId}\u0000${name}`;
    const e = sums.get(k);
    if (e) e.value++;
    else sums.set(k, { workspaceId, name, value: 1 });
  };
  for (const c of batch) {
    for (const name of counterNames(c, false)) bump(c.workspaceId, name);
    if (c.archived) for (const name of counterNames(c, true)) bump(c.workspaceId, name);
  }
  return [...sums.values()];
}
