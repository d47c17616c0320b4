import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  XmlRpcError,
  decodeMethodCall,
  decodeMethodResponse,
  encodeFault,
  encodeMethodCall,
  encodeMethodResponse,
  encodeValue,
  type XmlRpcValue,
} from '../../shared/xmlrpc.ts';

const isXmlRpcError = (pattern: RegExp) => (error: unknown): boolean => {
  assert.ok(error instanceof XmlRpcError, `expected an XmlRpcError, got ${String(error)}`);
  assert.match(error.message, pattern);
  return true;
};

describe('XML-RPC responses', () => {
  const plain = `<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><array><data>\n<value><array><data><value><string>Foo&amp;Bar</string></value><value><nil/></value><value><int>1531327388</int></value><value><string>create</string></value><value><int>7</int></value></data></array></value>\n<value><array><data><value>bare</value><value><string>1.0</string></value><value><i4>5</i4></value><value><string>add source file bare-1.0.tar.gz</string></value><value><i8>8</i8></value></data></array></value>\n</data></array></value>\n</param>\n</params>\n</methodResponse>\n`;
  const expected = [
    ['Foo&Bar', null, 1531327388, 'create', 7],
    ['bare', '1.0', 5, 'add source file bare-1.0.tar.gz', 8],
  ];

  test('reads the plain form servers send', () => {
    assert.deepEqual(decodeMethodResponse(plain), { ok: true, value: expected });
  });

  test('falls back to a full XML parser for comments, CDATA and attributes, with the same result', () => {
    const fancy = plain
      .replace('<methodResponse>', '<methodResponse xmlns:ex="http://example.org"><!-- a comment -->')
      .replace('<string>create</string>', '<string><![CDATA[create]]></string>');
    assert.deepEqual(decodeMethodResponse(fancy), { ok: true, value: expected });
  });

  test('reads booleans, doubles and structs', () => {
    const body = `<methodResponse><params><param><value><struct><member><name>a</name><value><boolean>1</boolean></value></member><member><name>b</name><value><double>1.5</double></value></member></struct></value></param></params></methodResponse>`;
    assert.deepEqual(decodeMethodResponse(body), { ok: true, value: { a: true, b: 1.5 } });
  });

  test('reads faults', () => {
    const fault = `<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>-32500</int></value></member><member><name>faultString</name><value><string>HTTPTooManyRequests</string></value></member></struct></value></fault></methodResponse>`;
    assert.deepEqual(decodeMethodResponse(fault), { ok: false, faultCode: -32500, faultString: 'HTTPTooManyRequests' });
  });

  const bad: Array<[string, string]> = [
    ['truncated', plain.slice(0, plain.length / 2)],
    ['not XML', 'Service Unavailable'],
    ['empty', ''],
    ['HTML', '<html><body>oops</body></html>'],
    ['a call instead of a response', encodeMethodCall('changelog_last_serial', [])],
    ['two params', plain.replace('</params>', '<param><value>x</value></param></params>')],
    ['bad integer', plain.replace('<int>7</int>', '<int>seven</int>')],
    ['bad boolean', plain.replace('<nil/>', '<boolean>yes</boolean>')],
    ['unknown type', plain.replace('<nil/>', '<weird>1</weird>')],
    ['two types in a value', plain.replace('<nil/>', '<nil/><int>1</int>')],
    ['an array item that is not a value', plain.replace('<value><nil/></value>', '<nil/>')],
    ['fault without code', '<methodResponse><fault><value><struct></struct></value></fault></methodResponse>'],
    ['content after the response', `${plain}<extra/>`],
  ];
  for (const [what, body] of bad) {
    test(`refuses ${what}`, () => {
      assert.throws(() => decodeMethodResponse(body), isXmlRpcError(/^malformed XML-RPC response: \S/));
    });
  }

  test('the message says what was wrong, on one line', () => {
    assert.throws(() => decodeMethodResponse(plain.replace('<int>7</int>', '<int>seven</int>')), isXmlRpcError(/bad integer "seven"$/));
    assert.throws(() => decodeMethodResponse('Service Unavailable'), isXmlRpcError(/^[^\n]*$/));
  });

  test('a response survives its own encoding', () => {
    for (const value of [expected, 42, 'a<b&c>', null, [], { nested: [1, { deep: 'x' }] }, true] as XmlRpcValue[]) {
      assert.deepEqual(decodeMethodResponse(encodeMethodResponse(value)), { ok: true, value });
    }
    assert.deepEqual(decodeMethodResponse(encodeFault(-32602, 'takes one <integer>')), { ok: false, faultCode: -32602, faultString: 'takes one <integer>' });
  });

  test('writes an array one item to a line and a fault in the shape piw-upstream always sent', () => {
    assert.equal(
      encodeMethodResponse([['a', null, 1, 'create', 2]]),
      "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><array><data>\n" +
        '<value><array><data><value><string>a</string></value><value><nil/></value><value><int>1</int></value><value><string>create</string></value><value><int>2</int></value></data></array></value>\n' +
        '</data></array></value>\n</param>\n</params>\n</methodResponse>\n',
    );
    assert.equal(
      encodeMethodResponse(7),
      "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><int>7</int></value>\n</param>\n</params>\n</methodResponse>\n",
    );
    assert.equal(
      encodeFault(-1, 'a&b'),
      "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member><name>faultCode</name><value><int>-1</int></value></member>\n<member><name>faultString</name><value><string>a&amp;b</string></value></member>\n</struct></value>\n</fault>\n</methodResponse>\n",
    );
  });
});

describe('XML-RPC calls', () => {
  test('encodes a method call with escaped strings', () => {
    const body = encodeMethodCall('changelog_since_serial', [42]);
    assert.equal(body, '<?xml version="1.0"?>\n<methodCall><methodName>changelog_since_serial</methodName><params><param><value><int>42</int></value></param></params></methodCall>');
    assert.match(encodeMethodCall('x', ['a<b&c']), /a&lt;b&amp;c/);
    assert.throws(() => encodeMethodCall('x', [1.5]), TypeError);
    assert.throws(() => encodeValue(Number.NaN), TypeError);
  });

  test('a call survives its own encoding', () => {
    assert.deepEqual(decodeMethodCall(encodeMethodCall('changelog_since_serial', [42])), { methodName: 'changelog_since_serial', params: [42] });
    assert.deepEqual(decodeMethodCall(encodeMethodCall('changelog_last_serial', [])), { methodName: 'changelog_last_serial', params: [] });
  });

  test('reads calls as other clients write them', () => {
    const python = "<?xml version='1.0'?>\n<methodCall>\n<methodName>changelog_since_serial</methodName>\n<params>\n<param>\n<value><int>5</int></value>\n</param>\n</params>\n</methodCall>\n";
    assert.deepEqual(decodeMethodCall(python), { methodName: 'changelog_since_serial', params: [5] });
    assert.deepEqual(decodeMethodCall('<methodCall><methodName>changelog_last_serial</methodName></methodCall>'), { methodName: 'changelog_last_serial', params: [] });
    assert.deepEqual(decodeMethodCall('<methodCall><methodName>x</methodName><params/></methodCall>'), { methodName: 'x', params: [] });
    assert.deepEqual(decodeMethodCall('<methodCall><methodName>x</methodName><params><param><value>bare</value></param></params></methodCall>'), { methodName: 'x', params: ['bare'] });
  });

  const bad: Array<[string, string]> = [
    ['not XML', 'GET / HTTP/1.1'],
    ['empty', ''],
    ['truncated', '<methodCall><methodName>x</methodName><params><param>'],
    ['a response instead of a call', encodeMethodResponse(1)],
    ['no method name', '<methodCall><params></params></methodCall>'],
    ['an empty method name', '<methodCall><methodName></methodName></methodCall>'],
    ['a param without a value', '<methodCall><methodName>x</methodName><params><param></param></params></methodCall>'],
    ['something else in params', '<methodCall><methodName>x</methodName><params><value><int>1</int></value></params></methodCall>'],
    ['a bad integer', '<methodCall><methodName>x</methodName><params><param><value><int>1e3</int></value></param></params></methodCall>'],
    ['extra elements', '<methodCall><methodName>x</methodName><params></params><params></params></methodCall>'],
  ];
  for (const [what, body] of bad) {
    test(`refuses ${what}`, () => {
      assert.throws(() => decodeMethodCall(body), isXmlRpcError(/^malformed XML-RPC call: \S/));
    });
  }
});
