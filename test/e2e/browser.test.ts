// The site in a real browser (Debian's Chromium, headless): search finds a
// package by part of its name and opens its project page; screenshots of the
// project page go to test-artifacts/ for a human look.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { Scribe } from '../../coordinator/pages/scribe.ts';
import { REPO_ROOT } from '../../coordinator/pages/site-bundle.ts';
import { FixtureDatabase, otherProject, sampleProject, sampleStats, tempDir } from '../helpers/site-fixture.ts';
import { startNginx, type Nginx } from '../helpers/nginx.ts';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe('the site in a browser', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let nginx: Nginx;
  let browser: Browser;
  const artifacts = join(REPO_ROOT, 'test-artifacts');

  before(async () => {
    dir = await tempDir('browser');
    const www = join(dir.path, 'www');
    const db = new FixtureDatabase([sampleProject(), otherProject('numpy', 'Fundamental package for array computing'), otherProject('sampler'), otherProject('unrelated')]);
    const scribe = await Scribe.create({ output: www, db });
    await scribe.writeStaticPages();
    for (const pkg of await db.getAllPackages()) await scribe.handle({ kind: 'BOTH', package: pkg });
    await scribe.handle({ kind: 'SEARCH', entries: await db.getSearchIndex() });
    await scribe.handle({ kind: 'HOME', stats: sampleStats });
    await mkdir(join(dir.path, 'nginx'));
    nginx = await startNginx(www, join(dir.path, 'nginx'));
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    await mkdir(artifacts, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await nginx?.stop();
    await dir.cleanup();
  });

  test('search by part of a name, then open the project page', async () => {
    const page = await browser.newPage();
    const external: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith(nginx.base)) external.push(req.url());
    });
    await page.goto(`${nginx.base}/packages.html`);
    const input = page.locator('#q');
    await input.waitFor({ state: 'visible' });
    await page.locator('#q:enabled').waitFor();
    await input.fill('MPLE_p');
    await page.locator('#results li').first().waitFor();
    const names = await page.locator('#results li a').allTextContents();
    assert.deepEqual(names, ['sample-pkg']);
    assert.match(await page.locator('#status').textContent() ?? '', /1 match/);
    await input.fill('sampl');
    await page.locator('#results li:nth-child(2)').waitFor();
    await page.locator('#status', { hasText: '2 matches' }).waitFor();
    assert.deepEqual(await page.locator('#results li a').allTextContents(), ['sample-pkg', 'sampler']);
    await page.screenshot({ path: join(artifacts, 'search-page.png') });
    await input.fill('zzzz');
    await page.locator('#status', { hasText: 'No package matches.' }).waitFor();
    assert.equal(await page.locator('#results li').count(), 0);
    await input.fill('sample-pkg');
    await page.locator('#results li a', { hasText: 'sample-pkg' }).click();
    await page.waitForURL(`${nginx.base}/project/sample-pkg/`);
    assert.equal(await page.locator('h1#package').textContent(), 'Sample_Pkg');
    assert.equal(await page.locator('table.releases tbody tr').count(), 4);
    await page.screenshot({ path: join(artifacts, 'project-page.png'), fullPage: true });
    assert.deepEqual(external, []);
    await page.close();
  });

  test('the project page reads on a phone without sideways scrolling of the page', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    await page.goto(`${nginx.base}/project/sample-pkg/`);
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.equal(overflow, 0);
    await page.screenshot({ path: join(artifacts, 'project-page-phone.png'), fullPage: true });
    await page.close();
  });

  test('pages work without JavaScript, and search says what to do instead', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${nginx.base}/project/sample-pkg/`);
    assert.equal(await page.locator('#downloads-all').textContent(), '98,765');
    await page.locator('details#v1\\.1 summary').click();
    assert.equal(await page.locator('details#v1\\.1').getAttribute('open'), '');
    await page.goto(`${nginx.base}/packages.html`);
    assert.match(await page.locator('noscript').textContent() ?? '', /simple index/);
    await page.goto(`${nginx.base}/`);
    assert.equal(await page.locator('#stat-packages').textContent(), '2');
    await page.screenshot({ path: join(artifacts, 'home-page.png'), fullPage: true });
    await context.close();
  });
});
