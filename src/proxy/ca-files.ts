import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Where mcptap's forward-mode CA lives, and what it is, without loading the certificate library (every CLI
// start would pay for it): the CA itself is made by ca.ts.

export interface CaFiles {
  dir: string;
  certPath: string;
  keyPath: string;
}

export function caFiles(dir = process.env.MCPTAP_CA_DIR || path.join(os.homedir(), '.mcptap', 'ca')): CaFiles {
  return { dir, certPath: path.join(dir, 'ca.pem'), keyPath: path.join(dir, 'ca-key.pem') };
}

export interface CaInfo {
  certPath: string;
  keyPath: string;
  subject: string;
  sha256: string;
  notAfter: Date;
}

export function caInfo(files = caFiles()): CaInfo | null {
  if (!fs.existsSync(files.certPath)) return null;
  const cert = new crypto.X509Certificate(fs.readFileSync(files.certPath));
  return { certPath: files.certPath, keyPath: files.keyPath, subject: cert.subject.replace(/\n/g, ', '), sha256: cert.fingerprint256, notAfter: new Date(cert.validTo) };
}

