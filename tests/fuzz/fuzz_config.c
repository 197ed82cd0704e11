/* fuzz_config.c - libFuzzer target: bytes as ~/.xllm/config.yaml through
 * srv_conf_load_yaml (libyaml + the key table). Every input must end in
 * success or a status with a file:line:column message, never a crash, a
 * leak or a hang. Build with `make fuzz`; run as tests/fuzz/README.md says. */
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "server/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    srv_conf c;
    char buf[256];
    if (srv_conf_init(&c))
        return 0;
    if (srv_conf_load_yaml(&c, "fuzz.yaml", (const char *)data, size) == XLLM_OK)
        for (int i = 0; i < srv_conf_n_keys(); i++)
            srv_conf_value_text(&c, srv_conf_key_at(i), buf, sizeof buf);
    srv_conf_free(&c);
    return 0;
}
