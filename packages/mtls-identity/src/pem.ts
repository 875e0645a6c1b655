import { checkSize, DEFAULT_MAX_INPUT_BYTES, IdentityError } from './errors.js';

/** One decoded PEM block. */
export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)\r?\n?-----END ([A-Z0-9 ]+)-----/g;
const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes every PEM block in `text` (RFC 7468, strict: matching labels,
 * base64 only, nothing but whitespace between blocks).
 * @throws {IdentityError} `IDENTITY_ERR_PEM_INVALID`, `IDENTITY_ERR_INPUT_TOO_LARGE`
 */
export function decodePemBlocks(text: string, maxBytes: number = DEFAULT_MAX_INPUT_BYTES): PemBlock[] {
  if (typeof text !== 'string')
    throw new IdentityError('IDENTITY_ERR_PEM_INVALID', 'PEM input is not a string');
  checkSize(text.length, maxBytes, 'PEM input');
  const blocks: PemBlock[] = [];
  let last = 0;
  for (const match of text.matchAll(BLOCK)) {
    if (text.slice(last, match.index).trim() !== '') {
      throw new IdentityError('IDENTITY_ERR_PEM_INVALID', 'PEM input has data outside BEGIN/END blocks', {
        rule: 'outside-block',
      });
    }
    last = match.index + match[0].length;
    const [, begin, body, end] = match;
    if (begin !== end) {
      throw new IdentityError('IDENTITY_ERR_PEM_INVALID', `PEM BEGIN ${begin} does not match END ${end}`, {
        rule: 'label-mismatch',
      });
    }
    const compact = body!.replace(/[\r\n\t ]/g, '');
    if (compact.length === 0 || compact.length % 4 !== 0 || !BASE64_BODY.test(compact)) {
      throw new IdentityError('IDENTITY_ERR_PEM_INVALID', `PEM ${begin} block body is not valid base64`, {
        rule: 'base64',
      });
    }
    blocks.push({ label: begin!, der: new Uint8Array(Buffer.from(compact, 'base64')) });
  }
  if (text.slice(last).trim() !== '') {
    throw new IdentityError('IDENTITY_ERR_PEM_INVALID', 'PEM input has data outside BEGIN/END blocks', {
      rule: 'outside-block',
    });
  }
  if (blocks.length === 0) {
    throw new IdentityError('IDENTITY_ERR_PEM_INVALID', 'no PEM block found', { rule: 'no-block' });
  }
  return blocks;
}

/**
 * Decodes exactly one PEM block with one of the given labels.
 * @throws {IdentityError} `IDENTITY_ERR_PEM_INVALID`, `IDENTITY_ERR_INPUT_TOO_LARGE`
 */
export function decodePem(
  text: string,
  labels: readonly string[],
  maxBytes: number = DEFAULT_MAX_INPUT_BYTES,
): PemBlock {
  const blocks = decodePemBlocks(text, maxBytes);
  if (blocks.length !== 1) {
    throw new IdentityError('IDENTITY_ERR_PEM_INVALID', `expected one PEM block, found ${blocks.length}`, {
      rule: 'block-count',
    });
  }
  const block = blocks[0]!;
  if (!labels.includes(block.label)) {
    throw new IdentityError(
      'IDENTITY_ERR_PEM_INVALID',
      `expected PEM label ${labels.join(' or ')}, found ${block.label}`,
      { rule: 'label' },
    );
  }
  return block;
}

/** Encodes DER as a PEM block with 64-character lines (RFC 7468 §2). */
export function encodePem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * Splits a PEM certificate chain (one string with several CERTIFICATE blocks)
 * into one PEM string per certificate, in order.
 * @throws {IdentityError} `IDENTITY_ERR_PEM_INVALID` when a block is not a CERTIFICATE
 */
export function splitPemChain(text: string, maxBytes: number = DEFAULT_MAX_INPUT_BYTES): string[] {
  return decodePemBlocks(text, maxBytes).map((block) => {
    if (block.label !== 'CERTIFICATE') {
      throw new IdentityError(
        'IDENTITY_ERR_PEM_INVALID',
        `expected CERTIFICATE blocks, found ${block.label}`,
        {
          rule: 'label',
        },
      );
    }
    return encodePem('CERTIFICATE', block.der);
  });
}
