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

// commander's own errors, in the staff's language; our own messages are French already.
const ERRORS: Array<[RegExp, string]> = [
  [/^error: missing required argument '(.+)'/, "erreur : argument obligatoire manquant « $1 »"],
  [/^error: required option '(.+)' not specified/, 'erreur : option obligatoire « $1 » absente'],
  [/^error: unknown command '(.+)'/, 'erreur : commande inconnue « $1 »'],
  [/^error: unknown option '(.+)'/, 'erreur : option inconnue « $1 »'],
  [/^error: too many arguments.*/, 'erreur : trop d’arguments'],
  [/^error: option '(.+)' argument missing/, "erreur : l'option « $1 » attend une valeur"],
  [/^error: option '(.+)' argument '(.*)' is invalid\. /, "erreur : l'option « $1 » : "],
  [/^error: command-argument value '(.*)' is invalid for argument '(.+)'\. /, "erreur : l'argument « $2 » : "],
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
