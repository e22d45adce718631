// Control characters (C0, DEL, C1) and invisible format characters (zero-width, bidi overrides).
const UNPRINTABLE = /[\p{Cc}\p{Cf}]/gu;

/**
 * Text from the data as a terminal may show it: every control or invisible character written
 * as `\u001b`. A numero or a name holding `ESC ]0;…` would otherwise retitle the operator's
 * terminal, or hide what follows.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}

/** Aligned plain-text table for people, data cells made printable; scripts use --json instead. */
export function formatTable<Row extends object>(
  rows: ReadonlyArray<Row>,
  columns: ReadonlyArray<[key: keyof Row & string, title: string]>,
): string {
  if (rows.length === 0) return '(aucun)';
  const cell = (v: unknown) => (v === null || v === undefined ? '' : printable(String(v)));
  const widths = columns.map(([key, title]) => Math.max(title.length, ...rows.map((r) => cell(r[key]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [
    line(columns.map(([, title]) => title)),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(columns.map(([key]) => cell(r[key])))),
  ].join('\n');
}

/**
 * A list for `--json` scripts or for people, on stdout; `forPeople` reshapes a row for the
 * table only (true → "oui"), so scripts keep the typed values.
 */
export function printList<Row extends object, Shown extends object = Row>(
  rows: ReadonlyArray<Row>,
  json: boolean,
  columns: ReadonlyArray<[key: keyof Shown & string, title: string]>,
  forPeople: (row: Row) => Shown = (row) => row as unknown as Shown,
): void {
  process.stdout.write(`${json ? JSON.stringify(rows, null, 2) : formatTable(rows.map(forPeople), columns)}\n`);
}
