// piw-master's settings, as master.ts reads them (flags over PIW_* variables
// over the TOML file's [master] table) and piw-farm and the tests give them.
import { z } from 'zod';
import { envBoolean, envInteger, envNumber, zmqAddress } from '../shared/config.ts';
import { defaultDsn } from '../shared/db/connect.ts';
import { defaultBaseUrl, siteOptionsSchema } from '../shared/site-settings.ts';
import { DEFAULT_ENDPOINTS } from '../shared/wire/transport.ts';

const url = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

export const masterConfigSchema = z.object({
  dsn: z.string().min(1).default(() => defaultDsn()),
  outputPath: z.string().min(1).default('/var/www'),
  devMode: envBoolean.default(false),
  pypiXmlrpc: url.default('https://pypi.org/pypi'),
  pypiSimple: url.default('https://pypi.org/simple'),
  pypiJson: url.default('https://pypi.org/pypi'),
  statusQueue: zmqAddress.default(DEFAULT_ENDPOINTS.status),
  controlQueue: zmqAddress.default(DEFAULT_ENDPOINTS.control),
  importQueue: zmqAddress.default(DEFAULT_ENDPOINTS.import),
  logQueue: zmqAddress.default(DEFAULT_ENDPOINTS.logger),
  slaveQueue: zmqAddress.default(DEFAULT_ENDPOINTS.slaves),
  fileQueue: zmqAddress.default(DEFAULT_ENDPOINTS.files),
  logFile: z.string().min(1).optional(),
  /** Build only the packages listed in this file (a private farm). */
  allowList: z.string().min(1).optional(),
  /** Follow the upstream changelog (off for a farm fed only by piw-add / piw-import). */
  follow: envBoolean.default(true),
  /** Seconds between upstream changelog polls once caught up. */
  pollInterval: envNumber.pipe(z.number().positive()).default(10),
  /** Seconds between scheduled build-queue refreshes (new versions also refresh it at once). */
  queueRefresh: envNumber.pipe(z.number().positive()).default(60),
  /** Seconds an IDLE slave is held waiting for work before it is told to SLEEP. */
  idleHold: envNumber.pipe(z.number().min(0)).default(10),
  /** Seconds a page rewrite waits to absorb duplicates. */
  pageWindow: envNumber.pipe(z.number().min(0)).default(2),
  /** Builds per ABI kept in memory for dispatch. */
  queueLimit: envInteger.pipe(z.number().int().positive()).default(1000),
  /** Seconds before a transiently failed build is first tried again; the wait doubles with each try. */
  retryBase: envNumber.pipe(z.number().positive()).default(300),
  /** The longest wait between tries (seconds). */
  retryMax: envNumber.pipe(z.number().positive()).default(6 * 3600),
  /** Tries in all (the first build included) before a transiently failing build stays failed. */
  retryTries: envInteger.pipe(z.number().int().positive()).default(5),
  /** Seconds between looks for failed builds due another try. */
  retryInterval: envNumber.pipe(z.number().positive()).default(30),
  /** Megabytes a slave's build directory must have free for it to get builds (0: no check). */
  minFreeDisk: envNumber.pipe(z.number().min(0)).default(1024),
  /** The apt-file command that names the Debian package of a missing header or library ("none": do not look). */
  aptFile: z.string().min(1).default('apt-file'),
  /** A Debian Contents index file (plain or .gz) to look in instead of apt-file. */
  debianContents: z.string().min(1).optional(),
  /** This master's secret CURVE certificate; with curveClients, tcp:// endpoints admit only authorized keys. */
  curveSecret: z.string().min(1).optional(),
  /** A folder of the public certificates (NAME.key) of the slaves and tools admitted. */
  curveClients: z.string().min(1).optional(),
  /** The farm's identity on every page ([site] table, --base-url; see shared/site-settings.ts). */
  site: siteOptionsSchema.default(() => siteOptionsSchema.parse({ baseUrl: defaultBaseUrl() })),
}).refine((config) => (config.curveSecret === undefined) === (config.curveClients === undefined), {
  message: 'CURVE needs both curve-secret (this master\'s NAME.key_secret) and curve-clients (the folder of authorized NAME.key files)',
});

export type MasterConfig = z.output<typeof masterConfigSchema>;
