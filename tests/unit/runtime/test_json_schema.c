/* test_json_schema.c - JSON schema -> GBNF: for each schema, compact instances
 * the grammar must accept and ones it must refuse (invalid, or not compact),
 * refused features with the schema path in the error, and compile time. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "base/alloc.h"
#include "runtime/grammar.h"
#include "runtime/json_schema.h"

typedef struct {
    const char *schema;
    const char *yes[6], *no[6];
} schema_case;

static const schema_case scases[] = {
    {"{\"type\":\"string\"}", {"\"\"", "\"a\\\"b\\u00e9\"", "\"\xc3\xa9\""}, {"\"a", "\"\\ud800\"", "1"}},
    {"{\"type\":\"integer\"}", {"0", "-12", "123456"}, {"01", "1.5", "\"1\""}},
    {"{\"type\":\"number\"}", {"0", "-1.25", "3e10", "1.5E-3"}, {".5", "1.", "--1"}},
    {"{\"type\":\"boolean\"}", {"true", "false"}, {"null", "True"}},
    {"{\"type\":[\"string\",\"null\"]}", {"null", "\"x\""}, {"1"}},
    {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"string\"}},"
     "\"required\":[\"b\"]}",
     {"{\"b\":\"x\"}", "{\"a\":1,\"b\":\"\"}"},
     {"{}", "{\"a\":1}", "{\"b\":\"x\",\"a\":1}", "{\"a\": 1,\"b\":\"x\"}", "{\"b\":\"x\",\"c\":1}"}},
    {"{\"type\":\"object\",\"properties\":{\"a\":{},\"b\":{},\"c\":{}}}",
     {"{}", "{\"a\":1}", "{\"b\":[1,{}]}", "{\"a\":null,\"c\":\"x\"}", "{\"a\":1,\"b\":2,\"c\":3}"},
     {"{,\"a\":1}", "{\"a\":1,}", "{\"c\":1,\"a\":1}"}},
    {"{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}",
     {"{}", "{\"x\":1,\"y\":2}"}, {"{\"x\":\"s\"}"}},
    {"{\"type\":\"object\",\"required\":[\"k\"]}", {"{\"k\":[true]}"}, {"{}"}},
    {"{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"minItems\":2,\"maxItems\":3}",
     {"[1,2]", "[1,2,3]"}, {"[]", "[1]", "[1,2,3,4]", "[1,\"a\"]"}},
    {"{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}", {"[]", "[1]", "[1,2,3,4,5]"}, {"[,]"}},
    {"{\"type\":\"array\",\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}],\"items\":false}",
     {"[]", "[\"a\"]", "[\"a\",1]"}, {"[1]", "[\"a\",1,2]"}},
    {"{\"type\":\"array\",\"prefixItems\":[{\"const\":1}],\"items\":{\"const\":2},\"minItems\":2}",
     {"[1,2]", "[1,2,2]"}, {"[1]", "[2,2]"}},
    {"{\"enum\":[\"red\",\"green\",1,null,{\"a\":[1]}]}", {"\"red\"", "1", "null", "{\"a\":[1]}"}, {"\"blue\"", "2"}},
    {"{\"const\":\"x\\ny\"}", {"\"x\\ny\""}, {"\"xy\""}},
    {"{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}", {"\"ab\"", "\"\xc3\xa9\xc3\xa9\xc3\xa9\""},
     {"\"a\"", "\"abcd\""}},
    {"{\"type\":\"string\",\"pattern\":\"^[A-Z]{2}-\\\\d{3}$\"}", {"\"AB-123\""}, {"\"AB-12\"", "\"ab-123\""}},
    {"{\"type\":\"string\",\"pattern\":\"^(a|bc)+\\\\.x?$\"}", {"\"abc.\"", "\"a.x\""}, {"\"b.\""}},
    {"{\"type\":\"string\",\"pattern\":\"^[^a]\\\"\\\\\\\\$\"}", {"\"b\\\"\\\\\""}, {"\"a\\\"\\\\\""}},
    {"{\"type\":\"string\",\"format\":\"date\"}", {"\"2024-02-28\""}, {"\"2024-13-01\"", "\"24-01-01\""}},
    {"{\"type\":\"string\",\"format\":\"date-time\"}", {"\"2024-02-28T12:30:00Z\"", "\"2024-02-28T23:59:59.5+01:00\""},
     {"\"2024-02-28 12:30:00Z\""}},
    {"{\"type\":\"string\",\"format\":\"uuid\"}", {"\"123e4567-e89b-12d3-a456-426614174000\""}, {"\"123\""}},
    {"{\"type\":\"string\",\"format\":\"ipv4\"}", {"\"192.168.0.255\""}, {"\"256.1.1.1\"", "\"01.1.1.1\""}},
    {"{\"type\":\"integer\",\"minimum\":-5,\"maximum\":123}", {"-5", "0", "9", "99", "123"},
     {"-6", "124", "200", "-0"}},
    {"{\"type\":\"integer\",\"exclusiveMinimum\":10}", {"11", "99", "12345"}, {"10", "9", "-1"}},
    {"{\"type\":\"integer\",\"maximum\":-10}", {"-10", "-11", "-1000"}, {"-9", "0", "5"}},
    {"{\"type\":\"number\",\"minimum\":1.5,\"maximum\":4}", {"2", "4"}, {"1", "5", "1.5"}},
    {"{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"string\",\"maxLength\":1}]}", {"1", "\"a\""}, {"\"ab\""}},
    {"{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"boolean\"}]}", {"1", "true"}, {"null"}},
    {"{\"allOf\":[{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},\"required\":[\"a\"]},"
     "{\"properties\":{\"b\":{\"type\":\"boolean\"}},\"required\":[\"b\"]}]}",
     {"{\"a\":1,\"b\":true}"}, {"{\"a\":1}", "{\"b\":true}"}},
    {"{\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"integer\"},"
     "\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/node\"}}},\"required\":[\"v\"]}},"
     "\"$ref\":\"#/$defs/node\"}",
     {"{\"v\":1}", "{\"v\":1,\"kids\":[{\"v\":2,\"kids\":[]},{\"v\":3}]}"}, {"{\"kids\":[]}"}},
    {"true", {"1", "{\"a\":[null]}"}, {"{\"a\" :1}"}},
};

static xllm_status compile_schema(const char *text, xllm_grammar **g)
{
    json_error_t je;
    json_t *s = json_loads(text, JSON_DECODE_ANY, &je);
    if (!s)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "json: %s", je.text);
    char *gbnf = NULL;
    size_t len = 0;
    xllm_status st = xllm_json_schema_to_gbnf(s, 0, &gbnf, &len);
    if (!st)
        st = xllm_grammar_compile(gbnf, len, NULL, g);
    xllm_free(gbnf);
    json_decref(s);
    return st;
}

static int matches(xllm_grammar_state *s, const char *text)
{
    xllm_grammar_state_reset(s);
    return !xllm_grammar_accept_bytes(s, text, strlen(text)) && xllm_grammar_can_end(s);
}

TEST(json_schema_instances)
{
    for (size_t i = 0; i < sizeof scases / sizeof scases[0]; i++) {
        xllm_grammar *g = NULL;
        xllm_status st = compile_schema(scases[i].schema, &g);
        CHECK_MSG(!st, "schema %zu: %s", i, xllm_last_error());
        if (st)
            continue;
        xllm_grammar_state *s = NULL;
        CHECK_OK(xllm_grammar_state_new(g, &s));
        for (int k = 0; s && k < 6 && scases[i].yes[k]; k++)
            CHECK_MSG(matches(s, scases[i].yes[k]), "schema %zu must accept %s", i, scases[i].yes[k]);
        for (int k = 0; s && k < 6 && scases[i].no[k]; k++)
            CHECK_MSG(!matches(s, scases[i].no[k]), "schema %zu must refuse %s", i, scases[i].no[k]);
        xllm_grammar_state_free(s);
        xllm_grammar_free(g);
    }
}

TEST(json_schema_refused)
{
    static const struct {
        const char *schema, *msg;
        xllm_status st;
    } bad[] = {
        {"{\"type\":\"array\",\"uniqueItems\":true}", "schema at #: uniqueItems", XLLM_ERR_UNSUPPORTED},
        {"{\"properties\":{\"a\":{\"type\":\"number\",\"multipleOf\":2}}}",
         "schema at #/properties/a: keyword 'multipleOf' is not supported", XLLM_ERR_UNSUPPORTED},
        {"{\"not\":{}}", "keyword 'not'", XLLM_ERR_UNSUPPORTED},
        {"{\"if\":{},\"then\":{}}", "keyword 'if'", XLLM_ERR_UNSUPPORTED},
        {"{\"$ref\":\"http://x/y.json\"}", "only local references", XLLM_ERR_UNSUPPORTED},
        {"{\"$ref\":\"#/$defs/missing\"}", "only local references", XLLM_ERR_UNSUPPORTED},
        {"{\"type\":\"string\",\"format\":\"ipv6\"}", "format 'ipv6'", XLLM_ERR_UNSUPPORTED},
        {"{\"type\":\"string\",\"pattern\":\"(?=a)\"}", "lookaround", XLLM_ERR_UNSUPPORTED},
        {"{\"type\":\"string\",\"pattern\":\"(a)\\\\1\"}", "back-references", XLLM_ERR_UNSUPPORTED},
        {"{\"type\":\"string\",\"pattern\":\"a\",\"minLength\":2}", "minLength/maxLength together with pattern",
         XLLM_ERR_UNSUPPORTED},
        {"{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"number\"}]}", "oneOf whose branches may overlap",
         XLLM_ERR_UNSUPPORTED},
        {"{\"type\":\"string\",\"minLength\":5,\"maxLength\":2}", "maxLength 2 below minLength 5",
         XLLM_ERR_INVALID_ARGUMENT},
        {"{\"type\":\"integer\",\"minimum\":5,\"maximum\":4}", "no integer", XLLM_ERR_INVALID_ARGUMENT},
        {"{\"type\":\"array\",\"items\":{\"prefixItems\":[1]}}", "schema at #/items/prefixItems/0:",
         XLLM_ERR_INVALID_ARGUMENT},
        {"{\"type\":\"strin\"}", "unknown type 'strin'", XLLM_ERR_INVALID_ARGUMENT},
        {"false", "accepts no value", XLLM_ERR_INVALID_ARGUMENT},
        {"{\"enum\":[1],\"minimum\":0}", "'minimum' beside enum/const", XLLM_ERR_UNSUPPORTED},
        {"{\"type\":\"object\",\"minProperties\":1}", "keyword 'minProperties'", XLLM_ERR_UNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *s = json_loads(bad[i].schema, JSON_DECODE_ANY, NULL);
        CHECK(s != NULL);
        char *gbnf = NULL;
        size_t len;
        xllm_status st = xllm_json_schema_to_gbnf(s, 0, &gbnf, &len);
        CHECK_MSG(st == bad[i].st, "case %zu: status %d want %d (%s)", i, st, bad[i].st, xllm_last_error());
        CHECK_MSG(strstr(xllm_last_error(), bad[i].msg) != NULL, "case %zu: '%s' lacks '%s'", i, xllm_last_error(),
                  bad[i].msg);
        CHECK(gbnf == NULL);
        json_decref(s);
    }
}

TEST(json_schema_space_and_object_mode)
{
    char *gbnf = NULL;
    size_t len;
    CHECK_OK(xllm_json_object_gbnf(XLLM_JSON_SPACE, &gbnf, &len));
    xllm_grammar *g = NULL;
    CHECK_OK(xllm_grammar_compile(gbnf, len, NULL, &g));
    xllm_grammar_state *s = NULL;
    CHECK_OK(xllm_grammar_state_new(g, &s));
    CHECK(matches(s, "{\"a\": 1, \"b\": [1, 2]}"));
    CHECK(!matches(s, "{\"a\":  1}")); /* one space at most */
    CHECK(!matches(s, "[1]"));         /* an object */
    CHECK(!matches(s, " {}"));
    xllm_grammar_state_free(s);
    xllm_grammar_free(g);
    xllm_free(gbnf);
}
