import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Parley, Session, Workspace } from './api.js';

export interface ConsoleContext {
  client: Parley;
  session: Session;
  /** A one-line note for the next screen ("Deleted …"), read out by screen readers. */
  announce: (text: string) => void;
  signOut: () => void;
  /** The key's workspace with its settings (trash_days); admin keys only (null: not known). */
  workspace: Workspace | null;
  setWorkspace: (w: Workspace) => void;
}

export const Ctx = createContext<ConsoleContext | null>(null);

export function useConsole(): ConsoleContext {
  const c = useContext(Ctx);
  if (!c) throw new Error('useConsole outside the signed-in shell');
  return c;
}
