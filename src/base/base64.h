/* base64.h - standard base64 (RFC 4648, '+' '/', '=' padding) decoding, as
 * tokenizer.json charsmaps, test corpora and (later) API image payloads carry it.
 * Pure function over caller buffers; thread-safe. */
#ifndef XLLM_BASE_BASE64_H
#define XLLM_BASE_BASE64_H

#include <stddef.h>

/* Decode the NUL-terminated text in into out, which must hold at least
 * 3 * (strlen(in) / 4) + 3 bytes. Characters outside the alphabet ('=',
 * whitespace) are skipped. Returns the number of bytes written. */
size_t xllm_base64_decode(const char *in, unsigned char *out);

#endif
