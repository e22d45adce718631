import type { CommandNames } from './command-names.js';

/** What a person does about a sale the server refused, by the server's code (as the README says). */
export function nextStep(code: string | null, numero: string, commands: CommandNames): string {
  const retry = `${commands.relay} retry ${numero}`;
  const discard = `${commands.relay} discard ${numero} --reason "…"`;
  switch (code) {
    case 'INSUFFICIENT_STOCK':
      return `enregistrer la livraison ou le comptage sur le serveur (${commands.server} stock add ARTICLE QUANTITE), puis ${retry}`;
    case 'ARTICLE_NOT_FOUND':
      return `ajouter l'article au catalogue de la boutique sur le serveur (${commands.server} article add …), puis ${retry}`;
    case 'DUPLICATE':
      return `ce numéro est déjà pris sur le serveur par une autre vente : faire renvoyer la vente par la caisse sous un nouveau numéro, puis ${discard}`;
    case 'INVALID_SALE':
      return `la vente elle-même est fausse : la corriger à la caisse, puis ${discard}`;
    default:
      return `corriger la cause sur le serveur puis ${retry}, ou ${discard}`;
  }
}
