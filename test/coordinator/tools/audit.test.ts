// piw-audit as a process over a real database and output tree.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, copyFile, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Scribe } from '../../../coordinator/pages/scribe.ts';
import { compareTree, walkTree } from '../../../coordinator/tools/audit.ts';
import { buildWheel } from '../../helpers/wheel.ts';
import { createDatabase, DIALECTS, tempDir, type TestDatabase } from '../../helpers/tool-db.ts';
import { runTool } from '../../helpers/tool-harness.ts';
import { logBuild } from '../../helpers/db.ts';

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

describe('audit comparison', () => {
  test('missing, extra, pages, logs and links are each reported', () => {
    const problems = compareTree(
      { wheels: new Map([['a', new Map([['a-1-py3-none-any.whl', 'x'], ['a-2-py3-none-any.whl', 'y']])]]), names: new Set(['a']), buildIds: [1, 2] },
      {
        wheels: new Map([['a', new Set(['a-1-py3-none-any.whl', 'a-3-py3-none-any.whl'])]]),
        pages: new Set(['simple/a/index.html']),
        logs: new Set([1]),
        danglingLinks: ['simple/A'],
      },
      ['a'],
    );
    assert.deepEqual(
      problems.map((p) => `${p.kind} ${p.path}`),
      [
        'missing-wheel simple/a/a-2-py3-none-any.whl',
        'extra-wheel simple/a/a-3-py3-none-any.whl',
        'missing-page project/a/index.html',
        'missing-log logs/0000/0000/0002.txt.gz',
        'dangling-link simple/A',
      ],
    );
  });

  test('a package with no wheel must have a project page and no index page', () => {
    const expected = { wheels: new Map([['a', new Map([['a-1-py3-none-any.whl', 'x']])]]), names: new Set(['a', 'b', 'c']), buildIds: [] };
    const found = {
      wheels: new Map([['a', new Set(['a-1-py3-none-any.whl'])], ['b', new Set<string>()]]),
      pages: new Set(['simple/a/index.html', 'project/a/index.html', 'simple/b/index.html', 'project/b/index.html']),
      logs: new Set<number>(),
      danglingLinks: [],
    };
    assert.deepEqual(
      compareTree(expected, found, ['a', 'b', 'c']).map((p) => `${p.kind} ${p.path}`),
      ['extra-page simple/b/index.html', 'missing-page project/c/index.html'],
    );
  });
});

describe('audit walk', () => {
  test('finds wheels, pages, logs and dead links without following aliases', async () => {
    const dir = await tempDir();
    try {
      const out = dir.path;
      const put = async (path: string, text = 'x'): Promise<void> => {
        await mkdir(join(out, path, '..'), { recursive: true });
        await writeFile(join(out, path), text);
      };
      await put('simple/pkg/index.html');
      await put('simple/pkg/pkg-1-py3-none-any.whl');
      await put('simple/pkg/pkg-1-py3-none-any.whl.metadata');
      await put('simple/pkg/.hidden-1-py3-none-any.whl');
      await symlink('pkg-1-py3-none-any.whl', join(out, 'simple', 'pkg', 'pkg-1-py3-none-linux_armv6l.whl'));
      await symlink('gone.whl', join(out, 'simple', 'pkg', 'pkg-2-py3-none-any.whl'));
      await symlink('pkg', join(out, 'simple', 'Pkg'));
      await symlink('nowhere', join(out, 'simple', 'Old_Name'));
      await mkdir(join(out, 'simple', 'empty'));
      await put('simple/stray.html');
      await put('project/pkg/index.html');
      await symlink('pkg', join(out, 'project', 'Pkg'));
      await put('logs/0000/0012/3456.txt.gz');
      await put('logs/0000/0012/notes.txt.gz');
      await put('logs/00/0012/3457.txt.gz');
      const found = await walkTree(out);
      assert.deepEqual(
        [...found.wheels].map(([pkg, files]) => [pkg, [...files].sort()]),
        [
          ['empty', []],
          ['pkg', ['.hidden-1-py3-none-any.whl', 'pkg-1-py3-none-any.whl', 'pkg-1-py3-none-linux_armv6l.whl']],
        ],
      );
      assert.deepEqual([...found.pages].sort(), ['project/pkg/index.html', 'simple/pkg/index.html']);
      assert.deepEqual([...found.logs], [123456]);
      assert.deepEqual(found.danglingLinks, ['simple/Old_Name', 'simple/pkg/pkg-2-py3-none-any.whl']);
    } finally {
      await dir.cleanup();
    }
  });

  test('an output tree that does not exist yet is empty', async () => {
    const found = await walkTree('/nonexistent/output/tree');
    assert.deepEqual(found, { wheels: new Map(), pages: new Set(), logs: new Set(), danglingLinks: [] });
  });
});

for (const dialect of DIALECTS) {
  describe(`piw-audit (${dialect})`, () => {
    let t: TestDatabase;
    let dir: Awaited<ReturnType<typeof tempDir>>;
    let output: string;
    let args: string[];
    let wheelPath: string;

    before(async () => {
      t = await createDatabase(dialect);
      dir = await tempDir();
      output = join(dir.path, 'www');
      args = ['-d', t.dsn, '-o', output];
      const wheel = await buildWheel(join(dir.path, 'src'), 'tidy', '1.0');
      await t.db.addNewPackage('tidy');
      await t.db.addNewPackageVersion('tidy', '1.0');
      const buildId = await logBuild(t.db, {
        package: 'tidy', version: '1.0', abiTag: 'cp311', status: true, duration: 1, slaveId: 1, builtAt: new Date(),
        files: [{
          filename: wheel.filename, filesize: wheel.bytes.length, filehash: wheel.sha256, packageTag: 'tidy', packageVersionTag: '1.0',
          pyVersionTag: 'py3', abiTag: 'none', platformTag: 'any', requiresPython: null, dependencies: { apt: [], pip: [] }, metadataHash: null,
        }],
      });
      const scribe = await Scribe.create({ output, db: t.db });
      await mkdir(join(output, 'simple', 'tidy'), { recursive: true });
      wheelPath = join(output, 'simple', 'tidy', wheel.filename);
      await copyFile(wheel.path, wheelPath);
      await scribe.writeProject((await t.db.getProjectData('tidy'))!, { both: true });
      await scribe.writeLog(buildId, 'log');
    });

    after(async () => {
      await t.cleanup();
      await dir.cleanup();
    });

    test('a consistent tree passes; damage is reported, fixed where safe, the rest left', async () => {
      const clean = await runTool('audit', args);
      assert.equal(clean.code, 0, clean.stderr);
      assert.match(clean.stderr, /tree and database agree/);

      await rm(join(output, 'project', 'tidy'), { recursive: true });
      await writeFile(join(output, 'simple', 'tidy', 'tidy-0.9-py3-none-any.whl'), 'stray');
      await symlink('nowhere', join(output, 'simple', 'Tidy_Old'));
      await writeFile(wheelPath, 'corrupted');

      const report = await runTool('audit', args);
      assert.equal(report.code, 1);
      const lines = report.stdout.trim().split('\n').sort();
      assert.deepEqual(lines.map((l) => l.split('\t').slice(0, 2).join(' ')), [
        'dangling-link simple/Tidy_Old',
        'extra-wheel simple/tidy/tidy-0.9-py3-none-any.whl',
        'missing-page project/tidy/index.html',
        `wrong-hash simple/tidy/${wheelPath.split('/').at(-1)}`,
      ]);
      assert.ok(await exists(join(output, 'simple', 'tidy', 'tidy-0.9-py3-none-any.whl')), 'nothing changes without --fix');

      const fixed = await runTool('audit', [...args, '--fix']);
      assert.equal(fixed.code, 1, 'the corrupt wheel remains');
      assert.match(fixed.stderr, /1 problems remain: 1 wheel whose SHA-256 differs from the database/);
      assert.ok(await exists(join(output, 'project', 'tidy', 'index.html')));
      assert.equal(await exists(join(output, 'simple', 'tidy', 'tidy-0.9-py3-none-any.whl')), false);
      const after = await runTool('audit', [...args, '--no-hashes']);
      assert.equal(after.code, 0, after.stdout);
    });

    test('an index page of a package with no wheel (written before the index left such packages out) is removed by --fix', async () => {
      await t.db.addNewPackage('bare');
      await t.db.addNewPackageVersion('bare', '1.0');
      const scribe = await Scribe.create({ output, db: t.db });
      await scribe.writeProject((await t.db.getProjectData('bare'))!, { both: true });
      await mkdir(join(output, 'simple', 'bare'), { recursive: true });
      await writeFile(join(output, 'simple', 'bare', 'index.html'), 'an old empty page');
      const report = await runTool('audit', [...args, '--no-hashes']);
      assert.equal(report.code, 1);
      assert.deepEqual(report.stdout.trim().split('\n').map((l) => l.split('\t').slice(0, 2).join(' ')), ['extra-page simple/bare/index.html']);
      const fixed = await runTool('audit', [...args, '--no-hashes', '--fix']);
      assert.equal(fixed.code, 0, fixed.stdout);
      assert.equal(await exists(join(output, 'simple', 'bare')), false);
      assert.ok(await exists(join(output, 'project', 'bare', 'index.html')));
    });

    test('a missing database is a one-line error', async () => {
      const r = await runTool('audit', ['-d', join(dir.path, 'none.sqlite'), '-o', output]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^piw-audit: no database at .*none\.sqlite: create it with piw-initdb$/m);
    });
  });
}
