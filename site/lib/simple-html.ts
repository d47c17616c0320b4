// The link lists of the simple pages, written as text: a root index holds
// one link per project (hundreds of thousands), which is far cheaper to join
// as strings than to render as that many components.
import { escapeHtml } from './format.ts';
import type { SimpleFile } from './views.ts';

export function simpleLinks(files: readonly SimpleFile[]): string {
  return files
    .map((f) => {
      let attrs = `href="${escapeHtml(f.url)}#sha256=${f.sha256}"`;
      if (f.requiresPython) attrs += ` data-requires-python="${escapeHtml(f.requiresPython)}"`;
      if (f.yanked) attrs += ' data-yanked=""';
      if (f.metadataSha256) {
        attrs += ` data-core-metadata="sha256=${f.metadataSha256}" data-dist-info-metadata="sha256=${f.metadataSha256}"`;
      }
      return `<a ${attrs}>${escapeHtml(f.filename)}</a><br>\n`;
    })
    .join('');
}

export function simpleIndexLinks(packages: readonly string[]): string {
  return packages.map((pkg) => `<a href="${escapeHtml(pkg)}/">${escapeHtml(pkg)}</a><br>\n`).join('');
}
