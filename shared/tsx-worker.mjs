// Where a worker thread starts when the code runs from the TypeScript sources
// (tests and benchmarks, under tsx): Node 20 does not carry the parent's
// loader into worker threads, so this registers tsx and then loads the module
// named by the last argument. The compiled tree never comes here.
import { register } from 'tsx/esm/api';

register();
await import(process.argv[process.argv.length - 1]);
