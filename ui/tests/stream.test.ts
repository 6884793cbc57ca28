import { describe, expect, it } from 'vitest';
import { StreamingReply } from '../src/stream';

/** A scheduler the test runs by hand: one "frame" per flush. */
function manualFrames() {
  const queue: (() => void)[] = [];
  return {
    schedule: (f: () => void) => queue.push(f),
    flush: () => queue.splice(0).forEach((f) => f()),
    pending: () => queue.length,
  };
}

describe('StreamingReply', () => {
  it('joins many pieces into one render per frame', () => {
    const frames = manualFrames();
    const body = document.createElement('div');
    const s = new StreamingReply(body, frames.schedule);
    for (const piece of ['Hel', 'lo, ', '**pri', 'vate**', ' world']) s.push(piece);
    expect(frames.pending()).toBe(1);
    expect(s.renders).toBe(0);
    frames.flush();
    expect(s.renders).toBe(1);
    expect(body.querySelector('strong')?.textContent).toBe('private');
    expect(body.textContent?.trim()).toBe('Hello, private world');
    expect(body.querySelector('.caret')).not.toBeNull();
    expect(body.getAttribute('aria-busy')).toBe('true');
  });

  it('shows exactly the verified text at the end, without the caret', () => {
    const frames = manualFrames();
    const body = document.createElement('div');
    const s = new StreamingReply(body, frames.schedule);
    s.push('draft');
    s.finish('The verified | text');
    frames.flush(); // a late frame must not bring the caret back
    expect(body.textContent?.trim()).toBe('The verified | text');
    expect(body.querySelector('.caret')).toBeNull();
    expect(body.classList.contains('streaming')).toBe(false);
    expect(body.hasAttribute('aria-busy')).toBe(false);
  });

  it('withdraws everything shown when a check fails, leaving only the reason', () => {
    const frames = manualFrames();
    const body = document.createElement('div');
    const s = new StreamingReply(body, frames.schedule);
    s.push('secret-looking text');
    frames.flush();
    s.withdraw('PCR0 does not match the profile');
    s.push('more');
    frames.flush();
    expect(body.textContent?.trim()).toBe('Not shown: PCR0 does not match the profile');
    expect(body.textContent).not.toContain('secret-looking');
    expect(s.current).toBe('');
  });

  it('keeps stopped text, marked as unverified', () => {
    const frames = manualFrames();
    const body = document.createElement('div');
    const s = new StreamingReply(body, frames.schedule);
    s.push('half a rep');
    s.stop();
    expect(body.textContent?.trim()).toBe('half a rep');
    expect(body.classList.contains('unverified')).toBe(true);
  });
});
