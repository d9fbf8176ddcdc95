import { compareUtf8 } from './rules.js';
import {
  indexLine,
  parseIndexLine,
  sortIndex,
  type FileIndex,
  type IndexEntry,
  type IndexWithLines,
} from './file-index.js';

/*
 * The entries of a verified bundle, as the runner keeps them while it deploys. A large tree has
 * a hundred thousand entries: kept as objects, each with its path and sha256 as strings, they
 * took some 0.3 KiB of V8's heap an entry, and V8 lets its heap grow to twice what is live
 * before it collects, so the runner's peak grew with the tree. Here each entry is its index line,
 * packed with the others into buffers of a MiB outside the heap, and its mtime and the offset
 * of its bytes, in arrays of numbers: about the bytes of its line. An entry is made again as it
 * is read, one at a time, and is garbage as soon as the reader moves on.
 */

/** Bytes of lines packed into each buffer: a line never spans two. */
const CHUNK_BYTES = 1024 * 1024;
/** Numbers in each of a column's arrays. */
const COLUMN_LENGTH = 16 * 1024;
const NEWLINE = 0x0a;

/** An entry as the table gives it back: its index entry and what else its tar header held. */
export interface TableEntry extends IndexEntry {
  /** Seconds since 1970, as the bundle says. */
  mtime: number;
  /** Where a file's bytes start in the content file; 0 for the other kinds. */
  offset: number;
}

/** Numbers appended one by one, in arrays of a fixed size: none is ever copied to grow. */
class NumberColumn {
  readonly #arrays: Float64Array[] = [];
  #length = 0;

  push(value: number): void {
    const slot = this.#length % COLUMN_LENGTH;
    if (slot === 0) this.#arrays.push(new Float64Array(COLUMN_LENGTH));
    this.#arrays[this.#arrays.length - 1]![slot] = value;
    this.#length++;
  }

  at(index: number): number {
    return this.#arrays[Math.floor(index / COLUMN_LENGTH)]![index % COLUMN_LENGTH]!;
  }
}

/**
 * Entries in the bundle's order, as compact as their index lines; the same entries in the order
 * of `.release/index` are its `index`.
 */
export class EntryTable implements Iterable<TableEntry> {
  readonly #chunks: Buffer[] = [];
  #chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  #used = 0;
  readonly #mtimes = new NumberColumn();
  readonly #offsets = new NumberColumn();
  #length = 0;
  /** The last encoded path, while every path came after the one before it in index order. */
  #lastKey: string | undefined = '';
  #index: FileIndex | undefined;

  get length(): number {
    return this.#length;
  }

  add(entry: TableEntry): void {
    const line = indexLine(entry);
    const bytes = Buffer.byteLength(line) + 1;
    if (this.#used + bytes > this.#chunk.length) {
      this.#chunks.push(this.#chunk.subarray(0, this.#used));
      this.#chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes));
      this.#used = 0;
    }
    this.#used += this.#chunk.write(line, this.#used);
    this.#chunk[this.#used++] = NEWLINE;
    this.#mtimes.push(entry.mtime);
    this.#offsets.push(entry.offset);
    this.#length++;
    if (this.#lastKey !== undefined) {
      const key = line.slice(0, line.indexOf('\t'));
      const inOrder = this.#length === 1 || compareUtf8(this.#lastKey, key) < 0;
      this.#lastKey = inOrder ? key : undefined;
    }
    this.#index = undefined;
  }

  /** Every entry's index line, in the bundle's order. */
  *lines(): Generator<string> {
    for (const chunk of [...this.#chunks, this.#chunk.subarray(0, this.#used)]) {
      for (let from = 0, at = chunk.indexOf(NEWLINE); at !== -1;) {
        yield chunk.toString('utf8', from, at);
        from = at + 1;
        at = chunk.indexOf(NEWLINE, from);
      }
    }
  }

  *[Symbol.iterator](): Generator<TableEntry> {
    let at = 0;
    for (const line of this.lines()) {
      const { path, kind, mode, size, sha256, linkTarget } = parseIndexLine(line);
      const [mtime, offset] = [this.#mtimes.at(at), this.#offsets.at(at)];
      yield { path, kind, mode, size, sha256, linkTarget, mtime, offset };
      at++;
    }
  }

  /**
   * The entries in index order. A bundle build-action packed is in that order already (it sorts
   * paths by their bytes) unless a path needs escaping (its order is the raw bytes', the index's
   * the escaped ones'): then the entries are sorted, and held, as objects.
   */
  get index(): FileIndex {
    if (this.#index === undefined) {
      this.#index =
        this.#lastKey === undefined
          ? sortIndex([...this].map(({ mtime: _, offset: __, ...entry }) => entry))
          : this.#inOrder();
    }
    return this.#index;
  }

  #inOrder(): IndexWithLines {
    const lines = () => this.lines();
    return {
      length: this.#length,
      lines,
      *[Symbol.iterator]() {
        for (const line of lines()) yield parseIndexLine(line);
      },
    };
  }
}
