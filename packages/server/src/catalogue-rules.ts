import {
  checkFuseau,
  DEFAULT_FUSEAU,
  hasUnprintable,
  MAX_DEVISE_LENGTH,
  MAX_NOM_LENGTH,
  STOCK_NEGATIF_CHOICES,
  type StockNegatif,
  TerminalEntrySchema,
  UNPRINTABLE_MESSAGE,
} from '@ventesync/shared';
import type { ArticleRow, BoutiqueChanges, BoutiqueEntry, BoutiqueRow, MouvementRow, MouvementType } from './catalogue-store.js';

/**
 * The catalogue's rules and their French messages, with no database: both backends
 * (catalogue-store.ts on SQLite, postgres/pg-catalogue.ts) check the same things in the same
 * order and refuse with the same words. What needs a row (does the boutique exist?) is asked
 * by each backend, then said with the refusals below.
 */

/** A refusal the operator can act on, with a stable code. */
export class CatalogueError extends Error {
  constructor(
    readonly code: 'NOT_FOUND' | 'CONFLICT' | 'INVALID' | 'INVALID_FUSEAU' | 'INVALID_STOCK_NEGATIF',
    message: string,
  ) {
    super(message);
  }
}

export const boutiqueNotFound = (id: number) => new CatalogueError('NOT_FOUND', `Boutique ${id} introuvable`);
export const terminalNotFound = (serial: string) => new CatalogueError('NOT_FOUND', `Terminal ${serial} introuvable`);
export const articleNotFound = (id: number) => new CatalogueError('NOT_FOUND', `Article ${id} introuvable`);
export const relayNotFound = (id: number) => new CatalogueError('NOT_FOUND', `Relais ${id} introuvable`);

export const boutiqueExists = (id: number) => new CatalogueError('CONFLICT', `La boutique ${id} existe déjà`);
export const terminalExists = (serial: string) => new CatalogueError('CONFLICT', `Le terminal ${serial} existe déjà`);
export const articleExists = (id: number) => new CatalogueError('CONFLICT', `L'article ${id} existe déjà`);
export const secretExists = (serial: string) =>
  new CatalogueError(
    'CONFLICT',
    `Le terminal ${serial} a déjà un secret. Pour le remplacer (l'ancien cessera aussitôt de marcher), ajoutez --rotate.`,
  );
/** An import naming an article id that another boutique already has. */
export const articleElsewhere = (id: number, existing: number, wanted: number) =>
  new CatalogueError('CONFLICT', `l'article ${id} appartient déjà à la boutique ${existing}, pas à ${wanted}`);

export function validFuseau(name: string): string {
  const check = checkFuseau(name);
  if (!check.ok) throw new CatalogueError(check.code, `${check.erreur} (code ${check.code})`);
  return check.fuseau;
}

export function validStockNegatif(value: string): StockNegatif {
  if ((STOCK_NEGATIF_CHOICES as readonly string[]).includes(value)) return value as StockNegatif;
  throw new CatalogueError(
    'INVALID_STOCK_NEGATIF',
    `Valeur de stock négatif invalide « ${value} » : ${STOCK_NEGATIF_CHOICES.join(' ou ')} attendu (code INVALID_STOCK_NEGATIF)`,
  );
}

/**
 * A name or currency typed at the CLI, under the import file's rules (fixture-schema): not
 * blank, no control or invisible character, at most `max` characters. `label` starts the
 * message ("Le nom de la boutique").
 */
function checkText(label: string, text: string, max: number): void {
  if (text.trim() === '') throw new CatalogueError('INVALID', `${label} ne doit pas être vide`);
  if (hasUnprintable(text)) throw new CatalogueError('INVALID', `${label} ${UNPRINTABLE_MESSAGE}`);
  if (text.trim().length > max) throw new CatalogueError('INVALID', `${label} fait plus de ${max} caractères`);
}

/** `stock add|set --reference`: printed in movement lists and the audit, so held to a name's rules. */
export function checkReference(text: string): void {
  checkText('la référence', text, MAX_NOM_LENGTH);
}

/** `boutique add`: what is checked before the database is asked anything. */
export function checkNewBoutique(nom: string, options: { fuseau?: string; stock_negatif?: string }): { fuseau: string; stock_negatif: StockNegatif } {
  checkText('Le nom de la boutique', nom, MAX_NOM_LENGTH);
  return { fuseau: validFuseau(options.fuseau ?? DEFAULT_FUSEAU), stock_negatif: validStockNegatif(options.stock_negatif ?? 'refuser') };
}

/** `boutique set`: the boutique as it would become, each field given checked. */
export function changedBoutique(current: BoutiqueRow, changes: BoutiqueChanges): BoutiqueRow {
  if (changes.nom !== undefined) checkText('Le nom de la boutique', changes.nom, MAX_NOM_LENGTH);
  if (changes.devise !== undefined) checkText('La devise', changes.devise, MAX_DEVISE_LENGTH);
  return {
    id: current.id,
    nom: changes.nom?.trim() ?? current.nom,
    devise: changes.devise?.trim() ?? current.devise,
    fuseau: changes.fuseau === undefined ? current.fuseau : validFuseau(changes.fuseau),
    stock_negatif: changes.stock_negatif === undefined ? current.stock_negatif : validStockNegatif(changes.stock_negatif),
  };
}

/** Whether `boutique set` would change nothing (then nothing is written, no audit row). */
export function sameBoutique(a: BoutiqueRow, b: BoutiqueRow): boolean {
  return (['nom', 'devise', 'fuseau', 'stock_negatif'] as const).every((k) => a[k] === b[k]);
}

/** An import entry as the row it writes: zone and stock rule left out keep the boutique's own. */
export function importedBoutique(b: BoutiqueEntry, current: BoutiqueRow | undefined): BoutiqueRow {
  return {
    id: b.id,
    nom: b.nom,
    devise: b.devise,
    fuseau: b.fuseau === undefined ? (current?.fuseau ?? DEFAULT_FUSEAU) : validFuseau(b.fuseau),
    stock_negatif: b.stock_negatif ?? current?.stock_negatif ?? 'refuser',
  };
}

/** `terminal add`: the serial as the contract spells it, and the name trimmed. */
export function checkNewTerminal(rawSerial: string, nom: string): { serial: string; nom: string } {
  const serial = TerminalEntrySchema.shape.serial.safeParse(rawSerial);
  if (!serial.success) throw new CatalogueError('INVALID', `Numéro de série invalide : ${serial.error.issues[0]!.message}`);
  checkText('Le nom du terminal', nom, MAX_NOM_LENGTH);
  return { serial: serial.data, nom: nom.trim() };
}

/** `article add`, after its boutique was found: the name. */
export function checkArticleName(nom: string): void {
  checkText("Le nom de l'article", nom, MAX_NOM_LENGTH);
}

/** `article add`, after the id was found free: the first stock. */
export function checkInitialStock(stock: number): void {
  if (!Number.isSafeInteger(stock) || stock < 0) {
    throw new CatalogueError('INVALID', `Le stock initial doit être un entier positif ou nul (reçu : ${stock})`);
  }
}

/** `stock add`: a delivery brings a positive whole quantity. */
export function checkDelivery(quantite: number): void {
  if (!Number.isSafeInteger(quantite) || quantite <= 0) {
    throw new CatalogueError('INVALID', `La quantité livrée doit être un entier positif (reçu : ${quantite})`);
  }
}

/** `stock set`: a count is a whole quantity, zero or more. */
export function checkCount(quantite: number): void {
  if (!Number.isSafeInteger(quantite) || quantite < 0) {
    throw new CatalogueError('INVALID', `Le stock compté doit être un entier positif ou nul (reçu : ${quantite})`);
  }
}

/** A stock change computed from the stock under the lock: its size, then its result. */
export function checkShift(quantite: number): void {
  if (!Number.isSafeInteger(quantite)) throw new CatalogueError('INVALID', `Quantité invalide (${quantite})`);
}

/**
 * A removal may not take the stock below zero (the database's conditional update said so). An
 * addition always passes: a delivery brings a stock that offline sales took below zero
 * (CONTRACT §7) back up, even when it stays below zero.
 */
export const shiftAllowed = (current: number, quantite: number) => quantite >= 0 || current + quantite >= 0;

export const negativeStock = (current: number, quantite: number) =>
  new CatalogueError('INVALID', `Le stock ne peut pas devenir négatif (${current} ${quantite < 0 ? '-' : '+'} ${Math.abs(quantite)})`);

export function checkStockAfter(after: number): void {
  if (!Number.isSafeInteger(after)) throw new CatalogueError('INVALID', `Stock trop grand (${after})`);
}

/** The movement's reference when none is given: what kind of change it was. */
export const DEFAULT_REFERENCES: Readonly<Record<'addStock' | 'setStock' | 'create' | 'import', string>> = Object.freeze({
  addStock: 'livraison',
  setStock: 'inventaire',
  create: 'création',
  import: 'import',
});

/** `relais add`: a name and at least one boutique (each then looked up by the backend). */
export function checkNewRelay(nom: string, boutiques: readonly number[]): string {
  if (nom.trim() === '') throw new CatalogueError('INVALID', 'Le nom du relais ne doit pas être vide');
  if (boutiques.length === 0) throw new CatalogueError('INVALID', 'Au moins une boutique (--boutique ID) est nécessaire');
  return nom.trim();
}

/** The movement a delivery or a count wrote (`stock add|set`), as both backends answer it: no till. */
export function stockMovement(
  id: number,
  article: Pick<ArticleRow, 'id' | 'nom'>,
  type: MouvementType,
  quantite: number,
  after: number,
  reference: string | null,
  date: string,
): MouvementRow {
  return {
    id,
    article_id: article.id,
    article_nom: article.nom,
    type,
    quantite,
    stock_avant: after - quantite,
    stock_apres: after,
    reference,
    terminal_serial: null,
    date,
  };
}
