import { describe, expect, it } from 'vitest';
import { createReadCoalescer } from '../src/read-coalescer.js';

describe('read coalescer', () => {
  it('identical reads of one till in flight share one request; another till, another URL, or a later read each get their own', async () => {
    const calls: string[] = [];
    const releases: Array<() => void> = [];
    const read = createReadCoalescer((url: string, serial: string) => {
      calls.push(`${serial} ${url}`);
      return new Promise<string>((resolve) => releases.push(() => resolve(`${serial} ${url} #${calls.length}`)));
    });
    const a = read('/articles/', 'caisse-1');
    const b = read('/articles/', 'caisse-1');
    const other = read('/articles/', 'caisse-2');
    const otherUrl = read('/statistiques/', 'caisse-1');
    expect(calls).toEqual(['caisse-1 /articles/', 'caisse-2 /articles/', 'caisse-1 /statistiques/']);
    for (const release of releases) release();
    expect(await Promise.all([a, b, other, otherUrl])).toEqual([
      'caisse-1 /articles/ #3',
      'caisse-1 /articles/ #3',
      'caisse-2 /articles/ #3',
      'caisse-1 /statistiques/ #3',
    ]);
    const later = read('/articles/', 'caisse-1');
    expect(calls).toHaveLength(4);
    releases.at(-1)!();
    expect(await later).toBe('caisse-1 /articles/ #4');
  });

  it('a failed read is not kept: the next one asks again', async () => {
    let n = 0;
    const read = createReadCoalescer(async () => {
      n++;
      if (n === 1) throw new Error('coupé');
      return 'ok';
    });
    await expect(read('/x', 's')).rejects.toThrow('coupé');
    expect(await read('/x', 's')).toBe('ok');
  });
});
