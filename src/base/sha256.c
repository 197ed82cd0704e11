/* sha256.c - SHA-256 via OpenSSL libcrypto (EVP), and digest string checks. */
#include "base/sha256.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

xllm_status xllm_sha256_init(xllm_sha256 *h)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    h->ctx = NULL;
    if (!c)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "sha256: no memory for a hash context");
    if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(c);
        return xllm_fail(XLLM_ERR_INTERNAL, "sha256: EVP_DigestInit_ex failed");
    }
    h->ctx = c;
    return XLLM_OK;
}

void xllm_sha256_update(xllm_sha256 *h, const void *p, size_t n)
{
    if (h->ctx && n)
        EVP_DigestUpdate((EVP_MD_CTX *)h->ctx, p, n);
}

void xllm_sha256_final(xllm_sha256 *h, char hex[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    static const char digits[] = "0123456789abcdef";
    memset(md, 0, sizeof md);
    if (h->ctx)
        EVP_DigestFinal_ex((EVP_MD_CTX *)h->ctx, md, &len);
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = 0;
    xllm_sha256_discard(h);
}

void xllm_sha256_discard(xllm_sha256 *h)
{
    if (h->ctx)
        EVP_MD_CTX_free((EVP_MD_CTX *)h->ctx);
    h->ctx = NULL;
}

xllm_status xllm_sha256_buf(const void *p, size_t n, char hex[65])
{
    xllm_sha256 h;
    xllm_status st = xllm_sha256_init(&h);
    if (st != XLLM_OK)
        return st;
    xllm_sha256_update(&h, p, n);
    xllm_sha256_final(&h, hex);
    return XLLM_OK;
}

xllm_status xllm_sha256_file(const char *path, char hex[65], uint64_t *size)
{
    unsigned char buf[1 << 14];
    xllm_sha256 h;
    uint64_t total = 0;
    size_t n;
    xllm_status st;
    FILE *f = fopen(path, "rb");
    if (!f)
        return xllm_fail(errno == ENOENT ? XLLM_ERR_NOT_FOUND : XLLM_ERR_IO, "%s: %s", path, strerror(errno));
    st = xllm_sha256_init(&h);
    if (st != XLLM_OK) {
        fclose(f);
        return st;
    }
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        xllm_sha256_update(&h, buf, n);
        total += n;
    }
    if (ferror(f)) {
        xllm_sha256_discard(&h);
        fclose(f);
        return xllm_fail(XLLM_ERR_IO, "%s: read error: %s", path, strerror(errno));
    }
    fclose(f);
    xllm_sha256_final(&h, hex);
    if (size)
        *size = total;
    return XLLM_OK;
}

int xllm_digest_valid(const char *s, int dash_ok)
{
    if (!s || strncmp(s, "sha256", 6) != 0)
        return 0;
    if (s[6] != ':' && !(dash_ok && s[6] == '-'))
        return 0;
    for (int i = 0; i < 64; i++) {
        char c = s[7 + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return s[71] == 0;
}
