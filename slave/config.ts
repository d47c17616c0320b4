// piw-slave's settings: flags over PIW_* environment variables over a TOML
// file (top-level keys, then a [slave] table) over the defaults below.
import { hostname, tmpdir } from 'node:os';
import { z } from 'zod';
import { envInteger, loadConfig } from '../shared/config.ts';
import { parseDuration } from '../shared/duration.ts';

const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? value * 1000 : parseDuration(value);
  if (ms === null || !Number.isFinite(ms) || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `expected a duration such as 3h, 90m, 45s or 1:30:00, not ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return ms;
});

const port = envInteger.pipe(z.number().int().min(1).max(65535));

const endpoint = z
  .string()
  .regex(/^(tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d+|ipc:\/\/\S+|inproc:\/\/\S+)$/, 'expected tcp://host:port, ipc://path or inproc://name');

const url = z.string().refine((value) => {
  try {
    return ['http:', 'https:', 'file:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}, 'expected an http(s):// or file:// URL');

/** A list from a flag (repeated), a TOML array, or an env variable (space or comma separated). */
const urlList = z
  .union([z.array(z.string()), z.string()])
  .transform((value) => (Array.isArray(value) ? value : value.split(/[\s,]+/).filter((item) => item !== '')))
  .pipe(z.array(url));

export const SlaveConfigSchema = z.object({
  master: z.string().regex(/^[^\s/]+$/, 'expected a host name or address').default('localhost'),
  slavePort: port.default(5555),
  filePort: port.default(5556),
  /** Full endpoints override master + port (e.g. ipc:// for a master on the same machine). */
  slaveEndpoint: endpoint.optional(),
  fileEndpoint: endpoint.optional(),
  timeout: duration.default(3 * 3600 * 1000),
  /** Announced to the master as the busy timeout; also the longest wait for its reply. */
  masterTimeout: duration.default(5 * 60 * 1000),
  /** The wait for replies the master gives at once (HELLO, BUSY). */
  replyTimeout: duration.default(5 * 1000),
  dir: z.string().min(1).default(tmpdir()),
  label: z.string().min(1).default(hostname()),
  python: z.string().min(1).default('python3'),
  /** Overrides the index the master hands out in ACK. */
  indexUrl: url.optional(),
  extraIndexUrl: urlList.default([]),
  /** This slave's secret CURVE certificate; with curveServer, its tcp:// connections use CURVE. */
  curveSecret: z.string().min(1).optional(),
  /** The master's public CURVE certificate (NAME.key). */
  curveServer: z.string().min(1).optional(),
}).refine((config) => (config.curveSecret === undefined) === (config.curveServer === undefined), {
  message: "CURVE needs both curve-secret (this slave's NAME.key_secret) and curve-server (the master's NAME.key)",
});

export type SlaveConfig = z.output<typeof SlaveConfigSchema>;

/** Wraps an IPv6 literal in brackets for a tcp:// endpoint. */
export function hostForEndpoint(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export function slaveEndpoint(config: SlaveConfig): string {
  return config.slaveEndpoint ?? `tcp://${hostForEndpoint(config.master)}:${config.slavePort}`;
}

export function fileEndpoint(config: SlaveConfig): string {
  return config.fileEndpoint ?? `tcp://${hostForEndpoint(config.master)}:${config.filePort}`;
}

export const DEFAULT_CONFIG_FILES = ['/etc/piwheels.toml', '~/.config/piwheels/piwheels.toml'];

export function loadSlaveConfig(
  flags: Record<string, unknown>,
  env: Record<string, string | undefined>,
  file?: string,
): SlaveConfig {
  return loadConfig(SlaveConfigSchema, { flags, env, file, defaultFiles: DEFAULT_CONFIG_FILES, section: 'slave' });
}
