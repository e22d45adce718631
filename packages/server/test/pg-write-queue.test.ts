import { describe, expect, it } from 'vitest';
import { createPgWriteQueue, DEFAULT_PG_WRITE_QUEUE_LIMITS } from '../src/postgres/pg-write-queue.js';

/** A runner whose groups finish when the test says so: what ran, in which groups. */
function controlledRunner() {
  const groups: Array<{ payloads: string[]; finish: () => void; fail: (e: unknown) => void }> = [];
  const run = (payloads: string[]) =>
    new Promise<string[]>((resolve, reject) => {
      groups.push({ payloads, finish: () => resolve(payloads.map((p) => `ok ${p}`)), fail: reject });
    });
  return { groups, run: run as (payloads: never[]) => Promise<unknown[]> };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('PostgreSQL write queue', () => {
  it('one transaction per boutique at a time; what waited meanwhile goes together in the next; other boutiques in parallel', async () => {
    const sales = controlledRunner();
    const q = createPgWriteQueue({ sales: { run: sales.run, groupable: true }, retours: { run: sales.run, groupable: false } });
    const one = (key: number, p: string) => q.submit<string>(key, 'sales', 1, 10, p, () => 1)!;
    const a = one(2, 'a');
    const b = one(2, 'b');
    const c = one(3, 'c');
    const d = one(2, 'd');
    expect(sales.groups.map((g) => g.payloads)).toEqual([['a'], ['c']]);
    sales.groups[0]!.finish();
    await settle();
    expect(sales.groups.map((g) => g.payloads)).toEqual([['a'], ['c'], ['b', 'd']]);
    sales.groups[1]!.finish();
    sales.groups[2]!.finish();
    expect(await Promise.all([a, b, c, d])).toEqual(['ok a', 'ok b', 'ok c', 'ok d']);
    expect(q.stats()).toMatchObject({ commits: 3, requests: 4, salesWritten: 4, maxGroupRequests: 2, failedGroups: 0 });
  });

  it('a group bounded by its sales; returns never grouped; a failed transaction fails each request of its group', async () => {
    const runner = controlledRunner();
    const q = createPgWriteQueue(
      { sales: { run: runner.run, groupable: true }, retours: { run: runner.run, groupable: false } },
      { ...DEFAULT_PG_WRITE_QUEUE_LIMITS, maxGroupSales: 150 },
    );
    const first = q.submit<string>(2, 'sales', 100, 10, 's1', () => 100)!;
    const waiting = [q.submit<string>(2, 'sales', 100, 10, 's2', () => 100)!, q.submit<string>(2, 'retours', 1, 10, 'r1', () => 1)!];
    const third = q.submit<string>(2, 'sales', 40, 10, 's3', () => 40)!;
    runner.groups[0]!.finish();
    await first;
    await settle();
    expect(runner.groups.map((g) => g.payloads)).toEqual([['s1'], ['s2', 's3']]);
    runner.groups[1]!.fail(new Error('base partie'));
    await expect(waiting[0]).rejects.toThrow('base partie');
    await expect(third).rejects.toThrow('base partie');
    await settle();
    expect(runner.groups.map((g) => g.payloads)[2]).toEqual(['r1']);
    runner.groups[2]!.finish();
    await waiting[1];
    expect(q.stats()).toMatchObject({ failedGroups: 1, commits: 2 });
  });

  it('past the waiting bounds a request is turned away (null) and counted; an empty queue takes any size', async () => {
    const runner = controlledRunner();
    const q = createPgWriteQueue(
      { sales: { run: runner.run, groupable: true } },
      { ...DEFAULT_PG_WRITE_QUEUE_LIMITS, maxQueuedRequests: 1, maxQueuedSales: 10 },
    );
    expect(q.submit(2, 'sales', 1000, 10, 'big', () => 0)).not.toBeNull();
    expect(q.submit(2, 'sales', 5, 10, 'w1', () => 0)).not.toBeNull();
    expect(q.submit(2, 'sales', 1, 10, 'w2', () => 0)).toBeNull();
    expect([q.queued(), q.stats().refused]).toEqual([1, 1]);
  });
});
