import { type Document, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { z } from 'zod';

/** One problem of a YAML configuration file: where it is and what is wrong. */
export interface YamlFileIssue {
  /** 1-based line of the offending key or value; 0 when the problem concerns the whole file. */
  line: number;
  /** Key path such as `assistants[0].temperature`; empty for the whole file. */
  path: string;
  message: string;
}

/** A key path into the document: keys and list indexes. */
export type YamlPath = readonly (string | number)[];

/** A parsed YAML configuration file that reports problems by line and key path. */
export interface YamlFile {
  /** True when the document holds nothing (an empty file, or only comments). */
  readonly empty: boolean;
  /** Problems found so far: syntax errors at first, then what `validate` and `at` add. */
  readonly issues: YamlFileIssue[];
  /** Validates the document with `schema`; each schema problem becomes an issue; undefined when invalid. */
  validate<S extends z.ZodType>(schema: S): z.output<S> | undefined;
  /** Adds a problem found after validation, at the line of `path`. */
  at(path: YamlPath, message: string): void;
}

/** `assistants[0].temperature`, `tenants.t_demo.chat_burst`. */
function formatPath(path: YamlPath): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

// Where a key path points in the document: the line of its key (or item), or, when it is
// missing, the line of the nearest mapping or list that holds it.
function locate(doc: Document, lines: LineCounter, path: YamlPath): { line: number; found: boolean } {
  const lineOf = (node: Node | null | undefined) => (node?.range ? lines.linePos(node.range[0]).line : 0);
  let node: unknown = doc.contents;
  let line = lineOf(doc.contents);
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(seg));
      if (!pair) return { line: line || lineOf(node), found: false };
      line = lineOf(pair.key as Node) || lineOf(pair.value as Node) || line;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) return { line, found: false };
      line = lineOf(item as Node) || line;
      node = item;
    } else {
      return { line, found: false };
    }
  }
  return { line, found: true };
}

/**
 * Parses a YAML configuration file (duplicate keys are errors) so that every problem — syntax,
 * schema (unknown keys, wrong types, missing keys) or found later by the caller — names the line
 * and key it is about. The assistants file and the MCP servers file read this way.
 */
export function readYamlFile(text: string): YamlFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const issues: YamlFileIssue[] = doc.errors.map((e) => ({
    line: lines.linePos(e.pos[0]).line,
    path: '',
    message: `invalid YAML: ${e.message}`,
  }));
  const at = (path: YamlPath, message: string) => {
    issues.push({ line: locate(doc, lines, path).line, path: formatPath(path), message });
  };
  return {
    empty: doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null),
    issues,
    at,
    validate(schema) {
      const parsed = schema.safeParse(doc.toJS() ?? {});
      if (parsed.success) return parsed.data;
      for (const issue of parsed.error.issues) {
        const path = issue.path.map((p) => (typeof p === 'number' ? p : String(p)));
        if (issue.code === 'unrecognized_keys') {
          for (const key of issue.keys) at([...path, key], 'unknown key');
          continue;
        }
        const where = locate(doc, lines, path);
        const message = issue.code === 'invalid_type' && !where.found ? 'required' : issue.message;
        issues.push({ line: where.line, path: formatPath(path), message });
      }
      return undefined;
    },
  };
}
