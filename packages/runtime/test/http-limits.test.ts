import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectionCap, DEFAULT_HTTP_LIMITS, FALLBACK_FILE_LIMIT, fileDescriptorLimit, resolveHttpLimits } from '../src/http/index.js';

describe('http limits', () => {
  it('the connection cap stays below the process file limit', () => {
    const limit = fileDescriptorLimit();
    expect(limit).toBeGreaterThan(0);
    expect(connectionCap(limit)).toBeLessThan(limit);
    expect(connectionCap(1024)).toBe(960);
  });

  it('reads the soft limit from /proc, or falls back to 1,024 when it cannot', () => {
    const file = join(tmpdir(), `limits-${process.pid}`);
    writeFileSync(file, 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            256                  4096                 files\n');
    expect(fileDescriptorLimit(file)).toBe(256);
    expect(fileDescriptorLimit(join(tmpdir(), 'no-such-limits-file'))).toBe(FALLBACK_FILE_LIMIT);
  });

  it('overrides keep the other defaults, pressure thresholds included', () => {
    const limits = resolveHttpLimits({ keepAliveTimeoutMs: 1, pressure: { retryAfterSeconds: 9 } });
    expect(limits).toMatchObject({ keepAliveTimeoutMs: 1, headersTimeoutMs: 10_000, pressure: { retryAfterSeconds: 9, maxEventLoopDelayMs: 1_000 } });
    expect(limits.maxConnections).toBe(connectionCap(fileDescriptorLimit()));
    expect(Object.isFrozen(limits)).toBe(true);
  });
});

describe('load shedding criteria', () => {
  it('does not shed on RSS, which stays high after an attack ends: only on what comes back down', () => {
    expect(Object.keys(DEFAULT_HTTP_LIMITS.pressure).sort()).toEqual(['maxEventLoopDelayMs', 'maxHeapUsedBytes', 'retryAfterSeconds', 'sampleIntervalMs']);
    expect(DEFAULT_HTTP_LIMITS.maxReceivingBodyBytes).toBe(256 * 1024 * 1024);
    expect(DEFAULT_HTTP_LIMITS.maxTotalUnsentBytes).toBe(256 * 1024 * 1024);
  });
});
