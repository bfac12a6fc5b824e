// Moved to lib/util/go-quote.ts (a string utility: importing it from lib/http made lib/authz point up a layer).
// TODO(restructure): remove once lib/http/status.ts and spec/fuzz import lib/util/go-quote.js directly.
export { goQuote, htmlEscape } from '../util/go-quote.js';
