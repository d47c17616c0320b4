// A page request: what the farm's tasks (the cloud gazer, Mr Chase, Big
// Brother, finished builds) ask the page writer to do. The secretary buffers
// the project rewrites among them and keeps that buffer in rewrites_pending
// across restarts; the scribe carries them out in its own thread. This module
// is the one definition of the request, and the one place it is mapped to and
// from its stored form (the rows the database layer reads and writes).
import { z } from 'zod';
import { RewritePendingSchema, type RewritePending } from '../../shared/db/records.ts';
import { farmStatisticsSchema, searchEntrySchema } from '../../shared/model.ts';
import { canonicalizeName } from '../../shared/names.ts';
import { isSafeFilename } from '../../shared/wheel/name.ts';

/** A package as the output tree names its directories: canonical, and safe as one path component. */
export const packageName = z
  .string()
  .min(1)
  .refine((s) => isSafeFilename(s) && canonicalizeName(s) === s, 'not a canonical package name');

/** The project page and JSON. */
const project = z.object({ kind: z.literal('PROJECT'), package: packageName });
/** The project page and JSON, and the package's simple index page. */
const both = z.object({ kind: z.literal('BOTH'), package: packageName });

/** A rewrite the secretary holds back for duplicates. */
export const projectRewrite = z.discriminatedUnion('kind', [project, both]);
export type ProjectRewrite = z.infer<typeof projectRewrite>;
export type ProjectRewriteKind = ProjectRewrite['kind'];

export const pageRequest = z.discriminatedUnion('kind', [
  project,
  both,
  /** A package's directories, wheels and alias links go. */
  z.object({ kind: z.literal('DELPKG'), package: packageName }),
  /** One version's wheels go; the package's pages are rewritten without it. */
  z.object({ kind: z.literal('DELVER'), package: packageName, version: z.string().min(1) }),
  /** Some wheels go (withdrawn: upstream serves their names with other bytes); the package's pages are rewritten. */
  z.object({
    kind: z.literal('DELFILES'),
    package: packageName,
    filenames: z.array(z.string().refine(isSafeFilename, 'not a plain file name')).min(1),
  }),
  /** A build's log, gzipped under logs/. */
  z.object({ kind: z.literal('LOG'), buildId: z.number().int().nonnegative(), log: z.string() }),
  /** The home and stats pages, and the sitemaps. */
  z.object({ kind: z.literal('HOME'), stats: farmStatisticsSchema }),
  /** packages.json, the search index. */
  z.object({ kind: z.literal('SEARCH'), entries: z.array(searchEntrySchema) }),
]);
export type PageRequest = z.infer<typeof pageRequest>;

/** The requests about one package's pages (what the changelog produces). */
export type PackageRewrite = Extract<PageRequest, { package: string }>;

export class PageRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PageRequestError';
  }
}

/** The first problem zod found, as one line: `entries[2].downloadsAll: expected number, received string`. */
function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid';
  const path = issue.path.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : out === '' ? String(key) : `${out}.${String(key)}`),
    '',
  );
  return path === '' ? issue.message : `${path}: ${issue.message}`;
}

function kindOf(input: unknown): string {
  if (typeof input === 'object' && input !== null && 'kind' in input && typeof input.kind === 'string') return input.kind;
  return 'unknown';
}

function parseWith<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new PageRequestError(`${kindOf(input)} page request refused: ${firstIssue(parsed.error)}`);
}

/** Checks a request from another task or thread; throws PageRequestError saying what is wrong. */
export function parsePageRequest(input: unknown): PageRequest {
  return parseWith(pageRequest, input);
}

export function parseProjectRewrite(input: unknown): ProjectRewrite {
  return parseWith(projectRewrite, input);
}

// --- the stored form ------------------------------------------------------------

/** One row of rewrites_pending (the database's record): a project rewrite and when it was first asked for. */
export type PendingRewrite = RewritePending;

export function toPendingRewrite(request: ProjectRewrite, addedAt: Date): PendingRewrite {
  return { package: request.package, addedAt, command: request.kind };
}

/** A stored row back as a request; throws PageRequestError for a row that is not one. */
export function fromPendingRewrite(row: unknown): { request: ProjectRewrite; addedAt: Date } {
  const stored = RewritePendingSchema.safeParse(row);
  if (!stored.success) throw new PageRequestError(`stored page rewrite refused: ${firstIssue(stored.error)}`);
  const request = projectRewrite.safeParse({ kind: stored.data.command, package: stored.data.package });
  if (!request.success) throw new PageRequestError(`stored page rewrite refused: ${firstIssue(request.error)}`);
  return { request: request.data, addedAt: stored.data.addedAt };
}
