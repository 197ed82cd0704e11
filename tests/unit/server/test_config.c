/* test_config.c - `xllm serve` settings (server/config.c): defaults, a full
 * YAML file, the precedence flag > environment > file > default, and a table
 * of bad and hostile files, each refused with file:line:column and the
 * allowed keys or values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "server/config.h"
#include "../test.h"

static xllm_status load(srv_conf *c, const char *text)
{
    return srv_conf_load_yaml(c, "cfg.yaml", text, strlen(text));
}

static int src_of(const srv_conf *c, const char *path)
{
    return c->src[srv_conf_find(path) - srv_conf_key_at(0)];
}

TEST(server_config_defaults)
{
    srv_conf c;
    CHECK_OK(srv_conf_init(&c));
    CHECK_EQ_STR(c.host, "127.0.0.1");
    CHECK_EQ_INT(c.port, 32769);
    CHECK_EQ_INT(c.http_threads, 4);
    CHECK_EQ_INT(c.gzip, 1);
    CHECK_EQ_STR(c.cors_origins, "*");
    CHECK_EQ_STR(c.log_rotation, "daily");
    CHECK_EQ_STR(c.kv_type, "f16");
    CHECK_EQ_INT(c.max_batch, 16);
    CHECK_EQ_INT(c.max_queue, 1000);
    CHECK_NEAR(c.idle_timeout, 300, 0);
    CHECK_EQ_STR(c.device, "auto");
    CHECK_EQ_STR(c.preload, "");
    CHECK_EQ_INT(src_of(&c, "server.port"), SRV_CONF_DEFAULT);
    /* every key is reachable by path, and its flag by name */
    for (int i = 0; i < srv_conf_n_keys(); i++) {
        const srv_conf_key *k = srv_conf_key_at(i);
        CHECK(srv_conf_find(k->path) == k);
        CHECK(!k->flag || srv_conf_find_flag(k->flag) == k);
    }
    srv_conf_free(&c);
}

TEST(server_config_full_file)
{
    srv_conf c;
    int daily;
    uint64_t max;
    CHECK_OK(srv_conf_init(&c));
    CHECK_OK(load(&c, "# comment\n"
                      "server:\n"
                      "  host: 0.0.0.0\n"
                      "  port: 8080\n"
                      "  http_threads: 8\n"
                      "  log_file: /var/log/xllm.log\n"
                      "  log_rotation: 100M\n"
                      "  cors:\n"
                      "    allowed_origins:\n"
                      "      - http://a.example\n"
                      "      - 'http://b.example:3000'\n"
                      "  gzip: off\n"
                      "  api_key: \"s3cret\"\n"
                      "  allowed_hosts: llm.lan\n"
                      "models:\n"
                      "  directory: /srv/models\n"
                      "  preload: [kjv, llama3:8b]\n"
                      "  priority: {kjv: high, other: low}\n"
                      "inference:\n"
                      "  idle_timeout: -1\n"
                      "  request_timeout: 600\n"
                      "  max_batch: 32\n"
                      "  max_queue: 64\n"
                      "  ctx_size: 4096\n"
                      "  kv_type: q8_0\n"
                      "gpu:\n"
                      "  device: cuda:1\n"
                      "images:\n"
                      "  directory: ~\n"
                      "  ttl_hours: 2.5\n"));
    CHECK_EQ_STR(c.host, "0.0.0.0");
    CHECK_EQ_INT(c.port, 8080);
    CHECK_EQ_INT(c.http_threads, 8);
    CHECK_EQ_STR(c.log_file, "/var/log/xllm.log");
    srv_conf_rotation(c.log_rotation, &daily, &max);
    CHECK_EQ_INT(daily, 0);
    CHECK_EQ_INT(max, 100u << 20);
    CHECK_EQ_STR(c.cors_origins, "http://a.example,http://b.example:3000");
    CHECK_EQ_INT(c.gzip, 0);
    CHECK_EQ_STR(c.api_key, "s3cret");
    CHECK_EQ_STR(c.allowed_hosts, "llm.lan");
    CHECK_EQ_STR(c.models_dir, "/srv/models");
    CHECK_EQ_STR(c.preload, "kjv,llama3:8b");
    CHECK_EQ_STR(c.priority, "kjv=high,other=low");
    CHECK_NEAR(c.idle_timeout, -1, 0);
    CHECK_NEAR(c.request_timeout, 600, 0);
    CHECK_EQ_INT(c.max_batch, 32);
    CHECK_EQ_INT(c.max_queue, 64);
    CHECK_EQ_INT(c.ctx_size, 4096);
    CHECK_EQ_STR(c.kv_type, "q8_0");
    CHECK_EQ_STR(c.device, "cuda:1");
    CHECK_EQ_STR(c.images_dir, "");
    {
        char want[512];
        const char *home = getenv("HOME");
        CHECK_OK(load(&c, "images:\n  directory: ~/img\nmodels:\n  directory: /abs/~/x\n"));
        snprintf(want, sizeof want, "%s/img", home ? home : "");
        if (home && home[0])
            CHECK_EQ_STR(c.images_dir, want); /* a leading ~/ is $HOME */
        CHECK_EQ_STR(c.models_dir, "/abs/~/x");
    }
    CHECK_NEAR(c.images_ttl_hours, 2.5, 0);
    CHECK_EQ_INT(src_of(&c, "server.port"), SRV_CONF_FILE);
    CHECK_EQ_INT(src_of(&c, "inference.threads"), SRV_CONF_DEFAULT);
    srv_conf_free(&c);
}

/* A fake environment for srv_conf_load_env. */
static const char *fake_env(const char *name)
{
    static const char *const kv[][2] = {
        {"XLLM_MAX_BATCH", "12"}, {"XLLM_KV_TYPE", "f32"}, {"XLLM_GZIP", "no"}, {"XLLM_PRELOAD", "a,b"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (!strcmp(kv[i][0], name))
            return kv[i][1];
    return NULL;
}

static const char *bad_env(const char *name) { return strcmp(name, "XLLM_MAX_QUEUE") ? NULL : "lots"; }

TEST(server_config_precedence)
{
    srv_conf c;
    CHECK_OK(srv_conf_init(&c));
    CHECK_OK(load(&c, "inference:\n  max_batch: 4\n  max_queue: 7\n  kv_type: q8_0\n  threads: 3\n"));
    CHECK_OK(srv_conf_load_env(&c, fake_env));
    CHECK_OK(srv_conf_set(&c, srv_conf_find_flag("kv-type"), "f16", SRV_CONF_FLAG, "--kv-type"));
    CHECK_EQ_INT(c.max_batch, 12);          /* env over file */
    CHECK_EQ_INT(src_of(&c, "inference.max_batch"), SRV_CONF_ENV);
    CHECK_EQ_INT(c.max_queue, 7);           /* file over default */
    CHECK_EQ_STR(c.kv_type, "f16");         /* flag over env over file */
    CHECK_EQ_INT(src_of(&c, "inference.kv_type"), SRV_CONF_FLAG);
    CHECK_EQ_INT(c.threads, 3);
    CHECK_EQ_INT(c.gzip, 0);
    CHECK_EQ_STR(c.preload, "a,b");
    CHECK_EQ_INT(c.http_threads, 4);        /* default */
    /* a bad variable names itself, the key and the allowed values */
    CHECK(srv_conf_load_env(&c, bad_env) != XLLM_OK);
    CHECK(strstr(xllm_last_error(), "XLLM_MAX_QUEUE: inference.max_queue: 'lots' is not an integer") != NULL);
    CHECK(strstr(xllm_last_error(), "allowed: an integer from 1 to 1000000") != NULL);
    CHECK(srv_conf_set(&c, srv_conf_find_flag("port"), "70000", SRV_CONF_FLAG, "--port") != XLLM_OK);
    CHECK(strstr(xllm_last_error(), "--port: server.port: '70000' is out of range") != NULL);
    CHECK_EQ_INT(c.port, 32769); /* a refused value changes nothing */
    srv_conf_free(&c);
}

TEST(server_config_rotation_values)
{
    static const struct {
        const char *text;
        int ok, daily;
        uint64_t max;
    } cases[] = {
        {"daily", 1, 1, 0}, {"never", 1, 0, 0}, {"65536", 1, 0, 65536}, {"10K", 1, 0, 10240},
        {"1GB", 1, 0, 1u << 30}, {"100", 0, 0, 0}, {"weekly", 0, 0, 0}, {"-5M", 0, 0, 0}, {"5X", 0, 0, 0},
        {"99999999999999999999G", 0, 0, 0},
    };
    srv_conf c;
    CHECK_OK(srv_conf_init(&c));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xllm_status st = srv_conf_set(&c, srv_conf_find("server.log_rotation"), cases[i].text, SRV_CONF_FLAG, "x");
        CHECK_MSG((st == XLLM_OK) == cases[i].ok, "rotation '%s': status %d", cases[i].text, (int)st);
        if (cases[i].ok) {
            int daily;
            uint64_t max;
            srv_conf_rotation(c.log_rotation, &daily, &max);
            CHECK_EQ_INT(daily, cases[i].daily);
            CHECK_EQ_INT(max, cases[i].max);
        }
    }
    srv_conf_free(&c);
}

TEST(server_config_bad_files)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"server:\n  prot: 1\n",
         "cfg.yaml:2:3: unknown key 'prot' in server; allowed: host, port, http_threads, log_file, log_rotation, "
         "cors, gzip, workers, api_key, api_keys_file, allowed_hosts"},
        {"sever:\n  port: 1\n", "cfg.yaml:1:1: unknown key 'sever'; allowed: server, models, inference, gpu, images"},
        {"server:\n  port: abc\n", "cfg.yaml:2:9: server.port: 'abc' is not an integer; allowed: an integer from 0 to 65535"},
        {"server:\n  port: 65536\n", "cfg.yaml:2:9: server.port: '65536' is out of range"},
        {"server:\n  port: 8080.5\n", "server.port: '8080.5' is not an integer"},
        {"server:\n  port:\n", "cfg.yaml:2:8: server.port: '' is empty"},
        {"inference:\n  kv_type: q4_0\n", "cfg.yaml:2:12: inference.kv_type: 'q4_0' is not allowed; allowed: one of f16|q8_0|f32"},
        {"inference:\n  idle_timeout: forever\n", "inference.idle_timeout: 'forever' is not a number"},
        {"inference:\n  idle_timeout: .inf\n", "is not a number"},
        {"server:\n  gzip: maybe\n", "server.gzip: 'maybe' is not a boolean; allowed: true or false"},
        {"server:\n  port: [1, 2]\n", "cfg.yaml:2:9: server.port: must be a single value; allowed: an integer"},
        {"server: 8080\n", "cfg.yaml:1:9: server must be a mapping with the keys: host, port"},
        {"- a\n- b\n", "cfg.yaml:1:1: must be a mapping with the keys: server, models"},
        {"server:\n  cors: '*'\n", "cfg.yaml:2:9: server.cors must be a mapping with the keys: allowed_origins"},
        {"server:\n  cors:\n    origins: [x]\n", "unknown key 'origins' in server.cors; allowed: allowed_origins"},
        {"models:\n  preload: [[a]]\n", "cfg.yaml:2:13: models.preload: each entry must be a string"},
        {"models:\n  preload: ['a,b']\n", "models.preload: an entry is empty or has a comma: a,b"},
        {"models:\n  preload: {a: 1}\n", "models.preload: must be a string or a list of strings"},
        {"models:\n  priority: {kjv: urgent}\n", "cfg.yaml:2:19: models.priority: allowed: high, normal or low, not urgent"},
        {"models:\n  priority: [kjv]\n", "models.priority: must be a mapping of model names"},
        {"server:\n  port: 1\n  port: 2\n", "cfg.yaml:3:3: duplicate key 'port'"},
        {"server:\n  port: 1\nserver:\n  host: x\n", "cfg.yaml:3:1: duplicate key 'server'"},
        {"server:\n  server.port: 1\n", "unknown key 'server.port' in server"},
        {"server:\n\tport: 1\n", "cfg.yaml:2:1: not valid YAML"},
        {"server: [1,\n", "not valid YAML"},
        {"server:\n  port: \"unterminated\n", "not valid YAML"},
        {"server:\n  host: \"\xff\xfe\"\n", "not valid YAML"},
        {"server:\n  port: 1\n---\nserver:\n  port: 2\n", "cfg.yaml:3:1: more than one YAML document"},
        {"? [a, b]\n: 1\n", "cfg.yaml:1:3: keys must be plain names"},
        {"server:\n  *x: 1\n", "not valid YAML"},
        {"server:\n  log_rotation: hourly\n", "server.log_rotation: 'hourly' is not a rotation; allowed: daily, never"},
        {"gpu:\n  device: tpu\n", "gpu.device: 'tpu' is not allowed; allowed: one of auto|cpu|cuda"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        srv_conf c;
        xllm_status st;
        CHECK_OK(srv_conf_init(&c));
        st = load(&c, cases[i].text);
        CHECK_MSG(st != XLLM_OK, "case %zu accepted", i);
        CHECK_MSG(strstr(xllm_last_error(), cases[i].want) != NULL, "case %zu: got '%s', want '%s'", i,
                  xllm_last_error(), cases[i].want);
        srv_conf_free(&c);
    }
}

TEST(server_config_hostile_files)
{
    srv_conf c;
    size_t n = 200000, len = 0;
    char *deep = xllm_calloc(1, (1u << 20) + 64);
    /* nesting far deeper than any file: refused (as a wrong shape), not a crash */
    len += (size_t)sprintf(deep, "server: ");
    memset(deep + len, '[', n);
    len += n;
    memset(deep + len, ']', n);
    len += n;
    deep[len++] = '\n';
    CHECK_OK(srv_conf_init(&c));
    CHECK(srv_conf_load_yaml(&c, "deep.yaml", deep, len) == XLLM_ERR_LIMIT);
    CHECK(strstr(xllm_last_error(), "deep.yaml:1:") != NULL && strstr(xllm_last_error(), "nested deeper") != NULL);
    /* aliases are followed, not expanded: a list by an alias works, a
     * billion-laughs chain is just a wrong shape */
    CHECK_OK(load(&c, "server:\n  allowed_hosts: &h [a.lan, b.lan]\nmodels:\n  preload: *h\n"));
    CHECK_EQ_STR(c.preload, "a.lan,b.lan");
    CHECK(load(&c, "x: &a [1,1,1,1,1,1,1,1,1]\ny: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nz: &c [*b,*b,*b,*b,*b,*b,*b,*b]\n") !=
          XLLM_OK);
    CHECK(strstr(xllm_last_error(), "unknown key 'x'") != NULL);
    /* too large */
    CHECK(srv_conf_load_yaml(&c, "big.yaml", deep, (1u << 20) + 1) == XLLM_ERR_LIMIT);
    /* empty and comment-only files are fine; a NUL byte is not */
    CHECK_OK(load(&c, ""));
    CHECK_OK(load(&c, "# nothing here\n"));
    CHECK(srv_conf_load_yaml(&c, "nul.yaml", "server:\n  port: 1\0\n", 18) != XLLM_OK);
    /* a very long key (libyaml's limit for a simple key is 1024 characters)
     * and a long unknown key are reported without overflowing */
    memset(deep, 'k', 5000);
    memcpy(deep + 5000, ": 1\n", 5);
    CHECK(load(&c, deep) != XLLM_OK);
    CHECK(strstr(xllm_last_error(), "cfg.yaml:") != NULL);
    memcpy(deep + 900, ": 1\n", 5);
    CHECK(load(&c, deep) != XLLM_OK);
    CHECK(strstr(xllm_last_error(), "cfg.yaml:1:1: unknown key 'kkkk") != NULL);
    xllm_free(deep);
    srv_conf_free(&c);
}

TEST(server_config_file_path)
{
    char buf[256], dir[] = "/tmp/xllm-test-XXXXXX", path[300];
    int req = -1;
    const char *old_home = getenv("HOME"), *old_cfg = getenv("XLLM_CONFIG");
    char *home_copy = old_home ? xllm_strdup(old_home) : NULL, *cfg_copy = old_cfg ? xllm_strdup(old_cfg) : NULL;
    FILE *f;
    srv_conf c;
    CHECK(mkdtemp(dir) != NULL);
    setenv("HOME", dir, 1);
    unsetenv("XLLM_CONFIG");
    CHECK(srv_conf_path(NULL, buf, sizeof buf, &req) == NULL); /* no file: none, and not an error */
    CHECK_EQ_INT(req, 0);
    snprintf(path, sizeof path, "%s/.xllm", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/.xllm/config.yaml", dir);
    f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("server:\n  port: 9999\n", f);
    fclose(f);
    CHECK_EQ_STR(srv_conf_path(NULL, buf, sizeof buf, &req), path);
    CHECK_OK(srv_conf_init(&c));
    CHECK_OK(srv_conf_load_file(&c, path));
    CHECK_EQ_INT(c.port, 9999);
    CHECK(srv_conf_load_file(&c, "/nonexistent/xllm.yaml") != XLLM_OK);
    CHECK(strstr(xllm_last_error(), "/nonexistent/xllm.yaml") != NULL);
    srv_conf_free(&c);
    setenv("XLLM_CONFIG", "/etc/x.yaml", 1);
    CHECK_EQ_STR(srv_conf_path(NULL, buf, sizeof buf, &req), "/etc/x.yaml");
    CHECK_EQ_INT(req, 1);
    CHECK_EQ_STR(srv_conf_path("/flag.yaml", buf, sizeof buf, &req), "/flag.yaml");
    unlink(path);
    snprintf(path, sizeof path, "%s/.xllm", dir);
    rmdir(path);
    rmdir(dir);
    if (home_copy)
        setenv("HOME", home_copy, 1);
    if (cfg_copy)
        setenv("XLLM_CONFIG", cfg_copy, 1);
    else
        unsetenv("XLLM_CONFIG");
    xllm_free(home_copy);
    xllm_free(cfg_copy);
}
