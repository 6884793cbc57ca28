// A reply as it streams: pieces are joined and rendered at most once per frame, so a fast stream
// neither freezes the window nor makes the layout jump.

import { renderMarkdown } from './markdown';

export type Scheduler = (render: () => void) => void;

const nextFrame: Scheduler = (render) => requestAnimationFrame(() => render());

export class StreamingReply {
  private text = '';
  private pending = false;
  private done = false;
  /** How many times the body was re-rendered (the tests check the coalescing). */
  renders = 0;

  constructor(private readonly body: HTMLElement, private readonly schedule: Scheduler = nextFrame) {
    body.classList.add('streaming');
    body.setAttribute('aria-busy', 'true');
  }

  get current(): string {
    return this.text;
  }

  push(piece: string): void {
    if (this.done) return;
    this.text += piece;
    if (this.pending) return;
    this.pending = true;
    this.schedule(() => {
      this.pending = false;
      if (!this.done) this.render(true);
    });
  }

  /** The reply verified: show exactly the verified text. */
  finish(verifiedText: string): void {
    this.text = verifiedText;
    this.end();
    this.render(false);
  }

  /** Stopped: the text so far stays, marked as never verified. */
  stop(): void {
    this.end();
    this.render(false);
    this.body.classList.add('unverified');
  }

  /** A check failed: everything shown is withdrawn; only the reason remains. */
  withdraw(reason: string): void {
    this.text = '';
    this.end();
    this.body.replaceChildren();
    const p = document.createElement('p');
    p.className = 'refusal';
    p.textContent = `Not shown: ${reason}`;
    this.body.append(p);
  }

  private end(): void {
    this.done = true;
    this.body.classList.remove('streaming');
    this.body.removeAttribute('aria-busy');
  }

  private render(withCaret: boolean): void {
    this.renders += 1;
    this.body.innerHTML = renderMarkdown(this.text);
    if (withCaret) {
      const caret = document.createElement('span');
      caret.className = 'caret';
      caret.setAttribute('aria-hidden', 'true');
      (this.body.lastElementChild ?? this.body).append(caret);
    }
  }
}
