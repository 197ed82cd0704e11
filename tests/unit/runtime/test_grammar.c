/* test_grammar.c - GBNF compiler and stack machine: accept/reject tables
 * (full match, valid prefix only, rejected), malformed grammars with their
 * line:column, refused rule shapes, and lazy triggers. */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "runtime/grammar.h"
#include "../test.h"

enum { REJECT = 0, MATCH = 1, PREFIX = 2 };

typedef struct {
    const char *gbnf, *text;
    int want;
} accept_case;

/* MATCH: text fed and complete; PREFIX: fed but not complete; REJECT: refused. */
static int classify(xllm_grammar_state *s, const char *text)
{
    xllm_grammar_state_reset(s);
    if (xllm_grammar_accept_bytes(s, text, strlen(text)))
        return REJECT;
    return xllm_grammar_can_end(s) ? MATCH : PREFIX;
}

static const accept_case cases[] = {
    {"root ::= \"abc\"", "abc", MATCH},
    {"root ::= \"abc\"", "ab", PREFIX},
    {"root ::= \"abc\"", "abd", REJECT},
    {"root ::= \"abc\"", "abcd", REJECT},
    {"root ::= \"a\" | \"b\" | \"\"", "", MATCH},
    {"root ::= \"a\" | \"b\"", "b", MATCH},
    {"root ::= \"a\" | \"b\"", "c", REJECT},
    {"root ::= [a-z]+", "hello", MATCH},
    {"root ::= [a-z]+", "", PREFIX},
    {"root ::= [a-z]+", "hel1o", REJECT},
    {"root ::= [^a-z]*", "HELLO 123", MATCH},
    {"root ::= [^a-z]*", "HeLLO", REJECT},
    {"root ::= \"x\"* \"y\"", "xxxy", MATCH},
    {"root ::= \"x\"* \"y\"", "y", MATCH},
    {"root ::= \"x\"? \"y\"", "xxy", REJECT},
    {"root ::= (\"ab\" | \"cd\")+ \"!\"", "abcdab!", MATCH},
    {"root ::= (\"ab\" | \"cd\")+ \"!\"", "abc!", REJECT},
    {"root ::= [0-9]{3}", "123", MATCH},
    {"root ::= [0-9]{3}", "12", PREFIX},
    {"root ::= [0-9]{3}", "1234", REJECT},
    {"root ::= [0-9]{2,}", "1", PREFIX},
    {"root ::= [0-9]{2,}", "12345678", MATCH},
    {"root ::= [0-9]{1,3}", "", PREFIX},
    {"root ::= [0-9]{1,3}", "1", MATCH},
    {"root ::= [0-9]{1,3}", "123", MATCH},
    {"root ::= [0-9]{1,3}", "1234", REJECT},
    {"root ::= [0-9]{0,2} \"x\"", "x", MATCH},
    {"root ::= \"a\"{0}", "", MATCH},
    {"root ::= .", "\xc3\xa9", MATCH},          /* é */
    {"root ::= .", "\xc3", PREFIX},             /* split character */
    {"root ::= .", "\xf0\x9f\x98\x80", MATCH},  /* emoji */
    {"root ::= .", "\xed\xa0\x80", REJECT},     /* surrogate */
    {"root ::= .", "\xc0\x80", REJECT},         /* overlong */
    {"root ::= .", "\xff", REJECT},
    {"root ::= [^\"]", "\xe2\x82\xac", MATCH},  /* € */
    {"root ::= [α-ω]+", "λόγος", REJECT},       /* ό is outside α-ω */
    {"root ::= [α-ω]+", "λογος", MATCH},
    {"root ::= \"\\x41\\u00e9\\U0001F600\\n\\t\\\\\\\"\"", "A\xc3\xa9\xf0\x9f\x98\x80\n\t\\\"", MATCH},
    {"root ::= [\\]\\[]+", "][", MATCH},
    {"root ::= [a\\-z]+", "-az", MATCH},
    {"root ::= [a\\-z]+", "b", REJECT},
    {"root ::= [-a]+", "-a", MATCH},
    {"root ::= x\nx ::= \"1\" x | \"2\"", "1112", MATCH},
    {"root ::= x\nx ::= \"1\" x | \"2\"", "111", PREFIX},
    {"# comment\nroot ::= a b # trailing\na ::= \"a\"\n\nb ::= \"b\"\n", "ab", MATCH},
    {"root ::=\n  \"a\"\n  | \"b\"\n", "b", MATCH},
    {"root ::= (\n \"a\"\n \"b\"\n)", "ab", MATCH},
    {"root ::= \"{\" ws \"}\"\nws ::= [ \\t\\n]*", "{ \n }", MATCH},
    /* ambiguous alternatives share a prefix */
    {"root ::= \"ab\" \"c\" | \"a\" \"bd\"", "abd", MATCH},
    {"root ::= \"ab\" \"c\" | \"a\" \"bd\"", "abc", MATCH},
    {"root ::= (\"a\" | \"aa\")* \"b\"", "aaaaab", MATCH},
    /* llama.cpp's json.gbnf shape */
    {"root ::= value\nvalue ::= object | array | string | number | (\"true\" | \"false\" | \"null\") ws\n"
     "object ::= \"{\" ws ( string \":\" ws value (\",\" ws string \":\" ws value)* )? \"}\" ws\n"
     "array ::= \"[\" ws ( value (\",\" ws value)* )? \"]\" ws\n"
     "string ::= \"\\\"\" ( [^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4}) )* \"\\\"\" ws\n"
     "number ::= (\"-\"? ([0-9] | [1-9] [0-9]{0,15})) (\".\" [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws\n"
     "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}",
     "{\"a\": [1, 2.5, -3e4, \"x\\u00e9\\n\"], \"b\": {\"c\": null, \"d\": true}}", MATCH},
};

TEST(grammar_accept_table)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xllm_grammar *g = NULL;
        xllm_status st = xllm_grammar_compile(cases[i].gbnf, strlen(cases[i].gbnf), NULL, &g);
        CHECK_MSG(!st, "case %zu: compile: %s", i, xllm_last_error());
        if (st)
            continue;
        xllm_grammar_state *s = NULL;
        CHECK_OK(xllm_grammar_state_new(g, &s));
        if (s) {
            int got = classify(s, cases[i].text);
            CHECK_MSG(got == cases[i].want, "case %zu (%s on \"%s\"): got %d want %d", i, cases[i].gbnf,
                      cases[i].text, got, cases[i].want);
        }
        xllm_grammar_state_free(s);
        xllm_grammar_free(g);
    }
}

typedef struct {
    const char *gbnf, *msg; /* msg: a substring of the error (with line:col) */
} error_case;

static const error_case errors[] = {
    {"root ::= \"abc", "1:10: unterminated string literal"},
    {"root ::= [abc", "1:10: unterminated character class"},
    {"root ::= foo", "1:10: undefined rule 'foo'"},
    {"a ::= \"x\"", "no rule named 'root'"},
    {"root ::= \"a\"\nroot ::= \"b\"", "2:1: rule 'root' defined twice"},
    {"root \"a\"", "1:6: expected '::='"},
    {"root ::= (\"a\"", "1:10: '(' is not closed"},
    {"root ::= \"a\")", "1:13: ')' without a matching '('"},
    {"root ::= * \"a\"", "1:10: '*' without anything"},
    {"root ::= \"a\"{3,1}", "max below min"},
    {"root ::= \"a\"{99999}", "repetition count above"},
    {"root ::= \"\\q\"", "1:11: unknown escape \\q"},
    {"root ::= \"\\x4\"", "needs 2 hex digits"},
    {"root ::= \"\\uD800\"", "not a Unicode scalar value"},
    {"root ::= [z-a]", "backwards"},
    {"root ::= [^\\x00-\\U0010FFFF]", "matches nothing"},
    {"root ::= root \"a\" | \"b\"", "left-recursive"},
    {"root ::= (\"a\"?)*", "repeats something that can be empty"},
    {"root ::= x\nx ::= \"a\" x", "can never finish"},
    {"root ::= \"a\"\n\n  x ::= ::=", "3:9: unexpected ':'"},
    {"root ::= \"\xff\"", "invalid UTF-8"},
    {"root ::= @", "1:10: unexpected '@'"},
};

TEST(grammar_errors)
{
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
        xllm_grammar *g = NULL;
        xllm_status st = xllm_grammar_compile(errors[i].gbnf, strlen(errors[i].gbnf), NULL, &g);
        CHECK_MSG(st == XLLM_ERR_INVALID_ARGUMENT || st == XLLM_ERR_LIMIT, "case %zu: status %d", i, st);
        CHECK_MSG(strstr(xllm_last_error(), errors[i].msg) != NULL, "case %zu: '%s' lacks '%s'", i,
                  xllm_last_error(), errors[i].msg);
        CHECK(g == NULL);
        xllm_grammar_free(g);
    }
}

TEST(grammar_root_name_and_done)
{
    const char *src = "start ::= \"ok\" | \"ok!\"";
    xllm_grammar *g = NULL;
    CHECK_OK(xllm_grammar_compile(src, strlen(src), "start", &g));
    xllm_grammar_state *s = NULL;
    CHECK_OK(xllm_grammar_state_new(g, &s));
    CHECK(!xllm_grammar_can_end(s) && !xllm_grammar_done(s));
    CHECK_OK(xllm_grammar_accept_bytes(s, "ok", 2));
    CHECK(xllm_grammar_can_end(s) && !xllm_grammar_done(s));
    CHECK_OK(xllm_grammar_accept_bytes(s, "!", 1));
    CHECK(xllm_grammar_done(s));
    CHECK(xllm_grammar_accept_bytes(s, "!", 1) == XLLM_ERR_INVALID_ARGUMENT);
    CHECK(xllm_grammar_done(s)); /* a refused byte leaves the state */
    xllm_grammar_state_free(s);
    xllm_grammar_free(g);
}

TEST(grammar_lazy_trigger_word)
{
    const char *src = "root ::= \"<call>\" [0-9]+ \"</call>\"";
    xllm_grammar *g = NULL;
    CHECK_OK(xllm_grammar_compile(src, strlen(src), NULL, &g));
    xllm_grammar_state *s = NULL;
    CHECK_OK(xllm_grammar_state_new(g, &s));
    const char *words[] = {"<call>"};
    xllm_grammar_triggers t = {words, 1, NULL, 0};
    CHECK_OK(xllm_grammar_state_set_lazy(s, &t));
    CHECK(!xllm_grammar_triggered(s) && xllm_grammar_can_end(s));
    CHECK_OK(xllm_grammar_accept_bytes(s, "free text <ca", 13)); /* anything goes */
    CHECK(!xllm_grammar_triggered(s));
    CHECK_OK(xllm_grammar_accept_bytes(s, "ll>12", 5)); /* word split over two pieces */
    CHECK(xllm_grammar_triggered(s) && !xllm_grammar_can_end(s));
    CHECK(xllm_grammar_accept_bytes(s, "x", 1) == XLLM_ERR_INVALID_ARGUMENT);
    CHECK_OK(xllm_grammar_accept_bytes(s, "3</call>", 8));
    CHECK(xllm_grammar_done(s));
    xllm_grammar_state_reset(s);
    CHECK(!xllm_grammar_triggered(s));
    CHECK(xllm_grammar_accept_bytes(s, "<call>x", 7) == XLLM_ERR_INVALID_ARGUMENT);
    xllm_grammar_state_free(s);
    xllm_grammar_free(g);
}

/* Deep nesting and many states: the caches flush and the state survives. */
TEST(grammar_deep_recursion)
{
    const char *src = "root ::= \"(\" root \")\" | \"x\"";
    xllm_grammar *g = NULL;
    CHECK_OK(xllm_grammar_compile(src, strlen(src), NULL, &g));
    xllm_grammar_state *s = NULL;
    CHECK_OK(xllm_grammar_state_new(g, &s));
    enum { DEPTH = 20000 };
    char *buf = xllm_malloc(2 * DEPTH + 2);
    memset(buf, '(', DEPTH);
    buf[DEPTH] = 'x';
    memset(buf + DEPTH + 1, ')', DEPTH);
    for (size_t i = 0; i < 2 * DEPTH + 1; i++)
        CHECK_OK(xllm_grammar_accept_bytes(s, buf + i, 1));
    CHECK(xllm_grammar_done(s));
    xllm_grammar_stats stats;
    xllm_grammar_state_stats(s, &stats);
    CHECK(stats.flushes >= 1);
    xllm_free(buf);
    xllm_grammar_state_free(s);
    xllm_grammar_free(g);
}

/* Fewest bytes to completion: the finishing aid for a small context. */
TEST(grammar_min_remaining)
{
    const char *src = "root ::= \"{\" (\"\\\"k\\\":\" [0-9]+)? \"}\" | \"[\" [a-z]{3,5} \"]\"";
    xllm_grammar *g = NULL;
    CHECK_OK(xllm_grammar_compile(src, strlen(src), NULL, &g));
    xllm_grammar_state *s = NULL;
    CHECK_OK(xllm_grammar_state_new(g, &s));
    CHECK_EQ_INT(xllm_grammar_min_remaining(s), 2);  /* "{}" */
    CHECK_OK(xllm_grammar_accept_bytes(s, "[", 1));
    CHECK_EQ_INT(xllm_grammar_min_remaining(s), 4);  /* "abc]" */
    CHECK_OK(xllm_grammar_accept_bytes(s, "abcd", 4));
    CHECK_EQ_INT(xllm_grammar_min_remaining(s), 1);
    xllm_grammar_state_reset(s);
    CHECK_OK(xllm_grammar_accept_bytes(s, "{\"k", 3));
    CHECK_EQ_INT(xllm_grammar_min_remaining(s), 4);  /* "\":1}" */
    CHECK_OK(xllm_grammar_accept_bytes(s, "\":12}", 5));
    CHECK_EQ_INT(xllm_grammar_min_remaining(s), 0);
    xllm_grammar_state_free(s);
    xllm_grammar_free(g);
}

static void feed_n(xllm_grammar_state *s, char c, int n)
{
    for (int i = 0; i < n; i++)
        CHECK_OK(xllm_grammar_accept_bytes(s, &c, 1));
}

/* States sharing one set of tables keep their own positions, also across a
 * flush of the tables (forced by one state going deep while the others wait
 * at other depths), and the tables outlive whichever state is freed first. */
TEST(grammar_shared_tables_and_flush)
{
    const char *src = "root ::= \"(\" root \")\" | \"x\"";
    xllm_grammar *g = NULL;
    CHECK_OK(xllm_grammar_compile(src, strlen(src), NULL, &g));
    xllm_grammar_state *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(xllm_grammar_state_new_owned(g, &a));
    CHECK_OK(xllm_grammar_state_new_shared(a, &b));
    CHECK_OK(xllm_grammar_state_new_shared(b, &c));
    CHECK_EQ_INT((int)xllm_grammar_state_sharers(c), 3);
    CHECK(xllm_grammar_state_grammar(b) == g);
    enum { DEPTH = 20000 };
    for (int i = 0; i < DEPTH; i++) {
        feed_n(a, '(', 1);
        if (i % 4 == 0)
            feed_n(b, '(', 1);
    }
    xllm_grammar_stats stats;
    xllm_grammar_state_stats(b, &stats);
    CHECK(stats.flushes >= 1);
    CHECK_EQ_INT((int)xllm_grammar_min_remaining(a), DEPTH + 1);
    CHECK_EQ_INT((int)xllm_grammar_min_remaining(b), DEPTH / 4 + 1);
    CHECK_EQ_INT((int)xllm_grammar_min_remaining(c), 1);
    xllm_grammar_state_free(a); /* the owner goes first: b and c keep the tables */
    CHECK_EQ_INT((int)xllm_grammar_state_sharers(b), 2);
    feed_n(b, 'x', 1);
    feed_n(b, ')', DEPTH / 4 - 1);
    CHECK(!xllm_grammar_done(b));
    CHECK(xllm_grammar_accept_bytes(b, "x", 1) != XLLM_OK);
    feed_n(b, ')', 1);
    CHECK(xllm_grammar_done(b));
    CHECK(xllm_grammar_accept_bytes(c, "(x)", 3) == XLLM_OK && xllm_grammar_done(c));
    xllm_grammar_state_free(c);
    xllm_grammar_state_free(b);
}
