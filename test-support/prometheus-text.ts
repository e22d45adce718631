/**
 * A strict reader of Prometheus's text exposition format (0.0.4), for tests: what a scraper
 * would refuse, it throws on, with the line. Checks: HELP/TYPE lines well formed, a TYPE at
 * most once and before its samples, each family's samples together, metric and label names
 * valid, label values properly quoted and escaped, values numbers (NaN, ±Inf included), no
 * series twice, histograms whole (cumulative `_bucket`s ending at `le="+Inf"`, `_count` equal
 * to it, a `_sum`), and the text ending with a newline.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string | null;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text: string, line: string): number {
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`valeur illisible « ${text} » : ${line}`);
  return Number(text);
}

/** `{a="x",b="y\"z"}` from position `start` (at `{`): the labels and the position after `}`. */
function parseLabels(line: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    if (line[i] === '}') return { labels, end: i + 1 };
    const eq = line.indexOf('=', i);
    if (eq < 0) throw new Error(`étiquette sans = : ${line}`);
    const name = line.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`nom d'étiquette invalide « ${name} » : ${line}`);
    if (name in labels) throw new Error(`étiquette ${name} en double : ${line}`);
    if (line[eq + 1] !== '"') throw new Error(`valeur d'étiquette sans guillemet : ${line}`);
    let value = '';
    let j = eq + 2;
    for (;;) {
      const c = line[j];
      if (c === undefined) throw new Error(`valeur d'étiquette non fermée : ${line}`);
      if (c === '"') break;
      if (c === '\\') {
        const next = line[j + 1];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else throw new Error(`échappement invalide \\${next} : ${line}`);
        j += 2;
        continue;
      }
      value += c;
      j++;
    }
    labels[name] = value;
    i = j + 1;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') throw new Error(`attendu , ou } après ${name} : ${line}`);
  }
}

/** The family a sample belongs to: histogram and summary samples carry a suffix. */
function familyOf(sampleName: string, families: Map<string, Family>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const base = sampleName.slice(0, -suffix.length);
    const family = families.get(base);
    if (family && (family.type === 'histogram' || (family.type === 'summary' && suffix !== '_bucket'))) return base;
  }
  return sampleName;
}

function checkHistogram(family: Family): void {
  const series = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${s.name} sans étiquette le`);
      entry.buckets.push([parseValue(le, `le="${le}"`), s.value]);
    } else if (s.name.endsWith('_count')) entry.count = s.value;
    else if (s.name.endsWith('_sum')) entry.sum = s.value;
    else throw new Error(`échantillon ${s.name} dans l'histogramme ${family.name}`);
  }
  for (const [key, entry] of series) {
    const last = entry.buckets.at(-1);
    if (!last || last[0] !== Number.POSITIVE_INFINITY) throw new Error(`${family.name}${key} : pas de seau le="+Inf"`);
    for (let i = 1; i < entry.buckets.length; i++) {
      if (entry.buckets[i]![0] <= entry.buckets[i - 1]![0]) throw new Error(`${family.name}${key} : seuils le non croissants`);
      if (entry.buckets[i]![1] < entry.buckets[i - 1]![1]) throw new Error(`${family.name}${key} : seaux non cumulés`);
    }
    if (entry.count !== last[1]) throw new Error(`${family.name}${key} : _count ${entry.count} ≠ seau +Inf ${last[1]}`);
    if (entry.sum === undefined) throw new Error(`${family.name}${key} : pas de _sum`);
  }
}

export function parsePrometheusText(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('le texte ne finit pas par un saut de ligne');
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  const closed = new Set<string>();
  let current: string | null = null;
  const enter = (name: string) => {
    if (current === name) return;
    if (current !== null) closed.add(current);
    if (closed.has(name)) throw new Error(`famille ${name} en deux morceaux`);
    current = name;
  };
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: 'untyped', help: null, samples: [] }));
    return f;
  };

  for (const line of text.split('\n').slice(0, -1)) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) throw new Error(`commentaire inattendu : ${line}`);
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`nom de métrique invalide « ${name} » : ${line}`);
      enter(name);
      const f = family(name);
      if (kind === 'HELP') {
        if (f.help !== null) throw new Error(`HELP en double pour ${name}`);
        f.help = rest;
      } else {
        if (!TYPES.has(rest)) throw new Error(`type inconnu « ${rest} » : ${line}`);
        if (f.samples.length > 0) throw new Error(`TYPE de ${name} après ses échantillons`);
        if (f.type !== 'untyped') throw new Error(`TYPE en double pour ${name}`);
        f.type = rest as Family['type'];
      }
      continue;
    }
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`ligne illisible : ${line}`);
    const name = line.slice(0, nameEnd);
    if (!METRIC_NAME.test(name)) throw new Error(`nom de métrique invalide « ${name} » : ${line}`);
    let labels: Record<string, string> = {};
    let i = nameEnd;
    if (line[i] === '{') ({ labels, end: i } = parseLabels(line, i));
    if (line[i] !== ' ') throw new Error(`espace attendue avant la valeur : ${line}`);
    const parts = line.slice(i + 1).split(' ');
    if (parts.length > 2 || parts[0] === '') throw new Error(`valeur attendue : ${line}`);
    const value = parseValue(parts[0]!, line);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`horodatage illisible : ${line}`);
    const base = familyOf(name, families);
    enter(base);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`série en double : ${line}`);
    seen.add(key);
    family(base).samples.push({ name, labels, value });
  }
  for (const f of families.values()) {
    if (f.type === 'histogram') checkHistogram(f);
  }
  return families;
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when none. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}

/** How many series the text holds: what a scraper stores. */
export const seriesCount = (families: Map<string, Family>) => [...families.values()].reduce((n, f) => n + f.samples.length, 0);
