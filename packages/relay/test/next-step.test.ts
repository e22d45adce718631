import { describe, expect, it } from 'vitest';
import { nextStep } from '../src/next-step.js';

const pnpm = { relay: 'pnpm relay', server: 'pnpm run server' };

describe('what to do about a refused sale', () => {
  it('stock: record the delivery on the server, then retry', () => {
    expect(nextStep('INSUFFICIENT_STOCK', 'FAC-1', pnpm)).toBe(
      'enregistrer la livraison ou le comptage sur le serveur (pnpm run server stock add ARTICLE QUANTITE), puis pnpm relay retry FAC-1',
    );
  });

  it('a reused numero or a wrong sale is never retried: it is sent again from the till, and this copy discarded', () => {
    for (const code of ['DUPLICATE', 'INVALID_SALE']) {
      expect(nextStep(code, 'FAC-1', pnpm)).toContain('pnpm relay discard FAC-1 --reason');
      expect(nextStep(code, 'FAC-1', pnpm)).not.toContain('retry');
    }
  });

  it('a code this relay does not know: fix and retry, or discard', () => {
    expect(nextStep('NOUVEAU_CODE', 'FAC-1', pnpm)).toBe('corriger la cause sur le serveur puis pnpm relay retry FAC-1, ou pnpm relay discard FAC-1 --reason "…"');
  });
});
