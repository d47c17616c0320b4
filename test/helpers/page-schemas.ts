// What the published JSON must look like, as zod schemas: the piwheels
// project JSON (every original key plus our additions) and PEP 691/700.
import { z } from 'zod';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const projectJsonSchema = z.strictObject({
  package: z.string(),
  summary: z.string(),
  pypi_url: z.string().url(),
  piwheels_url: z.string().url(),
  releases: z.record(
    z.string(),
    z.strictObject({
      released: z.string().regex(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
      prerelease: z.boolean(),
      yanked: z.boolean(),
      skip_reason: z.string(),
      files: z.record(
        z.string(),
        z.strictObject({
          file_url: z.string().startsWith('/simple/'),
          filehash: sha256,
          filesize: z.number().int().nonnegative(),
          builder_abi: z.string(),
          file_abi_tag: z.string(),
          platform: z.string(),
          requires_python: z.string().nullable(),
          apt_dependencies: z.array(z.string()),
          pip_dependencies: z.array(z.string()),
        }),
      ),
      abis: z.record(
        z.string(),
        z.strictObject({
          status: z.enum(['success', 'fail', 'pending', 'skip', 'upstream']),
          build_id: z.number().int().nullable(),
          log_url: z.string().regex(/^\/logs\/\d{4}\/\d{4}\/\d{4}\.txt\.gz$/).nullable(),
          failure: z
            .strictObject({
              kind: z.enum(['package', 'upstream', 'disk', 'killed', 'timeout', 'slave-lost']),
              attempt: z.number().int().positive(),
              retry_at: z.string().nullable(),
              missing: z.strictObject({ kind: z.enum(['header', 'library', 'pkg-config']), name: z.string() }).nullable(),
              debian_package: z.string().nullable(),
            })
            .nullable(),
          environment: z
            .strictObject({
              os: z.string(),
              python: z.string(),
              pip: z.string().nullable(),
              setuptools: z.string().nullable(),
              wheel: z.string().nullable(),
              dpkg_digest: z.string().nullable(),
              reproduce: z.string(),
            })
            .nullable(),
        }),
      ),
      attempts: z.array(
        z.strictObject({
          abi: z.string(),
          attempt: z.number().int().positive(),
          kind: z.enum(['package', 'upstream', 'disk', 'killed', 'timeout', 'slave-lost']),
          built_at: z.string(),
          log_url: z.string().regex(/^\/logs\/\d{4}\/\d{4}\/\d{4}\.txt\.gz$/).nullable(),
        }),
      ),
      withheld_files: z.array(
        z.strictObject({ filename: z.string(), filehash: sha256, upstream_filehash: sha256, builder_abi: z.string(), build_id: z.number().int() }),
      ),
      served_by_upstream: z.array(z.strictObject({ abi: z.string(), platform: z.string(), filename: z.string() })),
    }),
  ),
  name: z.string(),
  downloads_recent: z.number().int(),
  downloads_all: z.number().int(),
});

const coreMetadata = z.union([z.literal(false), z.strictObject({ sha256 })]);

export const pep691ProjectSchema = z.strictObject({
  meta: z.strictObject({ 'api-version': z.literal('1.1') }),
  name: z.string(),
  files: z.array(
    z.strictObject({
      filename: z.string(),
      url: z.string(),
      hashes: z.strictObject({ sha256 }),
      'requires-python': z.string().nullable(),
      yanked: z.union([z.boolean(), z.string()]),
      'core-metadata': coreMetadata,
      size: z.number().int().nonnegative(),
      'upload-time': z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
    }),
  ),
  versions: z.array(z.string()),
});

export const pep691IndexSchema = z.strictObject({
  meta: z.strictObject({ 'api-version': z.literal('1.1') }),
  projects: z.array(z.strictObject({ name: z.string() })),
});
