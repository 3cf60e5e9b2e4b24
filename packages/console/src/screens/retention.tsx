import { useEffect, useState } from 'preact/hooks';
import { type DryRun, type Job, type Problem, type RetentionPolicy, type RetentionRule, toProblem } from '../api.js';
import { useConsole } from '../context.js';
import { num, plural, when } from '../format.js';
import { href } from '../router.js';
import { Confirm, ErrorBanner, PageTitle, useAction } from '../ui.js';

type Action = RetentionRule['action'];
type Policy = Omit<RetentionPolicy, 'updated_at'>;

/** A rule as the form holds it: the days stay text until sent, so the server's message names a bad one. */
interface Draft {
  action: Action | 'none';
  days: string;
}
interface Override extends Draft {
  /** Stable across edits and removals, for keys and ids. */
  n: number;
  kind: 'user' | 'bot';
  id: string;
}

const ACTIONS: Array<[Action, string]> = [
  ['archive', 'Archive'],
  ['delete', 'Delete'],
];

let next = 0;

const toDraft = (r: RetentionRule | null): Draft =>
  r ? { action: r.action, days: String(r.inactive_days) } : { action: 'none', days: '' };

function overridesOf(p: Policy): Override[] {
  const rows = (kind: Override['kind'], m: Record<string, RetentionRule>) =>
    Object.entries(m).map(([id, r]) => ({ n: next++, kind, id, action: r.action, days: String(r.inactive_days) }));
  return [...rows('user', p.users), ...rows('bot', p.bots)];
}

/** The form as the API's policy. Days are sent as typed (a number), and the server judges them. */
function toPolicy(def: Draft, rows: Override[]): Policy {
  const rule = (d: Draft): RetentionRule => ({
    action: d.action === 'none' ? 'archive' : d.action,
    inactive_days: d.days.trim() === '' ? Number.NaN : Number(d.days),
  });
  const policy: Policy = { default: def.action === 'none' ? null : rule(def), users: {}, bots: {} };
  for (const r of rows) {
    if (r.action === 'none') continue;
    (r.kind === 'user' ? policy.users : policy.bots)[r.id.trim()] = rule(r);
  }
  return policy;
}

/** Form mistakes the server cannot see (two rules for one id, an override without an id). */
function formProblem(rows: Override[]): Problem | null {
  const seen = new Set<string>();
  for (const r of rows) {
    const id = r.id.trim();
    if (!id) return { message: `Each override needs a ${r.kind} id (or remove the row).` };
    const k = `${r.kind}:${id}`;
    if (seen.has(k)) return { message: `Two overrides name ${r.kind} ${id}: keep one.` };
    seen.add(k);
  }
  return null;
}

export function RetentionScreen() {
  const { client, announce, workspace } = useConsole();
  const [loaded, setLoaded] = useState<RetentionPolicy | null>(null);
  const [def, setDef] = useState<Draft>({ action: 'none', days: '' });
  const [rows, setRows] = useState<Override[]>([]);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [dry, setDry] = useState<{ result: DryRun; policy: Policy } | null>(null);
  const [saving, setSaving] = useState<{ result: DryRun; policy: Policy } | null>(null);
  const [running, setRunning] = useState(false);
  const [runs, setRuns] = useState<Job[] | null>(null);
  const action = useAction();
  const [tried, setTried] = useState<'dry' | 'save'>('save');

  const loadRuns = async () => {
    try {
      setRuns((await client.jobs.list({ kind: 'retention.run', limit: 10 }).page()).data);
    } catch (e) {
      setProblem(toProblem(e));
    }
  };
  useEffect(() => {
    client.retention.get().then(
      (p) => {
        setLoaded(p);
        setDef(toDraft(p.default));
        setRows(overridesOf(p));
      },
      (e) => setProblem(toProblem(e)),
    );
    void loadRuns();
  }, []);

  const edit = (n: number, change: Partial<Override>) =>
    setRows((prev) => prev.map((r) => (r.n === n ? { ...r, ...change } : r)));
  const add = () => {
    const n = next++;
    setRows((prev) => [...prev, { n, kind: 'user', id: '', action: 'archive', days: '' }]);
    // the new row's first field takes focus, so a keyboard user carries on typing there
    requestAnimationFrame(() => document.getElementById(`rule-${n}-kind`)?.focus());
  };
  const remove = (n: number, index: number) => {
    setRows((prev) => prev.filter((r) => r.n !== n));
    // focus goes to the row that takes its place, else to Add
    requestAnimationFrame(() => {
      const rest = document.querySelectorAll<HTMLElement>('.rule-row select[id$="-kind"]');
      (rest[Math.min(index, rest.length - 1)] ?? document.getElementById('add-override'))?.focus();
    });
  };

  /** The dry run of what the form says now (not saved); null when the form itself is wrong. */
  const tryDraft = async (): Promise<{ result: DryRun; policy: Policy } | null> => {
    const wrong = formProblem(rows);
    if (wrong) {
      action.setProblem(wrong);
      return null;
    }
    const policy = toPolicy(def, rows);
    const result = (await client.retention.run({ dryRun: true, policy })) as DryRun;
    return { result, policy };
  };

  const onDryRun = () => {
    setTried('dry');
    return action.run(async () => {
      const d = await tryDraft();
      if (!d) return;
      setDry(d);
      announce(`Dry run: ${summary(d.result)}.`);
      requestAnimationFrame(() => document.getElementById('dry-run-title')?.focus());
    });
  };
  const onSave = (e: Event) => {
    e.preventDefault();
    setTried('save');
    void action.run(async () => {
      const d = await tryDraft();
      if (d) setSaving(d);
    });
  };

  const none = def.action === 'none' && rows.length === 0;
  return (
    <section class="screen">
      <div class="screen-head">
        <PageTitle>Retention</PageTitle>
        <p class="total">
          {loaded ? (loaded.updated_at ? `saved ${when(loaded.updated_at)}` : 'no policy saved') : ' '}
        </p>
      </div>
      <p class="muted lead">
        Conversations nobody has updated for a rule's number of days are archived or deleted (a delete goes to the trash
        when the workspace keeps one). A user's rule wins over a bot's, a bot's over the default. Held conversations are
        skipped. The server enforces the saved policy on its own schedule, and when you run it now.
      </p>
      <ErrorBanner problem={problem} />
      <div class="keys-layout">
        <div>
          <form class="panel policy" onSubmit={onSave} aria-labelledby="policy-title" novalidate>
            <h2 id="policy-title">Policy</h2>
            <fieldset class="rule-row default-rule">
              <legend>Default rule (every other conversation)</legend>
              <RuleFields
                prefix="rule-default"
                draft={def}
                onChange={(c) => setDef((d) => ({ ...d, ...c }))}
                allowNone
              />
            </fieldset>
            <h3 class="overrides-title">Overrides</h3>
            {rows.length === 0 ? <p class="muted small">No override: the default rule applies to everyone.</p> : null}
            {rows.map((r, i) => (
              <fieldset class="rule-row" key={r.n}>
                <legend>
                  Override {i + 1}
                  {r.id.trim() ? `: ${r.kind} ${r.id.trim()}` : ''}
                </legend>
                <div class="rule-field">
                  <label for={`rule-${r.n}-kind`}>For</label>
                  <select
                    id={`rule-${r.n}-kind`}
                    value={r.kind}
                    onChange={(e) => edit(r.n, { kind: e.currentTarget.value as Override['kind'] })}
                  >
                    <option value="user">User id</option>
                    <option value="bot">Bot id</option>
                  </select>
                </div>
                <div class="rule-field rule-id">
                  <label for={`rule-${r.n}-id`}>{r.kind === 'user' ? 'User id' : 'Bot id'}</label>
                  <input
                    id={`rule-${r.n}-id`}
                    value={r.id}
                    autoComplete="off"
                    spellcheck={false}
                    onInput={(e) => edit(r.n, { id: e.currentTarget.value })}
                  />
                </div>
                <RuleFields prefix={`rule-${r.n}`} draft={r} onChange={(c) => edit(r.n, c)} />
                <button
                  type="button"
                  class="secondary small remove"
                  aria-label={`Remove override ${i + 1}`}
                  onClick={() => remove(r.n, i)}
                >
                  Remove
                </button>
              </fieldset>
            ))}
            <button type="button" id="add-override" class="secondary small" onClick={add}>
              Add an override
            </button>
            <ErrorBanner problem={action.problem} title={tried === 'dry' ? 'No dry run' : 'Not saved'} />
            <div class="form-actions">
              <button type="button" class="secondary" disabled={action.busy} onClick={onDryRun}>
                Dry run
              </button>
              <button type="submit" class="primary" disabled={action.busy || !loaded}>
                {none ? 'Remove the policy…' : 'Save policy…'}
              </button>
            </div>
          </form>
          {dry ? <DryRunReport dry={dry.result} /> : null}
        </div>
        <section class="panel runs" aria-labelledby="runs-title">
          <h2 id="runs-title">Recent runs</h2>
          {runs === null ? <p class="muted">Loading…</p> : null}
          {runs && runs.length === 0 ? <p class="empty">No run yet.</p> : null}
          {runs && runs.length > 0 ? (
            <ul class="run-list">
              {runs.map((j) => (
                <RunItem job={j} key={j.id} />
              ))}
            </ul>
          ) : null}
          <button
            type="button"
            class="secondary"
            disabled={running || !loaded?.updated_at}
            onClick={() => setRunning(true)}
          >
            Run the saved policy now…
          </button>
        </section>
      </div>

      {saving ? (
        <Confirm
          title={none ? 'Remove the retention policy?' : 'Save this retention policy?'}
          action={none ? 'Remove policy' : 'Save policy'}
          danger={saving.result.counts.deleted > 0}
          onConfirm={async () => {
            const p = await client.retention.put(saving.policy);
            setLoaded(p);
            setDef(toDraft(p.default));
            setRows(overridesOf(p));
            setDry(null);
            announce(p.updated_at ? 'Saved the retention policy.' : 'Removed the retention policy.');
          }}
          onClose={() => setSaving(null)}
        >
          {none ? (
            <p>Nothing will be archived or deleted by age any more.</p>
          ) : (
            <>
              <p>
                If it ran now, this policy would <strong>{summary(saving.result)}</strong>. It runs on the server's
                schedule once saved; until then nothing changes.
              </p>
              {saving.result.counts.deleted > 0 ? (
                <p class="warn">
                  {workspace && workspace.trash_days > 0
                    ? `Deleted conversations go to the trash, restorable for ${plural(workspace.trash_days, 'day')}.`
                    : 'The trash is off: deleted conversations are gone for good.'}
                </p>
              ) : null}
            </>
          )}
        </Confirm>
      ) : null}
      {running ? (
        <Confirm
          title="Run the retention policy now?"
          action="Run now"
          onConfirm={async () => {
            const job = await client.retention.run();
            announce('Retention run started.');
            if ('id' in job) {
              await loadRuns();
              await client.jobs.wait(job.id, { intervalMs: 500, timeoutMs: 120_000 });
            }
          }}
          onClose={(done) => {
            setRunning(false);
            if (done) {
              announce('Retention run finished.');
              void loadRuns();
            }
          }}
        >
          <p>The saved policy is enforced at once, as it would be on schedule. The run is recorded in the audit log.</p>
        </Confirm>
      ) : null}
    </section>
  );
}

/** Action and days of one rule; `allowNone` adds "no rule" (the default may be absent). */
function RuleFields(props: {
  prefix: string;
  draft: Draft;
  onChange: (c: Partial<Draft>) => void;
  allowNone?: boolean;
}) {
  const { prefix, draft } = props;
  return (
    <>
      <div class="rule-field">
        <label for={`${prefix}-action`}>Action</label>
        <select
          id={`${prefix}-action`}
          value={draft.action}
          onChange={(e) => props.onChange({ action: e.currentTarget.value as Draft['action'] })}
        >
          {props.allowNone ? <option value="none">No default rule</option> : null}
          {ACTIONS.map(([a, label]) => (
            <option key={a} value={a}>
              {label}
            </option>
          ))}
        </select>
      </div>
      {draft.action === 'none' ? null : (
        <div class="rule-field rule-days">
          <label for={`${prefix}-days`}>After days inactive</label>
          <input
            id={`${prefix}-days`}
            type="number"
            inputMode="numeric"
            min={1}
            max={36500}
            value={draft.days}
            onInput={(e) => props.onChange({ days: e.currentTarget.value })}
          />
        </div>
      )}
    </>
  );
}

function summary(d: DryRun): string {
  const c = d.counts;
  const parts = [`delete ${plural(c.deleted, 'conversation')}`, `archive ${plural(c.archived, 'conversation')}`];
  return `${parts.join(' and ')}${c.held ? ` (${num(c.held)} held, skipped)` : ''}`;
}

function DryRunReport({ dry }: { dry: DryRun }) {
  const c = dry.counts;
  const lists: Array<[string, string[], number]> = [
    ['Would delete', dry.sample.delete, c.deleted],
    ['Would archive', dry.sample.archive, c.archived],
    ['Held (skipped)', dry.sample.held, c.held],
  ];
  return (
    <section class="dry-run" aria-labelledby="dry-run-title">
      <h2 id="dry-run-title" tabIndex={-1}>
        Dry run of the form, as of {when(dry.as_of)}
      </h2>
      <p class="muted small">Nothing was changed or saved.</p>
      <dl class="facts counts">
        <dt>Checked</dt>
        <dd>{plural(c.scanned, 'conversation')} old enough for the shortest rule</dd>
        <dt>Would delete</dt>
        <dd>{num(c.deleted)}</dd>
        <dt>Would archive</dt>
        <dd>{num(c.archived)}</dd>
        <dt>Held, skipped</dt>
        <dd>{num(c.held)}</dd>
      </dl>
      {lists.map(([label, ids, n]) =>
        ids.length > 0 ? (
          <div class="sample" key={label}>
            <h3>
              {label}: {ids.length < n ? `${ids.length} of ${num(n)}` : num(n)}
            </h3>
            <ul class="id-list">
              {ids.map((id) => (
                <li key={id}>
                  <a href={href.conversation(id)}>
                    <code>{id}</code>
                  </a>
                </li>
              ))}
            </ul>
          </div>
        ) : null,
      )}
    </section>
  );
}

function RunItem({ job }: { job: Job }) {
  const counts = ((job.result?.counts as Record<string, number> | undefined) ?? job.progress.counts) as Record<
    string,
    number
  >;
  return (
    <li class="run">
      <p class="run-head">
        <span class={`state job-${job.state}`}>{job.state}</span>
        <span class="muted small">{when(job.finished_at ?? job.started_at ?? job.created_at)}</span>
      </p>
      {job.state === 'failed' && job.error ? (
        <p class="small">
          {job.error.message} (<code>{job.error.code}</code>)
        </p>
      ) : (
        <p class="small">
          {num(counts.deleted ?? 0)} deleted, {num(counts.archived ?? 0)} archived, {num(counts.held ?? 0)} held, of{' '}
          {num(counts.scanned ?? 0)} checked
        </p>
      )}
    </li>
  );
}
