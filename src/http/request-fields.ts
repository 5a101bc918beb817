// The request-building flags of `tokens api`, parsed without any I/O (usage errors come first):
// -f/-F fields with `key[sub]` nesting, -H headers, --form parts. Values that come from files or
// stdin (`-F key=@PATH`, `@-`) are read by the run function, then nested by nestFields.
import { UsageError } from '../base/errors.js';

/** The methods `tokens api -X` takes. */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** Headers tokens sets itself from the credentials: never taken from -H. */
export const CREDENTIAL_HEADERS = ['authorization', 'x-app-id', 'x-api-key'] as const;
/** Headers that describe the message framing, which tokens works out from the body. */
const FRAMING_HEADERS = ['content-length', 'transfer-encoding', 'host', 'connection'];

export interface FieldSpec {
  /** The key as given, e.g. "track[title]" (a query parameter keeps it as is). */
  key: string;
  /** The key split for nesting: "track[title]" → ["track", "title"]; "ids[]" → ["ids", ""]. */
  path: string[];
  /** -f: always a string; -F: true, false, null and integers become JSON values, @PATH / @- read a file / stdin. */
  typed: boolean;
  value: string;
}

export type FieldValue = string | number | boolean | null;

export function parseField(arg: string, typed: boolean): FieldSpec {
  const flag = typed ? '-F' : '-f';
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new UsageError(`${flag} takes key=value, not "${arg}"`);
  const key = arg.slice(0, eq);
  return { key, path: parseKey(key, flag), typed, value: arg.slice(eq + 1) };
}

function parseKey(key: string, flag: string): string[] {
  const match = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
  if (!match) throw new UsageError(`${flag} ${key}=…: a key is a name with optional [sub] parts, e.g. track[title]`);
  const subs = [...match[2]!.matchAll(/\[([^[\]]*)\]/g)].map((m) => m[1]!);
  return [match[1]!, ...subs];
}

/** Where a -F value comes from, once its literal forms are ruled out. */
export function fieldSource(spec: FieldSpec): { file: string } | { stdin: true } | { value: FieldValue } {
  if (!spec.typed) return { value: spec.value };
  if (spec.value === '@-') return { stdin: true };
  if (spec.value.startsWith('@') && spec.value.length > 1) return { file: spec.value.slice(1) };
  return { value: typedValue(spec.value) };
}

/** -F's literal values: true, false, null and integers are JSON; everything else is a string. */
export function typedValue(text: string): FieldValue {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null') return null;
  if (/^-?(0|[1-9]\d*)$/.test(text) && Number.isSafeInteger(Number(text))) return Number(text);
  return text;
}

/** The fields as one JSON object: `a[b]=1` → {"a":{"b":1}}, `ids[]=1 ids[]=2` → {"ids":[1,2]}. */
export function nestFields(fields: ReadonlyArray<{ spec: FieldSpec; value: FieldValue }>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const { spec, value } of fields) {
    let container: Record<string, unknown> | unknown[] = root;
    spec.path.forEach((segment, i) => {
      const last = i === spec.path.length - 1;
      const nextIsPush = !last && spec.path[i + 1] === '';
      const conflict = () =>
        new UsageError(`${spec.typed ? '-F' : '-f'} ${spec.key}: conflicts with another field for the same key`);
      if (Array.isArray(container)) {
        if (segment !== '') throw conflict();
        if (last) container.push(value);
        else {
          const child: Record<string, unknown> | unknown[] = nextIsPush ? [] : {};
          container.push(child);
          container = child;
        }
        return;
      }
      if (segment === '') throw conflict();
      const existing = Object.hasOwn(container, segment) ? container[segment] : undefined;
      if (last) {
        if (existing !== undefined) throw conflict();
        container[segment] = value;
        return;
      }
      if (existing === undefined) {
        const child: Record<string, unknown> | unknown[] = nextIsPush ? [] : {};
        container[segment] = child;
        container = child;
      } else if (typeof existing === 'object' && existing !== null && Array.isArray(existing) === nextIsPush) {
        container = existing as Record<string, unknown> | unknown[];
      } else {
        throw conflict();
      }
    });
  }
  return root;
}

/** The string a field has as a query parameter. */
export function queryValue(value: FieldValue): string {
  return value === null ? 'null' : String(value);
}

/**
 * What node:http refuses to send in a header value (validateHeaderValue): anything but tab, space,
 * visible ASCII and Latin-1. The same rule here (node:http itself is not loaded to parse flags) makes
 * such a value a usage error rather than a "network error" after a token was fetched for it.
 */
export const NOT_IN_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/u;

export function parseHeader(arg: string): [string, string] {
  const colon = arg.indexOf(':');
  const name = colon > 0 ? arg.slice(0, colon).trim() : '';
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new UsageError(`-H takes 'Name: value', not "${arg}"`);
  const value = arg.slice(colon + 1).trim();
  const refused = NOT_IN_HEADER_VALUE.exec(value)?.[0];
  if (refused !== undefined) {
    const codePoint = `U+${refused.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    throw new UsageError(
      `-H ${name}: a header value may hold only tabs and printable Latin-1 characters, not ${codePoint}`,
    );
  }
  const lower = name.toLowerCase();
  if ((CREDENTIAL_HEADERS as readonly string[]).includes(lower)) {
    throw new UsageError(`-H ${name} is not allowed: tokens sends the provider's credentials itself`, {
      hint: 'Use `tokens get PROVIDER --format header` to see them.',
    });
  }
  if (FRAMING_HEADERS.includes(lower))
    throw new UsageError(`-H ${name} is not allowed: tokens sets it from the request body`);
  return [name, value];
}

export interface FormPart {
  name: string;
  /** A text value, or a file streamed from disk. */
  text?: string;
  file?: string;
}

export function parseFormPart(arg: string): FormPart {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new UsageError(`--form takes key=value or key=@PATH, not "${arg}"`);
  const name = arg.slice(0, eq);
  const value = arg.slice(eq + 1);
  if (value === '@-')
    throw new UsageError('--form reads files from disk only (@PATH); for a body on stdin use --input -');
  if (value.startsWith('@') && value.length > 1) return { name, file: value.slice(1) };
  return { name, text: value };
}
