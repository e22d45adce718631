import { type CommandNames, relayCommand } from '@ventesync/runtime/cli';

/**
 * What a person does about a sale the server refused, by the server's code (as the README
 * says): the words, then the commands to type, in order. Commands are kept apart so that a
 * screen never breaks one in the middle.
 */
export interface NextStep {
  todo: string;
  commands: string[];
}

export function nextStep(code: string | null, numero: string, commands: CommandNames): NextStep {
  const retry = relayCommand(commands, `retry ${numero}`);
  const discard = relayCommand(commands, `discard ${numero} --reason "…"`);
  switch (code) {
    case 'INSUFFICIENT_STOCK':
      return {
        todo: 'enregistrer la livraison ou le comptage sur le serveur, puis renvoyer la vente :',
        commands: [`${commands.server} stock add ARTICLE QUANTITE`, retry],
      };
    case 'ARTICLE_NOT_FOUND':
      return {
        todo: "ajouter l'article au catalogue de la boutique sur le serveur, puis renvoyer la vente :",
        commands: [`${commands.server} article add …`, retry],
      };
    case 'DUPLICATE':
      return {
        todo: 'ce numéro est déjà pris sur le serveur par une autre vente : faire renvoyer la vente par la caisse sous un nouveau numéro, puis abandonner celle-ci :',
        commands: [discard],
      };
    case 'INVALID_SALE':
      return { todo: 'la vente elle-même est fausse : la corriger à la caisse, puis abandonner celle-ci :', commands: [discard] };
    default:
      return { todo: 'corriger la cause sur le serveur puis la renvoyer, ou bien l’abandonner :', commands: [retry, discard] };
  }
}

