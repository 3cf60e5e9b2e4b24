import { useEffect, useRef, useState } from 'preact/hooks';
import { type Job, type Problem, toProblem } from '../api.js';
import { useConsole } from '../context.js';
import { downloadEraseExport } from '../export.js';
import { num, plural, when, whenExact } from '../format.js';
import { Confirm, ErrorBanner, Field, PageTitle, TableHead, useAction } from '../ui.js';

/** The receipt an erase job ends with (services/erase.ts): counts and ids, never content. */
interface Receipt {
  user_id: string;
  counts: Record<string, number>;
  conversation_ids: string[];
  export?: { bytes: number; sha256: string; exported_at: string; expires_at: string; conversations?: number };
  started_at: string;
  finished_at: string;
  storage?: { method: string; tables: string[]; dead_rows_kept: number };
}

const receiptOf = (j: Job): Receipt | null => (j.result?.receipt as Receipt | undefined) ?? null;
const userOf = (j: Job): string => String(j.params.user_id ?? '');
const finished = (j: Job) => j.state === 'succeeded' || j.state === 'failed';

/** How often a running job is looked at. */
const POLL_MS = 500;

export function EraseScreen() {
  const { client, announce } = useConsole();
  const [userId, setUserId] = useState('');
  const [found, setFound] = useState<{ user: string; total: number; exact: boolean } | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [exportFirst, setExportFirst] = useState(true);
  const [job, setJob] = useState<Job | null>(null);
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const lookup = useAction();
  const alive = useRef(true);

  const loadJobs = async () => {
    try {
      setJobs((await client.jobs.list({ kind: 'user.erase', limit: 25 }).page()).data);
    } catch (e) {
      if (alive.current) setProblem(toProblem(e));
    }
  };
  useEffect(() => {
    void loadJobs();
    return () => {
      alive.current = false;
    };
  }, []);

  // the job in view is polled until it has finished; then the list shows it as it ended
  useEffect(() => {
    if (!job || finished(job)) return;
    const t = setTimeout(async () => {
      try {
        const now = await client.jobs.get(job.id);
        if (!alive.current) return;
        setJob(now);
        if (finished(now)) {
          announce(
            now.state === 'succeeded'
              ? `Erased ${userOf(now)}: ${plural(receiptOf(now)?.counts.conversations ?? 0, 'conversation')}.`
              : `The erasure of ${userOf(now)} failed: ${now.error?.message ?? 'see the job'}.`,
          );
          void loadJobs();
          requestAnimationFrame(() => document.getElementById('job-title')?.focus());
        }
      } catch (e) {
        if (alive.current) setProblem(toProblem(e));
      }
    }, POLL_MS);
    return () => clearTimeout(t);
  }, [job]);

  const find = (e: Event) => {
    e.preventDefault();
    const user = userId.trim();
    if (!user) {
      lookup.setProblem({ message: 'Enter the user id whose conversations are to be erased.' });
      return;
    }
    void lookup.run(async () => {
      setFound(null);
      const page = await client.conversations.list({ user_id: user, per_page: 1 }).page();
      setFound({ user, total: page.meta.total, exact: page.meta.total_exact !== false });
    });
  };

  return (
    <section class="screen">
      <div class="screen-head">
        <PageTitle>Erase a user</PageTitle>
      </div>
      <p class="muted lead">
        Erasing a user deletes every conversation of theirs for good — messages, tool invocations, search entries, those
        in the trash too — and ends with a receipt (counts and ids, never content) kept in the audit log. A legal hold
        on anything of theirs refuses it.
      </p>
      <ErrorBanner problem={problem} />
      <div class="keys-layout">
        <div>
          {job ? (
            <JobView
              job={job}
              onClose={() => {
                setJob(null);
                requestAnimationFrame(() => document.getElementById('erase-user')?.focus());
              }}
            />
          ) : null}
          <div class="list-head">
            <h2>Past erasures</h2>
            <button type="button" class="secondary small" onClick={() => loadJobs()}>
              Refresh
            </button>
          </div>
          {jobs === null && !problem ? <p class="muted">Loading…</p> : null}
          {jobs && jobs.length === 0 ? <p class="empty">No user has been erased yet.</p> : null}
          {jobs && jobs.length > 0 ? (
            <table class="table">
              <TableHead caption="Erase jobs, newest first" columns={['User', 'State', 'Erased', 'When']} actions />
              <tbody>
                {jobs.map((j) => (
                  <tr key={j.id}>
                    <td data-label="User">
                      <span>
                        <code>{userOf(j)}</code>
                        <code class="muted small block">{j.id}</code>
                      </span>
                    </td>
                    <td data-label="State">
                      <span class={`state job-${j.state}`}>{j.state}</span>
                    </td>
                    <td data-label="Erased">
                      {j.state === 'succeeded'
                        ? plural(receiptOf(j)?.counts.conversations ?? 0, 'conversation')
                        : j.state === 'failed'
                          ? (j.error?.code ?? '—')
                          : `${num(j.progress.done)} so far`}
                    </td>
                    <td data-label="When">{when(j.finished_at ?? j.created_at)}</td>
                    <td data-label="Actions">
                      <button
                        type="button"
                        class="secondary small"
                        aria-label={`${finished(j) ? 'Receipt' : 'Progress'} of ${userOf(j)} (${j.id})`}
                        onClick={async () => {
                          try {
                            setJob(await client.jobs.get(j.id));
                            requestAnimationFrame(() => document.getElementById('job-title')?.focus());
                          } catch (e) {
                            setProblem(toProblem(e));
                          }
                        }}
                      >
                        {finished(j) ? 'Receipt' : 'Progress'}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
        </div>
        <form class="panel" onSubmit={find} aria-labelledby="erase-form-title" novalidate>
          <h2 id="erase-form-title">Find the user</h2>
          <Field id="erase-user" label="User id" hint="The user_id their conversations carry.">
            <input
              id="erase-user"
              required
              value={userId}
              autoComplete="off"
              spellcheck={false}
              aria-describedby="erase-user-hint"
              onInput={(e) => {
                setUserId(e.currentTarget.value);
                setFound(null);
              }}
            />
          </Field>
          <ErrorBanner problem={lookup.problem} />
          <button type="submit" class="secondary" disabled={lookup.busy}>
            {lookup.busy ? 'Looking…' : 'Count their conversations'}
          </button>
          {found ? (
            <div class="found" role="status">
              <p>
                <code>{found.user}</code> has{' '}
                <strong>
                  {found.exact ? '' : 'about '}
                  {plural(found.total, 'conversation')}
                </strong>{' '}
                in view (those in the trash are erased too).
              </p>
              <button type="button" class="danger" onClick={() => setConfirming(true)}>
                Erase {found.user}…
              </button>
            </div>
          ) : null}
        </form>
      </div>

      {confirming && found ? (
        <Confirm
          title={`Erase user ${found.user}?`}
          action="Erase user"
          onConfirm={async () => {
            const started = await client.users.erase(found.user, { exportFirst });
            setJob(started);
            announce(`Erasing ${found.user}…`);
            void loadJobs();
          }}
          onClose={(done) => {
            setConfirming(false);
            if (done) {
              // the count is of before the erasure: the form starts over
              setFound(null);
              requestAnimationFrame(() => document.getElementById('job-title')?.focus());
            }
          }}
        >
          <p>
            Every conversation of <code>{found.user}</code> —{' '}
            <strong>
              {found.exact ? '' : 'about '}
              {plural(found.total, 'conversation')}
            </strong>{' '}
            and those in the trash, with all their messages, tool invocations and search entries — is erased for good.
            This cannot be undone.
          </p>
          <label class="check">
            <input type="checkbox" checked={exportFirst} onChange={(e) => setExportFirst(e.currentTarget.checked)} />
            <span>
              Export first: keep a JSONL file of their conversations, downloadable from the receipt for a while
            </span>
          </label>
        </Confirm>
      ) : null}
    </section>
  );
}

/** One erase job: a progress bar while it runs, then its receipt with the export to download. */
function JobView({ job, onClose }: { job: Job; onClose: () => void }) {
  const { client, announce } = useConsole();
  const download = useAction();
  const [saved, setSaved] = useState<string | null>(null);
  const user = userOf(job);
  const receipt = receiptOf(job);
  const total = job.progress.total;
  const counts = receipt?.counts ?? job.progress.counts;
  return (
    <section class="job panel" aria-labelledby="job-title">
      <div class="list-head">
        <h2 id="job-title" tabIndex={-1}>
          {job.state === 'succeeded'
            ? `Receipt: ${user} erased`
            : job.state === 'failed'
              ? `Erasing ${user} failed`
              : `Erasing ${user}…`}
        </h2>
        {finished(job) ? (
          <button type="button" class="secondary small" onClick={onClose}>
            Close
          </button>
        ) : null}
      </div>
      {finished(job) ? null : (
        <div class="progress">
          <label for="erase-progress">
            {job.state === 'queued'
              ? 'Queued'
              : `${num(job.progress.done)}${total !== null ? ` of ${num(total)}` : ''} conversations erased`}
            {counts.exported_conversations !== undefined
              ? ` (${plural(counts.exported_conversations, 'conversation')} exported first)`
              : ''}
          </label>
          <progress
            id="erase-progress"
            max={total ?? undefined}
            value={total !== null ? job.progress.done : undefined}
          />
        </div>
      )}
      {job.state === 'failed' && job.error ? (
        <ErrorBanner problem={{ message: job.error.message, code: job.error.code }} title="Nothing more was erased" />
      ) : null}
      {receipt ? (
        <>
          <dl class="facts receipt">
            <dt>User</dt>
            <dd>
              <code>{receipt.user_id}</code>
            </dd>
            <dt>Job</dt>
            <dd>
              <code>{job.id}</code>
            </dd>
            <dt>Started</dt>
            <dd>
              <time dateTime={receipt.started_at}>{whenExact(receipt.started_at)}</time>
            </dd>
            <dt>Finished</dt>
            <dd>
              <time dateTime={receipt.finished_at}>{whenExact(receipt.finished_at)}</time>
            </dd>
            <dt>Conversations</dt>
            <dd>{num(counts.conversations ?? 0)}</dd>
            <dt>Messages</dt>
            <dd>{num(counts.messages ?? 0)}</dd>
            <dt>Tool invocations</dt>
            <dd>{num(counts.tool_invocations ?? 0)}</dd>
            <dt>Search entries</dt>
            <dd>{num(counts.search_entries ?? 0)}</dd>
            {receipt.storage ? (
              <>
                <dt>Space</dt>
                <dd>
                  reclaimed by <code>{receipt.storage.method}</code>
                  {receipt.storage.dead_rows_kept > 0
                    ? `; ${num(receipt.storage.dead_rows_kept)} dead rows wait for the next VACUUM`
                    : ''}
                </dd>
              </>
            ) : null}
          </dl>
          {receipt.export ? (
            <div class="export-box">
              <h3>Export written first</h3>
              <p class="small">
                {num(receipt.export.bytes)} bytes, SHA-256 <code>{receipt.export.sha256}</code>;{' '}
                {Date.parse(receipt.export.expires_at) > Date.now()
                  ? `downloadable until ${when(receipt.export.expires_at)}.`
                  : `expired ${when(receipt.export.expires_at)} (the server deleted the file).`}
              </p>
              <button
                type="button"
                class="primary"
                disabled={download.busy}
                onClick={() =>
                  download.run(async () => {
                    const r = await downloadEraseExport(client, job.id);
                    setSaved(r.file);
                    announce(`Saved ${r.file}.`);
                  })
                }
              >
                {download.busy ? 'Downloading…' : 'Download the export'}
              </button>
              {saved ? (
                <p class="ok small">
                  Saved <code>{saved}</code>.
                </p>
              ) : null}
              <ErrorBanner problem={download.problem} title="Not downloaded" />
            </div>
          ) : null}
          <h3>Erased conversations</h3>
          {receipt.conversation_ids.length === 0 ? (
            <p class="muted">None: the user had no conversation.</p>
          ) : (
            <ul class="id-list">
              {receipt.conversation_ids.map((id) => (
                <li key={id}>
                  <code>{id}</code>
                </li>
              ))}
            </ul>
          )}
        </>
      ) : null}
    </section>
  );
}
