/* archive.h - one model as one tar (POSIX ustar) archive, for `xllm export`
 * and `xllm import`:
 *
 *   xllm-export.json                 {"format":"xllm-export","version":1,
 *                                     "name":"host/ns/model:tag",
 *                                     "manifest_digest":"sha256:...","created":T}
 *   manifests/<host>/<ns>/<model>/<tag>  the manifest bytes, unchanged
 *   blobs/sha256-<hex>               the config blob and every layer
 *
 * Sizes beyond the 8 GiB of ustar's octal field use the GNU base-256 form.
 * Import streams each blob through the store's verifying blob writer
 * (xllm_blob_writer with the digest its name says), accepts only blobs the
 * manifest lists, checks that every listed blob is there at the end, and only
 * then writes the manifest; on any failure the blobs it added are removed.
 * Threading: as the store handle. */
#ifndef XLLM_STORE_ARCHIVE_H
#define XLLM_STORE_ARCHIVE_H

#include "store/store.h"

xllm_status xllm_store_export(xllm_store *s, const char *name, const char *path);
/* name: store it under this name instead of the archive's (NULL: keep).
 * display (may be NULL) receives the name it was stored under. */
xllm_status xllm_store_import(xllm_store *s, const char *path, const char *name, char display[XLLM_NAME_STR_MAX]);

#endif
