import { describe, expect, it } from 'vitest';
import { nextStep } from '../src/next-step.js';

const pnpm = { relay: 'pnpm relay', server: 'pnpm run server' };

describe('what to do about a refused sale', () => {
  it('stock: record the delivery on the server, then retry', () => {
    expect(nextStep('INSUFFICIENT_STOCK', 'FAC-1', pnpm)).toEqual({
      todo: 'enregistrer la livraison ou le comptage sur le serveur, puis renvoyer la vente :',
      commands: ['pnpm run server stock add ARTICLE QUANTITE', 'pnpm relay retry FAC-1'],
    });
  });

  it('a reused numero or a wrong sale is never retried: it is sent again from the till, and this copy discarded', () => {
    for (const code of ['DUPLICATE', 'INVALID_SALE']) {
      expect(nextStep(code, 'FAC-1', pnpm).commands).toEqual(['pnpm relay discard FAC-1 --reason "…"']);
    }
  });

  it('a code this relay does not know: fix and retry, or discard', () => {
    expect(nextStep('NOUVEAU_CODE', 'FAC-1', pnpm).commands).toEqual(['pnpm relay retry FAC-1', 'pnpm relay discard FAC-1 --reason "…"']);
  });

  it('the commands keep the file the person chose (--db)', () => {
    expect(nextStep('INSUFFICIENT_STOCK', 'FAC-1', { ...pnpm, relayFile: '--db data/autre.db' }).commands[1]).toBe(
      'pnpm relay retry FAC-1 --db data/autre.db',
    );
  });
});
