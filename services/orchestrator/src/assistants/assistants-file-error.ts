/** One problem of an assistants file: where it is and what is wrong. */
export interface AssistantsFileIssue {
  /** 1-based line of the offending key or value; 0 when the problem concerns the whole file. */
  line: number;
  /** Key path such as `assistants[0].temperature`; empty for the whole file. */
  path: string;
  message: string;
}

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
