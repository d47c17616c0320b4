import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatDate, formatDateTime, formatDuration, formatNumber, formatSize, escapeHtml } from '../../../site/lib/format.ts';
import { simpleIndexLinks, simpleLinks } from '../../../site/lib/simple-html.ts';
import {
  DEFAULT_SITE,
  targetLabel,
  logPathParts,
  logUrl,
  projectAbis,
  projectJson,
  projectView,
  robotsTxt,
  searchIndexRows,
  simpleFiles,
  simpleIndexJson,
  simpleProjectJson,
  sitemaps,
  unpublishedReason,
  versionAnchor,
} from '../../../site/lib/views.ts';
import { fileSections, releaseRows } from '../../../site/lib/project-html.ts';
import { wheelIsVersion } from '../../../coordinator/pages/scribe.ts';
import { otherProject, sampleProject } from '../../helpers/site-fixture.ts';
import { failureSection } from '../../../site/lib/project-html.ts';
import { pep691IndexSchema, pep691ProjectSchema, projectJsonSchema } from '../../helpers/page-schemas.ts';

const here = dirname(fileURLToPath(import.meta.url));

describe('format', () => {
  test('sizes, numbers, dates and durations', () => {
    assert.equal(formatSize(512), '512 B');
    assert.equal(formatSize(8473), '8.3 KB');
    assert.equal(formatSize(1_572_864), '1.5 MB');
    assert.equal(formatNumber(1234567), '1,234,567');
    const d = new Date('2026-11-05T06:07:08Z');
    assert.equal(formatDate(d), '2026-11-05');
    assert.equal(formatDateTime(d), '2026-11-05 06:07:08');
    assert.equal(formatDuration(0), '0 seconds');
    assert.equal(formatDuration(90061), '1 day, 1 hour');
    assert.equal(formatDuration(400 * 86400), '1 year, 35 days');
  });

  test('escapeHtml escapes every markup character', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});

describe('log paths', () => {
  test('build id zero-padded to 12 digits and split in three', () => {
    assert.deepEqual(logPathParts(1), ['0000', '0000', '0001.txt.gz']);
    assert.equal(logUrl(123456789012), '/logs/1234/5678/9012.txt.gz');
    assert.equal(logUrl(123456), '/logs/0000/0012/3456.txt.gz');
  });

  test('refuses ids that do not fit', () => {
    assert.throws(() => logPathParts(-1), RangeError);
    assert.throws(() => logPathParts(1e12), RangeError);
    assert.throws(() => logPathParts(1.5), RangeError);
  });
});

describe('simple pages', () => {
  test('links carry hash, escaped requires-python, yank and metadata hashes', () => {
    const html = simpleLinks(simpleFiles(sampleProject()));
    const lines = html.trim().split('\n');
    assert.equal(lines.length, 3);
    assert.equal(
      lines[0],
      `<a href="/simple/sample-pkg/sample_pkg-2.0rc1-py3-none-any.whl#sha256=${'b'.repeat(64)}" data-requires-python="&gt;=3.9" ` +
        `data-core-metadata="sha256=${'c'.repeat(64)}" data-dist-info-metadata="sha256=${'c'.repeat(64)}">sample_pkg-2.0rc1-py3-none-any.whl</a><br>`,
    );
    assert.match(lines[1] ?? '', /data-yanked=""/);
    assert.doesNotMatch(lines[2] ?? '', /data-yanked|data-core-metadata/);
  });

  test('extracted metadata hashes override and supply the database ones', () => {
    const files = simpleFiles(sampleProject(), new Map([['sample_pkg-1.0-cp39-cp39-linux_armv7l.whl', 'f'.repeat(64)], ['sample_pkg-2.0rc1-py3-none-any.whl', null]]));
    assert.equal(files.find((f) => f.filename.includes('1.0-'))?.metadataSha256, 'f'.repeat(64));
    assert.equal(files.find((f) => f.filename.includes('2.0rc1'))?.metadataSha256, null);
  });

  test('PEP 691 project JSON validates and lists versions oldest first', () => {
    const data = sampleProject();
    const json = pep691ProjectSchema.parse(simpleProjectJson(data, simpleFiles(data)));
    assert.deepEqual(json.versions, ['0.9', '1.0', '1.1', '2.0rc1']);
    assert.equal(json.files.length, 3);
    assert.equal(json.files[1]?.yanked, true);
    assert.deepEqual(json.files[0]?.['core-metadata'], { sha256: 'c'.repeat(64) });
    assert.equal(json.files[2]?.['core-metadata'], false);
    assert.equal(json.files[0]?.['upload-time'], '2026-11-20T10:00:00.000Z');
  });

  test('root index in HTML and JSON; names are escaped', () => {
    assert.equal(simpleIndexLinks(['a-b', 'x<y']), '<a href="a-b/">a-b</a><br>\n<a href="x&lt;y/">x&lt;y</a><br>\n');
    assert.deepEqual(pep691IndexSchema.parse(simpleIndexJson(['a', 'b'])).projects, [{ name: 'a' }, { name: 'b' }]);
  });
});

describe('project JSON', () => {
  test('keeps every key of the original public JSON', () => {
    const sample = JSON.parse(readFileSync(join(here, 'reference-project.json'), 'utf8')) as Record<string, unknown>;
    const ours = projectJson(sampleProject(), DEFAULT_SITE) as Record<string, unknown>;
    for (const key of Object.keys(sample)) assert.ok(key in ours, `missing top-level key ${key}`);
    const theirRelease = Object.values(sample.releases as Record<string, Record<string, unknown>>)[0] ?? {};
    const ourRelease = (ours.releases as Record<string, Record<string, unknown>>)['1.0'] ?? {};
    for (const key of Object.keys(theirRelease)) assert.ok(key in ourRelease, `missing release key ${key}`);
    const theirFile = Object.values(theirRelease.files as Record<string, Record<string, unknown>>)[0] ?? {};
    const ourFile = Object.values(ourRelease.files as Record<string, Record<string, unknown>>)[0] ?? {};
    assert.deepEqual(Object.keys(ourFile), Object.keys(theirFile));
  });

  test('validates, with per-ABI build status and sorted dependencies', () => {
    const json = projectJsonSchema.parse(projectJson(sampleProject(), { ...DEFAULT_SITE, baseUrl: 'https://wheels.example.org' }));
    assert.equal(json.piwheels_url, 'https://wheels.example.org/project/sample-pkg');
    assert.equal(json.pypi_url, 'https://pypi.org/project/sample-pkg');
    const r10 = json.releases['1.0'];
    assert.ok(r10);
    assert.deepEqual(r10.abis.cp311, {
      status: 'fail',
      build_id: 13,
      log_url: '/logs/0000/0000/0013.txt.gz',
      failure: { kind: 'package', attempt: 1, retry_at: null, missing: { kind: 'header', name: 'zstd.h' }, debian_package: 'libzstd-dev' },
      environment: {
        os: 'Raspbian GNU/Linux 11 (bullseye)',
        python: '3.11.2',
        pip: '23.0.1',
        setuptools: '66.1.1',
        wheel: '0.38.4',
        dpkg_digest: `sha256:${'c'.repeat(64)}`,
        reproduce: "env LC_ALL=C.UTF-8 python3 -m pip wheel 'sample-pkg==1.0' --no-deps",
      },
    });
    assert.deepEqual(r10.attempts, []);
    assert.deepEqual(r10.files['sample_pkg-1.0-cp39-cp39-linux_armv7l.whl']?.apt_dependencies, ['libatlas3-base', 'libopenjp2-7']);
    assert.equal(json.releases['1.1']?.yanked, true);
    assert.equal(json.releases['0.9']?.skip_reason, 'binary only');
    assert.deepEqual(json.releases['0.9']?.abis.cp39, { status: 'skip', build_id: null, log_url: null, failure: null, environment: null });
    assert.equal(json.releases['2.0rc1']?.prerelease, true);
    assert.equal(json.releases['1.1']?.released, '2026-11-10 12:30:45');
  });

  test('the schema refuses a document missing an original key', () => {
    const json = projectJson(sampleProject(), DEFAULT_SITE) as Record<string, unknown>;
    delete json.summary;
    assert.throws(() => projectJsonSchema.parse(json));
  });
});

describe('project page view', () => {
  test('targets ordered by OS release, then platform', () => {
    const data = sampleProject();
    for (const release of data.releases) release.abis = {};
    data.releases[0]!.abis = {
      'cp313-linux_armv7l': { status: 'pending', buildId: null },
      'cp311-linux_armv7l': { status: 'pending', buildId: null },
      'cp311-linux_aarch64': { status: 'pending', buildId: null },
    };
    assert.deepEqual(projectAbis(data), ['cp311-linux_aarch64', 'cp311-linux_armv7l', 'cp313-linux_armv7l']);
  });

  test('a failed build is explained: kind, next try, the missing dependency and its Debian package, the builder', () => {
    const data = sampleProject();
    const view = projectView(data);
    assert.equal(view.failures.length, 1);
    const f = view.failures[0]!;
    assert.deepEqual(
      [f.version, f.abi, f.kind, f.attempt, f.retryAt, f.missing, f.debianPackage, f.logUrl],
      ['1.0', 'cp311', 'package', 1, null, 'zstd.h', 'libzstd-dev', '/logs/0000/0000/0013.txt.gz'],
    );
    assert.equal(f.environment?.tools, 'pip 23.0.1, setuptools 66.1.1, wheel 0.38.4');
    const cell = view.releases.find((r) => r.version === '1.0')?.cells.find((c) => c.abi === 'cp311');
    assert.equal(cell?.title, "Build failed: the package's own error");
    // a transient failure says when it is tried again
    data.builds[13]!.failure = { kind: 'upstream', attempt: 2, retryAt: new Date('2026-12-01T10:00:00Z'), missing: null, debianPackage: null };
    const again = projectView(data);
    assert.equal(again.failures[0]?.retryAt, '2026-12-01 10:00:00');
    assert.match(again.releases.find((r) => r.version === '1.0')?.cells.find((c) => c.abi === 'cp311')?.title ?? '', /not \(yet\) served.*retry at 2026-12-01 10:00:00 UTC/);
    const html = failureSection(projectView(sampleProject()));
    assert.match(html, /<code class="debian-package">libzstd-dev<\/code>/);
    assert.match(html, /Reproduce<\/dt><dd><code class="reproduce">env LC_ALL=C\.UTF-8 python3 -m pip wheel &#39;sample-pkg==1\.0&#39;|Reproduce<\/dt><dd><code class="reproduce">env LC_ALL=C\.UTF-8 python3 -m pip wheel 'sample-pkg==1\.0'/);
    assert.equal(failureSection(projectView(otherProject('quiet'))), '', 'no failures, no section');
  });

  test('ABIs ordered by OS release, unknown ones after', () => {
    const data = sampleProject();
    data.releases[0]!.abis.cp312 = { status: 'pending', buildId: null };
    assert.deepEqual(projectAbis(data), ['cp39', 'cp311', 'cp312']);
    assert.deepEqual(targetLabel('cp311'), { os: 'Bookworm', python: 'Python 3.11', platform: '' });
    assert.deepEqual(targetLabel('cp312'), { os: 'cp312', python: 'Python 3.12', platform: '' });
    assert.deepEqual(targetLabel('cp311-linux_aarch64'), { os: 'Bookworm', python: 'Python 3.11', platform: '64-bit (aarch64)' });
    assert.deepEqual(targetLabel('cp311-linux_armv7l'), { os: 'Bookworm', python: 'Python 3.11', platform: '32-bit (armv7l)' });
    assert.deepEqual(targetLabel('cp313-linux_x86_64'), { os: 'Trixie', python: 'Python 3.13', platform: 'x86_64' });
  });

  test('install hint from the newest stable, unyanked release with a wheel', () => {
    const view = projectView(sampleProject());
    assert.equal(view.installVersion, '1.0');
    assert.deepEqual(view.aptDependencies, ['libatlas3-base', 'libopenjp2-7']);
    assert.deepEqual(view.pipDependencies, ['numpy']);
    assert.equal(view.fileCount, 3);
  });

  test('status cells link to logs only when a build exists', () => {
    const view = projectView(sampleProject());
    const pre = view.releases[0]!;
    assert.deepEqual(pre.cells.map((c) => [c.abi, c.status, c.logUrl]), [
      ['cp39', 'pending', null],
      ['cp311', 'success', '/logs/0000/0012/3456.txt.gz'],
    ]);
    const skipped = view.releases[3]!;
    assert.equal(skipped.cells[0]?.title, 'Skipped: binary only');
  });

  test('a project with no releases has no install version', () => {
    const view = projectView({ ...sampleProject(), releases: [] });
    assert.equal(view.installVersion, null);
    assert.deepEqual(view.abis, []);
  });

  test('version anchors are id-safe', () => {
    assert.equal(versionAnchor('1.0+local/x'), 'v1.0_local_x');
  });
});

describe("upstream's part", () => {
  const HASH = (c: string): string => c.repeat(64);
  /** The sample with its 1.0 release built on cp311 into a file withheld for clashing, and 1.1 served upstream on cp39. */
  function withUpstream() {
    const data = sampleProject();
    const v10 = data.releases[2]!;
    v10.abis.cp311 = { status: 'upstream', buildId: 13 };
    v10.withheld = [{ filename: 'sample_pkg-1.0-py3-none-any.whl', hash: HASH('1'), upstreamHash: HASH('2'), buildId: 13, abiBuilder: 'cp311' }];
    const v11 = data.releases[1]!;
    v11.abis.cp39 = { status: 'upstream', buildId: null };
    v11.servedUpstream = [{ abi: 'cp39', platform: 'linux_armv7l', filename: 'sample_pkg-1.1-py3-none-any.whl' }];
    return data;
  }

  test('status cells say what upstream serves, with the build log when there was a build', () => {
    const view = projectView(withUpstream());
    const clash = view.releases[2]!.cells.find((c) => c.abi === 'cp311');
    assert.deepEqual(clash, {
      abi: 'cp311',
      status: 'upstream',
      title: 'Built, not published: PyPI serves sample_pkg-1.0-py3-none-any.whl with other bytes',
      logUrl: '/logs/0000/0000/0013.txt.gz',
    });
    const served = view.releases[1]!.cells.find((c) => c.abi === 'cp39');
    assert.deepEqual(served, { abi: 'cp39', status: 'upstream', title: 'Served by PyPI: sample_pkg-1.1-py3-none-any.whl', logUrl: null });
    assert.match(releaseRows(view), /class="st st-upstream" title="Served by PyPI: sample_pkg-1\.1-py3-none-any\.whl"/);
    const sections = fileSections(view);
    assert.match(sections, /<li class="withheld"><span class="wheel">sample_pkg-1\.0-py3-none-any\.whl<\/span>/);
    assert.ok(!sections.includes('href="/simple/sample-pkg/sample_pkg-1.0-py3-none-any.whl'), 'a withheld file is never linked');
  });

  test('the project JSON lists withheld files and served targets; the index never lists a withheld file', () => {
    const data = withUpstream();
    const json = projectJsonSchema.parse(projectJson(data, DEFAULT_SITE));
    assert.deepEqual(json.releases['1.0']?.withheld_files, [
      { filename: 'sample_pkg-1.0-py3-none-any.whl', filehash: HASH('1'), upstream_filehash: HASH('2'), builder_abi: 'cp311', build_id: 13 },
    ]);
    const cell = json.releases['1.0']?.abis.cp311;
    assert.deepEqual([cell?.status, cell?.build_id, cell?.log_url], ['upstream', 13, '/logs/0000/0000/0013.txt.gz']);
    assert.deepEqual(json.releases['1.1']?.served_by_upstream, [{ abi: 'cp39', platform: 'linux_armv7l', filename: 'sample_pkg-1.1-py3-none-any.whl' }]);
    assert.deepEqual(json.releases['2.0rc1']?.withheld_files, []);
    assert.ok(simpleFiles(data).every((f) => f.filename !== 'sample_pkg-1.0-py3-none-any.whl'));
  });

  test('a package with no published file says why the index leaves it out', () => {
    assert.equal(unpublishedReason(sampleProject()), null, 'it has files');
    const none = sampleProject();
    for (const release of none.releases) release.files = {};
    none.releases[0]!.abis.cp311 = { status: 'fail', buildId: 1 };
    none.releases[1]!.abis.cp39 = { status: 'upstream', buildId: null };
    const reason = unpublishedReason(none) ?? '';
    assert.match(reason, /^No file of this package is published here, so the index does not list it and pip looks for it on PyPI: /);
    assert.match(reason, /PyPI serves wheels of it that install here/);
    assert.match(reason, /its builds failed/);
    assert.match(reason, /some builds are still to come/);
    assert.equal(projectView(none).unpublished, reason);
    assert.match(unpublishedReason({ ...none, releases: [] }) ?? '', /it has no releases yet/);
    assert.match(unpublishedReason({ ...none, skip: 'deleted' }) ?? '', /it is not built here \(deleted\)/);
  });
});

describe('search index, sitemaps, robots', () => {
  test('packages.json rows keep piwheels positions and add the summary', () => {
    assert.deepEqual(searchIndexRows([{ package: 'numpy', description: 'arrays', downloadsRecent: 3, downloadsAll: 9 }]), [['numpy', 3, 9, 'arrays']]);
  });

  test('sitemap index lists static pages and one file per chunk of projects', () => {
    const files = sitemaps(['a', 'b', 'c', 'd', 'e'], DEFAULT_SITE, new Date('2026-11-25T12:00:00Z'), 2);
    assert.deepEqual([...files.keys()], ['sitemap0.xml', 'sitemap1.xml', 'sitemap2.xml', 'sitemap3.xml', 'sitemap.xml']);
    assert.match(files.get('sitemap0.xml') ?? '', /<loc>http:\/\/localhost\/faq\.html<\/loc>/);
    assert.equal((files.get('sitemap3.xml') ?? '').match(/<url>/g)?.length, 1);
    const index = files.get('sitemap.xml') ?? '';
    assert.equal(index.match(/<sitemap>/g)?.length, 4);
    assert.match(index, /<lastmod>2026-11-25<\/lastmod>/);
  });

  test('sitemap of an empty farm still has the static pages', () => {
    assert.deepEqual([...sitemaps([], DEFAULT_SITE, new Date()).keys()], ['sitemap0.xml', 'sitemap.xml']);
  });

  test('robots.txt points at the sitemap', () => {
    assert.match(robotsTxt({ ...DEFAULT_SITE, baseUrl: 'https://w.example' }), /^Sitemap: https:\/\/w\.example\/sitemap\.xml$/m);
  });
});

describe('wheel versions', () => {
  test('matches escaped and PEP 440-equal spellings only', () => {
    assert.ok(wheelIsVersion('foo-1.0-py3-none-any.whl', '1.0'));
    assert.ok(wheelIsVersion('foo-1.0.post1-py3-none-any.whl', '1.0-1'));
    assert.ok(wheelIsVersion('foo-1.0_a-py3-none-any.whl', '1.0-a'));
    assert.ok(!wheelIsVersion('foo-1.0.1-py3-none-any.whl', '1.0'));
    assert.ok(!wheelIsVersion('not-a-wheel.txt', '1.0'));
  });
});
