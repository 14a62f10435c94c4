import { ProtocolViolation } from './wire-protocol.ts';

// What a StartupMessage asks of the session, as far as the embedded server honours it.

/** The name/value pairs of a StartupMessage (int32 length, int32 protocol, then pairs of C strings). */
export function startupParameters(bytes: Buffer): Map<string, string> {
  const parameters = new Map<string, string>();
  let at = 8;
  const cString = (): string | undefined => {
    const end = bytes.indexOf(0, at);
    if (end < 0) return undefined;
    const value = bytes.toString('utf8', at, end);
    at = end + 1;
    return value;
  };
  for (;;) {
    const name = cString();
    if (!name) return parameters;
    const value = cString();
    if (value === undefined) throw new ProtocolViolation('invalid startup packet layout');
    parameters.set(name, value);
  }
}

// Postgres' pg_split_opts: words separated by white space, a backslash keeps the next character.
function splitOptions(options: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < options.length; i++) {
    const c = options[i] as string;
    if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c === '\\' && i + 1 < options.length ? (options[++i] as string) : c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** The settings in an `options` parameter: `-c name=value`, `-cname=value`, `--name=value`. */
function optionSettings(options: string): Array<[string, string]> {
  const settings: Array<[string, string]> = [];
  const words = splitOptions(options);
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    let setting: string | undefined;
    if (word === '-c') setting = words[++i];
    else if (word.startsWith('-c')) setting = word.slice(2);
    else if (word.startsWith('--')) setting = word.slice(2);
    const eq = setting?.indexOf('=') ?? -1;
    if (setting === undefined || eq <= 0) continue;
    // As Postgres' ParseLongOption: dashes in the name stand for underscores.
    settings.push([setting.slice(0, eq).replaceAll('-', '_').toLowerCase(), setting.slice(eq + 1)]);
  }
  return settings;
}

// Postgres' parse_bool: on/off, true/false, yes/no, 1/0 and unique prefixes, any case.
function parseBool(name: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  const prefixOf = (word: string, least = 1) => v.length >= least && word.startsWith(v);
  if (prefixOf('true') || prefixOf('yes') || v === 'on' || v === '1') return true;
  if (prefixOf('false') || prefixOf('no') || prefixOf('off', 2) || v === '0') return false;
  throw new ProtocolViolation(`parameter "${name}" requires a Boolean value`, '22023');
}

const READ_ONLY = 'default_transaction_read_only';

/**
 * Whether the connection asked for `default_transaction_read_only`, in `options` or as a
 * parameter of its own (which wins, as in Postgres). Throws {@link ProtocolViolation}
 * (22023) for a value that is not a Boolean, where Postgres refuses the connection too.
 */
export function requestsReadOnly(parameters: Map<string, string>): boolean {
  let readOnly = false;
  const options = parameters.get('options');
  if (options)
    for (const [name, value] of optionSettings(options))
      if (name === READ_ONLY) readOnly = parseBool(name, value);
  const own = parameters.get(READ_ONLY);
  return own === undefined ? readOnly : parseBool(READ_ONLY, own);
}
