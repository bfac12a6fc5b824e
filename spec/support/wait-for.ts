// The specs' waiting helper. It lives in harness/wait-for.ts because the harness waits the same way and harness/ does
// not import spec/; specs import it from here.
export { waitFor, type WaitForOptions } from '../../harness/wait-for.js';
