// Footnotes for the compare reports' unmeasured cells: a cell says only its status word and a
// number, and the note under the table says why (`¹ trap: popf ...`). Cells with the same
// column and reason share one note, so qemu's eleven not-applicable nanobenchmarks make one line.

export interface Footnote {
  number: number;
  text: string;
}

export class Footnotes {
  private readonly notes: Footnote[] = [];

  /** The number of the note with this text, a new one if no cell has used it yet. */
  number(text: string): number {
    const known = this.notes.find((n) => n.text === text);
    if (known) return known.number;
    const note = { number: this.notes.length + 1, text };
    this.notes.push(note);
    return note.number;
  }

  /** The notes numbered since `after` (the count before a table), in order. */
  since(after: number): Footnote[] {
    return this.notes.slice(after);
  }

  get count(): number {
    return this.notes.length;
  }
}

const SUPERSCRIPT_DIGITS = '⁰¹²³⁴⁵⁶⁷⁸⁹';

/** 12 -> "¹²", for plain-text note marks. */
export function superscript(n: number): string {
  return [...String(n)].map((d) => SUPERSCRIPT_DIGITS[Number(d)]).join('');
}
