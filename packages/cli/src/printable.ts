// Everything the gateway sends (replies, tool names, arguments, summaries, errors, audit and
// task fields) is written by a model, a tool service or a user, and reaches a terminal. A
// control or escape sequence in it could move the cursor, clear lines, retitle the window or
// reorder text (bidi overrides), e.g. rewrite the approval question the user answers.

// Whole escape sequences, so no parameters are left over: CSI (ESC [ or C1 CSI) with its
// parameters; OSC, DCS, SOS, PM and APC strings up to their terminator (BEL or ST); any
// other ESC sequence (intermediates, then one final byte).
const escapeSequence = new RegExp(
  [
    '(?:\\u001b\\[|\\u009b)[\\u0030-\\u003f]*[\\u0020-\\u002f]*[\\u0040-\\u007e]',
    '(?:\\u001b[\\]PX^_]|[\\u0090\\u0098\\u009d-\\u009f])[^\\u0007\\u001b\\u009c]*(?:\\u0007|\\u001b\\\\|\\u009c)',
    '\\u001b[\\u0020-\\u002f]*[\\u0030-\\u007e]',
  ].join('|'),
  'g',
);
// What is left: C0 controls but tab and newline, DEL, C1 controls, and the bidi embeddings,
// overrides and isolates (U+202A–U+202E, U+2066–U+2069) of "Trojan Source".
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const controlCharacter = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
// Characters JSON.stringify leaves raw inside strings that a terminal must not get.
const unsafeInJson = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text safe to print on a terminal: escape sequences and control characters removed,
 * newlines and tabs kept (a carriage return before a newline is dropped, any other one
 * too: it would let text overwrite its own line).
 */
export function printable(text: string): string {
  return text.replace(escapeSequence, '').replace(controlCharacter, '');
}

/**
 * {@link printable} for a value shown on one line (a tool name, a summary in a question,
 * a table cell): newlines and tabs become spaces, so the value cannot start a line of its
 * own that looks like the CLI's.
 */
export function printableLine(text: string): string {
  return printable(text).replace(/[\n\t]/g, ' ');
}

/**
 * JSON.stringify for output meant for programs that may also reach a terminal: it already
 * escapes C0 controls (ESC included); DEL, C1 controls and bidi controls are escaped as
 * well (`\u009b`), which parses back to the very same value.
 */
export function printableJson(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(
    unsafeInJson,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
