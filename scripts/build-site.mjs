// The second step of npm run build: the site renderer (dist/renderer/), which
// the coordinator would otherwise compile with Vite on its first start.
// Nothing happens when the bundle of the current site sources is there.
const { loadSiteRenderer } = await import('../dist/coordinator/pages/site-bundle.js');
await loadSiteRenderer();
