import type { CABundle, CABundleProvider } from './interfaces.js';

/**
 * Go's `unionCAContent` as a provider: the members' trimmed bundles joined by newlines, in order (client CA first,
 * then the front-proxy CA, for the TLS acceptable-CA hint). `undefined` while no member has content; the version
 * changes whenever the joined PEM does. `addListener` forwards to every member.
 */
export function unionCABundle(name: string, members: readonly (CABundleProvider | undefined)[]): CABundleProvider {
  const providers = members.filter((p): p is CABundleProvider => p !== undefined);
  let last: CABundle | undefined;
  return {
    name,
    current() {
      const loaded = providers.map((p) => p.current()).filter((b): b is CABundle => b !== undefined);
      const pem = loaded
        .map((b) => b.pem.trim())
        .filter((p) => p !== '')
        .join('\n');
      if (pem === '') return undefined;
      if (last?.pem !== pem) {
        last = Object.freeze({
          pem,
          certificates: loaded.flatMap((b) => b.certificates),
          version: (last?.version ?? 0) + 1,
        });
      }
      return last;
    },
    addListener(listener) {
      const unsubscribe = providers.map((p) => p.addListener(listener));
      return () => {
        for (const u of unsubscribe) u();
      };
    },
  };
}
