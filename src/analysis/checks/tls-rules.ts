import { failureOf, SessionView } from './context.js';
import { SPECIFIC, type Finding, type Rule } from './types.js';

// Forward mode's TLS faults, on either side of mcptap: the real host's certificate refused (the client got a 502
// naming it), or the client refusing mcptap's own certificate (it does not trust mcptap's CA).

const WHY: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'it is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'its chain ends in a self-signed CA nobody here trusts',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'it was issued by a CA nobody here trusts',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'it was issued by a CA nobody here trusts',
  CERT_HAS_EXPIRED: 'it has expired',
  CERT_NOT_YET_VALID: 'it is not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'it is for another name',
};

export const upstreamTls: Rule = {
  id: 'upstream-tls',
  description: 'Forward mode: the real host\'s TLS certificate was refused (self-signed, expired, another name, unknown CA); the client got 502.',
  cause: 'reachability',
  confidence: SPECIFIC.certain,
  check(input) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    for (const e of input.exchanges) {
      const f = failureOf(e, 'upstream-tls');
      if (!f) continue;
      const why = WHY[f.code] ?? `of ${f.code}`;
      out.push(v.finding('upstream-tls', 'error',
        `${e.method} ${v.path(e)}: the certificate of ${f.host} was refused: ${why} (${f.code})`,
        { exchangeIds: [e.id], messageSeqs: v.seqsOf(e.id) },
        `mcptap checks the real host's certificate as Node does (its CAs, NODE_EXTRA_CA_CERTS, --upstream-ca) and will not hide a bad one behind its own. The certificate: subject ${f.subject || '?'}, issuer ${f.issuer || '?'}, valid ${f.validFrom || '?'} to ${f.validTo || '?'}. The client got 502 with x-mcptap-error: upstream-tls.`,
        f.code === 'ERR_TLS_CERT_ALTNAME_INVALID' || /EXPIRED|NOT_YET_VALID/.test(f.code)
          ? `Fix the server's certificate (the name it is used under, and its dates); a client going to it directly fails the same way.`
          : `If the server is yours (an internal CA, a self-signed test server), give its CA to mcptap: mcptap proxy --forward --upstream-ca CA.pem (and to the client, which checks it too when mcptap is not in between).`));
    }
    return out;
  },
};

export const clientTlsRefused: Rule = {
  id: 'client-tls-refused',
  description: 'Forward mode: the client did not complete TLS with mcptap\'s certificate (it does not trust mcptap\'s CA).',
  cause: 'access',
  confidence: SPECIFIC.certain,
  check(input) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    for (const e of input.exchanges) {
      const f = failureOf(e, 'client-tls-refused');
      if (!f) continue;
      out.push(v.finding('client-tls-refused', 'error',
        `CONNECT ${e.url}: the client refused mcptap's certificate for ${f.host}`,
        { exchangeIds: [e.id] },
        `mcptap intercepts ${f.host} and answered the client's TLS handshake with a certificate from its own CA; the client broke the handshake off (${f.detail}). Nothing was sent to ${f.host}.`,
        `Start the client with NODE_EXTRA_CA_CERTS pointing at mcptap's CA (mcptap claude env --forward prints the lines; mcptap ca shows the file), or let the host through untouched: --passthrough ${f.host}.`));
    }
    return out;
  },
};
