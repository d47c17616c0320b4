// What the slave tells the master about the machine it runs on: the OS and
// board in HELLO, and disk / memory / load / temperature in IDLE and BUSY.
// Parsing of the /proc and /etc text is in pure functions; the readers at the
// bottom do the I/O and treat a missing file as "not available here".
import { readFile, statfs } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { z } from 'zod';

const execFileAsync = promisify(execFile);

export interface OsRelease {
  name: string;
  version: string;
}

/** Strips the shell quoting os-release allows ("...", '...', backslash escapes). */
function unquote(value: string): string {
  const trimmed = value.trim();
  if (trimmed.length >= 2 && trimmed.startsWith("'") && trimmed.endsWith("'")) return trimmed.slice(1, -1);
  if (trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')) {
    return trimmed.slice(1, -1).replace(/\\(["\\`$])/g, '$1');
  }
  return trimmed;
}

/** NAME and VERSION from os-release(5) text; "Linux" and "" when absent, as piwheels reports. */
export function parseOsRelease(text: string): OsRelease {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) values.set(match[1], unquote(match[2]));
  }
  return { name: values.get('NAME') || 'Linux', version: values.get('VERSION') ?? '' };
}

export interface MemoryStats {
  memSize: number;
  memFree: number;
  swapSize: number;
  swapFree: number;
}

/**
 * Memory and swap in bytes from /proc/meminfo. "Free" memory is MemAvailable
 * where the kernel reports it, else MemFree + Cached (older kernels).
 */
export function parseMeminfo(text: string): MemoryStats {
  const kib = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w+(?:\(\w+\))?):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) kib.set(match[1], Number(match[2]));
  }
  const total = kib.get('MemTotal');
  if (total === undefined) throw new Error('/proc/meminfo has no MemTotal');
  const available = kib.get('MemAvailable') ?? (kib.get('MemFree') ?? 0) + (kib.get('Cached') ?? 0);
  return {
    memSize: total * 1024,
    memFree: available * 1024,
    swapSize: (kib.get('SwapTotal') ?? 0) * 1024,
    swapFree: (kib.get('SwapFree') ?? 0) * 1024,
  };
}

export interface BoardInfo {
  revision: string;
  serial: string;
}

/** Revision and Serial lines of /proc/cpuinfo (Raspberry Pi kernels print both). */
export function parseCpuinfoBoard(text: string): BoardInfo {
  let revision = '';
  let serial = '';
  for (const line of text.split('\n')) {
    const match = /^(Revision|Serial)\s*:\s*([0-9a-fA-F]+)\s*$/.exec(line);
    if (match?.[1] === 'Revision') revision = match[2] ?? '';
    if (match?.[1] === 'Serial') serial = match[2] ?? '';
  }
  // Leading zeros are dropped, as the device-tree form below reports them.
  return { revision: revision.toLowerCase().replace(/^0+(?=.)/, ''), serial: serial.toLowerCase().replace(/^0+(?=.)/, '') };
}

/** A big-endian device-tree cell (linux,revision: 4 bytes; linux,serial: 8) as lower-case hex without leading zeros. */
export function deviceTreeHex(bytes: Buffer, width: 4 | 8): string {
  if (bytes.length < width) return '';
  const value = width === 4 ? BigInt(bytes.readUInt32BE(0)) : bytes.readBigUInt64BE(0);
  return value.toString(16);
}

/** /sys/class/thermal millidegrees → degrees Celsius; 0.0 when unreadable. */
export function parseThermal(text: string): number {
  const value = Number(text.trim());
  return Number.isFinite(value) && text.trim() !== '' ? value / 1000 : 0.0;
}

/** What `--python` reports about itself: the tags HELLO carries. */
export const PythonTagsSchema = z.object({
  pyVersion: z.string().regex(/^\d+$/),
  abi: z.string().min(1),
  platform: z.string().min(1),
  version: z.string().min(1),
});
export type PythonTags = z.infer<typeof PythonTagsSchema>;

/**
 * Asks the interpreter for its tags as pip computes them (packaging.tags, or
 * pip's vendored copy). The interpreter and ABI come from the first (most
 * specific) tag. The platform is the one a wheel built there gets, which is
 * what piwheels slaves have always reported: the wheel package's answer when
 * it is installed (it says linux_armv7l for 32-bit Raspberry Pi OS on a 64-bit
 * kernel), else the plain linux_<arch> tag rather than the manylinux ones
 * packaging lists first.
 */
export const PYTHON_TAGS_SCRIPT = `
import json, platform
try:
    from packaging import tags
except ImportError:
    from pip._vendor.packaging import tags
first = next(iter(tags.sys_tags()))
try:
    from wheel.bdist_wheel import get_platform
    plat = get_platform(None)
except Exception:
    plain = [p for p in tags.platform_tags() if p.startswith('linux_')]
    plat = plain[-1] if plain else first.platform
print(json.dumps({
    'pyVersion': tags.interpreter_version(),
    'abi': first.abi,
    'platform': plat,
    'version': platform.python_version(),
}))
`;

export function parsePythonTags(stdout: string): PythonTags {
  const lines = stdout.trim().split('\n');
  let json: unknown;
  try {
    json = JSON.parse(lines[lines.length - 1] ?? '');
  } catch {
    throw new Error(`unexpected output from the tag probe: ${stdout.trim().slice(0, 200)}`);
  }
  return PythonTagsSchema.parse(json);
}

export async function probePython(python: string): Promise<PythonTags> {
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(python, ['-c', PYTHON_TAGS_SCRIPT], { timeout: 60_000 }));
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new Error(`cannot ask ${python} for its wheel tags (needs pip or packaging): ${message}`);
  }
  return parsePythonTags(stdout);
}

async function readOptional(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch {
    return null;
  }
}

export async function readOsRelease(): Promise<OsRelease> {
  const text = (await readOptional('/etc/os-release')) ?? (await readOptional('/usr/lib/os-release'));
  return parseOsRelease(text?.toString('utf8') ?? '');
}

/** Board revision and serial from the device tree, else /proc/cpuinfo; empty strings on other machines. */
export async function readBoardInfo(): Promise<BoardInfo> {
  const revision = await readOptional('/proc/device-tree/system/linux,revision');
  const serial = await readOptional('/proc/device-tree/system/linux,serial');
  const fromCpuinfo = parseCpuinfoBoard((await readOptional('/proc/cpuinfo'))?.toString('utf8') ?? '');
  return {
    revision: (revision && deviceTreeHex(revision, 4)) || fromCpuinfo.revision,
    serial: (serial && deviceTreeHex(serial, 8)) || fromCpuinfo.serial,
  };
}

export interface SystemStats extends MemoryStats {
  timestamp: Date;
  diskSize: number;
  diskFree: number;
  loadAverage: number;
  cpuTemperature: number;
}

/** The IDLE / BUSY statistics; `dir` is the build directory whose file system is measured. */
export async function readSystemStats(dir: string): Promise<SystemStats> {
  const fs = await statfs(dir);
  const meminfo = await readOptional('/proc/meminfo');
  const memory: MemoryStats = meminfo
    ? parseMeminfo(meminfo.toString('utf8'))
    : { memSize: 0, memFree: 0, swapSize: 0, swapFree: 0 };
  const thermal = await readOptional('/sys/class/thermal/thermal_zone0/temp');
  return {
    timestamp: new Date(),
    diskSize: fs.blocks * fs.bsize,
    diskFree: fs.bavail * fs.bsize,
    ...memory,
    loadAverage: loadavg()[0] ?? 0,
    cpuTemperature: thermal ? parseThermal(thermal.toString('utf8')) : 0.0,
  };
}
