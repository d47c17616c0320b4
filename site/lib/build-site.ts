// The site settings of a data-free `astro build` (no PIW_DSN): only the
// environment is read here; a build from the database gets its settings from
// the integration in astro.config.mjs instead.
import { DEFAULT_SITE, type SiteOptions } from './views.ts';

const env = (name: string): string | undefined => (process.env[name] === '' ? undefined : process.env[name]);

export const buildSite: SiteOptions = {
  baseUrl: (env('PIW_BASE_URL') ?? DEFAULT_SITE.baseUrl).replace(/\/+$/, ''),
  name: env('PIW_SITE_NAME') ?? DEFAULT_SITE.name,
  contact: env('PIW_SITE_CONTACT') ?? null,
};
