import crypto, { webcrypto } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
// @peculiar/x509's dependency injection (tsyringe) needs the Reflect metadata API.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
// @peculiar/x509's own ASN.1 schemas (its dependencies): it has no class for the name constraints extension.
import { AsnConvert } from '@peculiar/asn1-schema';
import { GeneralName, GeneralSubtree, GeneralSubtrees, NameConstraints, id_ce_nameConstraints } from '@peculiar/asn1-x509';
import { caFiles, type CaFiles } from './ca-files.js';

// mcptap's own certificate authority for forward mode: made on first use in ~/.mcptap/ca/ (the key mode 0600,
// never written anywhere else), valid ten years; leaf certificates for the hosts a client CONNECTs to are made on
// demand, share one key pair (as mockttp's do: one key generation per process, not per host) and are cached.
// On request (`mcptap ca --reset --constrain HOST…`) the CA is name-constrained (RFC 5280 §4.2.1.10, critical):
// clients that check constraints (Node/OpenSSL, Go, browsers) accept its leaves only for the names it lists.

type CryptoKeyPair = webcrypto.CryptoKeyPair;
type CryptoKey = webcrypto.CryptoKey;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
x509.cryptoProvider.set(webcrypto as any);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const CA_NAME = 'CN=mcptap local CA (forward mode),O=mcptap';
const TEN_YEARS_MS = 10 * 365.25 * 24 * 3600 * 1000;
/** Leaves expire well inside the CA's life and within the 398 days browsers and some clients accept. */
const LEAF_DAYS = 397;

const subtle = () => webcrypto.subtle;

function keyPem(der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

function pemDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

async function newKeys(): Promise<CryptoKeyPair> {
  return subtle().generateKey(ALG, true, ['sign', 'verify']);
}

/** Writes a file readable by its owner only, atomically (a half-written key must never be read back). */
function writePrivate(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

/**
 * The names a name-constrained CA may sign for, as OpenSSL reads them: a DNS name covers itself and its
 * subdomains, `.example.com` the subdomains only, '' every name; addresses are CIDR blocks (`127.0.0.1/32`).
 */
export interface CaConstraints {
  permittedDns: string[];
  permittedIps: string[];
  excludedDns: string[];
  excludedIps: string[];
}

/**
 * The extension for hosts as `--intercept` takes them (`*.example.com`: the subdomains). A form no constraint
 * mentions is not restricted at all, so with no address among the hosts every address is excluded, and with
 * no name every name.
 */
function nameConstraintsExtension(hosts: string[]): x509.Extension {
  const sub = (base: GeneralName) => new GeneralSubtree({ base });
  const dns = hosts.filter((h) => !net.isIP(h)).map((h) => (h.startsWith('*.') ? h.slice(1) : h).toLowerCase());
  const ips = hosts.filter((h) => net.isIP(h)).map((h) => `${h}/${net.isIPv4(h) ? 32 : 128}`);
  const permitted = [...dns.map((d) => sub(new GeneralName({ dNSName: d }))), ...ips.map((ip) => sub(new GeneralName({ iPAddress: ip })))];
  const excluded = [
    ...(dns.length ? [] : [sub(new GeneralName({ dNSName: '' }))]),
    ...(ips.length ? [] : ['0.0.0.0/0', '::/0'].map((ip) => sub(new GeneralName({ iPAddress: ip })))),
  ];
  const nc = new NameConstraints({ permittedSubtrees: new GeneralSubtrees(permitted), ...(excluded.length ? { excludedSubtrees: new GeneralSubtrees(excluded) } : {}) });
  return new x509.Extension(id_ce_nameConstraints, true, AsnConvert.serialize(nc));
}

/** The CA's name constraints, or null when it may sign for any name. */
export function caConstraints(cert: x509.X509Certificate): CaConstraints | null {
  const ext = cert.getExtension(id_ce_nameConstraints);
  if (!ext) return null;
  const nc = AsnConvert.parse(ext.value, NameConstraints);
  const of = (s: GeneralSubtrees | undefined, form: 'dNSName' | 'iPAddress') => [...(s ?? [])].flatMap((t) => (t.base[form] != null ? [String(t.base[form]).toLowerCase()] : []));
  return { permittedDns: of(nc.permittedSubtrees, 'dNSName'), permittedIps: of(nc.permittedSubtrees, 'iPAddress'), excludedDns: of(nc.excludedSubtrees, 'dNSName'), excludedIps: of(nc.excludedSubtrees, 'iPAddress') };
}

const dnsWithin = (host: string, base: string) => base === '' || (base.startsWith('.') ? host.endsWith(base) : host === base || host.endsWith('.' + base));

function ipWithin(host: string, cidrs: string[]): boolean {
  const list = new net.BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/');
    const family = net.isIPv4(addr) ? 'ipv4' : 'ipv6';
    if (net.isIP(addr)) list.addSubnet(addr, Number(bits ?? (family === 'ipv4' ? 32 : 128)), family);
  }
  return list.check(host, net.isIPv4(host) ? 'ipv4' : 'ipv6');
}

/** Whether a CA with these constraints may sign for `host` (true for an unconstrained CA). */
export function permits(c: CaConstraints | null, host: string): boolean {
  if (!c) return true;
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (net.isIP(h)) return !ipWithin(h, c.excludedIps) && (!c.permittedIps.length || ipWithin(h, c.permittedIps));
  return !c.excludedDns.some((b) => dnsWithin(h, b)) && (!c.permittedDns.length || c.permittedDns.some((b) => dnsWithin(h, b)));
}

/** The constraints as `--constrain` takes them, for people: `*.example.com`, `127.0.0.1`. */
export function constraintsText(c: CaConstraints): string[] {
  return [...c.permittedDns.map((d) => (d.startsWith('.') ? '*' + d : d)), ...c.permittedIps.map((ip) => ip.replace(/\/(32|128)$/, ''))];
}

/** The names the CA in `files` is constrained to (as --constrain takes them), or null when it is not constrained. */
export function caNames(files = caFiles()): string[] | null {
  const c = caConstraints(new x509.X509Certificate(fs.readFileSync(files.certPath, 'utf8')));
  return c ? constraintsText(c) : null;
}

/**
 * Creates the CA (or a new one with `reset`), name-constrained to `constrain` when given (hosts as --intercept
 * takes them); returns its files.
 */
export async function ensureCa(files = caFiles(), reset = false, constrain: string[] | null = null): Promise<CaFiles> {
  if (!reset && fs.existsSync(files.certPath) && fs.existsSync(files.keyPath)) return files;
  fs.mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  const keys = await newKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: CA_NAME,
    keys,
    serialNumber: crypto.randomBytes(16).toString('hex').replace(/^[89a-f]/, '1'),
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + TEN_YEARS_MS),
    signingAlgorithm: ALG,
    extensions: [
      // pathLen 0: it signs leaves only, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ...(constrain ? [nameConstraintsExtension(constrain)] : []),
    ],
  });
  writePrivate(files.keyPath, keyPem(await subtle().exportKey('pkcs8', keys.privateKey)));
  fs.writeFileSync(files.certPath, cert.toString('pem') + '\n', { mode: 0o644 });
  return files;
}

/** Issues and caches leaf certificates (one TLS context per host name) signed by the CA. */
export class LeafIssuer {
  private readonly contexts = new Map<string, Promise<{ key: string; cert: string; context: tls.SecureContext }>>();
  private leafKeys: Promise<{ keys: CryptoKeyPair; pem: string }> | null = null;
  /** How many leaves were made (first connection to a host) and served from the cache. */
  readonly stats = { issued: 0, cached: 0 };
  /** The names the CA may sign for; null: any. */
  readonly constraints: CaConstraints | null;

  private constructor(private readonly caCert: x509.X509Certificate, private readonly caPem: string, private readonly caKey: CryptoKey, readonly caPath: string) {
    this.constraints = caConstraints(caCert);
  }

  /** The names it may sign for, as --constrain takes them; [] when unconstrained. */
  names(): string[] {
    return this.constraints ? constraintsText(this.constraints) : [];
  }

  /** Whether a client that checks name constraints accepts a leaf of this CA for `host`. */
  permits(host: string): boolean {
    return permits(this.constraints, host);
  }

  static async load(files = caFiles()): Promise<LeafIssuer> {
    await ensureCa(files);
    const caPem = fs.readFileSync(files.certPath, 'utf8');
    const caKey = await subtle().importKey('pkcs8', pemDer(fs.readFileSync(files.keyPath, 'utf8')), ALG, false, ['sign']);
    return new LeafIssuer(new x509.X509Certificate(caPem), caPem, caKey, files.certPath);
  }

  /** The TLS context for `host` (a DNS name or an IP address). */
  async context(host: string): Promise<tls.SecureContext> {
    return (await this.leaf(host)).context;
  }

  /** The leaf for `host`: its key and certificate chain (PEM), and a TLS context made of them. */
  leaf(host: string): Promise<{ key: string; cert: string; context: tls.SecureContext }> {
    const name = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
    const hit = this.contexts.get(name);
    if (hit) {
      this.stats.cached++;
      return hit;
    }
    const made = this.issue(name);
    this.contexts.set(name, made);
    made.catch(() => this.contexts.delete(name));
    return made;
  }

  private async issue(name: string): Promise<{ key: string; cert: string; context: tls.SecureContext }> {
    this.leafKeys ??= newKeys().then(async (keys) => ({ keys, pem: keyPem(await subtle().exportKey('pkcs8', keys.privateKey)) }));
    const { keys, pem } = await this.leafKeys;
    const now = Date.now();
    const san = net.isIP(name) ? { type: 'ip' as const, value: name } : { type: 'dns' as const, value: name };
    const cert = await x509.X509CertificateGenerator.create({
      // An address is no name: a client that checks name constraints reads a name-like common name as a DNS name
      // when the certificate has no DNS name (OpenSSL does), and would hold an address to the DNS constraints.
      subject: net.isIP(name) ? `CN=mcptap leaf for ${name}` : `CN=${name.replace(/[,+="\\<>;#]/g, '')}`,
      issuer: this.caCert.subject,
      publicKey: keys.publicKey,
      signingKey: this.caKey,
      serialNumber: crypto.randomBytes(16).toString('hex').replace(/^[89a-f]/, '1'),
      notBefore: new Date(now - 3600_000),
      notAfter: new Date(Math.min(now + LEAF_DAYS * 86400_000, this.caCert.notAfter.getTime())),
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([san]),
        await x509.AuthorityKeyIdentifierExtension.create(this.caCert),
      ],
    });
    this.stats.issued++;
    const chain = cert.toString('pem') + '\n' + this.caPem;
    return { key: pem, cert: chain, context: tls.createSecureContext({ key: pem, cert: chain }) };
  }
}
