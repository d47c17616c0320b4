// Configuration for the long-running piw-* processes, from three sources with
// a fixed precedence: command-line flags over PIW_* environment variables over
// a TOML file over the schema's defaults. The merged result is validated by the
// caller's zod schema, and a bad value is reported with where it came from so
// the operator knows which of the three to fix.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { UserError } from './cli.ts';

export type ConfigSource = 'flag' | 'env' | 'file' | 'default';

export interface ConfigSources {
  /** Values from the command line; undefined entries are treated as not given. */
  flags?: Record<string, unknown>;
  /** The environment to read PIW_* variables from (default: none). */
  env?: Record<string, string | undefined>;
  /** Prefix of the environment variables (default "PIW_"). */
  envPrefix?: string;
  /** A configuration file that must exist (from -c / --configuration). */
  file?: string | undefined;
  /** Files read when present, in order, when no explicit file is given. */
  defaultFiles?: string[];
  /** A TOML table whose keys override the top-level ones (e.g. "master"). */
  section?: string;
  /** Read only the section's table: its keys mean something else at the top level. */
  sectionOnly?: boolean;
  /** Skip file keys the schema does not know (reading another program's table). */
  ignoreUnknown?: boolean;
  /** File keys (camelCase) standing for other schema keys: { name: 'siteName' }. */
  fileKeys?: Record<string, string>;
}

/** "output-path" and "output_path" both become "outputPath". */
export function camelKey(key: string): string {
  return key.toLowerCase().replace(/[-_]+([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** "outputPath" becomes "PIW_OUTPUT_PATH". */
export function envName(key: string, prefix = 'PIW_'): string {
  return prefix + key.replace(/([A-Z])/g, '_$1').toUpperCase();
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? homedir() + path.slice(1) : path;
}

function readToml(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(expandHome(path), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read configuration file ${path}: ${code ?? String(error)}`);
  }
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (error) {
    const first = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    throw new UserError(`configuration file ${path} is not valid TOML: ${first}`);
  }
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Reads the file's top-level keys, then the chosen section's over them; other tables are ignored. */
function fileValues(path: string, sources: ConfigSources, known: Set<string>): Record<string, unknown> {
  const { section, sectionOnly = false, ignoreUnknown = false, fileKeys = {} } = sources;
  const doc = readToml(path);
  const out: Record<string, unknown> = {};
  const take = (table: Record<string, unknown>, where: string): void => {
    for (const [rawKey, value] of Object.entries(table)) {
      if (isTable(value)) continue;
      const camel = camelKey(rawKey);
      const key = fileKeys[camel] ?? camel;
      if (!known.has(key) && ignoreUnknown) continue;
      if (!known.has(key)) throw new UserError(`configuration file ${path}: unknown setting "${where}${rawKey}"`);
      out[key] = value;
    }
  };
  if (!sectionOnly) take(doc, '');
  const sectionTable = section === undefined ? undefined : doc[section];
  if (isTable(sectionTable)) take(sectionTable, `${section}.`);
  return out;
}

function firstExisting(paths: string[]): string | undefined {
  for (const path of paths) {
    try {
      readFileSync(expandHome(path));
      return path;
    } catch {
      continue;
    }
  }
  return undefined;
}

/**
 * Merges the sources and validates them with `schema`. Keys are the schema's
 * (camelCase) keys; the file may spell them kebab- or snake-case.
 */
export function loadConfig<S extends z.ZodObject>(schema: S, sources: ConfigSources): z.infer<S> {
  const known = new Set(Object.keys(schema.shape));
  const merged: Record<string, unknown> = {};
  const origin: Record<string, string> = {};

  const file = sources.file ?? firstExisting(sources.defaultFiles ?? []);
  if (file !== undefined) {
    for (const [key, value] of Object.entries(fileValues(file, sources, known))) {
      merged[key] = value;
      origin[key] = `configuration file ${file}`;
    }
  }
  const prefix = sources.envPrefix ?? 'PIW_';
  for (const key of known) {
    const name = envName(key, prefix);
    const value = sources.env?.[name];
    if (value !== undefined && value !== '') {
      merged[key] = value;
      origin[key] = `environment ${name}`;
    }
  }
  for (const [key, value] of Object.entries(sources.flags ?? {})) {
    if (value === undefined || !known.has(key)) continue;
    merged[key] = value;
    origin[key] = `option --${key.replace(/([A-Z])/g, '-$1').toLowerCase()}`;
  }

  const result = schema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      const where = origin[key] ? ` (from ${origin[key]})` : '';
      return `${issue.path.join('.') || 'configuration'}: ${issue.message}${where}`;
    });
    throw new UserError(`invalid configuration: ${problems.join('; ')}`);
  }
  return result.data;
}

/** A boolean that also accepts the strings an environment variable carries. */
export const envBoolean = z.preprocess((value) => {
  if (typeof value !== 'string') return value;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  return value;
}, z.boolean());

/** A whole number that also accepts its decimal string. */
export const envInteger = z.preprocess(
  (value) => (typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value),
  z.number().int(),
);

/** A number (seconds, ratios) that also accepts its decimal string. */
export const envNumber = z.preprocess(
  (value) => (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value),
  z.number(),
);

/** A ZeroMQ endpoint as piwheels writes them: tcp://host:port, ipc://path or inproc://name. */
export const zmqAddress = z
  .string()
  .regex(/^(tcp:\/\/[^\s:]+:(\d+|\*)|ipc:\/\/\S+|inproc:\/\/\S+)$/, 'expected a ZeroMQ address such as tcp://*:5555 or ipc:///path');
