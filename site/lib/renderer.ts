// The contract between the compiled site bundle (site/render.ts, built by
// Vite with Astro's compiler) and the scribe that loads it in-process.
import type { FarmStatistics } from '../../shared/model.ts';
import type { ProjectView, SimpleFile, SiteOptions } from './views.ts';

export type StaticPage = 'faq' | 'json' | 'packages' | '404';

export interface SiteRenderer {
  simplePackage(pkg: string, files: SimpleFile[], generated: string): Promise<string>;
  simpleIndex(packages: readonly string[], generated: string): Promise<string>;
  project(view: ProjectView, site: SiteOptions, generated: string): Promise<string>;
  home(stats: FarmStatistics, site: SiteOptions, generated: string): Promise<string>;
  stats(stats: FarmStatistics, site: SiteOptions, generated: string): Promise<string>;
  staticPage(page: StaticPage, site: SiteOptions): Promise<string>;
}
