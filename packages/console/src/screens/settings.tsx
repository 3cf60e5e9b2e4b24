import { useEffect, useState } from 'preact/hooks';
import { toProblem } from '../api.js';
import { useConsole } from '../context.js';
import { plural, when } from '../format.js';
import { ErrorBanner, Field, PageTitle, useAction } from '../ui.js';

// the server's bound (services/trash.ts); it refuses more with validation_failed anyway
const TRASH_DAYS_MAX = 3650;

export function SettingsScreen() {
  const { client, workspace, setWorkspace, announce } = useConsole();
  const [days, setDays] = useState(workspace ? String(workspace.trash_days) : '');
  const { busy, problem, setProblem, run } = useAction();

  useEffect(() => {
    client.workspaces.current().then(
      (w) => {
        setWorkspace(w);
        setDays(String(w.trash_days));
      },
      (e) => setProblem(toProblem(e)),
    );
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    const n = Number(days);
    if (!/^\d+$/.test(days.trim()) || n > TRASH_DAYS_MAX) {
      setProblem({ message: `Trash days must be a whole number from 0 to ${TRASH_DAYS_MAX}.` });
      return;
    }
    await run(async () => {
      const w = await client.workspaces.updateCurrent({ trash_days: n });
      setWorkspace(w);
      announce(
        w.trash_days === 0
          ? 'Trash turned off: deletes now erase at once.'
          : `Deleted conversations now stay in the trash for ${plural(w.trash_days, 'day')}.`,
      );
    });
  };

  return (
    <section class="screen">
      <div class="screen-head">
        <PageTitle>Settings</PageTitle>
      </div>
      {workspace ? (
        <dl class="facts">
          <dt>Workspace</dt>
          <dd>{workspace.name}</dd>
          <dt>Id</dt>
          <dd>
            <code>{workspace.id}</code>
          </dd>
          <dt>Created</dt>
          <dd>{when(workspace.created_at)}</dd>
        </dl>
      ) : null}
      <form class="panel settings" onSubmit={submit} aria-labelledby="trash-title">
        <h2 id="trash-title">Trash</h2>
        <Field
          id="trash-days"
          label="Days a deleted conversation stays in the trash"
          hint={`0 turns the trash off: a delete erases at once. Up to ${TRASH_DAYS_MAX}. A change applies to conversations deleted from now on; purge times already set stay.`}
        >
          <input
            id="trash-days"
            type="number"
            inputMode="numeric"
            min={0}
            max={TRASH_DAYS_MAX}
            required
            value={days}
            aria-describedby="trash-days-hint"
            onInput={(e) => setDays(e.currentTarget.value)}
          />
        </Field>
        <ErrorBanner problem={problem} />
        <button type="submit" class="primary" disabled={busy || !workspace}>
          {busy ? 'Saving…' : 'Save'}
        </button>
      </form>
    </section>
  );
}
