// ZeroMQ sockets that speak piwheels' protocols.
//
// Public API:
//   createSocket(kind, options)   the one place sockets are made (so that
//                                 CURVE can be switched on here later). kind is
//                                 'REQ' | 'REP' | 'ROUTER' | 'DEALER' | 'PUSH' |
//                                 'PULL' | 'PUB' | 'XPUB' | 'SUB'; options.protocol is
//                                 the protocol as seen from this socket's side.
//   bindSocket(kind, address, options)
//                                 createSocket, then bind; closed again if the bind fails
//   WireSocket
//     bind / connect / unbind / disconnect / close(lingerSeconds?)
//     endpoint                    the last bound endpoint (resolves port 0)
//     send(msg, data?)            validate against the send table, CBOR, send
//     recv(timeout?)              receive, validate against the recv table;
//                                 with a timeout (seconds) resolves null when
//                                 nothing arrived. Bad input rejects with a
//                                 ProtocolError and the socket stays usable.
//                                 One receive at a time per socket (zeromq.js
//                                 refuses a second with EBUSY); sends may
//                                 overlap, they are queued in order.
//     sendAddr(addr, msg, data?) / recvAddr(timeout?)
//                                 ROUTER framing [address, "", payload]; a
//                                 ProtocolError from recvAddr carries .address
//     sendRaw(frames) / recvRaw(timeout?)
//                                 plain multipart bytes (file transfer)
//     subscribe(topic?) / unsubscribe(topic?)   SUB only
//     onDisconnect(listener)      called whenever an established connection to
//                                 a peer drops (zeromq's monitor events);
//                                 returns a function that stops listening
//     onAuthFailure(listener)     called when a CURVE handshake is refused
//   setCurveServer(keys) / setCurveClient({ ...keys, serverKey })
//                                 this process's CURVE identity: every later
//                                 tcp:// bind is a CURVE server with the server
//                                 keys, every tcp:// connect a CURVE client
//                                 with the client keys and the server's key;
//                                 ipc:// and inproc:// stay as they are
//   DEFAULT_ENDPOINTS             piwheels' default endpoints
//   TransportError                socket misuse or a closed socket
//   PeerGoneError                 a ROUTER send (mandatory) to a vanished peer
import * as zmq from 'zeromq';
import type { CurveKeys } from './curve.ts';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  ProtocolError,
  decodeMessage,
  encodeMessage,
  type DataArgs,
  type Message,
  type Protocol,
  type Table,
} from './protocols.ts';

/** Where the master listens by default, as piwheels' const.py has it. */
export const DEFAULT_ENDPOINTS = Object.freeze({
  /** slaves' REQ sockets connect to the master's ROUTER */
  slaves: 'tcp://*:5555',
  /** slaves' and importers' DEALER sockets send files to the master's ROUTER */
  files: 'tcp://*:5556',
  /** monitors' SUB sockets read the master's PUB */
  status: 'ipc:///tmp/piw-status',
  /** monitors' PUSH sockets send control messages to the master's PULL */
  control: 'ipc:///tmp/piw-control',
  /** import tools' REQ sockets talk to the master's ROUTER */
  import: 'ipc:///tmp/piw-import',
  /** piw-logger's PUSH socket feeds the master's PULL */
  logger: 'ipc:///tmp/piw-logger',
});

export const SLAVE_PORT = 5555;
export const FILE_PORT = 5556;

/** XPUB is a PUB that also receives its subscribers' (un)subscriptions, raw. */
export type SocketKind = 'REQ' | 'REP' | 'ROUTER' | 'DEALER' | 'PUSH' | 'PULL' | 'PUB' | 'XPUB' | 'SUB';

export class TransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransportError';
  }
}

/** A send that waited its sendTimeout at the high-water mark (no peer took it). */
export class SendTimeout extends TransportError {
  constructor(kind: SocketKind) {
    super(`send on ${kind} socket timed out`);
    this.name = 'SendTimeout';
  }
}

export interface SocketOptions<R extends Table, S extends Table> {
  protocol?: Protocol<R, S>;
  logger?: Logger;
  /** high-water mark for both directions (messages); libzmq's default is 1000 */
  hwm?: number;
  sendHwm?: number;
  recvHwm?: number;
  /** seconds pending messages may linger after close (default 1, as piwheels) */
  linger?: number;
  /**
   * refuse incoming messages (each frame) larger than this many bytes; libzmq
   * drops the connection of a peer announcing a larger frame before
   * allocating it (default DEFAULT_MAX_MESSAGE_SIZE)
   */
  maxMessageSize?: number;
  /**
   * seconds a send may wait at the high-water mark before failing (default:
   * forever; 0 on a ROUTER, so one peer that stops reading cannot hold up the
   * replies to all the others)
   */
  sendTimeout?: number;
  /**
   * ROUTER only: a send to a peer whose connection is gone fails at once
   * (PeerGoneError) instead of being dropped silently, so the caller learns
   * the peer has vanished
   */
  mandatory?: boolean;
  /**
   * ZMTP heartbeats: a PING every `intervalSeconds`; a connection silent for
   * `timeoutSeconds` afterwards is dropped (a peer powered off or cut off by
   * the network sends no FIN). libzmq answers PINGs by itself, so any ZMTP
   * 3.1 peer (pyzmq included) keeps its connection.
   */
  heartbeat?: { intervalSeconds: number; timeoutSeconds: number };
}

/** What a send on a ROUTER with `mandatory` rejects with when the peer's connection is gone. */
export class PeerGoneError extends Error {
  constructor(readonly address: Uint8Array) {
    super('peer is no longer connected');
    this.name = 'PeerGoneError';
  }
}

/** This process's CURVE identity, applied to its tcp:// endpoints; off by default (piwheels' own peers speak no CURVE). */
export interface CurveSetting {
  server?: CurveKeys;
  client?: CurveKeys & { serverKey: string };
}

const curve: CurveSetting = {};

/** Sets (or with undefined clears) this process's CURVE server identity for later tcp:// binds. */
export function setCurveServer(keys: CurveKeys | undefined): void {
  if (keys === undefined) delete curve.server;
  else curve.server = keys;
}

/** Sets (or clears) this process's CURVE client identity and the server's key for later tcp:// connects. */
export function setCurveClient(client: (CurveKeys & { serverKey: string }) | undefined): void {
  if (client === undefined) delete curve.client;
  else curve.client = client;
}

const isTcp = (address: string): boolean => address.startsWith('tcp://');

type AnySocket = zmq.Request | zmq.Reply | zmq.Router | zmq.Dealer | zmq.Push | zmq.Pull | zmq.Publisher | zmq.XPublisher | zmq.Subscriber;

function makeZmqSocket(kind: SocketKind): AnySocket {
  switch (kind) {
    case 'REQ':
      return new zmq.Request();
    case 'REP':
      return new zmq.Reply();
    case 'ROUTER':
      return new zmq.Router();
    case 'DEALER':
      return new zmq.Dealer();
    case 'PUSH':
      return new zmq.Push();
    case 'PULL':
      return new zmq.Pull();
    case 'PUB':
      return new zmq.Publisher();
    case 'XPUB':
      return new zmq.XPublisher();
    case 'SUB':
      return new zmq.Subscriber();
  }
}

const CAN_SEND: ReadonlySet<SocketKind> = new Set(['REQ', 'REP', 'ROUTER', 'DEALER', 'PUSH', 'PUB', 'XPUB']);
const CAN_RECV: ReadonlySet<SocketKind> = new Set(['REQ', 'REP', 'ROUTER', 'DEALER', 'PULL', 'SUB', 'XPUB']);

function errorCode(error: unknown): string | undefined {
  return error instanceof Error ? (error as { code?: string }).code : undefined;
}

function isTimeout(error: unknown): boolean {
  return errorCode(error) === 'EAGAIN';
}

export function createSocket<R extends Table = {}, S extends Table = {}>(
  kind: SocketKind,
  options: SocketOptions<R, S> = {},
): WireSocket<R, S> {
  const socket = makeZmqSocket(kind);
  socket.ipv6 = true;
  socket.linger = Math.round((options.linger ?? 1) * 1000);
  const sendHwm = options.sendHwm ?? options.hwm;
  const recvHwm = options.recvHwm ?? options.hwm;
  if (sendHwm !== undefined && 'sendHighWaterMark' in socket) socket.sendHighWaterMark = sendHwm;
  if (recvHwm !== undefined && 'receiveHighWaterMark' in socket) socket.receiveHighWaterMark = recvHwm;
  const sendTimeout = options.sendTimeout ?? (kind === 'ROUTER' ? 0 : undefined);
  if (sendTimeout !== undefined && 'sendTimeout' in socket) socket.sendTimeout = Math.round(sendTimeout * 1000);
  socket.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  if (options.mandatory === true) {
    if (!(socket instanceof zmq.Router)) throw new TransportError(`mandatory on a ${kind} socket`);
    socket.mandatory = true;
  }
  if (options.heartbeat !== undefined) {
    socket.heartbeatInterval = Math.round(options.heartbeat.intervalSeconds * 1000);
    socket.heartbeatTimeout = Math.round(options.heartbeat.timeoutSeconds * 1000);
  }
  return new WireSocket<R, S>(kind, socket, options);
}

/** A socket bound to `address`, or closed again (the port freed) when the bind fails. */
export async function bindSocket<R extends Table = {}, S extends Table = {}>(
  kind: SocketKind,
  address: string,
  options: SocketOptions<R, S> = {},
): Promise<WireSocket<R, S>> {
  const socket = createSocket<R, S>(kind, options);
  try {
    await socket.bind(address);
  } catch (error) {
    socket.close(0);
    throw error;
  }
  return socket;
}

export class WireSocket<R extends Table, S extends Table> {
  readonly kind: SocketKind;
  private readonly socket: AnySocket;
  private readonly protocol: Protocol<R, S>;
  private readonly logger: Logger;
  private readonly maxMessageSize: number;
  private recvTimeoutMs = -1;
  // zeromq.js allows one pending send per socket; later sends queue behind it
  private sendChain: Promise<void> = Promise.resolve();

  constructor(kind: SocketKind, socket: AnySocket, options: SocketOptions<R, S>) {
    this.kind = kind;
    this.socket = socket;
    this.protocol = options.protocol ?? ({ recv: {}, send: {} } as unknown as Protocol<R, S>);
    this.logger = options.logger ?? silentLogger();
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  }

  get closed(): boolean {
    return this.socket.closed;
  }

  /** The last endpoint bound, with the port the OS chose for port 0 or "*". */
  get endpoint(): string | null {
    const endpoint = this.socket.lastEndpoint;
    // with IPv6 on, an IPv4 bind reads back as an IPv4-mapped address
    return endpoint === null ? null : endpoint.replace(/^tcp:\/\/\[::ffff:(\d+\.\d+\.\d+\.\d+)\]:/, 'tcp://$1:');
  }

  async bind(address: string): Promise<void> {
    if (curve.server && isTcp(address)) {
      this.socket.curveServer = true;
      this.socket.curveSecretKey = curve.server.secretKey;
      this.socket.curvePublicKey = curve.server.publicKey;
      // a ZAP domain makes libzmq ask the authenticator about every handshake
      this.socket.zapDomain = 'piwheels';
    }
    await this.socket.bind(address);
  }

  async unbind(address: string): Promise<void> {
    await this.socket.unbind(address);
  }

  connect(address: string): void {
    if (curve.client && isTcp(address)) {
      this.socket.curveServerKey = curve.client.serverKey;
      this.socket.curvePublicKey = curve.client.publicKey;
      this.socket.curveSecretKey = curve.client.secretKey;
    }
    this.socket.connect(address);
  }

  disconnect(address: string): void {
    this.socket.disconnect(address);
  }

  close(lingerSeconds?: number): void {
    if (this.socket.closed) return;
    if (lingerSeconds !== undefined) this.socket.linger = Math.round(lingerSeconds * 1000);
    this.socket.close();
  }

  onDisconnect(listener: () => void): () => void {
    const events = this.socket.events;
    events.on('disconnect', listener);
    return () => {
      if (!events.closed) events.off('disconnect', listener);
    };
  }

  onAuthFailure(listener: (reason: string) => void): () => void {
    const events = this.socket.events;
    const handler = (event: { error?: Error }): void => listener(event.error?.message ?? 'authentication failed');
    events.on('handshake:error:auth', handler);
    return () => {
      if (!events.closed) events.off('handshake:error:auth', handler);
    };
  }

  subscribe(topic = ''): void {
    if (!(this.socket instanceof zmq.Subscriber)) throw new TransportError(`subscribe on a ${this.kind} socket`);
    this.socket.subscribe(topic);
  }

  unsubscribe(topic = ''): void {
    if (!(this.socket instanceof zmq.Subscriber)) throw new TransportError(`unsubscribe on a ${this.kind} socket`);
    this.socket.unsubscribe(topic);
  }

  private writable(): zmq.Writable {
    if (!CAN_SEND.has(this.kind)) throw new TransportError(`cannot send on a ${this.kind} socket`);
    return this.socket as unknown as zmq.Writable;
  }

  private readable(): zmq.Readable {
    if (!CAN_RECV.has(this.kind)) throw new TransportError(`cannot receive on a ${this.kind} socket`);
    return this.socket as unknown as zmq.Readable;
  }

  private enqueueSend(frames: Array<Uint8Array | string>): Promise<void> {
    const socket = this.writable();
    const next = this.sendChain.then(() =>
      socket.send(frames).catch((error: unknown) => {
        if (errorCode(error) === 'EHOSTUNREACH' && typeof frames[0] !== 'string' && frames[0] !== undefined) throw new PeerGoneError(frames[0]);
        throw isTimeout(error) ? new SendTimeout(this.kind) : error;
      }),
    );
    // a failed send must not wedge the sends queued after it
    this.sendChain = next.catch(() => undefined);
    return next;
  }

  private async receiveFrames(timeoutSeconds: number | undefined): Promise<Buffer[] | null> {
    const socket = this.readable();
    const ms = timeoutSeconds === undefined ? -1 : Math.max(0, Math.round(timeoutSeconds * 1000));
    if (ms !== this.recvTimeoutMs) {
      socket.receiveTimeout = ms;
      this.recvTimeoutMs = ms;
    }
    try {
      return await socket.receive();
    } catch (error) {
      if (isTimeout(error)) return null;
      throw error;
    }
  }

  /** Sends a protocol message (validated against the send table). */
  send<K extends keyof S & string>(msg: K, ...data: DataArgs<S, K>): Promise<void> {
    const buf = encodeMessage(this.protocol.send, msg, ...data);
    this.logger.debug({ msg }, '>> %s', msg);
    return this.enqueueSend([buf]);
  }

  /** Sends a protocol message to one peer of a ROUTER socket. */
  sendAddr<K extends keyof S & string>(address: Uint8Array, msg: K, ...data: DataArgs<S, K>): Promise<void> {
    const buf = encodeMessage(this.protocol.send, msg, ...data);
    this.logger.debug({ msg, address: Buffer.from(address).toString('hex') }, '>> %s', msg);
    return this.enqueueSend([address, '', buf]);
  }

  recv(): Promise<Message<R>>;
  recv(timeoutSeconds: number): Promise<Message<R> | null>;
  async recv(timeoutSeconds?: number): Promise<Message<R> | null> {
    const frames = await this.receiveFrames(timeoutSeconds);
    if (frames === null) return null;
    if (frames.length !== 1) throw new ProtocolError('structure', `expected one frame, received ${frames.length}`);
    const message = decodeMessage(this.protocol.recv, frames[0]!, this.maxMessageSize);
    this.logger.debug({ msg: message.msg }, '<< %s', message.msg);
    return message;
  }

  recvAddr(): Promise<{ address: Buffer } & Message<R>>;
  recvAddr(timeoutSeconds: number): Promise<({ address: Buffer } & Message<R>) | null>;
  async recvAddr(timeoutSeconds?: number): Promise<({ address: Buffer } & Message<R>) | null> {
    const frames = await this.receiveFrames(timeoutSeconds);
    if (frames === null) return null;
    const [address, empty, payload] = frames;
    if (frames.length !== 3 || empty!.length !== 0) {
      const error = new ProtocolError('structure', 'invalid message structure received');
      if (address !== undefined) error.address = address;
      throw error;
    }
    try {
      const message = decodeMessage(this.protocol.recv, payload!, this.maxMessageSize);
      this.logger.debug({ msg: message.msg, address: address!.toString('hex') }, '<< %s', message.msg);
      return { address: address!, ...message };
    } catch (error) {
      if (error instanceof ProtocolError) error.address = address;
      throw error;
    }
  }

  /** Sends raw frames (no CBOR, no validation). */
  sendRaw(frames: Array<Uint8Array | string>): Promise<void> {
    return this.enqueueSend(frames);
  }

  recvRaw(): Promise<Buffer[]>;
  recvRaw(timeoutSeconds: number): Promise<Buffer[] | null>;
  recvRaw(timeoutSeconds?: number): Promise<Buffer[] | null> {
    return this.receiveFrames(timeoutSeconds);
  }
}
