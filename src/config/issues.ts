import type { z } from 'zod';

/**
 * Validation problems in the words of the file's author: the key, what it expects, and what the
 * file has there. zod's own wording ("Invalid input: expected string, received undefined") names
 * neither the key nor the YAML value, and zod 4 leaves `input` out of its issues unless asked
 * (`safeParse(raw, { reportInput: true })`), so a wrongly typed value looked like a missing key.
 */

/** What a YAML value is, for an error message: `the number 30`, `the string "8"`, `a list`. Long strings are cut. */
export function describeValue(value: unknown): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'number':
      return `the number ${value}`;
    case 'boolean':
      return `the boolean ${value}`;
    case 'string':
      return value === '' ? 'an empty string' : `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
    case 'object':
      return 'a mapping';
    default:
      return `a ${typeof value}`;
  }
}

/** What kind of value it is, without the value: for places that may hold a secret (a password, a header). */
export function describeKind(value: unknown): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return typeof value === 'string' ? 'a string' : `a ${typeof value}`;
}

/** zod's type names in words. */
const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
  url: 'a URL',
};

/**
 * A zod `error` option for a value with one expectation in words: every type or range problem of
 * that schema reads `expected <what>, got <what was found>`, and a missing value `required`.
 * Messages given explicitly to a check (`.min(2, '...')`) still win.
 */
export function expecting(what: string, options: { secret?: boolean } = {}): { error: (issue: z.core.$ZodRawIssue) => string | undefined } {
  const found = options.secret ? describeKind : describeValue;
  return {
    error: (issue) => {
      if (!['invalid_type', 'invalid_union', 'too_small', 'too_big', 'invalid_value', 'invalid_format'].includes(issue.code ?? '')) return undefined;
      return issue.input === undefined ? 'required' : `expected ${what}, got ${found(issue.input)}`;
    },
  };
}

/** True for zod's own default messages, which are replaced by wording that names the value found. */
function isZodWording(message: string): boolean {
  return /^(Invalid input|Invalid option|Invalid string|Invalid (?:URL|url)|Invalid|Too small|Too big)\b/.test(message);
}

/** One issue as `what is wrong` (without the key), from an issue parsed with `reportInput: true`. */
export function issueMessage(issue: z.core.$ZodIssue): string {
  if (!isZodWording(issue.message)) return issue.message;
  const input = (issue as { input?: unknown }).input;
  const found = describeValue(input);
  switch (issue.code) {
    case 'invalid_type':
      return input === undefined ? 'required' : `expected ${TYPE_WORDS[issue.expected] ?? issue.expected}, got ${found}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => String(v)).join(', ')}, got ${found}`;
    case 'too_small':
      if (issue.origin === 'string') return issue.minimum === 1 ? 'must not be empty' : `must be at least ${issue.minimum} characters long`;
      if (issue.origin === 'array' || issue.origin === 'set') return `must have at least ${issue.minimum} entries`;
      return `must be at least ${issue.minimum}, got ${found}`;
    case 'too_big':
      if (issue.origin === 'string') return `must be at most ${issue.maximum} characters long`;
      if (issue.origin === 'array' || issue.origin === 'set') return `must have at most ${issue.maximum} entries`;
      return `must be at most ${issue.maximum}, got ${found}`;
    case 'invalid_format':
      return `expected ${TYPE_WORDS[issue.format] ?? `a valid ${issue.format}`}, got ${found}`;
    case 'invalid_union':
      return input === undefined ? 'required' : `has an unexpected type: ${found}`;
    default:
      return `invalid value: ${found}`;
  }
}

/** `targets[0].region` style paths, as a reader of the YAML file would write them. */
export function keyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out || '<root>';
}

/** Every issue as `key: problem` lines; unknown keys one line each, with `unknownKey` saying what they are. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], unknownKey = 'unknown key'): string[] {
  return issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => `${keyPath([...issue.path, k])}: ${unknownKey}`);
    // A record key (an account name) that fails its pattern: zod's own message is only "Invalid key in record".
    if (issue.code === 'invalid_key') return [`${keyPath(issue.path)}: ${issue.issues[0]?.message ?? issue.message}`];
    return [`${keyPath(issue.path)}: ${issueMessage(issue)}`];
  });
}
