import { useEffect, useState } from 'preact/hooks';

// Screens live in the fragment (#/c/conv_…), so the server serves one page and nothing about a
// screen ever reaches it (or its logs).
export type Route =
  | { name: 'conversations' }
  | { name: 'conversation'; id: string }
  | { name: 'keys' }
  | { name: 'audit' }
  | { name: 'trash' }
  | { name: 'holds' }
  | { name: 'webhooks' }
  | { name: 'retention' }
  | { name: 'erase' }
  | { name: 'settings' };

const SIMPLE = ['keys', 'audit', 'trash', 'holds', 'webhooks', 'retention', 'erase', 'settings'] as const;

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '');
  const conv = /^\/c\/([^/?#]+)$/.exec(path);
  if (conv?.[1]) return { name: 'conversation', id: decodeURIComponent(conv[1]) };
  const simple = SIMPLE.find((n) => path === `/${n}`);
  if (simple) return { name: simple };
  return { name: 'conversations' };
}

export const href = {
  conversations: '#/',
  conversation: (id: string) => `#/c/${encodeURIComponent(id)}`,
  keys: '#/keys',
  audit: '#/audit',
  trash: '#/trash',
  holds: '#/holds',
  webhooks: '#/webhooks',
  retention: '#/retention',
  erase: '#/erase',
  settings: '#/settings',
};

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => {
      // from the first navigation on, each new screen moves focus to its heading
      document.body.dataset.navigated = 'true';
      setRoute(parseRoute(location.hash));
    };
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export function navigate(to: string): void {
  location.hash = to;
}
