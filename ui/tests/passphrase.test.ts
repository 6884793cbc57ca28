import { describe, expect, it } from 'vitest';
import { newPassphraseProblem } from '../src/passphrase';

describe('a new passphrase', () => {
  it('must be long enough and typed the same twice', () => {
    expect(newPassphraseProblem('a', 'a')).toContain('at least 8');
    expect(newPassphraseProblem('       x', '       x')).toContain('at least 8');
    expect(newPassphraseProblem('long enough one', 'long enough 0ne')).toContain('differ');
    expect(newPassphraseProblem('long enough one', 'long enough one')).toBeNull();
    // Characters, not bytes: eight accented letters are enough.
    expect(newPassphraseProblem('éééééééé', 'éééééééé')).toBeNull();
  });
});
