import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDiskReserve, DISK_RESERVE_BYTES, reserveFileOf } from '../src/disk-reserve.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ventesync-reserve-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('disk reserve', () => {
  it('takes its room beside the relay file, gives it back once when the disk is full, and takes it again', () => {
    const db = join(dir, 'relay.db');
    const reserve = createDiskReserve(db);
    expect(reserve.ensure()).toBe(true);
    expect(statSync(reserveFileOf(db)).size).toBe(DISK_RESERVE_BYTES);
    expect(reserve.release()).toBe(true);
    expect(existsSync(reserveFileOf(db))).toBe(false);
    expect(reserve.release()).toBe(false);
    expect(reserve.ensure()).toBe(true);
    expect(statSync(reserveFileOf(db)).size).toBe(DISK_RESERVE_BYTES);
  });

  it('a relay on an in-memory file keeps no reserve', () => {
    const reserve = createDiskReserve(':memory:');
    expect(reserve.ensure()).toBe(true);
    expect(reserve.release()).toBe(false);
  });
});
