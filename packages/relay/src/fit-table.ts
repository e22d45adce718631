import { printable } from '@ventesync/runtime/cli';
/** What staff see in a terminal window; wider only on request (`--wide`). */
export const SCREEN_COLUMNS = 80;
const GAP = '  ';

export interface Column<Row> {
  key: keyof Row & string;
  title: string;
  /** The one column that gives way: its text wraps onto more lines instead of widening the table. */
  flex?: boolean;
  right?: boolean;
  /**
   * When even the table without the flex column is too wide (a very long numero), this
   * column's text goes on a line of its own above the rest of its row.
   */
  ownLine?: boolean;
}

// Data never reaches the terminal raw: a control character is shown escaped.
const cell = (v: unknown) => (v === null || v === undefined ? '' : printable(String(v)));

/** Splits text into lines of at most `width` characters, at spaces when it can. */
export function wrap(text: string, width: number): string[] {
  if (width <= 0 || text.length <= width) return [text];
  const lines: string[] = [];
  let rest = text;
  while (rest.length > width) {
    const space = rest.lastIndexOf(' ', width);
    const cut = space > width / 3 ? space : width;
    lines.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  if (rest) lines.push(rest);
  return lines;
}

/**
 * An aligned table that fits `maxWidth` columns: the flex column wraps. With `maxWidth`
 * Infinity (`--wide`) every cell stays on one line.
 */
export function fitTable<Row extends object>(rows: readonly Row[], columns: ReadonlyArray<Column<Row>>, maxWidth = SCREEN_COLUMNS): string {
  if (rows.length === 0) return '(aucune)';
  const texts = rows.map((r) => columns.map((c) => cell(r[c.key])));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...texts.map((t) => t[i]!.length)));
  const flex = columns.findIndex((c) => c.flex);
  const total = () => widths.reduce((a, b) => a + b, 0) + GAP.length * (columns.length - 1);
  // Even without a flex column, a table too wide puts its `ownLine` column apart.
  if (flex < 0 && total() > maxWidth && columns.some((c) => c.ownLine)) return belowTable(texts, columns, -1, maxWidth);
  if (flex >= 0 && total() > maxWidth) {
    const room = maxWidth - (total() - widths[flex]!);
    // Too narrow a column reads worse than the text on lines of its own, under its row.
    if (room < MIN_FLEX_WIDTH) return belowTable(texts, columns, flex, maxWidth);
    widths[flex] = Math.max(columns[flex]!.title.length, room);
  }
  const pad = (text: string, i: number) => (columns[i]!.right ? text.padStart(widths[i]!) : text.padEnd(widths[i]!));
  const line = (values: string[]) => values.map(pad).join(GAP).trimEnd();
  const out = [line(columns.map((c) => c.title)), line(widths.map((w) => '-'.repeat(w)))];
  for (const t of texts) {
    const wrapped = flex >= 0 ? wrap(t[flex]!, widths[flex]!) : [];
    out.push(line(t.map((v, i) => (i === flex ? (wrapped[0] ?? '') : v))));
    for (const more of wrapped.slice(1)) out.push(line(columns.map((_, i) => (i === flex ? more : ''))));
  }
  return out.join('\n');
}

const MIN_FLEX_WIDTH = 28;
const BELOW_INDENT = '    ';

/**
 * The table without its flex column, whose text goes under each row, indented. Still too
 * wide, the `ownLine` column goes on a line of its own above the rest of each row.
 */
function belowTable<Row>(texts: string[][], columns: ReadonlyArray<Column<Row>>, flex: number, maxWidth: number): string {
  const widthsOf = (kept: number[]) => kept.map((i) => Math.max(columns[i]!.title.length, ...texts.map((t) => t[i]!.length)));
  let kept = columns.map((_, i) => i).filter((i) => i !== flex);
  const own = columns.findIndex((c) => c.ownLine);
  const tooWide = widthsOf(kept).reduce((a, b) => a + b, 0) + GAP.length * (kept.length - 1) > maxWidth;
  const apart = tooWide && own >= 0 && own !== flex;
  if (apart) kept = kept.filter((i) => i !== own);
  const widths = widthsOf(kept);
  const indent = apart ? BELOW_INDENT : '';
  const line = (values: string[]) =>
    `${indent}${values.map((v, k) => (columns[kept[k]!]!.right ? v.padStart(widths[k]!) : v.padEnd(widths[k]!))).join(GAP)}`.trimEnd();
  const out = [
    ...(apart ? [columns[own]!.title] : []),
    line(kept.map((i) => columns[i]!.title)),
    line(widths.map((w) => '-'.repeat(w))),
  ];
  for (const t of texts) {
    if (apart) out.push(...wrap(t[own]!, maxWidth));
    out.push(line(kept.map((i) => t[i]!)));
    if (flex >= 0 && t[flex]) for (const more of wrap(t[flex]!, maxWidth - BELOW_INDENT.length)) out.push(`${BELOW_INDENT}${more}`);
  }
  return out.join('\n');
}

/**
 * A command for a person to type, on lines of its own: never cut inside a word. Too long for
 * the screen (a long `--db` path), it goes on at a space with the shell's ` \` continuation,
 * so that it still works pasted as shown.
 */
export function commandLines(command: string, indent: string, width = SCREEN_COLUMNS): string[] {
  if (indent.length + command.length <= width) return [`${indent}${command}`];
  const lines: string[] = [];
  let line = '';
  for (const word of command.split(' ')) {
    const room = width - indent.length - (lines.length > 0 ? 2 : 0) - 2;
    if (line && line.length + 1 + word.length > room) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  return lines.map((l, i) => `${indent}${i > 0 ? '  ' : ''}${l}${i < lines.length - 1 ? ' \\' : ''}`);
}
