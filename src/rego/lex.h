/*
 * Tokenizer for Rego source text.
 *
 * The whole module (or query) is tokenized up front into an array in the parser's arena, which
 * makes the parser's backtracking a matter of saving an index. Each token records whether
 * whitespace or a line break preceded it: Rego separates body expressions by newlines and
 * continues a reference only when '.', '[' or '(' follows with no space before it.
 * Keywords are returned as identifiers; the parser decides from context what they mean, since
 * Rego allows most keywords inside references (foo.in, data.x.default).
 */
#ifndef PC_REGO_LEX_H
#define PC_REGO_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rego/error.h"
#include "rego/mem.h"

enum pc_rego_tok {
    PC_REGO_T_EOF,
    PC_REGO_T_IDENT,
    PC_REGO_T_STRING,    /* "..." with escapes; text is the raw literal, quotes included */
    PC_REGO_T_RAWSTRING, /* `...`; text is the raw literal, backquotes included */
    PC_REGO_T_NUMBER,
    PC_REGO_T_LBRACE,
    PC_REGO_T_RBRACE,
    PC_REGO_T_LBRACK,
    PC_REGO_T_RBRACK,
    PC_REGO_T_LPAREN,
    PC_REGO_T_RPAREN,
    PC_REGO_T_DOT,
    PC_REGO_T_COMMA,
    PC_REGO_T_SEMI,
    PC_REGO_T_COLON,
    PC_REGO_T_ASSIGN, /* := */
    PC_REGO_T_UNIFY,  /* = */
    PC_REGO_T_EQ,     /* == */
    PC_REGO_T_NEQ,
    PC_REGO_T_LT,
    PC_REGO_T_LTE,
    PC_REGO_T_GT,
    PC_REGO_T_GTE,
    PC_REGO_T_PLUS,
    PC_REGO_T_MINUS,
    PC_REGO_T_MUL,
    PC_REGO_T_QUO,
    PC_REGO_T_REM,
    PC_REGO_T_AND,      /* & */
    PC_REGO_T_OR,       /* | */
    PC_REGO_T_TEMPLATE, /* $"..." or $`...`; text is the raw literal, '$' included */
};

struct pc_rego_token {
    uint8_t type;
    bool ws_before; /* whitespace or a comment sits right before this token */
    bool nl_before; /* a line break sits between the previous token and this one */
    uint32_t line;
    uint32_t col;
    uint32_t off; /* byte offset of the token in the source */
    uint32_t len;
};

/*
 * Tokenizes src[0..len) into *toks (arena memory, ending with one PC_REGO_T_EOF token).
 * Returns 0, PC_REGO_ENOMEM, or PC_REGO_EPARSE with err naming file:line:col.
 */
int pc_rego_lex(struct pc_rego_arena *arena, const char *file, const char *src, size_t len,
                struct pc_rego_token **toks, size_t *ntoks, struct pc_rego_error *err);

/* Returns a short display name for a token type ("ident", "string", "{", ...). */
const char *pc_rego_tok_name(enum pc_rego_tok type);

#endif
