/** The part of commander's Command this touches: kept structural so runtime needs no commander. */
interface CommandLike {
  configureHelp(config: {
    styleTitle: (title: string) => string;
    formatHelp: (cmd: never, helper: never) => string;
    optionDescription: (option: never) => string;
  }): unknown;
  helpOption(flags: string, description: string): unknown;
  helpCommand(nameAndArgs: string, description: string): unknown;
  configureOutput(config: { outputError: (text: string, write: (text: string) => void) => void }): unknown;
}

const TITLES: Record<string, string> = {
  'Usage:': 'Utilisation :',
  'Options:': 'Options :',
  'Commands:': 'Commandes :',
  'Arguments:': 'Arguments :',
  'Global Options:': 'Options générales :',
};

// commander's own errors, in the staff's language and with the CLIs' one prefix, `Erreur : `.
const ERRORS: Array<[RegExp, string]> = [
  [/^error: missing required argument '(.+)'/, "Erreur : argument obligatoire manquant « $1 »"],
  [/^error: required option '(.+)' not specified/, 'Erreur : option obligatoire « $1 » absente'],
  [/^error: unknown command '(.+)'/, 'Erreur : commande inconnue « $1 »'],
  [/^error: unknown option '(.+)'/, 'Erreur : option inconnue « $1 »'],
  [/^error: too many arguments.*/, 'Erreur : trop d’arguments'],
  [/^error: option '(.+)' argument missing/, "Erreur : l'option « $1 » attend une valeur"],
  [/^error: option '(.+)' argument '(.*)' is invalid\. /, "Erreur : l'option « $1 » : "],
  [/^error: command-argument value '(.*)' is invalid for argument '(.+)'\. /, "Erreur : l'argument « $2 » : "],
  // Whatever else commander says: the one prefix every CLI error starts with.
  [/^error: /, 'Erreur : '],
];

/** commander's Help class, passed in by the CLI (runtime does not depend on commander). */
interface HelpClass {
  prototype: { formatHelp(cmd: never, helper: never): string; optionDescription(option: never): string };
}

/** Help titles, help option and commander's errors in French, like the rest of the CLI. */
export function frenchCommander<C extends CommandLike>(program: C, Help: HelpClass): C {
  program.configureHelp({
    styleTitle: (title) => TITLES[title] ?? title,
    // Translated before commander wraps the lines; a flag's "default: false" says nothing.
    optionDescription(option) {
      return Help.prototype.optionDescription.call(this, option).replace(' (default: false)', '').replace('(default: ', '(défaut : ');
    },
    formatHelp(cmd, helper) {
      return Help.prototype.formatHelp.call(this, cmd, helper).replace('[options] [command]', '[options] [commande]');
    },
  });
  program.helpOption('-h, --help', "affiche l'aide de la commande");
  program.helpCommand('help [commande]', "affiche l'aide d'une commande");
  program.configureOutput({
    outputError: (text, write) => write(ERRORS.reduce((t, [pattern, french]) => t.replace(pattern, french), text)),
  });
  return program;
}

/**
 * An option parser that refuses the option given twice: commander would keep the last value
 * silently (`--jour A --jour B` ran on B). `invalid` is commander's InvalidArgumentError
 * (runtime does not depend on commander), so the error reads like commander's own.
 */
export function onlyOnce<T = string>(
  invalid: new (message: string) => Error,
  parse: (text: string) => T = (text) => text as T,
): (text: string, previous: T | undefined) => T {
  return (text, previous) => {
    // commander names the option before this: « l'option « --jour <AAAA-MM-JJ> » : donnée deux fois ».
    if (previous !== undefined) throw new invalid('donnée deux fois : une seule valeur attendue');
    return parse(text);
  };
}
