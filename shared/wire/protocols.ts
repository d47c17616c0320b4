// Every message protocol piwheels speaks, as zod schemas, and the functions
// that turn a (message, data) pair into CBOR bytes and back.
//
// Public API:
//   Protocol<Recv, Send>   two tables, message name -> schema (null = the
//                          message carries no data). Written from the master's
//                          side, as piwheels does; peers use reverse(p).
//   reverse(p)             the same protocol seen from the other end.
//   <name> protocols       slaveDriver, fileJugglerFs, mrChase, lumberjack,
//                          monitorStats, masterControl, taskControl,
//                          slaveDriverControl, bigBrotherControl, bigBrother,
//                          cloudGazer, theScribe, theArchitect, theOracle,
//                          senseStick.
//   encodeMessage(table, msg, data?)  validates against the send table and
//                          returns the CBOR bytes; throws ProtocolError.
//   decodeMessage(table, bytes)       decodes and validates against the recv
//                          table; returns { msg, data }; throws ProtocolError.
//   toWire(schema, value)  a value in its wire form, for data that travels
//                          inside an untyped slot (monitor SLAVE, OK results).
//   MAX_LOG_BATCH          the most records of a kind one LOGBATCH (ours only) carries.
//   ProtocolError          carries the message name (when known), a kind and,
//                          from a ROUTER socket, the sender's address.
//   Message<Table>         the union of { msg, data } a table admits.
//   DataOf<Table, K>       the data type of one message.
//   FileStateMessage, BuildStateMessage, BuiltMessage, MasterStatsMessage,
//   DownloadStateMessage, SearchStateMessage, HitStateMessage   named message data.
//
// Conventions on the wire (cbor2 on the Python side): a message without data
// is the bare CBOR string, with data the 2-array [msg, data]. Tuple-shaped
// data are exact sequences: right length, right element types. Whole floats
// are written as float64 because the Python side checks isinstance(x, float).
import { z } from 'zod';
import { CborError, NO_DATA, Timedelta, UtcDateTime, WireFloat, decodeCbor, encodeCbor } from './cbor.ts';

export type ProtocolErrorKind =
  | 'decode' // not CBOR, or a malformed tag
  | 'structure' // neither a string nor a [msg, data] pair
  | 'unknown' // message not in the table
  | 'missing-data' // message needs data and has none
  | 'unexpected-data' // message takes no data and got some
  | 'invalid-data' // data does not match the schema
  | 'too-large' // message above the size limit
  | 'encode'; // data cannot be written as CBOR

export class ProtocolError extends Error {
  /** the sender's ROUTER address, when the message came through one */
  address: Buffer | undefined;

  constructor(
    readonly kind: ProtocolErrorKind,
    message: string,
    /** the message name, when it could be read */
    readonly msg?: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

// --- schema building blocks -------------------------------------------------

/** Python int: an exact integer (BigInts beyond 2^53 are refused). */
export const pyInt = z.int();

/** Python float: accepts any number on receipt, always writes float64. */
export const pyFloat = z.codec(z.union([z.number(), z.instanceof(WireFloat)]), z.number(), {
  decode: (value) => (value instanceof WireFloat ? value.value : value),
  encode: (value) => new WireFloat(value),
});

export const pyStr = z.string();
export const pyBool = z.boolean();
export const pyDatetime = z.instanceof(UtcDateTime);
export const pyTimedelta = z.instanceof(Timedelta);
/** voluptuous Extra: anything at all */
export const pyAny = z.unknown();

// --- shared shapes ------------------------------------------------------------

/** monitor HELLO from the master: start time, label, os, os version, board revision, serial */
export const masterHelloSchema = z.tuple([pyDatetime, pyStr, pyStr, pyStr, pyStr, pyStr]);

export const masterStatsSchema = z.tuple([
  pyDatetime, // timestamp
  pyInt, // packages built
  z.record(pyStr, pyInt), // builds last hour, per ABI (per build target here: cp311-linux_aarch64 with platforms)
  pyTimedelta, // builds time
  pyInt, // builds size
  z.record(pyStr, pyInt), // builds pending, per ABI (per build target, as above)
  pyInt, // new last hour
  pyInt, // files count
  pyInt, // downloads last hour
  pyInt, // downloads last month
  pyInt, // downloads all
  pyInt, // disk size (output dir)
  pyInt, // disk free
  pyInt, // mem size
  pyInt, // mem free
  pyInt, // swap size
  pyInt, // swap free
  pyFloat, // load average
  pyFloat, // board temperature (C)
]);

export const slaveHelloSchema = z.tuple([
  pyTimedelta, // build timeout
  pyTimedelta, // busy timeout
  pyStr, // python version
  pyStr, // native ABI
  pyStr, // native platform
  pyStr, // label
  pyStr, // os name
  pyStr, // os version
  pyStr, // board revision
  pyStr, // board serial
]);

export const slaveStatsSchema = z.tuple([
  pyDatetime, // timestamp
  pyInt, // disk size (build dir)
  pyInt, // disk free
  pyInt, // mem size
  pyInt, // mem free
  pyInt, // swap size
  pyInt, // swap free
  pyFloat, // load average (1 min)
  pyFloat, // board temperature (C)
]);

export const fileStateSchema = z.tuple([
  pyStr, // filename
  pyInt, // filesize
  pyStr, // filehash (sha256, hex)
  pyStr, // package tag
  pyStr, // package version tag
  pyStr, // python version tag
  pyStr, // abi tag
  pyStr, // platform tag
  pyStr.nullable(), // requires_python
  z.record(pyStr, z.array(pyStr)), // dependencies by tool ("apt", "pip", "")
  pyStr, // location
]);

export const buildStateSchema = z.tuple([
  pyInt, // slave id
  pyStr, // package
  pyStr, // version
  pyStr, // abi tag
  pyBool, // status
  pyTimedelta, // duration
  pyStr, // output
  z.array(fileStateSchema), // files
]);

const clientInfo = [
  pyStr.nullable(), // arch
  pyStr.nullable(), // distro name
  pyStr.nullable(), // distro version
  pyStr.nullable(), // os name
  pyStr.nullable(), // os version
  pyStr.nullable(), // python implementation
  pyStr.nullable(), // python version
  pyStr.nullable(), // installer name
  pyStr.nullable(), // installer version
  pyStr.nullable(), // setuptools version
] as const;

export const downloadStateSchema = z.tuple([pyStr /* filename */, pyStr /* host */, pyDatetime, ...clientInfo]);
export const searchStateSchema = z.tuple([pyStr /* package */, pyStr /* host */, pyDatetime, ...clientInfo]);
/** package (or page), host, timestamp, user agent */
export const hitStateSchema = z.tuple([pyStr, pyStr, pyDatetime, pyStr]);
export const projectStateSchema = hitStateSchema;
export const jsonStateSchema = hitStateSchema;
export const pageStateSchema = hitStateSchema;

const pkgVer = z.tuple([pyStr, pyStr]);

// --- protocols ----------------------------------------------------------------

export type Schema = z.ZodType;
export type Table = Readonly<Record<string, Schema | null>>;

export interface Protocol<R extends Table, S extends Table> {
  readonly recv: R;
  readonly send: S;
}

export function protocol<R extends Table = {}, S extends Table = {}>(p: { recv?: R; send?: S }): Protocol<R, S> {
  return { recv: p.recv ?? ({} as R), send: p.send ?? ({} as S) };
}

export function reverse<R extends Table, S extends Table>(p: Protocol<R, S>): Protocol<S, R> {
  return { recv: p.send, send: p.recv };
}

export const taskControl = protocol({
  recv: { PAUSE: null, RESUME: null, QUIT: null },
});

export const masterControl = protocol({
  recv: {
    HELLO: null, // a new monitor
    KILL: pyInt.nullable(), // slave id, or all
    SLEEP: pyInt.nullable(),
    SKIP: pyInt.nullable(),
    WAKE: pyInt.nullable(),
    QUIT: null,
  },
});

export const cloudGazer = protocol({
  send: { DELVER: pkgVer, DELPKG: pyStr },
  recv: { OK: null },
});

export const slaveDriverControl = protocol({
  recv: { ...taskControl.recv, ...masterControl.recv },
});

export const bigBrotherControl = protocol({
  recv: { ...taskControl.recv, STATS: null },
});

export const bigBrother = protocol({
  recv: {
    STATFS: z.tuple([pyInt, pyInt]), // disk size, disk free
    STATBQ: z.record(pyStr, pyInt), // abi -> queue size
    HOME: null,
    LOGDOWNLOAD: pyInt, // download count
  },
});

export const theScribe = protocol({
  recv: {
    DELVER: pkgVer,
    DELPKG: pyStr,
    PROJECT: pyStr,
    BOTH: pyStr,
    LOG: z.tuple([pyInt, pyStr]), // build id, log text
    HOME: masterStatsSchema,
    SEARCH: z.record(pyStr, z.tuple([pyInt, pyInt])), // package -> (recent, all) downloads
  },
  send: { DONE: null },
});

export const theArchitect = protocol({
  send: { QUEUE: z.record(pyStr, z.array(pkgVer)) }, // abi -> [(package, version)]
});

export const fileJugglerFs = protocol({
  recv: {
    EXPECT: z.tuple([pyInt, fileStateSchema]), // slave id, file state
    VERIFY: z.tuple([pyInt, pyStr]), // slave id, package
  },
  send: { OK: pyAny, ERROR: pyStr },
});

export const mrChase = protocol({
  recv: {
    // package, description, skip reason, unskip, aliases
    ADDPKG: z.tuple([pyStr, pyStr, pyStr, pyBool, z.array(pyStr)]),
    // package, version, skip reason, unskip, released, yank, unyank, aliases
    ADDVER: z.tuple([pyStr, pyStr, pyStr, pyBool, pyDatetime, pyBool, pyBool, z.array(pyStr)]),
    IMPORT: buildStateSchema,
    REMPKG: z.tuple([pyStr, pyBool, pyStr]), // package, builds, skip reason
    REMVER: z.tuple([pyStr, pyStr, pyBool, pyStr, pyBool]), // package, version, builds, skip reason, yank
    REBUILD: z.union([
      z.tuple([z.literal('HOME')]),
      z.tuple([z.literal('SEARCH')]),
      z.tuple([z.literal('PROJECT'), pyStr.nullable()]),
      z.tuple([z.literal('BOTH'), pyStr.nullable()]),
    ]),
    SENT: null,
  },
  send: {
    SEND: pyStr, // filename
    ERROR: pyStr, // message
    DONE: pyStr, // action
  },
});

/** Most records of each kind one LOGBATCH may carry (a few MB of CBOR). */
export const MAX_LOG_BATCH = 10_000;

const clientInfoSchema = z.tuple([...clientInfo]);
/** seconds since the Unix epoch (UTC): cheaper to write and read than datetime text */
const epochSeconds = z.number();
/**
 * filename (downloads) or package (searches), host, time, index into the
 * batch's clients. The receiver checks the index against the clients: a
 * refinement here would double the cost of checking a batch on send.
 */
const batchClientRecord = z.tuple([pyStr, pyStr, epochSeconds, z.number()]);
/** package (or page), host, time, user agent */
const batchHitRecord = z.tuple([pyStr, pyStr, epochSeconds, pyStr]);

/**
 * LOGBATCH: many logger records in one message, grouped by kind, each as
 * piwheels' own message would carry it but for two savings: pip's client
 * details, which repeat on nearly every record, are sent once and referred
 * to by index, and times are numbers.
 */
export const logBatchSchema = z.tuple([
  z.array(clientInfoSchema).max(MAX_LOG_BATCH), // clients
  z.array(batchClientRecord).max(MAX_LOG_BATCH), // downloads
  z.array(batchClientRecord).max(MAX_LOG_BATCH), // searches
  z.array(batchHitRecord).max(MAX_LOG_BATCH), // project page hits
  z.array(batchHitRecord).max(MAX_LOG_BATCH), // project JSON hits
  z.array(batchHitRecord).max(MAX_LOG_BATCH), // web page hits
]);

export const lumberjack = protocol({
  recv: {
    LOGDOWNLOAD: downloadStateSchema,
    LOGSEARCH: searchStateSchema,
    LOGPROJECT: projectStateSchema,
    LOGJSON: jsonStateSchema,
    LOGPAGE: pageStateSchema,
    // Ours only (piwheels sends one message per record): all its records are
    // accepted or the message is refused. The Python master does not know
    // it, so piw-logger sends it only when told to batch.
    LOGBATCH: logBatchSchema,
  },
});

export const slaveDriver = protocol({
  recv: {
    HELLO: slaveHelloSchema,
    BYE: null,
    IDLE: slaveStatsSchema,
    // status, duration, output, files (package and version are known from BUILD)
    BUILT: z.tuple([pyBool, pyTimedelta, pyStr, z.array(fileStateSchema)]),
    BUSY: slaveStatsSchema,
    SENT: null,
  },
  send: {
    ACK: z.tuple([pyInt, pyStr]), // slave id, PyPI simple URL
    DIE: null,
    SLEEP: pyBool, // true when the master is paused
    BUILD: pkgVer,
    CONT: null,
    SEND: pyStr, // filename
    DONE: null,
  },
});

export const theOracle = protocol({
  recv: {
    ALLPKGS: null,
    ALLVERS: null,
    NEWPKG: z.tuple([pyStr, pyStr, pyStr]), // package, skip reason, description
    NEWVER: z.tuple([pyStr, pyStr, pyDatetime.nullable(), pyStr]), // package, version, released, skip reason
    NEWPKGNAME: z.tuple([pyStr, pyStr, pyDatetime.nullable()]), // package, name, timestamp
    GETPKGNAMES: pyStr,
    SETDESC: pkgVer, // package, description
    SKIPPKG: pkgVer, // package, skip reason
    SKIPVER: z.tuple([pyStr, pyStr, pyStr]), // package, version, skip reason
    DELPKG: pyStr,
    DELVER: pkgVer,
    YANKVER: pkgVer,
    UNYANKVER: pkgVer,
    LOGDOWNLOAD: downloadStateSchema,
    LOGSEARCH: searchStateSchema,
    LOGPROJECT: projectStateSchema,
    LOGJSON: jsonStateSchema,
    LOGPAGE: pageStateSchema,
    LOGBUILD: buildStateSchema,
    DELBUILD: pkgVer,
    PKGFILES: pyStr,
    PROJDATA: pyStr,
    VERFILES: pkgVer,
    GETSKIP: pkgVer,
    PKGEXISTS: pyStr,
    PKGDELETED: pyStr,
    VEREXISTS: pkgVer,
    VERSDELETED: pyStr,
    GETABIS: pyBool, // exclude skipped
    GETPYPI: null,
    SETPYPI: pyInt, // PyPI serial
    INITSTATS: null,
    GETSTATS: null,
    GETSEARCH: null,
    FILEDEPS: pyStr,
    SAVERWP: z.array(z.tuple([pyStr, pyDatetime, pyStr])),
    LOADRWP: null,
  },
  send: { OK: pyAny, ERROR: pyStr },
});

export const monitorStats = protocol({
  send: {
    HELLO: masterHelloSchema,
    STATS: masterStatsSchema,
    SLAVE: z.tuple([pyInt, pyDatetime, pyStr, pyAny]), // slave id, timestamp, message, data
  },
});

export const senseStick = protocol({
  send: { EVENT: z.tuple([pyDatetime, pyStr, pyBool, pyBool]) }, // timestamp, direction, pressed, held
});

// --- encoding and decoding ----------------------------------------------------

type DataFor<S> = S extends z.ZodType ? z.output<S> : undefined;
export type DataOf<T extends Table, K extends keyof T> = DataFor<T[K]>;

// The data of the messages other modules build or read by name.
export type FileStateMessage = z.output<typeof fileStateSchema>;
export type BuildStateMessage = z.output<typeof buildStateSchema>;
export type BuiltMessage = DataOf<typeof slaveDriver.recv, 'BUILT'>;
export type MasterStatsMessage = z.output<typeof masterStatsSchema>;
export type DownloadStateMessage = z.output<typeof downloadStateSchema>;
export type SearchStateMessage = z.output<typeof searchStateSchema>;
export type HitStateMessage = z.output<typeof hitStateSchema>;
export type Message<T extends Table> = { [K in keyof T & string]: { msg: K; data: DataFor<T[K]> } }[keyof T & string];
/** The data argument(s) of a send: none for a no-data message. */
export type DataArgs<T extends Table, K extends keyof T> = T[K] extends z.ZodType ? [data: z.output<T[K]>] : [];

/** Default limit on one message, far above any build log seen in practice. */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

/** The wire form of a value (floats marked, etc.), for untyped message slots. */
export function toWire<S extends z.ZodType>(schema: S, value: z.output<S>): unknown {
  const result = z.safeEncode(schema, value);
  if (!result.success) throw new ProtocolError('invalid-data', `invalid data: ${describeIssues(result.error)}`);
  return result.data;
}

export function encodeMessage<T extends Table, K extends keyof T & string>(table: T, msg: K, ...args: DataArgs<T, K>): Buffer;
export function encodeMessage(table: Table, msg: string, data?: unknown): Buffer;
export function encodeMessage(table: Table, msg: string, ...args: unknown[]): Buffer {
  if (!Object.hasOwn(table, msg)) throw new ProtocolError('unknown', `unknown message: ${msg}`, msg);
  const schema = table[msg];
  const hasData = args.length > 0 && args[0] !== undefined;
  if (schema === null || schema === undefined) {
    if (hasData) throw new ProtocolError('unexpected-data', `no data expected for ${msg}`, msg);
    return encodeCbor(msg);
  }
  if (!hasData) throw new ProtocolError('missing-data', `data must be specified for ${msg}`, msg);
  const result = z.safeEncode(schema, args[0]);
  if (!result.success) {
    throw new ProtocolError('invalid-data', `invalid data for ${msg}: ${describeIssues(result.error)}`, msg);
  }
  try {
    return encodeCbor([msg, result.data]);
  } catch (error) {
    if (error instanceof CborError) throw new ProtocolError('encode', `unable to serialize data for ${msg}: ${error.message}`, msg);
    throw error;
  }
}

export function decodeMessage<T extends Table>(table: T, buf: Uint8Array, maxSize = DEFAULT_MAX_MESSAGE_SIZE): Message<T> {
  if (buf.byteLength > maxSize) {
    throw new ProtocolError('too-large', `message of ${buf.byteLength} bytes exceeds the limit of ${maxSize}`);
  }
  let decoded: unknown;
  try {
    decoded = decodeCbor(buf);
  } catch (error) {
    if (error instanceof CborError) throw new ProtocolError('decode', `unable to deserialize data: ${error.message}`);
    throw error;
  }
  let msg: string;
  let data: unknown;
  let hasData: boolean;
  if (typeof decoded === 'string') {
    msg = decoded;
    hasData = false;
  } else if (Array.isArray(decoded) && decoded.length === 2 && typeof decoded[0] === 'string') {
    [msg, data] = decoded as [string, unknown];
    // piwheels' NoData marker as data means "no data" too
    hasData = data !== NO_DATA;
  } else {
    throw new ProtocolError('structure', 'invalid message structure received');
  }
  if (!Object.hasOwn(table, msg)) throw new ProtocolError('unknown', `unknown message: ${msg}`, msg);
  const schema = table[msg];
  if (schema === null || schema === undefined) {
    if (hasData) throw new ProtocolError('unexpected-data', `data not expected for ${msg}`, msg);
    return { msg, data: undefined } as Message<T>;
  }
  if (!hasData) throw new ProtocolError('missing-data', `missing data for ${msg}`, msg);
  const result = schema.safeParse(data);
  if (!result.success) {
    throw new ProtocolError('invalid-data', `invalid data for ${msg}: ${describeIssues(result.error)}`, msg);
  }
  return { msg, data: result.data } as Message<T>;
}
