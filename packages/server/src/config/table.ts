import { CONFIG_VARIABLES, type ConfigGroup } from './spec.js';

/**
 * The configuration table as Markdown, rendered from the spec: README.md carries all of it and
 * docs pages carry a few groups, each between `<!-- config-table ... -->` markers that
 * `npm run docs:config` rewrites and a test compares.
 */
export function configTable(groups?: readonly ConfigGroup[]): string {
  const rows = CONFIG_VARIABLES.filter((v) => groups === undefined || groups.includes(v.group)).map((v) => [
    `\`${v.env}\`${v.fallback ? ` (or \`${v.fallback}\`)` : ''}`,
    `\`${v.defaultDoc}\``,
    v.parser.allowed,
    v.doc,
  ]);
  const head = ['variable', 'default', 'allowed', 'meaning'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const BLOCK = /(<!-- config-table(?: groups=([a-z,]+))? -->\n)[\s\S]*?(<!-- \/config-table -->)/g;

/** The document with every config-table block rendered afresh from the spec. */
export function renderConfigBlocks(doc: string): string {
  return doc.replace(BLOCK, (_all, open: string, groups: string | undefined, close: string) => {
    const names = groups?.split(',');
    const unknown = names?.filter((g) => !CONFIG_VARIABLES.some((v) => v.group === g)) ?? [];
    if (unknown.length > 0) throw new Error(`config-table names unknown group(s): ${unknown.join(', ')}`);
    const table = configTable(names as ConfigGroup[] | undefined);
    return `${open}${table}\n${close}`;
  });
}

/** How many config-table blocks the document holds. */
export function configBlockCount(doc: string): number {
  return [...doc.matchAll(BLOCK)].length;
}
