// Package names and versions: the two comparisons every part of the farm
// shares. Names follow PEP 503 normalisation; versions follow PEP 440 ordering
// through @renovatebot/pep440, with a stable fallback for the non-PEP 440
// strings that old PyPI releases still carry.
import { compare as pep440Compare, explain, valid } from '@renovatebot/pep440';

/** PEP 503: lower-case, runs of `-`, `_` and `.` become a single `-`. */
export function canonicalizeName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

/** A project name as PyPI accepts it (PEP 508 identifier). */
export function isValidProjectName(name: string): boolean {
  return /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i.test(name);
}

export function isValidVersion(version: string): boolean {
  return valid(version) !== null;
}

/**
 * Orders two version strings: PEP 440 versions by PEP 440; a legacy
 * (non-PEP 440) version sorts before every valid one, as pip treats them, and
 * legacy versions among themselves by text.
 */
export function compareVersions(a: string, b: string): number {
  const va = valid(a) !== null;
  const vb = valid(b) !== null;
  if (va && vb) return pep440Compare(a, b);
  if (va !== vb) return va ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** True for dev and pre-releases (PEP 440); legacy versions are not. */
export function isPrerelease(version: string): boolean {
  const parts = explain(version);
  return parts !== null && (parts.is_prerelease || parts.is_devrelease);
}
