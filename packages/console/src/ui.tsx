import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { type Problem, toProblem } from './api.js';

/** A failure as the API reported it: its message, then its code and request id for a support ticket. */
export function ErrorBanner({ problem, title }: { problem: Problem | null; title?: string }) {
  if (!problem) return null;
  return (
    <div class="error" role="alert">
      <p class="error-title">
        {title ? `${title}: ` : ''}
        {problem.message}
      </p>
      {problem.details && problem.details.length > 0 ? (
        <ul class="error-details">
          {problem.details.map((d) => (
            <li key={d.field}>
              <code>{d.field}</code> {d.message}
            </li>
          ))}
        </ul>
      ) : null}
      {problem.code || problem.requestId ? (
        <p class="error-meta">
          {problem.code ? (
            <span>
              code <code>{problem.code}</code>
            </span>
          ) : null}
          {problem.requestId ? (
            <span>
              request <code>{problem.requestId}</code>
            </span>
          ) : null}
        </p>
      ) : null}
    </div>
  );
}

/**
 * A modal dialog on the native <dialog>: the browser keeps focus inside and Escape closes it.
 * Focus starts on `initialFocus` (the safe choice) and returns to where it was when it closes.
 */
export function Dialog(props: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  initialFocus?: string;
  wide?: boolean;
  /** While true, Escape does not close it (work is under way). */
  locked?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const latest = useRef(props);
  latest.current = props;
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    const before = document.activeElement as HTMLElement | null;
    d.showModal();
    const first = props.initialFocus ? d.querySelector<HTMLElement>(props.initialFocus) : null;
    first?.focus();
    const closed = () => latest.current.onClose();
    const cancel = (e: Event) => {
      if (latest.current.locked) e.preventDefault();
    };
    d.addEventListener('close', closed);
    d.addEventListener('cancel', cancel);
    return () => {
      d.removeEventListener('close', closed);
      d.removeEventListener('cancel', cancel);
      if (d.open) d.close();
      before?.focus?.();
    };
  }, []);
  return (
    <dialog ref={ref} class={props.wide ? 'dialog wide' : 'dialog'} aria-labelledby="dialog-title">
      <h2 id="dialog-title">{props.title}</h2>
      {props.children}
    </dialog>
  );
}

/** The value, once it has stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return settled;
}

export function Field(props: { id: string; label: string; hint?: string; children: ComponentChildren }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint ? (
        <p class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      ) : null}
    </div>
  );
}

/** The page's main heading; it takes focus when the screen changes, so a screen reader announces it. */
export function PageTitle({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useLayoutEffect(() => {
    if (document.body.dataset.navigated === 'true') ref.current?.focus();
  }, []);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}

/**
 * A yes/no dialog for one change: focus starts on Cancel; the action runs with the dialog locked,
 * and a refusal stays in the dialog with the catalog's message, code and request id.
 */
export function Confirm(props: {
  title: string;
  action: string;
  children: ComponentChildren;
  /** Does the change; throwing keeps the dialog open with the error. */
  onConfirm: () => Promise<void>;
  onClose: (done: boolean) => void;
  danger?: boolean;
}) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  return (
    <Dialog title={props.title} onClose={() => props.onClose(false)} initialFocus="[data-cancel]" locked={busy}>
      {props.children}
      <ErrorBanner problem={problem} />
      <div class="dialog-actions">
        <button type="button" class="secondary" data-cancel disabled={busy} onClick={() => props.onClose(false)}>
          Cancel
        </button>
        <button
          type="button"
          class={props.danger === false ? 'primary' : 'danger'}
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            setProblem(null);
            try {
              await props.onConfirm();
              props.onClose(true);
            } catch (e) {
              setProblem(toProblem(e));
              setBusy(false);
            }
          }}
        >
          {props.action}
        </button>
      </div>
    </Dialog>
  );
}

/** Copies `text`; without clipboard permission it selects the element `selectId` for a manual copy. */
export function CopyButton({ text, selectId }: { text: string; selectId: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      class="secondary"
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
          setCopied(true);
        } catch {
          const el = document.getElementById(selectId);
          if (el) getSelection()?.selectAllChildren(el);
        }
      }}
    >
      {copied ? 'Copied' : 'Copy'}
    </button>
  );
}

/** A secret the server shows once (a new key, a webhook's signing secret), with Copy and Done. */
export function ShownOnce(props: {
  title: string;
  secret: string | null;
  /** What the server keeps instead of the secret, said under the title. */
  kept: string;
  onDone: () => void;
}) {
  return (
    <section class="secret" aria-labelledby="secret-title">
      <h2 id="secret-title">{props.title}</h2>
      {props.secret ? (
        <>
          <p>It is shown only this once; {props.kept}</p>
          <div class="secret-row">
            <code id="new-secret" class="secret-value">
              {props.secret}
            </code>
            <CopyButton text={props.secret} selectId="new-secret" />
          </div>
        </>
      ) : (
        <p>The server answered a repeated request: the secret was shown to the first one only.</p>
      )}
      <button type="button" class="secondary" onClick={props.onDone}>
        Done, I stored it
      </button>
    </section>
  );
}

/** A table's hidden caption and header row; `actions` adds a last column for row buttons. */
export function TableHead({ caption, columns, actions }: { caption: string; columns: string[]; actions?: boolean }) {
  return (
    <>
      <caption class="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          {columns.map((c) => (
            <th scope="col" key={c}>
              {c}
            </th>
          ))}
          {actions ? (
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          ) : null}
        </tr>
      </thead>
    </>
  );
}

/**
 * One action at a time (a form's submit): `run` sets busy, clears the last problem, and keeps the
 * failure as a problem (catalog message, code, request id) instead of throwing.
 */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const run = async (work: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setProblem(null);
    try {
      await work();
    } catch (e) {
      setProblem(toProblem(e));
    } finally {
      setBusy(false);
    }
  };
  return { busy, problem, setProblem, run };
}
