// The farm's identity, configured once: the address it is published at (for
// canonical links, sitemaps and the JSON API), its name and who runs it. Read
// from flags, PIW_BASE_URL / PIW_SITE_NAME / PIW_SITE_CONTACT and the [site]
// table of the configuration file, by every program that writes pages.
import { hostname } from 'node:os';
import { z } from 'zod';
import { loadConfig } from './config.ts';

export interface SiteOptions {
  /** Scheme and host (and path prefix), no trailing slash: "https://wheels.example.org". */
  baseUrl: string;
  /** The farm's name, in page titles and the header. */
  name: string;
  /** Who runs the farm (an email address or a URL), in the footer; null shows none. */
  contact: string | null;
}

export const siteOptionsSchema = z.object({
  baseUrl: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).transform((url) => url.replace(/\/+$/, '')),
  name: z.string().trim().min(1).default('piwheels'),
  contact: z.string().trim().min(1).nullable().default(null),
});

const settingsSchema = z.object({
  baseUrl: siteOptionsSchema.shape.baseUrl,
  siteName: siteOptionsSchema.shape.name,
  siteContact: z.string().trim().min(1).optional(),
});

export interface SiteFlags {
  baseUrl?: string | undefined;
  siteName?: string | undefined;
  siteContact?: string | undefined;
}

/** This machine's own address: what a farm publishes when told nothing else. */
export function defaultBaseUrl(): string {
  return `http://${hostname()}`;
}

/**
 * The site settings: flags over PIW_* over the file's [site] table
 * (`base-url`, `name`, `contact`) over `fallbackBaseUrl`.
 */
export function loadSiteOptions(sources: {
  flags?: SiteFlags;
  env?: Record<string, string | undefined>;
  file?: string | undefined;
  defaultFiles?: string[];
  fallbackBaseUrl?: string;
}): SiteOptions {
  const settings = loadConfig(settingsSchema.extend({ baseUrl: settingsSchema.shape.baseUrl.default(sources.fallbackBaseUrl ?? defaultBaseUrl()) }), {
    flags: { ...sources.flags },
    env: sources.env,
    file: sources.file,
    defaultFiles: sources.defaultFiles,
    section: 'site',
    sectionOnly: true,
    fileKeys: { name: 'siteName', contact: 'siteContact' },
  });
  return { baseUrl: settings.baseUrl, name: settings.siteName, contact: settings.siteContact ?? null };
}
