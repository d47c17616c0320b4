import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { UserError } from '../../../shared/cli.ts';
import {
  AuthorizedKeys,
  CurveAuthenticator,
  parseCertificate,
  readPublicKey,
  readSecretCertificate,
  serveCurve,
  writeCertificatePair,
  z85Encode,
} from '../../../shared/wire/curve.ts';
import { createSocket, setCurveClient } from '../../../shared/wire/transport.ts';
import { reverse, slaveDriver } from '../../../shared/wire/protocols.ts';

const PYTHON = '/usr/bin/python3';

function scratch(): { dir: string; [Symbol.dispose](): void } {
  const dir = mkdtempSync(join(tmpdir(), 'piw-curve-'));
  return { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

describe('CURVE certificates', () => {
  test('Z85 encodes the specification\'s example', () => {
    assert.equal(z85Encode(Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b])), 'HelloWorld');
    assert.throws(() => z85Encode(Buffer.alloc(3)), RangeError);
  });

  test('a pair is written as NAME.key and a private NAME.key_secret, never over an existing one', () => {
    using s = scratch();
    const made = writeCertificatePair(s.dir, 'pi4');
    assert.equal(statSync(made.secretFile).mode & 0o777, 0o600);
    assert.deepEqual(readSecretCertificate(made.secretFile), made.keys);
    assert.equal(readPublicKey(made.publicFile), made.keys.publicKey);
    assert.doesNotMatch(readFileSync(made.publicFile, 'utf8'), /secret-key/);
    assert.throws(() => writeCertificatePair(s.dir, 'pi4'), /EEXIST/);
    assert.throws(() => writeCertificatePair(s.dir, '../escape'), UserError);
  });

  test('bad certificates are refused with a message naming the file', () => {
    assert.throws(() => parseCertificate('metadata\ncurve\n    public-key = "short"\n', 'x.key'), /x\.key: no valid public-key/);
    assert.throws(() => parseCertificate('hello\n', 'y.key'), /y\.key: no valid public-key/);
    // a key outside the curve section does not count
    assert.throws(() => parseCertificate(`metadata\n    public-key = "${'a'.repeat(40)}"\n`, 'z.key'), /z\.key/);
    const bad = `curve\n    public-key = "${'a'.repeat(40)}"\n    secret-key = "nope"\n`;
    assert.throws(() => parseCertificate(bad, 'w.key_secret'), /w\.key_secret: the secret-key/);
    using s = scratch();
    const made = writeCertificatePair(s.dir, 'm');
    assert.throws(() => readSecretCertificate(made.publicFile), /holds no secret-key/);
    assert.throws(() => readSecretCertificate(join(s.dir, 'missing')), /cannot read the certificate/);
  });

  test('pyzmq reads our certificates and we read the ones pyzmq writes', () => {
    using s = scratch();
    const ours = writeCertificatePair(s.dir, 'ours');
    const script = [
      'import sys, zmq.auth',
      'pub, sec = zmq.auth.load_certificate(sys.argv[1])',
      'print(pub.decode(), sec.decode())',
      'zmq.auth.create_certificates(sys.argv[2], "theirs")',
    ].join('\n');
    const [pub, sec] = execFileSync(PYTHON, ['-c', script, ours.secretFile, s.dir], { encoding: 'utf8' }).trim().split(' ');
    assert.deepEqual({ publicKey: pub, secretKey: sec }, ours.keys);
    const theirs = readSecretCertificate(join(s.dir, 'theirs.key_secret'));
    assert.equal(readPublicKey(join(s.dir, 'theirs.key')), theirs.publicKey);
  });
});

describe('authorized keys', () => {
  test('follow the folder: added, removed and malformed certificates', () => {
    using s = scratch();
    const keys = mkdtempSync(join(s.dir, 'clients-'));
    const authorized = new AuthorizedKeys(keys);
    const a = writeCertificatePair(s.dir, 'a');
    assert.equal(authorized.lookup(a.keys.publicKey), null);
    writeFileSync(join(keys, 'a.key'), readFileSync(a.publicFile));
    writeFileSync(join(keys, 'junk.key'), 'not a certificate\n');
    assert.equal(authorized.lookup(a.keys.publicKey), 'a');
    assert.equal(authorized.size, 1, 'the malformed file is skipped');
    unlinkSync(join(keys, 'a.key'));
    assert.equal(authorized.lookup(a.keys.publicKey), null);
  });

  test('a missing folder refuses everyone', () => {
    const authorized = new AuthorizedKeys(join(tmpdir(), 'piw-no-such-folder'));
    assert.equal(authorized.lookup('a'.repeat(40)), null);
  });

  test('the ZAP answer admits only a known CURVE key', () => {
    using s = scratch();
    const a = writeCertificatePair(s.dir, 'a');
    const auth = new CurveAuthenticator(new AuthorizedKeys(s.dir));
    const request = (mechanism: string, key: Buffer): Buffer[] => [...['1.0', '7', 'piwheels', '127.0.0.1', '', mechanism].map((f) => Buffer.from(f)), key];
    const status = (frames: Array<Buffer | string>): string => String(frames[2]);
    const known = Buffer.from(zmqDecode(a.keys.publicKey));
    assert.equal(status(auth.decide(request('CURVE', known))), '200');
    assert.equal(String(auth.decide(request('CURVE', known))[4]), 'a', 'the user id is the certificate name');
    assert.equal(status(auth.decide(request('CURVE', Buffer.alloc(32, 1)))), '400');
    assert.equal(status(auth.decide(request('CURVE', Buffer.alloc(5)))), '400');
    assert.equal(status(auth.decide(request('NULL', known))), '400');
    assert.equal(status(auth.decide([Buffer.from('2.0')])), '400');
  });
});

/** Z85 decoding, for the test only: the production code only ever encodes. */
function zmqDecode(text: string): Uint8Array {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
  const out = new Uint8Array((text.length / 5) * 4);
  for (let i = 0; i < text.length; i += 5) {
    let value = 0;
    for (let j = 0; j < 5; j++) value = value * 85 + alphabet.indexOf(text[i + j]!);
    new DataView(out.buffer).setUint32((i / 5) * 4, value);
  }
  return out;
}

describe('CURVE on sockets', () => {
  test('an authorized client is answered; an unknown key and a plain client get nothing', async () => {
    using s = scratch();
    const clients = mkdtempSync(join(s.dir, 'clients-'));
    const master = writeCertificatePair(s.dir, 'master');
    const good = writeCertificatePair(s.dir, 'good');
    const bad = writeCertificatePair(s.dir, 'bad');
    writeFileSync(join(clients, 'good.key'), readFileSync(good.publicFile));
    const stop = await serveCurve(master.secretFile, clients);
    const router = createSocket('ROUTER', { protocol: slaveDriver });
    try {
      await router.bind('tcp://127.0.0.1:0');
      const endpoint = router.endpoint!;
      const served = (async () => {
        for (;;) {
          const m = await router.recvAddr();
          await router.sendAddr(m.address, 'SLEEP', false);
        }
      })().catch(() => undefined);

      const attempt = async (client: typeof good | null): Promise<{ answered: boolean; refused: boolean }> => {
        setCurveClient(client === null ? undefined : { ...client.keys, serverKey: master.keys.publicKey });
        const req = createSocket('REQ', { protocol: reverse(slaveDriver), linger: 0 });
        let refused = false;
        req.onAuthFailure(() => (refused = true));
        req.connect(endpoint);
        await req.send('BYE').catch(() => undefined);
        const reply = await req.recv(2);
        req.close(0);
        return { answered: reply !== null, refused };
      };
      assert.deepEqual(await attempt(good), { answered: true, refused: false });
      assert.deepEqual(await attempt(bad), { answered: false, refused: true });
      assert.equal((await attempt(null)).answered, false, 'a client without CURVE gets nothing');
      unlinkSync(join(clients, 'good.key'));
      assert.deepEqual(await attempt(good), { answered: false, refused: true }, 'a removed key is refused from then on');
      router.close(0);
      await served;
    } finally {
      setCurveClient(undefined);
      router.close(0);
      await stop();
    }
  });

  test('zeromq built with CURVE', () => {
    assert.equal(zmq.capability.curve, true);
  });
});
