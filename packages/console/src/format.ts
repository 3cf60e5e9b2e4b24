const dateTime = new Intl.DateTimeFormat('en-GB', {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  timeZone: 'UTC',
});
const dateTimeSeconds = new Intl.DateTimeFormat('en-GB', {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  timeZone: 'UTC',
});
const count = new Intl.NumberFormat('en-US');

/** "15 Jan 2026, 09:30 UTC"; every time the console shows is UTC, as the API's are. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${dateTime.format(d)} UTC`;
}

/** "15 Jan 2026, 09:30:12 UTC", for a receipt's timestamps. */
export function whenExact(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${dateTimeSeconds.format(d)} UTC`;
}

export function num(n: number): string {
  return count.format(n);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${num(n)} ${n === 1 ? one : many}`;
}

/** A date input's "YYYY-MM-DD" as the start of that day, UTC; `end` gives the start of the next day. */
export function dayBound(value: string, end = false): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return undefined;
  const d = new Date(`${value}T00:00:00.000Z`);
  if (Number.isNaN(d.getTime())) return undefined;
  if (end) d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString();
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? 'null';
}
