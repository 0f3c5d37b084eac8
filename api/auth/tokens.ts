import { createHash, randomBytes } from 'node:crypto';

/** Every token starts so, which lets secret scanners and the log redaction recognise one. */
export const TOKEN_PREFIX = 'mlf_';
const TOKEN_PATTERN = /^mlf_[A-Za-z0-9_-]{43}$/;

/** A new secret: 256 random bits. */
export const generateToken = (): string => `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;

export const looksLikeToken = (text: string): boolean => TOKEN_PATTERN.test(text);

/** What the database keeps of a token: a fast hash is enough for a 256-bit random secret. */
export const hashToken = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();
