import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorBody, REQUEST_ERROR_STATUS, statusOf } from '../src/error-codes.js';
import { checkSyncBatch } from '../src/sync-request.js';

const PACKAGES = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('the code → status table', () => {
  it('gives every request-level code a 4xx or 5xx status', () => {
    for (const code of Object.keys(REQUEST_ERROR_STATUS) as Array<keyof typeof REQUEST_ERROR_STATUS>) {
      expect(statusOf(code)).toBeGreaterThanOrEqual(400);
      expect(statusOf(code)).toBeLessThan(600);
    }
    expect(errorBody('BATCH_TOO_LARGE', 'x', { limit: 500 })).toEqual({ error: 'x', code: 'BATCH_TOO_LARGE', limit: 500 });
  });

  it('is where the sync batch check takes its statuses', () => {
    expect(checkSyncBatch({})).toMatchObject({ ok: false, status: statusOf('INVALID_FORMAT') });
    expect(checkSyncBatch(new Array(501).fill({}))).toMatchObject({ ok: false, status: statusOf('BATCH_TOO_LARGE') });
  });

  it('is the only source of error statuses: no server, relay or runtime code sends a number of its own', () => {
    const offenders = ['server', 'relay', 'runtime'].flatMap((pkg) =>
      sources(join(PACKAGES, pkg, 'src')).flatMap((file) =>
        readFileSync(file, 'utf8')
          .split('\n')
          .map((line, i) => ({ where: `${pkg}/${file.split(`${pkg}/src/`)[1]}:${i + 1}`, line }))
          .filter(({ line }) => /\.code\(\s*[45]\d\d\s*\)|status:\s*[45]\d\d\b/.test(line)),
      ),
    );
    expect(offenders).toEqual([]);
  });
});
