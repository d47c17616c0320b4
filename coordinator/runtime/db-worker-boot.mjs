// Worker-thread entry: TypeScript needs the tsx loader registered in each
// worker before the real module is imported.
import { register } from 'tsx/esm/api';
register();
await import('./db-worker.ts');
