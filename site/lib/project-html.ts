// The repeated parts of a project page (a row per release, a file list per
// release) as text. A popular project has hundreds of releases; joining
// strings here is an order of magnitude cheaper than rendering each cell as
// a template expression, and keeps a page rewrite within a few milliseconds.
import { escapeHtml as e } from './format.ts';
import type { EnvironmentView, ProjectView, ReleaseRow, StatusCell } from './views.ts';

export const STATUS_SYMBOLS: Record<StatusCell['status'], string> = {
  success: '\u2713',
  fail: '\u2717',
  pending: '\u2026',
  skip: '\u2013',
  upstream: '\u2197',
  none: '',
};

function badges(r: ReleaseRow, withSkip: boolean): string {
  let out = '';
  if (r.prerelease) out += ' <span class="badge pre">pre-release</span>';
  if (r.yanked) out += ' <span class="badge yank">yanked</span>';
  if (withSkip && r.skip) out += ` <span class="badge skip" title="${e(r.skip)}">skipped</span>`;
  return out;
}

function cell(c: StatusCell): string {
  const symbol = STATUS_SYMBOLS[c.status];
  const inner = c.logUrl
    ? `<a href="${e(c.logUrl)}" aria-label="${e(c.title)} (build log)">${symbol}</a>`
    : `<span aria-label="${e(c.title)}">${symbol}</span>`;
  return `<td class="st st-${c.status}" title="${e(c.title)}">${inner}</td>`;
}

/** The `<tr>` rows of the releases table. */
export function releaseRows(view: ProjectView): string {
  return view.releases
    .map((r) => {
      const files = r.files.length > 0 ? `<a href="#${e(r.anchor)}">${r.files.length}</a>` : '\u2013';
      return (
        `<tr class="release${r.yanked ? ' yanked' : ''}">` +
        `<th scope="row"><span class="v">${e(r.version)}</span>${badges(r, true)}</th>` +
        `<td class="date"><time datetime="${e(r.dateTime)}" title="${e(r.dateTime)}">${e(r.date)}</time></td>` +
        r.cells.map(cell).join('') +
        `<td>${files}</td></tr>\n`
      );
    })
    .join('');
}

function withheldItems(r: ReleaseRow): string {
  return r.withheld
    .map(
      (w) =>
        `<li class="withheld"><span class="wheel">${e(w.filename)}</span> <span class="badge yank">not published</span>` +
        '<dl class="meta">' +
        `<dt>Why</dt><dd>PyPI serves a file of this name with other bytes; pip takes PyPI's</dd>` +
        `<dt>SHA-256</dt><dd><code class="hash">${e(w.sha256)}</code> (built here)</dd>` +
        `<dt>PyPI's</dt><dd><code class="hash">${e(w.upstreamSha256)}</code></dd>` +
        '</dl></li>\n',
    )
    .join('');
}

/** A `<details>` block per release with files (or files withheld), the newest open. */
export function fileSections(view: ProjectView): string {
  const pkg = e(view.package);
  return view.releases
    .filter((r) => r.files.length > 0 || r.withheld.length > 0)
    .map((r, i) => {
      const items = r.files
        .map((f) => {
          const apt = f.aptDependencies.length > 0 ? `sudo apt install ${e(f.aptDependencies.join(' '))} &amp;&amp; ` : '';
          return (
            `<li><a class="wheel" href="${e(f.url)}#sha256=${e(f.sha256)}">${e(f.filename)}</a>` +
            '<dl class="meta">' +
            `<dt>Size</dt><dd>${e(f.size)}</dd>` +
            `<dt>ABI</dt><dd>${e(f.abi)} / ${e(f.platform)}</dd>` +
            `<dt>Requires-Python</dt><dd>${f.requiresPython === null ? 'any' : e(f.requiresPython)}</dd>` +
            `<dt>SHA-256</dt><dd><code class="hash">${e(f.sha256)}</code></dd>` +
            `<dt>Install</dt><dd><code>${apt}pip3 install ${pkg}==${e(r.version)}</code></dd>` +
            environmentItems(f.environment) +
            '</dl></li>\n'
          );
        })
        .join('');
      const count = `${r.files.length} ${r.files.length === 1 ? 'file' : 'files'}`;
      return (
        `<details id="${e(r.anchor)}" class="files"${i === 0 ? ' open' : ''}>` +
        `<summary><strong>${e(r.version)}</strong>${badges(r, false)} <span class="count">${count}</span></summary>\n` +
        `<ul>\n${items}${withheldItems(r)}</ul></details>\n`
      );
    })
    .join('');
}

/** The builder's environment as `<dt>`/`<dd>` pairs ('' when not known). */
function environmentItems(env: EnvironmentView | null): string {
  if (env === null) return '';
  return (
    `<dt>Built on</dt><dd>${e(env.os)}, Python ${e(env.python)}${env.tools === '' ? '' : `, ${e(env.tools)}`}</dd>` +
    (env.dpkgDigest === null ? '' : `<dt>Debian packages</dt><dd><code class="hash">${e(env.dpkgDigest)}</code></dd>`) +
    `<dt>Reproduce</dt><dd><code class="reproduce">${e(env.reproduce)}</code></dd>`
  );
}

/** The failed builds explained: kind, next try, the missing dependency and its Debian package, the builder. */
export function failureSection(view: ProjectView): string {
  if (view.failures.length === 0) return '';
  const items = view.failures
    .map((f) => {
      const retry = f.retryAt === null ? 'not retried automatically' : `tried again at <time datetime="${e(f.retryAt)} UTC">${e(f.retryAt)} UTC</time>`;
      const missing =
        f.missing === null
          ? ''
          : `<dt>Missing</dt><dd><code>${e(f.missing)}</code>${
              f.debianPackage === null ? '' : `: provided by the Debian package <code class="debian-package">${e(f.debianPackage)}</code>`
            }</dd>`;
      return (
        `<li class="failure" data-version="${e(f.version)}" data-abi="${e(f.abi)}" data-kind="${e(f.kind)}">` +
        `<strong>${e(f.version)}</strong> on ${e(f.abi)}: ${e(f.kindTitle)} (<a href="${e(f.logUrl)}">log</a>)` +
        '<dl class="meta">' +
        `<dt>Try</dt><dd>${f.attempt}, ${retry}</dd>` +
        missing +
        environmentItems(f.environment) +
        '</dl></li>\n'
      );
    })
    .join('');
  return `<h2 id="failures">Failed builds</h2>\n<ul class="failures">\n${items}</ul>\n`;
}
