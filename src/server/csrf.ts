import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import type { Plugin } from 'graphql-yoga';

/**
 * CSRF prevention that lets GET through (ADR 15). A POST whose content type a browser may
 * send cross-site without a preflight (form encodings, `text/plain`, none) still needs the
 * `x-graphql-yoga-csrf` header, as yoga's plugin asks. A GET does not: yoga refuses a
 * mutation over GET (405) whatever the headers, so a GET can only read or subscribe, and
 * a browser on another site cannot attach the token to it without a preflight (no cookies
 * are read), so what it can start runs as anonymous. urql sends its queries as GET.
 */
export function useCsrfPreventionExceptGet(): Plugin {
  const { onRequestParse } = useCSRFPrevention();
  return {
    onRequestParse(payload) {
      if (payload.request.method === 'GET') return;
      return onRequestParse?.(payload);
    },
  };
}
