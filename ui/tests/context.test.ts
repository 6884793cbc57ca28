import { describe, expect, it } from 'vitest';
import { contextNote, proposals, sourcesList, withoutProposals } from '../src/context';

describe('memory proposals', () => {
  it('reads only whole lines and strips them from what is shown', () => {
    const reply = 'A menu, then.\n[remember: The user is vegetarian]\n[Remember:  Lives in Lyon ]\nSee [remember: inline].';
    expect(proposals(reply)).toEqual(['The user is vegetarian', 'Lives in Lyon']);
    expect(withoutProposals(reply)).toBe('A menu, then.\nSee [remember: inline].');
    expect(proposals('[remember: ]\n[forget: x]')).toEqual([]);
  });
});

describe('sources', () => {
  it('lists each source with its quote, and says when unsigned ones were left out', () => {
    const el = sourcesList([{ index: 1, title: 'Everest <b>', url: 'https://a.example/x', quote: 'Hillary and Tenzing' }], 0)!;
    expect(el.querySelector('.source-title')!.textContent).toBe('Everest <b>');
    expect(el.querySelector('.source-title b')).toBeNull();
    expect(el.querySelector('.source-host')!.textContent).toBe('a.example');
    expect(el.querySelector('.source-quote')!.textContent).toBe('Hillary and Tenzing');
    expect(sourcesList(undefined, 0)).toBeNull();
    expect(sourcesList([], 0)!.textContent).toContain('found nothing usable');
    expect(sourcesList([], 3)!.textContent).toContain('3 sources outside its signature');
  });

  it('says what went with a message', () => {
    expect(contextNote([], null, false)).toBeNull();
    const note = contextNote([{ id: 'a', text: 'My dog is Biscuit', created_ms: 0 }], 'project Garden: its instructions', true)!;
    expect(note.textContent).toContain('1 memory: “My dog is Biscuit”');
    expect(note.textContent).toContain('project Garden');
    expect(note.textContent).toContain('web search');
  });
});
