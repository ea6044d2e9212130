import crypto, { webcrypto } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
// @peculiar/x509's dependency injection (tsyringe) needs the Reflect metadata API.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { caFiles, type CaFiles } from './ca-files.js';

// mcptap's own certificate authority for forward mode: made on first use in ~/.mcptap/ca/ (the key mode 0600,
// never written anywhere else), valid ten years; leaf certificates for the hosts a client CONNECTs to are made on
// demand, share one key pair (as mockttp's do: one key generation per process, not per host) and are cached.

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

/** Creates the CA (or a new one with `reset`); returns its files. */
export async function ensureCa(files = caFiles(), reset = false): Promise<CaFiles> {
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

  private constructor(private readonly caCert: x509.X509Certificate, private readonly caPem: string, private readonly caKey: CryptoKey, readonly caPath: string) {}

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
      subject: `CN=${name.replace(/[,+="\\<>;#]/g, '')}`,
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
