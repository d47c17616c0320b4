// piw-add, piw-import, piw-remove and piw-rebuild as child processes against
// MrChase with the real file juggler, scribe and database.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { access, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildWheel } from '../../helpers/wheel.ts';
import { DIALECTS } from '../../helpers/tool-db.ts';
import { runTool, startHarness, type Harness } from '../../helpers/tool-harness.ts';
import { waitFor } from '../../helpers/farm.ts';
import { getPackageFiles, getPackageName, getVersionFiles, getVersionSkip } from '../../helpers/db.ts';

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function builds(h: Harness, pkg: string): Promise<number> {
  const rows = await h.t.kysely.selectFrom('builds').select('build_id').where('package', '=', pkg).execute();
  return rows.length;
}

for (const dialect of DIALECTS) {
  describe(`import tools against MrChase (${dialect})`, () => {
    let h: Harness;
    let q: string[];

    before(async () => {
      // upstream serves a wheel of clash-pkg 1.0 under the name piw-import will send, with other bytes; of mute-pkg it never said
      const upstream = {
        async filesOf(pkg: string) {
          if (pkg === 'mute-pkg') return null;
          if (pkg !== 'clash-pkg') return [];
          return [{ filename: 'clash_pkg-1.0-py3-none-any.whl', filehash: 'ff'.repeat(32), requiresPython: null, uploadedAt: new Date(0) }];
        },
      };
      h = await startHarness(dialect, { upstream });
      q = ['--import-queue', h.importQueue];
    });

    after(async () => {
      await h.stop();
    });

    test('piw-add adds a package with aliases, then a version; refusals change nothing', async () => {
      const add = await runTool('add', [...q, '-y', 'Sample_Pkg', '-d', 'A sample package', '-a', 'sample.pkg']);
      assert.equal(add.code, 0, add.stderr);
      assert.match(add.stderr, /added package successfully/);
      assert.equal(await h.t.db.testPackage('sample-pkg'), true);
      assert.equal(await getPackageName(h.t.kysely, 'sample-pkg'), 'Sample_Pkg');
      assert.deepEqual(await h.t.db.getPackageAliases('sample-pkg'), ['Sample_Pkg', 'sample.pkg']);
      assert.ok(await exists(join(h.output, 'project', 'sample-pkg', 'index.html')));
      assert.equal(await readlink(join(h.output, 'project', 'Sample_Pkg')), 'sample-pkg');
      assert.equal(await exists(join(h.output, 'simple', 'sample-pkg')), false, 'no file yet: not in the index');
      assert.equal(await exists(join(h.output, 'simple', 'Sample_Pkg')), false);

      const ver = await runTool('add', [...q, '-y', 'sample-pkg', '1.0', '-r', '2026-11-01 12:00:00']);
      assert.equal(ver.code, 0, ver.stderr);
      assert.match(ver.stderr, /added version successfully/);
      const data = await h.t.db.getProjectData('sample-pkg');
      assert.equal(data?.releases[0]?.version, '1.0');
      assert.equal(data?.releases[0]?.released.toISOString(), '2026-11-01T12:00:00.000Z');
      assert.equal(data?.description, 'A sample package');

      const skipKnown = await runTool('add', [...q, '-y', 'sample-pkg', '--skip', 'broken']);
      assert.equal(skipKnown.code, 1);
      assert.match(skipKnown.stderr, /^piw-add: cannot skip a known package with piw-add: use piw-remove --skip$/m);
      assert.equal((await h.t.db.getProjectData('sample-pkg'))?.skip, '');

      const noPkg = await runTool('add', [...q, '-y', 'nonexistent', '2.0']);
      assert.equal(noPkg.code, 1);
      assert.match(noPkg.stderr, /package nonexistent does not exist: add it with piw-add first/);
      assert.equal(await h.t.db.testPackage('nonexistent'), false);

      const badAlias = await runTool('add', [...q, '-y', 'sample-pkg', '-a', 'other']);
      assert.equal(badAlias.code, 2);
      assert.match(badAlias.stderr, /alias other does not match the package name sample-pkg/);

      const noTty = await runTool('add', [...q, 'another']);
      assert.equal(noTty.code, 2);
      assert.match(noTty.stderr, /re-run with --yes/);
      assert.equal(await h.t.db.testPackage('another'), false);
    });

    test('piw-import sends the wheels of a build; the tree and the database agree', async () => {
      const wheel = await buildWheel(join(h.dir, 'wheels'), 'sample_pkg', '1.0');
      const output = join(h.dir, 'build-output.txt');
      await writeFile(output, 'built on a bench\n');
      const result = await runTool('import', [...q, '--file-queue', h.fileQueue, '-y', '--abi', 'cp311', '--duration', '1m30s', '--output', output, wheel.path]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /imported build successfully/);
      const served = await readFile(join(h.output, 'simple', 'sample-pkg', wheel.filename));
      // the pages follow the recorded build
      const alias = await waitFor('the alias in the index', () => readlink(join(h.output, 'simple', 'Sample_Pkg')).catch(() => undefined), 30_000);
      assert.equal(alias, 'sample-pkg', 'its first file puts it in the index, aliases too');
      assert.equal(createHash('sha256').update(served).digest('hex'), wheel.sha256);
      const files = await getPackageFiles(h.t.kysely, 'sample-pkg');
      assert.equal(files.get(wheel.filename), wheel.sha256);
      const row = await h.t.kysely.selectFrom('builds').selectAll().where('package', '=', 'sample-pkg').executeTakeFirstOrThrow();
      assert.equal(row.abi_tag, 'cp311');
      assert.equal(Number(row.built_by), 0);
      assert.ok(await exists(wheel.path), 'the wheel stays without --delete');
    });

    test('piw-import refuses bad sets, non-wheels and unknown versions, changing nothing', async () => {
      const dir = join(h.dir, 'bad');
      const a = await buildWheel(dir, 'sample_pkg', '1.0', { tag: 'cp311-cp311-linux_armv7l' });
      const b = await buildWheel(dir, 'other_pkg', '1.0');
      const c = await buildWheel(dir, 'sample_pkg', '1.0', { tag: 'cp39-cp39-linux_armv7l' });
      const d = await buildWheel(dir, 'sample_pkg', '9.9');
      const junk = join(dir, 'junk-1.0-py3-none-any.whl');
      await writeFile(junk, 'not a zip');
      const before = await builds(h, 'sample-pkg');
      const base = [...q, '--file-queue', h.fileQueue, '-y'];

      const mixed = await runTool('import', [...base, a.path, b.path]);
      assert.equal(mixed.code, 2);
      assert.match(mixed.stderr, /^piw-import: the wheels belong to different packages \(other-pkg, sample-pkg\)/m);
      const abis = await runTool('import', [...base, a.path, c.path]);
      assert.equal(abis.code, 2);
      assert.match(abis.stderr, /built for different ABIs \(cp311, cp39\)/);
      const notWheel = await runTool('import', [...base, junk]);
      assert.equal(notWheel.code, 2);
      assert.match(notWheel.stderr, /junk-1\.0-py3-none-any\.whl is not a usable wheel/);
      const noAbi = await runTool('import', [...base, d.path]);
      assert.equal(noAbi.code, 2);
      assert.match(noAbi.stderr, /re-run with --abi/);
      const unknown = await runTool('import', [...base, '--abi', 'cp311', d.path]);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /refused the import: unknown package version sample-pkg 9\.9/);
      const badAbi = await runTool('import', [...base, '--abi', 'cp27mu', d.path]);
      assert.equal(badAbi.code, 1);
      const e = await buildWheel(dir, 'sample_pkg', '1.0', { tag: 'cp311-cp311-linux_aarch64' });
      const platforms = await runTool('import', [...base, a.path, e.path]);
      assert.equal(platforms.code, 2);
      assert.match(platforms.stderr, /^piw-import: the wheels are built for different platforms \(linux_aarch64, linux_armv7l\): import one build target at a time$/m);
      const wrongTarget = await runTool('import', [...base, '--target', 'cp311-linux_armv7l', e.path]);
      assert.equal(wrongTarget.code, 2);
      assert.match(wrongTarget.stderr, /the wheels are built for linux_aarch64, not --target cp311-linux_armv7l/);
      const both = await runTool('import', [...base, '--target', 'cp311-linux_aarch64', '--abi', 'cp311', e.path]);
      assert.equal(both.code, 2);
      assert.match(both.stderr, /give --abi or --target, not both/);
      const badTarget = await runTool('import', [...base, '--target', 'cp311-any', e.path]);
      assert.equal(badTarget.code, 2);
      assert.match(badTarget.stderr, /"any" is not a build platform tag/);

      assert.equal(await builds(h, 'sample-pkg'), before);
      assert.equal(await exists(join(h.output, 'simple', 'sample-pkg', d.filename)), false);
    });

    test('piw-import refuses a wheel whose name upstream serves with other bytes, or when upstream cannot say', async () => {
      const base = [...q, '--file-queue', h.fileQueue, '-y', '--abi', 'cp311'];
      for (const pkg of ['clash-pkg', 'mute-pkg']) {
        assert.equal((await runTool('add', [...q, '-y', pkg])).code, 0);
        assert.equal((await runTool('add', [...q, '-y', pkg, '1.0'])).code, 0);
        const wheel = await buildWheel(join(h.dir, 'upstream'), pkg.replace('-', '_'), '1.0');
        const refused = await runTool('import', [...base, wheel.path]);
        assert.equal(refused.code, 1, refused.stderr);
        assert.match(
          refused.stderr,
          pkg === 'clash-pkg'
            ? /refused the import: upstream serves clash_pkg-1\.0-py3-none-any\.whl with other bytes/
            : /refused the import: upstream could not be asked/,
        );
        assert.equal(await builds(h, pkg), 0);
        assert.equal(await exists(join(h.output, 'simple', pkg, wheel.filename)), false);
        assert.equal((await runTool('remove', [...q, '-y', pkg])).code, 0, 'the farm as it was for the tests after');
      }
    });

    test('piw-import --delete removes the local file after success; armv7 wheels get armv6 twins', async () => {
      await runTool('add', [...q, '-y', 'sample-pkg', '2.0']);
      const wheel = await buildWheel(join(h.dir, 'arm'), 'sample_pkg', '2.0', { tag: 'cp311-cp311-linux_armv7l' });
      const result = await runTool('import', [...q, '--file-queue', h.fileQueue, '-y', '--delete', '--target', 'cp311-linux_armv7l', wheel.path]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await exists(wheel.path), false);
      const row = await h.t.kysely.selectFrom('builds').select(['abi_tag', 'platform_tag']).where('package', '=', 'sample-pkg').where('version', '=', '2.0').executeTakeFirstOrThrow();
      assert.deepEqual(row, { abi_tag: 'cp311', platform_tag: 'linux_armv7l' }, 'the builder platform comes from the wheels');
      const twin = wheel.filename.replace('linux_armv7l', 'linux_armv6l');
      assert.ok((await getVersionFiles(h.t.kysely, 'sample-pkg', '2.0')).has(twin));
      assert.ok((await stat(join(h.output, 'simple', 'sample-pkg', twin))).isFile());
    });

    test('piw-remove yanks, removes builds, removes versions and packages', async () => {
      const yank = await runTool('remove', [...q, '-y', 'sample-pkg', '1.0', '--yank']);
      assert.equal(yank.code, 0, yank.stderr);
      assert.match(yank.stderr, /yanked version successfully/);
      assert.equal((await h.t.db.getProjectData('sample-pkg'))?.releases.find((r) => r.version === '1.0')?.yanked, true);

      const wheel = 'sample_pkg-1.0-py3-none-any.whl';
      assert.ok(await exists(join(h.output, 'simple', 'sample-pkg', wheel)));
      const rmBuilds = await runTool('remove', [...q, '-y', 'sample-pkg', '1.0', '--builds']);
      assert.equal(rmBuilds.code, 0, rmBuilds.stderr);
      assert.match(rmBuilds.stderr, /removed the builds of the version successfully/);
      assert.equal((await getVersionFiles(h.t.kysely, 'sample-pkg', '1.0')).size, 0);
      assert.equal(await exists(join(h.output, 'simple', 'sample-pkg', wheel)), false);
      assert.equal(await h.t.db.testPackageVersion('sample-pkg', '1.0'), true);
      assert.deepEqual(h.deleted.at(-1), ['sample-pkg', '1.0']);

      const skip = await runTool('remove', [...q, '-y', 'sample-pkg', '2.0', '--skip', 'broken upstream']);
      assert.equal(skip.code, 0, skip.stderr);
      assert.equal(await getVersionSkip(h.t.kysely, 'sample-pkg', '2.0'), 'broken upstream');

      const missing = await runTool('remove', [...q, '-y', 'sample-pkg', '7.7']);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^piw-remove: version sample-pkg 7\.7 does not exist$/m);
      const noPkg = await runTool('remove', [...q, '-y', 'nothing-here']);
      assert.equal(noPkg.code, 1);
      assert.match(noPkg.stderr, /package nothing-here does not exist/);
      const noTty = await runTool('remove', [...q, 'sample-pkg']);
      assert.equal(noTty.code, 2);
      assert.equal(await h.t.db.testPackage('sample-pkg'), true);

      const gone = await runTool('remove', [...q, '-y', 'sample-pkg']);
      assert.equal(gone.code, 0, gone.stderr);
      assert.match(gone.stderr, /removed package successfully/);
      assert.equal(await h.t.db.testPackage('sample-pkg'), false);
      assert.equal(await exists(join(h.output, 'project', 'sample-pkg')), false);
      assert.equal(await exists(join(h.output, 'simple', 'sample-pkg')), false);
      assert.equal(await exists(join(h.output, 'simple', 'Sample_Pkg')), false);
    });

    test('piw-rebuild writes the home page, one package, or all of them', async () => {
      for (const name of ['alpha', 'beta', 'gamma']) {
        const r = await runTool('add', [...q, '-y', name, '-d', `the ${name} package`]);
        assert.equal(r.code, 0, r.stderr);
      }
      const home = await runTool('rebuild', [...q, 'home']);
      assert.equal(home.code, 0, home.stderr);
      assert.ok(await exists(join(h.output, 'index.html')));
      const search = JSON.parse(await readFile(join(h.output, 'packages.json'), 'utf8')) as unknown[];
      assert.equal(search.length, 3);

      const before = h.pages.length;
      const one = await runTool('rebuild', [...q, 'project', 'Beta']);
      assert.equal(one.code, 0, one.stderr);
      assert.deepEqual(h.pages.slice(before), [{ kind: 'PROJECT', package: 'beta' }]);

      // Every package: regenerated here from the database, no request per package.
      const all = await runTool('rebuild', [...q, '-y', '--dsn', h.t.dsn, '-o', h.output, '--base-url', 'https://wheels.example.test', 'index']);
      assert.equal(all.code, 0, all.stderr);
      assert.match(all.stderr, /wrote the pages of 3 packages/);
      assert.equal(h.pages.length, before + 1);
      for (const name of ['alpha', 'beta', 'gamma']) {
        const json = JSON.parse(await readFile(join(h.output, 'project', name, 'json', 'index.json'), 'utf8')) as { piwheels_url: string };
        assert.equal(json.piwheels_url, `https://wheels.example.test/project/${name}`);
      }

      const unknown = await runTool('rebuild', [...q, 'project', 'nope']);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /^piw-rebuild: unknown package nope$/m);
      const badPart = await runTool('rebuild', [...q, 'everything']);
      assert.equal(badPart.code, 2);
      assert.match(badPart.stderr, /invalid website part "everything"/);
    });
  });
}

for (const dialect of DIALECTS) {
  describe(`piw-import on a farm with platforms (${dialect})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness(dialect);
      await h.t.db.addBuildPlatform('linux_armv7l');
      await h.t.db.addBuildPlatform('linux_aarch64');
    });
    after(async () => {
      await h.stop();
    });

    test('the coordinator takes wheels of its platforms, and portable ones, and refuses others', async () => {
      for (const args of [['sample-pkg'], ['sample-pkg', '1.0']]) {
        const added = await runTool('add', ['--import-queue', h.importQueue, '-y', ...args]);
        assert.equal(added.code, 0, added.stderr);
      }
      const base = ['--import-queue', h.importQueue, '--file-queue', h.fileQueue, '-y'];
      const x86 = await buildWheel(join(h.dir, 'x86'), 'sample_pkg', '1.0', { tag: 'cp311-cp311-linux_x86_64' });
      const refused = await runTool('import', [...base, x86.path]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /refused the import: invalid platform: linux_x86_64 \(build platforms: linux_aarch64, linux_armv7l\)/);
      assert.equal(await builds(h, 'sample-pkg'), 0);
      const arm64 = await buildWheel(join(h.dir, 'arm64'), 'sample_pkg', '1.0', { tag: 'cp311-cp311-linux_aarch64' });
      const taken = await runTool('import', [...base, arm64.path]);
      assert.equal(taken.code, 0, taken.stderr);
      const queue = await h.t.db.getBuildQueue();
      assert.deepEqual(queue.get('cp311-linux_aarch64'), [], 'built for aarch64');
      assert.deepEqual(queue.get('cp39-linux_aarch64'), [{ package: 'sample-pkg', version: '1.0' }], 'cp39 of aarch64 still to build');
      assert.deepEqual(queue.get('cp39-linux_armv7l'), [{ package: 'sample-pkg', version: '1.0' }], 'armv7l still to build');
    });
  });
}

describe('import tools without a coordinator', () => {
  test('a silent endpoint is a one-line error naming it', async () => {
    const result = await runTool('rebuild', ['--import-queue', 'ipc:///nonexistent/piw-import', '--timeout', '1', 'home']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^piw-rebuild: no answer from the coordinator at ipc:\/\/\/nonexistent\/piw-import within 1s: is piw-master running\?$/m);
  });
});
