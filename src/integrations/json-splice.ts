import { findNodeAtLocation, parseTree, type Node } from 'jsonc-parser';

export type JsonPath = Array<string | number>;

/**
 * A JSON document edited as text: a value is replaced by splicing its source range, so every other
 * byte of the file (key order, spacing, line endings) stays as it was.
 */
export class JsonText {
  private constructor(readonly text: string, private readonly root: Node) {}

  /** Parses strictly (Claude Code writes plain JSON); the error is one line saying where. */
  static parse(text: string, file: string): JsonText {
    try {
      JSON.parse(text);
    } catch (e) {
      throw new Error(`${file} is not valid JSON (${(e as Error).message.split('\n')[0]}); it was left as it is`);
    }
    const root = parseTree(text);
    if (!root) throw new Error(`${file} is empty; it was left as it is`);
    return new JsonText(text, root);
  }

  /** The source text of the value at `path`, or null when there is none. */
  source(path: JsonPath): string | null {
    const node = findNodeAtLocation(this.root, path);
    return node ? this.text.slice(node.offset, node.offset + node.length) : null;
  }

  value(path: JsonPath): unknown {
    const s = this.source(path);
    return s == null ? undefined : JSON.parse(s);
  }

  /** The text with the value at `path` replaced by `replacement` (source text); the path must exist. */
  replace(path: JsonPath, replacement: string): string {
    const node = findNodeAtLocation(this.root, path);
    if (!node) throw new Error(`no value at ${path.join('.')}`);
    return this.text.slice(0, node.offset) + replacement + this.text.slice(node.offset + node.length);
  }

  /** `value` as source text laid out like the value now at `path` (its indentation, one line or many). */
  formatLike(path: JsonPath, value: unknown): string {
    const node = findNodeAtLocation(this.root, path);
    const old = node ? this.text.slice(node.offset, node.offset + node.length) : '';
    if (!old.includes('\n')) return JSON.stringify(value);
    const lineStart = this.text.lastIndexOf('\n', node!.offset) + 1;
    const indent = /^[ \t]*/.exec(this.text.slice(lineStart))![0];
    const inner = /\n([ \t]*)\S/.exec(old);
    const unit = inner && inner[1].length > indent.length ? inner[1].slice(indent.length) : '  ';
    const eol = old.includes('\r\n') ? '\r\n' : '\n';
    return JSON.stringify(value, null, unit).replace(/\n/g, eol + indent);
  }
}
