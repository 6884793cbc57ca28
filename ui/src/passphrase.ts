/** The rules for a new passphrase, checked before it is sent (the core checks the length again). */
export const MIN_PASSPHRASE_CHARS = 8;

/** Why `first` (typed again as `again`) cannot protect the history, or null if it can. */
export function newPassphraseProblem(first: string, again: string): string | null {
  if ([...first.trim()].length < MIN_PASSPHRASE_CHARS) {
    return `Choose a passphrase of at least ${MIN_PASSPHRASE_CHARS} characters.`;
  }
  if (first !== again) return 'The two passphrases differ; type the same one twice.';
  return null;
}
