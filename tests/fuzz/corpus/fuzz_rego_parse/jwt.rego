package jwt
tok := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
dec := io.jwt.decode(tok)
ok := io.jwt.verify_hs256(tok, "your-256-bit-secret")
dv := io.jwt.decode_verify(tok, {"secret": "your-256-bit-secret", "alg": "HS256"})
h := crypto.sha256("abc")
m := crypto.md5("abc")
hm := crypto.hmac.sha256("msg", "key")
