import type { YamlFileIssue } from '@toolmesh/config';

/** One problem of an assistants file: where it is and what is wrong. */
export type AssistantsFileIssue = YamlFileIssue;

/** How one issue reads: `line 7: assistants[0].temperature: expected a number from 0 to 2`. */
export function formatAssistantsFileIssue(issue: AssistantsFileIssue): string {
  return [issue.line > 0 ? `line ${issue.line}` : '', issue.path, issue.message].filter(Boolean).join(': ');
}

/**
 * An assistants file that cannot be used. The message lists every issue found, one a line,
 * in file order, each naming its line and key path; `file`, when known, prefixes it.
 */
export class AssistantsFileError extends Error {
  readonly issues: readonly AssistantsFileIssue[];
  readonly file?: string;

  constructor(issues: readonly AssistantsFileIssue[], file?: string) {
    const sorted = [...issues].sort((a, b) => a.line - b.line);
    const text = sorted.map(formatAssistantsFileIssue).join('\n');
    super(file ? `${file}: ${text}` : text);
    this.name = 'AssistantsFileError';
    this.issues = sorted;
    this.file = file;
  }
}
