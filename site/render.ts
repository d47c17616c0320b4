// Entry point of the site bundle: renders each page component in-process
// through Astro's container API, so one package's pages can be rewritten
// without running a whole `astro build`.
import { experimental_AstroContainer as AstroContainer } from 'astro/container';
import SimplePackage from './components/SimplePackage.astro';
import SimpleIndex from './components/SimpleIndex.astro';
import ProjectPage from './components/ProjectPage.astro';
import HomePage from './components/HomePage.astro';
import StatsPage from './components/StatsPage.astro';
import FaqPage from './components/FaqPage.astro';
import JsonPage from './components/JsonPage.astro';
import PackagesPage from './components/PackagesPage.astro';
import NotFoundPage from './components/NotFoundPage.astro';
import type { SiteRenderer, StaticPage } from './lib/renderer.ts';

type Component = Parameters<AstroContainer['renderToString']>[0];

// The container records a route for every render and never forgets it, which
// slows each later render; a fresh container every so often keeps it flat.
const RENDERS_PER_CONTAINER = 500;

const STATIC: Record<StaticPage, Component> = {
  faq: FaqPage,
  json: JsonPage,
  packages: PackagesPage,
  '404': NotFoundPage,
};

export async function createRenderer(): Promise<SiteRenderer> {
  let container = await AstroContainer.create();
  // Pages do not look at the request; building one per render costs more
  // than rendering a small page.
  const request = new Request('http://localhost/');
  let renders = 0;
  async function render(component: Component, props: Record<string, unknown>): Promise<string> {
    if (renders >= RENDERS_PER_CONTAINER) {
      container = await AstroContainer.create();
      renders = 0;
    }
    renders += 1;
    return container.renderToString(component, { props, partial: false, request });
  }
  return {
    simplePackage: (pkg, files, generated) => render(SimplePackage, { package: pkg, files, generated }),
    simpleIndex: (packages, generated) => render(SimpleIndex, { packages, generated }),
    project: (view, site, generated) => render(ProjectPage, { view, site, generated }),
    home: (stats, site, generated) => render(HomePage, { stats, site, generated }),
    stats: (stats, site, generated) => render(StatsPage, { stats, site, generated }),
    staticPage: (page, site) => render(STATIC[page], { site }),
  };
}
