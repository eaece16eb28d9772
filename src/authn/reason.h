/*
 * Why a token, a key set lookup or a DPoP proof was refused: one stable code per refusal, shared
 * by every module of src/authn, so the gateway counts refusals in an array indexed by the code
 * and logs the code's name. Names are stable snake_case strings: metrics labels and log fields
 * depend on them, so a name never changes once released; new codes are added at the end.
 */
#ifndef PC_AUTHN_REASON_H
#define PC_AUTHN_REASON_H

enum pc_authn_reason {
    PC_AUTHN_OK = 0,
    /* Framing and encoding of a compact JWS (RFC 7515 section 7.1). */
    PC_AUTHN_TOKEN_TOO_LARGE, /* longer than the caller's limit; nothing was parsed */
    PC_AUTHN_MALFORMED,       /* not three segments, a member of the wrong type, ... */
    PC_AUTHN_BAD_BASE64,      /* a segment is not unpadded base64url (padding, '+', '/', space) */
    PC_AUTHN_BAD_JSON,        /* header or payload is not a JSON object */
    PC_AUTHN_DUPLICATE_KEY,   /* a member name repeated in the header or the claims */
    /* The protected header. */
    PC_AUTHN_ALG_NONE,             /* "none" in any letter case */
    PC_AUTHN_ALG_NOT_ALLOWED,      /* unknown, or not in the caller's allowed set */
    PC_AUTHN_CRIT,                 /* "crit" present: no extension is understood */
    PC_AUTHN_UNTRUSTED_KEY_HEADER, /* "jku", "x5u" or "jwk": a key the token names itself */
    PC_AUTHN_KID_UNKNOWN,          /* no key has the token's kid */
    PC_AUTHN_KID_REQUIRED,         /* no kid, and more than one key fits the alg */
    PC_AUTHN_KID_AMBIGUOUS,        /* several keys share the kid and fit the alg */
    PC_AUTHN_NO_KEY,               /* no kid, and no key fits the alg (HS* without a secret) */
    PC_AUTHN_KEY_ALG_MISMATCH,     /* the kid's key cannot verify the token's alg */
    PC_AUTHN_BAD_SIGNATURE,        /* wrong length, out-of-range ECDSA values, or no match */
    /* Claims (RFC 7519 section 4.1, RFC 9068, JWT-SVID). */
    PC_AUTHN_EXPIRED,        /* exp (plus the skew) has passed */
    PC_AUTHN_NOT_YET_VALID,  /* nbf (minus the skew) lies ahead */
    PC_AUTHN_IAT_IN_FUTURE,  /* iat lies ahead by more than the skew */
    PC_AUTHN_WRONG_ISSUER,   /* iss differs from the expected issuer */
    PC_AUTHN_WRONG_AUDIENCE, /* no aud value is an expected audience, or aud is absent */
    PC_AUTHN_WRONG_TYP,      /* the typ header is not the expected type */
    PC_AUTHN_MISSING_CLAIM,  /* a required claim is absent */
    PC_AUTHN_CLAIM_MISMATCH, /* a required claim holds none of the accepted values */
    PC_AUTHN_BAD_CLAIM,      /* a registered claim has the wrong JSON type */
    PC_AUTHN_BAD_SUB,        /* sub is not a SPIFFE ID of the expected trust domain */
    /* DPoP proofs (RFC 9449 section 4.3) and certificate binding (RFC 8705 section 3). */
    PC_AUTHN_DPOP_BAD_KEY,     /* the proof's "jwk" header is absent or not a public key */
    PC_AUTHN_DPOP_PRIVATE_KEY, /* the proof's "jwk" header carries private key members */
    PC_AUTHN_DPOP_WRONG_HTM,   /* htm is not the request method */
    PC_AUTHN_DPOP_WRONG_HTU,   /* htu is not the request URI */
    PC_AUTHN_DPOP_STALE,       /* iat outside the accepted window */
    PC_AUTHN_DPOP_WRONG_ATH,   /* ath absent or not the hash of the access token */
    PC_AUTHN_DPOP_WRONG_JKT,   /* the proof's key is not the one the access token is bound to */
    PC_AUTHN_CNF_MISSING,      /* the token is not bound to a key or certificate */
    PC_AUTHN_CNF_MISMATCH,     /* cnf "x5t#S256" is not the client certificate's hash */
    /* Not the token's fault: out of memory or a library failure (answer 503, not 401). */
    PC_AUTHN_INTERNAL,
    /* Later additions to the DPoP refusals, after the others so that no code's value moves. */
    PC_AUTHN_DPOP_MISSING,   /* the DPoP scheme without exactly one DPoP header field */
    PC_AUTHN_DPOP_AS_BEARER, /* a token bound to a DPoP key sent as a bearer token */
    PC_AUTHN_INACTIVE,       /* introspection answered active=false: revoked, unknown, ... */
    PC_AUTHN_REASON_COUNT
};

/* Returns the static name of reason ("ok", "token_too_large", ...), "unknown" when out of range. */
const char *pc_authn_reason_name(enum pc_authn_reason reason);

#endif
