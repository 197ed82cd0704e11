/* base64.h - standard base64 (RFC 4648, '+' '/', '=' padding) decoding and encoding,
 * as tokenizer.json charsmaps, test corpora and (later) API image payloads carry it.
 * Pure function over caller buffers; thread-safe. */
#ifndef XLLM_BASE_BASE64_H
#define XLLM_BASE_BASE64_H

#include <stddef.h>

/* Decode the NUL-terminated text in into out, which must hold at least
 * 3 * (strlen(in) / 4) + 3 bytes. Characters outside the alphabet ('=',
 * whitespace) are skipped. Returns the number of bytes written. */
size_t xllm_base64_decode(const char *in, unsigned char *out);
/* Encode n bytes into out, which must hold 4 * ((n + 2) / 3) + 1 chars; writes a
 * NUL-terminated, '='-padded string and returns its length. */
size_t xllm_base64_encode(const unsigned char *in, size_t n, char *out);

#endif
